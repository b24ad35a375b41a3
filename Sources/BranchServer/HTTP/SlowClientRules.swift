import NIOCore

/// The decisions that cut off a client sending a request too slowly, as a pure state machine
/// (`ConnectionGuard` feeds it the connection's events and acts on what it returns):
///
/// - a request's header must be complete within `headerTimeout` of its first byte. A client that
///   sends early (pipelining) is timed from the end of the response before, since until then the
///   server is not reading;
/// - a body must keep an average rate of `minimumBodyRate` once `bodyGrace` has passed, timed from
///   when it is the only request in flight (the server reads one request at a time), so a body
///   sent one byte a second is cut after the grace, and a large body on a slow link is not.
///
/// A connection that sends nothing at all is Hummingbird's idle timeout's.
struct SlowClientRules {
    let headerTimeout: TimeAmount
    let bodyGrace: TimeAmount
    let minimumBodyRate: Int

    /// Requests whose header was read and whose response has not ended.
    private(set) var inFlight = 0
    /// Between a request's header and its end.
    private(set) var readingBody = false
    /// When the header being received began arriving.
    private(set) var headerStartedAt: NIODeadline?
    /// Bytes arrived while the server was still answering: the next header's clock starts when it is done.
    private var bytesWhileBusy = false
    /// When the body being received started to count, and how much of it has arrived since.
    private(set) var bodyStartedAt: NIODeadline?
    private var bodyBytes = 0

    enum Verdict: Equatable {
        /// Nothing is late; check again at the deadline, if any.
        case wait(until: NIODeadline?)
        /// The header took too long: answer 408 and close.
        case headerTooSlow
        /// The body arrives too slowly: close.
        case bodyTooSlow
    }

    init(limits: HTTPLimits) {
        headerTimeout = TimeAmount(limits.headerTimeout)
        bodyGrace = TimeAmount(limits.bodyGrace)
        minimumBodyRate = max(1, limits.minimumBodyRate)
    }

    /// Bytes came in from the network (before HTTP decoding).
    mutating func bytesArrived(at now: NIODeadline) {
        guard !readingBody, headerStartedAt == nil else { return }
        if inFlight == 0 { headerStartedAt = now } else { bytesWhileBusy = true }
    }

    /// A request's header was decoded.
    mutating func headRead(at now: NIODeadline) {
        inFlight += 1
        headerStartedAt = nil
        bytesWhileBusy = false
        readingBody = true
        bodyBytes = 0
        bodyStartedAt = inFlight == 1 ? now : nil
    }

    mutating func bodyRead(_ count: Int) { bodyBytes += count }

    /// The request's end was decoded.
    mutating func endRead() {
        readingBody = false
        bodyStartedAt = nil
    }

    /// A response was written to its end.
    mutating func responseEnded(at now: NIODeadline) {
        inFlight = max(0, inFlight - 1)
        if readingBody {
            // The request being read is now the only one the server works on; or it was answered
            // before its body was read (413), and its pace no longer matters.
            bodyStartedAt = inFlight == 1 ? now : nil
            bodyBytes = 0
        } else if inFlight == 0, bytesWhileBusy {
            bytesWhileBusy = false
            headerStartedAt = now
        }
    }

    /// What to do at `now`.
    func verdict(at now: NIODeadline) -> Verdict {
        var next: NIODeadline?
        if let headerStartedAt {
            let deadline = headerStartedAt + headerTimeout
            if now >= deadline { return .headerTooSlow }
            next = deadline
        }
        if let bodyStartedAt {
            // The average rate drops below the minimum once the time since the start exceeds
            // bytes / rate; never before the grace.
            // (Capped so the product cannot overflow; the body limits end such a body long before.)
            let earned = TimeAmount.nanoseconds(Int64(min(bodyBytes, 1 << 32)) * 1_000_000_000 / Int64(minimumBodyRate))
            let deadline = bodyStartedAt + max(bodyGrace, earned)
            if now >= deadline { return .bodyTooSlow }
            next = next.map { min($0, deadline) } ?? deadline
        }
        return .wait(until: next)
    }
}
