#!/usr/bin/env python3
"""Branch's MCP server driven by the real MCP client (the `mcp` SDK from PyPI), as an agent would.

Runs the same journey twice: over stdio, spawning `branch mcp` (BRANCH_URL and BRANCH_TOKEN in its
environment), and over streamable HTTP at the service's /mcp with `Authorization: Bearer`. Each
journey lists the tools, creates a project and a branch, checks and applies a migration on the
branch, queries it, diffs it against main, takes and restores a snapshot, reads the schema and the
agent brief, and checks that failures are tool errors carrying the API's code. Prints `PASS name`
or `FAIL name: why` per check, a summary, and exits 1 when any failed.

Environment:
  BRANCH_URL     the service (http://127.0.0.1:PORT)
  BRANCH_TOKEN   its admin key
  BRANCH_BIN     the `branch` executable (for stdio)

Arguments: `--only stdio` or `--only http` runs one transport; `--prefix TEXT` names the projects
(default mcp), to run again against the same service.
"""

import argparse
import json
import os
import sys
import traceback

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

URL = os.environ["BRANCH_URL"].rstrip("/")
TOKEN = os.environ["BRANCH_TOKEN"]
BINARY = os.environ.get("BRANCH_BIN", "branch")

EXPECTED_TOOLS = {
    "list_projects", "create_project",
    "list_branches", "create_branch", "delete_branch", "checkout_branch",
    "run_sql",
    "check_migration", "apply_migration", "list_migrations", "rollback_migration",
    "diff", "create_snapshot", "restore_snapshot",
    "get_schema", "get_agent_brief", "get_auth_settings", "set_auth_settings",
}

MIGRATION = """
create table todos (
  id bigint generated always as identity primary key,
  title text not null,
  done boolean not null default false
);
comment on table todos is 'Things to do.';
insert into todos (title) values ('write tests'), ('ship it');
"""

results = []


def check(name, condition, why=""):
    results.append((name, bool(condition)))
    print(f"PASS {name}" if condition else f"FAIL {name}: {why}", flush=True)
    return bool(condition)


def text_of(result):
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


def error_of(result):
    """The tool error's `error` object, from the structured content or the JSON text."""
    body = result.structured_content
    if not isinstance(body, dict):
        try:
            body = json.loads(text_of(result))
        except ValueError:
            return {}
    return body.get("error", {}) if isinstance(body, dict) else {}


def describe(result):
    return f"isError={result.is_error} {text_of(result)[:600]}"


async def call(session, label, tool, **arguments):
    """Calls a tool that must succeed; returns its structured content (or text), or None."""
    result = await session.call_tool(tool, arguments)
    if result.is_error:
        check(f"{label}: {tool}", False, describe(result))
        return None
    return result.structured_content if result.structured_content is not None else text_of(result)


