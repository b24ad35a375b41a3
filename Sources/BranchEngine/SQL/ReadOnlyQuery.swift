import BranchCore
import BranchPostgres
import Foundation

/// Read-only SQL for project viewers (`querySQL`): the same statements, limits and answers as
/// admin SQL, but run inside `BEGIN TRANSACTION READ ONLY` that is always rolled back, so any
/// write fails with Postgres' own "cannot execute … in a read-only transaction".
///
/// Three layers keep the transaction read-only:
/// - statements that would end it or change its mode (COMMIT, BEGIN, SET TRANSACTION, SET
///   SESSION CHARACTERISTICS, RESET ALL, `SET [default_]transaction_read_only`) are refused
///   before anything runs, with a clear message;
/// - a first `SELECT` takes the transaction's snapshot, after which Postgres itself refuses to
///   switch it to read-write (however the switch is spelled, e.g. through `set_config`);
/// - the session's default is read-only too, and the transaction is rolled back, never committed.
///
/// It connects as the project's reader role (`ReaderRole`), which may read what the owner may read
/// but is no superuser and no member of the owner's role: `COPY … TO PROGRAM`, `COPY … FROM/TO
/// 'file'`, `pg_read_file`, `lo_import` and untrusted extensions (dblink) are refused by Postgres,
/// and so are `pg_terminate_backend` and `pg_cancel_backend` on the app's sessions. A SET ROLE on a
/// superuser session would not do: SQL can RESET ROLE or `set_config('role', …)` back.
extension AdminSQL {
    package func query(project projectName: String, branch branchName: String?, _ input: SQLInput) async throws -> SQLOutput {
        var input = input
        input.readOnly = true
        let statements = try Self.check(input)
        try Self.checkReadOnly(statements)
        let sessions = OwnerSessions(context: context)
        let (project, branch) = try await sessions.target(project: projectName, branch: branchName)
        let timeout = input.timeoutMs ?? Self.defaultTimeoutMs
        let stopwatch = Stopwatch()
        return try await sessions.withReaderConnection(project, branch, purpose: "query") { connection in
            _ = try await connection.execute(
                "SET statement_timeout = \(timeout); SET default_transaction_read_only = on; BEGIN TRANSACTION READ ONLY; SELECT 1")
            do {
                var output = try await Self.execute(input, statements, timeout: timeout, on: connection)
                _ = try await connection.execute("ROLLBACK")
                output.durationMs = stopwatch.milliseconds
                return output
            } catch {
                _ = try? await connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Refuses statements that end the read-only transaction or change its mode.
    static func checkReadOnly(_ statements: SQLStatements) throws {
        guard let statement = statements.statements.first(where: \.changesTransactionState) else { return }
        let words = statement.leadingWords.prefix(3).joined(separator: " ")
        throw EngineError.invalidRequest(
            "A read-only query cannot change transaction state (\(words)).",
            hint: "Leave out BEGIN, COMMIT, ROLLBACK, SET TRANSACTION and read-only settings: the query runs in one read-only transaction that is rolled back.")
    }
}

extension SQLStatements.Statement {
    /// Whether the statement ends the transaction or changes its (or the session's) read-only mode.
    var changesTransactionState: Bool {
        if isTransactionControl { return true }
        let words = leadingWords
        func starts(_ prefix: String...) -> Bool { words.starts(with: prefix) }
        let readOnlySettings: Set<String> = ["TRANSACTION_READ_ONLY", "DEFAULT_TRANSACTION_READ_ONLY"]
        if starts("SET") || starts("RESET") {
            let rest = words.dropFirst().drop { $0 == "SESSION" || $0 == "LOCAL" }
            guard let name = rest.first else { return false }
            return name == "TRANSACTION" || name == "CHARACTERISTICS" || name == "ALL" || readOnlySettings.contains(name)
        }
        return false
    }
}
