package import BranchCore

/// One RFC 6902 operation: `add`, `remove` or `replace` at an RFC 6901 pointer.
package struct JSONPatchOperation: Codable, Sendable, Equatable {
    package enum Op: String, Codable, Sendable {
        case add, remove, replace
    }

    package var op: Op
    /// An RFC 6901 JSON pointer: `""` is the whole document, `/a/0/b~1c` is key `b/c` of the
    /// first element of `a` (`~` is written `~0`, `/` is written `~1`).
    package var path: String
    /// The new value for `add` and `replace` (`.null` is a JSON null); nil for `remove`.
    package var value: JSONValue?

    package init(op: Op, path: String, value: JSONValue? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }

    enum CodingKeys: String, CodingKey {
        case op, path, value
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        op = try container.decode(Op.self, forKey: .op)
        path = try container.decode(String.self, forKey: .path)
        // `"value": null` is a JSON null to set, not a missing value (which decodeIfPresent would make of it).
        value = container.contains(.value) ? try container.decode(JSONValue.self, forKey: .value) : nil
    }
}

/// A patch that cannot be applied to a document: the path is malformed or does not lead to a
/// value the operation can act on.
package struct JSONPatchError: ReportableError, Equatable {
    package let path: String
    package let problem: String

    package init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    package var code: ErrorCode { .jsonPatchInvalid }
    package var message: String { "The JSON patch cannot be applied at \"\(path)\": \(problem)." }
    package var hint: String? { nil }
}

/// Differences between two JSON documents as RFC 6902 patches, and applying them.
package enum JSONPatch {
    /// The operations that turn `old` into `new`: objects are compared key by key (keys in sorted
    /// order), arrays index by index (common indices compared, then the tail added in order or
    /// removed from the end), anything else replaced whole. A nil document is an absent one
    /// (`add` or `remove` at `""`), which is not the same as `.null`.
    ///
    /// Values compare as `JSONValue` does: `.integer(1)` and `.number(1.0)` differ, so that
    /// `apply(diff(a, b), to: a) == b` always holds.
    package static func diff(_ old: JSONValue?, _ new: JSONValue?) -> [JSONPatchOperation] {
        switch (old, new) {
        case (nil, nil): return []
        case (nil, let new?): return [JSONPatchOperation(op: .add, path: "", value: new)]
        case (_?, nil): return [JSONPatchOperation(op: .remove, path: "")]
        case (let old?, let new?):
            var operations: [JSONPatchOperation] = []
            collect(old, new, at: "", into: &operations)
            return operations
        }
    }

    private static func collect(_ old: JSONValue, _ new: JSONValue, at path: String, into operations: inout [JSONPatchOperation]) {
        guard old != new else { return }
        switch (old, new) {
        case (.object(let before), .object(let after)):
            for key in Set(before.keys).union(after.keys).sorted() {
                let child = path + "/" + escape(key)
                switch (before[key], after[key]) {
                case (nil, let value?): operations.append(JSONPatchOperation(op: .add, path: child, value: value))
                case (_?, nil): operations.append(JSONPatchOperation(op: .remove, path: child))
                case (let lhs?, let rhs?): collect(lhs, rhs, at: child, into: &operations)
                case (nil, nil): break
                }
            }
        case (.array(let before), .array(let after)):
            for index in 0..<min(before.count, after.count) {
                collect(before[index], after[index], at: "\(path)/\(index)", into: &operations)
            }
            for index in before.count..<max(before.count, after.count) {
                operations.append(JSONPatchOperation(op: .add, path: "\(path)/\(index)", value: after[index]))
            }
            // From the end, so every index is still valid when its removal is applied.
            for index in (after.count..<max(before.count, after.count)).reversed() {
                operations.append(JSONPatchOperation(op: .remove, path: "\(path)/\(index)"))
            }
        default:
            operations.append(JSONPatchOperation(op: .replace, path: path, value: new))
        }
    }

    /// Applies `operations` in order to `document` (nil when absent), as RFC 6902 says for
    /// `add`, `remove` and `replace`; `remove` at `""` makes the document absent.
    package static func apply(_ operations: [JSONPatchOperation], to document: JSONValue?) throws(JSONPatchError) -> JSONValue? {
        var document = document
        for operation in operations {
            document = try apply(operation, to: document)
        }
        return document
    }

    private static func apply(_ operation: JSONPatchOperation, to document: JSONValue?) throws(JSONPatchError) -> JSONValue? {
        let tokens = try referenceTokens(operation.path)
        if operation.op != .remove && operation.value == nil { throw JSONPatchError(path: operation.path, problem: "no value") }
        guard let document else {
            guard tokens.isEmpty && operation.op == .add else { throw JSONPatchError(path: operation.path, problem: "the document is absent") }
            return operation.value
        }
        guard !tokens.isEmpty else { return operation.op == .remove ? nil : operation.value }
        return try update(document, tokens[...], operation)
    }

    /// `node` with the operation applied at `tokens` below it.
    private static func update(_ node: JSONValue, _ tokens: ArraySlice<String>, _ operation: JSONPatchOperation) throws(JSONPatchError) -> JSONValue {
        let token = tokens.first!
        let rest = tokens.dropFirst()
        let failure = { (problem: String) in JSONPatchError(path: operation.path, problem: problem) }
        switch node {
        case .object(var object):
            if !rest.isEmpty {
                guard let child = object[token] else { throw failure("no member \"\(token)\"") }
                object[token] = try update(child, rest, operation)
            } else if operation.op == .remove {
                guard object.removeValue(forKey: token) != nil else { throw failure("no member \"\(token)\"") }
            } else {
                if operation.op == .replace && object[token] == nil { throw failure("no member \"\(token)\"") }
                object[token] = operation.value
            }
            return .object(object)
        case .array(var array):
            if rest.isEmpty && operation.op == .add {
                let index = token == "-" ? array.count : try arrayIndex(token, operation.path)
                guard index <= array.count else { throw failure("index \(index) is past the end") }
                array.insert(operation.value!, at: index)
                return .array(array)
            }
            let index = try arrayIndex(token, operation.path)
            guard index < array.count else { throw failure("no element \(index)") }
            if !rest.isEmpty {
                array[index] = try update(array[index], rest, operation)
            } else if operation.op == .remove {
                array.remove(at: index)
            } else {
                array[index] = operation.value!
            }
            return .array(array)
        default:
            throw failure("\"\(token)\" is below a value that is neither an object nor an array")
        }
    }

    /// An array index as RFC 6901 allows it: decimal digits without leading zeros.
    private static func arrayIndex(_ token: String, _ path: String) throws(JSONPatchError) -> Int {
        guard let index = Int(token), String(index) == token, index >= 0 else {
            throw JSONPatchError(path: path, problem: "\"\(token)\" is not an array index")
        }
        return index
    }

    /// A pointer's reference tokens, unescaped (`~1` → `/`, then `~0` → `~`).
    package static func referenceTokens(_ pointer: String) throws(JSONPatchError) -> [String] {
        guard !pointer.isEmpty else { return [] }
        guard pointer.hasPrefix("/") else { throw JSONPatchError(path: pointer, problem: "a pointer starts with /") }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { token in
            String(token).replacing("~1", with: "/").replacing("~0", with: "~")
        }
    }

    /// One reference token escaped for a pointer (`~` → `~0` first, then `/` → `~1`).
    package static func escape(_ token: String) -> String {
        token.replacing("~", with: "~0").replacing("/", with: "~1")
    }
}
