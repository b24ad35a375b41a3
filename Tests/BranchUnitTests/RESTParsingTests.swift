import BranchREST
import Testing

/// The error a parse throws, or nil when it succeeds.
private func parseError<T>(_ parse: () throws(RESTError) -> T) -> RESTError? {
    do {
        _ = try parse()
        return nil
    } catch {
        return error
    }
}

/// Expects a 400 PGRST100 whose message names `subject` (e.g. `filter (eq)`).
private func expectSyntaxError<T>(_ subject: String, sourceLocation: SourceLocation = #_sourceLocation, _ parse: () throws(RESTError) -> T) {
    let error = parseError(parse)
    #expect(error?.status == 400, sourceLocation: sourceLocation)
    #expect(error?.code == "PGRST100", sourceLocation: sourceLocation)
    #expect(error?.message.hasPrefix("\"failed to parse \(subject)\" (line 1, column ") == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    #expect(error?.details?.isEmpty == false, sourceLocation: sourceLocation)
}

/// Shorthands for expected values.
private func field(_ column: String, _ path: [FieldPath.Step] = []) -> FieldPath { FieldPath(column, jsonPath: path) }
private func condition(_ column: String, _ op: FilterOperator, _ operand: Operand, negated: Bool = false) -> LogicTree {
    .condition(Condition(field: field(column), negated: negated, op: op, operand: operand))
}

@Suite("REST parsing")
struct RESTParsingTests {
    // MARK: Form decoding

    @Test("form decoding: + is a space, %2B a plus, %20 a space")
    func formPlusAndPercent() {
        let pairs = FormQuery.pairs("name=eq.John+Smith&tag=eq.a%2Bb&text=fts.fat%20cat&k%2By=1")
        #expect(pairs.map(\.key) == ["name", "tag", "text", "k+y"])
        #expect(pairs.map(\.value) == ["eq.John Smith", "eq.a+b", "fts.fat cat", "1"])
    }

    @Test("form decoding: repeated keys keep their order, empty and missing values are empty")
    func formRepeatsAndEmpties() {
        let pairs = FormQuery.pairs("id=gt.1&flag&id=lte.9&&empty=&x=a=b")
        #expect(pairs.map(\.key) == ["id", "flag", "id", "empty", "x"])
        #expect(pairs.map(\.value) == ["gt.1", "", "lte.9", "", "a=b"])
    }

    @Test("form decoding: malformed escapes stay as written, UTF-8 is decoded")
    func formMalformedPercent() {
        let pairs = FormQuery.pairs("a=100%&b=%zz1&c=%4&d=caf%C3%A9&e=%E2%9C%93")
        #expect(pairs.map(\.value) == ["100%", "%zz1", "%4", "café", "✓"])
    }

    // MARK: Filters

    @Test("operators whose value is kept verbatim", arguments: [
        "eq", "neq", "gt", "gte", "lt", "lte", "match", "imatch", "isdistinct", "cs", "cd", "ov", "sl", "sr", "nxl", "nxr", "adj",
    ])
    func verbatimOperators(name: String) throws {
        let parsed = try FilterParser.condition(field: "col", value: "\(name).a*b.c,d")
        #expect(parsed == Condition(field: field("col"), op: FilterOperator(rawValue: name)!, operand: .value("a*b.c,d")))
    }

    @Test("like and ilike turn * into %")
    func likeStar() throws {
        #expect(try FilterParser.condition(field: "name", value: "like.*Jo*n*").operand == .value("%Jo%n%"))
        #expect(try FilterParser.condition(field: "name", value: "ilike.%a%").operand == .value("%a%"))
        #expect(try FilterParser.condition(field: "name", value: "match.^a*").operand == .value("^a*"))
    }

    @Test("not. negates any operator")
    func negation() throws {
        let parsed = try FilterParser.condition(field: "id", value: "not.in.(1,2)")
        #expect(parsed == Condition(field: field("id"), negated: true, op: .in, operand: .list(["1", "2"])))
        #expect(try FilterParser.condition(field: "done", value: "not.is.true").negated)
        #expect(try FilterParser.condition(field: "x", value: "eq.not.a").operand == .value("not.a"))
    }

