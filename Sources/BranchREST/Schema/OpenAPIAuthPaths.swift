import BranchCore

/// The parts of a branch's OpenAPI document that do not depend on its schema: the Auth (GoTrue)
/// endpoints under `/auth/v1`, the documents themselves, the keys' security schemes, and the
/// error and user schemas.
enum OpenAPIAuthPaths {
    static let securitySchemes: JSONValue = [
        "apikey": [
            "type": "apiKey", "in": "header", "name": "apikey",
            "description": "The project's `anon` key (row-level security applies, as role `anon`) or `service_role` key (bypasses row-level security; keep it on servers). `branch keys` prints both.",
        ],
        "bearer": [
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "The JWT the request runs as: the API key itself, or a signed-in user's `access_token` (role `authenticated`, `auth.uid()` is the user's id).",
        ],
    ]

    static let tags: [JSONValue] = [
        ["name": "auth", "description": "Supabase Auth (GoTrue): sign-up, password sign-in, refresh, the current user, sign-out, user administration."],
        ["name": "documents", "description": "This document, PostgREST's Swagger 2.0 document and the agent brief (service_role key only)."],
    ]

    static let restErrorSchema: JSONValue = [
        "type": "object",
        "description": "PostgREST's error: a Postgres SQLSTATE (`23505` duplicate key, `42501` permission or row-level security, …) or a `PGRST…` code.",
        "properties": [
            "code": ["type": "string"], "message": ["type": "string"],
            "details": ["type": ["string", "null"]], "hint": ["type": ["string", "null"]],
        ],
        "required": ["code", "message", "details", "hint"],
        "examples": [["code": "23505", "details": "Key (id)=(1) already exists.", "hint": .null, "message": "duplicate key value violates unique constraint \"todos_pkey\""]],
    ]

    static let responses: JSONValue = [
        "RESTError": [
            "description": "An error in PostgREST's shape (400 bad request, 401 no or bad key, 403 forbidden, 404 unknown table or function, 406 not one row, 409 conflict).",
            "content": ["application/json": ["schema": ["$ref": "#/components/schemas/RESTError"]]],
        ],
        "AuthError": [
            "description": "An error in GoTrue's shape.",
            "content": [
                "application/json": [
                    "schema": ["$ref": "#/components/schemas/AuthError"],
                    "example": ["code": "invalid_credentials", "error_code": "invalid_credentials", "msg": "Invalid login credentials", "message": "Invalid login credentials"],
                ]
            ],
        ],
    ]

    static let schemas: [String: JSONValue] = [
        "AuthError": [
            "type": "object",
            "properties": ["code": ["type": "string"], "error_code": ["type": "string"], "msg": ["type": "string"], "message": ["type": "string"]],
            "required": ["code", "message"],
        ],
        "AuthUser": [
            "type": "object",
            "properties": [
                "id": ["type": "string", "format": "uuid"], "aud": ["type": "string"], "role": ["type": "string"],
                "email": ["type": ["string", "null"]], "phone": ["type": ["string", "null"]],
                "email_confirmed_at": ["type": ["string", "null"], "format": "date-time"],
                "confirmed_at": ["type": ["string", "null"], "format": "date-time"],
                "last_sign_in_at": ["type": ["string", "null"], "format": "date-time"],
                "app_metadata": ["type": "object"], "user_metadata": ["type": "object"],
                "identities": ["type": "array", "items": ["type": "object"]],
                "created_at": ["type": "string", "format": "date-time"], "updated_at": ["type": "string", "format": "date-time"],
                "is_anonymous": ["type": "boolean"],
            ],
            "required": ["id", "aud", "role"],
        ],
        "AuthSession": [
            "type": "object",
            "properties": [
                "access_token": ["type": "string", "description": "A JWT: send it as `Authorization: Bearer` to act as the user."],
                "token_type": ["type": "string", "enum": ["bearer"]],
                "expires_in": ["type": "integer"], "expires_at": ["type": "integer"],
                "refresh_token": ["type": "string", "description": "Single use: a refresh answers a new one."],
                "user": ["$ref": "#/components/schemas/AuthUser"],
            ],
            "required": ["access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user"],
        ],
        "AuthUserList": [
            "type": "object",
            "properties": ["users": ["type": "array", "items": ["$ref": "#/components/schemas/AuthUser"]], "aud": ["type": "string"]],
            "required": ["users", "aud"],
        ],
    ]

