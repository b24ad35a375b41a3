@testable import BranchEngine
@testable import BranchServer
import Testing

@Suite("Data API: routes and pool decisions")
struct DataAPIServingTests {
    @Test("data API paths name the project, the branch, the service and the rest of the path")
    func routes() {
        let todos = DataAPIRoute(path: "/p/shop/rest/v1/todos")
        #expect(todos?.project == "shop")
        #expect(todos?.branch == nil)
        #expect(todos?.service == .rest)
        #expect(todos?.path == "/todos")
        #expect(todos?.prefix == "/p/shop")
        #expect(DataAPIRoute(path: "/p/shop/b/feat/auth/v1/token")?.branch == "feat")
        #expect(DataAPIRoute(path: "/p/shop/b/feat/auth/v1/token")?.path == "/token")
        #expect(DataAPIRoute(path: "/p/shop/b/feat/auth/v1/token")?.prefix == "/p/shop/b/feat")
        #expect(DataAPIRoute(path: "/p/shop/rest/v1/")?.path == "/")
        #expect(DataAPIRoute(path: "/p/shop/rest/v1")?.path == "/")
        #expect(DataAPIRoute(path: "/p/shop/rest/v1/rpc/add")?.path == "/rpc/add")
        #expect(DataAPIRoute(path: "/p/my%20shop/rest/v1/x")?.project == "my shop")
        for other in ["/api/v1/projects", "/p/", "/p/shop", "/p/shop/graphql/v1", "/p/shop/rest/v2/x", "/p/shop/b//rest/v1/x", "/pp/shop/rest/v1"] {
            #expect(DataAPIRoute(path: other) == nil, "\(other)")
        }
    }

    @Test("the pool opens up to its capacity, then queues; a released connection goes to the first waiter")
    func capacityAndWaiters() {
        var pool = PoolDecisions<String>(capacity: 2)
        guard case .open = pool.acquire(), case .open = pool.acquire(), case .wait = pool.acquire() else { Issue.record("expected open, open, wait"); return }
        let first = pool.enqueueWaiter()
        let second = pool.enqueueWaiter()
        guard case .handOver("a", to: let waiter) = pool.release("a", healthy: true, generation: 0) else { Issue.record("expected a hand-over"); return }
        #expect(waiter == first)
        // A broken connection frees its slot for the next waiter, who opens a new one.
        guard case .close(thenOpenFor: let next) = pool.release("b", healthy: false, generation: 0) else { Issue.record("expected close"); return }
        #expect(next == second)
        #expect(pool.busy == 2)
        guard case .keep = pool.release("a", healthy: true, generation: 0) else { Issue.record("expected keep"); return }
        guard case .reuse("a") = pool.acquire() else { Issue.record("expected reuse"); return }
    }

    @Test("a server restart drops idle connections and refuses those made before it")
    func restarts() {
        var pool = PoolDecisions<String>(capacity: 3)
        _ = pool.acquire()
        _ = pool.acquire()
        _ = pool.release("old-idle", healthy: true, generation: 0)
        let dropped = pool.serverRestarted(generation: 1)
        #expect(dropped == ["old-idle"])
        let droppedAgain = pool.serverRestarted(generation: 1)
        #expect(droppedAgain.isEmpty)
        guard case .close(thenOpenFor: nil) = pool.release("old-busy", healthy: true, generation: 0) else { Issue.record("expected close"); return }
        #expect(pool.busy == 0)
        #expect(pool.idleCount == 0)
    }

    @Test("a waiter that gives up leaves the line; a failed open passes the slot on")
    func cancellationAndFailures() {
        var pool = PoolDecisions<String>(capacity: 1)
        _ = pool.acquire()
        let gone = pool.enqueueWaiter()
        let staying = pool.enqueueWaiter()
        let removed = pool.removeWaiter(gone)
        let removedTwice = pool.removeWaiter(gone)
        #expect(removed && !removedTwice)
        let heir = pool.openFailed()
        #expect(heir == staying)
        let nobody = pool.openFailed()
        #expect(nobody == nil)
        #expect(pool.busy == 0)
    }
}
