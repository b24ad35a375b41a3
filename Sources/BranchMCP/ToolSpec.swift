package import MCP

/// One tool: its name, what it does in words a model can act on, the JSON Schema of its input
/// (built from `properties`), hints for clients, and its implementation, a call to the API.
package struct ToolSpec: Sendable {
    package typealias Run = @Sendable (ToolArguments, ToolContext) async throws -> CallTool.Result

    package let name: String
    package let title: String
    package let description: String
    package let properties: [ToolProperty]
    package let annotations: Tool.Annotations
    package let run: Run

    package init(
        name: String, title: String, description: String, properties: [ToolProperty], readOnly: Bool = false, destructive: Bool = false,
        idempotent: Bool = false, run: @escaping Run
    ) {
        self.name = name
        self.title = title
        self.description = description
        self.properties = properties
        self.annotations = Tool.Annotations(
            title: title, readOnlyHint: readOnly, destructiveHint: readOnly ? nil : destructive, idempotentHint: readOnly ? nil : idempotent,
            openWorldHint: false)
        self.run = run
    }

    /// The tool as `tools/list` shows it. With a default project, `project` may be left out.
    package func tool(defaultProject: String? = nil) -> Tool {
        Tool(name: name, title: title, description: description, inputSchema: inputSchema(defaultProject: defaultProject), annotations: annotations)
    }

    /// A JSON Schema (draft 2020-12) object: every property typed and described, the required
    /// ones listed, nothing else allowed.
    package func inputSchema(defaultProject: String? = nil) -> Value {
        var fields: [String: Value] = [:]
        var required: [Value] = []
        for property in properties {
            fields[property.name] = property.schema(defaultProject: defaultProject)
            if property.isRequired(defaultProject: defaultProject) { required.append(.string(property.name)) }
        }
        return .object(["type": "object", "properties": .object(fields), "required": .array(required), "additionalProperties": false])
    }
}

/// One argument of a tool: its name, its JSON Schema type and its description.
package struct ToolProperty: Sendable {
    package let name: String
    let type: Value
    let description: String
    let required: Bool
    /// `project`: required only when there is no default project.
    let isProject: Bool
    let extra: [String: Value]

    init(name: String, type: Value, description: String, required: Bool, isProject: Bool = false, extra: [String: Value] = [:]) {
        self.name = name
        self.type = type
        self.description = description
        self.required = required
        self.isProject = isProject
        self.extra = extra
    }

    func isRequired(defaultProject: String?) -> Bool { isProject ? defaultProject == nil : required }

    func schema(defaultProject: String?) -> Value {
        var text = description
        if isProject, let defaultProject { text += " Default: \(defaultProject)." }
        var schema: [String: Value] = ["type": type, "description": .string(text)]
        schema.merge(extra) { _, new in new }
        return .object(schema)
    }

    // MARK: The kinds of argument

    /// The project the tool works on.
    static let project = ToolProperty(
        name: "project", type: "string", description: "The project's name (list_projects shows them).", required: true, isProject: true)

    static func string(_ name: String, _ description: String, required: Bool = false) -> ToolProperty {
        ToolProperty(name: name, type: "string", description: description, required: required)
    }

    static func bool(_ name: String, _ description: String) -> ToolProperty {
        ToolProperty(name: name, type: "boolean", description: description, required: false)
    }

    static func integer(_ name: String, _ description: String, minimum: Int, maximum: Int) -> ToolProperty {
        ToolProperty(
            name: name, type: "integer", description: description, required: false,
            extra: ["minimum": .int(minimum), "maximum": .int(maximum)])
    }

    static func strings(_ name: String, _ description: String) -> ToolProperty {
        ToolProperty(name: name, type: "array", description: description, required: false, extra: ["items": ["type": "string"]])
    }

    /// A list of objects with these string properties (`required` among them), each described.
    static func objects(_ name: String, _ description: String, properties: [(name: String, description: String, choices: [String]?)], required: [String]) -> ToolProperty {
        var fields: [String: Value] = [:]
        for property in properties {
            var field: [String: Value] = ["type": "string", "description": .string(property.description)]
            if let choices = property.choices { field["enum"] = .array(choices.map { .string($0) }) }
            fields[property.name] = .object(field)
        }
        let item: Value = [
            "type": "object", "properties": .object(fields), "required": .array(required.map { .string($0) }), "additionalProperties": false,
        ]
        return ToolProperty(name: name, type: "array", description: description, required: false, extra: ["items": item])
    }

    /// A list of JSON values of any type (SQL parameters).
    static func list(_ name: String, _ description: String) -> ToolProperty {
        ToolProperty(name: name, type: "array", description: description, required: false, extra: ["items": .object([:])])
    }
}
