import BranchCore
import BranchPostgres
import Foundation

extension RowDiffer {
    /// Below this size on both sides (1 MiB), a table is fingerprinted whole by `unchanged`, and
    /// comparing it by pages does not pay for the CHECKPOINT that needs.
    package static let smallTableBytes = 128 * 8192

    /// Each of `tables`' size on disk, the larger of the two sides (a table missing on a side
    /// counts 0 there): one query per side, both at once.
    package func sizes(_ tables: [String]) async throws -> [String: Int] {
        guard !tables.isEmpty else { return [:] }
        let sql = "SELECT name, coalesce(pg_relation_size(to_regclass(name)), 0) FROM unnest($1::text[]) name"
        let array = CatalogQuery.textArray(tables)
        async let a = first.query(sql, [array]).rows
        async let b = second.query(sql, [array]).rows
        var sizes: [String: Int] = [:]
        for row in try await a + b {
            guard let name = row[0] else { continue }
            sizes[name] = max(sizes[name] ?? 0, Int(row[1] ?? "") ?? 0)
        }
        return sizes
    }

    /// Which of `tables` hold the same rows on both sides, told by each side's row count and XOR
    /// of row hashes for all of them in one query (the check the bisection makes per segment).
    /// Most tables of a diff have not changed; this answers them in one round trip instead of two
    /// per table. For keyed tables only: without a key, two equal rows' hashes cancel out.
    package func unchanged(_ tables: [TableComparison]) async throws -> Set<String> {
        let keyed = tables.filter(\.hasKey)
        guard !keyed.isEmpty else { return [] }
        let sql = keyed.enumerated().map { index, table in
            "SELECT \(index), count(*), bit_xor(\(table.rowHash)) FROM \(table.table)"
        }.joined(separator: "\nUNION ALL\n")
        async let a = first.query(sql).rows
        async let b = second.query(sql).rows
        let (left, right) = try await (a, b)
        func fingerprints(_ rows: [[String?]]) -> [Int: [String?]] {
            Dictionary(rows.compactMap { row in row[0].flatMap(Int.init).map { ($0, Array(row.dropFirst())) } }) { first, _ in first }
        }
        let (x, y) = (fingerprints(left), fingerprints(right))
        return Set(keyed.indices.filter { x[$0] != nil && x[$0] == y[$0] }.map { keyed[$0].table })
    }

    /// `unchanged` of those of `tables` under `smallTableBytes` on both sides (`sizes`, from
    /// `sizes(_:)`): a larger table is compared by its own means, which can skip what is alike.
    package func unchanged(_ tables: [TableComparison], sizes: [String: Int]) async throws -> Set<String> {
        try await unchanged(tables.filter { (sizes[$0.table] ?? 0) < Self.smallTableBytes })
    }

    /// What `compare` finds for a table `unchanged` answered for.
    package static func unchangedOutcome(_ table: TableComparison) -> Outcome {
        Outcome(
            summary: TableDiffSummary(table: table.table, added: 0, removed: 0, changed: 0, method: .primaryKey, complete: true),
            resumeAfter: nil)
    }
}
