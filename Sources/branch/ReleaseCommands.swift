import ArgumentParser
import BranchCore
import BranchEngine
import BranchSystem
import Foundation

/// `branch release`: make a signing key and build signed release archives (for builds you make
/// yourself; the service trusts the project's pinned key and the keys in `release-keys/` beside
/// its master key).
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Build and sign release archives for `branch upgrade`.",
        subcommands: [ReleaseKeygen.self, ReleasePack.self])
}

struct ReleaseKeygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Make an Ed25519 release signing key: FILE (private, 0600) and FILE.pub (to trust).")

    @Option(help: "Where to write the private key; the public key goes to FILE.pub.")
    var out: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: out) else {
            printFailure("\(out) exists; not overwritten.", hint: "Choose another path.")
            throw ExitCode.failure
        }
        let key = ReleaseKeys.generate()
        try Files.writeAtomically(key.privateKey + "\n", to: out, mode: 0o600)
        try Files.writeAtomically(key.publicKey + "\n", to: "\(out).pub", mode: 0o644)
        print("""
            Private key: \(out) (keep it off the servers)
            Public key:  \(out).pub
            To trust it on a server: copy \(out).pub to \(Upgrades.releaseKeysDirectory(masterKeyFile: "/etc/branch/master.key"))/ \
            (root-owned, mode 0644).
            """)
    }
}

struct ReleasePack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack", abstract: "Build a signed release archive: the binary, manifest.json and manifest.sig in a tar.")

    @Option(help: "The `branch` binary to release.")
    var binary: String

    @Option(help: "The release's version (MAJOR.MINOR.PATCH).")
    var version: String

    @Option(help: "The private signing key (from `branch release keygen`).")
    var key: String

    @Option(help: "The oldest catalog schema the binary can migrate from (default: this build's).")
    var minimumCatalogVersion: Int?

    @Option(help: "The archive to write.")
    var out: String

    func run() async throws {
        guard let signing = Files.read(key), ReleaseKeys.isPrivateKey(signing) else {
            printFailure("\(key) is not a release signing key.", hint: "Make one with `branch release keygen --out FILE`.")
            throw ExitCode.failure
        }
        do {
            let manifest = try await ReleaseArchive.pack(
                binary: binary, version: version, minimumCatalogVersion: minimumCatalogVersion ?? BranchEngine.Upgrades.catalogSchemaVersion,
                signingKey: signing, to: out)
            print("Release \(manifest.version) (sha256 \(manifest.sha256)) written to \(out)")
        } catch let error as any ReportableError {
            printFailure(error.message, hint: error.hint)
            throw ExitCode.failure
        }
    }
}

/// The detached watchdog an upgrade starts (see `UpgradeWatchdog`); not for people.
struct UpgradeWatchdogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade-watchdog", abstract: "Finish or roll back an upgrade (started by the service).", shouldDisplay: false)

    @Option(help: "The upgrade's state file.")
    var state: String

    func run() async throws {
        let status = await UpgradeWatchdog.run(statePath: state)
        if status != 0 { throw ExitCode(status) }
    }
}

func printFailure(_ message: String, hint: String?) {
    FileHandle.standardError.write(Data(("error: \(message)\n" + (hint.map { "hint: \($0)\n" } ?? "")).utf8))
}
