"""The SQL editor over plain HTTP: results with column types, the automatic LIMIT, errors with a
caret at their position, the guard on destructive statements, snippets and history, "run on a
scratch branch first" (diff, discard, apply), a read-only query at a past instant, escaping of
results, and a viewer who runs read-only SQL only. Data is checked through the API with the admin key.

Usage: sql_http.py BASE_URL ADMIN_KEY
Prints one line per check and exits non-zero at the first failure."""
import html as htmllib
import re
import sys
import time

from console_http_support import AdminAPI, Console, csrf_of

BASE, ADMIN_KEY = sys.argv[1], sys.argv[2]
PROJECT = "lab"
PASSWORD = "correct horse battery"

console = Console(BASE, timeout=180)
client, call, check = console.client, console.call, console.check
admin_api = AdminAPI(BASE, ADMIN_KEY)
api = admin_api.call


def sql(query, branch="main"):
    return admin_api.sql(PROJECT, query, branch)


def branches():
    return {b["name"] for b in api("GET", f"/projects/{PROJECT}/branches")[1]["branches"]}


status, _ = api("POST", "/projects", {"name": PROJECT, "backups": False})
check(status == 201, "project created through the API")
sql("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);")
status, _ = api("POST", "/users", {"email": "viewer@example.com", "password": PASSWORD})
status, _ = api("PUT", f"/projects/{PROJECT}/members/viewer@example.com", {"role": "viewer"})
check(status in (200, 201), "a viewer is a member of the project")
time.sleep(1.5)
before_changes = sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")[0][0]
before_changes_lsn = sql("SELECT pg_current_wal_lsn()::text")[0][0]
time.sleep(1.5)

browser = client()
status, _, _ = console.first_run(browser, ADMIN_KEY)
check(status == 303, "the first run signs the admin in")
page = f"/projects/{PROJECT}/sql?branch=main"
status, _, html = call(browser, "GET", page)
check(status == 200 and 'id="sql-input"' in html and 'id="sql-scratch"' in html, "the SQL editor renders without JavaScript")
token = csrf_of(html)

def run(query, action="run", confirm=False, path=page, opener=browser, csrf=None):
    form = {"_csrf": csrf or token, "sql": query, "action": action}
    if confirm:
        form["confirm"] = "on"
    return call(opener, "POST", path, form)

status, _, html = run("SELECT id, v, '<script>alert(1)</script>' AS s FROM t ORDER BY id")
check(status == 200 and "result-grid" in html and "int4" in html, "results come back in a grid with column types")
check("&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)</script>" not in html, "<script> in SQL results is escaped")
check("sql-limit-notice" in html and "LIMIT 1000 added" in html, "a bare SELECT gets LIMIT 1000, and the page says so")
status, _, html = run("SELECT * FROM generate_series(1, 5000) LIMIT 3000")
check(status == 200 and "LIMIT 1000 added" not in html and "3000 rows" in html, "a SELECT with its own LIMIT is left alone")

status, _, html = run("SELECT 1;\nSELECT v FROM t WHERE id = 1 AND nope = 2")
check(status == 422 and 'id="sql-error"' in html, "a failing statement shows its error")
caret = re.search(r'<pre class="error-position" id="sql-error-caret">(.*?)</pre>', html, re.S)
check("line 2, column 34" in html and caret is not None, "the error names its line and column")
line, marker = htmllib.unescape(caret.group(1)).split("\n")
check(line == "SELECT v FROM t WHERE id = 1 AND nope = 2" and marker == " " * 33 + "^", "a caret sits under the failing character")

status, _, html = run("DELETE FROM t")
check(status == 409 and "sql-refused" in html and "DELETE without WHERE" in html, "DELETE without WHERE is refused without the confirm box")
status, _, html = run("DROP TABLE t")
check(status == 409 and sql("SELECT count(*) FROM t") == [[3]], "DROP is refused without confirm, and nothing changed")
status, _, html = run("UPDATE t SET v = v WHERE id = 3")
check(status == 200, "an UPDATE with WHERE runs without confirm")

