import Foundation

/// A branch's brief for AI agents (`{base}/ai-spec.md`, `branch docs`): one markdown page an agent
/// reads in one go before touching the project: how to connect, what each key may do, the
/// limits, every table, view and function with its columns and relations, row-level security in
/// words, an example call per table in supabase-js, supabase-py and curl, and how to migrate
/// safely. Built from the schema cache and the policies on each request.
package enum AgentBrief {
    package static func markdown(schema: SchemaCache, security: [QualifiedName: TableSecurity], context: AgentDocsContext) -> String {
        let relations = schema.relations.values.filter { $0.name.schema == context.exposedSchema }.sorted { $0.name < $1.name }
        let functions = schema.functions.filter { $0.key.schema == context.exposedSchema }.sorted { $0.key < $1.key }
        var out = BriefSections(context: context)
        out.header(schema: schema)
        out.connect()
        out.keys()
        out.limits()
        out.overview(relations, functions: functions, schema: schema, security: security)
        for relation in relations { out.relation(relation, schema: schema, security: security[relation.name]) }
        out.functions(functions)
        out.auth()
        out.queryLanguage()
        out.migrations(sampleTable: relations.first { $0.kind == .table }?.name.name ?? "todos")
        out.errors()
        return out.text
    }
}

/// The brief's sections, appended in order.
private struct BriefSections {
    let context: AgentDocsContext
    var lines: [String] = []

    init(context: AgentDocsContext) { self.context = context }

    var text: String { lines.joined(separator: "\n") + "\n" }

    mutating func add(_ more: String...) { lines += more }

    mutating func code(_ language: String, _ source: String) {
        lines += ["```\(language)", source, "```"]
    }

    private var base: String { context.baseURL }

    private var place: String {
        context.followsCheckout
            ? "project `\(context.project)`, whose address follows `branch checkout` (now branch `\(context.branch)`)"
            : "branch `\(context.branch)` of project `\(context.project)`"
    }

    // MARK: Sections

    mutating func header(schema: SchemaCache) {
        add(
            "# Data API brief: \(place)", "",
            "Generated from the live schema (version `\(schema.version.isEmpty ? "unknown" : schema.version)`) of schema `\(context.exposedSchema)`. "
                + "It changes with every migration: read it again after one (`GET \(base)/ai-spec.md` with the service_role key, or `branch docs\(context.followsCheckout ? "" : " \(context.branch)") --project \(context.project)`). "
                + "The same API as OpenAPI 3.1: `\(base)/openapi.json`.", "")
        if let comment = schema.schemaComments[context.exposedSchema] { add("> " + comment.replacingOccurrences(of: "\n", with: "\n> "), "") }
    }

    mutating func connect() {
        add(
            "## Connect", "",
            "| what | where |", "| --- | --- |",
            "| base URL (`SUPABASE_URL`) | `\(base)` |",
            "| REST (PostgREST) | `\(base)/rest/v1/{table}`, functions `\(base)/rest/v1/rpc/{function}` |",
            "| Auth (GoTrue) | `\(base)/auth/v1/…` |",
            "| OpenAPI 3.1 | `\(base)/openapi.json` (also `swagger.json`) |",
            "| management API (this branch) | `\(context.managementBranchURL)` |", "")
        if context.followsCheckout {
            add("This base URL reaches whichever branch is checked out. `\(base)/b/{branch}` reaches one branch for good.", "")
        }
        add(
            "`branch env\(context.followsCheckout ? "" : " \(context.branch)") --project \(context.project)` prints `SUPABASE_URL`, `SUPABASE_ANON_KEY`, `SUPABASE_SERVICE_ROLE_KEY` and `DATABASE_URL` (direct Postgres) as .env lines; `branch keys` prints the keys. "
                + "Every request sends a key in the `apikey` header and a JWT in `Authorization: Bearer` (the key itself, or a signed-in user's access token). The examples below read these variables.", "")
        code("js", """
            import { createClient } from "@supabase/supabase-js"
            const supabase = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY)
            """)
        code("python", """
            import os
            from supabase import create_client
            supabase = create_client(os.environ["SUPABASE_URL"], os.environ["SUPABASE_ANON_KEY"])
            """)
        add("")
    }

