import ServiceLifecycle

/// The wait between two rounds of a background service's loop, cut short when `branch serve`
/// starts to shut down: a plain sleep held every stop up by up to its interval (one to two
/// seconds each, one service after another). Only the wait is cut short, never a round's work.
func pauseBeforeNextRound(_ interval: Duration) async {
    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
}
