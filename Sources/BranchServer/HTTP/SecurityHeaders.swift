import HTTPTypes

/// Headers every response carries, whoever wrote it (a handler, the data API, an error, the
/// connection guard): browsers must not guess a content type (an agent brief or a JSON error read
/// as HTML), must not frame or embed anything of ours, and must not send our URLs (with a
/// project's name) to other sites. A page (HTML) gets a policy that allows only its own
/// resources; anything else allows nothing. A header a handler set itself is kept.
enum SecurityHeaders {
    /// For HTML: its own scripts, styles, images and fonts, no plugins, no `<base>` tricks, forms
    /// posting only to us, never framed.
    static let htmlPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    /// For everything else (JSON, markdown, metrics): nothing may load from it or frame it.
    static let otherPolicy = "default-src 'none'; frame-ancestors 'none'"

    static func apply(to fields: inout HTTPFields) {
        setIfMissing(&fields, .xContentTypeOptions, "nosniff")
        setIfMissing(&fields, .referrerPolicy, "no-referrer")
        setIfMissing(&fields, .xFrameOptions, "DENY")
        let isHTML = fields[.contentType].map { $0.lowercased().hasPrefix("text/html") } ?? false
        setIfMissing(&fields, .contentSecurityPolicy, isHTML ? htmlPolicy : otherPolicy)
    }

    private static func setIfMissing(_ fields: inout HTTPFields, _ name: HTTPField.Name, _ value: String) {
        if fields[name] == nil { fields[name] = value }
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
