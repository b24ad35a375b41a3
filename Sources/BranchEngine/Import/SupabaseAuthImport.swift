import BranchPostgres
import Foundation
import Synchronization

/// A Supabase source's users: `auth.users` and `auth.identities` copied into this project's own
/// `auth` tables (the columns both sides have), bcrypt password hashes included, so the users
/// sign in through the data API unchanged. Triggers the app hung on `auth.users` (an "on
/// sign-up" hook calling a function in `public`) come along too.
struct SupabaseAuthImport: Sendable {
    let source: ExternalDatabase
    let snapshot: String
    let target: ConnectionInfo

    func run(_ inspected: ImportSource, owner: String, database: PGConnection, report: ImportReportDraft) async throws {
        // Apps' tables point at their users (`profiles.id references auth.users`), as on Supabase,
        // where the owner may: the constraints come with the post-data restore, as the owner.
        try await database.execute("GRANT REFERENCES ON auth.users TO \(SQL.identifier(owner))")
        var tables: [ImportSource.Table] = []
        for (name, sourceColumns) in [("users", inspected.authUserColumns), ("identities", inspected.authIdentityColumns)] where !sourceColumns.isEmpty {
            let targetColumns = Set(try await database.query("""
                SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
                """, ["auth.\(name)"]).rows.compactMap { $0.first ?? nil })
            let common = sourceColumns.filter(targetColumns.contains)
            guard !common.isEmpty else { continue }
            tables.append(ImportSource.Table(
                schema: "auth", name: name, columns: common.map(SQL.identifier).joined(separator: ", "), bytes: 0, estimatedRows: 0))
        }
        let copier = TableCopier(source: source, snapshot: snapshot, target: target, workers: 1, progress: ImportProgress(tables: tables) { _, _ in })
        // Users before identities (which reference them): one worker, in this order.
        for table in tables {
            try await copier.copy([table])
        }
        let users = Int(try await database.query("SELECT count(*) FROM auth.users").scalar ?? "0") ?? 0
        let identities = Int(try await database.query("SELECT count(*) FROM auth.identities").scalar ?? "0") ?? 0
        report.change {
            $0.authUsers = users
            $0.authIdentities = identities
        }
        for trigger in inspected.authTriggers {
            if let failure = await ProjectImports.failure(of: trigger, in: database) {
                report.change { $0.leave("trigger on auth.users", trigger, failure) }
            }
        }
    }
}
