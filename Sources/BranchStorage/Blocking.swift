import BranchCore
import BranchSystem

/// Runs a blocking storage call (an ioctl, a sync, a rename, file reads) on `BlockingWork`'s
/// threads, off Swift's cooperative ones, and keeps its `StorageError`.
func blocking<T: Sendable>(path: String, _ body: @escaping @Sendable () throws(StorageError) -> T) async throws(StorageError) -> T {
    do {
        return try await BlockingWork.run { () throws -> T in try body() }
    } catch let error as StorageError {
        throw error
    } catch {
        // Only when BlockingWork's pool is not running.
        throw StorageError(.storageFailed, path: path, detail: "Could not run the call on a blocking-work thread: \(error)")
    }
}
