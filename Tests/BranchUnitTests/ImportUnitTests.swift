@testable import BranchEngine
import BranchCore
import BranchPostgres
import Testing

/// The pure parts of `branch project import`: which dump entries it restores, how it reads
/// pg_restore's failures, which URLs it accepts, and its ETA.
@Suite("Import planning")
struct ImportUnitTests {
    static let listing = """
        ;
        ; Archive created at 2026-12-05 22:41:57 UTC
        ;
        7; 2615 16385 SCHEMA - extensions postgres
        8; 2615 16390 SCHEMA - supabase_migrations postgres
        2; 3079 16391 EXTENSION - citext 
        4010; 0 0 COMMENT - EXTENSION citext 
        2; 2615 2200 SCHEMA - public pg_database_owner
        4011; 0 0 COMMENT - SCHEMA public pg_database_owner
        940; 1247 16500 TYPE public priority postgres
        215; 1259 16386 TABLE public todos postgres
        3380; 3466 16401 EVENT TRIGGER - pgrst_ddl_watch supabase_admin
        3391; 6104 16402 PUBLICATION - supabase_realtime postgres
        3860; 2606 16510 FK CONSTRAINT public todos todos_owner_fkey postgres
        4012; 0 0 ACL - SCHEMA public pg_database_owner
        """

