import BranchSystem
import BranchCore
import CLibPQ
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Rows of a query result, every value in Postgres' text format (nil for NULL).
package struct PGRows: Sendable {
    package let columns: [String]
    package let rows: [[String?]]

    package var count: Int { rows.count }
    /// Bytes of all values (what crossed the wire, near enough).
    package var byteCount: UInt64 { rows.reduce(0) { total, row in total + row.reduce(0) { $0 + UInt64($1?.utf8.count ?? 0) } } }

    /// The first column of the first row, the usual answer to `SELECT x`.
    package var scalar: String? { rows.first?.first ?? nil }

    /// The value of `column` in `row`.
    package func value(_ row: Int, _ column: String) -> String? {
        guard let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }
}

/// One libpq connection.
///
/// Blocking libpq calls run on the connection's own serial queue (a Dispatch thread, never one
/// of Swift's cooperative threads), one call at a time. Every call can be stopped: cancelling
/// the awaiting task, or its `timeout` elapsing, sends a cancel request to the server
/// (`PQcancel`, from the connection's cancel queue) for exactly that statement, which then
/// fails with `postgres_query_cancelled` or `postgres_query_timeout`; whatever the server still
/// had to say is consumed, so the connection stays usable. A call stopped before it started
/// does not run. `isHealthy` and `bytesReceived` read state kept up to date by each call and
/// never wait for the queue.
package final class PGConnection: @unchecked Sendable {
    /// The libpq connection, nil once closed. Touched only on `queue` (and in deinit).
    private var handle: OpaquePointer?
    /// Whether a COPY OUT has delivered its end (touched only on `queue`).
    private var copyOutFinished = true
    /// Statements prepared on this connection by `pipeline(_:preparing:)`: SQL text → name
    /// (touched only on `queue`). Bounded: past the limit, statements run unprepared.
    private var preparedNames: [String: String] = [:]
    private var preparedCount = 0
    private static let preparedLimit = 256
    private let queue: DispatchQueue
    private let canceller: Canceller
    private let healthy = Atomic<Bool>(true)
    private let closed = Atomic<Bool>(false)
    private let received = Atomic<UInt64>(0)

    /// Bytes of result values received so far (what a diff reads from a server).
    package var bytesReceived: UInt64 { received.load(ordering: .relaxed) }

    /// Whether the connection was fine after its last call and is not closed (no round trip,
    /// never waits for a running call).
    package var isHealthy: Bool { !closed.load(ordering: .relaxed) && healthy.load(ordering: .relaxed) }

    private init(handle: OpaquePointer, queue: DispatchQueue, label: String) {
        self.handle = handle
        self.queue = queue
        self.canceller = Canceller(handle: handle, label: label)
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    // MARK: Opening and closing

    /// Opens a connection; throws `postgres_connection_failed` with libpq's reason (also when
    /// `info.connectTimeout` passes), `postgres_query_cancelled` when the task is cancelled, and
    /// `postgres_query_timeout` when `timeout` passes first.
    package static func connect(_ info: ConnectionInfo, timeout: Duration? = nil) async throws(PostgresError) -> PGConnection {
        let label = "branch.pg.\(info.host).\(info.port)"
        let queue = DispatchQueue(label: label)
        let conninfo = info.conninfo
        let what = "Connecting to Postgres on port \(info.port) as \(info.user)"
        // libpq leaves connect_timeout to the application once it polls (at least 2 s, as libpq does).
        let connectTimeout: Duration? = info.connectTimeout > 0 ? .seconds(max(info.connectTimeout, 2)) : nil
        let call = Call(canceller: nil)
        let timer = timeout.map { call.stop(after: $0, on: .global()) }
        defer { timer?.cancel() }
        let result: Result<PGConnection, PostgresError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                queue.async {
                    if let stop = call.begin() {
                        continuation.resume(returning: .failure(stop.error(what)))
                        return
                    }
                    let opened = startConnection(conninfo, call: call, connectTimeout: connectTimeout)
                    let stop = call.end()
                    switch opened {
                    case .success(let handle):
                        continuation.resume(returning: .success(PGConnection(handle: handle, queue: queue, label: label)))
                    case .failure(let failure):
                        continuation.resume(returning: .failure(stop?.error(what, after: failure) ?? PostgresError(
                            .postgresConnectionFailed, "Could not connect to Postgres on port \(info.port) as \(info.user): \(failure.reason)")))
                    }
                }
            }
        } onCancel: {
            call.requestStop(.cancelled)
        }
        return try result.get()
    }

    private struct ConnectFailure: Error { let reason: String }

    /// `PQconnectStart` and `PQconnectPoll`, waiting on the socket in short slices so a stop
    /// request (or the connect timeout) ends the attempt within about 20 ms. Runs on the queue.
    private static func startConnection(_ conninfo: String, call: Call, connectTimeout: Duration?) -> Result<OpaquePointer, ConnectFailure> {
        guard let handle = PQconnectStart(conninfo) else { return .failure(ConnectFailure(reason: "libpq could not allocate a connection")) }
        func fail(_ reason: String) -> Result<OpaquePointer, ConnectFailure> {
            PQfinish(handle)
            return .failure(ConnectFailure(reason: reason))
        }
        guard PQstatus(handle) != CONNECTION_BAD else { return fail(errorText(handle)) }
        let deadline = connectTimeout.map { ContinuousClock.now + $0 }
        var polling = PGRES_POLLING_WRITING
        while true {
            let events: Int16
            switch polling {
            case PGRES_POLLING_OK: return .success(handle)
            case PGRES_POLLING_READING: events = Int16(POLLIN)
            case PGRES_POLLING_WRITING: events = Int16(POLLOUT)
            default: return fail(errorText(handle))
            }
            while true {
                if call.isStopRequested { return fail("stopped") }
                var slice = 20
                if let deadline {
                    let left = deadline - ContinuousClock.now
                    if left <= .zero { return fail("timeout expired") }
                    slice = min(slice, max(1, Int(left / .milliseconds(1))))
                }
                var descriptor = pollfd(fd: PQsocket(handle), events: events, revents: 0)
                let ready = poll(&descriptor, 1, Int32(slice))
                if ready > 0 || (ready < 0 && errno != EINTR) { break }
            }
            polling = PQconnectPoll(handle)
        }
    }

    /// Closes the connection: `PQfinish` runs on its queue, after any call in progress, and the
    /// caller does not wait for it (so `defer { connection.close() }` works). Calling it again
    /// does nothing; calls after it fail with `postgres_connection_failed`.
    package func close() {
        closed.store(true, ordering: .relaxed)
        queue.async {
            if let handle = self.handle {
                PQfinish(handle)
                self.handle = nil
            }
        }
    }

    // MARK: Statements

    /// Runs one statement with `$1…` parameters (text format) and returns its rows.
    @discardableResult
    package func query(_ sql: String, _ parameters: [String?] = [], timeout: Duration? = nil) async throws(PostgresError) -> PGRows {
        try await run(timeout: timeout) { handle, _ throws(PostgresError) in
            var cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
            defer { cStrings.forEach { free($0) } }
            let result = cStrings.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) { pointer in
                    PQexecParams(handle, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : pointer, nil, nil, 0)
                }
            }
            let rows = try Self.rows(from: result, handle: handle)
            self.received.add(rows.byteCount, ordering: .relaxed)
            return rows
        }
    }

    /// Runs statements back to back in one round trip (libpq's pipeline mode), each with its own
    /// `$1…` parameters. Statements run in order; after one fails the server skips the rest (their
    /// entry is nil). The first failure's error is in its entry; the call itself throws only when
    /// the pipeline could not be sent or read. With `preparing`, each statement is prepared on the
    /// connection the first time it is seen (in the same round trip) and executed by name after,
    /// so Postgres parses and plans it once per connection, not once per call.
    package func pipeline(
        _ statements: [(sql: String, parameters: [String?])], preparing: Bool = false, timeout: Duration? = nil
    ) async throws(PostgresError) -> [Result<PGRows, PostgresError>?] {
        try await run(timeout: timeout) { handle, _ throws(PostgresError) in
            guard PQenterPipelineMode(handle) == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            defer { _ = PQexitPipelineMode(handle) }
            // Statements prepared by this pipeline: their Prepare answers first, and is kept only if it worked.
            var preparedHere: [Int: (sql: String, name: String)] = [:]
            for (index, statement) in statements.enumerated() {
                var cStrings: [UnsafeMutablePointer<CChar>?] = statement.parameters.map { $0.flatMap { strdup($0) } }
                defer { cStrings.forEach { free($0) } }
                var name = preparing ? self.preparedNames[statement.sql] : nil
                if preparing, name == nil, self.preparedNames.count < Self.preparedLimit {
                    self.preparedCount += 1
                    let newName = "branch_\(self.preparedCount)"
                    guard PQsendPrepare(handle, newName, statement.sql, Int32(statement.parameters.count), nil) == 1 else {
                        throw PostgresError(.postgresQueryFailed, Self.errorText(handle))
                    }
                    self.preparedNames[statement.sql] = newName
                    preparedHere[index] = (statement.sql, newName)
                    name = newName
                }
                let count = Int32(statement.parameters.count)
                let sent = cStrings.withUnsafeMutableBufferPointer { buffer in
                    buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) { pointer in
                        let values = statement.parameters.isEmpty ? nil : pointer
                        if let name { return PQsendQueryPrepared(handle, name, count, values, nil, nil, 0) }
                        return PQsendQueryParams(handle, statement.sql, count, nil, values, nil, nil, 0)
                    }
                }
                guard sent == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            }
            guard PQpipelineSync(handle) == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            var outcomes: [Result<PGRows, PostgresError>?] = []
            for index in statements.indices {
                // A statement Postgres cannot prepare (an unknown column, a type mismatch) fails
                // there: that is its error, and its execution is skipped.
                var prepareFailure: Result<PGRows, PostgresError>?
                if let prepared = preparedHere[index] {
                    switch self.nextOutcome(handle) {
                    case .success?:
                        break
                    case .failure(let error)?:
                        self.preparedNames[prepared.sql] = nil
                        prepareFailure = .failure(error)
                    case nil:
                        // Skipped after an earlier failure: never prepared.
                        self.preparedNames[prepared.sql] = nil
                    }
                }
                let outcome = self.nextOutcome(handle)
                outcomes.append(prepareFailure ?? outcome)
            }
            // The sync point's own result.
            while let result = PQgetResult(handle) {
                let status = PQresultStatus(result)
                PQclear(result)
                if status == PGRES_PIPELINE_SYNC { break }
            }
            return outcomes
        }
    }

    /// In a pipeline: the next command's result (then the NULL that ends it); nil when the server
    /// skipped it after an earlier failure. On the queue.
    private func nextOutcome(_ handle: OpaquePointer) -> Result<PGRows, PostgresError>? {
        var outcome: Result<PGRows, PostgresError>?
        var ended = false
        while let result = PQgetResult(handle) {
            if ended || PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                PQclear(result)
                continue
            }
            ended = true
            do throws(PostgresError) {
                let rows = try Self.rows(from: result, handle: handle)
                received.add(rows.byteCount, ordering: .relaxed)
                outcome = .success(rows)
            } catch {
                outcome = .failure(error)
            }
        }
        return outcome
    }

    /// Runs one or more statements without parameters (simple query protocol); returns the last result's rows.
    @discardableResult
    package func execute(_ sql: String, timeout: Duration? = nil) async throws(PostgresError) -> PGRows {
        try await run(timeout: timeout) { handle, _ throws(PostgresError) in
            let rows = try Self.rows(from: PQexec(handle, sql), handle: handle)
            self.received.add(rows.byteCount, ordering: .relaxed)
            return rows
        }
    }

    /// Returns the session to a new connection's state for its next user (`DISCARD ALL`: settings,
    /// role, temporary tables, prepared statements, cursors, LISTENs and advisory locks), and
    /// forgets what `pipeline(_:preparing:)` prepared. Fails inside a transaction block, so a
    /// session left in one is closed by its pool rather than reused.
    package func resetSession(timeout: Duration? = nil) async throws(PostgresError) {
        try await run(timeout: timeout) { handle, _ throws(PostgresError) in
            _ = try Self.rows(from: PQexec(handle, "DISCARD ALL"), handle: handle)
            self.preparedNames.removeAll()
            self.preparedCount = 0
        }
    }

    // MARK: COPY streaming (bounded memory: one piece at a time, pulled by the caller)

    /// Starts `COPY … TO STDOUT`; then call `readCopy` until it returns nil.
    package func beginCopyOut(_ sql: String, timeout: Duration? = nil) async throws(PostgresError) {
        try await run(timeout: timeout) { handle, _ throws(PostgresError) in
            guard let result = PQexec(handle, sql) else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COPY_OUT else {
                throw Self.failure(result)
            }
            self.copyOutFinished = false
        }
    }

    /// The next rows of a COPY OUT, up to about `maxBytes`; nil once the copy is complete. If the
    /// call is stopped (task cancelled, `timeout`), the whole COPY is cancelled on the server.
    package func readCopy(maxBytes: Int = 1 << 20, timeout: Duration? = nil) async throws(PostgresError) -> [UInt8]? {
        try await run(timeout: timeout, withinCopy: true) { handle, call throws(PostgresError) in
            if self.copyOutFinished { return nil }
            var collected: [UInt8] = []
            while collected.count < maxBytes {
                var buffer: UnsafeMutablePointer<CChar>?
                let length = PQgetCopyData(handle, &buffer, 0)
                if length > 0, let buffer {
                    collected.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: Int(length)))
                    self.received.add(UInt64(length), ordering: .relaxed)
                    PQfreemem(buffer)
                    // Asked to stop: the COPY is given up (settled below), not returned in part.
                    if call.isStopRequested { throw PostgresError(.postgresQueryFailed, "COPY stopped") }
                } else if length == -1 {
                    // Copy done: collect the command's final result.
                    self.copyOutFinished = true
                    if let error = Self.remainingResultsError(handle) { throw error }
                    return collected.isEmpty ? nil : collected
                } else {
                    throw PostgresError(.postgresQueryFailed, Self.errorText(handle))
                }
            }
            return collected
        }
    }

    /// Starts `COPY … FROM STDIN`; then `writeCopy` the data and `endCopyIn`.
    package func beginCopyIn(_ sql: String, timeout: Duration? = nil) async throws(PostgresError) {
        try await run(timeout: timeout) { handle, _ throws(PostgresError) in
            guard let result = PQexec(handle, sql) else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COPY_IN else {
                throw Self.failure(result)
            }
        }
    }

    /// Sends a piece of COPY IN data. If the call is stopped, the COPY is aborted.
    package func writeCopy(_ bytes: [UInt8], timeout: Duration? = nil) async throws(PostgresError) {
        try await run(timeout: timeout, withinCopy: true) { handle, call throws(PostgresError) in
            let sent = bytes.withUnsafeBytes { PQputCopyData(handle, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count)) }
            guard sent == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            if call.isStopRequested { throw PostgresError(.postgresQueryFailed, "COPY stopped") }
        }
    }

    /// Ends a COPY IN (or aborts it with `error`) and returns once the server has taken it.
    package func endCopyIn(error: String? = nil, timeout: Duration? = nil) async throws(PostgresError) {
        try await run(timeout: timeout, withinCopy: true) { handle, _ throws(PostgresError) in
            guard PQputCopyEnd(handle, error) == 1 else { throw PostgresError(.postgresQueryFailed, Self.errorText(handle)) }
            if let error = Self.remainingResultsError(handle) { throw error }
        }
    }

    // MARK: Running calls on the queue

    /// Runs `body` on the queue as one stoppable call. Before a statement (`withinCopy` false),
    /// anything an abandoned COPY left is settled; after a failure or a stop, so is the call's own.
    func run<T: Sendable>(
        timeout: Duration?, withinCopy: Bool = false,
        _ body: @escaping @Sendable (OpaquePointer, Call) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        let call = Call(canceller: canceller)
        let timer = timeout.map { call.stop(after: $0, on: canceller.queue) }
        defer { timer?.cancel() }
        let result: Result<T, PostgresError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                queue.async {
                    continuation.resume(returning: self.perform(call, withinCopy: withinCopy, body))
                }
            }
        } onCancel: {
            call.requestStop(.cancelled)
        }
        return try result.get()
    }

    /// On the queue: one call from start to end.
    private func perform<T>(
        _ call: Call, withinCopy: Bool, _ body: (OpaquePointer, Call) throws(PostgresError) -> T
    ) -> Result<T, PostgresError> {
        let what = withinCopy ? "The COPY" : "The statement"
        guard let handle else {
            _ = call.begin()
            _ = call.end()
            return .failure(PostgresError(.postgresConnectionFailed, "The connection is closed."))
        }
        defer { healthy.store(PQstatus(handle) == CONNECTION_OK, ordering: .relaxed) }
        if let stop = call.begin() {
            // Never started; a COPY it was part of is given up.
            if withinCopy { settle(handle) }
            return .failure(stop.error(what))
        }
        if !withinCopy { settle(handle) }
        let outcome: Result<T, PostgresError>
        do {
            outcome = .success(try body(handle, call))
        } catch {
            settle(handle)
            outcome = .failure(error)
        }
        // After `end` no cancel request for this call can reach the server any more.
        let stop = call.end()
        if case .failure(let error) = outcome, let stop { return .failure(stop.error(what, after: error)) }
        return outcome
    }

    /// Brings the connection back to idle when a command is still in progress (an abandoned or
    /// failed COPY): a COPY IN is ended with an error, a COPY OUT is cancelled on the server and
    /// read to its end, and every pending result is consumed. Runs on the queue.
    private func settle(_ handle: OpaquePointer) {
        guard PQtransactionStatus(handle) == PQTRANS_ACTIVE else { return }
        var cancelled = false
        // Bounded, in case libpq kept answering with the same COPY state.
        for _ in 0..<1000 {
            guard PQstatus(handle) == CONNECTION_OK, let result = PQgetResult(handle) else { break }
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_COPY_IN {
                _ = PQputCopyEnd(handle, "COPY abandoned by the client")
            } else if status == PGRES_COPY_OUT {
                if !cancelled {
                    canceller.send()
                    cancelled = true
                }
                var buffer: UnsafeMutablePointer<CChar>?
                while PQgetCopyData(handle, &buffer, 0) > 0 {
                    PQfreemem(buffer)
                    buffer = nil
                }
            } else if status == PGRES_COPY_BOTH {
                break
            }
        }
        copyOutFinished = true
    }

    // MARK: Results

    /// Consumes the pending results of a command; the first error among them, if any.
    private static func remainingResultsError(_ handle: OpaquePointer) -> PostgresError? {
        var first: PostgresError?
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if first == nil, status != PGRES_COMMAND_OK {
                first = failure(result)
            }
            PQclear(result)
            // Another COPY state: left to `settle`, which knows how to end it.
            if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH { break }
        }
        return first
    }

    static func resultError(_ result: OpaquePointer) -> String {
        (PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error").trimmingNewlines()
    }

    static func sqlState(_ result: OpaquePointer) -> String? {
        field(result, "C")
    }

    static func field(_ result: OpaquePointer, _ code: Unicode.Scalar) -> String? {
        PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
    }

    /// The error of a failed result, with the server's message, DETAIL and HINT kept apart.
    static func failure(_ result: OpaquePointer) -> PostgresError {
        let server = field(result, "M").map { PostgresError.ServerFields(message: $0, detail: field(result, "D"), hint: field(result, "H")) }
        return PostgresError(.postgresQueryFailed, resultError(result), sqlState: sqlState(result), server: server)
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
            throw failure(result)
        }
    }

    static func errorText(_ handle: OpaquePointer) -> String {
        (PQerrorMessage(handle).map { String(cString: $0) } ?? "unknown error").trimmingNewlines()
    }
}

