public import BranchCore

/// A catalog failure, or a lookup that found nothing.
public struct CatalogError: ReportableError {
    public struct Code: Hashable, Sendable {
        public let rawValue: String
        public static let unavailable = Code(rawValue: "catalog_unavailable")
        public static let conflict = Code(rawValue: "catalog_conflict")
        public static let failed = Code(rawValue: "catalog_failed")
        public static let full = Code(rawValue: "pool_full")
    }

    public let kind: Code
    public let detail: String

    public init(_ kind: Code, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var code: String { kind.rawValue }
    public var httpStatus: Int {
        switch kind {
        case .conflict: 409
        case .full: 507
        default: 500
        }
    }
    public var message: String { detail }
    public var hint: String? { nil }
}
