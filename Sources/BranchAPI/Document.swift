/// The OpenAPI document this build was generated from, as text (the build embeds
/// openapi.json beside this file): what the service serves and `branch openapi` prints.
package enum APIDocument {
    package static var text: String { openAPIDocumentText }
}
