import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A local S3 (moto's `moto_server`) on a free port with one bucket. `MotoServer.with` stops it
/// whatever the test did.
///
/// With `authenticated: true` moto checks credentials and signatures as AWS does, so wrong keys
/// and bad signatures fail. Its check has a flaw, though: it recomputes the signature from the
/// percent-*decoded* URL, so correctly signed requests whose path or query holds encoded
/// characters (a `/` in a list prefix, a space in a key) are refused; boto3's are too. Tests of
/// anything beyond signing therefore use the default, which accepts any signature.
package struct MotoServer: Sendable {
    package let port: Int
    package let bucket: String
    package let region = "us-east-1"
    /// Credentials of an IAM user allowed everything (the only ones accepted when authenticated).
    package let accessKeyID: String
    package let secretAccessKey: String
    let pid: Int32
    let root: String

    package var endpoint: String { "http://127.0.0.1:\(port)" }

    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` for this server.
    package var environment: [String: String] {
        ["AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey]
    }

    /// A `--backup-target` for this server's bucket under `prefix` (`""` for the bucket's root).
    package func targetSpec(prefix: String = "backups") -> String {
        "s3://\(bucket)\(prefix.isEmpty ? "" : "/\(prefix)")?endpoint=\(endpoint)&region=\(region)&path-style=true"
    }

    /// The `moto_server` to run: `MOTO_SERVER`, else the repository's `.venv/bin/moto_server`
    /// (where the install script puts it), else the first on PATH.
    package static var executable: String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["MOTO_SERVER"], !path.isEmpty { return path }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let venv = repository.appendingPathComponent(".venv/bin/moto_server").path
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/moto_server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return Command.which("moto_server")
    }

    /// Runs `body` with a started server holding an empty `bucket`, then stops the server
    /// (SIGTERM, then SIGKILL if it lingers) and removes its files, also when `body` throws.
    ///
    /// - Parameter authenticated: check credentials and signatures (see the type's notes).
    package static func with<T>(
        bucket: String = "branch-backups", authenticated: Bool = false, _ body: (MotoServer) async throws -> T
    ) async throws -> T {
        guard let executable else {
            throw TestFailure("moto_server not found: set MOTO_SERVER, or install moto[server] into .venv or onto PATH")
        }
        let root = "/var/tmp/branch-tests/moto-\(Identifiers.shortID(length: 10))"
        try Files.ensureDirectory(root, mode: 0o700)
        let port = try TestEnvironment.freePort()
        var environment = Command.baseEnvironment
        // The interpreter may live on the caller's PATH (pyenv shims) and want its HOME.
        for name in ["PATH", "HOME", "PYENV_ROOT", "PYENV_VERSION"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        let pid = try Command.launch(executable, ["-H", "127.0.0.1", "-p", String(port)], environment: environment, logFile: "\(root)/moto.log")
        do {
            try await waitUntilAnswering(port: port, pid: pid, log: "\(root)/moto.log")
            let credentials = try await setUp(port: port, bucket: bucket, authenticated: authenticated)
            let server = MotoServer(
                port: port, bucket: bucket, accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secret, pid: pid, root: root)
            let result = try await body(server)
            await stop(pid: pid, root: root)
            return result
        } catch {
            if let log = Files.read("\(root)/moto.log"), !log.isEmpty {
                print("---- moto_server log ----\n\(log.split(separator: "\n").suffix(20).joined(separator: "\n"))")
            }
            await stop(pid: pid, root: root)
            throw error
        }
    }

    // MARK: Start and stop

    private static func waitUntilAnswering(port: Int, pid: Int32, log: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let probe = !PortProbe.acceptsConnections(port) ? nil : try? await Command.run(
                "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "http://127.0.0.1:\(port)/moto-api/"],
                check: false)
            if let code = probe?.stdout, !code.isEmpty, code != "000" { return }
            if kill(pid, 0) != 0 || TestEnvironment.isZombie(pid) {
                throw TestFailure("moto_server exited during start-up:\n\(Files.read(log) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("moto_server did not answer on port \(port) within 30 s")
    }

    /// Creates the bucket and an IAM user with an allow-all policy and an access key while moto
    /// still accepts anything, then, if asked, switches authentication on (moto's `reset-auth`
    /// with 0 free requests) so from then on only that key, correctly signed, is accepted.
    private static func setUp(port: Int, bucket: String, authenticated: Bool) async throws -> (accessKeyID: String, secret: String) {
        let base = "http://127.0.0.1:\(port)"
        _ = try await request(base, service: "iam", form: ["Action=CreateUser", "UserName=branch-tests", "Version=2010-05-08"])
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
        _ = try await request(
            base, service: "iam",
            form: ["Action=PutUserPolicy", "UserName=branch-tests", "PolicyName=all", "PolicyDocument=\(policy)", "Version=2010-05-08"])
        let key = try await request(base, service: "iam", form: ["Action=CreateAccessKey", "UserName=branch-tests", "Version=2010-05-08"])
        guard let accessKeyID = element("AccessKeyId", in: key), let secret = element("SecretAccessKey", in: key) else {
            throw TestFailure("moto CreateAccessKey answered without a key: \(key)")
        }
        _ = try await request("\(base)/\(bucket)", method: "PUT", service: "s3")
        if authenticated {
            _ = try await request("\(base)/moto-api/reset-auth", service: nil, body: "0")
        }
        return (accessKeyID, secret)
    }

    /// One request while authentication is off: moto routes by the credential scope in the
    /// Authorization header and does not check the signature yet.
    private static func request(
        _ url: String, method: String = "POST", service: String?, form: [String] = [], body: String? = nil
    ) async throws -> String {
        var arguments = ["-sS", "--max-time", "10", "-X", method, "-w", "\n%{http_code}", url]
        if let service {
            arguments += ["-H", "Authorization: AWS4-HMAC-SHA256 Credential=setup/20240101/us-east-1/\(service)/aws4_request, SignedHeaders=host, Signature=0"]
        }
        for field in form { arguments += ["--data-urlencode", field] }
        if let body { arguments += ["-H", "Content-Type: text/plain", "--data-binary", body] }
        let result = try await Command.run("curl", arguments)
        let status = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        guard status.hasPrefix("2") else {
            throw TestFailure("moto set-up \(method) \(url) \(form.first ?? "") failed with HTTP \(status): \(result.stdout)")
        }
        return result.stdout
    }

    private static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else {
            return nil
        }
        return String(xml[open.upperBound..<close.lowerBound])
    }

    private static func stop(pid: Int32, root: String) async {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline && !TestEnvironment.isZombie(pid) && kill(pid, 0) == 0 {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if !TestEnvironment.isZombie(pid) { kill(pid, SIGKILL) }
        _ = await Command.waitForExit(pid)
        try? FileManager.default.removeItem(atPath: root)
    }
}
