import BranchCore
import BranchPostgres

/// A bounded pool of connections to one branch's database as one role, for the data API.
/// Connections are opened on demand, reused newest first, and dropped when the branch server
/// restarts (an in-place restore, a reset, a resume) so the next request reconnects instead of
/// failing. Waiting requests are served in order; a cancelled one leaves the line.
actor ConnectionPool {
    /// How one pooled connection is made (the branch may have moved ports: asked each time).
    typealias Connect = @Sendable () async throws -> PGConnection

    private var decisions: PoolDecisions<PGConnection>
    private var waiting: [Int: CheckedContinuation<Lease, any Error>] = [:]
    private let connect: Connect

    /// A connection handed out, with whether it was opened for this request.
    struct Lease: Sendable {
        let connection: PGConnection
        let fresh: Bool
        let generation: Int
    }

    init(capacity: Int, connect: @escaping Connect) {
        self.decisions = PoolDecisions(capacity: capacity)
        self.connect = connect
    }

    /// Runs `body` with a connection; `generation` is the branch server's current start. A body
    /// that reports the connection broken (`retry` true) on a reused connection runs once more on
    /// a new one: the server restarted since the connection was made.
    func withConnection<T: Sendable>(
        generation: Int, _ body: @Sendable (PGConnection) async -> (result: T, retry: Bool)
    ) async throws -> T {
        for connection in decisions.serverRestarted(generation: generation) { connection.close() }
        let lease = try await lease()
        let (result, retry) = await body(lease.connection)
        if retry && !lease.connection.isHealthy && !lease.fresh {
            give(lease.connection, generation: lease.generation)
            for connection in decisions.drain() { connection.close() }
            let second: Lease = try await self.lease()
            let (again, _) = await body(second.connection)
            give(second.connection, generation: second.generation)
            return again
        }
        give(lease.connection, generation: lease.generation)
        return result
    }

    private func lease() async throws -> Lease {
        switch decisions.acquire() {
        case .reuse(let connection):
            return Lease(connection: connection, fresh: false, generation: decisions.generation)
        case .open:
            return try await open()
        case .wait:
            let ticket = decisions.enqueueWaiter()
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    waiting[ticket] = continuation
                }
            } onCancel: {
                Task { await self.cancelWaiter(ticket) }
            }
        }
    }

    /// Opens a connection for a slot already taken.
    private func open() async throws -> Lease {
        let generation = decisions.generation
        do {
            return Lease(connection: try await connect(), fresh: true, generation: generation)
        } catch {
            if let waiter = decisions.openFailed() { openFor(waiter) }
            throw error
        }
    }

    private func give(_ connection: PGConnection, generation: Int) {
        switch decisions.release(connection, healthy: connection.isHealthy, generation: generation) {
        case .handOver(let connection, let waiter):
            waiting.removeValue(forKey: waiter)?.resume(returning: Lease(connection: connection, fresh: false, generation: decisions.generation))
        case .keep:
            break
        case .close(let waiter):
            connection.close()
            if let waiter { openFor(waiter) }
        }
    }

    /// A waiter inherits a free slot: open a connection for it.
    private func openFor(_ waiter: Int) {
        guard let continuation = waiting.removeValue(forKey: waiter) else { return }
        Task {
            do { continuation.resume(returning: try await self.open()) } catch { continuation.resume(throwing: error) }
        }
    }

    private func cancelWaiter(_ ticket: Int) {
        guard decisions.removeWaiter(ticket), let continuation = waiting.removeValue(forKey: ticket) else { return }
        continuation.resume(throwing: CancellationError())
    }

    /// Closes the idle connections (service stop, branch deleted).
    func closeIdle() {
        for connection in decisions.drain() { connection.close() }
    }
}