    @Test("is takes null, not_null, true, false, unknown in any case")
    func isValues() throws {
        let cases: [(String, Operand.IsValue)] = [("null", .null), ("NULL", .null), ("not_null", .notNull), ("True", .true), ("false", .false), ("unknown", .unknown)]
        for (text, value) in cases {
            #expect(try FilterParser.condition(field: "a", value: "is.\(text)").operand == .isValue(value))
        }
        expectSyntaxError("filter (is.nil)") { () throws(RESTError) in try FilterParser.condition(field: "a", value: "is.nil") }
        expectSyntaxError("filter (is.nullx)") { () throws(RESTError) in try FilterParser.condition(field: "a", value: "is.nullx") }
    }

    @Test("in lists: quoted items with commas, escapes, empty items and the empty list")
    func inLists() throws {
        let parsed = try FilterParser.condition(field: "name", value: #"in.(1,2,"a,b","say \"hi\"","back\\slash",,"(x)")"#)
        #expect(parsed.operand == .list(["1", "2", "a,b", #"say "hi""#, #"back\slash"#, "", "(x)"]))
        #expect(try FilterParser.condition(field: "id", value: "in.()").operand == .list([]))
        #expect(try FilterParser.condition(field: "id", value: "in.( 1,2 )").operand == .list(["1", "2 "]))
        // A quote that does not end the item is part of a bare item.
        #expect(try FilterParser.condition(field: "s", value: #"in.("a"b,c)"#).operand == .list([#""a"b"#, "c"]))
    }

    @Test("in lists: malformed ones are PGRST100")
    func malformedInLists() {
        expectSyntaxError("filter (in.1,2)") { () throws(RESTError) in try FilterParser.condition(field: "id", value: "in.1,2") }
        expectSyntaxError("filter (in.(1,2)") { () throws(RESTError) in try FilterParser.condition(field: "id", value: "in.(1,2") }
        expectSyntaxError("filter (in.(1)x)") { () throws(RESTError) in try FilterParser.condition(field: "id", value: "in.(1)x") }
    }

    @Test("(any) and (all) take a {…} or (…) list")
    func quantifiers() throws {
        let like = try FilterParser.condition(field: "name", value: #"like(any).{O*, "P* q",x}"#)
        #expect(like == Condition(field: field("name"), op: .like, quantifier: .any, operand: .list(["O%", "P% q", "x"])))
        let eq = try FilterParser.condition(field: "id", value: "eq(all).(1,2)")
        #expect(eq.quantifier == .all)
        #expect(eq.operand == .list(["1", "2"]))
        #expect(try FilterParser.condition(field: "id", value: "not.gt(any).{}").operand == .list([]))
    }

    @Test("modifiers: unknown or on the wrong operator are PGRST100")
    func badModifiers() {
        expectSyntaxError("filter (eq(some).{1})") { () throws(RESTError) in try FilterParser.condition(field: "id", value: "eq(some).{1}") }
        expectSyntaxError("filter (in(any).{1})") { () throws(RESTError) in try FilterParser.condition(field: "id", value: "in(any).{1}") }
        expectSyntaxError("filter (eq(any).1)") { () throws(RESTError) in try FilterParser.condition(field: "id", value: "eq(any).1") }
        expectSyntaxError("filter (fts().cat)") { () throws(RESTError) in try FilterParser.condition(field: "t", value: "fts().cat") }
    }

    @Test("full-text search: operators and their language")
    func textSearch() throws {
        let web = try FilterParser.condition(field: "body", value: "wfts(english).fat & cat")
        #expect(web == Condition(field: field("body"), op: .wfts, language: "english", operand: .value("fat & cat")))
        let plain = try FilterParser.condition(field: "body", value: "not.plfts.cat")
        #expect(plain == Condition(field: field("body"), negated: true, op: .plfts, operand: .value("cat")))
        #expect(try FilterParser.condition(field: "b", value: "phfts(simple).a b").language == "simple")
        #expect(try FilterParser.condition(field: "b", value: "fts.a:*").op == .fts)
    }

    @Test("array, range and JSON values are kept as written")
    func containmentValues() throws {
        #expect(try FilterParser.condition(field: "tags", value: #"cs.{a,"b c"}"#).operand == .value(#"{a,"b c"}"#))
        #expect(try FilterParser.condition(field: "span", value: "ov.[1,5)").operand == .value("[1,5)"))
        #expect(try FilterParser.condition(field: "doc", value: #"cd.{"a":1,"b":[2]}"#).operand == .value(#"{"a":1,"b":[2]}"#))
        #expect(try FilterParser.condition(field: "s", value: "eq.").operand == .value(""))
    }

    @Test("field paths: columns, JSON arrows, indexes, quoted names")
    func fieldPaths() throws {
        #expect(try FilterParser.fieldPath("data->a->>b") == field("data", [.init(.json, "a"), .init(.text, "b")]))
        #expect(try FilterParser.fieldPath("arr->0->>-1") == field("arr", [.init(.json, "0"), .init(.text, "-1")]))
        #expect(try FilterParser.fieldPath("first-name") == field("first-name"))
        #expect(try FilterParser.fieldPath(#""my col"->"a.b""#) == field("my col", [.init(.json, "a.b")]))
        #expect(try FilterParser.fieldPath("data->>x").defaultName == "x")
        expectSyntaxError("field (data->)") { () throws(RESTError) in try FilterParser.fieldPath("data->") }
        expectSyntaxError("field (a.b)") { () throws(RESTError) in try FilterParser.fieldPath("a.b") }
        expectSyntaxError("field (->>-x)") { () throws(RESTError) in try FilterParser.fieldPath("->>-x") }
    }

    @Test("malformed filters are PGRST100 naming the value")
    func malformedFilters() {
        let unknown = parseError { () throws(RESTError) in try FilterParser.condition(field: "a", value: "noop.0") }
        #expect(unknown?.message == #""failed to parse filter (noop.0)" (line 1, column 1)"#)
        #expect(unknown?.details?.contains("unknown operator noop") == true)
        expectSyntaxError("filter (eq)") { () throws(RESTError) in try FilterParser.condition(field: "a", value: "eq") }
        expectSyntaxError("filter ()") { () throws(RESTError) in try FilterParser.condition(field: "a", value: "") }
        expectSyntaxError("filter (not.)") { () throws(RESTError) in try FilterParser.condition(field: "a", value: "not.") }
        let column = parseError { () throws(RESTError) in try FilterParser.condition(field: "a", value: "eq|1") }
        #expect(column?.message.hasSuffix("(line 1, column 3)") == true)
    }

    // MARK: Logic trees

    @Test("or/and trees nest, with not. on conditions and groups")
    func nestedLogic() throws {
        let tree = try FilterParser.logic("(id.eq.1,and(name.eq.b,not.done.is.true),not.or(a.lt.0, b.gt.9))", isOr: true, negated: false)
        #expect(tree == .or([
            condition("id", .eq, .value("1")),
            .and([condition("name", .eq, .value("b")), condition("done", .is, .isValue(.true), negated: true)], negated: false),
            .or([condition("a", .lt, .value("0")), condition("b", .gt, .value("9"))], negated: true),
        ], negated: false))
        #expect(try FilterParser.logic("(a.eq.1)", isOr: false, negated: true) == .and([condition("a", .eq, .value("1"))], negated: true))
        let deep = try FilterParser.logic("(not.and(or(a.eq.1,b.eq.2),c.eq.3))", isOr: false, negated: false)
        #expect(deep == .and([.and([.or([condition("a", .eq, .value("1")), condition("b", .eq, .value("2"))], negated: false), condition("c", .eq, .value("3"))], negated: true)], negated: false))
    }

    @Test("logic values: quoted strings with commas and parentheses, lists, arrays, ranges, JSON")
    func logicValues() throws {
        let tree = try FilterParser.logic(#"(name.eq."a,b",note.like."(x*)",tag.cs.{a,b},id.in.(1,"2,3"),span.ov.[1,5),r.adj.(1,2],doc.cs.{"k":{"v":1}},s.eq.,q.eq."say \"hi\"")"#, isOr: true, negated: false)
        #expect(tree == .or([
            condition("name", .eq, .value("a,b")),
            condition("note", .like, .value("(x%)")),
            condition("tag", .cs, .value("{a,b}")),
            condition("id", .in, .list(["1", "2,3"])),
            condition("span", .ov, .value("[1,5)")),
            condition("r", .adj, .value("(1,2]")),
            condition("doc", .cs, .value(#"{"k":{"v":1}}"#)),
            condition("s", .eq, .value("")),
            condition("q", .eq, .value(#"say "hi""#)),
        ], negated: false))
    }

    @Test("logic conditions: JSON paths, quantifiers and fts languages")
    func logicConditionForms() throws {
        let tree = try FilterParser.logic("(data->>a.eq.1,name.ilike(any).{a*,b*},body.fts(english).cat,x.not.eq.2)", isOr: true, negated: false)
        #expect(tree == .or([
            .condition(Condition(field: field("data", [.init(.text, "a")]), op: .eq, operand: .value("1"))),
            .condition(Condition(field: field("name"), op: .ilike, quantifier: .any, operand: .list(["a%", "b%"]))),
            .condition(Condition(field: field("body"), op: .fts, language: "english", operand: .value("cat"))),
            .condition(Condition(field: field("x"), negated: true, op: .eq, operand: .value("2"))),
        ], negated: false))
    }

    @Test("malformed logic trees are PGRST100", arguments: [
        "()", "", "(id.eq.1", "id.eq.1", "(id.eq.1))", "(id.in.1,2)", "(id.eq.1,,id.eq.2)", "(id.zz.1)", "(and(id.eq.1)", "(not.xor(a.eq.1))", "(id)", "(doc.cs.{a)",
    ])
    func malformedLogic(value: String) {
        expectSyntaxError("logic tree (\(value))") { () throws(RESTError) in try FilterParser.logic(value, isOr: true, negated: false) }
    }

    // MARK: select

    @Test("select: columns, star, spaces around commas")
    func selectColumns() throws {
        #expect(try SelectParser.parse("id, name ,*") == [.field(field("id"), alias: nil, cast: nil), .field(field("name"), alias: nil, cast: nil), .star])
        #expect(try SelectParser.parse("") == [.star])
        #expect(try SelectParser.parse("*") == [.star])
    }

    @Test("select: aliases, casts and JSON paths")
    func selectRenamesAndCasts() throws {
        let items = try SelectParser.parse("full:name,id::text,label:id::text,data->a->>b,alias:data->0::int,price::double precision")
        #expect(items == [
            .field(field("name"), alias: "full", cast: nil),
            .field(field("id"), alias: nil, cast: "text"),
            .field(field("id"), alias: "label", cast: "text"),
            .field(field("data", [.init(.json, "a"), .init(.text, "b")]), alias: nil, cast: nil),
            .field(field("data", [.init(.json, "0")]), alias: "alias", cast: "int"),
            .field(field("price"), alias: nil, cast: "double precision"),
        ])
    }

    @Test("select: quoted and dashed identifiers")
    func selectQuotedNames() throws {
        #expect(try SelectParser.parse(#""my col","a:b":"x,y",first-name"#) == [
            .field(field("my col"), alias: nil, cast: nil),
            .field(field("x,y"), alias: "a:b", cast: nil),
            .field(field("first-name"), alias: nil, cast: nil),
        ])
    }

    @Test("select: embeds with aliases, hints, joins and nesting")
    func selectEmbeds() throws {
        let items = try SelectParser.parse("id,author:users!author_id(name),films!inner(title, actors(*)),x:rel!fk!left(*),r!inner!hint(),p!left(id)")
        #expect(items == [
            .field(field("id"), alias: nil, cast: nil),
            .embed(Embed(relation: "users", alias: "author", hint: "author_id", items: [.field(field("name"), alias: nil, cast: nil)])),
            .embed(Embed(relation: "films", join: .inner, items: [
                .field(field("title"), alias: nil, cast: nil),
                .embed(Embed(relation: "actors", items: [.star])),
            ])),
            .embed(Embed(relation: "rel", alias: "x", hint: "fk", join: .left, items: [.star])),
            .embed(Embed(relation: "r", hint: "hint", join: .inner, items: [])),
            .embed(Embed(relation: "p", join: .left, items: [.field(field("id"), alias: nil, cast: nil)])),
        ])
        if case .embed(let embed) = items[1] { #expect(embed.name == "author") }
    }

    @Test("malformed select lists are PGRST100", arguments: [
        "id,", ",id", "name!hint", "rel(id", "rel(id))", "name::", "clients(name[])", "*!hint", "rel->x(*)", "a!b!c!d(*)", "data->>-78xy", "...rel(*)", "a b:c:d",
    ])
    func malformedSelect(text: String) {
        expectSyntaxError("select parameter (\(text))") { () throws(RESTError) in try SelectParser.parse(text) }
    }

    // MARK: order

    @Test("order: directions, nulls, JSON paths, spaces")
    func orderTerms() throws {
        let terms = try OrderParser.parse("id.desc.nullsfirst,name, age.asc,score.nullslast,data->>k.desc")
        #expect(terms == [
            OrderTerm(field: field("id"), direction: .descending, nulls: .first),
            OrderTerm(field: field("name")),
            OrderTerm(field: field("age"), direction: .ascending),
            OrderTerm(field: field("score"), nulls: .last),
            OrderTerm(field: field("data", [.init(.text, "k")]), direction: .descending),
        ])
    }

    @Test("malformed orders are PGRST100", arguments: [
        "", "id.ac", "id.descc", "id.nulsfist", "id.nullslasttt", "id.asc.smth", "id.nullsfirst.desc", "id.desc.asc", "clients(name)", "id,",
    ])
    func malformedOrder(text: String) {
        expectSyntaxError("order (\(text))") { () throws(RESTError) in try OrderParser.parse(text) }
    }

    // MARK: Query parameters

    @Test("reserved keys and root filters; repeated filters on one key")
    func rootParameters() throws {
        let query = try QueryParser.parse(FormQuery.pairs("select=id,name&id=gt.1&id=lte.9&order=id.desc&limit=10&offset=20&columns=%22a%22,%22b%22&on_conflict=a,%20b"))
        #expect(query.select == [.field(field("id"), alias: nil, cast: nil), .field(field("name"), alias: nil, cast: nil)])
        #expect(query.filters[[]] == [condition("id", .gt, .value("1")), condition("id", .lte, .value("9"))])
        #expect(query.order[[]] == [OrderTerm(field: field("id"), direction: .descending)])
        #expect(query.limit[[]] == 10)
        #expect(query.offset[[]] == 20)
        #expect(query.columns == ["a", "b"])
        #expect(query.onConflict == ["a", "b"])
    }

    @Test("defaults: everything selected, nothing else")
    func emptyQuery() throws {
        let query = try QueryParser.parse([])
        #expect(query == QueryParameters())
        #expect(query.select == [.star])
        #expect(try QueryParser.parse([("select", "")]).select == [.star])
    }

    @Test("embed-scoped keys: filters, order, limit, offset and logic per embed path")
    func embedScopedKeys() throws {
        let query = try QueryParser.parse(FormQuery.pairs(
            "select=*,actors(*,films(*))&actors.name=eq.x&actors.order=name.desc&actors.limit=2&actors.films.offset=1&actors.films.title->>en=like.*a&actors.or=(a.eq.1,b.eq.2)&actors.not.and=(c.eq.3)"
        ))
        #expect(query.filters[[]] == nil)
        #expect(query.filters[["actors"]] == [
            condition("name", .eq, .value("x")),
            .or([condition("a", .eq, .value("1")), condition("b", .eq, .value("2"))], negated: false),
            .and([condition("c", .eq, .value("3"))], negated: true),
        ])
        #expect(query.filters[["actors", "films"]] == [.condition(Condition(field: field("title", [.init(.text, "en")]), op: .like, operand: .value("%a")))])
        #expect(query.order[["actors"]] == [OrderTerm(field: field("name"), direction: .descending)])
        #expect(query.limit[["actors"]] == 2)
        #expect(query.offset[["actors", "films"]] == 1)
    }

    @Test("or, and, not.or, not.and keys join the root filters in order")
    func logicKeys() throws {
        let query = try QueryParser.parse(FormQuery.pairs("a=eq.1&or=(b.eq.2,c.eq.3)&not.or=(d.eq.4)&and=(e.eq.5)&not.and=(f.eq.6,g.eq.7)"))
        #expect(query.filters[[]] == [
            condition("a", .eq, .value("1")),
            .or([condition("b", .eq, .value("2")), condition("c", .eq, .value("3"))], negated: false),
            .or([condition("d", .eq, .value("4"))], negated: true),
            .and([condition("e", .eq, .value("5"))], negated: false),
            .and([condition("f", .eq, .value("6")), condition("g", .eq, .value("7"))], negated: true),
        ])
    }

    @Test("keys that are not filters are ignored, as PostgREST does")
    func nonFilterKeys() throws {
        let query = try QueryParser.parse(FormQuery.pairs("apikey=eyJhbGciOi.eyJyb2xl.c2ln&id=5&name=eq.x&t=wfts(english).cat&n=not.eq.1&g=eq(any).{1}"))
        #expect(query.filters[[]]?.count == 4)
        expectSyntaxError("filter (5)") { () throws(RESTError) in try QueryParser.parse([("actors.id", "5")]) }
        expectSyntaxError("filter (eq)") { () throws(RESTError) in try QueryParser.parse([("id", "eq")]) }
    }

    @Test("limit and offset must be non-negative integers")
    func limitOffsetErrors() {
        expectSyntaxError("limit parameter (-1)") { () throws(RESTError) in try QueryParser.parse([("limit", "-1")]) }
        expectSyntaxError("limit parameter (ten)") { () throws(RESTError) in try QueryParser.parse([("limit", "ten")]) }
        expectSyntaxError("offset parameter (1.5)") { () throws(RESTError) in try QueryParser.parse([("offset", "1.5")]) }
        expectSyntaxError("limit parameter (99999999999999999999)") { () throws(RESTError) in try QueryParser.parse([("actors.limit", "99999999999999999999")]) }
        expectSyntaxError("offset parameter ()") { () throws(RESTError) in try QueryParser.parse([("offset", "")]) }
    }

    @Test("malformed reserved values and keys are PGRST100 naming the part")
    func malformedQueryParameters() {
        expectSyntaxError("select parameter (id,)") { () throws(RESTError) in try QueryParser.parse([("select", "id,")]) }
        expectSyntaxError("order (id.up)") { () throws(RESTError) in try QueryParser.parse([("order", "id.up")]) }
        expectSyntaxError("columns parameter (a,,b)") { () throws(RESTError) in try QueryParser.parse([("columns", "a,,b")]) }
        expectSyntaxError("on_conflict parameter ()") { () throws(RESTError) in try QueryParser.parse([("on_conflict", "")]) }
        expectSyntaxError("logic tree (id.eq.1)") { () throws(RESTError) in try QueryParser.parse([("or", "id.eq.1")]) }
        expectSyntaxError("tree path (a..b)") { () throws(RESTError) in try QueryParser.parse([("a..b", "eq.1")]) }
        expectSyntaxError("tree path (a.b.c!)") { () throws(RESTError) in try QueryParser.parse([("a.b.c!", "eq.1")]) }
        expectSyntaxError("filter (like(any).x)") { () throws(RESTError) in try QueryParser.parse([("name", "like(any).x")]) }
    }

    @Test("a supabase-js request, end to end")
    func supabaseRequest() throws {
        let raw = "select=id%2Ctitle%2Cauthor%3Ausers%21inner%28name%29&title=ilike.%25hello%25&or=%28status.eq.draft%2Cstatus.is.null%29&order=created_at.desc.nullslast&limit=5"
        let query = try QueryParser.parse(FormQuery.pairs(raw))
        #expect(query.select.count == 3)
        #expect(query.select.last == .embed(Embed(relation: "users", alias: "author", join: .inner, items: [.field(field("name"), alias: nil, cast: nil)])))
        #expect(query.filters[[]] == [
            condition("title", .ilike, .value("%hello%")),
            .or([condition("status", .eq, .value("draft")), condition("status", .is, .isValue(.null))], negated: false),
        ])
        #expect(query.order[[]] == [OrderTerm(field: field("created_at"), direction: .descending, nulls: .last)])
        #expect(query.limit[[]] == 5)
    }

    // MARK: Headers

    @Test("Prefer: several headers, comma and comma-space lists")
    func preferCombinations() {
        #expect(PreferParser.parse(["return=representation,count=exact"]) == Preferences(returning: .representation, count: .exact))
        #expect(PreferParser.parse(["return=minimal", "resolution=merge-duplicates, missing=default"])
            == Preferences(returning: .minimal, resolution: .mergeDuplicates, missingDefault: true))
        #expect(PreferParser.parse(["count=planned", "resolution=ignore-duplicates,return=headers-only"])
            == Preferences(returning: .headersOnly, count: .planned, resolution: .ignoreDuplicates))
        #expect(PreferParser.parse(["count=estimated"]).count == .estimated)
    }

    @Test("Prefer: unknown preferences and values are ignored, the first of a kind wins")
    func preferIgnores() {
        #expect(PreferParser.parse([]) == Preferences())
        #expect(PreferParser.parse(["tx=rollback, handling=strict, timezone=UTC", "return=everything", "count", "missing=null"]) == Preferences())
        #expect(PreferParser.parse(["return=minimal", "return=representation"]).returning == .minimal)
    }

    @Test("Accept: supported media types", arguments: [
        (nil, ResponseFormat.jsonArray), ("", .jsonArray), ("*/*", .jsonArray), ("application/json", .jsonArray),
        ("application/json; charset=utf-8", .jsonArray), ("application/vnd.pgrst.object+json", .singleObject),
        ("application/vnd.pgrst.object", .singleObject), ("Application/Vnd.Pgrst.Object+JSON;nulls=stripped", .singleObject),
        ("text/csv", .csv), ("text/html, text/csv", .csv), ("application/*", .jsonArray),
    ] as [(String?, ResponseFormat)])
    func acceptFormats(header: String?, format: ResponseFormat) throws {
        #expect(try AcceptParser.format(header) == format)
    }

    @Test("Accept: q-values rank the choices, q=0 refuses one")
    func acceptQuality() throws {
        #expect(try AcceptParser.format("application/json;q=0.5, text/csv") == .csv)
        #expect(try AcceptParser.format("text/csv;q=0.9, application/vnd.pgrst.object+json;q=0.9") == .csv)
        #expect(try AcceptParser.format("text/csv;q=0, */*;q=0.1") == .jsonArray)
    }

    @Test("Accept: nothing supported is 406 PGRST107")
    func acceptNotAcceptable() {
        for header in ["text/html", "application/xml, image/png", "text/csv;q=0"] {
            let error = parseError { () throws(RESTError) in try AcceptParser.format(header) }
            #expect(error?.status == 406)
            #expect(error?.code == "PGRST107")
        }
        let error = parseError { () throws(RESTError) in try AcceptParser.format("text/html, application/xml") }
        #expect(error?.message == "None of these media types are available: text/html, application/xml")
    }

    @Test("Range: bounds become offset and limit, garbage is ignored", arguments: [
        ("0-9", RowRange(offset: 0, limit: 10)), ("10-", RowRange(offset: 10, limit: nil)), ("5-5", RowRange(offset: 5, limit: 1)),
        (" items=20-29 ", RowRange(offset: 20, limit: 10)), ("0-0", RowRange(offset: 0, limit: 1)),
    ])
    func ranges(header: String, range: RowRange) {
        #expect(RangeParser.parse(header) == range)
    }

    @Test("Range: garbage, reversed and missing headers are nil", arguments: [nil, "", "abc", "-5", "9-3", "1-2-3", "a-b", "+1-2", "0-x"] as [String?])
    func badRanges(header: String?) {
        #expect(RangeParser.parse(header) == nil)
    }

    // `upper - lower + 1` overflowed for `0-9223372036854775807`, a trap that stopped the server.
    @Test("Range: bounds up to Int.max count rows without overflow")
    func hugeRanges() {
        #expect(RangeParser.parse("0-9223372036854775807") == RowRange(offset: 0, limit: .max))
        #expect(RangeParser.parse("9223372036854775807-9223372036854775807") == RowRange(offset: .max, limit: 1))
        #expect(RangeParser.parse("9223320368580709-9223372036854775807") == RowRange(offset: 9_223_320_368_580_709, limit: 9_214_148_716_486_195_099))
        #expect(RangeParser.parse("0-9223372036854775808") == nil)
    }

    // An 80 KB URL nests 40,000 deep: the recursive parsers overflowed the stack (5,000 levels already
    // did in the fuzz targets). Past 100 levels it is a PGRST100 like any other syntax error.
    @Test("select embeds and logic trees nest at most 100 deep")
    func nestingDepth() throws {
        let embeds = { (depth: Int) in String(repeating: "a(", count: depth) + "b" + String(repeating: ")", count: depth) }
        let groups = { (depth: Int) in "(" + String(repeating: "and(", count: depth - 1) + "a.eq.1" + String(repeating: ")", count: depth) }
        #expect(try SelectParser.parse(embeds(100)).count == 1)
        _ = try FilterParser.logic(groups(100), isOr: true, negated: false)
        let errors = [
            parseError { () throws(RESTError) in try SelectParser.parse(embeds(101)) },
            parseError { () throws(RESTError) in try SelectParser.parse(embeds(40_000)) },
            parseError { () throws(RESTError) in try FilterParser.logic(groups(101), isOr: true, negated: false) },
            parseError { () throws(RESTError) in try QueryParser.parse(FormQuery.pairs("or=" + groups(40_000))) },
        ]
        for error in errors {
            #expect(error?.status == 400 && error?.code == "PGRST100" && error?.details == "nested deeper than 100 levels")
        }
    }
}
