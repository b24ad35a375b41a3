import BranchCore
import BranchDiff
import BranchEngine

/// Writes diff results as JSON Lines (`application/x-ndjson`), the wire form documented by the
/// `DiffLine` schema: one object per line with sorted keys, NULL values as `null`. Written by
/// hand because a diff can have millions of lines and this is its hot path: no intermediate
/// objects, one growing byte array per batch.
struct DiffLineWriter {
    private(set) var bytes: [UInt8] = []

    mutating func take() -> [UInt8] {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes
    }

    mutating func write(_ event: DiffEvent) {
        switch event {
        case .schema(let change):
            raw("{\"schema\":{\"change\":")
            string(change.change.rawValue)
            raw(",\"classification\":")
            string(change.classification.rawValue)
            optional("from", change.from)
            raw(",\"name\":")
            string(change.name)
            raw(",\"objectType\":")
            string(change.objectType)
            optional("reason", change.reason)
            optional("to", change.to)
            raw("},\"type\":\"schema\"}\n")
        case .row(let row):
            raw("{\"row\":{\"change\":")
            string(row.kind.rawValue)
            if let columns = row.columns {
                raw(",\"columns\":[")
                for (index, column) in columns.enumerated() {
                    if index > 0 { raw(",") }
                    raw("{\"column\":")
                    string(column.column)
                    raw(",\"new\":")
                    nullable(column.new)
                    raw(",\"old\":")
                    nullable(column.old)
                    if let patch = column.patch {
                        raw(",\"patch\":[")
                        for (index, operation) in patch.enumerated() {
                            if index > 0 { raw(",") }
                            raw("{\"op\":")
                            string(operation.op.rawValue)
                            raw(",\"path\":")
                            string(operation.path)
                            if let value = operation.value {
                                raw(",\"value\":")
                                json(value)
                            }
                            raw("}")
                        }
                        raw("]")
                    }
                    raw("}")
                }
                raw("]")
            }
            if let count = row.count { raw(",\"count\":\(count)") }
            raw(",\"key\":")
            values(row.key)
            if let whole = row.row {
                raw(",\"row\":")
                values(whole)
            }
            raw(",\"table\":")
            string(row.table)
            raw("},\"type\":\"row\"}\n")
        case .table(let summary):
            raw("{\"table\":{\"added\":\(summary.added),\"changed\":\(summary.changed),\"complete\":\(summary.complete),\"method\":")
            string(summary.method.rawValue)
            if let read = summary.pagesRead { raw(",\"pagesRead\":\(read)") }
            if let skipped = summary.pagesSkipped { raw(",\"pagesSkipped\":\(skipped)") }
            raw(",\"removed\":\(summary.removed),\"table\":")
            string(summary.table)
            if let tuples = summary.tuplesCompared { raw(",\"tuplesCompared\":\(tuples)") }
            raw("},\"type\":\"table\"}\n")
        case .columns(let columns):
            raw("{\"columns\":{\"complete\":\(columns.complete),\"counts\":[")
            for (index, count) in columns.counts.enumerated() {
                if index > 0 { raw(",") }
                raw("{\"changed\":\(count.changed),\"column\":")
                string(count.column)
                raw("}")
            }
            raw("],\"rows\":\(columns.rows),\"table\":")
            string(columns.table)
            raw("},\"type\":\"columns\"}\n")
        case .end(let totals):
            raw("{\"end\":{\"breakingChanges\":\(totals.breakingChanges),\"bytesFromFirst\":\(totals.bytesFromFirst)")
            raw(",\"bytesFromSecond\":\(totals.bytesFromSecond),\"durationMs\":\(totals.durationMs),\"from\":")
            string(totals.from)
            optional("nextCursor", totals.nextCursor)
            raw(",\"rowsAdded\":\(totals.rowsAdded),\"rowsChanged\":\(totals.rowsChanged),\"rowsRemoved\":\(totals.rowsRemoved)")
            raw(",\"schemaChanges\":\(totals.schemaChanges),\"to\":")
            string(totals.to)
            raw("},\"type\":\"end\"}\n")
        }
    }

    /// The line a diff ends with when it fails after it started streaming.
    mutating func writeError(code: String, message: String, hint: String?) {
        raw("{\"error\":{\"code\":")
        string(code)
        optional("hint", hint)
        raw(",\"message\":")
        string(message)
        raw("},\"type\":\"error\"}\n")
    }

    // MARK: JSON pieces

    private mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    private mutating func optional(_ key: String, _ value: String?) {
        guard let value else { return }
        raw(",\"\(key)\":")
        string(value)
    }

    private mutating func nullable(_ value: String?) {
        if let value { string(value) } else { raw("null") }
    }

    /// An object of column values, keys sorted, NULL as `null`.
    private mutating func values(_ object: [String: String?]) {
        raw("{")
        for (index, key) in object.keys.sorted().enumerated() {
            if index > 0 { raw(",") }
            string(key)
            raw(":")
            nullable(object[key] ?? nil)
        }
        raw("}")
    }

    private mutating func json(_ value: JSONValue) {
        switch value {
        case .string(let text): string(text)
        case .number(let number): raw(number.isFinite ? "\(number)" : "null")
        case .integer(let integer): raw("\(integer)")
        case .bool(let flag): raw(flag ? "true" : "false")
        case .null: raw("null")
        case .array(let items):
            raw("[")
            for (index, item) in items.enumerated() {
                if index > 0 { raw(",") }
                json(item)
            }
            raw("]")
        case .object(let object):
            raw("{")
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { raw(",") }
                string(key)
                raw(":")
                json(object[key]!)
            }
            raw("}")
        }
    }

    /// A JSON string: quotes, backslashes and control characters escaped, everything else as UTF-8.
    private mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
