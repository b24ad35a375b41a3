/// How long and how many: the bounds the HTTP server keeps so that slow or numerous clients
/// cannot hold it (slow-loris). `branch serve --max-connections` sets the first; the timeouts have
/// hidden options so tests can shorten them.
package struct HTTPLimits: Sendable, Equatable {
    /// Open connections served at once; one more is answered 503 `too_many_connections` and closed.
    package var maxConnections: Int
    /// From the first byte of a request (or the end of the previous response, when the client sent
    /// it early) to the end of its header; then the client gets 408 `request_timeout` and is closed.
    package var headerTimeout: Duration
    /// A connection with nothing to do (between requests, or a body that stopped arriving) is closed after this.
    package var idleTimeout: Duration
    /// A body must arrive at this average rate (bytes per second) once `bodyGrace` has passed.
    package var minimumBodyRate: Int
    /// How long a body may take before its average rate is checked.
    package var bodyGrace: Duration

    package init(
        maxConnections: Int = 1024, headerTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(30),
        minimumBodyRate: Int = 1024, bodyGrace: Duration = .seconds(10)
    ) {
        self.maxConnections = maxConnections
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.minimumBodyRate = minimumBodyRate
        self.bodyGrace = bodyGrace
    }
}