    mutating func keys() {
        add(
            "## Keys: what each may do", "",
            "| key | runs as | may |", "| --- | --- | --- |",
            "| `anon` (`SUPABASE_ANON_KEY`) | role `anon`; with a signed-in user's access token as the bearer, role `authenticated` and `auth.uid()` = the user's id | REST and Auth; per table, the grants and row-level security below decide. Safe in a browser. |",
            "| `service_role` (`SUPABASE_SERVICE_ROLE_KEY`) | role `service_role`, which **bypasses row-level security** | everything in the data API, the auth admin endpoints, these documents, and this project's admin SQL and migration endpoints (as `Authorization: Bearer`). Keep it on servers. |",
            "| the instance's admin key (`BRANCH_TOKEN`) | — | the whole management API, every project and branch (the `branch` CLI uses it). Not a data API key. |", "")
    }

    mutating func limits() {
        let limits = context.limits
        add(
            "## Limits", "",
            "- A read answers at most \(limits.maxRows) rows: page with `limit` and `offset` (or `Range: 0-999`); `Prefer: count=exact` gives the total in `Content-Range`.",
            "- A request body is at most \(limits.requestBodyBytes >> 20) MB.",
            "- Admin SQL: a statement timeout of \(limits.sqlTimeoutSeconds) s by default (`timeoutMs` changes it); a result over \(limits.sqlResultBytes >> 20) MB is cut off and flagged.",
            "- PATCH and DELETE need a filter: unfiltered ones are refused (400 `21000`).",
            "- One schema is exposed: `\(context.exposedSchema)`. Tables elsewhere are not reachable over REST.", "")
    }

    mutating func overview(_ relations: [Relation], functions: [(key: QualifiedName, value: [Function])], schema: SchemaCache, security: [QualifiedName: TableSecurity]) {
        add("## Schema `\(context.exposedSchema)`", "")
        if relations.isEmpty && functions.isEmpty {
            add("Empty: no table, view or function yet. Create them with a migration (see *Migrating safely*).", "")
            return
        }
        add("| name | kind | primary key | row-level security | description |", "| --- | --- | --- | --- | --- |")
        for relation in relations {
            let rls: String
            if relation.kind == .view || relation.kind == .materializedView {
                rls = security[relation.name]?.securityInvoker == true ? "as the caller" : "as the owner"
            } else if let entry = security[relation.name] {
                rls = entry.rowLevelSecurity ? "on, \(entry.policies.count) polic\(entry.policies.count == 1 ? "y" : "ies")" : "**off**"
            } else {
                rls = "?"
            }
            let key = relation.primaryKey.isEmpty ? "—" : relation.primaryKey.joined(separator: ", ")
            let description = DocumentNames.split(relation.comment).summary.map(DocumentNames.cell) ?? ""
            add("| `\(relation.name.name)` | \(OpenAPISchemas.kindName(relation.kind)) | \(key) | \(rls) | \(description) |")
        }
        add("")
        let keys = schema.foreignKeys.filter {
            $0.table.schema == context.exposedSchema && $0.referencedTable.schema == context.exposedSchema
                && schema.relations[$0.table]?.kind != .view && schema.relations[$0.referencedTable]?.kind != .view
        }
        if !keys.isEmpty {
            add("### Relations", "", "Foreign keys, and how `select` embeds across them:", "")
            let pairs = keys.map { [$0.table, $0.referencedTable].sorted() }
            for key in keys {
                let from = key.table.name
                let to = key.referencedTable.name
                let columns = zip(key.columns, key.referencedColumns).map { "`\(from).\($0)` → `\(to).\($1)`" }.joined(separator: ", ")
                let many = key.isOneToOne ? "one-to-one" : "many-to-one"
                // Several keys between the same tables: an embed must name its key, or PostgREST answers 300 PGRST201.
                let hint = pairs.filter { $0 == [key.table, key.referencedTable].sorted() }.count > 1 ? "!\(key.constraintName)" : ""
                add("- \(columns) (\(many), `\(key.constraintName)`): `\(from)?select=*,\(to)\(hint)(*)`; the other way `\(to)?select=*,\(from)\(hint)(*)`.")
            }
            if pairs.count != Set(pairs).count {
                add("", "Where several keys join the same tables, an embed names its key (`parent!constraint(*)`), or PostgREST answers 300 `PGRST201`.")
            }
            add("")
        }
    }

