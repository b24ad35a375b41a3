import BranchCore
import BranchPostgres
package import Foundation

/// One applied migration, as its branch's history table records it.
package struct MigrationRecord: Sendable, Equatable {
    package var version: String
    package var name: String
    package var checksum: String
    package var appliedAt: Date
    package var durationMs: Double?
    package var appliedBy: String?
    package var hasDown: Bool
    /// The snapshots taken just before and just after it ran.
    package var snapshotBefore: String?
    package var snapshotAfter: String?
    /// `branch`, or `supabase` for history read from `supabase_migrations.schema_migrations`.
    package var source: String
}

/// The migration history inside each branch's own database (`_branch.migrations`), so a branch
/// carries the history of the state it was copied from, and a restore brings back the history
/// of the restored state. Created by the service (as the superuser) on first use; the project's
/// owner role reads and writes it, in the migration's own transaction.
enum MigrationHistory {
    static let table = "_branch.migrations"

    /// Creates the history table if it is missing and lets `owner` use it.
    static func ensureSQL(owner: String) -> String {
        """
        CREATE SCHEMA IF NOT EXISTS _branch;
        CREATE TABLE IF NOT EXISTS _branch.migrations (
            version text PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            statements text NOT NULL,
            down text,
            applied_at timestamptz NOT NULL DEFAULT now(),
            duration_ms double precision,
            applied_by text,
            snapshot_before text,
            snapshot_after text
        );
        GRANT USAGE ON SCHEMA _branch TO \(SQL.identifier(owner));
        GRANT SELECT, INSERT, UPDATE, DELETE ON _branch.migrations TO \(SQL.identifier(owner));
        """
    }

    /// Whether the history table exists yet (asked before creating it, which is DDL).
    static let existsSQL = "SELECT to_regclass('_branch.migrations') IS NOT NULL"

    static let insertSQL = """
        INSERT INTO _branch.migrations (version, name, checksum, statements, down, duration_ms, applied_by, snapshot_before)
        VALUES ($1, $2, $3, $4, $5, $6::double precision, $7, $8)
        """

    static let setSnapshotAfterSQL = "UPDATE _branch.migrations SET snapshot_after = $2 WHERE version = $1"
    static let deleteSQL = "DELETE FROM _branch.migrations WHERE version = $1"
    static let downSQL = "SELECT down FROM _branch.migrations WHERE version = $1"

    /// The branch's history, oldest first: its own table's rows, and those of a Supabase
    /// project's `supabase_migrations.schema_migrations` that are not in it.
    static func list(_ connection: PGConnection) async throws -> [MigrationRecord] {
        var records: [MigrationRecord] = []
        let present = try await connection.query(
            "SELECT to_regclass('_branch.migrations') IS NOT NULL, to_regclass('supabase_migrations.schema_migrations') IS NOT NULL")
        let hasOwn = present.rows.first?[0] == "t", hasSupabase = present.rows.first?[1] == "t"
        let own = !hasOwn ? [] : try await connection.query("""
            SELECT version, name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), duration_ms, applied_by,
                   down IS NOT NULL, snapshot_before, snapshot_after
            FROM _branch.migrations ORDER BY version
            """).rows
        for row in own {
            records.append(MigrationRecord(
                version: row[0] ?? "", name: row[1] ?? "", checksum: row[2] ?? "", appliedAt: row[3].flatMap(parseDate) ?? Date(timeIntervalSince1970: 0),
                durationMs: row[4].flatMap(Double.init), appliedBy: row[5], hasDown: row[6] == "t", snapshotBefore: row[7],
                snapshotAfter: row[8], source: "branch"))
        }
        let known = Set(records.map(\.version))
        let supabase = !hasSupabase ? [] : try await connection.query("""
            SELECT m.version::text, coalesce(to_jsonb(m)->>'name', '')
            FROM supabase_migrations.schema_migrations m ORDER BY 1
            """).rows
        for row in supabase where !known.contains(row[0] ?? "") {
            let version = row[0] ?? ""
            records.append(MigrationRecord(
                version: version, name: row[1] ?? version, checksum: "", appliedAt: versionDate(version) ?? Date(timeIntervalSince1970: 0),
                durationMs: nil, appliedBy: nil, hasDown: false, snapshotBefore: nil, snapshotAfter: nil, source: "supabase"))
        }
        return records.sorted { $0.version.count == $1.version.count ? $0.version < $1.version : $0.version.count < $1.version.count }
    }

    private static func parseDate(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }

    /// A Supabase version (YYYYMMDDHHMMSS) as the instant it names.
    static func versionDate(_ version: String) -> Date? {
        guard version.count == 14 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let digits = Array(version)
        func number(_ range: Range<Int>) -> Int? { Int(String(digits[range])) }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(8..<10),
            let minute = number(10..<12), let second = number(12..<14)
        else { return nil }
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
    }
}