status, headers, _ = call(browser, "POST", f"/projects/{PROJECT}/sql/snippets?branch=main", {"_csrf": token, "name": "Top <b>rows</b>", "sql": "SELECT * FROM t"})
check(status == 303, "a snippet is saved")
status, listed = api("GET", f"/projects/{PROJECT}/snippets")
snippet = next((s for s in listed["snippets"] if s["kind"] == "snippet"), None)
check(status == 200 and snippet and snippet["name"] == "Top <b>rows</b>" and snippet["sql"] == "SELECT * FROM t", "listSnippets has it (API)")
status, _, html = call(browser, "GET", page)
check("Top &lt;b&gt;rows&lt;/b&gt;" in html, "the snippet is listed, escaped")
check('id="history-list"' in html and html.count("<li><a href=", html.index('id="history-list"')) == 4, "the history lists the four runs (refused ones are not runs)")
status, _, html = call(browser, "GET", page + "&snippet=" + snippet["id"])
check("SELECT * FROM t</textarea>" in html, "opening a snippet puts it in the editor")
status, _, _ = call(browser, "POST", f"/projects/{PROJECT}/sql/snippets/delete?branch=main", {"_csrf": token, "id": snippet["id"]})
status, listed = api("GET", f"/projects/{PROJECT}/snippets")
check(not any(s["kind"] == "snippet" for s in listed["snippets"]), "a deleted snippet is gone")

# Folders: a snippet filed in one is listed under it; replacing it without a folder keeps it there.
status, _, _ = call(browser, "POST", f"/projects/{PROJECT}/sql/snippets?branch=main",
                    {"_csrf": token, "name": "weekly", "folder": "Reports <i>", "sql": "SELECT count(*) FROM t"})
status2, _, _ = call(browser, "POST", f"/projects/{PROJECT}/sql/snippets?branch=main", {"_csrf": token, "name": "loose", "folder": "", "sql": "SELECT 2"})
status3, listed = api("GET", f"/projects/{PROJECT}/snippets")
filed = {s["name"]: s for s in listed["snippets"] if s["kind"] == "snippet"}
check(status == 303 and status2 == 303 and filed["weekly"]["folder"] == "Reports <i>" and filed["loose"]["folder"] == "",
      "a snippet is saved in a folder, another in none (API)")
status, _, html = call(browser, "GET", page)
folder = re.search(r'<details class="snippet-folder" open data-folder="Reports &lt;i&gt;"><summary>Reports &lt;i&gt; <span class="muted small">1</span></summary>(.*?)</details>', html, re.S)
check(folder is not None and "weekly" in folder.group(1) and "loose" not in folder.group(1), "the editor lists the folder, escaped, with its snippet under it")
check(html.index(">loose<") < html.index('class="snippet-folder"') and '<option value="Reports &lt;i&gt;">' in html,
      "unfiled snippets come first, and the save form suggests the folders in use")
status, saved = api("POST", f"/projects/{PROJECT}/snippets", {"id": filed["weekly"]["id"], "name": "weekly", "sql": "SELECT 3"})
check(status == 201 and saved["folder"] == "Reports <i>" and saved["sql"] == "SELECT 3", "replacing a snippet without a folder keeps its folder")
status, refused = api("POST", f"/projects/{PROJECT}/snippets", {"name": "bad", "folder": "two\nlines", "sql": "SELECT 1"})
check(status == 400 and refused["error"]["code"] == "invalid_request", f"a folder with a line break is refused ({status})")
for s in (filed["weekly"], filed["loose"]):
    api("DELETE", f"/projects/{PROJECT}/snippets/{s['id']}")

change = "UPDATE t SET v = v + 100 WHERE id = 1; INSERT INTO t VALUES (4, 40); DELETE FROM t WHERE id = 3"
status, _, html = run(change, action="scratch")
check(status == 200 and 'id="scratch-diff"' in html, "run on a scratch branch shows its diff")
name = re.search(r'name="scratch" value="(scratch-[0-9a-f]+)"', html).group(1)
check("+1 added" in html and "−1 removed" in html and "~1 changed" in html, "the diff counts one row added, removed and changed")
check('class="added"' in html and 'class="removed"' in html and "v: 10 → 110" in html, "changed rows show with + / − gutters and old → new")
check(name in branches() and sql("SELECT v FROM t WHERE id = 1", branch=name) == [[110]], "the scratch branch holds the change")
check(sql("SELECT id, v FROM t ORDER BY id") == [[1, 10], [2, 20], [3, 30]], "main is unchanged until applied")
status, _, _ = call(browser, "POST", f"/projects/{PROJECT}/sql/discard?branch=main", {"_csrf": token, "scratch": name})
check(status == 303 and name not in branches() and sql("SELECT count(*) FROM t") == [[3]], "Discard deletes the scratch branch and leaves main alone")

