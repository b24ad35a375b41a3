import BranchCore
import BranchPostgres
import Crypto
import Foundation

/// A migration's SQL, checked before anything runs: not empty, not too large, nothing that cannot
/// run inside its transaction. A file wrapped whole in `BEGIN; … COMMIT;` (as some tools write
/// them) is accepted: the wrapper's two statements are blanked out, keeping every position.
struct MigrationScript: Sendable {
    /// The text sent to Postgres: the original, with a `BEGIN`/`COMMIT` wrapper blanked out.
    let text: String
    /// The statements of the original text (what errors are reported against).
    let statements: SQLStatements
    /// Whether the first statement was a `BEGIN` blanked out (then Postgres counts one fewer).
    let unwrapped: Bool
    /// SHA-256 of the original text, hex: what `migrate up` compares to see a file changed.
    let checksum: String

    /// The largest migration accepted.
    static let textLimit = 16 << 20

    init(_ original: String, what: String = "migration") throws {
        guard original.utf8.count <= Self.textLimit else {
            throw EngineError(
                .payloadTooLarge, "The \(what) is larger than \(Self.textLimit >> 20) MiB.",
                hint: "Split it into several migrations, or load bulk data with COPY over the branch's URL.")
        }
        let statements = SQLStatements(original)
        guard !statements.statements.isEmpty else {
            throw EngineError.invalidRequest("The \(what) has no SQL statement.")
        }
        var blanked = Array(original.unicodeScalars)
        var unwrapped = false
        if let first = statements.statements.first, let last = statements.statements.last, statements.statements.count >= 2,
            first.beginsTransaction, last.commitsTransaction
        {
            for statement in [first, last] {
                let count = statement.text.unicodeScalars.count
                for index in statement.offset..<(statement.offset + count) where blanked[index] != "\n" { blanked[index] = " " }
            }
            unwrapped = true
        }
        let inner = unwrapped ? Array(statements.statements.dropFirst().dropLast()) : statements.statements
        for (index, statement) in inner.enumerated() {
            let number = index + (unwrapped ? 2 : 1)
            if statement.isTransactionControl {
                throw EngineError(
                    .migrationNotTransactional,
                    "Statement \(number) (line \(statement.line)) is \(statement.leadingWords.prefix(2).joined(separator: " ")): a migration runs in one transaction of its own, so it cannot begin, commit or roll back one.",
                    hint: "Remove the transaction control; the whole migration applies or nothing does.")
            }
            if let reason = statement.cannotRunInTransaction {
                throw EngineError(
                    .migrationNotTransactional,
                    "Statement \(number) (line \(statement.line)): \(reason), and a migration applies in one transaction so that it applies whole or not at all.",
                    hint: "Run it on its own with `branch sql` (POST …/sql) after the migration, e.g. CREATE INDEX without CONCURRENTLY inside the migration.")
            }
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: blanked)
        self.text = String(scalars)
        self.statements = statements
        self.unwrapped = unwrapped
        self.checksum = SHA256.hash(data: Data(original.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A version for a migration that names none: the current UTC time as YYYYMMDDHHMMSS, as the
    /// Supabase CLI names its files.
    static func newVersion(at date: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d%02d%02d%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
    }

    /// A new version after every one in `applied`: the current time, or one more than the newest
    /// applied version when that is not earlier (two migrations in one second, a clock behind).
    static func newVersion(after applied: [String], at date: Date = Date()) -> String {
        let now = newVersion(at: date)
        guard let newest = applied.filter({ $0.count == now.count && $0.allSatisfy(\.isNumber) }).max(), newest >= now,
            let next = UInt64(newest).map({ $0 + 1 })
        else { return now }
        return String(next)
    }

    /// Checks a version (digits, at most 32) and a name (1–200 characters, one line).
    static func validate(version: String, name: String) throws {
        guard !version.isEmpty, version.count <= 32, version.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw EngineError.invalidRequest(
                "The migration version '\(version.prefix(40))' is not 1 to 32 digits.", hint: "Use a timestamp such as 20261205120000, or leave it out.")
        }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, name.count <= 200, !name.contains(where: \.isNewline) else {
            throw EngineError.invalidRequest("The migration name must be 1 to 200 characters on one line.", hint: "e.g. create_todos")
        }
    }
}
