@testable import BranchEngine
import Foundation
import Testing

@Suite("Supervision and scale to zero")
struct BackgroundTests {
    let start = ContinuousClock.now

    @Test("a dead server is recorded once, restarted after a grace second, then backed off 1, 2, 4 … 60 s")
    func restartBackoff() {
        var machine = RestartMachine()
        #expect(machine.dead(at: start) == .recordCrash)
        #expect(machine.dead(at: start + .milliseconds(500)) == .none, "the first restart waits a second")
        #expect(machine.dead(at: start + .seconds(1)) == .restart)
        var now = start + .seconds(1)
        var delays: [Duration] = []
        for _ in 0..<8 {
            let delay = machine.restartFailed(at: now)
            delays.append(delay)
            #expect(machine.dead(at: now + delay - .milliseconds(1)) == .none, "not before the backoff ends")
            now = now + delay
            #expect(machine.dead(at: now) == .restart)
        }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60].map { Duration.seconds($0) })
    }

    @Test("a server seen running ends the outage: the next crash is recorded again, with a fresh backoff")
    func recovery() {
        var machine = RestartMachine()
        _ = machine.dead(at: start)
        _ = machine.restartFailed(at: start + .seconds(1))
        machine.running()
        #expect(machine == RestartMachine())
        #expect(machine.dead(at: start + .seconds(10)) == .recordCrash)
    }

    @Test("idle time counts from the service start at most, and from the last client")
    func idleTime() {
        var machine = IdleMachine(serviceStart: start)
        #expect(machine.idle("a/b", at: start + .seconds(30)) == .seconds(30))
        machine.active("a/b", at: start + .seconds(20))
        #expect(machine.idle("a/b", at: start + .seconds(30)) == .seconds(10))
    }

    @Test("a renamed branch keeps its last client, its users and its suspension under the new key")
    func renamed() {
        var machine = IdleMachine(serviceStart: start)
        machine.active("a/old", at: start + .seconds(20))
        machine.use("a/old")
        machine.setSuspended("a/old", true, at: start + .seconds(21))
        machine.rename("a/old", to: "a/new")
        #expect(machine.lastActive("a/old", at: start + .seconds(30)) == nil)
        #expect(machine.lastActive("a/new", at: start + .seconds(30)) == start + .seconds(30), "still in use")
        #expect(machine.suspended == ["a/new"])
        machine.release("a/new", at: start + .seconds(40))
        #expect(machine.idle("a/new", at: start + .seconds(50)) == .seconds(10))
    }

    @Test("last active: never until a client comes, now while the service uses it, then its release")
    func lastActive() {
        var machine = IdleMachine(serviceStart: start)
        #expect(machine.lastActive("a/b", at: start + .seconds(30)) == nil)
        machine.active("a/b", at: start + .seconds(20))
        #expect(machine.lastActive("a/b", at: start + .seconds(30)) == start + .seconds(20))
        machine.use("a/b")
        #expect(machine.lastActive("a/b", at: start + .seconds(40)) == start + .seconds(40))
        machine.release("a/b", at: start + .seconds(50))
        #expect(machine.lastActive("a/b", at: start + .seconds(90)) == start + .seconds(50))
    }

    @Test("a branch the service uses is never idle; its release counts as activity")
    func inUse() {
        var machine = IdleMachine(serviceStart: start)
        machine.use("a/b")
        machine.use("a/b")
        #expect(machine.idle("a/b", at: start + .seconds(3600)) == .zero)
        #expect(!machine.shouldSuspend("a/b", delaySeconds: 60, at: start + .seconds(3600)))
        machine.release("a/b", at: start + .seconds(3600))
        #expect(machine.idle("a/b", at: start + .seconds(3601)) == .zero, "still used once")
        machine.release("a/b", at: start + .seconds(3700))
        #expect(machine.idle("a/b", at: start + .seconds(3710)) == .seconds(10))
    }

    @Test("suspend after the delay, never with a delay of 0, never twice")
    func suspendDecision() {
        var machine = IdleMachine(serviceStart: start)
        #expect(!machine.shouldSuspend("a/b", delaySeconds: 900, at: start + .seconds(899)))
        #expect(machine.shouldSuspend("a/b", delaySeconds: 900, at: start + .seconds(900)))
        #expect(!machine.shouldSuspend("a/b", delaySeconds: 0, at: start + .seconds(99_999)), "0 means never")
        machine.setSuspended("a/b", true, at: start + .seconds(900))
        #expect(machine.suspended == ["a/b"])
        #expect(!machine.shouldSuspend("a/b", delaySeconds: 900, at: start + .seconds(5000)), "already suspended")
        machine.setSuspended("a/b", false, at: start + .seconds(5000))
        #expect(machine.suspended.isEmpty)
        #expect(machine.idle("a/b", at: start + .seconds(5001)) == .seconds(1), "resuming counts as activity")
        machine.forget("a/b")
        #expect(machine.idle("a/b", at: start + .seconds(5001)) == .seconds(5001))
    }
}