status, _, html = run("DELETE FROM t", action="scratch")
check(status == 200 and "−3 removed" in html and 'id="apply-confirm"' in html,
      "a destructive statement runs on a scratch branch without confirm, and applying it asks for confirmation")
name = re.search(r'name="scratch" value="(scratch-[0-9a-f]+)"', html).group(1)
status, _, html = call(browser, "POST", f"/projects/{PROJECT}/sql/apply?branch=main", {"_csrf": token, "scratch": name, "sql": "DELETE FROM t"})
check(status == 409 and 'id="scratch-diff"' in html and name in branches() and sql("SELECT count(*) FROM t") == [[3]],
      "applying it without the confirm box is refused; the scratch branch and its diff stay")
status, _, _ = call(browser, "POST", f"/projects/{PROJECT}/sql/discard?branch=main", {"_csrf": token, "scratch": name})
check(status == 303 and name not in branches(), "and Discard removes it")

status, _, html = run(change, action="scratch")
name = re.search(r'name="scratch" value="(scratch-[0-9a-f]+)"', html).group(1)
status, _, html = call(browser, "POST", f"/projects/{PROJECT}/sql/apply?branch=main", {"_csrf": token, "scratch": name, "sql": change})
check(status == 200 and "Applied to main" in html, "Apply to main runs the SQL on main")
check(sql("SELECT id, v FROM t ORDER BY id") == [[1, 110], [2, 20], [4, 40]], "main now has the change")
check(name not in branches(), "the scratch branch is deleted after apply")

status, _, html = run("SELECT v FROM t WHERE id = 1", path=page + "&at=" + before_changes)
check(status == 200 and 'id="historical-notice"' in html and "read-only" in html,
      "?at= shows a clearly historical, read-only page" + ("" if status == 200 else " " + " ".join(re.findall(r'<p>([^<]*)</p>', html.split('id="sql-error"', 1)[-1])[:2])))
check(re.search(r'<td class="value">10</td>', html) is not None, "the query at the past instant sees the old value")
check(not any(b.startswith("at-") for b in branches()), "the temporary branch of a past-instant query is deleted")
status, _, html = run("SELECT v FROM t WHERE id = 1", path=page + "&at=" + before_changes_lsn)
check(status == 200 and 'id="historical-notice"' in html and re.search(r'<td class="value">10</td>', html) is not None,
      "?at= a WAL position: the query sees the value as of that position")
check(not any(b.startswith("at-") for b in branches()), "the temporary branch of a query at a WAL position is deleted")
status, _, html = call(browser, "GET", page)
check('id="sql-at-form"' in html and 'name="at"' in html, "the editor offers a past point to query (an instant or a WAL position)")
status, _, html = run("SELECT 1", path=page + "&at=0/XYZ")
check(status == 400 and "is not an instant or a WAL position" in html, "an `at` that is neither is a 400 that says so")
status, _, html = run("UPDATE t SET v = 0", path=page + "&at=" + before_changes)
check(status != 200 and sql("SELECT v FROM t WHERE id = 1") == [[110]], "a write at a past instant is refused (read-only)")

# Run as: row-level security tried from the editor, as the data API would run a request.
status, _, html = call(browser, "POST", f"/projects/{PROJECT}/auth/users", {"_csrf": token, "email": "rls@example.com", "password": "secret-password-1"})
check(status == 303, "an auth user created on the Auth users page")


def run_as(query, role, user=""):
    return call(browser, "POST", page, {"_csrf": token, "sql": query, "action": "run", "run_as": role, "run_as_user": user})


