import BranchAPI
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The documents an AI agent reads, served per project and per branch by a real service:
/// `openapi.json` (and `swagger.json`) valid under openapi-spec-validator, `ai-spec.md` with the
/// schema and its row-level security in words, both current after DDL, both for the
/// service_role key only, and `branch docs`.
@Suite("Agent documents: openapi.json, swagger.json and ai-spec.md per branch", .serialized)
struct AgentDocsTests {
    /// Related tables, a view, a function, comments and a row-level security policy.
    static let schema = """
        create table customers (
          id bigint generated always as identity primary key,
          user_id uuid default auth.uid(),
          email text not null unique,
          name text
        );
        comment on table customers is 'People who order';
        comment on column customers.email is 'Where receipts go';
        create table orders (
          id serial primary key,
          customer_id bigint not null references customers(id),
          total numeric(10,2) not null default 0,
          placed_at timestamptz not null default now(),
          note text
        );
        comment on table orders is 'One row per order';
        create table order_items (
          order_id int references orders(id),
          sku text,
          qty int not null default 1,
          primary key (order_id, sku)
        );
        create view order_totals as select customer_id, sum(total) as total from orders group by customer_id;
        create function order_count(customer bigint) returns bigint language sql stable
          as $$ select count(*) from orders where customer_id = customer $$;
        comment on function order_count(bigint) is 'How many orders a customer placed';
        alter table orders enable row level security;
        create policy "own orders" on orders for select to authenticated
          using (customer_id in (select id from customers where user_id = auth.uid()));
        """

    /// What `branch keys --json` prints.
    struct Keys: Decodable {
        let url: String
        let anonKey: String
        let serviceRoleKey: String
    }

    /// `GET url` with the given headers.
    static func get(_ url: String, _ headers: [String]) async throws -> (status: Int, body: String) {
        try await APIAndCLITests.curl(headers.flatMap { ["-H", $0] } + [url])
    }