    @Test("extensions, existing schemas, event triggers and publications are left out; the rest is kept in order")
    func plan() {
        let plan = ImportTOC.plan(listing: Self.listing, existingSchemas: ["public", "extensions", "auth"])
        let kept = plan.list.split(separator: "\n").filter { !$0.hasPrefix(";") }.map { String($0) }
        #expect(kept == [
            "8; 2615 16390 SCHEMA - supabase_migrations postgres",
            "4011; 0 0 COMMENT - SCHEMA public pg_database_owner",
            "940; 1247 16500 TYPE public priority postgres",
            "215; 1259 16386 TABLE public todos postgres",
            "3860; 2606 16510 FK CONSTRAINT public todos todos_owner_fkey postgres",
            "4012; 0 0 ACL - SCHEMA public pg_database_owner",
        ])
        #expect(plan.skipped == [.init(kind: "event trigger", name: "pgrst_ddl_watch", reason: "event triggers are the source platform's; Branch runs its own")])
    }

    @Test("multi-word kinds are read whole")
    func parse() {
        #expect(ImportTOC.parse("3860; 2606 16510 FK CONSTRAINT public todos todos_owner_fkey postgres")?.kind == "FK CONSTRAINT")
        #expect(ImportTOC.parse("3380; 3466 16401 EVENT TRIGGER - w supabase_admin")?.tag == "- w supabase_admin")
        #expect(ImportTOC.parse("; a comment") == nil)
        #expect(ImportTOC.parse("") == nil)
    }

    @Test("pg_restore's errors name the object that failed, from the command or (verbose) the TOC entry")
    func failures() {
        let plain = """
            pg_restore: error: could not execute query: ERROR:  function public.f(integer) does not exist
            LINE 2:  SELECT public.f(1) AS f;
                            ^
            HINT:  No function matches the given name and argument types. You might need to add explicit type casts.
            Command was: CREATE VIEW public.v AS
             SELECT public.f(1) AS f;

            pg_restore: error: could not execute query: ERROR:  role "ghost" does not exist
            Command was: GRANT SELECT ON TABLE public.t TO ghost;
            pg_restore: warning: errors ignored on restore: 2
            """
        #expect(SchemaDump.failures(plain) == [
            .init(object: "CREATE VIEW public.v", message: "function public.f(integer) does not exist"),
            .init(object: "GRANT SELECT ON TABLE public.t TO ghost;", message: "role \"ghost\" does not exist"),
        ])
        let verbose = """
            pg_restore: while PROCESSING TOC:
            pg_restore: from TOC entry 231; 1255 16420 FUNCTION public uses_missing() postgres
            pg_restore: error: could not execute query: ERROR:  type "public.hstore" does not exist
            Command was: CREATE FUNCTION public.uses_missing() RETURNS public.hstore
            """
        #expect(SchemaDump.failures(verbose) == [.init(object: "function public.uses_missing()", message: "type \"public.hstore\" does not exist")])
    }

    @Test("database URLs: TCP hosts only, the parts libpq needs, passwords never shown")
    func urls() throws {
        let parsed = try ExternalDatabase(url: "postgresql://app%40x:p%40ss%3Aw@db.example.com:6543/shop?sslmode=require")
        #expect(parsed.connection.host == "db.example.com" && parsed.connection.port == 6543)
        #expect(parsed.connection.user == "app@x" && parsed.connection.password == "p@ss:w" && parsed.connection.database == "shop")
        #expect(parsed.connection.sslMode == "require")
        #expect(!parsed.redactedURL.contains("p%40ss") && !"\(parsed.connection)".contains("ss:w"))
        #expect(try ExternalDatabase(url: "postgres://u@h/d").connection.port == 5432)
        for bad in [
            "mysql://u@h/d", "postgres://u@/d", "postgres://u@h", "postgres://u@h/", "postgres://h/d",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/d", "postgres://u@h/d?host=/var/run/postgresql", "postgres://u@h/d?sslmode=maybe",
            "postgres://u:secret@h/d?passfile=/root/.pgpass", "not a url",
        ] {
            #expect(throws: EngineError.self, "\(bad)") { try ExternalDatabase(url: bad) }
            do {
                _ = try ExternalDatabase(url: bad)
            } catch {
                #expect(error.code == .invalidDatabaseURL)
                #expect(!error.message.contains("secret"), "\(error.message)")
            }
        }
    }

    @Test("the ETA follows the rate so far and never goes negative")
    func eta() {
        var counts = ImportProgress.Counts()
        counts.bytesTotal = 1000
        #expect(ImportProgress.eta(counts, elapsed: 10) == nil)
        counts.bytes = 250
        #expect(ImportProgress.eta(counts, elapsed: 10) == 30)
        counts.bytes = 1200
        #expect(ImportProgress.eta(counts, elapsed: 10) == 0)
    }

    @Test("sources newer than this server's major, or older than 10, are refused with the reason; the rest are read")
    func versions() {
        let local = (major: 15, version: "15.18")
        let newer = ProjectImports.versionProblem(source: (17, "17.2"), local: local, url: "postgres://u:****@h:5432/d")
        #expect(newer?.code == .sourceVersionUnsupported)
        #expect(newer?.message.contains("17.2") == true && newer?.message.contains("pg_dump 15") == true)
        #expect(ProjectImports.versionProblem(source: (9, "9.6.24"), local: local, url: "u")?.code == .sourceVersionUnsupported)
        for older in [(10, "10.23"), (13, "13.1"), (15, "15.2")] {
            #expect(ProjectImports.versionProblem(source: older, local: local, url: "u") == nil)
        }
    }

    @Test("SQL exports lose the service's reader-role grants, also split across pieces, and nothing else")
    func exportFilter() {
        var filter = ExportLineFilter(role: "branch_reader")
        let dump = "CREATE TABLE public.t (id int);\nGRANT SELECT ON TABLE public.t TO branch_reader;\nGRANT SELECT ON TABLE public.t TO anon;\n"
            + "REVOKE ALL ON TABLE public.t FROM branch_reader;\n-- GRANT x TO branch_reader;\nSELECT 1"
        var output: [UInt8] = []
        for piece in Array(dump.utf8).chunked(7) { output += filter.filter(piece) }
        output += filter.finish()
        #expect(String(decoding: output, as: UTF8.self)
            == "CREATE TABLE public.t (id int);\nGRANT SELECT ON TABLE public.t TO anon;\n-- GRANT x TO branch_reader;\nSELECT 1")
    }
}

extension Array {
    fileprivate func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
