/// Every error code the service reports: one list, documented in docs/api.md (a test checks the
/// two agree). Codes are stable: clients and scripts match on them, so a code is never renamed
/// or reused once shipped; new ones are added.
package enum ErrorCode: String, Sendable, CaseIterable, CustomStringConvertible {
    // Requests
    case invalidRequest = "invalid_request"
    case invalidName = "invalid_name"
    case payloadTooLarge = "payload_too_large"
    case signInLocked = "sign_in_locked"
    case unauthorized
    case forbidden
    case notFound = "not_found"
    case badRequest = "bad_request"
    case backupKeyMissing = "backup_key_missing"
    case masterKeyInvalid = "master_key_invalid"
    case tlsCertificateInvalid = "tls_certificate_invalid"
    case invalidCIDR = "invalid_cidr"
    case addressNotAllowed = "address_not_allowed"
    case requestTimeout = "request_timeout"
    case tooManyConnections = "too_many_connections"

    // Things that do not exist
    case projectNotFound = "project_not_found"
    case branchNotFound = "branch_not_found"
    case snapshotNotFound = "snapshot_not_found"
    case tableNotFound = "table_not_found"
    case diffSideNotFound = "diff_side_not_found"
    case backupNotFound = "backup_not_found"
    case jobNotFound = "job_not_found"
    case subvolumeNotFound = "subvolume_not_found"
    case migrationNotFound = "migration_not_found"
    case userNotFound = "user_not_found"
    case tokenNotFound = "token_not_found"
    case alertChannelNotFound = "alert_channel_not_found"

    // States that do not allow the request
    case projectExists = "project_exists"
    case branchExists = "branch_exists"
    case snapshotExists = "snapshot_exists"
    case notReady = "not_ready"
    case projectHasBranches = "project_has_branches"
    case branchIsMain = "branch_is_main"
    case branchHasChildren = "branch_has_children"
    case branchProtected = "branch_protected"
    case branchCheckedOut = "branch_checked_out"
    case branchHasNoParent = "branch_has_no_parent"
    case snapshotInUse = "snapshot_in_use"
    case pointNotRestorable = "point_not_restorable"
    case branchStopped = "branch_stopped"
    case mergeNoTarget = "merge_no_target"
    case mergeNoBase = "merge_no_base"
    case mergeSchemaConflict = "merge_schema_conflict"
    case mergeDestructive = "merge_destructive"
    case mergeUnsupportedChange = "merge_unsupported_change"
    case backupInUse = "backup_in_use"
    case backupProjectMismatch = "backup_project_mismatch"
    case postgresVersionMismatch = "postgres_version_mismatch"
    case subvolumeExists = "subvolume_exists"
    case catalogConflict = "catalog_conflict"
    case branchBusy = "branch_busy"
    case userExists = "user_exists"
    case lastAdmin = "last_admin"
    case migrationExists = "migration_exists"
    case migrationChanged = "migration_changed"
    case releaseNotNewer = "release_not_newer"
    case releaseIncompatible = "release_incompatible"
    case upgradeInProgress = "upgrade_in_progress"
    case noPreviousRelease = "no_previous_release"

    // Data that does not check out
    case backupWrongKey = "backup_wrong_key"
    case backupKeyNotRotatable = "backup_key_not_rotatable"
    case backupIntegrityFailed = "backup_integrity_failed"
    case masterKeyMismatch = "master_key_mismatch"
    case jsonPatchInvalid = "json_patch_invalid"
    case sqlFailed = "sql_failed"
    case migrationFailed = "migration_failed"
    case migrationNotTransactional = "migration_not_transactional"
    case releaseInvalid = "release_invalid"

    // Dependencies and resources not available now
    case backupTargetFailed = "backup_target_failed"
    case backupTargetFull = "backup_target_full"
    case releaseUnavailable = "release_unavailable"
    case upgradeRolledBack = "upgrade_rolled_back"
    case noFreePort = "no_free_port"
    case postgresConnectionFailed = "postgres_connection_failed"
    case postgresPortTaken = "postgres_port_taken"
    case postgresStartFailed = "postgres_start_failed"
    case runtimeUpdateFailed = "runtime_update_failed"
    case runtimeUnavailable = "runtime_unavailable"
    case walArchivingBehind = "wal_archiving_behind"
    case poolerFailed = "pooler_failed"
    case serviceStopping = "service_stopping"
    case poolFull = "pool_full"

    // Failures inside the service
    case postgresQueryFailed = "postgres_query_failed"
    case postgresQueryCancelled = "postgres_query_cancelled"
    case postgresQueryTimeout = "postgres_query_timeout"
    case postgresStopFailed = "postgres_stop_failed"
    case postgresTemplateFailed = "postgres_template_failed"
    case postgresNotInstalled = "postgres_not_installed"
    case poolMountFailed = "pool_mount_failed"
    case poolNotEmpty = "pool_not_empty"
    case poolNotBtrfs = "pool_not_btrfs"
    case storageFailed = "storage_failed"
    case catalogUnavailable = "catalog_unavailable"
    case catalogFailed = "catalog_failed"
    case fileError = "file_error"
    case commandFailed = "command_failed"
    case backupFailed = "backup_failed"
    case internalError = "internal_error"
    /// The console's first-run screen after the instance admin chose their sign-in.
    case firstRunDone = "first_run_done"
    /// A console form or script request without the session's CSRF token, or from another site.
    case csrfRefused = "csrf_refused"

    // Databases outside Branch (an import's source, a push's target)
    case invalidDatabaseURL = "invalid_database_url"
    case externalDatabaseUnreachable = "external_database_unreachable"
    case externalDatabaseAuthFailed = "external_database_auth_failed"
    case externalDatabasePermissionDenied = "external_database_permission_denied"
    case sourceVersionUnsupported = "source_version_unsupported"
    case importFailed = "import_failed"
    case tableHasNoPrimaryKey = "table_has_no_primary_key"
    case pushFailed = "push_failed"
    case mirrorReadOnly = "mirror_read_only"
    case mailNotConfigured = "mail_not_configured"

    package var description: String { rawValue }

    package var category: ErrorCategory {
        switch self {
        case .invalidRequest, .invalidName, .badRequest, .backupKeyMissing, .masterKeyInvalid, .tlsCertificateInvalid, .migrationNotTransactional, .invalidCIDR,
            .invalidDatabaseURL: .invalidInput
        case .payloadTooLarge: .tooLarge
        case .signInLocked: .rateLimited
        case .unauthorized: .unauthorized
        case .forbidden, .addressNotAllowed, .csrfRefused: .forbidden
        case .notFound, .projectNotFound, .branchNotFound, .snapshotNotFound, .tableNotFound, .diffSideNotFound, .backupNotFound,
            .jobNotFound, .subvolumeNotFound, .migrationNotFound, .userNotFound, .tokenNotFound, .alertChannelNotFound:
            .notFound
        case .projectExists, .branchExists, .snapshotExists, .notReady, .projectHasBranches, .branchIsMain, .branchHasChildren, .branchProtected,
            .branchCheckedOut, .branchHasNoParent, .snapshotInUse, .pointNotRestorable, .branchStopped, .mergeNoTarget, .mergeNoBase,
            .mergeSchemaConflict, .mergeDestructive, .mergeUnsupportedChange, .backupInUse, .backupProjectMismatch, .backupKeyNotRotatable,
            .postgresVersionMismatch, .subvolumeExists, .catalogConflict, .branchBusy, .migrationExists, .migrationChanged,
            .releaseNotNewer, .releaseIncompatible, .upgradeInProgress, .noPreviousRelease,
            .userExists, .lastAdmin, .firstRunDone, .sourceVersionUnsupported, .tableHasNoPrimaryKey, .mirrorReadOnly,
            .mailNotConfigured:
            .conflict
        case .backupWrongKey, .backupIntegrityFailed, .masterKeyMismatch, .jsonPatchInvalid, .sqlFailed, .migrationFailed, .releaseInvalid,
            .externalDatabaseAuthFailed, .externalDatabasePermissionDenied, .importFailed, .pushFailed: .unprocessable
        case .backupTargetFailed, .releaseUnavailable, .externalDatabaseUnreachable: .upstreamFailed
        case .noFreePort, .postgresConnectionFailed, .postgresPortTaken, .postgresStartFailed, .runtimeUpdateFailed, .runtimeUnavailable,
            .walArchivingBehind, .poolerFailed, .serviceStopping, .tooManyConnections, .upgradeRolledBack:
            .unavailable
        case .poolFull, .backupTargetFull: .insufficientStorage
        case .postgresQueryTimeout: .timeout
        case .requestTimeout: .requestTimeout
        case .postgresQueryCancelled: .cancelled
        case .postgresQueryFailed, .postgresStopFailed, .postgresTemplateFailed, .postgresNotInstalled, .poolMountFailed, .poolNotEmpty,
            .poolNotBtrfs, .storageFailed, .catalogUnavailable, .catalogFailed, .fileError, .commandFailed, .backupFailed, .internalError:
            .internal
        }
    }
}
