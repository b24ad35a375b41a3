#!/usr/bin/env python3
"""The data API driven end to end by the real supabase-py client.

Runs every check against a project that has Tests/DataAPIClients/schema.sql loaded, prints
`PASS name` or `FAIL name: why` for each, a summary, and exits 1 when any failed.

Environment:
  SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY   the project under test (base URL
                                                               without /rest/v1)
  OTHER_PROJECT_URL, OTHER_PROJECT_ANON_KEY,
  OTHER_PROJECT_SERVICE_ROLE_KEY                              a second project of the same service
  DATABASE_URL                                                 the first project's database as its
                                                               owner (psql checks that bad requests
                                                               changed nothing)
  FEATURE_BRANCH                                               a branch of the first project made
                                                               after loading the schema (checks
                                                               /b/{branch})
  SUPABASE_JWT_SECRET (optional)                               the first project's JWT secret: adds
                                                               checks with correctly signed, expired
                                                               tokens (the test opens it from the
                                                               catalog with the master key)

Arguments: `--reset` loads schema.sql first (to run again against the same project);
`--only TEXT` runs the checks whose name contains TEXT.
"""

import base64
import csv
import io
import json
import os
import subprocess
import sys
import time
import traceback
import uuid
from contextlib import contextmanager

import httpx
import jwt as pyjwt
from postgrest.exceptions import APIError
from postgrest.types import CountMethod, ReturnMethod
from supabase import Client, ClientOptions, create_client
from supabase_auth.errors import AuthError

HERE = os.path.dirname(os.path.abspath(__file__))
URL = os.environ["SUPABASE_URL"].rstrip("/")
ANON = os.environ["SUPABASE_ANON_KEY"]
SERVICE = os.environ["SUPABASE_SERVICE_ROLE_KEY"]
OTHER_URL = os.environ["OTHER_PROJECT_URL"].rstrip("/")
OTHER_ANON = os.environ["OTHER_PROJECT_ANON_KEY"]
OTHER_SERVICE = os.environ["OTHER_PROJECT_SERVICE_ROLE_KEY"]
DATABASE_URL = os.environ["DATABASE_URL"]
JWT_SECRET = os.environ.get("SUPABASE_JWT_SECRET", "")
FEATURE_BRANCH = os.environ.get("FEATURE_BRANCH", "")
PASSWORD = "correct-horse-battery"
RUN = uuid.uuid4().hex[:8]

HTTP = httpx.Client(timeout=30)
CHECKS = []


def check(name):
    """Registers a check; checks run in the order they are written."""

    def register(function):
        CHECKS.append((name, function))
        return function

    return register


# MARK: Helpers


def client(key=ANON, url=URL, token=None) -> Client:
    """A fresh client, as an app makes one: no background refresh, no retries (failures stay fast)."""
    options = ClientOptions(auto_refresh_token=False, persist_session=False, postgrest_client_retry=False)
    if token:
        options.headers = {**options.headers, "Authorization": f"Bearer {token}"}
    return create_client(url, key, options)


ANON_CLIENT = client(ANON)
SERVICE_CLIENT = client(SERVICE)


def ids(response):
    return [row["id"] for row in response.data]


def equal(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def fails(query, code, also=()):
    """Executes a query that must fail with APIError `code` (or one of `also`); returns the error."""
    try:
        response = query.execute()
    except APIError as error:
        if error.code != code and error.code not in also:
            raise AssertionError(f"expected error {code}, got {error.code}: {error.json()}") from None
        return error
    raise AssertionError(f"expected error {code}, got success: {getattr(response, 'data', response)!r}")


def auth_fails(run, status, code=None):
    """Runs an auth call that must fail with HTTP `status` (and `code` when given); returns the error."""
    try:
        result = run()
    except AuthError as error:
        got = getattr(error, "status", None)
        if got != status or (code is not None and error.code != code):
            raise AssertionError(
                f"expected {status} {code}, got {type(error).__name__} status={got} code={error.code}: {error.message}"
            ) from None
        return error
    raise AssertionError(f"expected auth error {status} {code}, got success: {result!r}")


def raw(method, path, *, base=URL, apikey=ANON, bearer=None, headers=None, **arguments):
    """One HTTP request as a client library would send it, for what the clients do not expose."""
    sent = {}
    if apikey:
        sent["apikey"] = apikey
    if bearer:
        sent["Authorization"] = f"Bearer {bearer}"
    sent.update(headers or {})
    return HTTP.request(method, f"{base}{path}", headers=sent, **arguments)


def error_body(response, status, code=None, also=()):
    """Checks an error answer: the HTTP status, PostgREST's four keys and the code; returns the body."""
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"HTTP {response.status_code} without a JSON body: {response.text[:300]!r}") from None
    if response.status_code != status:
        raise AssertionError(f"expected HTTP {status}, got {response.status_code}: {body}")
    four_keys(body)
    if code is not None and body["code"] != code and body["code"] not in also:
        raise AssertionError(f"expected code {code}, got {body['code']}: {body}")
    return body


