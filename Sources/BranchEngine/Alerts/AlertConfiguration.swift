/// How the alert sources and deliveries behave; the defaults are the documented ones, a few are
/// hidden `branch serve` options so tests can reach them in seconds.
package struct AlertConfiguration: Sendable {
    /// How often pool space, the certificate and database sizes are checked.
    package var checkInterval: Duration = .seconds(60)
    /// Pool use, in percent, that raises an alert when crossed upwards.
    package var poolSpaceThresholds: [Int] = [80, 90, 95]
    /// Percentage points the use must fall below a threshold before crossing it alerts again.
    package var poolSpaceHysteresis: Int = 3
    /// A branch server that crashed (or failed to restart) this many times within the window is
    /// crash-looping: one alert, then none until it has been quiet for a window.
    package var crashLoopCount: Int = 3
    package var crashLoopWindow: Duration = .seconds(600)
    /// The service certificate alerts when it has fewer days left (at most once a day).
    package var certificateWarningDays: Int = 21
    /// A database that grew by more than this share since its last backup alerts, for projects
    /// that set no share of their own.
    package var defaultSizeJumpPercent: Int = 50
    /// Retries of a failed delivery.
    package var backoff = AlertBackoff()
    /// Deliveries queued or in flight at once; more are dropped (and logged).
    package var maxPendingDeliveries: Int = 256

    package init() {}
}
