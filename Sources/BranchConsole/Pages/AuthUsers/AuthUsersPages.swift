import Hummingbird

/// (Being built.)
struct AuthUsersPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
