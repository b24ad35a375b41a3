// libFuzzer entry: a whole request's query string, as `/rest/v1/{relation}?…` hands it to the data
// API (RequestPlanner: `QueryParser.parse(FormQuery.pairs(rawQuery))`), then the page its `limit`
// and `offset` ask for (ReadPlanner, CallPlanner). Compiled by scripts/fuzz.sh together with
// Sources/BranchREST/Parsing, the model it fills and PageRange, into a module named BranchREST.

/// Any input: form-decoded, parsed, paged; a refusal must be a 400, never a trap or another status.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQueryString(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let rawQuery = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // Path segments are decoded without `+` as a space.
    _ = FormQuery.decode(Substring(rawQuery), plusIsSpace: false)
    do {
        let query = try QueryParser.parse(FormQuery.pairs(rawQuery))
        for maxRows in [nil, 1000] {
            let page = PageRange(limit: query.limit[[]], offset: query.offset[[]], header: nil, maxRows: maxRows)
            guard page.offset >= 0, page.limit.map({ $0 >= 0 }) ?? true else { fatalError("page \(page) of \(rawQuery)") }
        }
    } catch {
        guard error.status == 400 else { fatalError("query string refused with \(error.status) \(error.code): \(error.message)") }
    }
    return 0
}