async def journey(session, label, project):
    init = await session.initialize()
    check(f"{label}: initialize names the server", init.server_info.name == "branch", repr(init.server_info))
    check(f"{label}: the server offers tools", init.capabilities.tools is not None, repr(init.capabilities))

    # The tools, each with a description and a JSON Schema of its input.
    listed = (await session.list_tools()).tools
    names = {tool.name for tool in listed}
    check(f"{label}: list_tools has every tool", EXPECTED_TOOLS <= names, f"missing {sorted(EXPECTED_TOOLS - names)}")
    schemas_ok = all(
        tool.description and tool.input_schema.get("type") == "object" and isinstance(tool.input_schema.get("properties"), dict)
        for tool in listed
    )
    check(f"{label}: every tool has a description and an object schema", schemas_ok, "")
    run_sql = next((tool for tool in listed if tool.name == "run_sql"), None)
    check(
        f"{label}: run_sql's schema requires project, branch and query",
        run_sql is not None and {"project", "branch", "query"} <= set(run_sql.input_schema.get("required", [])),
        repr(run_sql.input_schema if run_sql else None),
    )

    # A project and a branch of it.
    created = await call(session, label, "create_project", name=project)
    if created is not None:
        check(f"{label}: create_project answers the project", created.get("project", {}).get("name") == project, repr(created)[:400])
    projects = await call(session, label, "list_projects")
    if projects is not None:
        check(f"{label}: list_projects shows it", project in [p["name"] for p in projects.get("projects", [])], repr(projects)[:400])
    # Auth settings: links pointed at the app; confirming emails without a mail server is refused, clearly.
    auth = await call(session, label, "set_auth_settings", project=project, site_url="https://app.example.com",
                      redirect_urls=["https://*.preview.example.com/**"], allow_signup=True)
    if auth is not None:
        check(f"{label}: set_auth_settings saves the site URL and redirects",
              auth.get("siteURL") == "https://app.example.com" and auth.get("redirectURLs") == ["https://*.preview.example.com/**"], repr(auth)[:400])
    # Mail in the app's own words: one kind set, read back; an unknown kind and a body without a link refused.
    worded = await call(session, label, "set_auth_settings", project=project, templates=[
        {"kind": "magic_link", "subject": "Your Acme sign-in link", "body": "Sign in to Acme: {{ .ConfirmationURL }}"}], secure_email_change=False)
    if worded is not None:
        magic = [t for t in worded.get("templates", []) if t.get("kind") == "magic_link"]
        check(f"{label}: set_auth_settings saves a mail template",
              magic and magic[0].get("subject") == "Your Acme sign-in link"
              and magic[0].get("body") == "Sign in to Acme: {{ .ConfirmationURL }}", repr(worded)[:600])
        check(f"{label}: set_auth_settings turns secure email change off", worded.get("secureEmailChange") is False, repr(worded)[:600])
    unknown = await session.call_tool("set_auth_settings", {"project": project, "templates": [{"kind": "welcome", "body": "hi"}]})
    check(f"{label}: an unknown template kind is refused, naming the kinds",
          unknown.is_error and "magic_link" in text_of(unknown), describe(unknown))
    linkless = await session.call_tool("set_auth_settings", {"project": project, "templates": [{"kind": "recovery", "body": "Hello {{ .Email }}"}]})
    check(f"{label}: a template without a link or code is refused",
          linkless.is_error and "recovery" in text_of(linkless), describe(linkless))
    refused = await session.call_tool("set_auth_settings", {"project": project, "confirm_email": True})
    check(f"{label}: confirm_email without a mail server is refused with mail_not_configured",
          refused.is_error and "mail_not_configured" in text_of(refused), describe(refused))
    settings = await call(session, label, "get_auth_settings", project=project)
    if settings is not None:
        check(f"{label}: get_auth_settings reads them back, unconfirmed sign-ups left as they were",
              settings.get("siteURL") == "https://app.example.com" and settings.get("confirmEmail") is False, repr(settings)[:400])
    branch = await call(session, label, "create_branch", project=project, name="feature")
    if branch is not None:
        check(f"{label}: create_branch answers the branch", branch.get("branch", {}).get("name") == "feature", repr(branch)[:400])
    branches = await call(session, label, "list_branches", project=project)
    if branches is not None:
        check(
            f"{label}: list_branches shows main and feature",
            {"main", "feature"} <= {b["name"] for b in branches.get("branches", [])},
            repr(branches)[:400],
        )

    # A migration: checked on a throw-away copy, then applied to the branch.
    checked = await call(session, label, "check_migration", project=project, branch="feature", name="create_todos", sql=MIGRATION)
    if checked is not None:
        check(f"{label}: check_migration says it applies", checked.get("ok") is True, repr(checked)[:600])
    applied = await call(session, label, "apply_migration", project=project, branch="feature", name="create_todos", sql=MIGRATION)
    if applied is not None:
        check(f"{label}: apply_migration records it", applied.get("migration", {}).get("name") == "create_todos", repr(applied)[:600])
    history = await call(session, label, "list_migrations", project=project, branch="feature")
    if history is not None:
        check(
            f"{label}: list_migrations shows it",
            "create_todos" in [m.get("name") for m in history.get("migrations", [])],
            repr(history)[:600],
        )

    # Queries: rows as arrays, parameters.
    answer = await call(session, label, "run_sql", project=project, branch="feature", query="select title from todos order by id")
    if answer is not None:
        rows = answer.get("results", [{}])[-1].get("rows")
        check(f"{label}: run_sql answers the rows", rows == [["write tests"], ["ship it"]], repr(answer)[:600])
    answer = await call(
        session, label, "run_sql", project=project, branch="feature", query="select $1::int + 1 as n", params=[41], readOnly=True
    )
    if answer is not None:
        rows = answer.get("results", [{}])[-1].get("rows")
        check(f"{label}: run_sql takes parameters", rows is not None and str(rows[0][0]) == "42", repr(answer)[:600])
    on_main = await session.call_tool("run_sql", {"project": project, "branch": "main", "query": "select count(*) from todos"})
    check(
        f"{label}: main is untouched by the branch's migration",
        on_main.is_error and error_of(on_main).get("code") == "sql_failed",
        describe(on_main),
    )

    # The branch against main: the new table, classified additive.
    diff = await call(session, label, "diff", project=project, **{"from": "main", "to": "feature"})
    if diff is not None:
        todos = [change for change in diff.get("schemaChanges", []) if "todos" in change.get("name", "")]
        check(
            f"{label}: diff shows the new table, additive",
            len(todos) == 1 and todos[0].get("change") == "added" and todos[0].get("classification") == "additive",
            repr(diff)[:800],
        )
        check(f"{label}: diff ends with totals", isinstance(diff.get("end"), dict), repr(diff)[:400])

    # The tried migration promoted to main; a row written on the branch only shows as a row change.
    promoted = await call(session, label, "apply_migration", project=project, branch="main", name="create_todos", sql=MIGRATION)
    check(f"{label}: the same migration applies to main", promoted is not None, "")
    await call(session, label, "run_sql", project=project, branch="feature", query="insert into todos (title) values ('only on feature')")
    diff = await call(session, label, "diff", project=project, tables=["public.todos"], **{"from": "main", "to": "feature"})
    if diff is not None:
        added = [row for row in diff.get("rowChanges", []) if row.get("change") == "added"]
        check(
            f"{label}: diff shows the branch's new row",
            len(added) == 1 and "only on feature" in json.dumps(added[0]),
            repr(diff)[:800],
        )

    # Snapshot and restore; check out; delete.
    snapshot = await call(session, label, "create_snapshot", project=project, branch="feature", name="with-todos")
    if snapshot is not None:
        check(f"{label}: create_snapshot answers the snapshot", snapshot.get("snapshot", {}).get("name") == "with-todos", repr(snapshot)[:400])
        restored = await call(session, label, "restore_snapshot", project=project, snapshot="with-todos", **{"as": "copy"})
        if restored is not None:
            check(f"{label}: restore_snapshot makes a branch", restored.get("branch", {}).get("name") == "copy", repr(restored)[:400])
            deleted = await call(session, label, "delete_branch", project=project, branch="copy")
            check(f"{label}: delete_branch", deleted is not None, "")
    switched = await call(session, label, "checkout_branch", project=project, branch="feature")
    if switched is not None:
        check(f"{label}: checkout_branch points the project at feature", switched.get("checkedOut") == "feature", repr(switched)[:400])

    # What an agent reads before writing SQL.
    schema = await call(session, label, "get_schema", project=project, branch="feature")
    if schema is not None:
        check(f"{label}: get_schema answers an API document naming the table", "todos" in json.dumps(schema), json.dumps(schema)[:400])
    brief = await session.call_tool("get_agent_brief", {"project": project, "branch": "feature"})
    check(f"{label}: get_agent_brief answers Markdown naming the table", not brief.is_error and "todos" in text_of(brief), describe(brief))

    # Failures are tool errors carrying the API's code and message.
    missing = await session.call_tool("list_branches", {"project": f"{project}-missing"})
    error = error_of(missing)
    check(
        f"{label}: a missing project is a tool error with the API's code",
        missing.is_error and error.get("code") == "project_not_found" and error.get("message"),
        describe(missing),
    )
    # An explicit version: the default one is the current second, which the migration above may share.
    broken = {"name": "broken", "version": "29991231235959", "sql": "create table ok (id int);\nselect nonsense from nowhere;"}
    failed = await session.call_tool("apply_migration", {"project": project, "branch": "feature", **broken})
    error = error_of(failed)
    check(
        f"{label}: a failing migration is a tool error with migration_failed and its statement",
        failed.is_error and error.get("code") == "migration_failed" and "nowhere" in (error.get("statement") or ""),
        describe(failed),
    )
    after = await call(session, label, "run_sql", project=project, branch="feature", query="select to_regclass('public.ok') is null as absent")
    if after is not None:
        rows = after.get("results", [{}])[-1].get("rows")
        check(f"{label}: the failed migration changed nothing", rows == [[True]], repr(after)[:400])
    wrong = await session.call_tool("list_branches", {"project": project, "projetc": "typo"})
    check(
        f"{label}: an unknown argument is a tool error (invalid_request)",
        wrong.is_error and error_of(wrong).get("code") == "invalid_request",
        describe(wrong),
    )
    absent = await session.call_tool("run_sql", {"project": project, "branch": "feature"})
    check(
        f"{label}: a missing required argument is a tool error naming it",
        absent.is_error and "query" in error_of(absent).get("message", ""),
        describe(absent),
    )


