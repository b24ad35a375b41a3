import Hummingbird

/// (Being built.)
struct BackupsPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
