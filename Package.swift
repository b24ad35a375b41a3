// swift-tools-version: 6.2
import PackageDescription

/// One set of settings for every Swift target (see docs/conventions in ../shared/design/CONVENTIONS.md).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "branch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "branch", targets: ["branch"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        // TLS: the service's HTTPS (through HummingbirdTLS), the CLI's pinning, the generated certificate.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // The console's server-rendered pages.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(name: "CBtrfsUtil", pkgConfig: "libbtrfsutil", providers: [.apt(["libbtrfsutil-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Kernel calls Swift cannot make directly (variadic ioctl, renameat2) and libbtrfsutil does not offer.
        .target(name: "CLinux"),

        // MARK: Layers, bottom up
        .target(
            name: "BranchCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchSystem",
            dependencies: [
                "BranchCore", "CLinux", .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"), .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchStorage",
            dependencies: [
                "BranchCore", "BranchSystem", "CBtrfsUtil", "CLinux",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchPostgres",
            dependencies: [
                "BranchCore", "BranchSystem", "CLibPQ",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchRuntime",
            dependencies: ["BranchCore", "BranchSystem", "BranchPostgres"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchCatalog",
            dependencies: [
                "BranchCore", .product(name: "GRDB", package: "GRDB.swift"),
                // AES-GCM for the secrets the catalog keeps sealed under the master key.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchBackup",
            dependencies: [
                "BranchCore", "CZstd", "CLinux",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Alert e-mail: a small SMTP client (STARTTLS or TLS, AUTH PLAIN/LOGIN) on SwiftNIO.
        .target(
            name: "BranchMail",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchDiff",
            dependencies: ["BranchCore", "BranchPostgres", "BranchStorage"],
            swiftSettings: swiftSettings
        ),
        // The data API's protocols, HTTP-shaped but server-agnostic: PostgREST's query language to SQL,
        // the schema cache and its Swagger document (BranchREST); JWTs, keys and GoTrue (BranchAuth).
        .target(
            name: "BranchREST",
            dependencies: ["BranchCore", "BranchPostgres"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchAuth",
            dependencies: [
                "BranchCore", "BranchPostgres", "BranchREST",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP contract: Sources/BranchAPI/openapi.json generates its types, server protocol and
        // client at build time, and is embedded to be served as is.
        .target(
            name: "BranchAPI",
            dependencies: ["BranchCore", .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            // Only generated code is compiled with warnings off: swift-openapi-generator 1.14 writes a
            // `public import` per file that Swift 6.3 reports as unused, about 260 times per build.
            swiftSettings: swiftSettings + [.unsafeFlags(["-suppress-warnings"])],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator"), "EmbedOpenAPIDocument"]
        ),
        .target(
            name: "BranchEngine",
            dependencies: [
                "BranchCore", "BranchSystem", "BranchStorage", "BranchPostgres", "BranchRuntime", "BranchCatalog", "BranchBackup", "BranchDiff",
                "BranchREST", "BranchAuth", "BranchMail",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                // The auth callback's calls to sign-in providers (GitHub, Google…).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // The service's self-signed certificate (made at the first start) for HTTPS and the pooler.
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        // The MCP server: Branch's tools for AI agents, each a call to /api/v1 through the generated
        // client, served over stdio (`branch mcp`) or streamable HTTP (the service's /mcp).
        .target(
            name: "BranchMCP",
            dependencies: [
                "BranchCore", "BranchAPI",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // The web console: server-rendered pages (Mustache templates, hand-written CSS, small vanilla
        // JS, all embedded in the binary) over the same API operations and authorization as /api/v1.
        .target(
            name: "BranchConsole",
            dependencies: [
                "BranchCore", "BranchAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            exclude: ["Assets"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedConsoleAssets"]
        ),
        .target(
            name: "BranchServer",
            dependencies: [
                "BranchCore", "BranchEngine", "BranchAPI", "BranchCatalog", "BranchDiff", "BranchREST", "BranchAuth", "BranchMCP", "BranchConsole",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BranchCLI",
            dependencies: [
                "BranchCore", "BranchSystem", "BranchAPI", "BranchMCP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                // Pinning the service's certificate, and reading the one it presents at `branch login`.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "branch",
            dependencies: [
                "BranchCLI", "BranchServer", "BranchEngine", "BranchCore", "BranchSystem", "BranchStorage", "BranchPostgres", "BranchRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Build tools
        .executableTarget(name: "EmbedText", path: "Sources/BuildTools/EmbedText"),
        .plugin(
            name: "EmbedOpenAPIDocument", capability: .buildTool(), dependencies: ["EmbedText"],
            path: "Sources/BuildTools/EmbedOpenAPIDocument"),
        .plugin(
            name: "EmbedConsoleAssets", capability: .buildTool(), dependencies: ["EmbedText"],
            path: "Sources/BuildTools/EmbedConsoleAssets"),

        // MARK: Tests
        .target(
            name: "BranchTesting",
            dependencies: ["BranchCore", "BranchSystem", "BranchPostgres"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BranchUnitTests",
            dependencies: [
                "BranchTesting", "BranchCore", "BranchSystem", "BranchAPI", "BranchPostgres", "BranchEngine", "BranchCLI", "BranchServer", "BranchStorage",
                "BranchCatalog", "BranchBackup", "BranchDiff", "BranchREST", "BranchAuth", "BranchMCP", "BranchMail", "BranchConsole",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BranchIntegrationTests",
            dependencies: [
                "BranchTesting", "BranchCore", "BranchSystem", "BranchAPI", "BranchPostgres", "BranchStorage", "BranchBackup", "BranchDiff",
                "BranchCatalog",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
