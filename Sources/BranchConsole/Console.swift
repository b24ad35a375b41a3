import HTTPTypes
package import Hummingbird

/// The web console at `/`: server-rendered pages over the API (see `ConsoleGateway`). Every page
/// group registers its routes here; `SessionMiddleware` stands in front of all of them.
package struct Console: Sendable {
    let environment: ConsoleEnvironment

    /// `secureCookies`: the service serves HTTPS, so cookies are sent over it only.
    package init(gateway: any ConsoleGateway, secureCookies: Bool) {
        environment = ConsoleEnvironment(
            gateway: gateway, templates: Templates(), assets: StaticAssets(), cookies: SessionCookies(secure: secureCookies), csrf: CSRFTokens())
    }

    /// Whether `path` is the console's: everything but the API, the data API, MCP and metrics.
    package static func owns(_ path: String) -> Bool {
        !(path.hasPrefix("/api/") || path.hasPrefix("/p/") || path == "/mcp" || path == "/metrics")
    }

    /// The bytes of the console's CSS and JS (the budget is 150 KB).
    package var codeSize: Int { environment.assets.codeSize }

    package func register<Context: RequestContext>(on router: Router<Context>) {
        AssetRoutes(assets: environment.assets).register(on: router)
        let pages = router.group().add(middleware: ServerTimingMiddleware<Context>()).add(middleware: SessionMiddleware<Context>(environment: environment))
        SignInPages(environment: environment).register(on: pages)
        ProjectsPages(environment: environment).register(on: pages)
        ImportPages(environment: environment).register(on: pages)
        OverviewPages(environment: environment).register(on: pages)
        TimelinePages(environment: environment).register(on: pages)
        BranchesPages(environment: environment).register(on: pages)
        TableEditorPages(environment: environment).register(on: pages)
        SQLEditorPages(environment: environment).register(on: pages)
        DiffPages(environment: environment).register(on: pages)
        MergePages(environment: environment).register(on: pages)
        BackupsPages(environment: environment).register(on: pages)
        DatabasePages(environment: environment).register(on: pages)
        MonitoringPages(environment: environment).register(on: pages)
        AuthUsersPages(environment: environment).register(on: pages)
        AuthSettingsPages(environment: environment).register(on: pages)
        ProjectSettingsPages(environment: environment).register(on: pages)
        ActivityPages(environment: environment).register(on: pages)
        InstanceSettingsPages(environment: environment).register(on: pages)
        AccountPages(environment: environment).register(on: pages)
    }
}

/// `/assets/NAME`: the embedded CSS, JS and icons with an ETag; `?v=` URLs are immutable.
struct AssetRoutes: Sendable {
    let assets: StaticAssets

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/assets/:name") { request, context -> Response in
            guard let name = context.parameters.get("name"), let asset = assets.assets[name] else { throw HTTPError(.notFound) }
            let etag = "\"\(asset.etag)\""
            let cache = request.uri.queryParameters["v"].map(String.init) == asset.etag ? "public, max-age=31536000, immutable" : "public, max-age=300"
            var headers: HTTPFields = [.eTag: etag, .cacheControl: cache, .contentType: asset.contentType]
            if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: headers) }
            headers[.contentLength] = String(asset.body.utf8.count)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: asset.body)))
        }
    }
}

import NIOCore
