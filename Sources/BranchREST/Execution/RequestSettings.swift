/// The transaction-local settings every request starts with, as PostgREST sets them: the search
/// path, the role, the JWT claims and the request's method, path and headers (what RLS policies
/// and `auth.uid()` read). Values are parameters of one `SELECT set_config(…)`.
enum RequestSettings {
    static let sql = "SELECT set_config('search_path', $1, true), set_config('role', $2, true), set_config('request.jwt.claims', $3, true), "
        + "set_config('request.method', $4, true), set_config('request.path', $5, true), set_config('request.headers', $6, true)"

    /// Headers never exposed to SQL: credentials.
    private static let hiddenHeaders: Set<String> = ["authorization", "apikey", "cookie"]

    /// The parameters of `sql` for `request` run as `identity` in `schema`.
    static func parameters(_ request: DataRequest, identity: RequestIdentity, schema: String) -> [String?] {
        var searchPath: [String] = []
        for name in [schema, "public", "extensions"] where !searchPath.contains(name) { searchPath.append(name) }
        var headers: [(String, String)] = []
        for (rawName, value) in request.headers {
            let name = rawName.lowercased()
            guard !hiddenHeaders.contains(name) else { continue }
            // The last of a repeated header wins, as in PostgREST.
            if let index = headers.firstIndex(where: { $0.0 == name }) {
                headers[index].1 = value
            } else {
                headers.append((name, value))
            }
        }
        return [
            searchPath.map(quoted).joined(separator: ", "), identity.role, identity.claimsJSON, request.method.uppercased(), request.path,
            JSONText.object(headers),
        ]
    }
}
