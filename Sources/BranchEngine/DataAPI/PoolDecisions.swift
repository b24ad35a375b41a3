/// The decisions of one branch's data API connection pool, kept apart from I/O so they can be
/// tested without Postgres (CONVENTIONS 11): at most `capacity` connections, idle ones reused
/// newest first, waiters served in order, and every connection older than the branch server's
/// current start (`generation`) dropped instead of reused.
struct PoolDecisions<Connection: Sendable>: Sendable {
    enum Acquire {
        /// Use this idle connection.
        case reuse(Connection)
        /// Open a new connection (a slot is taken for it).
        case open
        /// All slots are busy: wait in line.
        case wait
    }

    enum Release {
        /// Hand the connection to the first waiter.
        case handOver(Connection, to: Int)
        /// Keep it idle.
        case keep
        /// Close it; `thenOpenFor` names a waiter whose slot it frees, to open a new connection for.
        case close(thenOpenFor: Int?)
    }

    let capacity: Int
    private(set) var generation = 0
    private var idle: [(connection: Connection, generation: Int)] = []
    /// Connections handed out or being opened.
    private(set) var busy = 0
    private var waiters: [Int] = []
    private var nextWaiter = 0

    init(capacity: Int) { self.capacity = capacity }

    var idleCount: Int { idle.count }
    var waitingCount: Int { waiters.count }

    /// The branch server (re)started: idle connections of the old one are returned to be closed.
    mutating func serverRestarted(generation: Int) -> [Connection] {
        guard generation != self.generation else { return [] }
        self.generation = generation
        let stale = idle.map(\.connection)
        idle.removeAll()
        return stale
    }

    mutating func acquire() -> Acquire {
        if let last = idle.popLast() {
            busy += 1
            return .reuse(last.connection)
        }
        if busy < capacity {
            busy += 1
            return .open
        }
        return .wait
    }

    /// A ticket for a request that must wait; `acquire` said `.wait`.
    mutating func enqueueWaiter() -> Int {
        nextWaiter += 1
        waiters.append(nextWaiter)
        return nextWaiter
    }

    /// A waiter gave up (cancelled): forget it. False if it was already served.
    mutating func removeWaiter(_ ticket: Int) -> Bool {
        guard let index = waiters.firstIndex(of: ticket) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// A connection comes back; `healthy` false (or from an older server) means it must go.
    mutating func release(_ connection: Connection, healthy: Bool, generation: Int) -> Release {
        let usable = healthy && generation == self.generation
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            return usable ? .handOver(connection, to: waiter) : .close(thenOpenFor: waiter)
        }
        busy -= 1
        if usable {
            idle.append((connection, generation))
            return .keep
        }
        return .close(thenOpenFor: nil)
    }

    /// Opening a connection failed: its slot is free again (a waiter, if any, should try).
    mutating func openFailed() -> Int? {
        if !waiters.isEmpty { return waiters.removeFirst() }
        busy -= 1
        return nil
    }

    /// Everything idle, for shutdown.
    mutating func drain() -> [Connection] {
        let all = idle.map(\.connection)
        idle.removeAll()
        return all
    }
}
