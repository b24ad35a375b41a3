import BranchAPI
@testable import BranchConsole
import Foundation
import Testing

/// The console's import pages without a service: the job page of a running, failed and finished
/// import as rendered HTML, the form's checks, the password kept out of messages, and the Mirror
/// card's pending changes split from their SQL.
@Suite("Console import pages")
struct ConsoleImportUnitTests {
    static let templates = Templates()

    static func render(_ job: Components.Schemas.JobInfo) -> String {
        let shell = Shell(
            title: "Import", csrf: "token", email: "owner@example.com", isAdmin: true, project: nil, branch: nil, point: "HEAD", historical: false,
            projects: [], branches: [], nav: [], instanceNav: [], flash: nil, flashIsError: false, cli: nil, stylesheet: "/assets/console.css",
            script: "/assets/console.js", pageScript: nil, theme: "dark")
        return templates.render(Page(shell: shell, page: ImportJobModel(job)), "import-job")
    }

    @Test("a running import shows its progress and no report")
    func running() {
        let html = Self.render(.init(
            bytesDone: 3 << 20, bytesPerSecond: 1_048_576, counts: .init(bytesTotal: 10 << 20, etaSeconds: 125, rowsDone: 4200, tablesDone: 3, tablesTotal: 7),
            id: "j1", kind: "project.import", project: "shop", startedAt: Date(), status: "running", step: "copying rows"))
        #expect(html.contains(#"id="import-step">copying rows<"#))
        #expect(html.contains(#"id="import-tables">3 / 7<"#))
        #expect(html.contains(#"id="import-rows">4200<"#))
        #expect(html.contains(#"id="import-eta">2 min 5 s<"#))
        #expect(html.contains("data-job-running") && html.contains(#"<progress id="import-progress" value="3" max="7">"#))
        #expect(!html.contains(#"id="import-report""#) && !html.contains(#"id="import-form""#))
    }

    @Test("a failed import shows the error, its hint and the form again, escaped")
    func failed() {
        let html = Self.render(.init(
            bytesDone: 0, bytesPerSecond: 0, errorCode: "import_failed", errorHint: "Fix <b>it</b> at the source.",
            errorMessage: "Table public.items could not be copied", id: "j2", kind: "project.import", project: "shop", startedAt: Date(),
            status: "failed"))
        #expect(html.contains("Table public.items could not be copied (import_failed)"))
        #expect(html.contains("Fix &lt;b&gt;it&lt;/b&gt; at the source.") && !html.contains("<b>it</b>"))
        #expect(html.contains(#"id="import-form""#) && html.contains(#"id="import-database" open"#))
        #expect(html.contains(#"name="name" required pattern="[a-z0-9][a-z0-9\-]{0,62}" placeholder="new-project-name" value="shop""#))
        #expect(!html.contains("data-job-running") && !html.contains(#"id="import-report""#))
    }

    @Test("a finished import shows the report, what was not carried over, the keys")
    func finished() {
        let report = Components.Schemas.ImportReport(
            authIdentities: 2, authUsers: 2, bytes: 8192, durationMs: 1500, extensions: ["pgcrypto"],
            keys: .init(anonKey: "anon.jwt", issuedAt: Date(), path: "/p/shop", serviceRoleKey: "service.jwt", url: "http://127.0.0.1/p/shop"),
            migrations: 3, notCarried: [.init(kind: "event trigger", name: "<script>x</script>", reason: "the source platform's")],
            rolesCreated: ["app_reader"], rows: 340, schemas: ["public"], source: "postgres://postgres:****@db:5432/app", sourceVersion: "16.4",
            supabase: true, tables: 2, warnings: ["2 tables without row-level security"])
        let html = Self.render(.init(
            bytesDone: 8192, bytesPerSecond: 4096, durationMs: 1500, id: "j3", _import: report, kind: "project.import", project: "shop",
            startedAt: Date(), status: "succeeded", step: "done"))
        #expect(html.contains(#"id="report-tables">2<"#) && html.contains(#"id="report-rows">340<"#))
        #expect(html.contains("&lt;script&gt;x&lt;/script&gt;") && !html.contains("<script>x</script>"))
        #expect(html.contains("2 users and 2 identities") && html.contains("3 migrations"))
        #expect(html.contains(#"data-copy="anon.jwt""#) && html.contains(#"data-copy="service.jwt""#))
        #expect(html.contains(#"href="/projects/shop" id="open-imported""#))
        #expect(html.contains("2 tables without row-level security"))
        #expect(!html.contains(#"id="report-mirror""#) && !html.contains("data-job-running"))
    }

    @Test("the form refuses what it can before calling the service, and keeps the password out")
    func form() throws {
        var fields = ImportForm(FormFields("name=shop&workers=many&mirror=on&publication=pub"))
        #expect(throws: ImportFormError.self) { try fields.request(from: "postgres://u:p@h/db").get() }
        #expect(throws: ImportFormError.self) { try fields.request(from: nil).get() }
        fields = ImportForm(FormFields("name=shop&workers=4&mirror=on&publication=pub"))
        let request = try fields.request(from: "postgres://u:p@h/db").get()
        #expect(request.workers == 4 && request.mirror == true && request.publication == "pub" && request.name == "shop")
        #expect(fields.importCLI == "branch project import shop --from 'postgres://USER:PASSWORD@HOST:PORT/DATABASE' --workers 4 --mirror --publication pub")
        let source = "postgres://app:s%40cret-pw@db.example:5432/app"
        #expect(ImportForm.redacting("could not sign in to postgres://app:s%40cret-pw@db (s@cret-pw)", source: source)
            == "could not sign in to postgres://app:****@db (****)")
    }

    @Test("the Mirror card splits a pending change from the SQL that applies it")
    func mirrorCard() {
        let card = MirrorCard(.init(
            following: true, lagBytes: 2048, lastMessageSecondsAgo: 3,
            pendingChanges: [
                "column public.items.name now integer: invalid input syntax; to apply it yourself: ALTER TABLE public.items ALTER COLUMN \"name\" TYPE integer",
                "table public.gone no longer published by the source",
            ],
            publication: "branch_shop", source: "postgres://postgres:****@db/app", subscription: "branch_shop_sub"))
        #expect(card.mirrorPending.count == 2)
        #expect(card.mirrorPending[0].change == "column public.items.name now integer: invalid input syntax")
        #expect(card.mirrorPending[0].changeSQL == "ALTER TABLE public.items ALTER COLUMN \"name\" TYPE integer")
        #expect(card.mirrorPending[1].changeSQL == nil)
        #expect(card.mirrorLag == "2.0 KiB behind" && card.mirrorHeard == "3 s ago")
    }
}
