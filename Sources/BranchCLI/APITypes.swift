import BranchAPI
import Foundation

// The API's bodies, as generated from Sources/BranchAPI/openapi.json, by the names the commands use.
typealias BranchInfo = Components.Schemas.BranchInfo
typealias ConnectionResponse = Components.Schemas.ConnectionResponse
typealias DiffColumnChange = Components.Schemas.DiffColumnChange
typealias DiffLine = Components.Schemas.DiffLine
typealias DiffRowChange = Components.Schemas.DiffRowChange
typealias DiffSchemaChange = Components.Schemas.DiffSchemaChange
typealias ErrorDetail = Components.Schemas.ErrorDetail
typealias JobInfo = Components.Schemas.JobInfo
typealias MergeResolution = Components.Schemas.MergeResolution
typealias MergeResult = Components.Schemas.MergeResult
typealias MetricsResponse = Components.Schemas.MetricsResponse
typealias OperationTiming = Components.Schemas.OperationTiming
typealias ProjectSettings = Components.Schemas.ProjectSettings

extension JSONEncoder {
    /// The API's encoding: ISO 8601 dates without fractional seconds, stable key order.
    static var api: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

extension JSONDecoder {
    /// The API's decoding: ISO 8601 dates.
    static var api: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
