import ArgumentParser
import BranchCore
import BranchEngine
import BranchPostgres
import BranchRuntime
import BranchServer
import BranchStorage
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `branch serve`: the privileged service.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the service: mount the pool, start branch servers and the pooler, serve the API.")

    @Option(help: "The pool directory: on Btrfs, or empty (a loop-mounted Btrfs image is then created).")
    var pool = "/var/lib/branch"

    @Option(help: "Size of the pool image when one has to be created (e.g. 20G).")
    var poolSize = "20G"

    @Option(help: "Path of the pool image (default: <pool>.img).")
    var poolImage: String?

    @Option(help: "Address and port of the API (default: 0.0.0.0:8420 with TLS, 127.0.0.1:8420 with --tls off).")
    var listen: String?

    @Option(help: "HTTPS on the API's port: auto (the --tls-cert/--tls-key pair, else a self-signed one made at the first start) or off (plain HTTP, on a loopback --listen only: for a proxy on this machine that terminates TLS).")
    var tls = "auto"

    @Option(help: "The certificate chain (PEM, server certificate first) for HTTPS and the pooled endpoint; with --tls-key.")
    var tlsCert: String?

    @Option(help: "The private key (PEM) of --tls-cert.")
    var tlsKey: String?

    @Option(help: "Proxies (CIDRs or addresses, comma-separated; repeatable) whose X-Forwarded-For and X-Forwarded-Proto are believed. Default: none.")
    var trustedProxy: [String] = []

    @Option(help: "Port of the pooled endpoint (PgBouncer).")
    var poolerPort = 6432

    @Option(help: "Addresses every branch's own Postgres server listens on, besides its socket directory (default: loopback, 127.0.0.1 and ::1; '*' opens them to the network). Clients from elsewhere use the pooler.")
    var dbListen: String?

    @Option(help: "Addresses the pooler (PgBouncer) listens on ('*' for all, or e.g. 127.0.0.1).")
    var poolerListen = "*"

    @Option(help: "Host name put in connection URLs.")
    var publicHost = "127.0.0.1"

    @Option(help: "Ports for branch servers, as FIRST-LAST.")
    var portRange = "54400-55399"

    @Option(help: "Free space operations that grow the pool leave (e.g. 1G, 512M); below it they are refused with pool_full, while deletes, reads and restores still run. Default: 1G, or a tenth of a pool smaller than 10G.")
    var freeSpaceReserve: String?

    @Option(help: "Pre-pay snapshots after bulk writes: sync the pool each time a branch has written this much WAL, and checkpoint a branch once its writes stop, so a branch or snapshot taken right after a bulk load is as fast as any other (off: never).")
    var prepayThreshold = "64M"

    @Option(help: "Postgres bin directory (default: discovered with pg_config).")
    var pgBindir: String?

    @Option(help: "How branch servers run: auto (podman, else docker, else plain processes), podman, docker, process.")
    var runtime = "auto"

    @Option(help: "Container names are PREFIX-<project>-<branch>.")
    var containerPrefix = "branch"

    @Option(help: "Idle time before a branch other than main is suspended, for projects without their own setting (e.g. 15m, 1h, off).")
    var suspendAfter = "15m"

    @Option(help: "Where backups go: a directory (dir:/path or /path) or s3://bucket/prefix?endpoint=…&region=…&path-style=true (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). Default: <pool>.backups.")
    var backupTarget: String?

    @Option(help: "File holding the 32-byte backup key in base64 (mode 0600); else BRANCH_BACKUP_KEY. `branch backup keygen` makes one. Never kept beside the backups.")
    var backupKeyFile: String?

    @Option(help: "File holding the master key (32 bytes in base64, mode 0600) that seals the secrets in the catalog; made at the first start when missing. Keep a copy of it apart from the pool: without it the pool's secrets are lost.")
    var masterKeyFile = "/etc/branch/master.key"

    @Option(help: "Days of history kept for point-in-time branches, for projects that set none.")
    var retentionDays = 7

    @Option(help: "Days the audit log keeps its entries.")
    var auditRetentionDays = 365

    @Option(help: "Incremental backups in a chain before the next backup is full again.")
    var backupChainLength = 6

    @Flag(help: "New projects get no daily backup schedule (by default each gets one at a quiet hour; `branch project create --no-backups` opts one out).")
    var noDefaultBackups = false

    @Option(help: "How often the newest backup of each project is restored into a scratch server and checked (e.g. 7d, 1d; off: never).")
    var verifyInterval = "7d"

    @Option(help: ArgumentHelp("How often branch servers are sampled (and idleness checked).", visibility: .hidden))
    var metricsInterval = "5s"

    @Option(help: ArgumentHelp("How often pool space, the certificate and database growth are checked for alerts.", visibility: .hidden))
    var alertCheckInterval = "60s"

    @Option(help: ArgumentHelp("Pool use, in percent, that raises an alert when crossed (comma-separated).", visibility: .hidden))
    var alertPoolThresholds = "80,90,95"

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    @Option(help: "HTTP connections served at once; more are answered 503 too_many_connections and closed.")
    var maxConnections = 1024

    @Option(help: ArgumentHelp("Time a client has to send a request's header (slow-loris clients are cut off).", visibility: .hidden))
    var httpHeaderTimeout = "10s"

    @Option(help: ArgumentHelp("Time a request body may take before its average rate must reach 1 KiB/s.", visibility: .hidden))
    var httpBodyGrace = "10s"

    /// The HTTP server's bounds from the options.
    var httpLimits: HTTPLimits {
        HTTPLimits(
            maxConnections: maxConnections, headerTimeout: .seconds(Seconds.parse(httpHeaderTimeout) ?? 10),
            bodyGrace: .seconds(Seconds.parse(httpBodyGrace) ?? 10))
    }

    func validate() throws {
        guard ByteCount.parse(poolSize) != nil else { throw ValidationError("--pool-size: use a size like 20G or 512M.") }
        guard parseListen() != nil else { throw ValidationError("--listen: use HOST:PORT, e.g. 127.0.0.1:8420.") }
        guard tls == "auto" || tls == "off" else { throw ValidationError("--tls: use auto or off.") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key: give both, or neither.") }
        if tls == "off", let (host, _) = parseListen(), !LoopbackHost.contains(host) {
            throw ValidationError(
                "--tls off serves plain HTTP, which is refused on \(host): it is for a proxy on this machine (Caddy, Traefik) that terminates TLS. Listen on 127.0.0.1 (e.g. --listen 127.0.0.1:8420), or leave TLS on.")
        }
        do {
            _ = try trustedProxies()
        } catch {
            throw ValidationError(
                "--trusted-proxy: \(error.message) Give the proxies' addresses or CIDRs, comma-separated (e.g. 127.0.0.1 or 10.0.0.0/8).")
        }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections: use at least 1.") }
        for (option, value) in [("--http-header-timeout", httpHeaderTimeout), ("--http-body-grace", httpBodyGrace)] {
            guard let seconds = Seconds.parse(value), seconds >= 1 else { throw ValidationError("\(option): use a duration like 10s.") }
        }
        guard let seconds = Seconds.parse(alertCheckInterval), seconds >= 1 else {
            throw ValidationError("--alert-check-interval: use a duration like 60s.")
        }
        let thresholds = alertPoolThresholds.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !thresholds.isEmpty, thresholds.allSatisfy({ $0.map { (1...100).contains($0) } ?? false }) else {
            throw ValidationError("--alert-pool-thresholds: use percentages between 1 and 100, comma-separated (e.g. 80,90,95).")
        }
        guard auditRetentionDays >= 1 else { throw ValidationError("--audit-retention-days: use at least 1.") }
        guard parsePortRange() != nil else { throw ValidationError("--port-range: use FIRST-LAST, e.g. 54400-55399.") }
        guard Seconds.parse(verifyInterval) != nil else { throw ValidationError("--verify-interval: use a duration like 7d or 1d, or off.") }
        if let freeSpaceReserve, ByteCount.parse(freeSpaceReserve) == nil {
            throw ValidationError("--free-space-reserve: use a size like 1G or 512M.")
        }
        guard prepayThreshold == "off" || ByteCount.parse(prepayThreshold) != nil else {
            throw ValidationError("--prepay-threshold: use a size like 256M, or off.")
        }
        guard RuntimePreference(rawValue: runtime) != nil else { throw ValidationError("--runtime: use auto, podman, docker or process.") }
        guard Seconds.parse(suspendAfter) != nil else { throw ValidationError("--suspend-after: use a duration like 15m, 1h, or off.") }
        guard (try? ResourceName(validating: containerPrefix)) != nil else {
            throw ValidationError("--container-prefix: use lowercase letters, digits and '-'.")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: use trace, debug, info, notice, warning, error or critical.")
        }
    }

    func run() async throws {
        guard geteuid() == 0 else {
            printFatal("branch serve must run as root: it mounts the pool and runs Postgres as the postgres user.")
            throw ExitCode.failure
        }
        var logger = Logger(label: "branch")
        logger.logLevel = Logger.Level(rawValue: logLevel)!

        var configuration = EngineConfiguration()
        configuration.pool = pool
        configuration.poolImage = poolImage
        configuration.poolSize = ByteCount.parse(poolSize)!
        configuration.poolerPort = poolerPort
        if let dbListen { configuration.listenAddress = dbListen }
        configuration.poolerListenAddress = poolerListen
        configuration.publicHost = publicHost
        let urlHost = publicHost.contains(":") ? "[\(publicHost)]" : publicHost
        configuration.publicURL = "\(tls == "off" ? "http" : "https")://\(urlHost):\(parseListen()?.1 ?? 8420)"
        configuration.portRange = parsePortRange()!
        configuration.freeSpaceReserveSetting = freeSpaceReserve.flatMap(ByteCount.parse)
        configuration.prePayThreshold = prepayThreshold == "off" ? 0 : ByteCount.parse(prepayThreshold)!
        configuration.postgresBinDirectory = pgBindir
        configuration.runtime = RuntimePreference(rawValue: runtime)!
        configuration.containerPrefix = containerPrefix
        configuration.suspendAfter = Seconds.parse(suspendAfter)!
        configuration.metricsInterval = .seconds(max(1, Seconds.parse(metricsInterval) ?? 5))
        configuration.alerts.checkInterval = .seconds(max(1, Seconds.parse(alertCheckInterval) ?? 60))
        configuration.alerts.poolSpaceThresholds = alertPoolThresholds.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        configuration.backupTarget = backupTarget
        configuration.backupKeyFile = backupKeyFile
        configuration.masterKeyFile = masterKeyFile
        configuration.retentionDays = retentionDays
        configuration.maxIncrementals = max(0, backupChainLength)
        configuration.defaultBackups = !noDefaultBackups
        configuration.verifyInterval = Seconds.parse(verifyInterval).flatMap { $0 > 0 ? .seconds($0) : nil }
        configuration.auditRetentionDays = auditRetentionDays
        configuration.environment = ProcessInfo.processInfo.environment

        // The certificate serves HTTPS (unless --tls off) and the pooled endpoint, which requires TLS
        // from TCP clients either way.
        let certificate: ServiceCertificate
        do {
            if let tlsCert, let tlsKey {
                certificate = try ServiceCertificate.owner(certificate: tlsCert, key: tlsKey)
            } else {
                certificate = try ServiceCertificate.selfSigned(
                    in: ServiceCertificate.directory(besideMasterKey: masterKeyFile), hosts: ServiceCertificate.hosts(publicHost: publicHost))
            }
        } catch {
            printFatal("\(error.message) [\(error.code)]", hint: error.hint)
            throw ExitCode.failure
        }
        configuration.tls = certificate
        let transport = ServiceTransport(certificate: tls == "off" ? nil : certificate, trustedProxies: try trustedProxies())

        let engine: Engine
        do {
            engine = try await Engine.open(configuration, logger: logger)
        } catch let error as any ReportableError {
            // The stable code too, for scripts and supervisors that read the log.
            printFatal("\(error.message) [\(error.code)]", hint: error.hint)
            throw ExitCode.failure
        }
        let (host, port) = parseListen()!
        let poolerPort = configuration.poolerPort
        let (poolerAddresses, serverAddresses) = (configuration.poolerListenAddress, configuration.listenAddress)
        let scheme = transport.certificate == nil ? "http" : "https"
        // The upgrade watchdog checks health here: loopback when the API listens on every address.
        let localHost = ["0.0.0.0", "::", "*"].contains(host) ? "127.0.0.1" : (host.contains(":") ? "[\(host)]" : host)
        engine.announce(localURL: "\(scheme)://\(localHost):\(port)")
        let backupKey = try? await engine.backups.keyStatus()
        let app = try APIServer.application(engine: engine, host: host, port: port, limits: httpLimits, transport: transport, logger: logger) {
            boundPort in
            var lines = [
                "Branch \(engine.version) is serving \(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(boundPort)",
                "  pool      \(engine.layout.root) (\(engine.mountOutcome.summary))",
                "  postgres  \(engine.installation.version)",
                "  runtime   \(engine.runtimeReport.runtime): \(engine.runtimeReport.notes.last ?? "")",
                "  pooler    port \(poolerPort) (TLS required: sslmode=require)",
                "  network   pooler on \(poolerAddresses); branch servers on \(serverAddresses) (--db-listen)",
                "  tls       SHA-256 \(certificate.fingerprint)",
                "            (\(certificate.origin.rawValue), \(certificate.certificatePath)\(transport.certificate == nil ? "; HTTPS off: plain HTTP behind a local proxy" : ""))",
            ]
            if engine.adminKeyCreated {
                lines += [
                    "  admin key \(engine.adminKey)",
                    "            (shown once; also in \(engine.layout.adminKey), mode 0600)",
                ]
            }
            if let login = engine.adminLogin {
                lines += [
                    "  admin     \(login.email)  password \(login.password)",
                    "            (shown once; also in \(engine.layout.adminPassword), mode 0600: change it with `branch user passwd \(login.email)`)",
                ]
            }
            if let backupKey {
                lines.append("  backups   key \(backupKey.id) in \(backupKey.location)\(engine.backupKeySetup.created ? " (made by this start)" : "")")
                if backupKey.acknowledgedAt == nil {
                    lines += [
                        "            WARNING: copy the backup key off this server: without it no backup can be restored.",
                        "            `branch backup key show` prints it; once it is kept elsewhere, `branch backup key acknowledge`.",
                    ]
                }
            }
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        let group = ServiceGroup(
            configuration: .init(
                // Shut down in reverse: end log streams and jobs, stop the API, the background services, then
                // every branch server and the pooler.
                services: [.init(service: EngineService(engine: engine))] + engine.background.map { .init(service: $0) }
                    + [.init(service: app)] + engine.streamClosers.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            engine.execIfRestarting()
            throw error
        }
        // An upgrade's restart without systemd: the same process, now running the new binary.
        engine.execIfRestarting()
    }

    /// `--listen`, else its default: every IPv4 address with TLS, loopback without.
    var listenAddress: String { listen ?? (tls == "off" ? "127.0.0.1:8420" : "0.0.0.0:8420") }

    func parseListen() -> (String, Int)? {
        let listen = listenAddress
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else { return nil }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    /// `--trusted-proxy`, each a comma-separated list.
    func trustedProxies() throws(IPNetworkError) -> [IPNetwork] { try TrustedProxies(parsing: trustedProxy).networks }

    func parsePortRange() -> ClosedRange<Int>? {
        let parts = portRange.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 1024, parts[0] <= parts[1], parts[1] < 65536 else { return nil }
        return parts[0]...parts[1]
    }

    func printFatal(_ message: String, hint: String? = nil) {
        FileHandle.standardError.write(Data(("error: \(message)\n" + (hint.map { "hint: \($0)\n" } ?? "")).utf8))
    }
}
