package import MCP

/// A tool call's arguments, read against the tool's input schema: each accessor returns the
/// typed value or throws the `invalid_request` failure that names the argument, so the model can
/// correct its call. Arguments the schema does not list are refused (a misspelt `inPlace` must
/// not silently become a different operation).
package struct ToolArguments: Sendable {
    package let values: [String: Value]
    /// The project used when the call names none (`branch mcp --project`, or the folder's link).
    package let defaultProject: String?

    package init(_ values: [String: Value]?, defaultProject: String? = nil) {
        self.values = values ?? [:]
        self.defaultProject = defaultProject
    }

    /// Refuses arguments that `tool`'s schema does not list.
    package func check(against tool: ToolSpec) throws {
        let known = Set(tool.properties.map(\.name))
        let unknown = values.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            let list = unknown.map { "'\($0)'" }.joined(separator: ", ")
            throw ToolFailure.invalidArgument(
                "\(tool.name) takes no argument \(list); it takes \(tool.properties.map(\.name).joined(separator: ", ")).")
        }
    }

    // MARK: Typed accessors

    /// The project: the `project` argument, else the default one.
    package func project() throws -> String {
        if let project = try optionalString("project") { return project }
        if let defaultProject { return defaultProject }
        throw ToolFailure.invalidArgument("'project' is required: name the project (list_projects shows them).")
    }

    package func string(_ name: String) throws -> String {
        guard let value = try optionalString(name) else { throw ToolFailure.invalidArgument("'\(name)' is required.") }
        return value
    }

    /// A string argument; nil when absent or null. An empty string counts as absent for names,
    /// never for SQL (see `text`).
    package func optionalString(_ name: String) throws -> String? {
        guard let value = present(name) else { return nil }
        guard case .string(let text) = value else { throw wrongType(name, "a string") }
        return text.isEmpty ? nil : text
    }

    /// A string argument that must be there and may hold anything but nothing at all (SQL).
    package func text(_ name: String) throws -> String {
        guard let value = present(name) else { throw ToolFailure.invalidArgument("'\(name)' is required.") }
        guard case .string(let text) = value else { throw wrongType(name, "a string") }
        guard !text.allSatisfy(\.isWhitespace) else { throw ToolFailure.invalidArgument("'\(name)' is empty.") }
        return text
    }

    package func optionalBool(_ name: String) throws -> Bool? {
        guard let value = present(name) else { return nil }
        switch value {
        case .bool(let flag): return flag
        // Some clients send every argument as text.
        case .string("true"): return true
        case .string("false"): return false
        default: throw wrongType(name, "true or false")
        }
    }

    package func bool(_ name: String, default fallback: Bool) throws -> Bool { try optionalBool(name) ?? fallback }

    package func optionalInt(_ name: String, in range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let value = present(name) else { return nil }
        let number: Int
        switch value {
        case .int(let int): number = int
        case .double(let double) where double.rounded() == double && abs(double) < 1e15: number = Int(double)
        case .string(let text) where Int(text) != nil: number = Int(text)!
        default: throw wrongType(name, "a whole number")
        }
        if let range, !range.contains(number) {
            throw ToolFailure.invalidArgument("'\(name)' must be between \(range.lowerBound) and \(range.upperBound); it is \(number).")
        }
        return number
    }

    /// A list of strings; nil when absent, null or empty.
    package func optionalStrings(_ name: String) throws -> [String]? {
        guard let value = present(name) else { return nil }
        guard case .array(let items) = value else { throw wrongType(name, "a list of strings") }
        let strings = try items.map { item -> String in
            guard case .string(let text) = item else { throw wrongType(name, "a list of strings") }
            return text
        }
        return strings.isEmpty ? nil : strings
    }

    /// A list of any JSON values (SQL parameters); nil when absent or null.
    package func optionalList(_ name: String) throws -> [Value]? {
        guard let value = present(name) else { return nil }
        guard case .array(let items) = value else { throw wrongType(name, "a list") }
        return items
    }

    // MARK: Helpers

    /// The argument's value unless it is absent or JSON null. The SDK reads a string that is a
    /// `data:` URL as binary data; it is a string here again (a base64 one exactly as sent).
    private func present(_ name: String) -> Value? {
        guard let value = values[name], value != .null else { return nil }
        if case .data(let mimeType, let data) = value { return .string(data.dataURLEncoded(mimeType: mimeType)) }
        return value
    }

    private func wrongType(_ name: String, _ expected: String) -> ToolFailure {
        ToolFailure.invalidArgument("'\(name)' must be \(expected).")
    }
}