def counted(html):
    match = re.search(r'<td class="value">(\d+)</td>', html)
    return int(match.group(1)) if match else None


status, _, html = run_as("SELECT 1", "authenticated", "RLS@example.com")
found = re.search(r"as authenticated user rls@example\.com \(([0-9a-f-]{36})\)", html)
check(status == 200 and found is not None, "a user is found by email (case-insensitive), and the page says whom it ran as")
user_id = found.group(1)
sql(f"""
CREATE TABLE notes (id int PRIMARY KEY, owner uuid, body text);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes FOR SELECT TO authenticated USING (owner = auth.uid());
GRANT SELECT ON notes TO anon, authenticated;
INSERT INTO notes VALUES (1, '{user_id}', 'mine'), (2, gen_random_uuid(), 'theirs');
""")
status, _, html = call(browser, "GET", page)
check('id="run-as-role"' in html and "anon (the anon key)" in html, "a developer gets the Run as menu")
status, _, html = run_as("SELECT count(*) FROM notes", "")
check(status == 200 and counted(html) == 2, "as the owner, RLS does not apply: both rows")
status, _, html = run_as("SELECT count(*) FROM notes", "anon")
check(status == 200 and counted(html) == 0 and " as anon." in html, f"as anon, the policy shows no row ({counted(html)})")
status, _, html = run_as("SELECT count(*) FROM notes", "authenticated", "RLS@example.com")
check(status == 200 and counted(html) == 1, f"as the signed-in user, only their row ({counted(html)})")
check('<option value="authenticated" selected>' in html and 'value="RLS@example.com"' in html, "the page keeps the Run as choice")
status, _, html = run_as("SELECT auth.uid()::text", "authenticated", user_id)
check(status == 200 and f'<td class="value">{user_id}</td>' in html, "given an id, auth.uid() is that id")
status, _, html = run_as("SELECT count(*) FROM notes", "authenticated")
check(status == 200 and counted(html) == 0 and "auth.uid() is NULL" in html, "authenticated without a user sees no one's rows")
status, _, html = run_as("SELECT count(*) FROM notes", "authenticated", "nobody@example.com")
check(status == 404 and "auth_user_not_found" in html, "an unknown user is a clear error")
status, _, html = run_as("SELECT 1;\nSELECT nope FROM notes", "anon")
check(status == 422 and "line 2, column 8" in html and "Statement 2" in html, "errors point into the SQL as written, not the role switch before it")
status, _, html = run_as("SELECT current_user", "anon")
check(status == 200 and '<td class="value">anon</td>' in html, "the SQL runs as the anon role")
status, _, html = run_as("SELECT current_user", "")
check(status == 200 and '<td class="value">anon</td>' not in html, "the role does not outlive its run")

# EXPLAIN: the plan as a tree, estimates only; ANALYZE runs the SQL without changing the branch.
status, _, html = run("CREATE TABLE never (id int);\nSELECT * FROM t WHERE v > 15 ORDER BY v", action="explain")
check(status == 200 and 'class="data plan-tree"' in html and "Plan of Statement 2" in html and "EXPLAIN: estimates" in html,
      "Explain shows statement 2's plan as a tree")
check(re.search(r'<td class="depth-1"><span class="plan-op">Seq Scan</span> on public\.t', html) and re.search(r"Filter: \(\S*v &gt; 15\)", html),
      "the tree indents the scan under the sort, with its filter")
diagram = re.search(r'<div class="plan-diagram-wrap"[^>]*>(<svg class="plan-diagram".*?</svg>)</div>', html, re.S)
check(diagram is not None and re.search(r'>Sort</text>', diagram.group(1)) and re.search(r'>Seq Scan</text>', diagram.group(1))
      and diagram.group(1).count('<path class="plan-edge"') == 1, "the plan is also drawn as a tree: two boxes and the edge between them")
check("Statement 1 has no plan (CREATE)" in html and sql("SELECT to_regclass('never') IS NULL") == [[True]],
      "a statement without a plan is named and not run")
status, _, html = run("SELECT * FROM t WHERE v > 15", action="analyze")
check(status == 200 and "EXPLAIN ANALYZE" in html and "Self ms" in html and 'class="plan-node hot"' in html and "execution" in html,
      "Explain analyze adds rows, loops, self time and marks where the time went")
