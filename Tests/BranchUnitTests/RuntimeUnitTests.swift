import BranchCore
import BranchSystem
@testable import BranchEngine
@testable import BranchPostgres
@testable import BranchRuntime
import Foundation
import Testing

@Suite("Runtime and supervision logic")
struct RuntimeUnitTests {
    let installation = PostgresInstallation(binDirectory: "/usr/lib/postgresql/15/bin", major: 15, version: "15.20")
    let spec = ServerSpec(
        project: try! ResourceName(validating: "app"), branch: try! ResourceName(validating: "feat"), subvolume: "/pool/projects/app/branches/feat",
        dataDirectory: "/pool/projects/app/branches/feat/pgdata", logDirectory: "/pool/logs/app/feat", port: 54400,
        socketDirectory: "/pool/run/pg", limits: ResourceLimits(memory: 512 << 20, cpus: 1.5))

    func runtime(_ flavor: ContainerRuntime.Flavor) -> ContainerRuntime {
        ContainerRuntime(
            flavor: flavor, installation: installation, prefix: "branch", pool: "/pool",
            report: RuntimeReport(runtime: "x", cgroups: "v2", limitsEnforced: true, notes: []))
    }

    @Test("podman: the host root as overlay, only this branch's directories mounted at fixed paths, limits, labels")
    func podmanArguments() {
        let podman = runtime(.podman(globalArguments: ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]))
        let arguments = podman.runArguments(spec, user: (105, 110), limits: (20_000, 32_768))
        let text = arguments.joined(separator: " ")
        #expect(arguments.prefix(5) == ["--runtime", "runc", "--cgroup-manager", "cgroupfs", "run"])
        #expect(text.contains("--name branch-app-feat"))
        #expect(text.contains("--replace"))
        #expect(text.contains("--volume /pool/projects/app/branches/feat:/branch/data"))
        #expect(text.contains("--volume /pool/run/pg:/branch/run"))
        #expect(text.contains("--volume /pool/logs/app/feat:/branch/logs"))
        #expect(!text.contains("/pool:/"), "nothing but the branch's own directories")
        #expect(text.contains("--memory 536870912 --memory-swap 536870912"))
        #expect(text.contains("--cpus 1.5"))
        #expect(text.contains("--ulimit nofile=20000:20000 --ulimit nproc=32768:32768"))
        #expect(text.contains("--user 105:110"))
        #expect(text.contains("--label branch.pool=/pool"))
        #expect(text.contains("--pidfile /pool/run/pg/container.pid"), "the host pid without a podman inspect")
        #expect(text.hasSuffix("--rootfs /:O /usr/lib/postgresql/15/bin/postgres -D /branch/data/pgdata"))
        #expect(podman.serverPaths(spec) == ServerPaths(dataDirectory: "/branch/data/pgdata", socketDirectory: "/branch/run", logDirectory: "/branch/logs"))
    }

    @Test("docker: the official image with PGDATA, no podman-only flags")
    func dockerArguments() {
        let docker = runtime(.docker(image: "postgres:15"))
        let arguments = docker.runArguments(spec, user: (105, 110), limits: (20_000, 32_768))
        let text = arguments.joined(separator: " ")
        #expect(arguments.first == "run")
        #expect(!text.contains("--replace"))
        #expect(!text.contains("--rootfs"))
        #expect(!text.contains("--pidfile"))
        #expect(text.hasSuffix("--env PGDATA=/branch/data/pgdata postgres:15 postgres -D /branch/data/pgdata"))
    }

    @Test("the process runtime uses the host's paths")
    func processPaths() {
        let process = ProcessRuntime(installation: installation)
        #expect(process.serverPaths(spec).dataDirectory == spec.dataDirectory)
        #expect(!process.report.limitsEnforced)
    }

    @Test("cgroup statistics files are read by key")
    func cgroupStat() {
        let text = "cache 100\nrss 200\ntotal_inactive_file 4096\n"
        #expect(CgroupInfo.stat(text, "total_inactive_file") == 4096)
        #expect(CgroupInfo.stat(text, "missing") == nil)
        #expect(CgroupInfo.stat("Pss:  1234 kB\n", "Pss:") == 1234)
    }

    @Test("log pruning keeps the newest files and bounds the startup log")
    func logPruning() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("branch-logs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for stamp in ["20261121-100000", "20261121-110000", "20261121-120000", "20261121-130000"] {
            try Files.writeAtomically("x\n", to: "\(directory)/postgresql-\(stamp).log")
        }
        try Files.writeAtomically(String(repeating: "y", count: 2000), to: "\(directory)/startup.log")
        LogFiles.prune(directory, keep: 2, maxStartupBytes: 1000)
        #expect(LogFiles.rotated(in: directory) == ["postgresql-20261121-120000.log", "postgresql-20261121-130000.log"])
        #expect(Files.read("\(directory)/startup.log") == "")
        #expect(LogFiles.tail(in: directory, lines: 1) == "x\n")
    }

    @Test("durations for settings")
    func seconds() {
        #expect(Seconds.parse("15m") == 900)
        #expect(Seconds.parse("2h") == 7200)
        #expect(Seconds.parse("off") == 0)
        #expect(Seconds.parse("45") == 45)
        #expect(Seconds.parse("-5s") == nil)
        #expect(Seconds.parse("soon") == nil)
        #expect(Seconds.format(900) == "15m")
        #expect(Seconds.format(0) == "off")
        #expect(Seconds.format(90) == "90s")
    }

    @Test("Prometheus numbers: integers plain, fractions with three decimals")
    func prometheusNumbers() {
        #expect(Observability.prometheusNumber(20_033_536) == "20033536")
        #expect(Observability.prometheusNumber(0.7035) == "0.704")
    }
}
