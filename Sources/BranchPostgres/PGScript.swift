import BranchCore
import CLibPQ
import Foundation

/// A column of a statement's result: its name and its type's OID.
package struct PGColumn: Sendable, Equatable {
    package var name: String
    package var typeOID: UInt32
}

/// What one statement of a script returned.
package struct PGStatementResult: Sendable {
    /// The command tag (`SELECT 3`, `INSERT 0 1`, `CREATE TABLE`).
    package var tag: String
    package var columns: [PGColumn]
    /// Rows in Postgres' text format (nil for NULL), at most what the byte limit allowed.
    package var rows: [[String?]]
    /// Rows returned (all of them, also those left out), or affected for INSERT, UPDATE, DELETE, MERGE, COPY.
    package var rowCount: Int
    /// Whether rows were left out because the script's answer reached its byte limit.
    package var truncated: Bool
    package var durationMs: Double
    /// Notices (`RAISE NOTICE`, warnings) Postgres sent while the statement ran.
    package var notices: [String]
}

/// A script's results, in order, and the error that stopped it, if one did.
package struct PGScriptOutcome: Sendable {
    package var results: [PGStatementResult]
    /// The error, with how many statements had completed before it (so the failing one's index)
    /// and the notices of the failing statement.
    package var failure: Failure?

    package struct Failure: Sendable {
        package var error: PostgresError
        /// 1-based character position of the error in the script's text, when Postgres gave one.
        package var position: Int?
        package var completedStatements: Int
        package var notices: [String]
    }

    package var truncated: Bool { results.contains(where: \.truncated) }
}

/// Collects the notices of a running call (libpq's notice receiver is a C callback).
private final class NoticeCollector {
    var notices: [String] = []
}

private let collectNotice: PQnoticeReceiver = { argument, result in
    guard let argument, let result else { return }
    let collector = Unmanaged<NoticeCollector>.fromOpaque(argument).takeUnretainedValue()
    let severity = PGConnection.field(result, "S") ?? "NOTICE"
    let message = PGConnection.field(result, "M") ?? ""
    collector.notices.append("\(severity): \(message)")
}

extension PGConnection {
    /// Runs a script as psql's `-c` does: one or more statements in one simple-protocol message
    /// (so in one implicit transaction unless the script controls transactions itself), or with
    /// `parameters`, exactly one statement with `$1…`. Each statement's rows come one at a time
    /// (libpq's single-row mode), so memory stays bounded: once the values received pass
    /// `byteLimit`, further rows are read and counted but not kept. A statement's error ends the
    /// script (Postgres skips the rest) and is returned, not thrown; the call throws only when
    /// the connection fails, or on `timeout` or cancellation.
    package func script(
        _ sql: String, parameters: [String?]? = nil, byteLimit: Int = 10 << 20, timeout: Duration? = nil
    ) async throws(PostgresError) -> PGScriptOutcome {
        try await run(timeout: timeout) { handle, _ throws(PostgresError) in
            let collector = NoticeCollector()
            let previous = PQsetNoticeReceiver(handle, collectNotice, Unmanaged.passUnretained(collector).toOpaque())
            defer { _ = withExtendedLifetime(collector) { PQsetNoticeReceiver(handle, previous, nil) } }

            let sent: Int32
            if let parameters {
                var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
                defer { cStrings.forEach { free($0) } }
                sent = cStrings.withUnsafeMutableBufferPointer { buffer in
                    buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) { pointer in
                        PQsendQueryParams(handle, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : pointer, nil, nil, 0)
                    }
                }
            } else {
                sent = PQsendQuery(handle, sql)
            }
            guard sent == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            _ = PQsetSingleRowMode(handle)

            var outcome = PGScriptOutcome(results: [])
            var bytes = 0
            var current: PGStatementResult?
            // A COPY TO STDOUT's lines, until its end arrives (as COMMAND_OK).
            var copying: PGStatementResult?
            var started = ContinuousClock.now
            func begin(_ result: OpaquePointer) -> PGStatementResult {
                let columns = (0..<PQnfields(result)).map { PGColumn(name: String(cString: PQfname(result, $0)), typeOID: UInt32(PQftype(result, $0))) }
                return PGStatementResult(tag: "", columns: columns, rows: [], rowCount: 0, truncated: false, durationMs: 0, notices: [])
            }
            func keepRows(_ result: OpaquePointer, into statement: inout PGStatementResult) {
                let fieldCount = PQnfields(result)
                for row in 0..<PQntuples(result) {
                    statement.rowCount += 1
                    guard bytes < byteLimit else {
                        statement.truncated = true
                        continue
                    }
                    statement.rows.append((0..<fieldCount).map { column in
                        guard PQgetisnull(result, row, column) == 0 else { return nil }
                        bytes += Int(PQgetlength(result, row, column))
                        return String(cString: PQgetvalue(result, row, column))
                    })
                }
            }
            func finish(_ statement: PGStatementResult) {
                var statement = statement
                let now = ContinuousClock.now
                let elapsed = (now - started).components
                statement.durationMs = ((Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15) * 100).rounded() / 100
                statement.notices = collector.notices
                collector.notices = []
                started = now
                outcome.results.append(statement)
            }

            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                switch PQresultStatus(result) {
                case PGRES_SINGLE_TUPLE:
                    var statement = current ?? begin(result)
                    keepRows(result, into: &statement)
                    current = statement
                case PGRES_TUPLES_OK:
                    var statement = current ?? begin(result)
                    keepRows(result, into: &statement)
                    statement.tag = String(cString: PQcmdStatus(result))
                    current = nil
                    finish(statement)
                case PGRES_COMMAND_OK where copying != nil:
                    var copy = copying!
                    copy.tag = String(cString: PQcmdStatus(result))
                    copying = nil
                    finish(copy)
                case PGRES_COMMAND_OK:
                    var statement = begin(result)
                    statement.tag = String(cString: PQcmdStatus(result))
                    statement.rowCount = Int(String(cString: PQcmdTuples(result))) ?? 0
                    finish(statement)
                case PGRES_EMPTY_QUERY:
                    continue
                case PGRES_COPY_IN:
                    _ = PQputCopyEnd(handle, "COPY FROM STDIN is not supported here: send the rows with INSERT, or load them through the data API")
                case PGRES_COPY_OUT:
                    var statement = PGStatementResult(
                        tag: "", columns: [PGColumn(name: "copy", typeOID: 25)], rows: [], rowCount: 0, truncated: false, durationMs: 0, notices: [])
                    var buffer: UnsafeMutablePointer<CChar>?
                    while case let length = PQgetCopyData(handle, &buffer, 0), length > 0 {
                        if let buffer {
                            statement.rowCount += 1
                            if bytes < byteLimit {
                                var line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: Int(length)), as: UTF8.self)
                                if line.hasSuffix("\n") { line.removeLast() }
                                statement.rows.append([line])
                                bytes += Int(length)
                            } else {
                                statement.truncated = true
                            }
                            PQfreemem(buffer)
                        }
                        buffer = nil
                    }
                    copying = statement
                default:
                    // An error: Postgres skips the rest of the script; the remaining results are consumed.
                    if outcome.failure == nil {
                        let position = Self.field(result, "P").flatMap { Int($0) }
                        outcome.failure = .init(
                            error: Self.failure(result), position: position, completedStatements: outcome.results.count,
                            notices: collector.notices)
                    }
                }
            }
            return outcome
        }
    }
}
