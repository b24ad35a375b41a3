import ServiceLifecycle

/// Runs a service whose graceful shutdown may wait on clients (the HTTP server waits for every
/// response in flight to end) and cancels it when that takes longer than `limit`: a client that
/// reads a long diff or export slowly, or not at all, would otherwise hold `branch serve` up for
/// as long as it likes. The services listed before it (the engine, which stops every branch
/// server) still shut down gracefully after it.
struct BoundedShutdown<Base: Service>: Service {
    let base: Base
    let limit: Duration

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await base.run() }
            group.addTask {
                // Returns at the start of a graceful shutdown; throws when the base ends first.
                try await gracefulShutdown()
                try await Task.sleep(for: limit)
            }
            // Whichever ends first: the base (the other child is then cancelled), or the limit
            // (then the base is cancelled, which closes its connections).
            _ = try await group.next()
            group.cancelAll()
            while !group.isEmpty {
                do { try await group.next() } catch is CancellationError {}
            }
        }
    }
}
