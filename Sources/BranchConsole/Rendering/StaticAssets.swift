import Crypto
import Foundation

/// The console's CSS, JS and icons, served with an ETag and cached by browsers: pages link them
/// as `/assets/NAME?v=TAG`, so a new build's files are new URLs and old ones can be kept a year.
struct StaticAssets: Sendable {
    struct Asset: Sendable {
        var body: String
        var contentType: String
        var etag: String
    }

    let assets: [String: Asset]

    init() {
        var assets: [String: Asset] = [:]
        func add(_ name: String, _ text: String) {
            let digest = SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
            assets[name] = Asset(body: text, contentType: Self.contentType(name), etag: digest)
        }
        // One stylesheet: the base (css/console.css) first, then each page area's file by name.
        let styles = consoleAssetTexts.keys.filter { $0.hasPrefix("css/") }.sorted { ($0 == "css/console.css" ? "" : $0) < ($1 == "css/console.css" ? "" : $1) }
        add("console.css", styles.compactMap { consoleAssetTexts[$0] }.joined(separator: "\n"))
        for (path, text) in consoleAssetTexts where !path.hasPrefix("templates/") && !path.hasPrefix("css/") {
            add(String(path.split(separator: "/").last ?? Substring(path)), text)
        }
        self.assets = assets
    }

    /// `/assets/NAME?v=TAG` for a page's `<link>` and `<script>`.
    func url(_ name: String) -> String { "/assets/\(name)?v=\(assets[name]?.etag ?? "0")" }

    /// The bytes of CSS and JS together (the issue's budget is 150 KB).
    var codeSize: Int { assets.values.filter { $0.contentType.hasPrefix("text/css") || $0.contentType.hasPrefix("text/javascript") }.map(\.body.utf8.count).reduce(0, +) }

    static func contentType(_ name: String) -> String {
        switch name.split(separator: ".").last {
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        default: "text/plain; charset=utf-8"
        }
    }
}