// MARK: Cancellation

/// Why a call was asked to stop.
enum CallStop: Sendable {
    case cancelled
    case timedOut(Duration)

    /// The error a call stopped this way ends with; `after` is what the call itself failed with.
    func error(_ what: String, after underlying: (any Error)? = nil) -> PostgresError {
        let sqlState = (underlying as? PostgresError)?.sqlState
        switch self {
        case .cancelled:
            return PostgresError(.postgresQueryCancelled, "\(what) was cancelled: the task waiting for it was cancelled.", sqlState: sqlState)
        case .timedOut(let limit):
            let milliseconds = Int((limit / .milliseconds(1)).rounded())
            return PostgresError(.postgresQueryTimeout, "\(what) did not finish within \(milliseconds) ms and was cancelled.", sqlState: sqlState)
        }
    }
}

/// Sends cancel requests for one connection's statements. `PQcancel` is thread-safe and opens
/// a short connection of its own to the server, so it runs on a queue of its own (never a
/// cooperative thread), or on the connection's queue while settling.
final class Canceller: @unchecked Sendable {
    /// `PGcancel`, read-only after init; nil if libpq could not make one.
    private let cancel: OpaquePointer?
    let queue: DispatchQueue

    init(handle: OpaquePointer, label: String) {
        cancel = PQgetCancel(handle)
        queue = DispatchQueue(label: label + ".cancel")
    }

