import BranchAPI
import BranchCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Colours and styles, only when writing to a terminal and `NO_COLOR` is unset.
enum Style {
    static let enabled: Bool = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    static let errorsEnabled: Bool = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    static func green(_ text: String) -> String { wrap(text, "32") }
    static func red(_ text: String) -> String { wrap(text, "31") }
    static func yellow(_ text: String) -> String { wrap(text, "33") }
    static func dim(_ text: String) -> String { wrap(text, "2") }
    static func bold(_ text: String) -> String { wrap(text, "1") }

    private static func wrap(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    /// The status word coloured by meaning.
    static func status(_ text: String) -> String {
        switch text {
        case "running", "ready", "succeeded": green(text)
        case "stopped", "suspended": dim(text)
        case "creating", "deleting", "running…": yellow(text)
        case "failed", "interrupted", "crashed", "restart_failed": red(text)
        case "restarted", "resumed": green(text)
        default: text
        }
    }
}

/// A table with aligned columns; widths ignore colour escapes.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: String...) { rows.append(cells) }

    var rendered: String {
        let all = [headers.map { Style.bold($0) }] + rows
        var widths = [Int](repeating: 0, count: headers.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], Self.visibleWidth(cell))
            }
        }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - Self.visibleWidth(cell))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func visibleWidth(_ text: String) -> Int {
        var width = 0
        var inEscape = false
        for scalar in text.unicodeScalars {
            if inEscape {
                if scalar == "m" { inEscape = false }
            } else if scalar == "\u{1B}" {
                inEscape = true
            } else {
                width += 1
            }
        }
        return width
    }
}

enum Format {
    /// `123 ms`, `1.4 s`.
    static func duration(ms: Double) -> String {
        ms < 1000 ? "\(Int(ms.rounded())) ms" : "\(String(format: "%.1f", ms / 1000)) s"
    }

    /// The total, and the slow steps when the whole took long enough to wonder why.
    static func timing(_ operation: OperationTiming) -> String {
        var text = "in \(duration(ms: operation.durationMs))"
        if operation.durationMs >= 1000 {
            let slow = operation.steps.filter { $0.ms >= 100 }.map { "\($0.name) \(duration(ms: $0.ms))" }
            if !slow.isEmpty { text += " (" + slow.joined(separator: ", ") + ")" }
        }
        return text
    }

    /// `5s`, `3m`, `2h`, `4d` since `date`.
    static func age(_ date: Date, now: Date = Date()) -> String { span(max(0, Int(now.timeIntervalSince(date)))) }

    /// How long until `date`, as coarsely as `age`.
    static func timeLeft(until date: Date, now: Date = Date()) -> String { span(max(0, Int(date.timeIntervalSince(now)))) }

    private static func span(_ seconds: Int) -> String {
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<86400: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }

    static func bytes(_ value: UInt64?) -> String { value.map(ByteCount.format) ?? "-" }
    static func bytes(_ value: Int?) -> String { value.map(ByteCount.format) ?? "-" }

    /// Pretty JSON on stdout, the `--json` output of every command.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder.api
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

extension ByteCount {
    /// The API's byte counts are JSON integers, `Int` in the generated types.
    static func format(_ bytes: Int) -> String { format(UInt64(clamping: bytes)) }
}

/// Branches drawn as a tree: each child under its parent, in creation order.
enum BranchTree {
    /// Rows of (prefix + name, branch), depth-first from the roots.
    static func lines(_ branches: [BranchInfo]) -> [(label: String, branch: BranchInfo)] {
        let names = Set(branches.map(\.name))
        let roots = branches.filter { $0.parent.map { !names.contains($0) } ?? true }
        var result: [(String, BranchInfo)] = []
        func visit(_ branch: BranchInfo, prefix: String, isLast: Bool, isRoot: Bool) {
            let connector = isRoot ? "" : (isLast ? "└─ " : "├─ ")
            result.append((prefix + connector + branch.name, branch))
            let children = branches.filter { $0.parent == branch.name }
            let childPrefix = isRoot ? prefix : prefix + (isLast ? "   " : "│  ")
            for (index, child) in children.enumerated() {
                visit(child, prefix: childPrefix, isLast: index == children.count - 1, isRoot: false)
            }
        }
        for root in roots { visit(root, prefix: "", isLast: true, isRoot: true) }
        return result
    }
}

/// Writes to stdout without Foundation's FileHandle, which traps on a closed pipe
/// (`branch export | head`); a closed pipe ends the command quietly instead.
enum Stdout {
    static func write(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EPIPE { exit(0) }
                    return
                }
                offset += written
            }
        }
    }
}

