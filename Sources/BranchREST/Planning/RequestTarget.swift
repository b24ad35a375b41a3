/// What a `/rest/v1` path names.
enum RequestTarget: Equatable {
    /// `/`: the schema document.
    case root
    /// `/{relation}`.
    case relation(String)
    /// `/rpc/{function}`.
    case function(String)

    /// The target of `path` (percent-decoded segments); 404 `PGRST125` for any other shape.
    init(path: String) throws(RESTError) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map { FormQuery.decode($0, plusIsSpace: false) }
        switch segments.count {
        case 0: self = .root
        case 1: self = .relation(segments[0])
        case 2 where segments[0] == "rpc": self = .function(segments[1])
        default: throw RESTError(status: 404, code: "PGRST125", message: "Invalid path specified in request URL")
        }
    }
}
