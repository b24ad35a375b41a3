import Hummingbird
import NIOCore

/// The service's request context: Hummingbird's basics plus the client's address, which the
/// data API's sign-in rate limits count by.
struct ServiceRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
