import BranchCore
import BranchPostgres
import Foundation

extension RowDiffer {
    // MARK: Tables with a primary key

    /// A half-open key range: from `lower` (inclusive) to `upper` (exclusive); nil is unbounded.
    struct Range {
        var lower: [String?]?
        var upper: [String?]?
        /// Exclusive lower bound (the resume position).
        var after: [String?]?
    }

    func condition(_ range: Range, _ table: TableComparison, parameters: inout [String?]) -> String {
        var parts: [String] = []
        func tuple(_ values: [String?]) -> String {
            let placeholders = values.enumerated().map { index, value in
                parameters.append(value)
                return "$\(parameters.count)::\(table.keyTypes[index])"
            }
            return placeholders.count == 1 ? placeholders[0] : "(\(placeholders.joined(separator: ", ")))"
        }
        if let lower = range.lower { parts.append("\(table.keyTuple) >= \(tuple(lower))") }
        if let upper = range.upper { parts.append("\(table.keyTuple) < \(tuple(upper))") }
        if let after = range.after { parts.append("\(table.keyTuple) > \(tuple(after))") }
        return parts.isEmpty ? "TRUE" : parts.joined(separator: " AND ")
    }

    func compareByKey(_ state: inout State, after: [String?]?) async throws {
        let table = state.table
        if let pages, let found = try await changedPages(table, pages), try await compareCandidates(&state, found, after: after) {
            return
        }
        let whole = Range(lower: nil, upper: nil, after: after)
        let estimate = try await estimatedRows(table)
        if estimate <= Double(settings.smallTable) {
            try await fetchAndEmit(&state, whole)
            return
        }
        let boundaries = try await splitPoints(table, whole, parts: settings.firstSegments, estimate: estimate)
        try await bisect(&state, whole, boundaries: boundaries)
    }

    /// Compares `range` split at `boundaries`, recursing into differing parts in key order.
    func bisect(_ state: inout State, _ range: Range, boundaries: [[String?]]) async throws {
        let table = state.table
        let parts = segments(of: range, at: boundaries)
        async let firstSums = checksums(first, table, parts, boundaries: boundaries, range: range)
        async let secondSums = checksums(second, table, parts, boundaries: boundaries, range: range)
        let (a, b) = try await (firstSums, secondSums)
        for (index, part) in parts.enumerated() {
            if state.stopped { return }
            let left = a[index] ?? (0, 0)
            let right = b[index] ?? (0, 0)
            if left == right { continue }
            if max(left.count, right.count) <= settings.fetchThreshold {
                try await fetchAndEmit(&state, part)
            } else {
                let larger = left.count >= right.count ? first : second
                let points = try await sampledKeys(larger, table, part, count: max(left.count, right.count), parts: settings.fanout)
                if points.isEmpty {
                    try await fetchAndEmit(&state, part)
                } else {
                    try await bisect(&state, part, boundaries: points)
                }
            }
        }
    }

    func segments(of range: Range, at boundaries: [[String?]]) -> [Range] {
        var parts: [Range] = []
        var lower = range.lower
        for boundary in boundaries {
            parts.append(Range(lower: lower, upper: boundary, after: range.after))
            lower = boundary
        }
        parts.append(Range(lower: lower, upper: range.upper, after: range.after))
        return parts
    }

    /// Row count and XOR of row hashes per part: one grouped scan with width_bucket for a single
    /// key column, one query per part for a composite key.
    func checksums(
        _ connection: PGConnection, _ table: TableComparison, _ parts: [Range], boundaries: [[String?]], range: Range
    ) async throws -> [Int: (count: Int, hash: Int64)] {
        var result: [Int: (count: Int, hash: Int64)] = [:]
        if table.keyColumns.count == 1 {
            var parameters: [String?] = []
            let within = condition(range, table, parameters: &parameters)
            parameters.append("{" + boundaries.map { arrayElement($0[0]) }.joined(separator: ",") + "}")
            let sql = """
                SELECT width_bucket(\(table.keyColumns[0]), $\(parameters.count)::\(table.keyTypes[0])[]), count(*), bit_xor(\(table.rowHash))
                FROM \(table.table) WHERE \(within) GROUP BY 1
                """
            for row in try await connection.query(sql, parameters).rows {
                guard let bucket = row[0].flatMap(Int.init) else { continue }
                result[bucket] = (Int(row[1] ?? "0") ?? 0, Int64(row[2] ?? "0") ?? 0)
            }
            return result
        }
        for (index, part) in parts.enumerated() {
            var parameters: [String?] = []
            let sql = "SELECT count(*), bit_xor(\(table.rowHash)) FROM \(table.table) WHERE \(condition(part, table, parameters: &parameters))"
            let row = try await connection.query(sql, parameters).rows.first ?? []
            result[index] = (Int(row.first.flatMap { $0 } ?? "0") ?? 0, Int64(row.last.flatMap { $0 } ?? "0") ?? 0)
        }
        return result
    }

