import Hummingbird

/// (Being built.)
struct DatabasePages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
