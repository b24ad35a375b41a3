import BranchCore
import BranchPostgres
import BranchSystem
import Foundation

/// The source's definitions, dumped once (custom format, in the import's snapshot) and restored
/// in two parts around the rows: `pre-data` (types, tables, functions, policies, grants) before,
/// `post-data` (indexes, constraints, triggers) after, in parallel.
struct SchemaDump: Sendable {
    let file: String
    let installation: PostgresInstallation

    /// One definition `pg_restore` could not create (it goes on after each).
    struct Failure: Sendable, Equatable {
        let object: String
        let message: String
    }

    func make(from source: ExternalDatabase, snapshot: String, excluding schemas: [String]) async throws {
        var arguments = [
            "--no-password", "--schema-only", "--format=custom", "--snapshot=\(snapshot)", "--no-publications", "--no-subscriptions",
            "--no-security-labels", "--no-tablespaces", "--exclude-schema=_branch", "-f", file,
        ]
        arguments += schemas.map { "--exclude-schema=\($0)" }
        arguments += ["-d", Self.conninfo(source.connection)]
        let result = try await Command.run(
            installation.tool("pg_dump"), arguments, environment: Self.environment(source.connection), check: false)
        guard result.succeeded else {
            throw EngineError(.importFailed, "pg_dump could not read the source's schema: \(result.tail)",
                              hint: "Nothing was kept. The URL's user needs to read every schema it should import.")
        }
    }

    /// Restores one section as `role` (which then owns everything made), leaving out what
    /// `ImportTOC` leaves out; returns what failed.
    func restore(section: String, into target: ConnectionInfo, role: String, existingSchemas: Set<String>, workers: Int) async throws -> [Failure] {
        let listing = try await Command.run(installation.tool("pg_restore"), ["-l", file])
        let plan = ImportTOC.plan(listing: listing.stdout, existingSchemas: existingSchemas)
        let listFile = file + ".\(section).list"
        try Files.writeAtomically(plan.list, to: listFile, mode: 0o600)
        defer { try? FileManager.default.removeItem(atPath: listFile) }
        let arguments = [
            "--no-password", "--section=\(section)", "--no-owner", "--role=\(role)", "-L", listFile, "-j", String(max(1, workers)),
            "-h", target.host, "-p", String(target.port), "-U", target.user, "-d", target.database, file,
        ]
        // Index builds get more memory than a server's default; the restore's own sessions only.
        let result = try await Command.run(
            installation.tool("pg_restore"), arguments, environment: ["PGOPTIONS": "-c maintenance_work_mem=256MB -c synchronous_commit=off"],
            check: false)
        let failures = Self.failures(result.stderr)
        if !result.succeeded && failures.isEmpty {
            throw EngineError(.importFailed, "pg_restore failed: \(result.tail)", hint: "Nothing was kept.")
        }
        return (section == "pre-data" ? plan.skipped.map { Failure(object: "\($0.kind) \($0.name)", message: $0.reason) } : []) + failures
    }

    func remove() {
        for path in [file] where Files.exists(path) { try? FileManager.default.removeItem(atPath: path) }
    }

    /// pg_restore's errors: each "error:" line says why, and the "Command was:" that follows
    /// names the statement (its first words, "CREATE VIEW public.v"); verbose builds also say
    /// "from TOC entry 215; 1259 16386 TABLE public t owner" before.
    static func failures(_ stderr: String) -> [Failure] {
        var failures: [Failure] = []
        var object: String?
        for line in stderr.split(separator: "\n").map(String.init) {
            if let range = line.range(of: "from TOC entry ") {
                let entry = ImportTOC.parse(String(line[range.upperBound...]).replacingOccurrences(of: "\"", with: ""))
                object = entry.map { "\($0.kind.lowercased()) \($0.tag.split(separator: " ").prefix(2).filter { $0 != "-" }.joined(separator: "."))" }
            } else if line.hasPrefix("Command was: "), let last = failures.indices.last, failures[last].object == "definition" {
                failures[last] = Failure(object: statement(String(line.dropFirst("Command was: ".count))), message: failures[last].message)
            } else if let range = line.range(of: "error: ") {
                var message = String(line[range.upperBound...])
                for prefix in ["could not execute query: ", "ERROR:  "] where message.hasPrefix(prefix) { message.removeFirst(prefix.count) }
                failures.append(Failure(object: object ?? "definition", message: message))
                object = nil
            }
        }
        return failures
    }

    /// A statement's head: its words up to `AS` or a parenthesis ("CREATE VIEW public.v").
    static func statement(_ sql: String) -> String {
        var words: [Substring] = []
        for word in sql.split(separator: " ") {
            if word == "AS" || word.hasPrefix("(") || words.count == 10 { break }
            words.append(word.split(separator: "(").first ?? word)
        }
        return words.joined(separator: " ")
    }

    /// The source's conninfo without its password, which goes through the environment (not
    /// the command line, which other users of the machine can read).
    static func conninfo(_ connection: ConnectionInfo) -> String {
        var copy = connection
        copy.password = nil
        return copy.conninfo
    }

    static func environment(_ connection: ConnectionInfo) -> [String: String] {
        connection.password.map { ["PGPASSWORD": $0] } ?? [:]
    }
}
