/// How an embedded relation relates to the one it is embedded in, found through foreign keys as
/// PostgREST finds it (its `findRel`): by target name, constraint name or column, with `!hint`.
struct Relationship: Equatable {
    /// As PostgREST names it in an ambiguity's details.
    enum Cardinality: String {
        case manyToOne = "many-to-one"
        case oneToMany = "one-to-many"
        case oneToOne = "one-to-one"
        case manyToMany = "many-to-many"
    }

    /// A junction table with keys to both sides (many-to-many).
    struct Junction: Equatable {
        var table: QualifiedName
        /// The junction's key to the source relation.
        var sourceKey: ForeignKey
        /// The junction's key to the target relation.
        var targetKey: ForeignKey
    }

    var source: QualifiedName
    var target: QualifiedName
    var cardinality: Cardinality
    /// The key joining source and target directly; for many-to-many, the junction's key to the source.
    var key: ForeignKey
    /// `(source column, target column)` pairs of a direct relationship.
    var columns: [(source: String, target: String)]
    var junction: Junction?

    /// Whether the embed is an object (or null) rather than an array.
    var isToOne: Bool { cardinality == .manyToOne || cardinality == .oneToOne }
    var isSelf: Bool { source == target }

    /// Equal when they join the same way (the column pairs follow from the key).
    static func == (lhs: Relationship, rhs: Relationship) -> Bool {
        lhs.source == rhs.source && lhs.target == rhs.target && lhs.cardinality == rhs.cardinality && lhs.key == rhs.key
            && lhs.junction == rhs.junction
    }

    /// The constraint PostgREST names the relationship by (`todos_user_id_fkey`).
    var constraintName: String { key.constraintName }
}

extension SchemaCache {
    /// Every relationship whose source is `source`: each key from it (many-to-one, or one-to-one
    /// when the key's columns are unique), each key to it (one-to-many or one-to-one), and each
    /// junction whose keys to both sides are within its primary key (many-to-many).
    func relationships(from source: QualifiedName) -> [Relationship] {
        var found: [Relationship] = []
        for key in foreignKeys {
            if key.table == source {
                found.append(Relationship(
                    source: source, target: key.referencedTable, cardinality: key.isOneToOne ? .oneToOne : .manyToOne, key: key,
                    columns: Array(zip(key.columns, key.referencedColumns)).map { (source: $0.0, target: $0.1) }, junction: nil))
            }
            if key.referencedTable == source {
                found.append(Relationship(
                    source: source, target: key.table, cardinality: key.isOneToOne ? .oneToOne : .oneToMany, key: key,
                    columns: Array(zip(key.referencedColumns, key.columns)).map { (source: $0.0, target: $0.1) }, junction: nil))
            }
        }
        for sourceKey in foreignKeys where sourceKey.referencedTable == source {
            guard let junction = relations[sourceKey.table], !junction.primaryKey.isEmpty else { continue }
            let primaryKey = Set(junction.primaryKey)
            for targetKey in foreignKeys where targetKey.table == sourceKey.table && targetKey != sourceKey {
                guard Set(sourceKey.columns + targetKey.columns).isSubset(of: primaryKey) else { continue }
                found.append(Relationship(
                    source: source, target: targetKey.referencedTable, cardinality: .manyToMany, key: sourceKey, columns: [],
                    junction: Relationship.Junction(table: junction.name, sourceKey: sourceKey, targetKey: targetKey)))
            }
        }
        return found
    }

    /// The one relationship `embed` names from `source`: 400 `PGRST200` when none does, 300
    /// `PGRST201` when several do.
    func relationship(from source: QualifiedName, embedding embed: Embed) throws(RESTError) -> Relationship {
        let target = embed.relation
        let candidates = relationships(from: source).filter { relationship in
            guard relationship.target.schema == source.schema else { return false }
            let targetIsView = relations[relationship.target].map { $0.kind != .table && $0.kind != .partitionedTable } ?? false
            if relationship.isSelf {
                guard let hint = embed.hint else {
                    // `children:family_tree(*)` is the one-to-many, `parent_id(*)` the many-to-one.
                    return (relationship.target.name == target && relationship.cardinality == .oneToMany)
                        || (relationship.matchesSourceColumn(target) && relationship.cardinality == .manyToOne)
                }
                return relationship.target.name == target && relationship.cardinality == .oneToMany && relationship.matchesTargetColumn(hint)
            }
            guard let hint = embed.hint else {
                return relationship.target.name == target
                    || (relationship.matchesConstraint(target) && !targetIsView)
                    || (relationship.matchesSourceColumn(target) && !targetIsView)
            }
            return relationship.target.name == target
                && (relationship.matchesConstraint(hint) || relationship.matchesSourceColumn(hint)
                    || relationship.matchesTargetColumn(hint) || relationship.junction?.table.name == hint)
        }
        switch candidates.count {
        case 1:
            return candidates[0]
        case 0:
            throw RESTError(
                status: 400, code: "PGRST200",
                message: "Could not find a relationship between '\(source.name)' and '\(target)' in the schema cache",
                details: "Searched for a foreign key relationship between '\(source.name)' and '\(target)'"
                    + (embed.hint.map { "' using the hint '\($0)" } ?? "") + "' in the schema '\(source.schema)', but no matches were found.")
        default:
            throw RESTError(
                status: 300, code: "PGRST201",
                message: "Could not embed because more than one relationship was found for '\(source.name)' and '\(target)'",
                details: candidates.map(\.summary).joined(separator: "; "),
                hint: "Try changing '\(target)' to one of the following: "
                    + candidates.map { "'\($0.target.name)!\($0.junction?.table.name ?? $0.constraintName)'" }.joined(separator: ", ")
                    + ". Find the desired relationship in the 'details' key.")
        }
    }
}

extension Relationship {
    /// Whether `name` is the foreign key's constraint (`todos_user_id_fkey`).
    func matchesConstraint(_ name: String) -> Bool { junction == nil && key.constraintName == name }
    /// Whether `name` is the single key column on the source's side (`user_id` from todos).
    func matchesSourceColumn(_ name: String) -> Bool { junction == nil && columns.count == 1 && columns[0].source == name }
    /// Whether `name` is the single key column on the target's side.
    func matchesTargetColumn(_ name: String) -> Bool { junction == nil && columns.count == 1 && columns[0].target == name }

    /// PostgREST's description of a candidate (`many-to-one: todos with users using todos_user_id_fkey
    /// todos(user_id) and users(id)`), for an ambiguity's details.
    var summary: String {
        let embedding = "\(source.name) with \(target.name)"
        if let junction {
            return "\(cardinality.rawValue) \(embedding) through \(junction.table.name) using "
                + "\(junction.sourceKey.constraintName)(\(junction.sourceKey.columns.joined(separator: ", "))) and "
                + "\(junction.targetKey.constraintName)(\(junction.targetKey.columns.joined(separator: ", ")))"
        }
        return "\(cardinality.rawValue) \(embedding) using \(key.constraintName): "
            + "\(source.name)(\(columns.map(\.source).joined(separator: ", "))) and \(target.name)(\(columns.map(\.target).joined(separator: ", ")))"
    }
}
