import BranchREST

/// A REST endpoint a migration adds, removes or changes, from the schema caches before and after.
package struct EndpointChange: Sendable, Equatable {
    package enum Change: String, Sendable { case added, removed, changed }

    /// `/rest/v1/todos` or `/rest/v1/rpc/add_todo`.
    package var path: String
    package var change: Change
    package var columnsAdded: [String] = []
    package var columnsRemoved: [String] = []
    /// Columns whose type, nullability or default changed (`done: bool → text`), or for a
    /// function its arguments or result.
    package var columnsChanged: [String] = []
}

/// Compares what the data API serves before and after a migration: tables and views become
/// `/rest/v1/{name}`, functions `/rest/v1/rpc/{name}` (the exposed schema's, `public`).
enum EndpointChanges {
    static func compare(before: SchemaCache, after: SchemaCache, schema: String = "public") -> [EndpointChange] {
        var changes: [EndpointChange] = []
        let oldRelations = before.relations.filter { $0.key.schema == schema }
        let newRelations = after.relations.filter { $0.key.schema == schema }
        for name in Set(oldRelations.keys).union(newRelations.keys).sorted() {
            let path = "/rest/v1/\(name.name)"
            switch (oldRelations[name], newRelations[name]) {
            case (nil, let added?):
                changes.append(EndpointChange(path: path, change: .added, columnsAdded: added.columns.map(\.name)))
            case (let removed?, nil):
                changes.append(EndpointChange(path: path, change: .removed, columnsRemoved: removed.columns.map(\.name)))
            case (let old?, let new?):
                let oldColumns = Dictionary(old.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                let newColumns = Dictionary(new.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
                var change = EndpointChange(path: path, change: .changed)
                change.columnsAdded = new.columns.map(\.name).filter { oldColumns[$0] == nil }
                change.columnsRemoved = old.columns.map(\.name).filter { newColumns[$0] == nil }
                change.columnsChanged = new.columns.compactMap { column in
                    guard let previous = oldColumns[column.name] else { return nil }
                    return describe(previous, column)
                }
                if !change.columnsAdded.isEmpty || !change.columnsRemoved.isEmpty || !change.columnsChanged.isEmpty {
                    changes.append(change)
                }
            case (nil, nil):
                break
            }
        }
        let oldFunctions = before.functions.filter { $0.key.schema == schema }
        let newFunctions = after.functions.filter { $0.key.schema == schema }
        for name in Set(oldFunctions.keys).union(newFunctions.keys).sorted() {
            let path = "/rest/v1/rpc/\(name.name)"
            let old = oldFunctions[name].map(signatures) ?? [], new = newFunctions[name].map(signatures) ?? []
            if old.isEmpty, !new.isEmpty {
                changes.append(EndpointChange(path: path, change: .added, columnsChanged: new))
            } else if !old.isEmpty, new.isEmpty {
                changes.append(EndpointChange(path: path, change: .removed, columnsChanged: old))
            } else if old != new {
                changes.append(EndpointChange(path: path, change: .changed, columnsChanged: new.filter { !old.contains($0) }))
            }
        }
        return changes
    }

    /// What changed about a column, or nil when nothing the API shows did.
    private static func describe(_ old: Column, _ new: Column) -> String? {
        var parts: [String] = []
        if old.type != new.type { parts.append("\(old.type) → \(new.type)") }
        if old.nullable != new.nullable { parts.append(new.nullable ? "now nullable" : "now NOT NULL") }
        if old.defaultExpression != new.defaultExpression { parts.append("default \(new.defaultExpression ?? "removed")") }
        return parts.isEmpty ? nil : "\(new.name): " + parts.joined(separator: ", ")
    }

    /// Each overload as `name(arg type, …) → result`, sorted.
    private static func signatures(_ functions: [Function]) -> [String] {
        functions.map { function in
            let arguments = function.arguments.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
            let result = switch function.returns {
            case .void: "void"
            case .scalar(let type): type
            case .relation(let name): name.name
            case .record: "record"
            }
            return "\(function.name.name)(\(arguments)) → \(function.returnsSet ? "setof " : "")\(result)"
        }.sorted()
    }
}
