import BranchCore
import CLibPQ
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Rows of a query result, every value in Postgres' text format (nil for NULL).
public struct PGRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]

    public var count: Int { rows.count }
    /// Bytes of all values (what crossed the wire, near enough).
    public var byteCount: UInt64 { rows.reduce(0) { total, row in total + row.reduce(0) { $0 + UInt64($1?.utf8.count ?? 0) } } }

    /// The first column of the first row, the usual answer to `SELECT x`.
    public var scalar: String? { rows.first?.first ?? nil }

    /// The value of `column` in `row`.
    public func value(_ row: Int, _ column: String) -> String? {
        guard let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }
}

/// One libpq connection. Blocking libpq calls run on the connection's own serial queue so they
/// never occupy Swift's cooperative threads.
public final class PGConnection: @unchecked Sendable {
    // Touched only on `queue`.
    private let handle: OpaquePointer
    private let queue: DispatchQueue
    private let copy = CopyState()
    private let received = ByteCounter()

    /// Bytes of result values received so far (what a diff reads from a server).
    public var bytesReceived: UInt64 { queue.sync { received.bytes } }

    private init(handle: OpaquePointer, queue: DispatchQueue) {
        self.handle = handle
        self.queue = queue
    }

    deinit {
        PQfinish(handle)
    }

