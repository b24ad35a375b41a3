// libFuzzer entry: the value of `select=` after form decoding (columns, aliases, casts, JSON paths,
// embeds nested in embeds). Compiled by scripts/fuzz.sh together with Sources/BranchREST/Parsing and
// the model it fills, into a module named BranchREST.

/// Any input parses or is refused with a 400, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSelect(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try SelectParser.parse(text)
    } catch {
        guard error.status == 400 else { fatalError("select refused with \(error.status) \(error.code): \(error.message)") }
    }
    return 0
}