    mutating func relation(_ relation: Relation, schema: SchemaCache, security: TableSecurity?) {
        let name = relation.name.name
        add("### \(OpenAPISchemas.kindName(relation.kind).prefix(1).uppercased() + OpenAPISchemas.kindName(relation.kind).dropFirst()) `\(name)`", "")
        if let comment = relation.comment { add(comment, "") }
        var operations = ["read"]
        if relation.insertable { operations.append("insert") }
        if relation.updatable { operations.append("update") }
        if relation.deletable { operations.append("delete") }
        add("`\(base)/rest/v1/\(DocumentNames.pathSegment(name))`: \(operations.joined(separator: ", ")).", "")
        add("| column | type | null | default | notes |", "| --- | --- | --- | --- | --- |")
        for column in relation.columns {
            var notes: [String] = []
            if relation.primaryKey.contains(column.name) { notes.append("primary key") }
            for key in schema.foreignKeys where key.table == relation.name {
                if let index = key.columns.firstIndex(of: column.name), index < key.referencedColumns.count {
                    notes.append("→ `\(key.referencedTable.name).\(key.referencedColumns[index])`")
                }
            }
            if column.isIdentity { notes.append("identity") }
            if column.isGenerated { notes.append("generated") }
            if !column.enumValues.isEmpty { notes.append("one of " + column.enumValues.map { "`\($0)`" }.joined(separator: ", ")) }
            if column.isRequired { notes.append("required on insert") }
            if let comment = column.comment { notes.append(DocumentNames.cell(comment)) }
            let defaultText = column.defaultExpression.map { DocumentNames.cell(DocumentNames.code($0)) } ?? ""
            add("| `\(DocumentNames.cell(column.name))` | \(DocumentNames.cell(column.type)) | \(column.nullable ? "yes" : "no") | \(defaultText) | \(notes.joined(separator: "; ")) |")
        }
        add("")
        let referencedBy = schema.foreignKeys.filter { $0.referencedTable == relation.name && $0.table.schema == relation.name.schema }
        if !referencedBy.isEmpty {
            add("Referenced by: " + referencedBy.map { "`\($0.table.name)`(\($0.columns.joined(separator: ", ")))" }.joined(separator: ", ") + ".", "")
        }
        add("**Row-level security.** " + PolicyWords.describe(relation, security: security).joined(separator: "\n"), "")
        let read = CodeSamples.read(relation, in: schema)
        add("**Examples.** Read:", "")
        code("js", read.javascript)
        code("python", read.python)
        code("sh", read.curl)
        if relation.insertable {
            let insert = CodeSamples.insert(relation)
            add("", "Insert:", "")
            code("js", insert.javascript)
            code("python", insert.python)
            code("sh", insert.curl)
        }
        add("")
    }

    mutating func functions(_ functions: [(key: QualifiedName, value: [Function])]) {
        guard !functions.isEmpty else { return }
        add("## Functions", "", "Called with `POST \(base)/rest/v1/rpc/{name}` and the arguments as a JSON object; stable and immutable ones also with `GET` and the arguments in the query string.", "")
        for (name, overloads) in functions {
            for function in overloads {
                let arguments = function.arguments.map { ($0.isVariadic ? "variadic " : "") + ($0.name.isEmpty ? "" : $0.name + " ") + $0.type + ($0.hasDefault ? " = default" : "") }
                let returns: String = switch function.returns {
                case .void: "void"
                case .scalar(let type): type
                case .relation(let relation): "`\(relation.name)` rows"
                case .record: "record"
                }
                add("### `\(name.name)(\(arguments.joined(separator: ", ")))` → \(function.returnsSet ? "setof " : "")\(returns)", "")
                add("\(function.volatility.rawValue.prefix(1).uppercased() + function.volatility.rawValue.dropFirst())\(function.volatility == .volatile ? ": POST only" : ": POST or GET").", "")
                if let comment = function.comment { add(comment, "") }
                let call = CodeSamples.rpc(function)
                code("js", call.javascript)
                code("python", call.python)
                code("sh", call.curl)
                add("")
            }
        }
    }