    /// Checks the document with openapi-spec-validator from the repository's virtualenv.
    static func expectValid(_ document: String, _ label: String) async throws {
        let python = try #require(PythonScript.interpreter, "no Python: run scripts/test.sh (it makes .venv) or set BRANCH_TEST_PYTHON")
        let script = "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))\nprint('valid')"
        let result = try await Command.run(python, ["-c", script], input: document, check: false)
        #expect(result.status == 0 && result.stdout.contains("valid"), "\(label) is not valid OpenAPI: \(result.stderr)")
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(200))")
    }

    @Test("openapi.json, swagger.json and ai-spec.md describe the project's and each branch's schema, follow DDL, and need the service_role key")
    func documents() async throws {
        try await TestEnvironment.with { env in
            let database = try await env.linkedProject("docs")
            try await env.psql(database, Self.schema)
            _ = try await env.json(BranchResult.self, "create", "feature")
            let keys = try await env.json(Keys.self, "keys")
            let service = ["apikey: \(keys.serviceRoleKey)"]

            for (base, branch) in [(keys.url, "main"), (keys.url + "/b/feature", "feature")] {
                for name in ["openapi.json", "swagger.json"] {
                    let answer = try await Self.get("\(base)/\(name)", service)
                    #expect(answer.status == 200, "\(base)/\(name): \(answer.body)")
                    try await Self.expectValid(answer.body, "\(base)/\(name)")
                    let document = try Self.object(answer.body)
                    #expect(document["openapi"] as? String == "3.1.0")
                    #expect((document["servers"] as? [[String: Any]])?.first?["url"] as? String == base)
                    #expect((document["x-branch"] as? [String: Any])?["branch"] as? String == branch)
                    let paths = try #require(document["paths"] as? [String: [String: Any]])
                    for path in ["/rest/v1/customers", "/rest/v1/orders", "/rest/v1/order_items", "/rest/v1/order_totals", "/rest/v1/rpc/order_count", "/auth/v1/token"] {
                        #expect(paths[path] != nil, "\(name) of \(branch) lacks \(path)")
                    }
                    #expect(Set(paths["/rest/v1/order_totals"]?.keys.map { $0 } ?? []) == ["get"])
                    let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
                    let customers = try #require(schemas["customers"])
                    #expect((customers["description"] as? String)?.hasPrefix("People who order") == true)
                    let email = try #require((customers["properties"] as? [String: [String: Any]])?["email"])
                    #expect((email["description"] as? String)?.hasPrefix("Where receipts go") == true)
                    #expect(email["type"] as? String == "string")
                    let orders = try #require(schemas["orders"]?["properties"] as? [String: [String: Any]])
                    #expect(orders["customer_id"]?["x-foreign-key"] as? [String: String]
                        == ["table": "customers", "column": "id", "constraint": "orders_customer_id_fkey"])
                    #expect(orders["note"]?["type"] as? [String] == ["string", "null"])
                    #expect(orders["placed_at"]?["format"] as? String == "date-time")
                    #expect(schemas["orders"]?["x-row-level-security"] as? Bool == true)
                }

                // The brief, with the key as the bearer alone.
                let brief = try await Self.get("\(base)/ai-spec.md", ["Authorization: Bearer \(keys.serviceRoleKey)"])
                #expect(brief.status == 200, "\(brief.body)")
                for expected in [
                    "### Table `customers`", "### Table `orders`", "### View `order_totals`", "order_count(customer bigint)",
                    "People who order", "Where receipts go", "How many orders a customer placed",
                    "`orders.customer_id` → `customers.id`",
                    "`own orders` (permissive), for SELECT, to `authenticated`: rows are readable when `(customer_id IN (SELECT customers.id FROM customers WHERE (customers.user_id = auth.uid())))`.",
                    "`anon` can do nothing; `authenticated` can SELECT",
                    "Row-level security is **off**",
                    ".from(\"orders\")", "supabase.table(\"orders\")", "curl \"$SUPABASE_URL/rest/v1/orders?select=",
                    "/api/v1/projects/docs/branches/\(branch)/migrations?check=true", "branch migrate rollback VERSION",
                    "at most 1000 rows",
                ] {
                    #expect(brief.body.contains(expected), "the brief of \(branch) lacks: \(expected)")
                }
            }

            // A table made by psql shows on the next fetch, on main only.
            try await env.psql(database, "create table shipments (id serial primary key, order_id int references orders(id)); comment on table shipments is 'Parcels on their way';")
            let after = try await Self.get(keys.url + "/openapi.json", service)
            try await Self.expectValid(after.body, "openapi.json after DDL")
            let paths = try #require(try Self.object(after.body)["paths"] as? [String: Any])
            #expect(paths["/rest/v1/shipments"] != nil)
            let briefAfter = try await Self.get(keys.url + "/ai-spec.md", service).body
            #expect(briefAfter.contains("### Table `shipments`") && briefAfter.contains("Parcels on their way"))
            #expect(briefAfter.contains("`shipments.order_id` → `orders.id`"))
            let feature = try await Self.get(keys.url + "/b/feature/openapi.json", service)
            #expect(!feature.body.contains("shipments"))

            // Other keys are refused in PostgREST's shape.
            _ = try await env.json(ProjectCreated.self, "project", "create", "stranger")
            let stranger = try await env.json(Keys.self, "keys", "--project", "stranger")
            let refusals: [(String, [String])] = [
                ("anon", ["apikey: \(keys.anonKey)"]),
                ("anon as bearer", ["Authorization: Bearer \(keys.anonKey)"]),
                ("no key", []),
                ("another project's service key", ["apikey: \(stranger.serviceRoleKey)"]),
                ("not a key", ["apikey: nonsense"]),
                ("the admin key", ["Authorization: Bearer \(env.token)"]),
            ]
            for (label, headers) in refusals {
                for name in ["openapi.json", "swagger.json", "ai-spec.md"] {
                    let refused = try await Self.get("\(keys.url)/\(name)", headers)
                    #expect(refused.status == 401, "\(label) on \(name): \(refused.status) \(refused.body)")
                    let error = try Self.object(refused.body)
                    #expect(Set(error.keys) == ["code", "details", "hint", "message"], "\(label): \(refused.body)")
                }
            }
            #expect(try await Self.get(keys.url + "/b/nope/ai-spec.md", service).status == 404)

            // `branch docs`: the brief of the project or of one branch, or the OpenAPI document.
            let printed = try await env.cli("docs")
            #expect(printed.succeeded, "\(printed.stderr)")
            #expect(printed.stdout.contains("# Data API brief: project `docs`") && printed.stdout.contains("### Table `shipments`"))
            let printedFeature = try await env.cli("docs", "feature")
            #expect(printedFeature.succeeded && printedFeature.stdout.contains("branch `feature` of project `docs`"))
            #expect(!printedFeature.stdout.contains("shipments"))
            let printedOpenAPI = try await env.cli("docs", "--openapi")
            #expect(try Self.object(printedOpenAPI.stdout)["openapi"] as? String == "3.1.0")
            #expect(try await env.errorCode("docs", "nope") == "branch_not_found")
            #expect(try await env.errorCode("docs", "--project", "nope") == "project_not_found")
        }
    }
}
