import Hummingbird

/// (Being built.)
struct SQLEditorPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {}
}