def unauthorized(response):
    """Checks a refused key: HTTP 401 with a JSON message (the API-key gate answers like Supabase's gateway)."""
    if response.status_code != 401:
        raise AssertionError(f"expected HTTP 401, got {response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"401 without a JSON body: {response.text[:300]!r}") from None
    if not isinstance(body, dict) or not body.get("message"):
        raise AssertionError(f"401 without a message: {body!r}")


def four_keys(body):
    if not isinstance(body, dict):
        raise AssertionError(f"error body is not an object: {body!r}")
    missing = [key for key in ("code", "details", "hint", "message") if key not in body]
    if missing:
        raise AssertionError(f"error body lacks {missing}: {body}")
    if not isinstance(body["code"], str):
        raise AssertionError(f"error code is not a string: {body}")
    if body["details"] is not None and not isinstance(body["details"], str):
        raise AssertionError(f"error details is neither a string nor null: {body}")


def sql(query):
    """Runs SQL as the project's owner, beside the API."""
    result = subprocess.run(
        ["psql", DATABASE_URL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", query],
        capture_output=True, text=True, timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def content(table):
    """A fingerprint of a table's rows: their count and a hash of all of them."""
    return sql(f"select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from {table} t")


@contextmanager
def unchanged(*tables):
    """Asserts that what runs inside changes none of `tables`."""
    before = {table: content(table) for table in tables}
    yield
    for table in tables:
        after = content(table)
        if after != before[table]:
            raise AssertionError(f"table {table} changed: {before[table]} -> {after}")


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def encode_segment(value):
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()


def tampered(token, **changes):
    """`token` with claims changed and the original signature kept, so the signature no longer matches."""
    header, payload, signature = token.split(".")
    return f"{header}.{encode_segment({**claims(token), **changes})}.{signature}"


class State:
    """What earlier checks made that later ones use."""

    users = {}  # number -> {"email", "id", "client", "session"}


def email(label):
    return f"e2e-{RUN}-{label}@example.com"


def user(number):
    """User `number` signed in on a client of their own (signing up on first use)."""
    if number not in State.users:
        address = email(f"user{number}")
        signed_up = client(ANON)
        signed_up.auth.sign_up({"email": address, "password": PASSWORD})
        own = client(ANON)
        response = own.auth.sign_in_with_password({"email": address, "password": PASSWORD})
        State.users[number] = {"email": address, "id": response.user.id, "client": own, "session": response.session}
    return State.users[number]


# MARK: Reads and filters (posts has no row-level security: the anon key reads it)


@check("select: every column with PostgREST's JSON for each type")
def select_types():
    rows = ANON_CLIENT.table("posts").select("*").order("id").execute().data
    equal([row["id"] for row in rows], [1, 2, 3, 4], "ids")
    first = rows[0]
    equal(first["title"], "Postgres internals", "text")
    equal(first["labels"], ["db", "postgres"], "text[]")
    equal(first["meta"], {"kind": "article", "words": 1200}, "jsonb")
    equal(first["mood"], "happy", "enum")
    equal(first["rating"], 4.5, "numeric")
    equal(first["published"], True, "boolean")
    equal(first["published_at"], "2024-01-02T10:00:00+00:00", "timestamptz")
    equal(first["pages"], "[1,10)", "int4range")
    equal(rows[1]["rating"], None, "null numeric")
    equal(rows[3]["published_at"], "2024-03-01T08:30:00.5+00:00", "timestamptz with fraction")
    author = ANON_CLIENT.table("authors").select("born, created_at").eq("id", 1).execute().data
    equal(author, [{"born": "1990-05-01", "created_at": "2024-01-01T12:00:00+00:00"}], "date and default timestamptz")


@check("select: chosen columns, aliases, JSON paths and casts")
def select_columns():
    data = ANON_CLIENT.table("posts").select("id, headline:title, kind:meta->>kind, words:meta->words, rating::text").eq("id", 1).execute().data
    equal(data, [{"id": 1, "headline": "Postgres internals", "kind": "article", "words": 1200, "rating": "4.5"}])


@check("filter: eq and neq")
def filter_eq():
    equal(ids(ANON_CLIENT.table("posts").select("id").eq("author_id", 1).order("id").execute()), [1, 2], "eq")
    equal(ids(ANON_CLIENT.table("posts").select("id").neq("author_id", 1).order("id").execute()), [3, 4], "neq")
    equal(ids(ANON_CLIENT.table("posts").select("id").eq("mood", "happy").order("id").execute()), [1, 3], "eq on an enum")


@check("filter: gt, gte, lt, lte")
def filter_comparisons():
    def rated(operator, value):
        query = ANON_CLIENT.table("posts").select("id").order("id")
        return ids(getattr(query, operator)("rating", value).execute())

    equal(rated("gt", 3), [1], "gt")
    equal(rated("gte", 3), [1, 3], "gte")
    equal(rated("lt", 3), [4], "lt")
    equal(rated("lte", 3), [3, 4], "lte")
    equal(ids(ANON_CLIENT.table("posts").select("id").gte("published_at", "2024-02-01T00:00:00+00:00").order("id").execute()), [3, 4], "gte on timestamptz")


@check("filter: like, ilike, * as wildcard, any/all of")
def filter_like():
    def titles(builder):
        return ids(builder(ANON_CLIENT.table("posts").select("id").order("id")).execute())

    equal(titles(lambda q: q.like("title", "%cats%")), [3], "like")
    equal(titles(lambda q: q.like("title", "Sad*")), [4], "like with *")
    equal(titles(lambda q: q.ilike("title", "%POSTGRES%")), [1], "ilike")
    equal(titles(lambda q: q.like_any_of("title", "%cats%,%songs%")), [3, 4], "like(any)")
    equal(titles(lambda q: q.ilike_all_of("title", "%FAT%,%rats%")), [3], "ilike(all)")
    equal(titles(lambda q: q.not_.ilike("title", "%a%")), [], "not.ilike")


@check("filter: match and imatch (regular expressions)")
def filter_match():
    equal(ids(ANON_CLIENT.table("posts").select("id").filter("title", "match", "^Post").execute()), [1], "match")
    equal(ids(ANON_CLIENT.table("posts").select("id").filter("title", "imatch", "^post").execute()), [1], "imatch")


@check("filter: in, with quoted items holding commas")
def filter_in():
    equal(ids(ANON_CLIENT.table("posts").select("id").in_("id", [1, 3]).order("id").execute()), [1, 3], "in numbers")
    equal(ids(ANON_CLIENT.table("tags").select("id").in_("name", ["rock, pop", "pets"]).order("id").execute()), [2, 4], "in quoted")
    equal(ids(ANON_CLIENT.table("posts").select("id").not_.in_("id", [1, 2]).order("id").execute()), [3, 4], "not.in")


@check("filter: is null, not_null, true, false and isdistinct")
def filter_is():
    def posts(builder):
        return ids(builder(ANON_CLIENT.table("posts").select("id").order("id")).execute())

    equal(posts(lambda q: q.is_("rating", None)), [2], "is.null")
    equal(posts(lambda q: q.not_.is_("rating", None)), [1, 3, 4], "not.is.null")
    equal(posts(lambda q: q.filter("rating", "is", "not_null")), [1, 3, 4], "is.not_null")
    equal(posts(lambda q: q.is_("published", True)), [1, 3, 4], "is.true")
    equal(posts(lambda q: q.is_("published", False)), [2], "is.false")
    equal(posts(lambda q: q.filter("editor_id", "isdistinct", "1")), [1, 2, 4], "isdistinct")


@check("filter: full-text search fts, plfts, phfts, wfts")
def filter_text_search():
    def found(options, query):
        return ids(ANON_CLIENT.table("posts").select("id").text_search("search", query, options).order("id").execute())

    equal(found({"config": "english"}, "fat & cat"), [3], "fts(english)")
    equal(found({}, "rain"), [4], "fts (the database's default configuration)")
    equal(found({"type": "plain", "config": "english"}, "fat cats"), [3], "plfts")
    equal(found({"type": "phrase", "config": "english"}, "fat cat"), [3], "phfts")
    equal(found({"type": "web_search", "config": "english"}, '"cache invalidation" -rain'), [2], "wfts")


@check("filter: array contains, contained by, overlaps")
def filter_arrays():
    equal(ids(ANON_CLIENT.table("posts").select("id").contains("labels", ["db"]).order("id").execute()), [1, 2], "cs")
    equal(ids(ANON_CLIENT.table("posts").select("id").contained_by("labels", ["db", "postgres", "cache"]).order("id").execute()), [1, 2, 4], "cd")
    equal(ids(ANON_CLIENT.table("posts").select("id").ov("labels", ["pets", "cache"]).order("id").execute()), [2, 3], "ov")


@check("filter: jsonb contains and contained by, JSON path filters")
def filter_jsonb():
    equal(ids(ANON_CLIENT.table("posts").select("id").contains("meta", {"kind": "article"}).order("id").execute()), [1, 3], "cs json")
    equal(ids(ANON_CLIENT.table("posts").select("id").contained_by("meta", {"kind": "draft", "x": 1}).order("id").execute()), [2, 4], "cd json")
    equal(ids(ANON_CLIENT.table("posts").select("id").eq("meta->>kind", "draft").execute()), [2], "->> eq")
    equal(ids(ANON_CLIENT.table("posts").select("id").gt("meta->words", 500).execute()), [1], "-> gt")


@check("filter: range operators sl, sr, nxl, nxr, adj, ov")
def filter_ranges():
    def posts(builder):
        return ids(builder(ANON_CLIENT.table("posts").select("id").order("id")).execute())

    # Every operator is checked before failing, so a report names all that are wrong.
    wrong = []
    for what, builder, expected in (
        ("sl (<<)", lambda q: q.range_lt("pages", (20, 30)), [1, 2]),
        ("sr (>>)", lambda q: q.range_gt("pages", (0, 5)), [2, 3]),
        ("nxl (&>, does not extend to the left of)", lambda q: q.range_gte("pages", (10, 15)), [3]),
        ("nxr (&<, does not extend to the right of)", lambda q: q.range_lte("pages", (0, 10)), [1]),
        ("adj (-|-)", lambda q: q.range_adjacent("pages", (29, 40)), [3]),
        ("ov (&&)", lambda q: q.ov("pages", "[5,12)"), [1, 2]),
    ):
        actual = posts(builder)
        if actual != expected:
            wrong.append(f"{what}: expected {expected}, got {actual}")
    if wrong:
        raise AssertionError("; ".join(wrong))


@check("filter: or, nested and, not.or, and match()")
def filter_logic():
    def posts(builder):
        return ids(builder(ANON_CLIENT.table("posts").select("id").order("id")).execute())

    equal(posts(lambda q: q.or_("rating.gt.4,mood.eq.sad")), [1, 4], "or")
    equal(posts(lambda q: q.or_("id.eq.3,and(published.is.false,author_id.eq.1)")), [2, 3], "or with and")
    equal(posts(lambda q: q.not_.or_("id.eq.1,id.eq.2")), [3, 4], "not.or")
    equal(posts(lambda q: q.or_("title.ilike.*cats*,and(rating.gte.4,not.mood.eq.sad)")), [1, 3], "or with not inside")
    equal(posts(lambda q: q.match({"author_id": 1, "published": True})), [1], "match()")


@check("modifiers: order (enum, desc, nullsfirst, several), limit, offset, range")
def modifiers_order_and_paging():
    def posts(builder):
        return ids(builder(ANON_CLIENT.table("posts").select("id")).execute())

    equal(posts(lambda q: q.order("mood").order("id", desc=True)), [3, 1, 4, 2], "enum order, then desc")
    equal(posts(lambda q: q.order("rating", desc=True, nullsfirst=True)), [2, 1, 3, 4], "desc nullsfirst")
    equal(posts(lambda q: q.order("rating", nullsfirst=False)), [4, 3, 1, 2], "asc nullslast")
    equal(posts(lambda q: q.order("id").limit(2)), [1, 2], "limit")
    equal(posts(lambda q: q.order("id").limit(2).offset(1)), [2, 3], "limit and offset")
    equal(posts(lambda q: q.order("id").range(1, 2)), [2, 3], "range")
    equal(posts(lambda q: q.order("id").range(10, 12)), [], "range past the end")


@check("count: exact with a page, with head, and zero")
def count_exact():
    response = ANON_CLIENT.table("posts").select("id", count=CountMethod.exact).eq("published", True).order("id").limit(1).execute()
    equal(response.count, 3, "count")
    equal(ids(response), [1], "page")
    head = ANON_CLIENT.table("posts").select("*", count=CountMethod.exact, head=True).execute()
    equal(head.count, 4, "head count")
    equal(head.data, [], "head data")
    none = ANON_CLIENT.table("posts").select("id", count=CountMethod.exact).eq("id", 999).execute()
    equal((none.count, none.data), (0, []), "count of nothing")


@check("count: Range header paging answers 206 with Content-Range")
def count_range_header():
    response = raw("GET", "/rest/v1/posts", params={"select": "id", "order": "id"},
                   headers={"Range-Unit": "items", "Range": "0-1", "Prefer": "count=exact"})
    equal(response.status_code, 206, "status")
    equal(response.headers.get("content-range"), "0-1/4", "Content-Range")
    equal([row["id"] for row in response.json()], [1, 2], "rows")
    empty = raw("GET", "/rest/v1/posts", params={"id": "eq.999"}, headers={"Prefer": "count=exact"})
    equal(empty.headers.get("content-range"), "*/0", "Content-Range of nothing")
    error_body(raw("GET", "/rest/v1/posts", params={"offset": "10"}, headers={"Prefer": "count=exact"}), 416, "PGRST103")


@check("single: one row is an object; 0 and several rows are PGRST116")
def single_rows():
    equal(ANON_CLIENT.table("posts").select("id, title").eq("id", 1).single().execute().data,
          {"id": 1, "title": "Postgres internals"}, "single")
    error = fails(ANON_CLIENT.table("posts").select("id").eq("id", 999).single(), "PGRST116")
    if "0 rows" not in str(error.details):
        raise AssertionError(f"details should say 0 rows: {error.json()}")
    error = fails(ANON_CLIENT.table("posts").select("id").single(), "PGRST116")
    if "4 rows" not in str(error.details):
        raise AssertionError(f"details should say 4 rows: {error.json()}")
    body = error_body(raw("GET", "/rest/v1/posts", params={"id": "eq.999"}, headers={"Accept": "application/vnd.pgrst.object+json"}),
                      406, "PGRST116")
    equal(body["message"], "Cannot coerce the result to a single JSON object", "message")


@check("maybe_single: one row, and None for 0 rows")
def maybe_single_rows():
    equal(ANON_CLIENT.table("posts").select("id").eq("id", 3).maybe_single().execute().data, {"id": 3}, "one row")
    equal(ANON_CLIENT.table("posts").select("id").eq("id", 999).maybe_single().execute(), None, "no row")


@check("select: a view")
def select_view():
    equal(ids(ANON_CLIENT.table("published_posts").select("*").order("id").execute()), [1, 3, 4], "view rows")


@check("select: CSV")
def select_csv():
    text = ANON_CLIENT.table("posts").select("id,title").order("id").limit(2).csv().execute().data
    rows = list(csv.reader(io.StringIO(text)))
    equal(rows, [["id", "title"], ["1", "Postgres internals"], ["2", "Draft about caching"]], "CSV rows")


# MARK: Embedding


@check("embed: many-to-one is an object")
def embed_many_to_one():
    data = ANON_CLIENT.table("comments").select("body, posts(title)").eq("id", 1).execute().data
    equal(data, [{"body": "Great read", "posts": {"title": "Postgres internals"}}])


@check("embed: !hint by foreign key name and by column, with aliases; null when no row")
def embed_hints():
    data = ANON_CLIENT.table("posts").select(
        "id, author:authors!posts_author_id_fkey(name), editor:authors!posts_editor_id_fkey(name)"
    ).order("id").limit(2).execute().data
    equal(data, [
        {"id": 1, "author": {"name": "Alice"}, "editor": {"name": "Bob"}},
        {"id": 2, "author": {"name": "Alice"}, "editor": None},
    ])
    data = ANON_CLIENT.table("posts").select("id, authors!editor_id(name)").eq("id", 3).execute().data
    equal(data, [{"id": 3, "authors": {"name": "Alice"}}], "hint by column")


@check("embed: ambiguous relationship is PGRST201, a missing one PGRST200")
def embed_errors():
    fails(ANON_CLIENT.table("posts").select("id, authors(name)"), "PGRST201")
    error_body(raw("GET", "/rest/v1/posts", params={"select": "id,authors(name)"}), 300, "PGRST201")
    fails(ANON_CLIENT.table("posts").select("id, events(message)"), "PGRST200")
    error_body(raw("GET", "/rest/v1/posts", params={"select": "id,events(message)"}), 400, "PGRST200")


@check("embed: one-to-many is an array, [] when empty, with embed order")
def embed_one_to_many():
    data = ANON_CLIENT.table("posts").select("id, comments(author_name)").in_("id", [1, 2]).order("id") \
        .order("created_at", desc=True, foreign_table="comments").execute().data
    equal(data, [
        {"id": 1, "comments": [{"author_name": "Dave"}, {"author_name": "Carol"}, {"author_name": "Bob"}]},
        {"id": 2, "comments": []},
    ])


@check("embed: one-to-one both ways is an object or null")
def embed_one_to_one():
    data = ANON_CLIENT.table("authors").select("name, author_profiles(bio)").order("id").execute().data
    equal(data, [
        {"name": "Alice", "author_profiles": {"bio": "Writes about databases"}},
        {"name": "Bob", "author_profiles": {"bio": "Likes cats"}},
        {"name": "Carol", "author_profiles": None},
        {"name": "Dave", "author_profiles": None},
    ])
    data = ANON_CLIENT.table("author_profiles").select("bio, authors(name)").eq("author_id", 2).execute().data
    equal(data, [{"bio": "Likes cats", "authors": {"name": "Bob"}}], "reverse")


@check("embed: many-to-many through the junction table, both ways")
def embed_many_to_many():
    data = ANON_CLIENT.table("posts").select("id, tags(name)").order("id").execute().data
    equal(data, [
        {"id": 1, "tags": [{"name": "databases"}]},
        {"id": 2, "tags": [{"name": "databases"}]},
        {"id": 3, "tags": [{"name": "pets"}]},
        {"id": 4, "tags": [{"name": "music"}]},
    ])
    data = ANON_CLIENT.table("tags").select("name, posts(id)").in_("name", ["databases", "rock, pop"]).order("id") \
        .order("id", foreign_table="posts").execute().data
    equal(data, [{"name": "databases", "posts": [{"id": 1}, {"id": 2}]}, {"name": "rock, pop", "posts": []}], "reverse")


@check("embed: filters, or, limit on the embed shape only the children")
def embed_scoped():
    data = ANON_CLIENT.table("posts").select("id, comments(body)").ilike("comments.body", "%great%").order("id") \
        .order("id", foreign_table="comments").execute().data
    equal(data, [
        {"id": 1, "comments": [{"body": "Great read"}, {"body": "great, thanks"}]},
        {"id": 2, "comments": []}, {"id": 3, "comments": []}, {"id": 4, "comments": []},
    ], "embed filter")
    data = ANON_CLIENT.table("posts").select("id, comments(body)").eq("id", 1) \
        .order("created_at", foreign_table="comments").limit(1, foreign_table="comments").execute().data
    equal(data, [{"id": 1, "comments": [{"body": "Great read"}]}], "embed limit")
    data = ANON_CLIENT.table("posts").select("id, comments(body)").in_("id", [1, 3]).order("id") \
        .or_("body.ilike.*cute*,author_name.eq.Bob", reference_table="comments").execute().data
    equal(data, [{"id": 1, "comments": [{"body": "Great read"}]}, {"id": 3, "comments": [{"body": "So cute"}]}], "embed or")


@check("embed: !inner and embed=not.is.null filter the parents")
def embed_inner():
    data = ANON_CLIENT.table("posts").select("id, comments!inner(body)").ilike("comments.body", "%cute%").execute().data
    equal(data, [{"id": 3, "comments": [{"body": "So cute"}]}], "!inner with a filter")
    equal(ids(ANON_CLIENT.table("posts").select("id, comments!inner(id)").order("id").execute()), [1, 3], "!inner")
    equal(ids(ANON_CLIENT.table("posts").select("id, comments(id)").not_.is_("comments", None).order("id").execute()), [1, 3], "not.is.null")


@check("embed: nested embeds")
def embed_nested():
    data = ANON_CLIENT.table("comments").select("body, posts(title, author:authors!posts_author_id_fkey(name, author_profiles(bio)))").eq("id", 4).execute().data
    equal(data, [{"body": "So cute", "posts": {"title": "Fat cats and rats", "author": {"name": "Bob", "author_profiles": {"bio": "Likes cats"}}}}])


# MARK: Writes (notes, with the service_role key)


@check("insert: one row comes back with its defaults")
def insert_one():
    row = SERVICE_CLIENT.table("notes").insert({"slug": "delta", "body": "fourth"}).execute().data
    equal(len(row), 1, "rows returned")
    equal({key: row[0][key] for key in ("id", "slug", "body", "priority")}, {"id": 4, "slug": "delta", "body": "fourth", "priority": 5})
    if not str(row[0]["created_at"]).startswith("20") or "T" not in row[0]["created_at"]:
        raise AssertionError(f"created_at is not ISO 8601: {row[0]['created_at']!r}")
    equal(sql("select body from notes where slug = 'delta'"), "fourth", "in the database")


@check("insert: return=minimal, select= and count")
def insert_variants():
    minimal = SERVICE_CLIENT.table("notes").insert({"slug": "minimal"}, returning=ReturnMethod.minimal).execute()
    equal(minimal.data, [], "minimal returns nothing")
    equal(sql("select count(*) from notes where slug = 'minimal'"), "1", "minimal row written")
    shaped = SERVICE_CLIENT.table("notes").insert({"slug": "shaped", "body": "b"}).select("slug, body").execute()
    equal(shaped.data, [{"slug": "shaped", "body": "b"}], "select= shapes the representation")
    counted = SERVICE_CLIENT.table("notes").insert([{"slug": "c1"}, {"slug": "c2"}], count=CountMethod.exact).execute()
    equal(counted.count, 2, "count")


@check("insert: bulk, missing keys NULL or DEFAULT")
def insert_bulk():
    rows = SERVICE_CLIENT.table("notes").insert([{"slug": "bulk1", "priority": 1, "body": "x"}, {"slug": "bulk2"}]).execute().data
    equal([(row["slug"], row["priority"], row["body"]) for row in rows], [("bulk1", 1, "x"), ("bulk2", None, None)], "missing keys are NULL")
    rows = SERVICE_CLIENT.table("notes").insert([{"slug": "bulk3", "priority": 1}, {"slug": "bulk4"}], default_to_null=False).execute().data
    equal([(row["slug"], row["priority"]) for row in rows], [("bulk3", 1), ("bulk4", 5)], "missing keys take DEFAULT")


@check("insert: duplicate key is 23505 with details, 409, nothing written")
def insert_duplicate():
    with unchanged("notes"):
        error = fails(SERVICE_CLIENT.table("notes").insert({"slug": "alpha"}), "23505")
        if "already exists" not in str(error.details):
            raise AssertionError(f"details should name the key: {error.json()}")
        error_body(raw("POST", "/rest/v1/notes", apikey=SERVICE, json={"slug": "alpha"}), 409, "23505")
        fails(SERVICE_CLIENT.table("notes").insert([{"slug": "fresh-one"}, {"slug": "alpha"}]), "23505")


@check("insert: not-null 23502, foreign key 23503, bad enum and type 22P02, nothing written")
def insert_constraints():
    with unchanged("notes", "comments", "posts"):
        fails(SERVICE_CLIENT.table("notes").insert({"body": "no slug"}), "23502")
        fails(SERVICE_CLIENT.table("comments").insert({"post_id": 999, "author_name": "x", "body": "x", "created_at": "2024-01-01T00:00:00Z"}), "23503")
        error_body(raw("POST", "/rest/v1/comments", apikey=SERVICE,
                       json={"post_id": 999, "author_name": "x", "body": "x", "created_at": "2024-01-01T00:00:00Z"}), 409, "23503")
        fails(SERVICE_CLIENT.table("posts").update({"mood": "angry"}).eq("id", 1), "22P02")
        fails(SERVICE_CLIENT.table("notes").insert({"slug": "typed", "priority": "lots"}), "22P02")


@check("upsert: merge on the primary key and on on_conflict")
def upsert_merge():
    before = sql("select count(*) from notes")
    rows = SERVICE_CLIENT.table("notes").upsert({"id": 1, "slug": "alpha", "body": "first (edited)"}).execute().data
    equal([(row["id"], row["body"]) for row in rows], [(1, "first (edited)")], "on the primary key")
    rows = SERVICE_CLIENT.table("notes").upsert({"slug": "beta", "body": "second (edited)"}, on_conflict="slug").execute().data
    equal([(row["id"], row["body"]) for row in rows], [(2, "second (edited)")], "on_conflict=slug")
    equal(sql("select count(*) from notes"), before, "no new rows")
    rows = SERVICE_CLIENT.table("notes").upsert([{"slug": "alpha", "priority": 10}, {"slug": "omega", "priority": 99}], on_conflict="slug").execute().data
    equal(sorted((row["slug"], row["priority"]) for row in rows), [("alpha", 10), ("omega", 99)], "bulk upsert")
    equal(sql("select body || '/' || priority from notes where slug = 'alpha'"), "first (edited)/10", "columns outside the payload kept")


@check("upsert: ignore_duplicates leaves existing rows alone")
def upsert_ignore():
    rows = SERVICE_CLIENT.table("notes").upsert([{"slug": "gamma", "body": "IGNORED"}, {"slug": "zeta", "body": "new"}],
                                                on_conflict="slug", ignore_duplicates=True).execute().data
    equal([row["slug"] for row in rows], ["zeta"], "only the new row comes back")
    equal(sql("select body from notes where slug = 'gamma'"), "third", "existing row unchanged")


@check("update: filtered rows, representation and count; no match is []")
def update_rows():
    rows = SERVICE_CLIENT.table("notes").update({"priority": 42}).eq("slug", "beta").execute().data
    equal([(row["slug"], row["priority"]) for row in rows], [("beta", 42)], "representation")
    counted = SERVICE_CLIENT.table("notes").update({"body": "bulk"}, count=CountMethod.exact).in_("slug", ["bulk1", "bulk2"]).execute()
    equal(counted.count, 2, "count")
    equal(SERVICE_CLIENT.table("notes").update({"body": "x"}).eq("slug", "nope").execute().data, [], "no match")
    minimal = SERVICE_CLIENT.table("notes").update({"priority": 43}, returning=ReturnMethod.minimal).eq("slug", "beta").execute()
    equal(minimal.data, [], "minimal")
    equal(sql("select priority from notes where slug = 'beta'"), "43", "minimal update written")


@check("delete: filtered rows come back; count")
def delete_rows():
    rows = SERVICE_CLIENT.table("notes").delete().eq("slug", "delta").execute().data
    equal([row["slug"] for row in rows], ["delta"], "deleted row")
    equal(sql("select count(*) from notes where slug = 'delta'"), "0", "gone")
    counted = SERVICE_CLIENT.table("notes").delete(count=CountMethod.exact).in_("slug", ["c1", "c2"]).execute()
    equal(counted.count, 2, "count")


@check("update and delete without a filter are refused (21000), nothing changed")
def unfiltered_writes():
    with unchanged("notes"):
        fails(SERVICE_CLIENT.table("notes").update({"body": "everything"}), "21000")
        fails(SERVICE_CLIENT.table("notes").delete(), "21000")
        error_body(raw("DELETE", "/rest/v1/notes", apikey=SERVICE), 400, "21000")


@check("anon writes a table without RLS (default privileges, identity sequence)")
def anon_writes():
    rows = ANON_CLIENT.table("notes").insert({"slug": f"anon-{RUN}"}).execute().data
    equal([row["slug"] for row in rows], [f"anon-{RUN}"], "anon insert")
    ANON_CLIENT.table("notes").delete().eq("slug", f"anon-{RUN}").execute()


# MARK: RPC


@check("rpc: scalar by POST and by GET")
def rpc_scalar():
    equal(ANON_CLIENT.rpc("add_numbers", {"a": 2, "b": 3}).execute().data, 5, "POST")
    equal(ANON_CLIENT.rpc("add_numbers", {"a": 2, "b": 40}, get=True).execute().data, 42, "GET")


@check("rpc: setof with select, filters, order, limit, single and count")
def rpc_setof():
    equal(ids(ANON_CLIENT.rpc("posts_by_author", {"author_name": "Alice"}).order("id").execute()), [1, 2], "rows")
    data = ANON_CLIENT.rpc("posts_by_author", {"author_name": "Alice"}).select("id, title").eq("published", False).execute().data
    equal(data, [{"id": 2, "title": "Draft about caching"}], "select and filter")
    equal(ids(ANON_CLIENT.rpc("posts_by_author", {"author_name": "Alice"}).order("id", desc=True).limit(1).execute()), [2], "order and limit")
    equal(ANON_CLIENT.rpc("posts_by_author", {"author_name": "Bob"}).select("id").single().execute().data, {"id": 3}, "single")
    equal(ANON_CLIENT.rpc("posts_by_author", {"author_name": "Alice"}, count=CountMethod.exact).execute().count, 2, "count")


@check("rpc: GET with an array argument")
def rpc_get_array():
    equal(ids(ANON_CLIENT.rpc("authors_named", {"names": ["Alice", "Carol"]}, get=True).order("id").execute()), [1, 3])


@check("rpc: void function runs and answers no content")
def rpc_void():
    before = sql("select count(*) from events")
    response = ANON_CLIENT.rpc("log_event", {"message": f"hello {RUN}"}).execute()
    if response.data not in ([], None, ""):
        raise AssertionError(f"void returned data: {response.data!r}")
    equal(sql(f"select count(*) from events where message = 'hello {RUN}'"), "1", "the function ran")
    equal(int(sql("select count(*) from events")), int(before) + 1, "one event")
    equal(raw("POST", "/rest/v1/rpc/log_event", json={"message": "raw"}).status_code, 204, "status")


@check("rpc: a writing function by GET is read-only (25006, 405), nothing written")
def rpc_get_read_only():
    with unchanged("events"):
        fails(ANON_CLIENT.rpc("log_event", {"message": "via get"}, get=True), "25006")
        error_body(raw("GET", "/rest/v1/rpc/log_event", params={"message": "via get"}), 405, "25006")


@check("rpc: raised exceptions keep their code (P0001 400, PT402 402)")
def rpc_raise():
    error = fails(ANON_CLIENT.rpc("fail_with", {"message": "nope"}), "P0001")
    equal(error.message, "nope", "message")
    error_body(raw("POST", "/rest/v1/rpc/fail_with", json={"message": "nope"}), 400, "P0001")
    error_body(raw("POST", "/rest/v1/rpc/payment_required", json={}), 402, "PT402")


@check("rpc: unknown function or arguments are PGRST202 (404)")
def rpc_unknown():
    with unchanged("events"):
        fails(ANON_CLIENT.rpc("no_such_function", {}), "PGRST202", also=("42883",))
        fails(ANON_CLIENT.rpc("add_numbers", {"x": 1}), "PGRST202", also=("42883",))
        error_body(raw("POST", "/rest/v1/rpc/no_such_function", json={}), 404, "PGRST202", also=("42883",))


# MARK: The schema document


@check("schema document: Swagger 2.0 with tables, functions, formats and comments")
def schema_document():
    response = raw("GET", "/rest/v1/", apikey=SERVICE, bearer=SERVICE)
    equal(response.status_code, 200, "status")
    document = response.json()
    equal(document.get("swagger"), "2.0", "swagger")
    for path in ("/", "/posts", "/authors", "/post_tags", "/published_posts", "/rpc/add_numbers", "/rpc/posts_by_author"):
        if path not in document.get("paths", {}):
            raise AssertionError(f"paths lacks {path}: {sorted(document.get('paths', {}))}")
    posts = document["definitions"]["posts"]
    equal(posts["properties"]["published_at"].get("format"), "timestamp with time zone", "format")
    if "title" not in posts.get("required", []):
        raise AssertionError(f"title should be required: {posts.get('required')}")
    if "People who write posts" not in json.dumps(document["definitions"]["authors"]):
        raise AssertionError("the table comment is missing from definitions.authors")
    if "When the post went public" not in json.dumps(posts["properties"]["published_at"]):
        raise AssertionError("the column comment is missing from published_at")


# MARK: Auth


@check("auth: sign up returns a session (auto-confirm) with Supabase's claims")
def auth_sign_up():
    address = email("signup")
    response = client(ANON).auth.sign_up({"email": address, "password": PASSWORD, "options": {"data": {"display_name": "One"}}})
    if response.session is None:
        raise AssertionError("sign-up returned no session")
    equal(response.user.email, address, "email")
    equal(response.user.user_metadata.get("display_name"), "One", "user_metadata")
    if response.user.email_confirmed_at is None:
        raise AssertionError("auto-confirm: email_confirmed_at is not set")
    token = claims(response.session.access_token)
    equal((token.get("sub"), token.get("role"), token.get("aud"), token.get("email")),
          (response.user.id, "authenticated", "authenticated", address), "claims")
    if not isinstance(token.get("exp"), int) or not isinstance(token.get("iat"), int):
        raise AssertionError(f"exp/iat are not integers: {token}")
    equal(response.session.token_type, "bearer", "token_type")


@check("auth: duplicate sign-up 422 user_already_exists; weak password 422 weak_password")
def auth_sign_up_errors():
    address = email("dup")
    client(ANON).auth.sign_up({"email": address, "password": PASSWORD})
    auth_fails(lambda: client(ANON).auth.sign_up({"email": address, "password": PASSWORD}), 422, "user_already_exists")
    auth_fails(lambda: client(ANON).auth.sign_up({"email": email("weak"), "password": "123"}), 422, "weak_password")


@check("auth: sign in, wrong password is 400 invalid_credentials")
def auth_sign_in():
    first = user(1)
    equal(first["session"].user.email, first["email"], "session user")
    equal(claims(first["session"].access_token).get("sub"), first["id"], "sub")
    auth_fails(lambda: client(ANON).auth.sign_in_with_password({"email": first["email"], "password": "wrong-password"}),
               400, "invalid_credentials")


@check("auth: get user, bad bearer is 403 bad_jwt")
def auth_get_user():
    first = user(1)
    equal(first["client"].auth.get_user().user.email, first["email"], "current user")
    auth_fails(lambda: client(ANON).auth.get_user("not-a-jwt"), 403, "bad_jwt")


@check("auth: update user metadata and password")
def auth_update_user():
    address = email("update")
    own = client(ANON)
    own.auth.sign_up({"email": address, "password": PASSWORD, "options": {"data": {"display_name": "Up"}}})
    response = own.auth.update_user({"data": {"nickname": "upd"}})
    equal(response.user.user_metadata.get("nickname"), "upd", "new key")
    equal(response.user.user_metadata.get("display_name"), "Up", "existing key kept")
    own.auth.update_user({"password": "another-password-1"})
    client(ANON).auth.sign_in_with_password({"email": address, "password": "another-password-1"})


@check("auth: refresh gives a new refresh token and a working access token; garbage is 400")
def auth_refresh():
    own = client(ANON)
    address = email("refresh")
    first = own.auth.sign_up({"email": address, "password": PASSWORD}).session
    refreshed = own.auth.refresh_session(first.refresh_token).session
    if refreshed.refresh_token == first.refresh_token:
        raise AssertionError("refresh returned the same refresh token")
    equal(client(ANON).auth.get_user(refreshed.access_token).user.email, address, "new access token works")
    auth_fails(lambda: client(ANON).auth.refresh_session("not-a-refresh-token"), 400, "refresh_token_not_found")


@check("auth: sign out revokes the refresh token")
def auth_sign_out():
    own = client(ANON)
    session = own.auth.sign_up({"email": email("signout"), "password": PASSWORD}).session
    equal(raw("POST", "/auth/v1/logout", params={"scope": "global"}, bearer=session.access_token).status_code, 204, "logout status")
    auth_fails(lambda: client(ANON).auth.refresh_session(session.refresh_token), 400)
    other = client(ANON)
    other.auth.sign_in_with_password({"email": email("signout"), "password": PASSWORD})
    other.auth.sign_out()
    if other.auth.get_session() is not None:
        raise AssertionError("the client still has a session after sign_out")


@check("auth admin: create, list, get, update, sign in, delete with the service_role key")
def auth_admin():
    admin = SERVICE_CLIENT.auth.admin
    address = email("admin")
    created = admin.create_user({"email": address, "password": PASSWORD, "email_confirm": True, "user_metadata": {"plan": "pro"}}).user
    equal((created.email, created.user_metadata.get("plan")), (address, "pro"), "created")
    if created.email_confirmed_at is None:
        raise AssertionError("email_confirm: email_confirmed_at is not set")
    auth_fails(lambda: admin.create_user({"email": address, "password": PASSWORD}), 422, "email_exists")
    listed = [listed_user.email for listed_user in admin.list_users()]
    if address not in listed:
        raise AssertionError(f"list_users lacks {address}: {listed}")
    equal(admin.get_user_by_id(created.id).user.email, address, "get by id")
    updated = admin.update_user_by_id(created.id, {"user_metadata": {"plan": "team"}, "app_metadata": {"tier": 2}}).user
    equal((updated.user_metadata.get("plan"), updated.app_metadata.get("tier")), ("team", 2), "updated")
    signed_in = client(ANON).auth.sign_in_with_password({"email": address, "password": PASSWORD})
    equal(signed_in.user.id, created.id, "the admin-made user signs in")
    admin.delete_user(created.id)
    auth_fails(lambda: admin.get_user_by_id(created.id), 404)


@check("auth admin: the anon key and a user token are refused")
def auth_admin_refused():
    try:
        client(ANON).auth.admin.list_users()
    except AuthError as error:
        if getattr(error, "status", None) not in (401, 403):
            raise AssertionError(f"expected 401 or 403, got {getattr(error, 'status', None)}: {error.message}") from None
    else:
        raise AssertionError("list_users succeeded with the anon key")
    # The admin API keeps the key it was made with, so a user's token goes by hand.
    for path in ("/auth/v1/admin/users", f"/auth/v1/admin/users/{user(2)['id']}"):
        status = raw("GET", path, bearer=user(1)["session"].access_token).status_code
        if status not in (401, 403):
            raise AssertionError(f"GET {path} with a user's token: expected 401 or 403, got {status}")


# MARK: Row-level security


@check("RLS: each signed-in user inserts and sees only their own rows")
def rls_own_rows():
    first, second = user(1), user(2)
    row = first["client"].table("todos").insert({"task": "first's task"}).execute().data[0]
    equal(row["user_id"], first["id"], "user_id defaults to auth.uid()")
    second["client"].table("todos").insert({"task": "second's task"}).execute()
    equal([row["task"] for row in first["client"].table("todos").select("*").execute().data], ["first's task"], "first sees")
    equal([row["task"] for row in second["client"].table("todos").select("*").execute().data], ["second's task"], "second sees")
    equal(first["client"].rpc("whoami", {}).execute().data, first["id"], "auth.uid() in a function")


@check("RLS: a user cannot insert, update or delete for the other (42501 403 / no rows)")
def rls_other_rows():
    first, second = user(1), user(2)
    with unchanged("todos"):
        fails(first["client"].table("todos").insert({"task": "forged", "user_id": second["id"]}), "42501")
        error_body(raw("POST", "/rest/v1/todos", bearer=first["session"].access_token,
                       json={"task": "forged", "user_id": second["id"]}), 403, "42501")
        other = sql(f"select id from todos where user_id = '{second['id']}' limit 1")
        equal(first["client"].table("todos").update({"task": "hijacked"}).eq("id", other).execute().data, [], "update")
        equal(first["client"].table("todos").delete().eq("id", other).execute().data, [], "delete")


@check("RLS: anon sees nothing and cannot insert (42501 401); service_role sees all")
def rls_anon_and_service():
    equal(ANON_CLIENT.table("todos").select("*").execute().data, [], "anon reads")
    equal(ANON_CLIENT.rpc("whoami", {}).execute().data, None, "auth.uid() as anon")
    with unchanged("todos"):
        fails(ANON_CLIENT.table("todos").insert({"task": "anon", "user_id": str(uuid.uuid4())}), "42501")
        error_body(raw("POST", "/rest/v1/todos", json={"task": "anon", "user_id": str(uuid.uuid4())}), 401, "42501")
    owners = {row["user_id"] for row in SERVICE_CLIENT.table("todos").select("user_id").execute().data}
    if not {user(1)["id"], user(2)["id"]} <= owners:
        raise AssertionError(f"service_role should see both users' rows: {owners}")


@check("RLS: an insert-only policy accepts return=minimal and refuses representation")
def rls_insert_only():
    before = int(sql("select count(*) from feedback"))
    equal(ANON_CLIENT.table("feedback").insert({"message": "hi"}, returning=ReturnMethod.minimal).execute().data, [], "minimal")
    equal(int(sql("select count(*) from feedback")), before + 1, "written")
    with unchanged("feedback"):
        fails(ANON_CLIENT.table("feedback").insert({"message": "read back"}), "42501")


# MARK: Errors and bad input: a contract error, and nothing changed


@check("errors: unknown table is PGRST205 (404)")
def error_unknown_table():
    fails(ANON_CLIENT.table("no_such_table").select("*"), "PGRST205", also=("42P01",))
    with unchanged("notes"):
        fails(SERVICE_CLIENT.table("no_such_table").insert({"slug": "x"}), "PGRST205", also=("42P01",))
        error_body(raw("POST", "/rest/v1/no_such_table", apikey=SERVICE, json={"slug": "x"}), 404, "PGRST205", also=("42P01",))


@check("errors: unknown column is 42703 (400) in select and filters, PGRST204 in a body")
def error_unknown_column():
    fails(ANON_CLIENT.table("posts").select("nope"), "42703")
    fails(ANON_CLIENT.table("posts").select("id").eq("nope", 1), "42703")
    error_body(raw("GET", "/rest/v1/posts", params={"select": "nope"}), 400, "42703")
    with unchanged("notes"):
        fails(SERVICE_CLIENT.table("notes").insert({"slug": "x", "nope": 1}), "PGRST204")
        fails(SERVICE_CLIENT.table("notes").update({"nope": 1}).eq("id", 1), "PGRST204")
        fails(SERVICE_CLIENT.table("notes").delete().eq("nope", 1), "42703")
        error_body(raw("POST", "/rest/v1/notes", apikey=SERVICE, json={"slug": "x", "nope": 1}), 400, "PGRST204")


@check("errors: malformed filters, orders, logic and select are PGRST100 (400), nothing changed")
def error_malformed():
    # As in PostgREST, a value that does not start with an operator (`id=sideways.1`) is no filter
    # at all (an RPC argument, ignored on tables); these all start as filters and then break.
    fails(ANON_CLIENT.table("posts").select("id").filter("id", "in", "(1,2"), "PGRST100")
    fails(ANON_CLIENT.table("posts").select("id").not_.filter("id", "sideways", "1"), "PGRST100")
    for params in ({"id": "eq"}, {"id": "not.sideways.1"}, {"comments.body": "sideways.x", "select": "id,comments(body)"},
                   {"order": "id.sideways"}, {"or": "(id.eq.1"}, {"select": "id,comments(body"}):
        error_body(raw("GET", "/rest/v1/posts", params=params), 400, "PGRST100")
    with unchanged("notes"):
        fails(SERVICE_CLIENT.table("notes").delete().filter("id", "in", "(1,2"), "PGRST100")
        fails(SERVICE_CLIENT.table("notes").delete().gt("id", 0).not_.filter("slug", "sideways", "x"), "PGRST100")
        fails(SERVICE_CLIENT.table("notes").update({"body": "x"}).or_("id.eq.1,broken"), "PGRST100")
        error_body(raw("PATCH", "/rest/v1/notes", apikey=SERVICE, params={"id": "eq"}, json={"body": "x"}), 400, "PGRST100")


@check("errors: a bad value for the column type is 22P02 (400)")
def error_bad_value():
    fails(ANON_CLIENT.table("posts").select("id").eq("id", "abc"), "22P02")
    error_body(raw("GET", "/rest/v1/posts", params={"id": "eq.abc"}), 400, "22P02")


@check("errors: a body that is not JSON, or bulk rows with different keys, are PGRST102 (400), nothing written")
def error_bad_body():
    with unchanged("notes"):
        for method, params in (("POST", {}), ("PATCH", {"id": "eq.1"})):
            error_body(raw(method, "/rest/v1/notes", apikey=SERVICE, params=params, content=b'{"slug": ',
                           headers={"Content-Type": "application/json"}), 400, "PGRST102")
        error_body(raw("POST", "/rest/v1/notes", apikey=SERVICE, json=[{"slug": "k1"}, {"body": "k2"}]), 400, "PGRST102")
        error_body(raw("POST", "/rest/v1/rpc/add_numbers", content=b"not json", headers={"Content-Type": "application/json"}), 400, "PGRST102")


@check("errors: an unexposed schema is PGRST106 (406)")
def error_schema():
    fails(SERVICE_CLIENT.schema("auth").table("users").select("id"), "PGRST106")


@check("keys: no API key is 401; ?apikey= works")
def keys_missing():
    response = raw("GET", "/rest/v1/posts", apikey=None)
    equal(response.status_code, 401, "status")
    if "No API key found" not in response.text:
        raise AssertionError(f"message should say no API key: {response.text}")
    equal(raw("GET", "/rest/v1/posts", apikey=None, params={"apikey": ANON, "select": "id"}).status_code, 200, "?apikey=")


@check("JWT: a forged token (changed claims, other secret, alg none) is PGRST301 (401), nothing changed")
def jwt_forged():
    token = user(1)["session"].access_token
    forged = [
        tampered(token, role="service_role"),
        pyjwt.encode({**claims(token), "role": "service_role"}, "not-the-secret-" * 3, algorithm="HS256"),
        f"{encode_segment({'alg': 'none', 'typ': 'JWT'})}.{encode_segment({**claims(token), 'role': 'service_role'})}.",
        "not.a.jwt",
    ]
    with unchanged("todos", "notes"):
        for bad in forged:
            fails(client(ANON, token=bad).table("todos").select("*"), "PGRST301")
            error_body(raw("GET", "/rest/v1/todos", bearer=bad), 401, "PGRST301")
            error_body(raw("POST", "/rest/v1/notes", bearer=bad, json={"slug": "forged"}), 401, "PGRST301")
        unauthorized(raw("GET", "/rest/v1/notes", apikey=tampered(ANON, role="service_role")))
        unauthorized(raw("DELETE", "/rest/v1/notes", apikey=tampered(ANON, role="service_role"), params={"id": "gt.0"}))


@check("JWT: an expired token is refused (tampered exp: PGRST301; signed: PGRST303 + WWW-Authenticate)")
def jwt_expired():
    token = user(1)["session"].access_token
    past = int(time.time()) - 3600
    with unchanged("todos"):
        error_body(raw("GET", "/rest/v1/todos", bearer=tampered(token, exp=past)), 401, "PGRST301")
        error_body(raw("POST", "/rest/v1/todos", bearer=tampered(token, exp=past), json={"task": "late"}), 401, "PGRST301")
        if JWT_SECRET:
            expired = pyjwt.encode({**claims(token), "exp": past, "iat": past - 3600}, JWT_SECRET, algorithm="HS256")
            fails(client(ANON, token=expired).table("todos").select("*"), "PGRST303")
            response = raw("POST", "/rest/v1/todos", bearer=expired, json={"task": "late"})
            body = error_body(response, 401, "PGRST303")
            equal(body["message"], "JWT expired", "message")
            if "invalid_token" not in response.headers.get("www-authenticate", ""):
                raise AssertionError(f"WWW-Authenticate should say invalid_token: {response.headers.get('www-authenticate')!r}")
            now = int(time.time())
            fresh = pyjwt.encode({**claims(token), "exp": now + 600}, JWT_SECRET, algorithm="HS256")
            equal(raw("GET", "/rest/v1/todos", bearer=fresh).status_code, 200, "a correctly signed token works")
            skewed = pyjwt.encode({**claims(token), "exp": now - 10}, JWT_SECRET, algorithm="HS256")
            equal(raw("GET", "/rest/v1/todos", bearer=skewed).status_code, 200, "expired 10 s ago, within the 30 s skew")
            for early in ({"nbf": now + 600}, {"iat": now + 600}):
                error_body(raw("GET", "/rest/v1/todos", bearer=pyjwt.encode({**claims(token), **early}, JWT_SECRET, algorithm="HS256")), 401)


@check("keys: project A's keys and tokens on project B are 401, on REST and auth")
def keys_other_project():
    token = user(1)["session"].access_token
    try:
        response = client(ANON, url=OTHER_URL).table("notes").select("*").execute()
        raise AssertionError(f"A's anon key read B: {response.data!r}")
    except APIError:
        pass
    for apikey, bearer in ((ANON, None), (SERVICE, None), (SERVICE, SERVICE)):
        unauthorized(raw("GET", "/rest/v1/notes", base=OTHER_URL, apikey=apikey, bearer=bearer))
    for bearer in (token, SERVICE):
        error_body(raw("GET", "/rest/v1/notes", base=OTHER_URL, apikey=OTHER_ANON, bearer=bearer), 401, "PGRST301")
    auth_fails(lambda: client(ANON, url=OTHER_URL).auth.sign_in_with_password({"email": user(1)["email"], "password": PASSWORD}), 401)
    auth_fails(lambda: client(SERVICE, url=OTHER_URL).auth.admin.list_users(), 401)
    with unchanged("notes"):
        for apikey in (OTHER_ANON, OTHER_SERVICE):
            unauthorized(raw("POST", "/rest/v1/notes", apikey=apikey, json={"slug": "from-b"}))
        error_body(raw("DELETE", "/rest/v1/notes", apikey=ANON, bearer=OTHER_SERVICE, params={"id": "gt.0"}), 401, "PGRST301")
    equal(raw("GET", "/rest/v1/", base=OTHER_URL, apikey=OTHER_SERVICE, bearer=OTHER_SERVICE).status_code, 200, "B's own keys work on B")


@check("CORS: preflight allows the methods and headers; Content-Range is exposed")
def cors():
    response = HTTP.options(f"{URL}/rest/v1/posts", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "apikey, authorization, content-type, prefer, x-client-info"})
    if response.status_code not in (200, 204):
        raise AssertionError(f"preflight status {response.status_code}")
    methods = response.headers.get("access-control-allow-methods", "").upper()
    if "PATCH" not in methods:
        raise AssertionError(f"PATCH not allowed: {methods!r}")
    if "prefer" not in response.headers.get("access-control-allow-headers", "").lower():
        raise AssertionError(f"requested headers not allowed: {response.headers.get('access-control-allow-headers')!r}")
    exposed = raw("GET", "/rest/v1/posts", headers={"Origin": "http://localhost:3000"}).headers.get("access-control-expose-headers", "")
    if "content-range" not in exposed.lower():
        raise AssertionError(f"Content-Range is not exposed: {exposed!r}")


@check("branches: /b/{branch} serves that branch's own data with the project's keys")
def branch_urls():
    if not FEATURE_BRANCH:
        raise AssertionError("FEATURE_BRANCH is not set (a branch made after loading the schema, before the writes)")
    feature = client(ANON, url=f"{URL}/b/{FEATURE_BRANCH}")
    equal([row["slug"] for row in feature.table("notes").select("slug").order("id").execute().data],
          ["alpha", "beta", "gamma"], "the branch has the data it was made with")
    feature.table("notes").insert({"slug": f"feature-{RUN}"}, returning=ReturnMethod.minimal).execute()
    equal(sql(f"select count(*) from notes where slug = 'feature-{RUN}'"), "0", "a write on the branch is not on main")
    equal(len(feature.table("notes").select("id").eq("slug", f"feature-{RUN}").execute().data), 1, "it is on the branch")
    main_slugs = [row["slug"] for row in client(ANON, url=f"{URL}/b/main").table("notes").select("slug").execute().data]
    if "omega" not in main_slugs:
        raise AssertionError(f"/b/main should serve main's rows: {main_slugs}")


# MARK: Running


def wait_for_schema():
    """The schema was just loaded: wait (briefly) until the API sees it."""
    deadline = time.time() + 20
    while True:
        try:
            if raw("GET", "/rest/v1/feedback", apikey=SERVICE, params={"select": "id", "limit": "1"}).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            return
        time.sleep(0.25)


def main():
    arguments = sys.argv[1:]
    only = arguments[arguments.index("--only") + 1] if "--only" in arguments else None
    if "--reset" in arguments:
        subprocess.run(["psql", DATABASE_URL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", os.path.join(HERE, "schema.sql")], check=True)
    wait_for_schema()
    failed = []
    started = time.time()
    for name, function in CHECKS:
        if only and only not in name:
            continue
        try:
            function()
            print(f"PASS {name}", flush=True)
        except Exception as error:
            failed.append(name)
            summary = f"{type(error).__name__}: {error}" if not isinstance(error, AssertionError) else str(error)
            print(f"FAIL {name}: {summary}", flush=True)
            if not isinstance(error, (AssertionError, APIError, AuthError)):
                traceback.print_exc(limit=4, file=sys.stdout)
    ran = sum(1 for name, _ in CHECKS if not only or only in name)
    print(f"\n{ran - len(failed)} of {ran} checks passed in {time.time() - started:.1f} s (supabase-py {supabase_version()})")
    for name in failed:
        print(f"  failed: {name}")
    sys.exit(1 if failed else 0)


def supabase_version():
    from supabase import __version__

    return __version__


if __name__ == "__main__":
    main()
