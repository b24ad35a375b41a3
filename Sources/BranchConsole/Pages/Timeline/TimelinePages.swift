import Hummingbird

/// (Being built.)
struct TimelinePages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