    deinit {
        if let cancel { PQfreeCancel(cancel) }
    }

    /// Asks the server to cancel whatever the connection's backend is running (blocks until the
    /// server has taken the request, a few milliseconds on a local server).
    func send() {
        guard let cancel else { return }
        var reason = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &reason, Int32(reason.count))
    }
}

/// One call on a connection, seen from the caller (a stop request: cancellation, timeout) and
/// from the queue (waiting, running, finished). A cancel request is only ever sent while the
/// call runs, under the call's lock, and the queue takes that lock to finish the call, so a
/// cancel can never reach the next statement.
final class Call: Sendable {
    private enum Phase { case waiting, running, finished }
    private struct State {
        var phase = Phase.waiting
        var stop: CallStop?
    }

    private let state = Mutex(State())
    private let canceller: Canceller?

    /// `canceller` nil: there is no statement to cancel (a connect polls `isStopRequested`).
    init(canceller: Canceller?) {
        self.canceller = canceller
    }

    var isStopRequested: Bool { state.withLock { $0.stop != nil } }

    /// Asks the call to stop; never blocks. Before it runs: it will not run. While it runs: the
    /// server is asked (from the cancel queue) to cancel it. The first reason given wins.
    func requestStop(_ stop: CallStop) {
        let sendCancel: Bool = state.withLock { state in
            guard state.stop == nil, state.phase != .finished else { return false }
            state.stop = stop
            return state.phase == .running
        }
        guard sendCancel, let canceller else { return }
        canceller.queue.async {
            self.state.withLock { state in
                if state.phase == .running { canceller.send() }
            }
        }
    }

