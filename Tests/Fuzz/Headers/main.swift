// libFuzzer entry: the request headers the data API parses itself, `Accept`, `Prefer` and `Range`.
// Compiled by scripts/fuzz.sh together with Sources/BranchREST/Parsing, the model it fills and
// PageRange (the page a `Range` asks for), into a module named BranchREST.

/// One header per line, `accept: …`, `prefer: …` (may repeat) or `range: …`; a line with another
/// name goes to all three. Accept refuses with 406 only; Prefer and Range never fail.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeaders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var prefer: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let (name, value) = header(line)
        if name == "accept" || name == nil { accept(value) }
        if name == "prefer" || name == nil { prefer.append(value) }
        if name == "range" || name == nil, let range = RangeParser.parse(value) {
            guard range.offset >= 0, range.limit.map({ $0 > 0 }) ?? true else { fatalError("range \(value) read as \(range)") }
            for maxRows in [nil, 1000] {
                let page = PageRange(limit: nil, offset: nil, header: range, maxRows: maxRows)
                guard page.offset >= 0, page.limit.map({ $0 >= 0 }) ?? true else { fatalError("page \(page) of range \(value)") }
            }
        }
    }
    _ = PreferParser.parse(prefer)
    return 0
}

/// `name: value` with a known name, lowercased; otherwise nil and the whole line.
private func header(_ line: Substring) -> (String?, String) {
    guard let colon = line.firstIndex(of: ":") else { return (nil, String(line)) }
    let name = line[..<colon].lowercased()
    guard ["accept", "prefer", "range"].contains(name) else { return (nil, String(line)) }
    return (name, String(line[line.index(after: colon)...]))
}

/// The format, or a 406.
private func accept(_ value: String) {
    do {
        _ = try AcceptParser.format(value)
    } catch {
        guard error.status == 406 else { fatalError("accept refused with \(error.status) \(error.code)") }
    }
}
