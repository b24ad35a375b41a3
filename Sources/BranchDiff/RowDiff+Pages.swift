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

    /// Compares the rows of the candidate tuples, a run of blocks at a time: their keys and hashes
    /// on both sides, matched by key (`CandidateMatching`); a row found among one side's candidates
    /// only (it exists on one side only, or its other version is in an identical page) is looked
    /// up by key on the other. Then the differing rows are emitted in key order. Returns false, having emitted nothing, when so
    /// many rows moved that comparing by checksums is cheaper (a whole-table rewrite).
    func compareCandidates(_ state: inout State, _ candidates: HeapPages.Candidates, after: [String?]?) async throws -> Bool {
        let table = state.table
        state.pages = (candidates.pagesRead, candidates.pagesSkipped, candidates.first.count + candidates.second.count)
        var matching = CandidateMatching()
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
            let (left, right) = try await (a, b)
            matching.add(left: left, right: right)
            // An updated row's new version usually lands in another block (often at the table's
            // end): unmatched rows wait for later blocks, and are looked up by key only when too
            // many wait or at the end.
            if matching.waiting > settings.waitingRowLimit, try await !lookUpWaiting(&matching, table) {
                state.pages = nil
                return false
            }
        }
        if try await !lookUpWaiting(&matching, table) {
            state.pages = nil
            return false
        }
        let differing = matching.differing
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

    /// Looks up by key the rows still waiting for their other side; false (comparing by checksums
    /// is cheaper) when more than `movedRowLimit` lookups were needed in all.
    private func lookUpWaiting(_ matching: inout CandidateMatching, _ table: TableComparison) async throws -> Bool {
        guard matching.waiting > 0 else { return true }
        matching.lookups += matching.waiting
        guard matching.lookups <= settings.movedRowLimit else { return false }
        async let c = hashesOfKeys(second, table, matching.leftOnly.values.map(\.key))
        async let d = hashesOfKeys(first, table, matching.rightOnly.values.map(\.key))
        let (moreRight, moreLeft) = try await (c, d)
        matching.settle(foundRight: moreRight, foundLeft: moreLeft)
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
            let set = keySet(Array(keys[start..<min(start + 1000, keys.count)]), table)
            let sql = """
                SELECT \(table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")), \(table.rowHash) FROM \(table.table)
                WHERE \(table.keyTuple) IN (SELECT \(set.typed) FROM \(set.source))
                """
            for row in try await connection.query(sql, set.parameters).rows {
                let key = Array(row.prefix(width))
                result[Self.keyString(key)] = (key, row[width])
            }
        }
        return result
    }
}

/// The rows of candidate tuples of both sides, matched by key as their blocks are read: a row
/// whose two versions are both candidates is compared when the second turns up; the others wait.
struct CandidateMatching {
    typealias Entry = (key: [String?], hash: String?)
    var leftOnly: [String: Entry] = [:]
    var rightOnly: [String: Entry] = [:]
    var differing: [String: (key: [String?], kind: RowDelta.Kind)] = [:]
    var lookups = 0

    var waiting: Int { leftOnly.count + rightOnly.count }

    mutating func add(left: [String: Entry], right: [String: Entry]) {
        var right = right
        for (id, entry) in left {
            if let other = right.removeValue(forKey: id) ?? rightOnly.removeValue(forKey: id) {
                compare(id, entry, other)
            } else {
                leftOnly[id] = entry
            }
        }
        for (id, entry) in right {
            if let other = leftOnly.removeValue(forKey: id) {
                compare(id, other, entry)
            } else {
                rightOnly[id] = entry
            }
        }
    }

    /// The waiting rows, given what a lookup by key found on the other side (absent: the row is not there).
    mutating func settle(foundRight: [String: Entry], foundLeft: [String: Entry]) {
        for (id, entry) in leftOnly {
            if let other = foundRight[id] { compare(id, entry, other) } else { differing[id] = (entry.key, .removed) }
        }
        for (id, entry) in rightOnly {
            if let other = foundLeft[id] { compare(id, other, entry) } else { differing[id] = (entry.key, .added) }
        }
        leftOnly = [:]
        rightOnly = [:]
    }

    private mutating func compare(_ id: String, _ left: Entry, _ right: Entry) {
        if left.hash != right.hash { differing[id] = (left.key, .changed) }
    }
}
