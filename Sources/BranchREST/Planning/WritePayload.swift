/// A write's JSON body as rows for `json_to_recordset`: the columns it sets and the objects as one
/// JSON array (a single object is wrapped), left for Postgres to parse and cast.
struct WritePayload {
    /// The columns written, checked against the relation: the object's keys, the bulk objects'
    /// common keys, or `columns=`.
    var columns: [Column]
    /// The objects, as a JSON array.
    var json: String
    /// How many objects there are.
    var count: Int
    /// Columns some objects lack (possible only with `columns=`): NULL for them, or their DEFAULT
    /// with `Prefer: missing=default`.
    var partial: [Column]

    /// The payload of `body` for `relation`: 400 `PGRST102` when it is not JSON objects or a bulk
    /// insert's objects differ in keys without `columns=`; 400 `PGRST204` for an unknown column.
    /// With `missingDefault`, a listed column no object has is left out, so it takes its DEFAULT
    /// (identity columns included).
    init(_ body: [UInt8], relation: Relation, columnsParameter: [String]?, missingDefault: Bool = false) throws(RESTError) {
        let objects: [[String]]
        switch try JSONPayload.inspect(body) {
        case .object(let keys):
            objects = [keys]
            json = "[" + String(decoding: body, as: UTF8.self) + "]"
        case .array(let elements):
            var keyLists: [[String]] = []
            for element in elements {
                guard let element else { throw RESTError.invalidBody("All object keys must match") }
                keyLists.append(element)
            }
            objects = keyLists
            json = String(decoding: body, as: UTF8.self)
        case .scalar:
            throw RESTError.invalidBody("Empty or invalid json")
        }
        count = objects.count
        var names: [String]
        if let columnsParameter {
            var seen: Set<String> = []
            names = columnsParameter.filter { seen.insert($0).inserted }
        } else {
            names = objects.first ?? []
            let keys = Set(names)
            if objects.dropFirst().contains(where: { Set($0) != keys }) { throw RESTError.invalidBody("All object keys must match") }
        }
        var columns: [Column] = []
        for name in names {
            guard let column = relation.column(name) else {
                throw RESTError(status: 400, code: "PGRST204", message: "Could not find the '\(name)' column of '\(relation.name.name)' in the schema cache")
            }
            columns.append(column)
        }
        let keySets = objects.map(Set.init)
        if missingDefault, !keySets.isEmpty {
            columns.removeAll { column in keySets.allSatisfy { !$0.contains(column.name) } }
        }
        self.columns = columns
        partial = columnsParameter == nil ? [] : columns.filter { column in keySets.contains { !$0.contains(column.name) } }
    }
}

extension StatementBuilder {
    /// `json_to_recordset($1::json) AS "pgrst_body"("a" integer, …)`: the payload's rows typed as
    /// the columns. With `missingDefault`, each object first gets the DEFAULT of the partial columns
    /// it lacks (evaluated per object, so sequences advance per row).
    mutating func recordset(_ payload: WritePayload, missingDefault: Bool) -> String {
        if payload.columns.isEmpty {
            return "json_array_elements(\(bind(payload.json, as: "json"))) AS \"pgrst_body\""
        }
        let typed = payload.columns.map { "\(quoted($0.name)) \($0.type)" }.joined(separator: ", ")
        let defaulted = missingDefault ? payload.partial.filter { $0.defaultExpression != nil } : []
        let argument: String
        if defaulted.isEmpty {
            argument = bind(payload.json, as: "json")
        } else {
            var pairs: [String] = []
            for column in defaulted {
                pairs.append(bind(column.name, as: "text") + ", " + (column.defaultExpression ?? "NULL"))
            }
            argument = "(SELECT json_agg(jsonb_build_object(\(pairs.joined(separator: ", "))) || \"pgrst_element\") "
                + "FROM jsonb_array_elements(\(bind(payload.json, as: "jsonb"))) AS \"pgrst_element\")"
        }
        return "json_to_recordset(\(argument)) AS \"pgrst_body\"(\(typed))"
    }
}
