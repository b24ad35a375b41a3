@testable import BranchCatalog
import BranchCore
@testable import BranchEngine
import Foundation
import Logging
import Synchronization
import Testing

/// The order things happened in, across tasks.
final class Trace: Sendable {
    private let entries = Mutex<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

@Suite("Keyed lock")
struct KeyedLockTests {
    @Test("one holder per key at a time, waiters served in arrival order")
    func exclusionAndOrder() async throws {
        let lock = KeyedLock()
        let trace = Trace()
        await lock.lock("p")
        await withTaskGroup(of: Void.self) { group in
            for index in 1...3 {
                group.addTask {
                    try? await lock.withLock("p") {
                        trace.add("start \(index)")
                        try await Task.sleep(for: .milliseconds(5))
                        trace.add("end \(index)")
                    }
                }
                // Each waiter reaches the queue before the next one starts.
                while await lock.waiting("p") < index { await Task.yield() }
            }
            trace.add("holder done")
            await lock.unlock("p")
        }
        #expect(trace.all.first == "holder done")
        #expect(Array(trace.all.dropFirst()) == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"])
        #expect(await !lock.isLocked("p"))
    }

    @Test("other keys are not held up; a throwing body releases the lock")
    func independentKeysAndErrors() async throws {
        let lock = KeyedLock()
        try await lock.withLock("a") {
            try await lock.withLock("b") {
                let a = await lock.isLocked("a")
                let b = await lock.isLocked("b")
                #expect(a && b)
            }
        }
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await lock.withLock("a") { throw Boom() } }
        #expect(await !lock.isLocked("a"))
        try await lock.withLock("a") {}
    }
}

@Suite("Journal")
struct JournalTests {
    let scratch: ScratchDirectory
    let catalog: Catalog
    let journal: Journal

    init() throws {
        scratch = try ScratchDirectory("branch-journal")
        catalog = try Catalog(path: "\(scratch.path)/catalog.sqlite")
        journal = Journal(catalog: catalog, logger: Logger(label: "test"))
    }

    @Test("a failed operation undoes what it did, newest first, and records the failure with its code")
    func undoOrder() async throws {
        let trace = Trace()
        await #expect(throws: EngineError.self) {
            _ = try await journal.run("test.op", project: nil, target: "x") { op in
                for step in ["first", "second", "third"] {
                    try await op.step(step) { trace.add("do \(step)") }
                    op.onFailure("undo \(step)") { trace.add("undo \(step)") }
                }
                throw EngineError.invalidRequest("stop here")
            }
        }
        #expect(trace.all == ["do first", "do second", "do third", "undo third", "undo second", "undo first"])
        let entry = try #require(try await catalog.operations(project: nil, limit: 1).first)
        #expect(entry.kind == "test.op" && entry.state == .failed && entry.errorCode == "invalid_request")
    }

    @Test("an undo step that fails does not stop the others")
    func failingUndo() async throws {
        let trace = Trace()
        struct Boom: Error {}
        _ = try? await journal.run("test.op", project: nil, target: nil) { op in
            op.onFailure("a") { trace.add("undo a") }
            op.onFailure("b") { throw Boom() }
            op.onFailure("c") { trace.add("undo c") }
            throw Boom()
        }
        #expect(trace.all == ["undo c", "undo a"])
    }

    @Test("a successful operation keeps what it did, with its steps timed")
    func success() async throws {
        let trace = Trace()
        let (value, timing) = try await journal.run("test.op", project: nil, target: nil) { op in
            try await op.step("only") { trace.add("do") }
            op.onFailure("never") { trace.add("undo") }
            return 42
        }
        #expect(value == 42 && trace.all == ["do"])
        #expect(timing.steps.map(\.name) == ["only"])
        #expect(try await catalog.operations(project: nil, limit: 1).first?.state == .succeeded)
    }

    @Test("cancelling the caller does not interrupt an operation half way")
    func notInterrupted() async throws {
        let trace = Trace()
        let task = Task {
            try await journal.run("test.op", project: nil, target: nil) { op in
                try await op.step("slow") {
                    try? await Task.sleep(for: .milliseconds(200))
                    trace.add("finished")
                }
            }
        }
        try await Task.sleep(for: .milliseconds(20))
        task.cancel()
        _ = try await task.value
        #expect(trace.all == ["finished"])
    }
}