    private static let userExample: JSONValue = [
        "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "aud": "authenticated", "role": "authenticated", "email": "user@example.com",
        "phone": "", "email_confirmed_at": "2025-01-01T12:00:00Z", "confirmed_at": "2025-01-01T12:00:00Z",
        "last_sign_in_at": "2025-01-01T12:00:00Z", "app_metadata": ["provider": "email", "providers": ["email"]], "user_metadata": [:],
        "identities": [], "created_at": "2025-01-01T12:00:00Z", "updated_at": "2025-01-01T12:00:00Z", "is_anonymous": false,
    ]

    private static let sessionExample: JSONValue = [
        "access_token": "eyJhbGciOiJIUzI1NiJ9.e30.signature", "token_type": "bearer", "expires_in": 3600, "expires_at": 1_735_736_400,
        "refresh_token": "v1x2y3z4", "user": userExample,
    ]

    private static let userSecurity: JSONValue = [["apikey": [], "bearer": []]]

    /// `/auth/v1/…`.
    static func paths(context: AgentDocsContext) -> [String: JSONValue] {
        let session = response("A session.", "AuthSession", example: sessionExample)
        let user = response("The user.", "AuthUser", example: userExample)
        let credentials: JSONValue = ["email": "user@example.com", "password": "a-long-password"]
        let userID: JSONValue = [
            "name": "id", "in": "path", "required": true, "schema": ["type": "string", "format": "uuid"],
            "example": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        ]
        let adminNote = "With the service_role key as both `apikey` and `Authorization: Bearer`."
        let mailNote = context.auth.sendsMail
            ? "Mailed through the project's SMTP server; one mail of a kind per address a minute (429 `over_email_send_rate_limit`)."
            : "This project has no mail server yet: 400 `email_provider_disabled` until its owner sets one (`branch auth set --smtp …`)."
        let empty: JSONValue = ["description": "Done (nothing said about whether the address has a user).", "content": ["application/json": ["schema": ["type": "object"], "example": [:]]]]
        var paths = authPaths(
            context: context, session: session, user: user, credentials: credentials, userID: userID, adminNote: adminNote, mailNote: mailNote, empty: empty)
        if let first = context.auth.providers.first {
            paths["/auth/v1/authorize"] = authorize(providers: context.auth.providers, example: first)
        }
        return paths
    }

    /// `GET /auth/v1/authorize`: only with a provider turned on (its `provider` lists those that are).
    private static func authorize(providers: [String], example: String) -> JSONValue {
        func query(_ name: String, _ schema: JSONValue, _ description: String, required: Bool = false) -> JSONValue {
            ["name": .string(name), "in": "query", "required": .bool(required), "schema": schema, "description": .string(description)]
        }
        return [
            "get": operation(
                "auth.authorize", "Sign in with a provider (a browser redirect)",
                "Open it in the browser (supabase-js's `signInWithOAuth` does): it sends the user to the provider's consent page; the provider sends them to this project's `/auth/v1/callback`, which sends them to `redirect_to` (an address the project allows, else its site URL) with the session in the fragment (implicit flow) or `?code=` to exchange with `POST /auth/v1/token?grant_type=pkce` (PKCE, with `code_challenge`). Refusals come back to `redirect_to` as `error`, `error_code` and `error_description`. Needs no key.",
                parameters: [
                    query("provider", ["type": "string", "enum": .array(providers.map(JSONValue.string))], "A provider the project turned on.", required: true),
                    query("redirect_to", ["type": "string"], "Where the browser lands afterwards."),
                    query("scopes", ["type": "string"], "Extra scopes for the provider, space-separated."),
                    query("code_challenge", ["type": "string"], "PKCE: the challenge of the verifier the app keeps."),
                    query("code_challenge_method", ["type": "string", "enum": ["s256", "plain"]], "PKCE: how the challenge was made."),
                ],
                security: [],
                responses: [
                    "302": ["description": "To the provider's consent page.", "headers": ["Location": ["schema": ["type": "string"]]]],
                    "400": ["$ref": "#/components/responses/AuthError"],
                ],
                curl: "curl -i \"$SUPABASE_URL/auth/v1/authorize?provider=\(example)&redirect_to=https://app.example.com\"",
                js: "await supabase.auth.signInWithOAuth({ provider: \"\(example)\", options: { redirectTo: \"https://app.example.com\" } })",
                py: "supabase.auth.sign_in_with_oauth({\"provider\": \"\(example)\", \"options\": {\"redirect_to\": \"https://app.example.com\"}})")
        ]
    }

