/// The `Accept` header: which of the response formats the client takes.
package enum AcceptParser {
    /// nil/empty/"*/*"/application/json -> .jsonArray; vnd.pgrst.object(+json) -> .singleObject; text/csv -> .csv; several comma-separated media types with q-values: the first supported; otherwise 406 PGRST107
    /// Media types are tried by descending q (ties keep their order); `q=0` means "not this one".
    package static func format(_ header: String?) throws(RESTError) -> ResponseFormat {
        guard let header, !header.trimmingSpaces.isEmpty else { return .jsonArray }
        let ranges = header.split(separator: ",").compactMap(MediaRange.init)
        let ranked = ranges.enumerated()
            .filter { $0.element.quality > 0 }
            .sorted { ($0.element.quality, -$0.offset) > ($1.element.quality, -$1.offset) }
        for (_, range) in ranked {
            if let format = supported[range.type] { return format }
        }
        let asked = ranges.map(\.type).joined(separator: ", ")
        throw RESTError(status: 406, code: "PGRST107", message: "None of these media types are available: \(asked)")
    }

    /// The media types a read or write can answer with.
    private static let supported: [String: ResponseFormat] = [
        "*/*": .jsonArray,
        "application/*": .jsonArray,
        "application/json": .jsonArray,
        "application/vnd.pgrst.array+json": .jsonArray,
        "application/vnd.pgrst.object": .singleObject,
        "application/vnd.pgrst.object+json": .singleObject,
        "text/csv": .csv,
    ]

    /// One `type/subtype;param=…;q=0.5` of the header.
    private struct MediaRange {
        var type: String
        var quality: Double

        init?(_ text: Substring) {
            let parts = text.split(separator: ";").map { String($0).trimmingSpaces.lowercased() }
            guard let type = parts.first, !type.isEmpty else { return nil }
            self.type = type
            quality = parts.dropFirst().lazy
                .compactMap { $0.hasPrefix("q=") ? Double(String($0.dropFirst(2)).trimmingSpaces) : nil }
                .first ?? 1
        }
    }
}
