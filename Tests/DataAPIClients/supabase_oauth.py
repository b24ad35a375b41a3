#!/usr/bin/env python3
"""The data API's OAuth sign-in driven by the real supabase-py client against a fake provider this
script serves on 127.0.0.1 (GitHub, GitLab and Keycloak endpoints under /gh, /gl and /kc), followed
as a browser follows it: /authorize (no apikey), the provider's consent, /callback, then PKCE's code
exchange or the implicit flow's fragment. Checks the provider settings over the management API (the
secret never shown) and /settings, the identities made and reused, linking on a verified email only,
and the refusals (a disabled provider, a denied consent, a refused token exchange, a tampered state, a
foreign redirect, closed sign-ups, a banned user).

Environment: SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY (the project), SITE_URL (its
site URL, with SITE_URL/** allowed), API_URL, API_TOKEN, PROJECT (Branch's management API, self-signed
TLS, and the project's name).
Prints `PASS name` or `FAIL name: why` per check and exits 1 when any failed.
"""

import json
import os
import re
import secrets
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from openapi_spec_validator import validate
from supabase import ClientOptions, create_client

from auth_checks import auth_fails, check, equal, finish, fragment, query

URL = os.environ["SUPABASE_URL"].rstrip("/")
ANON = os.environ["SUPABASE_ANON_KEY"]
SERVICE = os.environ["SUPABASE_SERVICE_ROLE_KEY"]
SITE_URL = os.environ["SITE_URL"].rstrip("/")
RUN = uuid.uuid4().hex[:8]
HTTP = httpx.Client(timeout=30, follow_redirects=False)
MANAGE = httpx.Client(base_url=f"{os.environ['API_URL'].rstrip('/')}/api/v1/projects/{os.environ['PROJECT']}",
                      headers={"Authorization": f"Bearer {os.environ['API_TOKEN']}"}, verify=False, timeout=30)
CALLBACK = URL + "/auth/v1/callback"
APP_PKCE, APP_IMPLICIT = SITE_URL + "/auth/callback", SITE_URL + "/welcome"
SECRETS = {name: f"{short}-secret-{RUN}" for name, short in (("github", "gh"), ("gitlab", "gl"), ("google", "go"), ("keycloak", "kc"))}

# MARK: The fake provider

CLIENTS = {"gh": ("gh-client", SECRETS["github"]), "gl": ("gl-client", SECRETS["gitlab"]), "kc": ("kc-client", SECRETS["keycloak"])}
AUTHORIZE = {"gh": "/login/oauth/authorize", "gl": "/oauth/authorize", "kc": "/protocol/openid-connect/auth"}
TOKEN = {"gh": "/login/oauth/access_token", "gl": "/oauth/token", "kc": "/protocol/openid-connect/token"}
USER_INFO = {("gh", "/api/v3/user"), ("gl", "/api/v4/user"), ("kc", "/protocol/openid-connect/userinfo")}
NEXT = {}    # prefix -> the profile the next codes sign in as
MODE = {}    # prefix -> "deny" or "stale" for the next consent only
CODES = {}   # code -> what its authorize request said, and whether it was redeemed
TOKENS = {}  # access token -> (prefix, profile)
ISSUED = {}  # prefix -> the last access token issued
LOCK = threading.Lock()


