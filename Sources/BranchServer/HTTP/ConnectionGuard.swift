import BranchCore
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Counts the service's open connections against `HTTPLimits.maxConnections`, across event loops.
final class ConnectionCounter: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = max(1, limit) }

    var count: Int { open.load(ordering: .relaxed) }

    /// Takes a place if one is free.
    func admit() -> Bool {
        let (_, now) = open.add(1, ordering: .relaxed)
        guard now > limit else { return true }
        open.subtract(1, ordering: .relaxed)
        return false
    }

    func release() { open.subtract(1, ordering: .relaxed) }
}

/// One per connection, after HTTP decoding (Hummingbird's `additionalChannelHandlers`):
/// - past `maxConnections`, the connection's first request is answered 503
///   `too_many_connections` and it is closed; the connections already open keep working;
/// - a client too slow with a header is answered 408 `request_timeout` and closed, one too slow with
///   a body is closed (`SlowClientRules` decides; it needs to see bytes arrive before a header is
///   decoded, so this handler puts a small `ByteArrival` at the front of the pipeline);
/// - every response gets `SecurityHeaders`.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let counter: ConnectionCounter
    private var rules: SlowClientRules
    private var admission = Admission.pending
    private var check: Scheduled<Void>?
    private var checkAt: NIODeadline?

    private enum Admission { case pending, admitted, refused, released }

    /// Whether the service serves HTTPS: then its own answers carry HSTS too.
    private let tls: Bool

    init(limits: HTTPLimits, counter: ConnectionCounter, tls: Bool) {
        self.counter = counter
        self.rules = SlowClientRules(limits: limits)
        self.tls = tls
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let arrival = ByteArrival { [weak self] in self?.bytesArrived(context: context) }
        try? context.pipeline.syncOperations.addHandler(arrival, position: .first)
        if context.channel.isActive { admit() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelCheck()
        release()
    }

    func channelActive(context: ChannelHandlerContext) {
        admit()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelCheck()
        release()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if admission == .refused {
            // Nothing reaches the application; the first request is answered and the connection closed.
            if case .head = part {
                answer(
                    context: context, status: .serviceUnavailable, code: .tooManyConnections,
                    message: "The service has as many connections open as it serves at once.",
                    hint: "Retry in a moment; reuse connections rather than opening many.", extra: [.retryAfter: "1"])
            }
            return
        }
        switch part {
        case .head: rules.headRead(at: .now())
        case .body(let buffer): rules.bodyRead(buffer.readableBytes)
        case .end: rules.endRead()
        }
        evaluate(context: context)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.kind != .informational:
            SecurityHeaders.apply(to: &head.headerFields)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            rules.responseEnded(at: .now())
            context.write(data, promise: promise)
            evaluate(context: context)
        default:
            context.write(data, promise: promise)
        }
    }

    // MARK: Decisions

    private func admit() {
        guard admission == .pending else { return }
        admission = counter.admit() ? .admitted : .refused
    }

    private func release() {
        if admission == .admitted { counter.release() }
        admission = .released
    }

    private func bytesArrived(context: ChannelHandlerContext) {
        rules.bytesArrived(at: .now())
        evaluate(context: context)
    }

    /// Acts on the rules' verdict now, and arranges to look again at their next deadline.
    private func evaluate(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        switch rules.verdict(at: .now()) {
        case .headerTooSlow:
            cancelCheck()
            answer(
                context: context, status: .requestTimeout, code: .requestTimeout, message: "The request's header did not arrive in time.",
                hint: "Send the whole request header at once.")
        case .bodyTooSlow:
            cancelCheck()
            // The application is reading this request: a response from here would cross its own.
            context.close(promise: nil)
        case .wait(let deadline):
            guard deadline != checkAt else { return }
            cancelCheck()
            guard let deadline else { return }
            checkAt = deadline
            check = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [weak self] in
                self?.checkAt = nil
                self?.check = nil
                self?.evaluate(context: context)
            }
        }
    }

    private func cancelCheck() {
        check?.cancel()
        check = nil
        checkAt = nil
    }

    /// Writes a complete error response in the API's shape, then closes the connection.
    private func answer(
        context: ChannelHandlerContext, status: HTTPResponse.Status, code: ErrorCode, message: String, hint: String, extra: HTTPFields = [:]
    ) {
        let body = ByteBuffer(bytes: Self.errorJSON(code: code, message: message, hint: hint))
        var fields: HTTPFields = [.contentType: "application/json; charset=utf-8", .connection: "close", .contentLength: String(body.readableBytes)]
        fields.append(contentsOf: extra)
        SecurityHeaders.apply(to: &fields)
        if tls { fields[.strictTransportSecurity] = StrictTransportSecurity.value }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        // The context belongs to its event loop, where the completion runs: bound to it, it may be captured.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }

    static func errorJSON(code: ErrorCode, message: String, hint: String) -> [UInt8] {
        let object: [String: Any] = ["error": ["code": code.rawValue, "message": message, "hint": hint]]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }
}

/// Tells `ConnectionGuard` that bytes came in, before any decoding (TLS or HTTP) holds them back.
private final class ByteArrival: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let onBytes: () -> Void

    init(onBytes: @escaping () -> Void) { self.onBytes = onBytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onBytes()
        context.fireChannelRead(data)
    }
}