    /// Schedules a `.timedOut` stop request after `limit`; cancel the item when the call is done.
    func stop(after limit: Duration, on queue: DispatchQueue) -> DispatchWorkItem {
        let item = DispatchWorkItem { [weak self] in self?.requestStop(.timedOut(limit)) }
        let (seconds, attoseconds) = limit.components
        let nanoseconds = max(0, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds), execute: item)
        return item
    }

    /// On the queue, before the work: nil to go on, or why the call must not run.
    func begin() -> CallStop? {
        state.withLock { state in
            if let stop = state.stop {
                state.phase = .finished
                return stop
            }
            state.phase = .running
            return nil
        }
    }

    /// On the queue, after the work (waits for a cancel request being sent): why the call was
    /// asked to stop, if it was.
    func end() -> CallStop? {
        state.withLock { state in
            state.phase = .finished
            return state.stop
        }
    }
}

// MARK: Scopes and reachability

/// Opens a connection, runs `body`, and closes it whatever happens.
@discardableResult
package func withConnection<T: Sendable>(_ info: ConnectionInfo, _ body: (PGConnection) async throws -> T) async throws -> T {
    let connection = try await PGConnection.connect(info)
    do {
        let result = try await body(connection)
        connection.close()
        return result
    } catch {
        connection.close()
        throw error
    }
}