class Provider(BaseHTTPRequestHandler):
    """GitHub, GitLab and Keycloak as Branch's server meets them: consent is immediate; a code is
    redeemed once, by the client it was issued to, with the redirect_uri it was issued for; user info
    needs the token issued for the code."""

    def log_message(self, *args):
        pass

    def reply(self, status, body=None, location=None, form=False):
        data = b"" if body is None else (urllib.parse.urlencode(body) if form else json.dumps(body)).encode()
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Type", "application/x-www-form-urlencoded" if form else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        split = urllib.parse.urlsplit(self.path)
        prefix, _, rest = split.path.lstrip("/").partition("/")
        return prefix, "/" + rest, dict(urllib.parse.parse_qsl(split.query))

    def do_GET(self):
        prefix, path, query = self.route()
        if AUTHORIZE.get(prefix) == path:
            return self.consent(prefix, query)
        owner, profile = TOKENS.get(self.headers.get("Authorization", "").removeprefix("Bearer "), (None, None))
        if owner != prefix:
            return self.reply(401, {"message": "Bad credentials"})
        if (prefix, path) == ("gh", "/api/v3/user/emails"):
            return self.reply(200, profile["emails"])
        if (prefix, path) in USER_INFO:
            return self.reply(200, {key: value for key, value in profile.items() if key != "emails"})
        self.reply(404, {"error": "not_found"})

    def consent(self, prefix, query):
        target = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENTS[prefix][0] or query.get("response_type") != "code" or not target:
            return self.reply(400, {"error": "invalid_request"})
        mode = MODE.pop(prefix, None)
        if mode == "deny":
            answer = {"error": "access_denied", "error_description": "The user denied"}
        else:
            answer = {"code": secrets.token_urlsafe(16)}
            with LOCK:  # a "stale" code counts as redeemed already
                CODES[answer["code"]] = {"prefix": prefix, "redirect_uri": target, "scope": query.get("scope", ""),
                                         "profile": NEXT.get(prefix), "used": mode == "stale"}
        answer["state"] = query.get("state", "")
        self.reply(302, location=target + ("&" if "?" in target else "?") + urllib.parse.urlencode(answer))

    def do_POST(self):
        prefix, path, _ = self.route()
        if TOKEN.get(prefix) != path:
            return self.reply(404, {"error": "not_found"})
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()))
        with LOCK:
            grant = CODES.get(form.get("code", ""))
            fresh = grant is not None and not grant["used"] and grant["prefix"] == prefix
            if grant:
                grant["used"] = True
        expected = {"grant_type": "authorization_code", "client_id": CLIENTS[prefix][0], "client_secret": CLIENTS[prefix][1],
                    "redirect_uri": grant and grant["redirect_uri"]}
        if (not fresh or any(form.get(key) != value for key, value in expected.items())
                or not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")):
            return self.reply(401, {"error": "invalid_grant"})
        token = "fake-" + secrets.token_hex(16)
        TOKENS[token], ISSUED[prefix] = (prefix, grant["profile"]), token
        answer = {"access_token": token, "token_type": "bearer", "scope": grant["scope"]}
        if prefix != "gh":
            answer.update(refresh_token="fake-refresh-" + secrets.token_hex(8), expires_in=3600)
        # Like GitHub's, the answer is form-encoded unless JSON is asked for.
        self.reply(200, answer, form=prefix == "gh" and "application/json" not in self.headers.get("Accept", ""))


FAKE = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
FAKE.daemon_threads = True
threading.Thread(target=FAKE.serve_forever, daemon=True).start()
FAKE_URL = f"http://127.0.0.1:{FAKE.server_address[1]}"

# MARK: Helpers


def client(key=ANON, flow="implicit"):
    return create_client(URL, key, ClientOptions(auto_refresh_token=False, persist_session=False, flow_type=flow))


def address(name):
    return f"{name}-{RUN}@example.com"


def github_user(name, verified=True, email=None):
    """Makes a new GitHub user (primary address `email`, default a new one) the one the next codes sign in."""
    uid, email = 100_000_000 + uuid.uuid4().int % 900_000_000, email or address(name)
    NEXT["gh"] = {"id": uid, "login": f"{name}-{RUN}", "name": f"{name.title()} Octocat", "avatar_url": f"https://avatars.example.com/u/{uid}",
                  "email": email, "emails": [{"email": email, "primary": True, "verified": verified}]}
    return NEXT["gh"]


def keycloak_user(name, verified=True, email=None):
    NEXT["kc"] = {"sub": str(uuid.uuid4()), "email": email or address(name), "email_verified": verified,
                  "name": f"{name.title()} Keycloak", "preferred_username": f"{name}-{RUN}"}
    return NEXT["kc"]










def scopes(location):
    return set(re.split(r"[\s,]+", query(location).get("scope", ""))) - {""}


def json_error(response, status, code):
    """A GoTrue error answered in place, not redirected: its code both as `code` and `error_code`."""
    equal(response.status_code, status, f"status of {response.url} ({response.text[:300]})")
    body = response.json()
    equal((body.get("code"), body.get("error_code")), (code, code), f"error code in {body}")
    return body


def configure(provider, **fields):
    response = MANAGE.patch(f"/auth/providers/{provider}", json=fields)
    equal(response.status_code, 200, f"PATCH {provider} ({response.text[:300]})")
    equal([name for name, secret in SECRETS.items() if secret in response.text], [], "secrets in the answer")
    return response.json()


def listed():
    """The providers over the management API, by name; never a secret anywhere in the listing."""
    response = MANAGE.get("/auth/providers")
    equal(response.status_code, 200, f"GET providers ({response.text[:300]})")
    equal([name for name, secret in SECRETS.items() if secret in response.text], [], "secrets in the listing")
    return {entry["provider"]: entry for entry in response.json()["providers"]}


def external():
    response = HTTP.get(f"{URL}/auth/v1/settings", headers={"apikey": ANON})
    equal(response.status_code, 200, f"settings ({response.text[:300]})")
    return response.json()["external"]


class Flow:
    """A sign-in followed as a browser follows it: Branch's /authorize sends it to `provider`, whose
    consent sends it to `callback` (Branch's), which sends it to `landing` (the app, or the site URL)."""

    def __init__(self, app, provider, redirect_to, scopes=None):
        options = {"redirect_to": redirect_to, **({"scopes": scopes} if scopes else {})}
        authorize = HTTP.get(app.auth.sign_in_with_oauth({"provider": provider, "options": options}).url)
        equal(authorize.status_code, 302, f"authorize ({authorize.text[:300]})")
        self.provider = authorize.headers["location"]
        consent = HTTP.get(self.provider)
        equal(consent.status_code, 302, f"the provider's consent at {self.provider} ({consent.text[:300]})")
        self.callback = consent.headers["location"]
        equal(self.callback.startswith(CALLBACK + "?"), True, f"the provider's redirect {self.callback}")
        answer = HTTP.get(self.callback)
        equal(answer.status_code in (302, 303), True, f"callback {answer.status_code} ({answer.text[:300]})")
        self.landing = answer.headers["location"]


def pkce_session(provider):
    """A PKCE sign-in: a code in the landing's query, exchanged by the client that asked for it."""
    app = client(flow="pkce")
    landing = Flow(app, provider, APP_PKCE).landing
    equal((landing.split("?")[0], "access_token" in landing, bool(query(landing).get("code"))), (APP_PKCE, False, True), f"landing {landing}")
    return app.auth.exchange_code_for_session({"auth_code": query(landing)["code"]}).session


def implicit_session(provider, scopes=None):
    """An implicit sign-in: the session in the landing's fragment, read as supabase-py reads it
    (it wants access_token, expires_in, refresh_token and token_type). Returns (session, flow)."""
    app = client()
    flow = Flow(app, provider, APP_IMPLICIT, scopes)
    equal(flow.landing.split("#")[0], APP_IMPLICIT, f"landing {flow.landing}")
    app.auth.initialize(url=flow.landing)
    session = app.auth.get_session()
    equal(session is not None, True, f"a session from {flow.landing}")
    return session, flow


def refused(landing, redirect_to, where, code=None):
    """An error sent back to the app: error, error_code and error_description (supabase-py's implicit
    parser wants all three) in the query (PKCE) or fragment (implicit); no session, no code."""
    equal(landing.startswith(redirect_to), True, f"the error goes back to the app: {landing}")
    params = query(landing) if where == "query" else fragment(landing)
    equal([name for name in ("error", "error_code", "error_description") if not params.get(name)], [], f"missing in {landing}")
    if code:
        equal(params["error_code"], code, f"error_code in {landing}")
    leaked = {"access_token", "refresh_token", "code"} & {**query(landing), **fragment(landing)}.keys()
    equal(leaked, set(), f"a session or code in {landing}")
    return params


def identity(user, provider):
    found = [each for each in user.identities or [] if each.provider == provider]
    equal(len(found), 1, f"{provider} identities of {user.email}")
    return found[0]




# MARK: Checks


@check("providers over the management API: partial updates, bad URLs refused, all listed, secrets never shown; /settings agrees")
def _():
    github = configure("github", enabled=True, clientId="gh-client", clientSecret=SECRETS["github"], url=f"{FAKE_URL}/gh")
    expected = {"provider": "github", "enabled": True, "clientId": "gh-client", "hasSecret": True, "url": f"{FAKE_URL}/gh", "callbackURL": CALLBACK}
    equal({key: github.get(key) for key in expected}, expected, "github")
    equal(bool(github.get("updatedAt")), True, "updatedAt")
    configure("keycloak", enabled=True, clientId="kc-client", clientSecret=SECRETS["keycloak"], url=f"{FAKE_URL}/kc")
    again = configure("github", enabled=True)
    equal((again["clientId"], again["hasSecret"], again["url"]), ("gh-client", True, f"{FAKE_URL}/gh"), "fields left out stay")
    for bad in ("ftp://127.0.0.1/gh", "not a url", "/gh"):
        equal(MANAGE.patch("/auth/providers/github", json={"url": bad}).status_code, 400, f"url {bad!r}")
    unknown = MANAGE.patch("/auth/providers/myspace", json={"enabled": True, "clientId": "x", "clientSecret": "y"})
    equal(unknown.status_code in (400, 404), True, f"an unknown provider answered {unknown.status_code}")
    # Google: an override set then cleared, then the whole configuration removed.
    configure("google", enabled=True, clientId="go-client", clientSecret=SECRETS["google"], url="http://127.0.0.1:9/google")
    equal(configure("google", url="").get("url") in (None, ""), True, "url cleared")
    equal(MANAGE.delete("/auth/providers/google").status_code, 200, "DELETE google")
    providers = listed()
    equal(set(providers), {"github", "gitlab", "google", "keycloak"}, "listed providers")
    equal({name: (entry["enabled"], entry["hasSecret"]) for name, entry in providers.items()},
          {"github": (True, True), "keycloak": (True, True), "gitlab": (False, False), "google": (False, False)}, "enabled, secret set")
    shown = external()
    equal({name: shown.get(name) for name in ("github", "keycloak", "gitlab", "google", "email")},
          {"github": True, "keycloak": True, "gitlab": False, "google": False, "email": True}, "/settings external")
    # The agent documents describe the providers turned on, and only those.
    keys = {"apikey": SERVICE, "Authorization": f"Bearer {SERVICE}"}
    document = HTTP.get(f"{URL}/openapi.json", headers=keys).json()
    provider = next(p for p in document["paths"]["/auth/v1/authorize"]["get"]["parameters"] if p["name"] == "provider")
    equal(provider["schema"]["enum"], ["github", "keycloak"], "the OpenAPI document's /auth/v1/authorize")
    validate(document)
    brief = HTTP.get(f"{URL}/ai-spec.md", headers=keys).text
    equal("`github`, `keycloak`" in brief and "signInWithOAuth" in brief, True, "the agent brief names the providers")


@check("/authorize sends the browser to the provider without an apikey; a provider not enabled, unknown or missing is refused")
def _():
    answer = HTTP.get(f"{URL}/auth/v1/authorize", params={"provider": "github", "redirect_to": APP_IMPLICIT, "scopes": "repo read:org"})
    equal(answer.status_code, 302, f"status ({answer.text[:300]})")
    location = answer.headers["location"]
    equal(location.split("?")[0], f"{FAKE_URL}/gh/login/oauth/authorize", "the provider's authorize URL")
    sent = query(location)
    equal((sent.get("client_id"), sent.get("redirect_uri"), sent.get("response_type")), ("gh-client", CALLBACK, "code"), f"query {sent}")
    equal({"user:email", "repo", "read:org"} <= scopes(location), True, f"GitHub's default scope and the extra ones: {sent.get('scope')!r}")
    equal(bool(sent.get("state")), True, "a state")
    body = json_error(HTTP.get(f"{URL}/auth/v1/authorize", params={"provider": "gitlab"}), 400, "validation_failed")
    equal("not enabled" in (body.get("msg") or body.get("message") or "").lower(), True, f"message {body}")
    json_error(HTTP.get(f"{URL}/auth/v1/authorize", params={"provider": "myspace"}), 400, "validation_failed")
    json_error(HTTP.get(f"{URL}/auth/v1/authorize", params={"redirect_to": SITE_URL}), 400, "validation_failed")


@check("PKCE with GitHub: a code for the app, exchanged once by the client that asked, for a new user with the GitHub identity")
def _():
    person = github_user("octo")
    app = client(flow="pkce")
    landing = Flow(app, "github", APP_PKCE).landing
    code = query(landing).get("code")
    equal((landing.split("?")[0], bool(code), "access_token" in landing), (APP_PKCE, True, False), f"landing {landing}")
    auth_fails(lambda: client(flow="pkce").auth.exchange_code_for_session({"auth_code": code, "code_verifier": "x" * 50}), 400, "bad_code_verifier")
    session = app.auth.exchange_code_for_session({"auth_code": code}).session
    equal(session.provider_token, ISSUED["gh"], "provider_token is the token GitHub issued")
    user = session.user
    equal((user.email, user.email_confirmed_at is not None), (person["email"], True), "a user confirmed by GitHub's verified email")
    equal((user.app_metadata.get("provider"), "github" in user.app_metadata.get("providers", [])), ("github", True), f"{user.app_metadata}")
    github = identity(user, "github")
    equal(github.id, str(person["id"]), "identity id")
    expected = {"sub": str(person["id"]), "provider_id": str(person["id"]), "email": person["email"], "email_verified": True,
                "user_name": person["login"], "avatar_url": person["avatar_url"]}
    equal({key: github.identity_data.get(key) for key in expected}, expected, "identity_data")
    equal(github.identity_data.get("full_name") or github.identity_data.get("name"), person["name"], "name in identity_data")
    equal(client().auth.get_user(session.access_token).user.id, user.id, "the session works")
    auth_fails(lambda: app.auth.exchange_code_for_session({"auth_code": code, "code_verifier": "y" * 50}), 404, "flow_state_not_found")
    # The same GitHub user again, through the implicit flow: the same user, its identity reused.
    again, _ = implicit_session("github")
    equal((again.user.id, again.user.app_metadata.get("provider"), len(again.user.identities)), (user.id, "github", 1), "second sign-in")


@check("two first sign-ins of one GitHub user at the same instant make one user with one identity, and both get a session")
def _():
    github_user("twins")
    callbacks = []
    for _ in range(2):
        authorize = HTTP.get(client().auth.sign_in_with_oauth({"provider": "github", "options": {"redirect_to": APP_IMPLICIT}}).url)
        consent = HTTP.get(authorize.headers["location"])
        callbacks.append(consent.headers["location"])
    answers = [None, None]

    def follow(index):
        answers[index] = httpx.get(callbacks[index], follow_redirects=False, timeout=60)

    threads = [threading.Thread(target=follow, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    landings = [answer.headers.get("location", "") for answer in answers]
    tokens = [fragment(landing).get("access_token") for landing in landings]
    equal(all(tokens), True, f"both callbacks end in a session: {landings}")
    users = [client().auth.get_user(token).user for token in tokens]
    equal(users[0].id, users[1].id, "one user")
    identity(users[0], "github")


@check("implicit flow with Keycloak: the session and provider token in the fragment, the user from its userinfo")
def _():
    person = keycloak_user("kc")
    session, flow = implicit_session("keycloak", scopes="groups")
    equal(flow.provider.split("?")[0], f"{FAKE_URL}/kc/protocol/openid-connect/auth", "keycloak's authorize URL")
    equal("groups" in scopes(flow.provider) and len(scopes(flow.provider)) > 1, True, f"default and extra scopes in {flow.provider}")
    sent = fragment(flow.landing)
    equal([key for key in ("access_token", "refresh_token", "expires_at") if not sent.get(key)], [], f"fragment {sent}")
    equal((sent.get("expires_in"), sent.get("token_type"), sent.get("provider_token")), ("3600", "bearer", ISSUED["kc"]), "fragment")
    equal(session.provider_token, ISSUED["kc"], "supabase-py's session has the provider token")
    user = client().auth.get_user(sent["access_token"]).user
    equal((user.email, user.app_metadata.get("provider")), (person["email"], "keycloak"), "user")
    expected = {"sub": person["sub"], "email": person["email"], "email_verified": True, "user_name": person["preferred_username"]}
    data = identity(user, "keycloak").identity_data
    equal({key: data.get(key) for key in expected}, expected, "identity_data")


@check("a verified provider email joins the email user who has it; an unverified one is refused with email_exists")
def _():
    email = address("linked")
    owner = client().auth.sign_up({"email": email, "password": "correct-horse-1"}).user
    github_user("linked", email=email)
    user = client().auth.get_user(pkce_session("github").access_token).user
    equal(user.id, owner.id, "the same user")
    equal(sorted(each.provider for each in user.identities), ["email", "github"], "identities")
    equal({"email", "github"} <= set(user.app_metadata.get("providers", [])), True, f"providers in {user.app_metadata}")
    equal(client().auth.sign_in_with_password({"email": email, "password": "correct-horse-1"}).user.id, owner.id, "the password still works")

    other = address("unverified")
    victim = client().auth.sign_up({"email": other, "password": "correct-horse-1"}).user
    keycloak_user("unverified", verified=False, email=other)
    refused(Flow(client(), "keycloak", APP_IMPLICIT).landing, APP_IMPLICIT, "fragment", "email_exists")
    kept = client(SERVICE).auth.admin.get_user_by_id(victim.id).user
    equal([each.provider for each in kept.identities], ["email"], "the email user gained no identity")


@check("errors go back to the app: a denied consent, a refused token exchange (a redeemed code, a wrong secret)")
def _():
    github_user("errors")
    keycloak_user("errors")
    MODE["gh"] = "deny"
    equal(refused(Flow(client(flow="pkce"), "github", APP_PKCE).landing, APP_PKCE, "query")["error"], "access_denied", "PKCE: denied")
    MODE["kc"] = "deny"
    equal(refused(Flow(client(), "keycloak", APP_IMPLICIT).landing, APP_IMPLICIT, "fragment")["error"], "access_denied", "implicit: denied")
    MODE["gh"] = "stale"
    refused(Flow(client(), "github", APP_IMPLICIT).landing, APP_IMPLICIT, "fragment")
    configure("github", clientSecret="wrong-" + RUN)
    try:
        refused(Flow(client(flow="pkce"), "github", APP_PKCE).landing, APP_PKCE, "query")
    finally:
        configure("github", clientSecret=SECRETS["github"])
    implicit_session("github")  # the right secret again: signs in


@check("a state that does not verify is refused in place with bad_oauth_state; the genuine one works, once")
def _():
    github_user("state")
    at_provider = HTTP.get(f"{URL}/auth/v1/authorize", params={"provider": "github", "redirect_to": APP_IMPLICIT}).headers["location"]
    state = query(at_provider)["state"]
    middle = len(state) // 2
    while not state[middle].isalnum():
        middle += 1
    tampered = state[:middle] + ("A" if state[middle] != "A" else "B") + state[middle + 1:]
    for bad in (tampered, "not-a-state"):
        json_error(HTTP.get(CALLBACK, params={"code": "whatever", "state": bad}), 400, "bad_oauth_state")
    callback = HTTP.get(at_provider).headers["location"]
    landing = HTTP.get(callback).headers["location"]
    equal(bool(fragment(landing).get("access_token")), True, f"the genuine state signs in: {landing}")
    replay = HTTP.get(callback)  # the provider refuses the code again, or Branch the spent state
    if replay.status_code in (302, 303):
        refused(replay.headers["location"], APP_IMPLICIT, "fragment")
    else:
        equal(replay.status_code, 400, f"a replayed callback ({replay.text[:300]})")


@check("a redirect_to outside the allow list lands on the site URL")
def _():
    github_user("foreign")
    landing = Flow(client(), "github", "https://evil.example.com/").landing
    equal((landing.startswith(SITE_URL), "evil" in landing), (True, False), f"landing {landing}")
    equal(bool(fragment(landing).get("access_token")), True, f"signed in at the site URL: {landing}")


@check("closed sign-ups: a new provider user is refused with signup_disabled, a known one still signs in")
def _():
    known = github_user("known")
    before, _ = implicit_session("github")
    closed = MANAGE.put("/auth/settings", json={"allowSignup": False})
    equal(closed.status_code, 200, f"closing sign-ups ({closed.text[:300]})")
    try:
        github_user("newcomer")
        refused(Flow(client(), "github", APP_IMPLICIT).landing, APP_IMPLICIT, "fragment", "signup_disabled")
        NEXT["gh"] = known
        equal(implicit_session("github")[0].user.id, before.user.id, "the known user signs in")
    finally:
        equal(MANAGE.put("/auth/settings", json={"allowSignup": True}).status_code, 200, "reopening sign-ups")


@check("a banned user is refused with user_banned, and signs in again once the ban is lifted")
def _():
    github_user("banned")
    user = pkce_session("github").user
    admin = client(SERVICE).auth.admin
    admin.update_user_by_id(user.id, {"ban_duration": "24h"})
    try:
        refused(Flow(client(flow="pkce"), "github", APP_PKCE).landing, APP_PKCE, "query", "user_banned")
    finally:
        admin.update_user_by_id(user.id, {"ban_duration": "none"})
    equal(pkce_session("github").user.id, user.id, "signs in after the ban")


@check("GitLab configured later: a new user with an unconfirmed email; removed again, it is refused")
def _():
    configure("gitlab", enabled=True, clientId="gl-client", clientSecret=SECRETS["gitlab"], url=f"{FAKE_URL}/gl")
    equal((external().get("gitlab"), listed()["gitlab"]["enabled"]), (True, True), "enabled")
    uid = 100_000_000 + uuid.uuid4().int % 900_000_000
    NEXT["gl"] = {"id": uid, "username": f"tanuki-{RUN}", "name": "Tanuki", "avatar_url": f"https://gitlab.example.com/{uid}.png",
                  "email": address("tanuki"), "confirmed_at": None}
    session, flow = implicit_session("gitlab")
    equal((flow.provider.split("?")[0], bool(scopes(flow.provider))), (f"{FAKE_URL}/gl/oauth/authorize", True), f"at GitLab {flow.provider}")
    equal((session.user.email, session.provider_token), (address("tanuki"), ISSUED["gl"]), "user and provider token")
    data = identity(session.user, "gitlab").identity_data
    equal((data.get("sub"), data.get("email_verified"), data.get("user_name")), (str(uid), False, f"tanuki-{RUN}"), f"identity_data {data}")
    equal(MANAGE.delete("/auth/providers/gitlab").status_code, 200, "DELETE gitlab")
    json_error(HTTP.get(f"{URL}/auth/v1/authorize", params={"provider": "gitlab"}), 400, "validation_failed")


FAKE.shutdown()
FAKE.server_close()
finish()
