import BranchCore

/// A branch's data API as an OpenAPI 3.1 document (`{base}/openapi.json`, also `swagger.json`):
/// every table, view and function of the exposed schema under `/rest/v1`, the auth endpoints
/// under `/auth/v1`, the keys' security schemes, and an example for each operation (a request
/// or response example and `x-codeSamples`). Built from the schema cache on each request, so it
/// is current after every migration. Valid under openapi-spec-validator.
package enum OpenAPIDocument {
    /// The document as JSON with sorted keys. `security`, when given, adds each table's
    /// row-level security flag (`x-row-level-security`).
    package static func json(schema: SchemaCache, context: AgentDocsContext, security: [QualifiedName: TableSecurity] = [:]) -> [UInt8] {
        DocumentJSON.bytes(document(schema: schema, context: context, security: security))
    }

    static func document(schema: SchemaCache, context: AgentDocsContext, security: [QualifiedName: TableSecurity] = [:]) -> JSONValue {
        var builder = Builder(schema: schema, context: context, security: security)
        return builder.build()
    }

    /// Component names the document defines itself; relations get other keys.
    static let reservedComponents: Set<String> = ["RESTError", "AuthError", "AuthSession", "AuthUser", "AuthUserList"]

    /// The query parameters and headers shared by operations, under `components.parameters`.
    static let sharedParameters: [String: JSONValue] = [
        "select": [
            "name": "select", "in": "query", "required": false, "schema": ["type": "string"], "example": "*",
            "description": "Columns to return: `*`, `col,other`, renames `alias:col`, casts `col::text`, JSON paths `data->>key`, and embedded relations through foreign keys, `*,parent(*)`, `children(id,title)`, `parent!inner(*)`, `parent!constraint_name(*)`.",
        ],
        "order": [
            "name": "order", "in": "query", "required": false, "schema": ["type": "string"], "example": "id.desc",
            "description": "`col[.asc|.desc][.nullsfirst|.nullslast]`, comma-separated; `embed(col).desc` orders an embedded relation.",
        ],
        "limit": [
            "name": "limit", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 0], "example": 10,
            "description": "At most this many rows (reads are capped at the server's maximum in any case).",
        ],
        "offset": [
            "name": "offset", "in": "query", "required": false, "schema": ["type": "integer", "minimum": 0], "example": 0,
            "description": "Skip this many rows.",
        ],
        "or": [
            "name": "or", "in": "query", "required": false, "schema": ["type": "string"], "example": "(id.eq.1,id.eq.2)",
            "description": "Rows matching any of the filters: `(col.op.value,and(col.op.value,col.op.value))`. Prefix with `not.` to negate.",
        ],
        "and": [
            "name": "and", "in": "query", "required": false, "schema": ["type": "string"], "example": "(id.gte.1,id.lte.9)",
            "description": "Rows matching all of the filters: `(col.op.value,col.op.value)`.",
        ],
        "columns": [
            "name": "columns", "in": "query", "required": false, "schema": ["type": "string"], "example": "title,done",
            "description": "The columns a bulk insert takes from each object (others get their default or null).",
        ],
        "on_conflict": [
            "name": "on_conflict", "in": "query", "required": false, "schema": ["type": "string"], "example": "id",
            "description": "Unique columns an upsert matches on (with `Prefer: resolution=merge-duplicates` or `ignore-duplicates`); default the primary key.",
        ],
        "range": [
            "name": "Range", "in": "header", "required": false, "schema": ["type": "string"], "example": "0-9",
            "description": "Rows by position, first-last (0-based, inclusive), as `Range-Unit: items`: another way to page.",
        ],
        "rangeUnit": [
            "name": "Range-Unit", "in": "header", "required": false, "schema": ["type": "string", "default": "items"], "example": "items",
            "description": "Always `items`.",
        ],
        "preferRead": [
            "name": "Prefer", "in": "header", "required": false, "example": "count=exact",
            "schema": ["type": "string", "enum": ["count=exact", "count=planned", "count=estimated"]],
            "description": "Ask for a total: it comes after the `/` in `Content-Range` (`0-9/57`).",
        ],
        "preferInsert": [
            "name": "Prefer", "in": "header", "required": false, "example": "return=representation",
            "schema": ["type": "string"],
            "description": "Comma-separated: `return=minimal|representation|headers-only` (default minimal: no body), `count=exact`, `resolution=merge-duplicates|ignore-duplicates` (upsert), `missing=default` (bulk inserts: missing keys take the column default).",
        ],
        "preferReturn": [
            "name": "Prefer", "in": "header", "required": false, "example": "return=representation",
            "schema": ["type": "string"],
            "description": "Comma-separated: `return=minimal|representation` (default minimal: 204, no body), `count=exact`.",
        ],
        "preferCall": [
            "name": "Prefer", "in": "header", "required": false, "example": "count=exact",
            "schema": ["type": "string"], "description": "`count=exact|planned|estimated` for set-returning functions.",
        ],
    ]

    /// `#/components/{section}/{key}`.
    static func reference(_ section: String, _ key: String) -> JSONValue { ["$ref": .string("#/components/\(section)/\(key)")] }

    /// Builds one document; holds the component keys chosen so far.
    private struct Builder {
        let schema: SchemaCache
        let context: AgentDocsContext
        let security: [QualifiedName: TableSecurity]
        var componentKeys = DocumentNames.ComponentKeys(reserved: OpenAPIDocument.reservedComponents)
        var parameterKeys = DocumentNames.ComponentKeys(reserved: Set(OpenAPIDocument.sharedParameters.keys))
        var operationIDs = Set<String>()
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        var parameters = OpenAPIDocument.sharedParameters
        var tags: [JSONValue] = []

        init(schema: SchemaCache, context: AgentDocsContext, security: [QualifiedName: TableSecurity]) {
            self.schema = schema
            self.context = context
            self.security = security
        }

        var relations: [Relation] {
            schema.relations.values.filter { $0.name.schema == context.exposedSchema }.sorted { $0.name < $1.name }
        }

        mutating func build() -> JSONValue {
            let relations = self.relations
            // Keys first, so that references between relations resolve whatever the order.
            for relation in relations { _ = componentKeys.key(for: relation.name.name) }
            for relation in relations { addRelation(relation) }
            for (name, overloads) in schema.functions.filter({ $0.key.schema == context.exposedSchema }).sorted(by: { $0.key < $1.key }) {
                addFunction(name: name.name, overloads: overloads)
            }
            for (path, item) in OpenAPIAuthPaths.paths(context: context) { paths[path] = item }
            for (path, item) in OpenAPIAuthPaths.documentPaths(context: context) { paths[path] = item }
            for (name, component) in OpenAPIAuthPaths.schemas { schemas[name] = component }
            schemas["RESTError"] = OpenAPIAuthPaths.restErrorSchema
            tags += OpenAPIAuthPaths.tags
            let (title, description) = DocumentNames.split(schema.schemaComments[context.exposedSchema])
            return [
                "openapi": "3.1.0",
                "info": [
                    "title": .string(title ?? "\(context.project) data API (branch \(context.branch))"),
                    "version": .string(schema.version.isEmpty ? "0" : schema.version),
                    "description": .string(infoDescription(extra: description)),
                ],
                "servers": [["url": .string(context.baseURL), "description": .string(serverDescription)]],
                "externalDocs": ["url": .string(context.baseURL + "/ai-spec.md"), "description": "The agent brief: schema, row-level security in words, examples, safe migrations."],
                "x-branch": [
                    "project": .string(context.project), "branch": .string(context.branch), "followsCheckout": .bool(context.followsCheckout),
                    "schemaVersion": .string(schema.version), "exposedSchema": .string(context.exposedSchema),
                    "maxRows": .integer(context.limits.maxRows), "maxRequestBodyBytes": .integer(context.limits.requestBodyBytes),
                ],
                "security": [["apikey": [], "bearer": []], ["apikey": []]],
                "tags": .array(tags),
                "paths": .object(paths),
                "components": [
                    "securitySchemes": OpenAPIAuthPaths.securitySchemes,
                    "schemas": .object(schemas),
                    "parameters": .object(parameters),
                    "responses": OpenAPIAuthPaths.responses,
                ],
            ]
        }

        var serverDescription: String {
            context.followsCheckout
                ? "Project `\(context.project)`: the checked-out branch, now `\(context.branch)` (follows `branch checkout`)."
                : "Branch `\(context.branch)` of project `\(context.project)`."
        }

        func infoDescription(extra: String?) -> String {
            var lines = [
                "Supabase-compatible REST (PostgREST) and Auth (GoTrue) API of \(serverDescription.prefix(1).lowercased() + serverDescription.dropFirst())",
                "",
                "Send the project's `anon` or `service_role` key in the `apikey` header, and a JWT in `Authorization: Bearer` (the key itself, or a signed-in user's access token). `branch keys` prints the keys; `branch env` prints `SUPABASE_URL` and both keys.",
                "",
                "Filters are query parameters `column=operator.value` (`eq neq gt gte lt lte like ilike match imatch in is isdistinct fts plfts phfts wfts cs cd ov sl sr nxl nxr adj`, negated with `not.`). Reads return at most \(context.limits.maxRows) rows; request bodies up to \(context.limits.requestBodyBytes >> 20) MB. Errors are `{\"code\",\"details\",\"hint\",\"message\"}`.",
                "",
                "The brief for agents, with row-level security in words and safe migrations: `\(context.baseURL)/ai-spec.md`.",
            ]
            if let extra { lines += ["", extra] }
            return lines.joined(separator: "\n")
        }

        // MARK: Relations

        mutating func addRelation(_ relation: Relation) {
            let name = relation.name.name
            let key = componentKeys.key(for: name)
            schemas[key] = OpenAPISchemas.row(relation, in: schema, security: security[relation.name])
            let row = OpenAPIDocument.reference("schemas", key)
            var filters: [JSONValue] = []
            for column in DocumentNames.filterableColumns(relation) {
                let parameterKey = parameterKeys.key(for: "\(key).\(column.name)")
                parameters[parameterKey] = filterParameter(column, relation: name)
                filters.append(OpenAPIDocument.reference("parameters", parameterKey))
            }
            let shared = { (names: [String]) in names.map { OpenAPIDocument.reference("parameters", $0) } }
            let (summary, description) = DocumentNames.split(relation.comment)
            tags.append(.object(["name": .string(name), "description": .string(relation.comment ?? "\(OpenAPISchemas.kindName(relation.kind)) `\(name)`")]))
            let path = "/rest/v1/" + DocumentNames.pathSegment(name)
            let example = ExampleValues.row(relation)
            let read = CodeSamples.read(relation, in: schema)

            var item: [String: JSONValue] = [:]
            item["get"] = operation(
                id: "rest.\(name).select", tag: name, summary: "Read rows of `\(name)`", comment: (summary, description),
                parameters: filters + shared(["select", "order", "limit", "offset", "or", "and", "range", "rangeUnit", "preferRead"]),
                responses: [
                    "200": [
                        "description": .string("The rows, at most \(context.limits.maxRows). `Content-Range` says which (`0-9/*`, `0-9/57` with a count)."),
                        "headers": ["Content-Range": ["description": "first-last/total", "schema": ["type": "string"]]],
                        "content": [
                            "application/json": ["schema": ["type": "array", "items": row], "example": [example]],
                            "application/vnd.pgrst.object+json": ["schema": row, "example": example],
                            "text/csv": ["schema": ["type": "string"]],
                        ],
                    ],
                    "206": ["description": "Partial Content: one page of a counted result."],
                ],
                samples: [("curl", "Shell", read.curl), ("supabase-js", "JavaScript", read.javascript), ("supabase-py", "Python", read.python)])
            if relation.insertable {
                let required = relation.columns.filter(\.isRequired).map { JSONValue.string($0.name) }
                let insertRow: JSONValue = required.isEmpty ? row : ["allOf": [row], "required": .array(required)]
                let insert = CodeSamples.insert(relation)
                item["post"] = operation(
                    id: "rest.\(name).insert", tag: name, summary: "Insert (or upsert) rows into `\(name)`", comment: (nil, nil),
                    parameters: shared(["select", "columns", "on_conflict", "preferInsert"]),
                    body: [
                        "required": true,
                        "content": [
                            "application/json": [
                                "schema": ["oneOf": [insertRow, ["type": "array", "items": insertRow]]],
                                "example": .object(Dictionary(uniqueKeysWithValues: ExampleValues.insertRow(relation))),
                            ]
                        ],
                    ],
                    responses: [
                        "201": [
                            "description": "Created. With `Prefer: return=representation`, the rows as stored (shaped by `select`).",
                            "content": ["application/json": ["schema": ["type": "array", "items": row], "example": [example]]],
                        ]
                    ],
                    samples: [("curl", "Shell", insert.curl), ("supabase-js", "JavaScript", insert.javascript), ("supabase-py", "Python", insert.python)])
            }
            let filterExample = ExampleValues.filterColumn(relation).map { [($0.name, ExampleValues.filter($0))] } ?? []
            let written = representation(row: row, example: example)
            if relation.updatable {
                let change = ExampleValues.insertRow(relation).filter { !relation.primaryKey.contains($0.0) }.prefix(1)
                let body = DocumentJSON.object(Array(change))
                item["patch"] = operation(
                    id: "rest.\(name).update", tag: name, summary: "Update the rows of `\(name)` that the filters match",
                    comment: (nil, "At least one filter is required: an unfiltered update is refused (400 `21000`)."),
                    parameters: filters + shared(["select", "or", "and", "preferReturn"]),
                    body: ["required": true, "content": ["application/json": ["schema": row, "example": .object(Dictionary(uniqueKeysWithValues: Array(change)))]]],
                    responses: written,
                    samples: [("curl", "Shell", CodeSamples.curl("PATCH", path, query: DocumentNames.query(filterExample), prefer: "return=representation", body: body))])
            }
            if relation.deletable {
                item["delete"] = operation(
                    id: "rest.\(name).delete", tag: name, summary: "Delete the rows of `\(name)` that the filters match",
                    comment: (nil, "At least one filter is required: an unfiltered delete is refused (400 `21000`)."),
                    parameters: filters + shared(["select", "or", "and", "preferReturn"]),
                    responses: written,
                    samples: [("curl", "Shell", CodeSamples.curl("DELETE", path, query: DocumentNames.query(filterExample), prefer: "return=representation"))])
            }
            paths[path] = .object(item)
        }

        /// `col=op.value` on one column, with the operators that suit its type.
        func filterParameter(_ column: Column, relation: String) -> JSONValue {
            var description = "Filter `\(relation)` on `\(column.name)` (\(column.type)): `\(column.name)=operator.value`; operators \(FilterOperators.describe(column)). Negate with `not.` (`\(column.name)=not.eq.value`)."
            if let comment = column.comment { description = comment + "\n\n" + description }
            return [
                "name": .string(column.name), "in": "query", "required": false, "schema": ["type": "string"],
                "example": .string(ExampleValues.filter(column)), "description": .string(description),
            ]
        }

        /// PATCH and DELETE: 200 with the rows (`return=representation`), else 204.
        func representation(row: JSONValue, example: JSONValue) -> [String: JSONValue] {
            [
                "200": [
                    "description": "With `Prefer: return=representation`: the rows affected.",
                    "content": ["application/json": ["schema": ["type": "array", "items": row], "example": [example]]],
                ],
                "204": ["description": "Done; no body (`return=minimal`, the default)."],
            ]
        }

        // MARK: Functions

        /// `/rest/v1/rpc/{name}`: POST always, GET for functions that do not write. Overloads share
        /// the path: an argument is listed when any of them takes it, required when all need it.
        mutating func addFunction(name: String, overloads: [Function]) {
            var arguments: [Function.Argument] = []
            for overload in overloads {
                for argument in overload.arguments where !argument.name.isEmpty && !arguments.contains(where: { $0.name == argument.name }) {
                    arguments.append(argument)
                }
            }
            let required = arguments.filter { argument in
                overloads.allSatisfy { $0.arguments.contains { $0.name == argument.name && !$0.hasDefault } }
            }.map(\.name)
            let first = overloads[0]
            let comment = overloads.lazy.compactMap(\.comment).first
            let rawBody = overloads.contains { $0.arguments.contains { $0.name.isEmpty } }
            let tag = "(rpc) " + name
            tags.append(.object(["name": .string(tag), "description": .string(comment ?? "Function `\(name)`")]))
            let sample = CodeSamples.rpc(first)
            let exampleArguments = JSONValue.object(Dictionary(uniqueKeysWithValues: arguments.filter { required.contains($0.name) }.map {
                ($0.name, CodeSamples.value(typeName: $0.type, name: $0.name))
            }))

            var bodySchema: [String: JSONValue] = [:]
            if rawBody {
                bodySchema["description"] = "The whole body is the function's one unnamed argument."
            } else {
                bodySchema["type"] = "object"
                bodySchema["properties"] = .object(Dictionary(uniqueKeysWithValues: arguments.map { ($0.name, OpenAPISchemas.typeSchema($0.type)) }))
                if !required.isEmpty { bodySchema["required"] = .array(required.map(JSONValue.string)) }
            }
            let setParameters = first.returnsSet ? ["select", "order", "limit", "offset", "preferCall"] : []
            let responses = functionResponses(first)
            let summaryText = DocumentNames.split(comment)
            var item: [String: JSONValue] = [
                "post": operation(
                    id: "rpc.\(name).call", tag: tag, summary: "Call `\(name)`", comment: summaryText,
                    parameters: setParameters.map { OpenAPIDocument.reference("parameters", $0) },
                    body: ["required": .bool(!required.isEmpty || rawBody), "content": ["application/json": ["schema": .object(bodySchema), "example": exampleArguments]]],
                    responses: responses,
                    samples: [("curl", "Shell", sample.curl), ("supabase-js", "JavaScript", sample.javascript), ("supabase-py", "Python", sample.python)])
            ]
            if !rawBody, overloads.allSatisfy({ $0.volatility != .volatile }) {
                let query: [JSONValue] = arguments.map { argument in
                    var parameter: [String: JSONValue] = [
                        "name": .string(argument.name), "in": "query", "required": .bool(required.contains(argument.name)),
                        "description": .string("Argument `\(argument.name)` (\(argument.type))."),
                        "example": Self.queryExample(CodeSamples.value(typeName: argument.type, name: argument.name)),
                    ]
                    if argument.isVariadic, argument.type.hasSuffix("[]") {
                        parameter["schema"] = ["type": "array", "items": OpenAPISchemas.typeSchema(String(argument.type.dropLast(2)))]
                        parameter["style"] = "form"
                        parameter["explode"] = true
                        parameter["example"] = nil
                    } else {
                        // Query values are text: arrays (`{1,2}`) and JSON are strings there.
                        let scalar = SwaggerDocument.typeName(argument.type)
                        parameter["schema"] = ["type": .string(scalar == "array" || scalar == nil ? "string" : scalar ?? "string")]
                    }
                    return .object(parameter)
                }
                let queryText = DocumentNames.query(arguments.filter { required.contains($0.name) }.map {
                    ($0.name, ExampleValues.text(CodeSamples.value(typeName: $0.type, name: $0.name)))
                })
                item["get"] = operation(
                    id: "rpc.\(name).get", tag: tag, summary: "Call `\(name)` with its arguments in the query string (read-only)", comment: summaryText,
                    parameters: query + setParameters.map { OpenAPIDocument.reference("parameters", $0) },
                    responses: responses,
                    samples: [("curl", "Shell", CodeSamples.curl("GET", "/rest/v1/rpc/" + DocumentNames.pathSegment(name), query: queryText))])
            }
            paths["/rest/v1/rpc/" + DocumentNames.pathSegment(name)] = .object(item)
        }

        /// A query parameter's example: numbers and booleans as they are, anything else as text.
        static func queryExample(_ value: JSONValue) -> JSONValue {
            switch value {
            case .integer, .number, .bool: value
            default: .string(ExampleValues.text(value))
            }
        }

        /// 204 for void; else 200 with the result's schema.
        func functionResponses(_ function: Function) -> [String: JSONValue] {
            let result: JSONValue
            switch function.returns {
            case .void:
                return ["204": ["description": "Done (the function returns void)."]]
            case .scalar(let type):
                result = OpenAPISchemas.typeSchema(type)
            case .relation(let relation):
                result = componentKeys.existingKey(for: relation.name).map { OpenAPIDocument.reference("schemas", $0) } ?? ["type": "object"]
            case .record:
                result = ["type": "object"]
            }
            let schema: JSONValue = function.returnsSet ? ["type": "array", "items": result] : result
            return ["200": ["description": "The function's result.", "content": ["application/json": ["schema": schema]]]]
        }

        // MARK: Operations

        /// One operation, with the error response every data API call can give and its code samples.
        mutating func operation(
            id: String, tag: String, summary: String, comment: (summary: String?, rest: String?), parameters: [JSONValue],
            body: JSONValue? = nil, responses: [String: JSONValue], samples: [(label: String, lang: String, source: String)]
        ) -> JSONValue {
            var operationID = id
            var suffix = 2
            while !operationIDs.insert(operationID).inserted {
                operationID = "\(id).\(suffix)"
                suffix += 1
            }
            var responses = responses
            responses["default"] = OpenAPIDocument.reference("responses", "RESTError")
            var result: [String: JSONValue] = [
                "operationId": .string(operationID),
                "tags": [.string(tag)],
                "summary": .string(summary),
                "parameters": .array(parameters),
                "responses": .object(responses),
                "x-codeSamples": .array(samples.map { ["label": .string($0.label), "lang": .string($0.lang), "source": .string($0.source)] }),
            ]
            let description = [comment.summary, comment.rest].compactMap { $0 }.joined(separator: "\n\n")
            if !description.isEmpty { result["description"] = .string(description) }
            if let body { result["requestBody"] = body }
            return .object(result)
        }
    }
}