    /// What signing up does on this project, in one sentence.
    static func signUpRule(_ auth: AgentDocsContext.Auth) -> String {
        if !auth.allowSignup { return "Sign-ups are closed: users are created by the service_role (admin API)." }
        if auth.confirmEmail {
            return "New users confirm their email first: sign-up answers the user without a session, and they sign in after following the mailed link (or `verifyOtp` with the mailed code)."
        }
        return "Sign-ups are confirmed at once (the answer is a session)."
    }

    mutating func auth() {
        add(
            "## Auth", "",
            "Users live in this branch's own `auth` schema. \(Self.signUpRule(context.auth)) A session's `access_token` is a JWT with role `authenticated` and `sub` = the user's id: send it as `Authorization: Bearer` (supabase-js does it for you after sign-in) and row-level security sees `auth.uid()`.", "",
            "| call | endpoint |", "| --- | --- |",
            "| sign up | `POST /auth/v1/signup` `{\"email\",\"password\",\"data\"?}` |",
            "| sign in | `POST /auth/v1/token?grant_type=password` `{\"email\",\"password\"}` |",
            "| refresh | `POST /auth/v1/token?grant_type=refresh_token` `{\"refresh_token\"}` |",
            "| current user | `GET` / `PUT /auth/v1/user` (the user's bearer) |",
            "| sign out | `POST /auth/v1/logout?scope=global\\|local\\|others` |",
            "| admin (service_role as apikey and bearer) | `GET`/`POST /auth/v1/admin/users`, `GET`/`PUT`/`DELETE /auth/v1/admin/users/{id}` |",
            "| a link or code without mailing it (service_role) | `POST /auth/v1/admin/generate_link` `{\"type\":\"magiclink\"\\|\"recovery\"\\|\"invite\"\\|\"signup\",\"email\"}` |")
        if context.auth.sendsMail {
            add(
                "| magic link and code | `POST /auth/v1/otp` `{\"email\"}` |",
                "| password reset mail | `POST /auth/v1/recover` `{\"email\"}` |",
                "| redeem a mailed code | `POST /auth/v1/verify` `{\"type\":\"email\"\\|\"recovery\",\"email\",\"token\"}` (a session) |",
                "| invite (service_role) | `POST /auth/v1/invite` `{\"email\"}` |", "")
        } else {
            add("", "This project sends no mail yet: magic links, password resets and invitations answer `email_provider_disabled` until its owner sets an SMTP server (`branch auth set`).", "")
        }
        if let first = context.auth.providers.first {
            add(
                "Sign-in with a provider is on for: \(context.auth.providers.map { "`\($0)`" }.joined(separator: ", ")). In the browser, `supabase.auth.signInWithOAuth({ provider: \"\(first)\", options: { redirectTo } })` (`GET /auth/v1/authorize?provider=\(first)&redirect_to=…`); the user comes back to `redirectTo` signed in (the session in the fragment, or `?code=` for PKCE). `redirectTo` must be an address the project allows.", "")
        } else {
            add("No sign-in provider (GitHub, GitLab, Google, Keycloak) is on: the project's owner turns one on with `branch auth provider set`.", "")
        }
        code("js", """
            const { data, error } = await supabase.auth.signInWithPassword({ email: "user@example.com", password: "a-long-password" })
            // later calls run as the user: auth.uid() = data.user.id
            """)
        add("")
    }

    mutating func queryLanguage() {
        add(
            "## Query language (PostgREST)", "",
            "- Filters: `column=operator.value`: `eq neq gt gte lt lte like ilike match imatch in is isdistinct fts plfts phfts wfts cs cd ov sl sr nxl nxr adj`; `not.` negates; `*` is `%` in like patterns; `in.(1,2,\"a,b\")`; `is.null`.",
            "- Logic: `or=(status.eq.open,and(due.lt.2025-01-01,done.is.false))`.",
            "- `select=id,title,owner:profiles(name)`: columns, renames, casts (`col::text`), JSON paths (`data->>key`), embedded relations through foreign keys (`!inner` keeps only parents with a match).",
            "- `order=col.desc.nullslast,other`, `limit`, `offset`, or the `Range` header.",
            "- `Prefer: return=representation` gets written rows back; `count=exact` counts; `resolution=merge-duplicates` with `on_conflict=col` upserts; `missing=default` for bulk inserts.",
            "- `Accept: application/vnd.pgrst.object+json` answers one object (406 unless exactly one row); `text/csv` answers CSV.", "")
    }

