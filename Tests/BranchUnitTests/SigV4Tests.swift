import BranchCore
@testable import BranchBackup
import Foundation
import Testing

/// AWS's worked examples from "Signature Calculations for the Authorization Header: Transferring
/// Payload in a Single Chunk" (S3 API reference), all with the documentation's example key.
@Suite("SigV4 signing")
struct SigV4Tests {
    static let credentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let signer = SigV4Signer(credentials: credentials, region: "us-east-1")
    static let timestamp = "20130524T000000Z"
    static let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    static let host = "examplebucket.s3.amazonaws.com"

    /// A request as the signer sees it once `x-amz-date` and `x-amz-content-sha256` are added.
    static func request(
        _ method: String, _ path: String, query: [(name: String, value: String)] = [], headers: [(name: String, value: String)] = [],
        payloadHash: String = SigV4Signer.emptyPayloadHash
    ) -> SigV4Signer.Request {
        SigV4Signer.Request(
            method: method, path: path, query: query,
            headers: [("Host", host)] + headers + [("x-amz-date", timestamp), ("x-amz-content-sha256", payloadHash)],
            payloadHash: payloadHash)
    }

    @Test("GET object with a Range: canonical request, string to sign and signature match AWS's example")
    func getObject() {
        let request = Self.request("GET", "/test.txt", headers: [("Range", "bytes=0-9")])
        let canonical = SigV4Signer.canonicalRequest(request)
        #expect(
            canonical == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        let toSign = SigV4Signer.stringToSign(canonicalRequest: canonical, timestamp: Self.timestamp, region: "us-east-1", service: "s3")
        #expect(
            toSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """)
        #expect(
            Self.signer.signature(for: request, timestamp: Self.timestamp)
                == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("sign() adds the date, payload hash and an Authorization header naming the signed headers")
    func authorizationHeader() {
        let request = SigV4Signer.Request(
            method: "GET", path: "/test.txt", query: [], headers: [("Host", Self.host), ("Range", "bytes=0-9")],
            payloadHash: SigV4Signer.emptyPayloadHash)
        let headers = Dictionary(uniqueKeysWithValues: Self.signer.sign(request, at: Self.date).map { ($0.name.lowercased(), $0.value) })
        #expect(headers["x-amz-date"] == Self.timestamp)
        #expect(headers["x-amz-content-sha256"] == SigV4Signer.emptyPayloadHash)
        #expect(headers["x-amz-security-token"] == nil)
        #expect(
            headers["authorization"]
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("PUT object: the payload hash is signed and '$' in the key is percent-encoded")
    func putObject() {
        let body = Data("Welcome to Amazon S3.".utf8)
        let hash = SigV4Signer.sha256Hex(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = Self.request(
            "PUT", "/" + S3Path.encode("test$file.text"),
            headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")], payloadHash: hash)
        #expect(request.path == "/test%24file.text")
        #expect(
            Self.signer.signature(for: request, timestamp: Self.timestamp)
                == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET bucket lifecycle: a query parameter without a value is signed as 'lifecycle='")
    func emptyQueryValue() {
        let request = Self.request("GET", "/", query: [("lifecycle", "")])
        #expect(SigV4Signer.canonicalRequest(request).split(separator: "\n", omittingEmptySubsequences: false)[2] == "lifecycle=")
        #expect(
            Self.signer.signature(for: request, timestamp: Self.timestamp)
                == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test("List objects: query parameters are sorted by name")
    func sortedQuery() {
        let request = Self.request("GET", "/", query: [("prefix", "J"), ("max-keys", "2")])
        #expect(SigV4Signer.canonicalQuery(request.query) == "max-keys=2&prefix=J")
        #expect(
            Self.signer.signature(for: request, timestamp: Self.timestamp)
                == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("the signing key is the HMAC chain over date, region, service and aws4_request")
    func signingKey() {
        // From AWS's general SigV4 documentation ("Examples of how to derive a signing key").
        let key = SigV4Signer.signingKey(
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20120215", region: "us-east-1", service: "iam")
        #expect(
            SigV4Signer.hex(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    @Test("header values are trimmed and inner spaces collapsed; names are lower-cased and sorted")
    func canonicalHeaders() {
        #expect(
            SigV4Signer.canonicalHeaders([("X-Amz-Meta-Note", "  a   b  "), ("Host", "h")])
                == "host:h\nx-amz-meta-note:a b\n")
        #expect(SigV4Signer.signedHeaders([("X-Amz-Date", "x"), ("Host", "h")]) == "host;x-amz-date")
    }

    @Test("session tokens are sent and signed")
    func sessionToken() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token/+="), region: "eu-west-1")
        let headers = signer.sign(
            SigV4Signer.Request(method: "GET", path: "/", query: [], headers: [("host", "h")], payloadHash: SigV4Signer.emptyPayloadHash),
            at: Self.date)
        #expect(headers.contains { $0.name == "x-amz-security-token" && $0.value == "token/+=" })
        #expect(headers.last?.value.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") == true)
        #expect(headers.last?.value.contains("/20130524/eu-west-1/s3/aws4_request") == true)
    }

    @Test("keys are percent-encoded per segment: unreserved characters kept, '/' kept only in paths, UTF-8 bytes upper-case hex")
    func percentEncoding() {
        #expect(S3Path.encode("app/01J/manifest.json") == "app/01J/manifest.json")
        #expect(S3Path.encode("a-b_c.d~e") == "a-b_c.d~e")
        #expect(S3Path.encode("my file+v1=2&x") == "my%20file%2Bv1%3D2%26x")
        #expect(S3Path.encode("caf\u{e9}/\u{1F600}") == "caf%C3%A9/%F0%9F%98%80")
        #expect(S3Path.encode("a/b", keepSlash: false) == "a%2Fb")
        #expect(SigV4Signer.canonicalQuery([("continuation-token", "1a/B+c="), ("list-type", "2")]) == "continuation-token=1a%2FB%2Bc%3D&list-type=2")
    }

    @Test("timestamps are UTC in the basic ISO 8601 form")
    func timestamp() {
        #expect(SigV4Signer.timestamp(Self.date) == Self.timestamp)
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_700_000_000.9)) == "20231114T221320Z")
    }

    @Test("credentials never print their secret")
    func credentialsDescription() {
        #expect(!"\(Self.credentials)".contains("EXAMPLEKEY"))
    }
}

@Suite("Backup target specifications")
struct BackupTargetSpecTests {
    let environment = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "very-secret"]

    @Test("dir: and bare absolute paths are directory targets")
    func directories() throws {
        #expect(try BackupTargets.parse("dir:/var/backups/", environment: [:]).description == "dir:/var/backups")
        #expect(try (BackupTargets.parse("/srv/b", environment: [:]) as? DirectoryTarget)?.root == "/srv/b")
        #expect(throws: BackupError.self) { try BackupTargets.parse("dir:relative", environment: [:]) }
    }

    @Test("s3:// with endpoint, region and path style")
    func s3Full() throws {
        let target = try #require(
            try BackupTargets.parse(
                "s3://bucket/some/prefix/?endpoint=http://127.0.0.1:9000&region=eu-west-1&path-style=true", environment: environment)
                as? S3Target)
        let configuration = target.configuration
        #expect(configuration.bucket == "bucket")
        #expect(configuration.prefix == "some/prefix")
        #expect(configuration.region == "eu-west-1")
        #expect(configuration.endpoint.absoluteString == "http://127.0.0.1:9000")
        #expect(configuration.pathStyle)
        #expect(configuration.credentials.accessKeyID == "AKID")
        #expect(target.description == "s3://bucket/some/prefix at http://127.0.0.1:9000")
        #expect(!target.description.contains("very-secret"))
        #expect(try target.objectKey("app/1/data") == "some/prefix/app/1/data")
    }

    @Test("s3:// defaults: us-east-1, AWS endpoint, virtual-host style, session token from the environment")
    func s3Defaults() throws {
        var environment = environment
        environment["AWS_SESSION_TOKEN"] = "tok"
        let target = try #require(try BackupTargets.parse("s3://bucket", environment: environment) as? S3Target)
        #expect(target.configuration.region == "us-east-1")
        #expect(target.configuration.endpoint.absoluteString == "https://s3.us-east-1.amazonaws.com")
        #expect(!target.configuration.pathStyle)
        #expect(target.configuration.prefix == "")
        #expect(target.configuration.credentials.sessionToken == "tok")
        #expect(target.description == "s3://bucket")
    }

    @Test("bad specifications are target errors that do not echo credentials")
    func badSpecs() {
        func message(_ spec: String, _ environment: [String: String]) -> String? {
            do {
                _ = try BackupTargets.parse(spec, environment: environment)
                return nil
            } catch {
                #expect(error.code == .backupTargetFailed)
                return error.message
            }
        }
        #expect(message("s3://bucket/p", [:])?.contains("AWS_ACCESS_KEY_ID") == true)
        #expect(message("s3://user:hunter2@bucket/p", environment)?.contains("hunter2") == false)
        #expect(message("https://user:hunter2@host/p", environment)?.contains("hunter2") == false)
        #expect(message("s3://bucket/p?regoin=x", environment)?.contains("regoin") == true)
        #expect(message("s3://bucket/p?path-style=maybe", environment) != nil)
        #expect(message("s3://Bad_Bucket/p", environment) != nil)
        #expect(message("s3://bucket/p?endpoint=ftp://host", environment) != nil)
        #expect(message("s3://bucket/../p", environment) != nil)
    }

    @Test("keys must stay relative and inside the target")
    func keyRules() {
        for key in ["", "/abs", "../x", "a/../b", "a//b", "a/./b", "a/"] {
            #expect(throws: BackupError.self, "\(key)") { try ObjectKeys.validate(key, in: "t") }
        }
        #expect(throws: Never.self) { try ObjectKeys.validate("app/01J/data", in: "t") }
    }
}
