import Hummingbird

/// (Being built.)
struct ActivityPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