    mutating func migrations(sampleTable: String) {
        let api = context.managementBranchURL
        let table = sampleTable.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") } ? sampleTable : "\\\"\(sampleTable)\\\""
        let body = "{\"name\": \"add_note\", \"sql\": \"alter table \(table) add column note text;\", \"down\": \"alter table \(table) drop column note;\"}"
        let check = """
            curl -X POST "\(api)/migrations?check=true" \\
              -H "Authorization: Bearer $SUPABASE_SERVICE_ROLE_KEY" -H "Content-Type: application/json" \\
              -d \(DocumentNames.shellQuoted(body))
            """
        add(
            "## Migrating safely", "",
            "Change the schema through migrations, not ad-hoc DDL: each runs in one transaction after a snapshot, is recorded in the branch's own history (so branches carry it), and can be rolled back. "
                + "The endpoints take the service_role key (or the admin key) as `Authorization: Bearer`; the CLI takes the admin key. They act on branch `\(context.branch)`"
                + (context.followsCheckout ? ", the one checked out now." : "."), "",
            "1. **Check** on a throw-away copy of the branch: the schema diff (additive or breaking), the REST endpoints and columns that change, rows affected and time; the branch is untouched.")
        code("sh", check)
        add(
            "   CLI: `branch migrate check FILE --project \(context.project)`.",
            "2. **Apply**: the same body to `POST \(api)/migrations`, or `branch migrate apply FILE…`; `branch migrate up DIR` applies `*.sql` in name order, skips those already applied, and refuses an applied file that changed (Supabase's `supabase/migrations/` layout works). "
                + "A failure answers 422 `migration_failed` with `sqlstate`, `position` and the failing `statement`, and changes nothing. `CREATE INDEX CONCURRENTLY` and `VACUUM` cannot run in a transaction and are refused.",
            "3. **Verify**: REST sees the new schema on its next request; read this brief or `openapi.json` again.",
            "4. **Roll back** if needed: `POST \(api)/migrations/{version}/rollback` first reports which writes made since the migration would be lost (a dry run); add `?confirm=true` to do it. It runs the migration's `down` SQL if it has one, else restores the snapshot taken before it. CLI: `branch migrate rollback VERSION [--confirm]`.",
            "5. **History**: `GET \(api)/migrations`, or `branch migrate list`.", "",
            "Safer still, try it on a branch first: `branch create try-it --project \(context.project)` makes an instant copy with its own data API at `\(context.serviceURL)/p/\(context.project)/b/try-it`.", "",
            "**Admin SQL** for inspection and data fixes: `POST \(api)/sql` with `{\"query\": \"select …\", \"params\": [], \"readOnly\": true, \"timeoutMs\": 30000}` answers one result per statement (`command`, `columns`, `rows`, `rowCount`); CLI `branch sql \"select …\"` or `branch sql -f FILE`. It runs as the database owner: row-level security does not apply.", "")
    }

    mutating func errors() {
        add(
            "## Errors", "",
            "REST errors are `{\"code\",\"details\",\"hint\",\"message\"}`: a Postgres SQLSTATE or a `PGRST` code. Common ones: 401 no or bad key (`PGRST301` bad JWT, `PGRST303` expired); 401/403 `42501` row-level security or a missing grant; 404 `PGRST205` unknown table, `PGRST202` unknown function; 409 `23505` duplicate key, `23503` foreign key; 400 `23502` missing required column, `22P02` bad value, `PGRST200` no relation to embed, 300 `PGRST201` ambiguous embed (name the key); 406 `PGRST116` not exactly one row.",
            "Auth errors are `{\"code\",\"error_code\",\"msg\",\"message\"}` (`invalid_credentials`, `user_already_exists`, `weak_password`, …). Management API errors are `{\"error\":{\"code\",\"message\"}}`.")
    }
}
