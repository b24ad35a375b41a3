import Crypto
import Foundation

/// AWS credentials for S3. `description` shows the access key id only, never the secret or token.
package struct AWSCredentials: Sendable, CustomStringConvertible {
    package let accessKeyID: String
    package let secretAccessKey: String
    /// Set for temporary credentials (STS); sent as `x-amz-security-token`.
    package let sessionToken: String?

    package init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    package var description: String { "AWS access key \(accessKeyID)" }
}

/// AWS Signature Version 4, header-based, with the payload hash signed (never UNSIGNED-PAYLOAD),
/// as described in "Authenticating Requests: Using the Authorization Header" of the S3 API docs.
///
/// The pieces (`canonicalRequest`, `stringToSign`, `signingKey`) are separate so tests can check
/// each against AWS's published examples.
struct SigV4Signer: Sendable {
    static let algorithm = "AWS4-HMAC-SHA256"
    /// SHA-256 of the empty string: the payload hash of GET, HEAD and DELETE.
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    let credentials: AWSCredentials
    let region: String
    let service: String

    init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// A request as it will be sent: `path` is already percent-encoded (see `S3Path.encode`) and is
    /// used verbatim as the canonical URI; `query` holds raw (unencoded) names and values.
    struct Request {
        var method: String
        var path: String
        var query: [(name: String, value: String)]
        /// Headers to send and sign; must include `host`. Names in any case.
        var headers: [(name: String, value: String)]
        var payloadHash: String
    }

    /// The headers to send: the request's own plus `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (temporary credentials) and `Authorization`.
    func sign(_ request: Request, at date: Date) -> [(name: String, value: String)] {
        let timestamp = Self.timestamp(date)
        var request = request
        request.headers.append(("x-amz-date", timestamp))
        request.headers.append(("x-amz-content-sha256", request.payloadHash))
        if let token = credentials.sessionToken {
            request.headers.append(("x-amz-security-token", token))
        }
        let signature = self.signature(for: request, timestamp: timestamp)
        let scope = Self.scope(date: String(timestamp.prefix(8)), region: region, service: service)
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(Self.signedHeaders(request.headers)), Signature=\(signature)"
        return request.headers + [("Authorization", authorization)]
    }

    /// The hex signature of a request whose headers already include `x-amz-date` (`timestamp`).
    func signature(for request: Request, timestamp: String) -> String {
        let canonical = Self.canonicalRequest(request)
        let toSign = Self.stringToSign(canonicalRequest: canonical, timestamp: timestamp, region: region, service: service)
        let key = Self.signingKey(secret: credentials.secretAccessKey, date: String(timestamp.prefix(8)), region: region, service: service)
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: SymmetricKey(data: key)))
    }

    // MARK: The pieces

    /// Method, canonical URI, canonical query, canonical headers, signed headers and payload hash,
    /// one per line.
    static func canonicalRequest(_ request: Request) -> String {
        [
            request.method,
            request.path.isEmpty ? "/" : request.path,
            canonicalQuery(request.query),
            canonicalHeaders(request.headers),
            signedHeaders(request.headers),
            request.payloadHash,
        ].joined(separator: "\n")
    }

    /// Names and values percent-encoded (including `/`), sorted by name then value; an empty
    /// value keeps its `=`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { item in
            (S3Path.encode(item.name, keepSlash: false), S3Path.encode(item.value, keepSlash: false))
        }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { item in "\(item.name)=\(item.value)" }.joined(separator: "&")
    }

    /// `name:value\n` for each header, names lower-cased and sorted, values trimmed with inner
    /// runs of spaces collapsed; ends with the newline of the last header (so the canonical
    /// request has an empty line before the signed headers).
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> String {
        var merged: [String: [String]] = [:]
        for header in headers {
            merged[header.name.lowercased(), default: []].append(collapseSpaces(header.value))
        }
        return merged.keys.sorted().map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
    }

    static func signedHeaders(_ headers: [(name: String, value: String)]) -> String {
        Set(headers.map { $0.name.lowercased() }).sorted().joined(separator: ";")
    }

    static func scope(date: String, region: String, service: String) -> String {
        "\(date)/\(region)/\(service)/aws4_request"
    }

    static func stringToSign(canonicalRequest: String, timestamp: String, region: String, service: String) -> String {
        [
            algorithm,
            timestamp,
            scope(date: String(timestamp.prefix(8)), region: region, service: service),
            sha256Hex(Data(canonicalRequest.utf8)),
        ].joined(separator: "\n")
    }

    /// HMAC chain: "AWS4"+secret → date → region → service → "aws4_request".
    static func signingKey(secret: String, date: String, region: String, service: String) -> Data {
        var key = Data("AWS4\(secret)".utf8)
        for part in [date, region, service, "aws4_request"] {
            key = Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(c.year ?? 1970)\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
    }

    static func sha256Hex<D: DataProtocol>(_ data: D) -> String {
        hex(SHA256.hash(data: data))
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { ArchiveFormat.hex(bytes) }

    private static func collapseSpaces(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}

/// Percent-encoding as SigV4 and S3 want it: every byte except the unreserved characters
/// `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex); in object keys `/` is kept so each
/// path segment is encoded on its own.
enum S3Path {
    static func encode(_ value: String, keepSlash: Bool = true) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
