import Hummingbird

/// (Being built.)
struct ProjectSettingsPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
