package import BranchCore
import BranchSystem
package import BranchPostgres
import Foundation

/// Which runtime to use: `auto` picks podman, then docker, then plain processes, by trying them.
package enum RuntimePreference: String, Sendable, CaseIterable {
    case auto, podman, docker, process
}

/// Finds, at start-up, a way to run branch servers that works on this host, and says what it tried.
package enum RuntimeDetector {
    package static func detect(
        _ preference: RuntimePreference, installation: PostgresInstallation, prefix: String, pool: String
    ) async throws -> any BranchServerRuntime {
        var notes: [String] = []
        let cgroups = CgroupInfo.version

        if preference == .auto || preference == .podman {
            if Command.which("podman") != nil {
                for candidate in podmanCandidates() {
                    let probe = try? await Command.run("podman", candidate.arguments + probeArguments, check: false)
                    if probe?.succeeded == true {
                        notes.append("podman with \(candidate.label) works")
                        let report = RuntimeReport(runtime: "podman", cgroups: cgroups, limitsEnforced: true, notes: notes)
                        return ContainerRuntime(
                            flavor: .podman(globalArguments: candidate.arguments), installation: installation, prefix: prefix, pool: pool,
                            report: report)
                    }
                    notes.append("podman with \(candidate.label) refused: \(firstLine(probe?.tail))")
                }
            } else {
                notes.append("podman is not installed")
            }
            if preference == .podman {
                throw RuntimeError("No way to run containers with podman here: \(notes.joined(separator: "; ")).")
            }
        }

        if preference == .auto || preference == .docker {
            let info = Command.which("docker") == nil ? nil : try? await Command.run("docker", ["info", "--format", "{{.ServerVersion}}"], check: false)
            if info?.succeeded == true {
                let image = "postgres:\(installation.major)"
                let hasImage = (try? await Command.run("docker", ["image", "inspect", image], check: false))?.succeeded == true
                notes.append("docker \(info!.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) works" + (hasImage ? "" : "; pull \(image) before the first start"))
                let report = RuntimeReport(runtime: "docker", cgroups: cgroups, limitsEnforced: true, notes: notes)
                return ContainerRuntime(flavor: .docker(image: image), installation: installation, prefix: prefix, pool: pool, report: report)
            }
            notes.append(Command.which("docker") == nil ? "docker is not installed" : "docker has no running engine: \(firstLine(info?.tail))")
            if preference == .docker {
                throw RuntimeError("Docker cannot run containers here: \(notes.joined(separator: "; ")).")
            }
        }

        if preference == .auto {
            notes.append("WARNING: no container engine works; branch servers run as plain processes, without isolation or limits")
        } else {
            notes.append("plain processes chosen with --runtime process: no isolation, limits not enforced")
        }
        await stopContainers(ofPool: pool, notes: &notes)
        return ProcessRuntime(installation: installation, notes: notes)
    }

    /// Containers an earlier service with a container runtime left running on this pool would
    /// hold data directories the plain-process runtime is about to use: stop them.
    static func stopContainers(ofPool pool: String, notes: inout [String]) async {
        guard Command.which("podman") != nil,
            let listing = try? await Command.run("podman", ["ps", "--quiet", "--filter", "label=branch.pool=\(pool)"], check: false),
            listing.succeeded
        else { return }
        let ids = listing.stdout.split(separator: "\n").map(String.init)
        guard !ids.isEmpty else { return }
        _ = try? await Command.run("podman", ["stop", "--time", "60"] + ids, check: false)
        _ = try? await Command.run("podman", ["rm", "--force"] + ids, check: false)
        notes.append("stopped \(ids.count) container(s) left by an earlier service so plain processes can take over")
    }

    struct Candidate {
        let label: String
        let arguments: [String]
    }

    /// crun is tried first where it is installed (it is the default on cgroup v2 hosts); on a
    /// cgroup v1 host it refuses and runc with podman's cgroupfs manager is what works.
    static func podmanCandidates() -> [Candidate] {
        var candidates: [Candidate] = []
        if Command.which("crun") != nil {
            candidates.append(Candidate(label: "crun and the cgroupfs manager", arguments: ["--runtime", "crun", "--cgroup-manager", "cgroupfs"]))
        }
        if Command.which("runc") != nil {
            candidates.append(Candidate(label: "runc and the cgroupfs manager", arguments: ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]))
        }
        candidates.append(Candidate(label: "its defaults", arguments: []))
        return candidates
    }

    /// A container that proves what a branch needs: the host root as an overlay, host network,
    /// a memory limit, explicit ulimits.
    static var probeArguments: [String] {
        let limits = ContainerRuntime.rlimits
        return [
            "run", "--rm", "--network", "host", "--memory", "64m", "--memory-swap", "64m",
            "--ulimit", "nofile=\(limits.nofile):\(limits.nofile)", "--ulimit", "nproc=\(limits.nproc):\(limits.nproc)",
            "--rootfs", "/:O", "/bin/true",
        ]
    }

    static func firstLine(_ text: String?) -> String {
        let line = text?.split(separator: "\n").first.map(String.init) ?? "no output"
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}

/// No runtime of the kind asked for works on this host.
package struct RuntimeError: ReportableError {
    package let message: String
    package let code: ErrorCode
    package init(_ message: String, code: ErrorCode = .runtimeUnavailable) {
        self.message = message
        self.code = code
    }
    package var hint: String? { "Run `branch serve --runtime auto` to use what works, or install podman and runc." }
}
