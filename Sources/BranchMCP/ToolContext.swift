/// What a tool's implementation works with: the management API's generated client, carrying the
/// caller's key, and the connection it was made from (for the data API's documents).
package struct ToolContext: Sendable {
    package let connection: APIConnection
    package let api: ManagementAPI

    package init(connection: APIConnection) {
        self.connection = connection
        self.api = connection.client()
    }
}
