import Hummingbird

/// (Being built.)
struct InstanceSettingsPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