    private static func authPaths(
        context: AgentDocsContext, session: JSONValue, user: JSONValue, credentials: JSONValue, userID: JSONValue, adminNote: String, mailNote: String, empty: JSONValue
    ) -> [String: JSONValue] {
        [
            "/auth/v1/signup": [
                "post": operation(
                    "auth.signup", "Sign up with email and password",
                    (context.auth.confirmEmail
                        ? "New users confirm their email first: the answer is the user without a session, and a link and code are mailed (redeem the code at `/auth/v1/verify`)."
                        : "Users are confirmed at once: the answer is a session.")
                        + " Passwords need at least 6 characters (422 `weak_password`); a taken email is 422 `user_already_exists`"
                        + (context.auth.allowSignup ? "." : "; sign-ups are closed on this project (422 `signup_disabled`)."),
                    body: json(["email": ["type": "string", "format": "email"], "password": ["type": "string", "minLength": 6], "data": ["type": "object", "description": "user_metadata"]],
                               required: ["email", "password"], example: credentials),
                    responses: ["200": session],
                    curl: CodeSamples.curl("POST", "/auth/v1/signup", body: DocumentJSON.text(credentials)),
                    js: "const { data, error } = await supabase.auth.signUp({ email: \"user@example.com\", password: \"a-long-password\" })",
                    py: "session = supabase.auth.sign_up({\"email\": \"user@example.com\", \"password\": \"a-long-password\"})")
            ],
            "/auth/v1/token": [
                "post": operation(
                    "auth.token", "Sign in with a password, or refresh a session",
                    "`grant_type=password` with `{email, password}`, `grant_type=refresh_token` with `{refresh_token}` (the answer has a new refresh token; the old one stops working), or `grant_type=pkce` with `{auth_code, code_verifier}` (a mailed link's code). Wrong password: 400 `invalid_credentials`.",
                    parameters: [[
                        "name": "grant_type", "in": "query", "required": true, "example": "password",
                        "schema": ["type": "string", "enum": ["password", "refresh_token", "pkce"]],
                    ]],
                    body: [
                        "required": true,
                        "content": [
                            "application/json": [
                                "schema": [
                                    "oneOf": [
                                        ["type": "object", "properties": ["email": ["type": "string"], "password": ["type": "string"]], "required": ["email", "password"]],
                                        ["type": "object", "properties": ["refresh_token": ["type": "string"]], "required": ["refresh_token"]],
                                        ["type": "object", "properties": ["auth_code": ["type": "string"], "code_verifier": ["type": "string"]], "required": ["auth_code", "code_verifier"]],
                                    ]
                                ],
                                "example": credentials,
                            ]
                        ],
                    ],
                    responses: ["200": session],
                    curl: CodeSamples.curl("POST", "/auth/v1/token", query: "grant_type=password", body: DocumentJSON.text(credentials)),
                    js: "const { data, error } = await supabase.auth.signInWithPassword({ email: \"user@example.com\", password: \"a-long-password\" })",
                    py: "session = supabase.auth.sign_in_with_password({\"email\": \"user@example.com\", \"password\": \"a-long-password\"})")
            ],
            "/auth/v1/user": [
                "get": operation(
                    "auth.user.get", "The signed-in user", "With the user's access token as the bearer.",
                    security: userSecurity, responses: ["200": user],
                    curl: CodeSamples.curl("GET", "/auth/v1/user", bearer: "$ACCESS_TOKEN"),
                    js: "const { data: { user } } = await supabase.auth.getUser()", py: "user = supabase.auth.get_user().user"),
                "put": operation(
                    "auth.user.update", "Update the signed-in user", "Email, password or `data` (user_metadata).",
                    security: userSecurity,
                    body: json(["email": ["type": "string"], "password": ["type": "string"], "data": ["type": "object"]], required: [], example: ["data": ["name": "Ada"]]),
                    responses: ["200": user],
                    curl: CodeSamples.curl("PUT", "/auth/v1/user", bearer: "$ACCESS_TOKEN", body: #"{"data": {"name": "Ada"}}"#),
                    js: "const { data, error } = await supabase.auth.updateUser({ data: { name: \"Ada\" } })",
                    py: "supabase.auth.update_user({\"data\": {\"name\": \"Ada\"}})"),
            ],
            "/auth/v1/logout": [
                "post": operation(
                    "auth.logout", "Sign out", "`scope=global` (every session of the user, the default), `local` (this one) or `others`.",
                    parameters: [["name": "scope", "in": "query", "required": false, "example": "global", "schema": ["type": "string", "enum": ["global", "local", "others"]]]],
                    security: userSecurity, responses: ["204": ["description": "Signed out."]],
                    curl: CodeSamples.curl("POST", "/auth/v1/logout", query: "scope=global", bearer: "$ACCESS_TOKEN"),
                    js: "await supabase.auth.signOut()", py: "supabase.auth.sign_out()")
            ],
            "/auth/v1/admin/users": [
                "get": operation(
                    "auth.admin.users.list", "List users", adminNote + " Newest first, `per_page` at most 1000.",
                    parameters: [
                        ["name": "page", "in": "query", "required": false, "example": 1, "schema": ["type": "integer", "minimum": 1]],
                        ["name": "per_page", "in": "query", "required": false, "example": 50, "schema": ["type": "integer", "minimum": 1, "maximum": 1000]],
                    ],
                    security: userSecurity,
                    responses: ["200": response("A page of users.", "AuthUserList", example: ["users": [userExample], "aud": "authenticated"])],
                    curl: CodeSamples.curl("GET", "/auth/v1/admin/users", query: "page=1&per_page=50", key: "$SUPABASE_SERVICE_ROLE_KEY"),
                    js: "const { data: { users } } = await supabase.auth.admin.listUsers()", py: "users = supabase.auth.admin.list_users()"),
                "post": operation(
                    "auth.admin.users.create", "Create a user", adminNote,
                    security: userSecurity,
                    body: json(
                        [
                            "email": ["type": "string"], "password": ["type": "string"], "email_confirm": ["type": "boolean"],
                            "user_metadata": ["type": "object"], "app_metadata": ["type": "object"],
                        ],
                        required: [], example: ["email": "user@example.com", "password": "a-long-password", "email_confirm": true]),
                    responses: ["200": user],
                    curl: CodeSamples.curl(
                        "POST", "/auth/v1/admin/users", key: "$SUPABASE_SERVICE_ROLE_KEY",
                        body: #"{"email": "user@example.com", "password": "a-long-password", "email_confirm": true}"#),
                    js: "const { data, error } = await supabase.auth.admin.createUser({ email: \"user@example.com\", password: \"a-long-password\", email_confirm: true })",
                    py: "user = supabase.auth.admin.create_user({\"email\": \"user@example.com\", \"password\": \"a-long-password\", \"email_confirm\": True})"),
            ],
            "/auth/v1/admin/users/{id}": [
                "get": operation(
                    "auth.admin.users.get", "Get a user", adminNote, parameters: [userID], security: userSecurity, responses: ["200": user],
                    curl: CodeSamples.curl("GET", "/auth/v1/admin/users/$USER_ID", key: "$SUPABASE_SERVICE_ROLE_KEY"),
                    js: "const { data, error } = await supabase.auth.admin.getUserById(userId)", py: "user = supabase.auth.admin.get_user_by_id(user_id)"),
                "put": operation(
                    "auth.admin.users.update", "Update a user", adminNote, parameters: [userID], security: userSecurity,
                    body: json(["email": ["type": "string"], "password": ["type": "string"], "user_metadata": ["type": "object"], "app_metadata": ["type": "object"]],
                               required: [], example: ["user_metadata": ["name": "Ada"]]),
                    responses: ["200": user],
                    curl: CodeSamples.curl("PUT", "/auth/v1/admin/users/$USER_ID", key: "$SUPABASE_SERVICE_ROLE_KEY", body: #"{"user_metadata": {"name": "Ada"}}"#),
                    js: "await supabase.auth.admin.updateUserById(userId, { user_metadata: { name: \"Ada\" } })",
                    py: "supabase.auth.admin.update_user_by_id(user_id, {\"user_metadata\": {\"name\": \"Ada\"}})"),
                "delete": operation(
                    "auth.admin.users.delete", "Delete a user", adminNote, parameters: [userID], security: userSecurity, responses: ["200": user],
                    curl: CodeSamples.curl("DELETE", "/auth/v1/admin/users/$USER_ID", key: "$SUPABASE_SERVICE_ROLE_KEY"),
                    js: "await supabase.auth.admin.deleteUser(userId)", py: "supabase.auth.admin.delete_user(user_id)"),
            ],
            "/auth/v1/otp": [
                "post": operation(
                    "auth.otp", "Mail a magic link and code",
                    mailNote + " A new address gets an unconfirmed user unless `create_user` is false (422 `otp_disabled`). Answers `{}`.",
                    body: json(["email": ["type": "string", "format": "email"], "create_user": ["type": "boolean"], "data": ["type": "object"]],
                               required: ["email"], example: ["email": "user@example.com"]),
                    responses: ["200": empty],
                    curl: CodeSamples.curl("POST", "/auth/v1/otp", body: #"{"email": "user@example.com"}"#),
                    js: "await supabase.auth.signInWithOtp({ email: \"user@example.com\" })",
                    py: "supabase.auth.sign_in_with_otp({\"email\": \"user@example.com\"})")
            ],
            "/auth/v1/recover": [
                "post": operation(
                    "auth.recover", "Mail a password reset link and code",
                    mailNote + " Answers `{}` whether or not the address has a user.",
                    body: json(["email": ["type": "string", "format": "email"]], required: ["email"], example: ["email": "user@example.com"]),
                    responses: ["200": empty],
                    curl: CodeSamples.curl("POST", "/auth/v1/recover", body: #"{"email": "user@example.com"}"#),
                    js: "await supabase.auth.resetPasswordForEmail(\"user@example.com\")",
                    py: "supabase.auth.reset_password_for_email(\"user@example.com\")")
            ],
            "/auth/v1/resend": [
                "post": operation(
                    "auth.resend", "Mail a pending confirmation again", mailNote + " `type` is `signup` or `email_change`. Answers `{}`.",
                    body: json(["type": ["type": "string", "enum": ["signup", "email_change"]], "email": ["type": "string", "format": "email"]],
                               required: ["type", "email"], example: ["type": "signup", "email": "user@example.com"]),
                    responses: ["200": empty],
                    curl: CodeSamples.curl("POST", "/auth/v1/resend", body: #"{"type": "signup", "email": "user@example.com"}"#),
                    js: "await supabase.auth.resend({ type: \"signup\", email: \"user@example.com\" })",
                    py: "supabase.auth.resend({\"type\": \"signup\", \"email\": \"user@example.com\"})")
            ],
            "/auth/v1/verify": [
                "post": operation(
                    "auth.verify", "Redeem a mailed code",
                    "`{type, email, token}` with the six-digit code (type `email`, `recovery`, `invite` or `email_change`), or `{type, token_hash}`: a session. A wrong, used or expired code is 403 `otp_expired`.",
                    body: json(["type": ["type": "string"], "email": ["type": "string"], "token": ["type": "string"], "token_hash": ["type": "string"]],
                               required: ["type"], example: ["type": "email", "email": "user@example.com", "token": "123456"]),
                    responses: ["200": session],
                    curl: CodeSamples.curl("POST", "/auth/v1/verify", body: #"{"type": "email", "email": "user@example.com", "token": "123456"}"#),
                    js: "const { data, error } = await supabase.auth.verifyOtp({ email: \"user@example.com\", token: \"123456\", type: \"email\" })",
                    py: "session = supabase.auth.verify_otp({\"email\": \"user@example.com\", \"token\": \"123456\", \"type\": \"email\"})")
            ],
            "/auth/v1/invite": [
                "post": operation(
                    "auth.invite", "Invite a user by mail", adminNote + " " + mailNote, security: userSecurity,
                    body: json(["email": ["type": "string", "format": "email"], "data": ["type": "object"]], required: ["email"], example: ["email": "user@example.com"]),
                    responses: ["200": user],
                    curl: CodeSamples.curl("POST", "/auth/v1/invite", key: "$SUPABASE_SERVICE_ROLE_KEY", body: #"{"email": "user@example.com"}"#),
                    js: "await supabase.auth.admin.inviteUserByEmail(\"user@example.com\")",
                    py: "supabase.auth.admin.invite_user_by_email(\"user@example.com\")")
            ],
            "/auth/v1/admin/generate_link": [
                "post": operation(
                    "auth.admin.generateLink", "Make a link and code without mailing them",
                    adminNote + " `type` is `signup` (with `password`), `invite`, `magiclink` or `recovery`; the answer is the user with `action_link`, `email_otp`, `hashed_token`, `redirect_to` and `verification_type`. Works without a mail server.",
                    security: userSecurity,
                    body: json(["type": ["type": "string", "enum": ["signup", "invite", "magiclink", "recovery"]], "email": ["type": "string"], "password": ["type": "string"], "data": ["type": "object"]],
                               required: ["type", "email"], example: ["type": "magiclink", "email": "user@example.com"]),
                    responses: ["200": ["description": "The user and the link.", "content": ["application/json": ["schema": ["type": "object"]]]]],
                    curl: CodeSamples.curl("POST", "/auth/v1/admin/generate_link", key: "$SUPABASE_SERVICE_ROLE_KEY", body: #"{"type": "magiclink", "email": "user@example.com"}"#),
                    js: "const { data } = await supabase.auth.admin.generateLink({ type: \"magiclink\", email: \"user@example.com\" })",
                    py: "link = supabase.auth.admin.generate_link({\"type\": \"magiclink\", \"email\": \"user@example.com\"})")
            ],
            "/auth/v1/settings": [
                "get": operation(
                    "auth.settings", "Auth settings", "Which providers are on (email), and whether sign-ups confirm at once.",
                    responses: ["200": ["description": "The settings.", "content": ["application/json": ["schema": ["type": "object"], "example": ["mailer_autoconfirm": true, "disable_signup": false]]]]],
                    curl: CodeSamples.curl("GET", "/auth/v1/settings"), js: nil, py: nil)
            ],
        ]
    }

    /// `/openapi.json`, `/swagger.json`, `/ai-spec.md` and PostgREST's `/rest/v1/`.
    static func documentPaths(context: AgentDocsContext) -> [String: JSONValue] {
        let serviceOnly: JSONValue = [["apikey": []], ["bearer": []]]
        let note = "The project's service_role key as `apikey` or `Authorization: Bearer` (anon: 401)."
        func document(_ id: String, _ summary: String, _ path: String, _ media: String, _ schema: JSONValue) -> JSONValue {
            [
                "get": operation(
                    id, summary, note, security: serviceOnly,
                    responses: ["200": ["description": .string(summary), "content": .object([media: ["schema": schema]])]],
                    curl: CodeSamples.curl("GET", path, key: "$SUPABASE_SERVICE_ROLE_KEY"), js: nil, py: nil, restError: true)
            ]
        }
        return [
            "/openapi.json": document("docs.openapi", "This OpenAPI 3.1 document", "/openapi.json", "application/json", ["type": "object"]),
            "/swagger.json": document("docs.swagger", "This OpenAPI 3.1 document (another name)", "/swagger.json", "application/json", ["type": "object"]),
            "/ai-spec.md": document("docs.brief", "The agent brief, in markdown", "/ai-spec.md", "text/markdown", ["type": "string"]),
            "/rest/v1/": document("docs.postgrest", "PostgREST's Swagger 2.0 document", "/rest/v1/", "application/openapi+json", ["type": "object"]),
        ]
    }

    // MARK: Building blocks

    private static func response(_ description: String, _ schema: String, example: JSONValue) -> JSONValue {
        [
            "description": .string(description),
            "content": ["application/json": ["schema": ["$ref": .string("#/components/schemas/\(schema)")], "example": example]],
        ]
    }

    private static func json(_ properties: [String: JSONValue], required: [String], example: JSONValue) -> JSONValue {
        var schema: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        return ["required": true, "content": ["application/json": ["schema": .object(schema), "example": example]]]
    }

    private static func operation(
        _ id: String, _ summary: String, _ description: String, parameters: [JSONValue] = [], security: JSONValue? = nil,
        body: JSONValue? = nil, responses: [String: JSONValue], curl: String, js: String?, py: String?, restError: Bool = false
    ) -> JSONValue {
        var responses = responses
        responses["default"] = ["$ref": .string("#/components/responses/\(restError ? "RESTError" : "AuthError")")]
        var samples: [JSONValue] = [["label": "curl", "lang": "Shell", "source": .string(curl)]]
        if let js { samples.append(["label": "supabase-js", "lang": "JavaScript", "source": .string(js)]) }
        if let py { samples.append(["label": "supabase-py", "lang": "Python", "source": .string(py)]) }
        var result: [String: JSONValue] = [
            "operationId": .string(id), "tags": [.string(restError ? "documents" : "auth")], "summary": .string(summary),
            "description": .string(description), "responses": .object(responses), "x-codeSamples": .array(samples),
        ]
        if !parameters.isEmpty { result["parameters"] = .array(parameters) }
        if let security { result["security"] = security }
        if let body { result["requestBody"] = body }
        return .object(result)
    }
}
