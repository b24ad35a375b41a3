import Foundation

/// The shards `make test` runs side by side (scripts/test.sh, `BRANCH_TEST_SHARD` 0 to
/// `count - 1`). Each takes its own share of every port range, so tests of two shards never
/// reach for the same port.
package enum TestShard {
    package static let count = 3

    /// This process's shard (0 outside `make test`).
    package static let index: Int = {
        let value = Int(ProcessInfo.processInfo.environment["BRANCH_TEST_SHARD"] ?? "") ?? 0
        return min(max(value, 0), count - 1)
    }()

    /// This shard's part of `range`: the `index`-th of `count` equal parts, the last taking the rest.
    package static func share(of range: ClosedRange<Int>) -> ClosedRange<Int> {
        let size = range.count / count
        let lower = range.lowerBound + index * size
        return lower...(index == count - 1 ? range.upperBound : lower + size - 1)
    }
}
