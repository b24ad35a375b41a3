import BranchAPI
import Foundation

// The API's bodies, as generated from Sources/BranchAPI/openapi.json, by the names the tests use.
typealias BackupInfo = Components.Schemas.BackupInfo
typealias BackupList = Components.Schemas.BackupList
typealias BranchList = Components.Schemas.BranchList
typealias BranchResult = Components.Schemas.BranchResult
typealias CheckoutResult = Components.Schemas.CheckoutResult
typealias ConnectionResponse = Components.Schemas.ConnectionResponse
typealias DeleteResult = Components.Schemas.DeleteResult
typealias DiffColumnChange = Components.Schemas.DiffColumnChange
typealias DiffEnd = Components.Schemas.DiffEnd
typealias DiffLine = Components.Schemas.DiffLine
typealias DiffRowChange = Components.Schemas.DiffRowChange
typealias DiffSchemaChange = Components.Schemas.DiffSchemaChange
typealias DiffTableSummary = Components.Schemas.DiffTableSummary
typealias EventList = Components.Schemas.EventList
typealias JobInfo = Components.Schemas.JobInfo
typealias KeysRotated = Components.Schemas.KeysRotated
typealias MergeResult = Components.Schemas.MergeResult
typealias MetricsResponse = Components.Schemas.MetricsResponse
typealias OperationList = Components.Schemas.OperationList
typealias ProjectCreated = Components.Schemas.ProjectCreated
typealias ProjectInfo = Components.Schemas.ProjectInfo
typealias ProjectKeys = Components.Schemas.ProjectKeys
typealias ProjectList = Components.Schemas.ProjectList
typealias ProjectUpdated = Components.Schemas.ProjectUpdated
typealias ScheduleInfo = Components.Schemas.ScheduleInfo
typealias ScheduleList = Components.Schemas.ScheduleList
typealias SnapshotList = Components.Schemas.SnapshotList
typealias SnapshotResult = Components.Schemas.SnapshotResult
typealias StatusResponse = Components.Schemas.StatusResponse

extension JSONDecoder {
    /// How the API's JSON reads: ISO 8601 dates (without fractional seconds).
    static var api: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