status, _, html = run("UPDATE t SET v = v + 1000 WHERE id = 2", action="analyze")
check(status == 200 and "<span class=\"plan-op\">Update</span>" in html and "a temporary copy of main" in html,
      "Explain analyze of a write runs it on a temporary copy")
check(sql("SELECT v FROM t WHERE id = 2") == [[20]] and not any(b.startswith("explain-") for b in branches()),
      "main is unchanged and the copy is deleted")
status, _, html = run("SET LOCAL enable_seqscan = off;\nCREATE VIEW v AS SELECT 1;\nSELECT * FROM t WHERE id = 1", action="explain")
check(status == 200 and "Statement 1 has no plan (SET): run as it is" in html and "Statement 2 has no plan (CREATE): not explained, not run" in html
      and "Plan of Statement 3" in html and sql("SELECT to_regclass('v') IS NULL") == [[True]],
      "SET runs before the statements it affects; CREATE VIEW is neither explained nor run")
status, _, html = run("VACUUM t", action="explain")
check(status == 400 and "Nothing to explain" in html, "SQL without a plan is a clear error")
status, _, html = run("SELECT nope FROM t", action="explain")
check(status == 422 and 'id="sql-error"' in html and "nope" in html, "an error in explained SQL is shown")

viewer = client()
status, _, _ = console.sign_in(viewer, "viewer@example.com", PASSWORD)
check(status == 303, "the viewer signs in")
status, _, html = call(viewer, "GET", page)
check(status == 200 and 'id="sql-viewer-read-only"' in html and "read-only: your role is viewer" in html.lower() and 'id="sql-form"' in html
      and 'id="snippet-form"' not in html and 'id="sql-scratch"' not in html and 'id="sql-confirm"' not in html,
      "a viewer gets the editor marked read-only, without snippets, scratch branches or the destructive-statement confirmation")
check('id="run-as-role"' not in html, "a viewer gets no Run as menu")
vtoken = csrf_of(html)
status, _, html = run("SELECT id, v FROM t ORDER BY id", opener=viewer, csrf=vtoken)
check(status == 200 and "result-grid" in html and '<td class="value">110</td>' in html and "read-only: your role is viewer" in html,
      "a viewer's SELECT shows its results")
status, _, html = run("DELETE FROM t WHERE id = 2", confirm=True, opener=viewer, csrf=vtoken)
check(status == 422 and 'id="sql-error"' in html and "read-only transaction" in html and sql("SELECT count(*) FROM t WHERE id = 2") == [[1]],
      "a viewer's write fails with Postgres' read-only error and changes nothing")
status, _, html = run("COMMIT; DELETE FROM t WHERE id = 2", opener=viewer, csrf=vtoken)
check(status == 400 and 'id="sql-error"' in html and sql("SELECT count(*) FROM t WHERE id = 2") == [[1]], "a viewer cannot escape with COMMIT")
status, _, html = run("SELECT * FROM t", action="analyze", opener=viewer, csrf=vtoken)
check(status == 200 and 'class="data plan-tree"' in html, "a viewer may Explain analyze a read")
status, _, html = run("DELETE FROM t WHERE id = 2", action="analyze", opener=viewer, csrf=vtoken)
check(status == 422 and "read-only transaction" in html and sql("SELECT count(*) FROM t WHERE id = 2") == [[1]],
      "a viewer's Explain analyze of a write fails read-only, on no copy")
status, _, _ = run("SELECT 1", action="scratch", opener=viewer, csrf=vtoken)
check(status == 403, "a viewer cannot run on a scratch branch")
status, _, html = call(viewer, "GET", page + "&at=" + before_changes)
check(status == 200 and "sql-role-notice" in html and 'id="sql-form"' not in html, "a viewer cannot query a past instant (it needs a temporary branch)")
status, _, _ = call(viewer, "POST", f"/projects/{PROJECT}/sql/snippets?branch=main", {"_csrf": vtoken, "name": "x", "sql": "SELECT 1"})
check(status == 403, "a viewer cannot save snippets")
print("all SQL editor checks passed")