async def over_stdio(prefix):
    environment = {"BRANCH_URL": URL, "BRANCH_TOKEN": TOKEN, "HOME": os.environ.get("HOME", "/tmp")}
    parameters = StdioServerParameters(command=BINARY, args=["mcp"], env=environment)
    async with stdio_client(parameters) as (read, write):
        async with ClientSession(read, write) as session:
            await journey(session, "stdio", f"{prefix}-stdio")


async def over_http(prefix):
    endpoint = f"{URL}/mcp"
    # The bearer key is required: without it, or with a wrong one, the service answers 401.
    async with httpx2.AsyncClient(timeout=30) as plain:
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        response = await plain.post(endpoint, json=message, headers=headers)
        check("http: /mcp without a key is refused (401)", response.status_code == 401, f"{response.status_code} {response.text[:200]}")
        response = await plain.post(endpoint, json=message, headers={**headers, "Authorization": "Bearer not-the-key"})
        check("http: /mcp with a wrong key is refused (401)", response.status_code == 401, f"{response.status_code} {response.text[:200]}")
        response = await plain.get(endpoint, headers={"Accept": "text/event-stream", "Authorization": f"Bearer {TOKEN}"})
        check("http: GET /mcp (no server stream offered) answers 405", response.status_code == 405, f"{response.status_code}")
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(30, read=600))
    async with client:
        async with streamable_http_client(endpoint, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await journey(session, "http", f"{prefix}-http")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["stdio", "http"])
    parser.add_argument("--prefix", default="mcp")
    arguments = parser.parse_args()
    for name, run in (("stdio", over_stdio), ("http", over_http)):
        if arguments.only and arguments.only != name:
            continue
        try:
            with anyio.fail_after(600):
                await run(arguments.prefix)
        except Exception:  # noqa: BLE001 - a crashed journey is one failure, reported with its trace
            check(f"{name}: the journey ran to its end", False, traceback.format_exc())
    failed = [name for name, ok in results if not ok]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    sys.exit(1 if failed or not results else 0)


if __name__ == "__main__":
    anyio.run(main)
