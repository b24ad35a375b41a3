import BranchCore
import BranchPostgres
import Foundation

extension RowDiffer {
    // MARK: Tables without a primary key

    /// Compares whole rows as multisets: counts and sums of row hashes in 1024 buckets, then the
    /// hash counts of differing buckets, then one row per differing hash, with how many copies.
    func compareAsMultiset(_ state: inout State, afterBucket: Int?) async throws {
        let table = state.table
        let sql = """
            SELECT (h & 1023)::int, count(*), sum(h::numeric)::text FROM (SELECT \(table.rowHash) AS h FROM \(table.table)) s
            WHERE (h & 1023) > $1 GROUP BY 1 ORDER BY 1
            """
        let after = String(afterBucket ?? -1)
        async let a = first.query(sql, [after]).rows
        async let b = second.query(sql, [after]).rows
        let (left, right) = try await (a, b)
        func index(_ rows: [[String?]]) -> [Int: String] {
            Dictionary(uniqueKeysWithValues: rows.map { (Int($0[0] ?? "0") ?? 0, "\($0[1] ?? "0"):\($0[2] ?? "0")") })
        }
        let l = index(left)
        let r = index(right)
        for bucket in Set(l.keys).union(r.keys).sorted() where l[bucket] != r[bucket] {
            if state.full {
                state.stopped = true
                return
            }
            let counts = """
                SELECT h::text, count(*) FROM (SELECT \(table.rowHash) AS h FROM \(table.table)) s WHERE (h & 1023) = $1 GROUP BY h
                """
            async let c = first.query(counts, [String(bucket)]).rows
            async let d = second.query(counts, [String(bucket)]).rows
            let (x, y) = try await (c, d)
            let before = Dictionary(uniqueKeysWithValues: x.map { ($0[0] ?? "", Int($0[1] ?? "0") ?? 0) })
            let after = Dictionary(uniqueKeysWithValues: y.map { ($0[0] ?? "", Int($0[1] ?? "0") ?? 0) })
            for hash in Set(before.keys).union(after.keys).sorted() {
                let delta = (after[hash] ?? 0) - (before[hash] ?? 0)
                if delta == 0 { continue }
                let source = delta > 0 ? second : first
                let values = table.columns.map { "\($0)::text" }.joined(separator: ", ")
                let row = try await source.query(
                    "SELECT \(values) FROM \(table.table) WHERE \(table.rowHash) = $1::bigint LIMIT 1", [hash]).rows.first ?? []
                let object = Dictionary(uniqueKeysWithValues: zip(table.columnNames, row.map { $0 }))
                if delta > 0 { state.added += delta } else { state.removed += -delta }
                try await emit(
                    &state,
                    RowDelta(
                        kind: delta > 0 ? .added : .removed, key: [:], keyValues: [], old: delta > 0 ? nil : object, new: delta > 0 ? object : nil,
                        count: abs(delta)),
                    position: [String(bucket - 1)])
            }
            state.lastPosition = [String(bucket)]
        }
    }
}
