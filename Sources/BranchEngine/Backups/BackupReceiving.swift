import BranchBackup
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchStorage
import BranchSystem
import Foundation
import Logging

extension Backups {
    /// Received bytes between two background flushes of the pool during a restore (see WriteBack).
    static let writeBackInterval = 64 << 20

    /// Streams each backup of `chain` from the target, authenticated and decrypted chunk by
    /// chunk, into `btrfs receive` in `directory`; returns the path of the last received subvolume.
    /// `durable` (a restore, which becomes a branch) flushes to disk as it goes and before it
    /// returns; a throw-away copy (verify, a diff side) is left to the kernel.
    func receive(
        _ chain: [BackupManifest], key: BackupKey, into directory: String, progress: JobProgress?, durable: Bool = false
    ) async throws -> String {
        let target = try context.requireBackupTarget()
        // Traversable: verify runs Postgres (as postgres) on a copy of what is received here.
        try Files.ensureDirectory(directory, mode: 0o711)
        var done: UInt64 = 0
        let writeBack = durable ? WriteBack(storage, every: Self.writeBackInterval) : nil
        for (index, manifest) in chain.enumerated() {
            progress?.step("receiving \(index + 1) of \(chain.count) (\(manifest.id))")
            let reader = try ArchiveReader(manifest: manifest, key: key)
            let receive = try StreamingProcess("btrfs", ["receive", "-e", directory])
            do {
                for try await piece in try await target.read(Self.dataKey(manifest.project, manifest.id)) {
                    reader.write(piece)
                    while let plaintext = try reader.read() {
                        try await receive.write(plaintext)
                        done += UInt64(plaintext.count)
                        writeBack?.wrote(plaintext.count)
                        progress?.bytes(done)
                    }
                }
                try reader.finish()
            } catch {
                receive.terminate()
                _ = await receive.wait()
                throw error
            }
            let (status, errors) = await receive.wait()
            guard status == 0 else { throw BackupError(.backupFailed, "btrfs receive failed (status \(status)): \(errors)") }
        }
        // On disk before a branch is made of it: the catalog will record it as restored.
        try await writeBack?.finish()
        let last = "\(directory)/\(chain.last!.snapshotID)"
        guard storage.isSubvolume(last) else { throw BackupError(.backupIntegrityFailed, "The backup stream did not contain snapshot \(chain.last!.snapshotID).") }
        return last
    }

    /// Deletes whatever subvolumes a receive left in `directory`, then the directory.
    func removeReceived(_ directory: String) async {
        for name in storage.subvolumes(in: directory) { try? await storage.deleteSubvolume(at: "\(directory)/\(name)") }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
