// The records' table mappings. A conformance of a public type is public, so GRDB is imported
// publicly here (and only here); the rest of the module keeps GRDB internal.
package import BranchCore
package import GRDB

// MARK: GRDB mapping (snake_case columns)

extension ProjectRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "project"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

extension BranchRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "branch"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

extension SnapshotRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "snapshot"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

extension OperationRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "operation"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

extension LineageRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "lineage"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

extension ScheduleRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "schedule"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

extension BackupRecord: FetchableRecord, PersistableRecord {
    package static let databaseTableName = "backup"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
}

extension ScheduleKind: DatabaseValueConvertible {}

extension EventRecord: FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "event"

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension ResourceName: DatabaseValueConvertible {
    package var databaseValue: DatabaseValue { rawValue.databaseValue }
    package static func fromDatabaseValue(_ value: DatabaseValue) -> ResourceName? {
        String.fromDatabaseValue(value).flatMap { try? ResourceName(validating: $0) }
    }
}

extension ObjectState: DatabaseValueConvertible {}
extension DesiredState: DatabaseValueConvertible {}
extension SnapshotKind: DatabaseValueConvertible {}
extension OperationState: DatabaseValueConvertible {}

/// Column names are snake_case; properties are camelCase with `ID` spelled in capitals
/// (`operation_id` ↔ `operationID`, `webhook_url` ↔ `webhookURL`), which GRDB's built-in snake-case strategy would read as `operationId`.
enum CatalogColumns {
    static let decoding = DatabaseColumnDecodingStrategy.custom { column in ColumnKey(stringValue: property(for: column)) }

    static func property(for column: String) -> String {
        var result = ""
        var upperNext = false
        for character in column {
            if character == "_" {
                upperNext = true
            } else {
                result.append(upperNext ? Character(character.uppercased()) : character)
                upperNext = false
            }
        }
        for (word, acronym) in [("Id", "ID"), ("Url", "URL")] where result.hasSuffix(word) {
            result = String(result.dropLast(word.count)) + acronym
        }
        return result
    }

    struct ColumnKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// Plain text in its column (`head`, `instant:…`), not the JSON GRDB writes for other Codable values.
extension BranchOrigin: DatabaseValueConvertible {
    package var databaseValue: DatabaseValue { stored.databaseValue }

    package static func fromDatabaseValue(_ dbValue: DatabaseValue) -> BranchOrigin? {
        String.fromDatabaseValue(dbValue).flatMap(BranchOrigin.init(stored:))
    }
}