    /// Opens a connection; throws `postgres_connection_failed` with libpq's reason.
    public static func connect(_ info: ConnectionInfo) async throws(PostgresError) -> PGConnection {
        let queue = DispatchQueue(label: "branch.pg.\(info.host).\(info.port)")
        let conninfo = info.conninfo
        let result: Result<PGConnection, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                guard let handle = PQconnectdb(conninfo) else {
                    continuation.resume(returning: .failure(PostgresError(.postgresConnectionFailed, "libpq could not allocate a connection")))
                    return
                }
                guard PQstatus(handle) == CONNECTION_OK else {
                    let reason = Self.errorText(handle)
                    PQfinish(handle)
                    continuation.resume(returning: .failure(PostgresError(
                        .postgresConnectionFailed, "Could not connect to Postgres on port \(info.port) as \(info.user): \(reason)")))
                    return
                }
                continuation.resume(returning: .success(PGConnection(handle: handle, queue: queue)))
            }
        }
        return try result.get()
    }

    /// Runs one statement with `$1…` parameters (text format) and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws(PostgresError) -> PGRows {
        let received = self.received
        return try await onQueue { handle in
            var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
            defer { cStrings.forEach { free($0) } }
            let result = cStrings.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) { pointer in
                    PQexecParams(handle, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : pointer, nil, nil, 0)
                }
            }
            let rows = try Self.rows(from: result, handle: handle)
            received.bytes += rows.byteCount
            return rows
        }
    }

    /// Runs one or more statements without parameters (simple query protocol); returns the last result's rows.
    @discardableResult
    public func execute(_ sql: String) async throws(PostgresError) -> PGRows {
        let received = self.received
        return try await onQueue { handle in
            let rows = try Self.rows(from: PQexec(handle, sql), handle: handle)
            received.bytes += rows.byteCount
            return rows
        }
    }

    // MARK: COPY streaming (bounded memory: one piece at a time, pulled by the caller)

    /// Starts `COPY … TO STDOUT`; then call `readCopy` until it returns nil.
    public func beginCopyOut(_ sql: String) async throws(PostgresError) {
        let copy = self.copy
        try await onQueue { handle in
            copy.outFinished = false
            guard let result = PQexec(handle, sql) else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COPY_OUT else {
                throw PostgresError(.postgresQueryFailed, Self.resultError(result), sqlState: Self.sqlState(result))
            }
        }
    }

    /// The next rows of a COPY OUT, up to about `maxBytes`; nil once the copy is complete.
    public func readCopy(maxBytes: Int = 1 << 20) async throws(PostgresError) -> [UInt8]? {
        let copy = self.copy
        let received = self.received
        return try await onQueue { handle in
            if copy.outFinished { return nil }
            var collected: [UInt8] = []
            while collected.count < maxBytes {
                var buffer: UnsafeMutablePointer<CChar>?
                let length = PQgetCopyData(handle, &buffer, 0)
                if length > 0, let buffer {
                    collected.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: Int(length)))
                    received.bytes += UInt64(length)
                    PQfreemem(buffer)
                } else if length == -1 {
                    // Copy done: collect the command's final result.
                    while let result = PQgetResult(handle) {
                        defer { PQclear(result) }
                        if PQresultStatus(result) != PGRES_COMMAND_OK {
                            throw PostgresError(.postgresQueryFailed, Self.resultError(result), sqlState: Self.sqlState(result))
                        }
                    }
                    copy.outFinished = true
                    return collected.isEmpty ? nil : collected
                } else {
                    throw PostgresError(.postgresQueryFailed, Self.errorText(handle))
                }
            }
            return collected
        }
    }

    /// Starts `COPY … FROM STDIN`; then `writeCopy` the data and `endCopyIn`.
    public func beginCopyIn(_ sql: String) async throws(PostgresError) {
        try await onQueue { handle in
            guard let result = PQexec(handle, sql) else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COPY_IN else {
                throw PostgresError(.postgresQueryFailed, Self.resultError(result), sqlState: Self.sqlState(result))
            }
        }
    }

    public func writeCopy(_ bytes: [UInt8]) async throws(PostgresError) {
        try await onQueue { handle in
            let sent = bytes.withUnsafeBytes { PQputCopyData(handle, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count)) }
            guard sent == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
        }
    }

    /// Ends a COPY IN (or aborts it with `error`) and returns once the server has taken it.
    public func endCopyIn(error: String? = nil) async throws(PostgresError) {
        try await onQueue { handle in
            guard PQputCopyEnd(handle, error) == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                if PQresultStatus(result) != PGRES_COMMAND_OK {
                    throw PostgresError(.postgresQueryFailed, Self.resultError(result), sqlState: Self.sqlState(result))
                }
            }
        }
    }

    static func resultError(_ result: OpaquePointer) -> String {
        (PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error").trimmingNewlines()
    }

    static func sqlState(_ result: OpaquePointer) -> String? {
        PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
    }

    /// Whether the server is still there (a cheap status check, no round trip).
    public var isHealthy: Bool {
        queue.sync { PQstatus(handle) == CONNECTION_OK }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws(PostgresError) -> T {
        // The handle is only ever used on `queue`, one call at a time.
        nonisolated(unsafe) let handle = self.handle
        let result: Result<T, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                do {
                    continuation.resume(returning: .success(try body(handle)))
                } catch let error as PostgresError {
                    continuation.resume(returning: .failure(error))
                } catch {
                    continuation.resume(returning: .failure(PostgresError(.postgresQueryFailed, "\(error)")))
                }
            }
        }
        return try result.get()
    }

    private static func rows(from result: OpaquePointer?, handle: OpaquePointer) throws(PostgresError) -> PGRows {
        guard let result else { throw PostgresError(.postgresQueryFailed, errorText(handle)) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PGRows(columns: [], rows: [])
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let fieldCount = Int(PQnfields(result))
            let columns = (0..<fieldCount).map { String(cString: PQfname(result, Int32($0))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(Int(PQntuples(result)))
            for row in 0..<PQntuples(result) {
                rows.append((0..<Int32(fieldCount)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
            }
            return PGRows(columns: columns, rows: rows)
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let text = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            throw PostgresError(.postgresQueryFailed, text.trimmingNewlines(), sqlState: sqlState)
        }
    }

    static func errorText(_ handle: OpaquePointer) -> String {
        (PQerrorMessage(handle).map { String(cString: $0) } ?? "unknown error").trimmingNewlines()
    }
}

/// Opens a connection, runs `body`, and closes it whatever happens.
public func withConnection<T: Sendable>(_ info: ConnectionInfo, _ body: (PGConnection) async throws -> T) async throws -> T {
    let connection = try await PGConnection.connect(info)
    return try await body(connection)
}

/// libpq's reachability check, without authenticating.
public enum PGPing {
    public enum Status: Sendable { case ready, rejecting, unreachable }

    public static func check(_ info: ConnectionInfo) -> Status {
        switch PQping(info.conninfo) {
        case PQPING_OK: .ready
        case PQPING_REJECT: .rejecting
        default: .unreachable
        }
    }

    /// Polls (every 3 ms at first, then every 20 ms) until the server accepts connections;
    /// returns false on timeout, or as soon as `isAlive` says the server process is gone (checked
    /// after the first 150 ms, which a process needs to show up).
    public static func waitUntilReady(
        _ info: ConnectionInfo, timeout: Duration, isAlive: @Sendable () -> Bool = { true }
    ) async -> Bool {
        let start = ContinuousClock.now
        let deadline = start + timeout
        var checks = 0
        while ContinuousClock.now < deadline {
            if check(info) == .ready { return true }
            checks += 1
            if ContinuousClock.now - start > .milliseconds(150) && !isAlive() { return check(info) == .ready }
            try? await Task.sleep(for: .milliseconds(checks < 100 ? 3 : 20))
        }
        return check(info) == .ready
    }
}

extension String {
    func trimmingNewlines() -> String {
        var result = Substring(self)
        while let last = result.last, last.isNewline || last == " " { result.removeLast() }
        return String(result)
    }
}

/// Whether the COPY OUT in progress has ended (read and written only on the connection's queue).
private final class CopyState: @unchecked Sendable {
    var outFinished = false
}

/// Bytes received on a connection (updated only on the connection's queue).
private final class ByteCounter: @unchecked Sendable {
    var bytes: UInt64 = 0
}
