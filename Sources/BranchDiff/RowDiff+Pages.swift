import BranchCore
import BranchPostgres
import Foundation

extension RowDiffer {
    // MARK: By changed pages

    /// The table's heap tuples that may differ, per side, when both files can be read and not too
    /// many may differ; nil otherwise.
    func changedPages(_ table: TableComparison, _ pages: PageAccess) async throws -> HeapPages.Candidates? {
        let sql = "SELECT pg_relation_filepath($1::regclass)"
        async let a = first.query(sql, [table.table]).scalar
        async let b = second.query(sql, [table.table]).scalar
        guard let left = try await a ?? nil, let right = try await b ?? nil else { return nil }
        let limit = settings.tupleLimit
        return try await HeapPages.candidates(
            firstFile: "\(pages.firstDirectory)/\(left)", secondFile: "\(pages.secondDirectory)/\(right)",
            firstLog: pages.firstLog, secondLog: pages.secondLog, limit: limit)
    }

    /// Compares the rows of the candidate tuples, a run of blocks at a time (bounded memory): their
    /// keys and hashes on both sides, where a key found among one side's candidates but not among
    /// the other's in the same blocks (the row moved, or exists on one side only) is looked up by key. Then the
    /// differing rows are emitted in key order. Returns false, having emitted nothing, when so
    /// many rows moved that comparing by checksums is cheaper (a whole-table rewrite).
    func compareCandidates(_ state: inout State, _ candidates: HeapPages.Candidates, after: [String?]?) async throws -> Bool {
        let table = state.table
        state.pages = (candidates.pagesRead, candidates.pagesSkipped, candidates.first.count + candidates.second.count)
        var differing: [String: (key: [String?], kind: RowDelta.Kind)] = [:]
        var lookups = 0
        let chunk: UInt32 = 2048
        let last = max(candidates.first.last?.block ?? 0, candidates.second.last?.block ?? 0)
        var (i, j) = (0, 0)
        var start: UInt32 = 0
        while start <= last {
            try Task.checkCancellation()
            let end = start + chunk
            var leftTuples: [HeapPages.TupleID] = []
            var rightTuples: [HeapPages.TupleID] = []
            while i < candidates.first.count, candidates.first[i].block < end { leftTuples.append(candidates.first[i]); i += 1 }
            while j < candidates.second.count, candidates.second[j].block < end { rightTuples.append(candidates.second[j]); j += 1 }
            start = end
            if leftTuples.isEmpty && rightTuples.isEmpty { continue }
            async let a = hashesOfTuples(first, table, leftTuples)
            async let b = hashesOfTuples(second, table, rightTuples)
            var (left, right) = try await (a, b)
            let missingRight = left.keys.filter { right[$0] == nil }.map { left[$0]!.key }
            let missingLeft = right.keys.filter { left[$0] == nil }.map { right[$0]!.key }
            lookups += missingLeft.count + missingRight.count
            if lookups > settings.movedRowLimit {
                state.pages = nil
                return false
            }
            async let c = hashesOfKeys(second, table, missingRight)
            async let d = hashesOfKeys(first, table, missingLeft)
            let (moreRight, moreLeft) = try await (c, d)
            right.merge(moreRight) { old, _ in old }
            left.merge(moreLeft) { old, _ in old }
            for (id, entry) in left {
                guard let other = right[id] else {
                    differing[id] = (entry.key, .removed)
                    continue
                }
                if other.hash != entry.hash { differing[id] = (entry.key, .changed) }
            }
            for (id, entry) in right where left[id] == nil { differing[id] = (entry.key, .added) }
        }
        guard !differing.isEmpty else { return true }
        if state.emit == nil && state.budget == nil && after == nil {
            for entry in differing.values {
                switch entry.kind {
                case .added: state.added += 1
                case .removed: state.removed += 1
                case .changed: state.changed += 1
                }
            }
            return true
        }
        let keys = differing.values.map(\.key)
        var ordered: [[String?]]
        if let after {
            // Sort the resume position in with the keys and keep what follows it.
            let all = try await orderKeys(keys + [after], table)
            let marker = Self.keyString(after)
            let position = all.firstIndex { Self.keyString($0) == marker } ?? -1
            ordered = all[(position + 1)...].filter { Self.keyString($0) != marker }
        } else {
            ordered = try await orderKeys(keys, table)
        }
        try await emitRows(&state, ordered)
        return true
    }

    /// Key and row hash of the rows at the given tuple ids that this side's snapshot sees, by key string.
    func hashesOfTuples(_ connection: PGConnection, _ table: TableComparison, _ tuples: [HeapPages.TupleID]) async throws
        -> [String: (key: [String?], hash: String?)]
    {
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        // A TID scan: Postgres fetches exactly these tuples and applies the snapshot.
        let sql = "SELECT \(keys), \(table.rowHash) FROM \(table.table) WHERE ctid = ANY($1::tid[])"
        var result: [String: (key: [String?], hash: String?)] = [:]
        let width = table.keyColumns.count
        for start in stride(from: 0, to: tuples.count, by: 10_000) {
            let array = "{" + tuples[start..<min(start + 10_000, tuples.count)].map { "\"\($0)\"" }.joined(separator: ",") + "}"
            for row in try await connection.query(sql, [array]).rows {
                let key = Array(row.prefix(width))
                result[Self.keyString(key)] = (key, row[width])
            }
        }
        return result
    }

    /// Key and row hash of the rows with these keys, by key string.
    func hashesOfKeys(_ connection: PGConnection, _ table: TableComparison, _ keys: [[String?]]) async throws
        -> [String: (key: [String?], hash: String?)]
    {
        var result: [String: (key: [String?], hash: String?)] = [:]
        let width = table.keyColumns.count
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = Array(keys[start..<min(start + 1000, keys.count)])
            var parameters: [String?] = []
            var columns: [String] = []
            for index in table.keyColumns.indices {
                parameters.append("{" + batch.map { arrayElement($0[index]) }.joined(separator: ",") + "}")
                columns.append("k\(index)")
            }
            let arrays = parameters.indices.map { "$\($0 + 1)::text[]" }.joined(separator: ", ")
            let typed = columns.enumerated().map { "\($1)::\(table.keyTypes[$0])" }.joined(separator: ", ")
            let sql = """
                SELECT \(table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")), \(table.rowHash) FROM \(table.table)
                WHERE \(table.keyTuple) IN (SELECT \(typed) FROM unnest(\(arrays)) AS u(\(columns.joined(separator: ", "))))
                """
            for row in try await connection.query(sql, parameters).rows {
                let key = Array(row.prefix(width))
                result[Self.keyString(key)] = (key, row[width])
            }
        }
        return result
    }
}
