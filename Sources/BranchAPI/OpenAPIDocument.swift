public import BranchCore
import Foundation

/// Builds the OpenAPI 3.1 document of /api/v1 from `APIRoute.all` and `APISchemas`.
/// docs/openapi.json is this document; a test fails when the two differ.
public enum OpenAPIDocument {
    public static let version = "0.1.0"

    public static func build() -> JSONValue {
        var paths: [String: JSONValue] = [:]
        for route in APIRoute.all {
            var operations = paths[route.path]?.objectValue ?? [:]
            operations[route.method.rawValue.lowercased()] = operation(route)
            paths[route.path] = .object(operations)
        }
        var schemas: [String: JSONValue] = [:]
        for (name, object) in APISchemas.objects { schemas[name] = object.json }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Branch API",
                "version": .string(version),
                "description": "Manage projects, copy-on-write branches, snapshots and the pooled endpoint of a Branch service. Authenticate with `Authorization: Bearer <admin key>`. Errors are `{\"error\":{\"code\",\"message\",\"hint\",\"requestId\"}}`.",
            ],
            "servers": [["url": "http://127.0.0.1:8420"]],
            "security": [["bearer": []]],
            "paths": .object(paths),
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
                "schemas": .object(schemas),
                "responses": [
                    "Error": [
                        "description": "An error with a stable code.",
                        "content": ["application/json": ["schema": ["$ref": "#/components/schemas/ErrorBody"]]],
                    ]
                ],
            ],
        ]
    }

    /// The document as pretty, key-sorted JSON text (what docs/openapi.json holds).
    public static func text() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(build())) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func operation(_ route: APIRoute) -> JSONValue {
        var parameters: [JSONValue] = route.pathParameters.map { name in
            ["name": .string(name), "in": "path", "required": true, "schema": ["type": "string"]]
        }
        parameters += route.query.map { parameter in
            ["name": .string(parameter.name), "in": "query", "required": false, "description": .string(parameter.description),
             "schema": ["type": .string(parameter.type)]]
        }
        let content: JSONValue = route.responseSchema == "Text"
            ? ["text/plain": ["schema": ["type": "string"]]]
            : route.streamsLines
            ? ["application/x-ndjson": ["schema": ["$ref": .string("#/components/schemas/\(route.responseSchema)")]]]
            : ["application/json": ["schema": ["$ref": .string("#/components/schemas/\(route.responseSchema)")]]]
        var responses: [String: JSONValue] = [
            String(route.successStatus): ["description": "Success.", "content": content],
            "default": ["$ref": "#/components/responses/Error"],
        ]
        if route.requiresAuth { responses["401"] = ["$ref": "#/components/responses/Error"] }
        var operation: [String: JSONValue] = [
            "operationId": .string(route.operationID),
            "summary": .string(route.summary),
            "responses": .object(responses),
        ]
        if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
        if let request = route.requestSchema {
            operation["requestBody"] = [
                "required": .bool(!route.requestOptional),
                "content": ["application/json": ["schema": ["$ref": .string("#/components/schemas/\(request)")]]],
            ]
        }
        if !route.requiresAuth { operation["security"] = [] }
        return .object(operation)
    }
}
