import BranchCore
import BranchSystem
import Foundation

/// Cumulative resource use of one branch server at one moment.
package struct ResourceUsage: Sendable, Hashable, Codable {
    /// Memory in use, without reclaimable page cache.
    package var memoryBytes: UInt64
    /// CPU time consumed since the server started.
    package var cpuSeconds: Double
    package var ioReadBytes: UInt64
    package var ioWriteBytes: UInt64
}

/// Reads cgroup v1 and v2 accounting, and /proc for processes outside any container.
package enum CgroupInfo {
    /// `v2`, `v1 (hybrid)`, `v1`, or `none`.
    package static let version: String = {
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") { return "v2" }
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory") {
            return FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified") || hasUnifiedLine ? "v1 (hybrid)" : "v1"
        }
        return "none"
    }()

    private static var hasUnifiedLine: Bool {
        (Files.read("/proc/self/cgroup") ?? "").split(separator: "\n").contains { $0.hasPrefix("0::") }
    }

    /// Usage of the cgroup `pid` lives in, when that is a cgroup of its own (a container).
    package static func usage(ofCgroupOf pid: Int32) -> ResourceUsage? {
        guard let text = Files.read("/proc/\(pid)/cgroup") else { return nil }
        var paths: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            for controller in parts[1].split(separator: ",") { paths[String(controller)] = String(parts[2]) }
            if parts[1].isEmpty { paths[""] = String(parts[2]) }
        }
        if version == "v2", let path = paths[""], path != "/" {
            return v2Usage("/sys/fs/cgroup\(path)")
        }
        guard let memory = paths["memory"], memory != "/" else { return nil }
        return v1Usage(
            memory: "/sys/fs/cgroup/memory\(memory)", cpuacct: paths["cpuacct"].map { "/sys/fs/cgroup/cpuacct\($0)" },
            blkio: paths["blkio"].map { "/sys/fs/cgroup/blkio\($0)" })
    }

    static func v1Usage(memory: String, cpuacct: String?, blkio: String?) -> ResourceUsage? {
        guard let usage = number(Files.read("\(memory)/memory.usage_in_bytes")) else { return nil }
        let inactiveFile = stat(Files.read("\(memory)/memory.stat"), "total_inactive_file") ?? 0
        let cpu = cpuacct.flatMap { number(Files.read("\($0)/cpuacct.usage")) } ?? 0
        var read: UInt64 = 0
        var write: UInt64 = 0
        if let blkio, let text = Files.read("\(blkio)/blkio.throttle.io_service_bytes_recursive") ?? Files.read("\(blkio)/blkio.throttle.io_service_bytes") {
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 3, let value = UInt64(fields[2]) else { continue }
                if fields[1] == "Read" { read += value } else if fields[1] == "Write" { write += value }
            }
        }
        return ResourceUsage(
            memoryBytes: usage > inactiveFile ? usage - inactiveFile : usage, cpuSeconds: Double(cpu) / 1e9, ioReadBytes: read,
            ioWriteBytes: write)
    }

    static func v2Usage(_ path: String) -> ResourceUsage? {
        guard let current = number(Files.read("\(path)/memory.current")) else { return nil }
        let inactiveFile = stat(Files.read("\(path)/memory.stat"), "inactive_file") ?? 0
        let cpu = stat(Files.read("\(path)/cpu.stat"), "usage_usec") ?? 0
        var read: UInt64 = 0
        var write: UInt64 = 0
        for line in (Files.read("\(path)/io.stat") ?? "").split(separator: "\n") {
            for field in line.split(separator: " ") {
                if field.hasPrefix("rbytes=") { read += UInt64(field.dropFirst(7)) ?? 0 }
                if field.hasPrefix("wbytes=") { write += UInt64(field.dropFirst(7)) ?? 0 }
            }
        }
        return ResourceUsage(
            memoryBytes: current > inactiveFile ? current - inactiveFile : current, cpuSeconds: Double(cpu) / 1e6, ioReadBytes: read,
            ioWriteBytes: write)
    }

    /// Usage of a process and its children, from /proc: PSS (shared memory split between the
    /// processes that map it, so shared_buffers is not counted once per backend), CPU, IO.
    package static func usage(ofProcessTree root: Int32) -> ResourceUsage? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var parents: [Int32: Int32] = [:]
        for pid in entries.compactMap(Int32.init) {
            if let parent = parentPID(pid) { parents[pid] = parent }
        }
        let tree = [root] + parents.filter { $0.value == root }.map(\.key)
        guard parents[root] != nil else { return nil }
        var usage = ResourceUsage(memoryBytes: 0, cpuSeconds: 0, ioReadBytes: 0, ioWriteBytes: 0)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        for pid in tree {
            usage.memoryBytes += (stat(Files.read("/proc/\(pid)/smaps_rollup"), "Pss:") ?? 0) * 1024
            if let fields = statFields(pid), fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) {
                usage.cpuSeconds += (user + system) / ticks
            }
            let io = Files.read("/proc/\(pid)/io")
            usage.ioReadBytes += stat(io, "read_bytes:") ?? 0
            usage.ioWriteBytes += stat(io, "write_bytes:") ?? 0
        }
        return usage
    }

    /// Fields of /proc/<pid>/stat after the command name (field 3, the state, is index 0).
    static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = Files.read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    static func parentPID(_ pid: Int32) -> Int32? {
        guard let fields = statFields(pid), fields.count > 1 else { return nil }
        return Int32(fields[1])
    }

    static func number(_ text: String?) -> UInt64? {
        text.flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// The value after `key` on its line in a `key value` file.
    static func stat(_ text: String?, _ key: String) -> UInt64? {
        guard let text else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == Substring(key) { return UInt64(fields[1]) }
        }
        return nil
    }
}