    func arrayElement(_ value: String?) -> String {
        guard let value else { return "NULL" }
        return Self.quotedArrayElement(value)
    }

    /// `value` double-quoted for an array literal, `\` and `"` escaped; byte by byte, since this
    /// runs for every key of every batch (Foundation's replacingOccurrences cost 15% of a diff).
    static func quotedArrayElement(_ value: String) -> String {
        let backslash = UInt8(ascii: "\\"), quote = UInt8(ascii: "\"")
        guard value.utf8.contains(where: { $0 == backslash || $0 == quote }) else { return "\"" + value + "\"" }
        var bytes: [UInt8] = [quote]
        bytes.reserveCapacity(value.utf8.count + 8)
        for byte in value.utf8 {
            if byte == backslash || byte == quote { bytes.append(backslash) }
            bytes.append(byte)
        }
        bytes.append(quote)
        return String(decoding: bytes, as: UTF8.self)
    }

    func estimatedRows(_ table: TableComparison) async throws -> Double {
        let sql = "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::regclass"
        async let a = first.query(sql, [table.table]).scalar
        async let b = second.query(sql, [table.table]).scalar
        let (x, y) = try await (a, b)
        let estimate = max(Double(x ?? "0") ?? 0, Double(y ?? "0") ?? 0)
        // A never-analyzed table reports 0 or -1: count it to be sure.
        if estimate <= 0 {
            async let c = first.query("SELECT count(*) FROM \(table.table)").scalar
            async let d = second.query("SELECT count(*) FROM \(table.table)").scalar
            let (p, q) = try await (c, d)
            return max(Double(p ?? "0") ?? 0, Double(q ?? "0") ?? 0)
        }
        return estimate
    }

    /// About `parts - 1` keys splitting the table evenly: arithmetic for an integer key,
    /// otherwise a sample read in key order.
    func splitPoints(_ table: TableComparison, _ range: Range, parts: Int, estimate: Double) async throws -> [[String?]] {
        if table.isIntegerKey {
            let sql = "SELECT min(\(table.keyColumns[0]))::text, max(\(table.keyColumns[0]))::text FROM \(table.table)"
            async let a = first.query(sql).rows.first
            async let b = second.query(sql).rows.first
            let (x, y) = try await (a, b)
            let lows = [x?[0], y?[0]].compactMap { $0 ?? nil }.compactMap { Int64($0) }
            let highs = [x?[1], y?[1]].compactMap { $0 ?? nil }.compactMap { Int64($0) }
            guard let low = lows.min(), let high = highs.max(), high > low else { return [] }
            let step = max(1, (high - low) / Int64(parts))
            let points: [Int64] = Array(stride(from: low + step, through: high, by: Int(step)))
            return points.prefix(parts - 1).map { [String($0)] }
        }
        let percent = min(100, max(0.01, 100 * Double(parts * 50) / max(estimate, 1)))
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let rows = try await first.query(
            "SELECT \(keys) FROM \(table.table) TABLESAMPLE SYSTEM (\(percent)) ORDER BY \(table.keyOrder)").rows
        guard rows.count > parts else { return rows.count > 1 ? Array(rows.dropFirst()) : [] }
        let step = rows.count / parts
        return stride(from: step, to: rows.count, by: step).map { rows[$0] }
    }

    /// Keys splitting a part evenly, read from the side with more rows in it.
    func sampledKeys(_ connection: PGConnection, _ table: TableComparison, _ part: Range, count: Int, parts: Int) async throws -> [[String?]] {
        if table.isIntegerKey, let lower = part.lower?.first.flatMap({ $0 }).flatMap(Int64.init),
            let upper = part.upper?.first.flatMap({ $0 }).flatMap(Int64.init), upper - lower > Int64(parts)
        {
            let step = (upper - lower) / Int64(parts)
            let points: [Int64] = Array(stride(from: lower + step, to: upper, by: Int(step)))
            return points.prefix(parts - 1).map { [String($0)] }
        }
        var parameters: [String?] = []
        let within = condition(part, table, parameters: &parameters)
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let step = max(1, count / parts)
        let sql = """
            SELECT \(table.keyColumns.indices.map { "k\($0)" }.joined(separator: ", ")) FROM (
                SELECT \(table.keyColumns.enumerated().map { "\($1)::text AS k\($0)" }.joined(separator: ", ")),
                       row_number() OVER (ORDER BY \(table.keyOrder)) AS position
                FROM \(table.table) WHERE \(within)) numbered
            WHERE position % \(step) = 0 ORDER BY position
            """
        _ = keys
        return try await connection.query(sql, parameters).rows
    }

