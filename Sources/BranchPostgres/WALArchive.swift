/// The scripts Postgres runs to archive WAL into a lineage directory and to read it back during
/// a point-in-time recovery, and the settings that wire them up.
///
/// Segments are stored zstd-compressed as `<name>.zst`, written to a temporary name, synced and
/// renamed, so an archived file is always whole; a failed attempt (a full pool) removes its
/// temporary, and Postgres retries the segment until it is archived. Archiving a segment that is already there with
/// the same content succeeds (Postgres retries after a crash); different content fails loudly.
package enum WALArchive {
    package static let archiveScriptName = "archive-wal"
    package static let restoreScriptName = "restore-wal"

    package static let archiveScript = """
        #!/bin/sh
        # Written by Branch. archive_command: archive-wal %p %f DIRECTORY
        set -eu
        source_file="$1"; name="$2"; directory="$3"
        target="$directory/$name.zst"
        if [ -f "$target" ]; then
            if zstd -dcq "$target" | cmp -s - "$source_file"; then exit 0; fi
            echo "archive-wal: $target already exists with other content" >&2
            exit 1
        fi
        temporary="$directory/.$name.$$.tmp"
        # A failed write (a full pool) or a stop leaves no partial temporary taking space: Postgres
        # keeps the segment and retries the whole archiving later.
        trap 'rm -f "$temporary"' EXIT
        trap 'exit 1' HUP INT TERM
        zstd -q -1 --no-progress -f "$source_file" -o "$temporary"
        sync "$temporary"
        mv "$temporary" "$target"
        sync "$directory"

        """

    package static let restoreScript = """
        #!/bin/sh
        # Written by Branch. restore_command: restore-wal %f %p DIRECTORY
        set -u
        source_file="$3/$1.zst"
        [ -f "$source_file" ] || exit 1
        exec zstd -dcq "$source_file" -o "$2" -f

        """

    /// Settings that archive every completed WAL segment (and at least once a minute when there
    /// were writes) into `walDirectory` with the script in `scriptDirectory`.
    package static func archiveSettings(walDirectory: String, scriptDirectory: String) -> [String: String] {
        [
            "archive_mode": "on",
            "archive_command": SQL.literal("\(scriptDirectory)/\(archiveScriptName) %p %f \(walDirectory)"),
            "archive_timeout": "'60s'",
        ]
    }

    /// Where a point-in-time recovery stops: after every commit at an instant
    /// (`yyyy-mm-dd hh:mm:ss+00`, inclusive), or before the WAL record at a position (`X/Y`), so
    /// the state is what the WAL before it wrote: `pg_current_wal_lsn()` read between two
    /// transactions gives the first and not the second.
    package enum Target: Sendable {
        case time(String)
        case position(String)

        var settings: [String] {
            switch self {
            case .time(let time): ["recovery_target_time = \(SQL.literal(time))", "recovery_target_inclusive = on"]
            case .position(let lsn): ["recovery_target_lsn = \(SQL.literal(lsn))", "recovery_target_inclusive = off"]
            }
        }
    }

    /// Settings of a point-in-time recovery from `restoreDirectory`: replay up to `target` and
    /// promote; without a target, replay everything.
    package static func recoverySettings(restoreDirectory: String, scriptDirectory: String, target: Target?) -> String {
        var lines = [
            "# Written by Branch for a point-in-time recovery; removed once the branch is promoted.",
            "restore_command = \(SQL.literal("\(scriptDirectory)/\(restoreScriptName) %f %p \(restoreDirectory)"))",
            "recovery_target_timeline = 'current'",
        ]
        if let target {
            lines += target.settings + ["recovery_target_action = 'promote'"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Name of the file `branch.conf` includes for recovery settings.
    package static let recoveryConfigName = "branch-recovery.conf"

    /// Orders WAL segment file names by position (timeline aside): the last 16 hex digits.
    package static func position(ofSegment name: String) -> String? {
        guard name.count == 24, name.allSatisfy(\.isHexDigit) else { return nil }
        return String(name.suffix(16))
    }
}