/// libpq's reachability check, without authenticating.
package enum PGPing {
    package enum Status: Sendable { case ready, rejecting, unreachable }

    /// `PQping`, which blocks up to the connect timeout, on a `BlockingWork` thread.
    package static func check(_ info: ConnectionInfo) async -> Status {
        let conninfo = info.conninfo
        let status = try? await BlockingWork.run { () -> Status in
            switch PQping(conninfo) {
            case PQPING_OK: .ready
            case PQPING_REJECT: .rejecting
            default: .unreachable
            }
        }
        return status ?? .unreachable
    }

    /// Polls (every 3 ms at first, then every 20 ms) until the server accepts connections;
    /// returns false on timeout, or as soon as `isAlive` says the server process is gone (checked
    /// after the first 150 ms, which a process needs to show up).
    package static func waitUntilReady(
        _ info: ConnectionInfo, timeout: Duration, isAlive: @Sendable () -> Bool = { true }
    ) async -> Bool {
        let start = ContinuousClock.now
        let deadline = start + timeout
        var checks = 0
        while ContinuousClock.now < deadline {
            if await check(info) == .ready { return true }
            checks += 1
            if ContinuousClock.now - start > .milliseconds(150) && !isAlive() { return await check(info) == .ready }
            try? await Task.sleep(for: .milliseconds(checks < 100 ? 3 : 20))
        }
        return await check(info) == .ready
    }
}

extension String {
    func trimmingNewlines() -> String {
        var result = Substring(self)
        while let last = result.last, last.isNewline || last == " " { result.removeLast() }
        return String(result)
    }
}