    /// Reads key and hash of every row of a small part on both sides, then the differing rows,
    /// and emits them in key order.
    func fetchAndEmit(_ state: inout State, _ part: Range) async throws {
        let table = state.table
        var parameters: [String?] = []
        let within = condition(part, table, parameters: &parameters)
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let sql = "SELECT \(keys), \(table.rowHash) FROM \(table.table) WHERE \(within)"
        async let a = first.query(sql, parameters).rows
        async let b = second.query(sql, parameters).rows
        let (firstRows, secondRows) = try await (a, b)
        let width = table.keyColumns.count
        func index(_ rows: [[String?]]) -> [String: (key: [String?], hash: String?)] {
            var map: [String: (key: [String?], hash: String?)] = [:]
            for row in rows { map[Self.keyString(Array(row.prefix(width)))] = (Array(row.prefix(width)), row[width]) }
            return map
        }
        let left = index(firstRows)
        let right = index(secondRows)
        var differing: [[String?]] = []
        for (id, entry) in left where right[id]?.hash != entry.hash { differing.append(entry.key) }
        for (id, entry) in right where left[id] == nil { differing.append(entry.key) }
        guard !differing.isEmpty else { return }
        if state.emit == nil && state.budget == nil {
            // Counts only: the hashes already tell added, removed and changed apart.
            for (id, entry) in left {
                if let other = right[id] { if other.hash != entry.hash { state.changed += 1 } } else { state.removed += 1 }
            }
            state.added += right.keys.filter { left[$0] == nil }.count
            return
        }

        // The differing rows, in key order, from both sides.
        try await emitRows(&state, try await orderKeys(differing, table))
    }

    /// Fetches the rows of `ordered` keys (in key order) from both sides, a batch at a time, and
    /// emits those that differ, in that order, until the budget is spent. The next batch's rows
    /// are read from both servers (a child task) while this batch's are emitted, so neither waits
    /// for the other. Stopped by the budget, the read ahead still finishes: cancelling it would
    /// abort both sides' transactions, which the rest of the diff reads in.
    func emitRows(_ state: inout State, _ ordered: [[String?]]) async throws {
        let batches = stride(from: 0, to: ordered.count, by: 1000).map { Array(ordered[$0..<min($0 + 1000, ordered.count)]) }
        guard !batches.isEmpty else { return }
        let table = state.table
        try await withThrowingTaskGroup(of: (Rows, Rows).self) { group in
            let fetch = { @Sendable (keys: [[String?]]) async throws -> (Rows, Rows) in
                async let a = self.rows(self.first, table, keys: keys)
                async let b = self.rows(self.second, table, keys: keys)
                return try await (a, b)
            }
            group.addTask { try await fetch(batches[0]) }
            for index in batches.indices {
                guard let fetched = try await group.next() else { return }
                // Read ahead: the next batch while this one is emitted.
                if index + 1 < batches.count { group.addTask { try await fetch(batches[index + 1]) } }
                try await emitBatch(&state, batches[index], fetched)
                if state.stopped { return }
            }
        }
    }

    /// Whole rows by key string (`rows(_:_:keys:)`).
    typealias Rows = [String: [String: String?]]

    private func emitBatch(_ state: inout State, _ ordered: [[String?]], _ fetched: (Rows, Rows)) async throws {
        let table = state.table
        let (firstFull, secondFull) = fetched
        for key in ordered {
            if state.full {
                state.stopped = true
                return
            }
            let id = Self.keyString(key)
            let keyObject = Dictionary(uniqueKeysWithValues: zip(table.keyNames, key))
            switch (firstFull[id], secondFull[id]) {
            case (nil, let new?):
                state.added += 1
                try await emit(&state, RowDelta(kind: .added, key: keyObject, keyValues: key, old: nil, new: new, count: 1), position: key)
            case (let old?, nil):
                state.removed += 1
                try await emit(&state, RowDelta(kind: .removed, key: keyObject, keyValues: key, old: old, new: nil, count: 1), position: key)
            case (let old?, let new?):
                if old == new { continue }
                state.changed += 1
                try await emit(&state, RowDelta(kind: .changed, key: keyObject, keyValues: key, old: old, new: new, count: 1), position: key)
            case (nil, nil):
                continue
            }
        }
    }
}
