import BranchCore
@testable import BranchEngine
import BranchREST
@testable import BranchServer
import HTTPTypes
import NIOCore
import Testing

/// The HTTP server's guards against slow and numerous clients, its security headers, and which
/// JWT roles the data API runs as: the decisions, without sockets.
@Suite("HTTP hardening")
struct HTTPHardeningTests {
    static let limits = HTTPLimits(maxConnections: 2, headerTimeout: .seconds(10), minimumBodyRate: 1024, bodyGrace: .seconds(10))
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
    static func at(_ seconds: Double) -> NIODeadline { start + .nanoseconds(Int64(seconds * 1e9)) }

    @Test("a header must be complete within the timeout of its first byte; an idle connection has no header clock")
    func headerClock() {
        var rules = SlowClientRules(limits: Self.limits)
        #expect(rules.verdict(at: Self.at(100)) == .wait(until: nil), "nothing sent: the idle timeout's business")
        rules.bytesArrived(at: Self.at(1))
        rules.bytesArrived(at: Self.at(5))
        #expect(rules.verdict(at: Self.at(10.9)) == .wait(until: Self.at(11)), "timed from the first byte, not the latest")
        #expect(rules.verdict(at: Self.at(11)) == .headerTooSlow)

        var fast = SlowClientRules(limits: Self.limits)
        fast.bytesArrived(at: Self.at(1))
        fast.headRead(at: Self.at(2))
        fast.endRead()
        #expect(fast.verdict(at: Self.at(60)) == .wait(until: nil), "a request being answered has no deadline here")
    }

    @Test("bytes sent while the server answers start the next header's clock only when the answer ends")
    func pipelinedHeader() {
        var rules = SlowClientRules(limits: Self.limits)
        rules.bytesArrived(at: Self.at(0))
        rules.headRead(at: Self.at(0.1))
        rules.endRead()
        rules.bytesArrived(at: Self.at(1))
        #expect(rules.verdict(at: Self.at(30)) == .wait(until: nil), "the server is busy for 30 s: not the client's fault")
        rules.responseEnded(at: Self.at(30))
        #expect(rules.verdict(at: Self.at(39)) == .wait(until: Self.at(40)))
        #expect(rules.verdict(at: Self.at(40)) == .headerTooSlow)
    }

    @Test("a body must keep 1 KiB/s on average after the grace; a fast one never trips; a trickle does")
    func bodyRate() {
        var trickle = SlowClientRules(limits: Self.limits)
        trickle.headRead(at: Self.at(0))
        for second in 1...9 { trickle.bodyRead(1); #expect(trickle.verdict(at: Self.at(Double(second))) == .wait(until: Self.at(10))) }
        #expect(trickle.verdict(at: Self.at(10)) == .bodyTooSlow)

        var steady = SlowClientRules(limits: Self.limits)
        steady.headRead(at: Self.at(0))
        steady.bodyRead(30 * 1024)
        #expect(steady.verdict(at: Self.at(29)) == .wait(until: Self.at(30)), "30 KiB earns 30 s")
        #expect(steady.verdict(at: Self.at(30)) == .bodyTooSlow)
        steady.endRead()
        #expect(steady.verdict(at: Self.at(300)) == .wait(until: nil), "a complete body has no clock")
    }

    @Test("a body sent behind another request is timed once it is the only one; one answered early is not timed")
    func bodyBehindAnotherRequest() {
        var rules = SlowClientRules(limits: Self.limits)
        rules.headRead(at: Self.at(0))
        rules.endRead()
        rules.headRead(at: Self.at(1))
        #expect(rules.verdict(at: Self.at(50)) == .wait(until: nil))
        rules.responseEnded(at: Self.at(50))
        #expect(rules.verdict(at: Self.at(59)) == .wait(until: Self.at(60)))
        rules.responseEnded(at: Self.at(55))
        #expect(rules.inFlight == 0 && rules.verdict(at: Self.at(500)) == .wait(until: nil), "a 413 sent before the body was read")
    }

    @Test("connections past the limit are refused until one closes")
    func connectionCounter() {
        let counter = ConnectionCounter(limit: 2)
        #expect(counter.admit() && counter.admit())
        #expect(!counter.admit() && counter.count == 2)
        counter.release()
        #expect(counter.admit() && counter.count == 2)
    }

    @Test("every response gets nosniff, no-referrer, no framing and a policy; HTML a page policy; a handler's own header stays")
    func securityHeaders() {
        var json: HTTPFields = [.contentType: "application/json"]
        SecurityHeaders.apply(to: &json)
        #expect(json[.xContentTypeOptions] == "nosniff" && json[.referrerPolicy] == "no-referrer" && json[.xFrameOptions] == "DENY")
        #expect(json[.contentSecurityPolicy] == "default-src 'none'; frame-ancestors 'none'")

        var html: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        SecurityHeaders.apply(to: &html)
        let policy = html[.contentSecurityPolicy] ?? ""
        for directive in ["default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"] {
            #expect(policy.contains(directive), "\(directive)")
        }
        #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval") && !policy.contains("*"))

        var own: HTTPFields = [.contentType: "text/html", .contentSecurityPolicy: "default-src 'none'"]
        SecurityHeaders.apply(to: &own)
        #expect(own[.contentSecurityPolicy] == "default-src 'none'" && own[values: .contentSecurityPolicy].count == 1)
    }

    @Test("the error bodies the guard writes are the API's shape, with a stable code")
    func guardAnswers() throws {
        let body = String(decoding: ConnectionGuard.errorJSON(code: .tooManyConnections, message: "m", hint: "h"), as: UTF8.self)
        #expect(body == #"{"error":{"code":"too_many_connections","hint":"h","message":"m"}}"#)
        #expect(ErrorCode.tooManyConnections.category.httpStatus == 503 && ErrorCode.requestTimeout.category.httpStatus == 408)
    }

    @Test("a JWT runs as its role, anon without one; the service's own roles, none and pg_ roles are refused")
    func roleClaims() throws {
        #expect(try RoleClaim.role(of: [:]) == "anon")
        #expect(try RoleClaim.role(of: ["role": "authenticated"]) == "authenticated")
        #expect(try RoleClaim.role(of: ["role": "service_role"]) == "service_role")
        #expect(try RoleClaim.role(of: ["role": "app_reader"]) == "app_reader", "a custom role: Postgres decides whether authenticator may be it")
        for role in ["postgres", "Postgres", "authenticator", "supabase_auth_admin", "supabase_admin", "none", "pg_read_server_files", "pg_monitor"] {
            #expect(throws: RESTError.self, "\(role)") { try RoleClaim.role(of: ["role": .string(role)]) }
        }
        for claim: JSONValue in [.integer(1), .object([:]), .string(""), .bool(true)] {
            #expect(throws: RESTError.self, "\(claim)") { try RoleClaim.role(of: ["role": claim]) }
        }
        do {
            _ = try RoleClaim.role(of: ["role": "postgres"])
        } catch {
            #expect(error.status == 401 && error.code == "42501" && error.message.contains("postgres"))
        }
    }
}
