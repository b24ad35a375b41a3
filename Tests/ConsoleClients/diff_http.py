"""The diff and merge pages over plain HTTP, as a browser without JavaScript would use them.

Usage: diff_http.py BASE_URL ADMIN_KEY PROJECT MAIN_URL VIEWER_EMAIL VIEWER_PASSWORD
The project has branch `feat` with the changes of ConsoleDiffMergeTests.featureChanges, and main
changed user 5 too; branch `wording`, made after that, has ConsoleDiffMergeTests.wordingChanges. Checks the data with psql on MAIN_URL. Prints one line per check and exits
non-zero at the first failure."""
import html as htmllib
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from console_http_support import AdminAPI, Console, check, csrf_of

BASE, ADMIN_KEY, PROJECT, MAIN_URL, VIEWER, VIEWER_PASSWORD = sys.argv[1:7]

console = Console(BASE, timeout=300)
client, call = console.client, console.call

P = f"/projects/{PROJECT}"
HOSTILE_TABLE = 'public."<script>alert(1)</script>"'


def psql(sql):
    result = subprocess.run(["psql", MAIN_URL, "-X", "-A", "-t", "-q", "-c", sql], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        print(f"FAIL psql: {result.stderr}")
        sys.exit(1)
    return result.stdout.strip()


def q(**params):
    return urllib.parse.urlencode(params)


def testid(page, name):
    match = re.search(rf'data-testid="{name}">([^<]*)<', page)
    return match.group(1).strip() if match else None


def no_raw_script(page):
    return "<script>alert" not in page


browser = client()
status, _, _ = console.first_run(browser, ADMIN_KEY)
check(status == 303, "the admin signs in through the first-run screen")

# Counts first.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat"}))
check(status == 200, "the diff page renders", page)
check(testid(page, "total-added") == "+2" and testid(page, "total-removed") == "−1" and testid(page, "total-modified") == "~123",
      "totals: 2 added, 1 removed, 123 modified", str([testid(page, n) for n in ("total-added", "total-removed", "total-modified")]))
tables = re.findall(r'<tr><th scope="row"><a href="[^"]*"[^>]*>([^<]*)</a>', page)
check(re.search(r'<a href="[^"]*" aria-current="true">public.items</a>', page) is not None, "the table shown is marked in the list")
check(tables and tables[0] == "public.items", "tables are sorted by amount of change", str(tables))
check(testid(page, "total-schema") == "1" and "1 breaking" in page and "BREAKING" in page and "public.legacy" in page,
      "the dropped table is a breaking schema change", str(testid(page, "total-schema")))
check(no_raw_script(page) and htmllib.escape(HOSTILE_TABLE, quote=True) in page.replace("&#39;", "'"), "a hostile table name is listed escaped")
check('id="diff-pickers"' in page and 'name="from_branch"' in page and 'name="to_snapshot"' in page, "the pickers are there")
check("branch diff main feat --table public.items --limit 50" in page, "the page shows its CLI equivalent, with the table it shows")

# The pickers' fields make the same diff.
status, _, picked = call(browser, "GET", f"{P}/diff?" + q(from_branch="main", from_at="", from_snapshot="", to_branch="feat", to_at="", to_snapshot=""))
check(status == 200 and testid(picked, "total-modified") == "~123", "the pickers' form gives the same diff")

# A snapshot as a side (read through a scratch server): feat's base snapshot against feat.
select = re.search(r'<select id="from-snapshot" name="from_snapshot">(.*?)</select>', page, re.S)
snapshots = re.findall(r'<option value="([^"]+)"', select.group(1) if select else "")
check(len(snapshots) >= 1, "the snapshot picker lists the snapshots", str(snapshots))
status, _, snap_page = call(browser, "GET", f"{P}/diff?" + q(from_branch="", from_at="", from_snapshot=snapshots[0], to_branch="feat", to_at="", to_snapshot=""))
check(status == 200 and 'id="diff-error"' not in snap_page and testid(snap_page, "total-modified") is not None, "a snapshot can be a side", snap_page)
check(f'<option value="{snapshots[0]}" selected>' in snap_page, "the picker shows the chosen snapshot")

# Rows of users: +, −, and a changed row with only the changed cell marked.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.users"}))
check(status == 200, "the users rows render", page)
check(page.count('<tr class="added">') == 1 and page.count('<tr class="removed">') == 1 and page.count('<tr class="modified-old">') == 1,
      "one added, one removed and one changed row")
check(page.count("<del>") == 1 and page.count("<ins>") == 1, "only the changed cell is marked", page)
check("<del>main@example.com</del>" in page and "<ins>changed@example.com</ins>" in page, "the changed cell shows old and new")
check('aria-label="changed from &#39;main@example.com&#39; to &#39;changed@example.com&#39;"' in page, "the changed cell is labelled for screen readers")
check("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and no_raw_script(page), "a <script> value is escaped")
check('<details class="long">' in page, "a long value is truncated behind an expand control")
check("1–3 of 3 changed rows" in page, "the range of rows is shown", re.findall(r'id="diff-range">[^<]*', page).__str__())
check('UPDATE public.users SET "email" = \'changed@example.com\' WHERE "id" = \'5\';' in htmllib.unescape(page), "View SQL shows the page's SQL")
check('id="diff-apply-selected"' in page and 'id="diff-apply-table"' in page, "an owner sees the apply controls")

# Hide unchanged columns.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.users", "kind": "modified", "columns": "changed"}))
headers = re.findall(r'<th scope="col">([a-z_]+)', page)
check(status == 200 and headers == ["id", "email"], "hide unchanged columns keeps the key and the changed columns", str(headers))

# Filters.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.users", "kind": "added"}))
check(status == 200 and page.count('<tr class="added">') == 1 and 'class="removed"' not in page and 'class="modified-old"' not in page,
      "the Added filter shows only added rows")
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.users", "kind": "removed"}))
check(status == 200 and page.count('<tr class="removed">') == 1 and '<tr class="added">' not in page, "the Removed filter shows only removed rows")

# Pagination over 120 changed rows, 50 a page.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.items"}))
check(status == 200 and "1–50 of 120 changed rows" in page and page.count('<tr class="modified-old">') == 50, "page 1 holds rows 1–50 of 120")
pages = re.findall(r'<nav class="pager"[^>]*>(.*?)</nav>', page, re.S)
check(pages and ">3</a>" in pages[0] and 'rel="next"' in pages[0], "real page links")
following = re.search(r'<a href="([^"]+)" rel="next">', pages[0])
check(following is not None and "after=" in following.group(1), "Next carries the keyset cursor")
status, _, page = call(browser, "GET", htmllib.unescape(following.group(1)))
check(status == 200 and "51–100 of 120 changed rows" in page and page.count('<tr class="modified-old">') == 50 and "<del>51</del>" in page
      and "<del>50</del>" not in page, "the keyset page 2 holds rows 51–100")
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.items", "page": "3"}))
check(status == 200 and "101–120 of 120 changed rows" in page and page.count('<tr class="modified-old">') == 20, "page 3 holds rows 101–120")
check("<del>101</del>" in page and "<ins>1101</ins>" in page, "page 3 starts at key 101")

status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.items", "key": "101"}))
check(status == 200 and "1 changed row with key 101" in page and page.count('<tr class="modified-old">') == 1 and "<ins>1101</ins>" in page,
      "search by primary key finds the row")

# The hostile table's rows, and a keyless table.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": HOSTILE_TABLE}))
check(status == 200 and no_raw_script(page) and "<ins>b</ins>" in page, "a hostile table's rows render escaped", page)
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.tags"}))
check(status == 200 and 'id="diff-keyless"' in page and '<tr class="added">' in page, "a keyless table is flagged")

status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.settings"}))
check(status == 200 and 'class="json-patch"' in page and "add /beta = true" in page and "replace /theme = &quot;dark&quot;" in page,
      "a jsonb cell shows its JSON patch", page)

# Branch wording: a word changed in a text column, a count changed, a view grown by a column.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "wording", "table": "public.notes"}))
check(status == 200 and "the <del>quick</del> brown fox 1" in page and "the <ins>slow</ins> brown fox 1" in page,
      "a changed text cell marks only its changed word", page)
chips = re.search(r'<nav class="diff-columns"[^>]*>(.*?)</nav>', page, re.S)
found = re.findall(r'>([a-z]+) <span class="muted">(\d+)</span></a>', chips.group(1)) if chips else []
check(found == [("body", "4"), ("stars", "2")] and "of 4 modified rows" in chips.group(1), "values changed per column, most changed first", str(found))
stars = re.search(r'<a href="([^"]+)">stars <span', chips.group(1))
status, _, page = call(browser, "GET", htmllib.unescape(stars.group(1)))
check(status == 200 and page.count('<tr class="modified-old">') == 2 and "1–2 of 2 changed rows where stars changed" in page
      and 'aria-current="true" class="current">stars' in page, "the column filter shows only the rows that changed it", page)
definitions = re.search(r'<div class="diff-defs">(.*?)</details>', page, re.S)
check(definitions is not None and re.search(r'<ins class="line" aria-label="only after">[^<]*stars[^<]*</ins>', definitions.group(1))
      and '<span class="line">' in definitions.group(1) and "<del class=\"line\"" in definitions.group(1),
      "a changed view's definitions side by side, the lines each side lacks marked", definitions.group(1) if definitions else page)

# The patch.
status, headers, patch = call(browser, "GET", f"{P}/diff/patch.sql?" + q(**{"from": "main", "to": "feat", "table": "public.users"}))
check(status == 200 and "attachment" in headers.get("Content-Disposition", ""), "the patch downloads as a file")
check("INSERT INTO public.users" in patch and "DELETE FROM public.users WHERE \"id\" = '7';" in patch and patch.startswith("-- branch diff"),
      "the patch has the inserts, deletes and updates", patch)

# Apply one row (the delete of user 7) to main, then undo it.
status, _, page = call(browser, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.users"}))
token = csrf_of(page)
status, headers, _ = call(browser, "POST", f"{P}/diff/apply", {"_csrf": token, "from": "main", "to": "feat", "table": "public.users", "scope": "rows", "row": '{"id":"7"}'})
location = headers.get("Location", "")
check(status == 303 and "applied=" in location, "applying a chosen row answers with its undo snapshot", location)
check(psql("select count(*) from users where id = 7") == "0" and psql("select count(*) from users where id = 1001") == "0", "only the chosen row was applied")
applied = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["applied"][0]
status, _, page = call(browser, "GET", location)
check(status == 200 and 'id="diff-undo-apply"' in page, "the page offers to undo the apply")
status, headers, _ = call(browser, "POST", f"{P}/merge/undo", {"_csrf": token, "snapshot": applied, "branch": "main", "back": f"{P}/diff"})
check(status == 303, "undo apply", str(headers))
check(psql("select count(*) from users where id = 7") == "1", "undo brought the row back")

# Apply a whole table (items) from feat to main.
status, headers, _ = call(browser, "POST", f"{P}/diff/apply", {"_csrf": token, "from": "main", "to": "feat", "table": "public.items", "scope": "table"})
check(status == 303 and "applied=" in headers.get("Location", ""), "applying a whole table", str(headers))
check(psql("select count(*) from items where qty > 1000") == "120", "the table now has the other side's rows")

# Merge: a breaking change is refused until allowed; then the conflict on user 5.
status, _, page = call(browser, "GET", f"{P}/merge?" + q(source="feat", target="main"))
check(status == 200 and 'id="merge-error"' in page and "merge_destructive" in page, "a breaking schema change is reported before the merge", page)
status, _, page = call(browser, "GET", f"{P}/merge?" + q(source="feat", target="main", allow_destructive="on"))
check(status == 200 and 'id="merge-form"' in page, "the merge page renders with its form", page)
check('id="merge-conflicts"' in page and "changed on both" in page, "the conflict is listed")
check("main@example.com" in page and "changed@example.com" in page and "u5@example.com" in page, "base, ours and theirs are shown")
check("branch merge feat --into main --allow-destructive --dry-run" in page, "the merge page shows its CLI equivalent")
row = re.search(r'name="row\.0" value="([^"]+)"', page)
check(row is not None, "the conflict carries its row")
row_value = htmllib.unescape(row.group(1))
token = csrf_of(page)
status, _, page = call(browser, "POST", f"{P}/merge", {"_csrf": token, "source": "feat", "target": "main", "prefer": "", "action": "apply", "allow_destructive": "on"})
check(status == 200 and "unresolved" in page and psql("select count(*) from users where id = 1001") == "0", "an unresolved conflict merges nothing")
status, _, page = call(browser, "POST", f"{P}/merge", {"_csrf": token, "source": "feat", "target": "main", "prefer": "", "action": "preview", "row.0": row_value, "take.0": "source", "allow_destructive": "on"})
check(status == 200 and "(0 unresolved)" in page, "a preview with the choice settles the conflict", page)
# A cell settled on its own: theirs for the row, a typed value for the email.
email_cell = re.search(r'name="col\.0\.(\d+)" value="email"', page)
check(email_cell is not None, "the email cell the sides disagree on can be settled on its own", page)
cell = email_cell.group(1)
picks = {"_csrf": token, "source": "feat", "target": "main", "prefer": "", "row.0": row_value, "take.0": "source", "allow_destructive": "on",
         f"col.0.{cell}": "email", f"cell.0.{cell}": "custom", f"value.0.{cell}": "picked@example.com"}
status, _, page = call(browser, "POST", f"{P}/merge", dict(picks, action="preview"))
check(status == 200 and "(0 unresolved)" in page and 'value="picked@example.com"' in page and '&quot;values&quot;' in page,
      "a preview keeps the cell's custom value and shows it in resolutions.json", page[page.find("merge-conflicts-title"):][:5000])
# Preview as a diff: the merge rehearsed on a temporary copy of main, its rows shown; main untouched.
api = AdminAPI(BASE, ADMIN_KEY).call
snapshots_before = {s["id"] for s in api("GET", f"{P}/snapshots")[1]["snapshots"]}
unsettled = {k: v for k, v in picks.items() if not k.startswith(("take.", "col.", "cell.", "value."))}
status, _, page = call(browser, "POST", f"{P}/merge", dict(unsettled, action="rehearse"))
check(status == 200 and "No diff preview yet" in page and 'id="merge-rehearsal"' not in page, "the diff preview waits for every conflict to be settled", page)
status, _, page = call(browser, "POST", f"{P}/merge", dict(picks, action="rehearse"))
check(status == 200 and 'id="merge-rehearsal"' in page, "Preview as a diff shows what the merge would change in main", page[page.find("<main"):][:3000])
rehearsal = page[page.index('id="merge-rehearsal"'):page.index('id="merge-form"')]
check("<code>public.users</code>" in rehearsal and 'class="modified-new"' in rehearsal and "<ins>picked@example.com</ins>" in rehearsal,
      "user 5's email shows changed to the value typed for it, only that cell marked", rehearsal[:4000])
check('class="added"' in rehearsal and "1001" in rehearsal, "the row the merge inserts shows as added", rehearsal[:4000])
check(psql("select email from users where id = 5") != "picked@example.com" and psql("select count(*) from users where id = 1001") == "0",
      "main is unchanged by the preview")
left = [b["name"] for b in api("GET", f"{P}/branches")[1]["branches"] if b["name"].startswith("rehearse-")]
new_snapshots = {s["id"] for s in api("GET", f"{P}/snapshots")[1]["snapshots"]} - snapshots_before
check(not left and not new_snapshots, f"the preview leaves no branch or snapshot behind ({left}, {new_snapshots})")
status, _, page = call(browser, "POST", f"{P}/merge", dict(picks, action="apply"))
check(status == 200 and 'id="merge-result"' in page and 'id="merge-undo-button"' in page, "the merge applies and offers undo", page)
check(psql("select email from users where id = 5") == "picked@example.com", "the cell got the value typed for it")
check(psql("select count(*) from users where id = 1001") == "1" and psql("select count(*) from tags") == "3", "the target has the merged rows")
check(psql("select count(*) from information_schema.tables where table_name = 'legacy'") == "0", "the allowed breaking change was replayed")
snapshot = re.search(r'id="merge-undo-snapshot">([^<]+)<', page).group(1)
status, headers, _ = call(browser, "POST", f"{P}/merge/undo", {"_csrf": token, "snapshot": snapshot, "branch": "main", "back": f"{P}/merge?source=feat&target=main"})
check(status == 303, "undo merge", str(headers))
check(psql("select count(*) from users where id = 1001") == "0" and psql("select email from users where id = 5") == "main@example.com",
      "undo merge restored the target's previous rows")
check(psql("select count(*) from information_schema.tables where table_name = 'legacy'") == "1", "undo merge brought the dropped table back")

# A past state as the merge source: a snapshot of wording, merged as wording was then; the picker says so.
status, _, page = call(browser, "GET", f"{P}/merge?" + q(source="wording-then", target="main"))
check(status == 200 and "branch merge wording-then --into main --dry-run" in page and 'id="merge-form"' in page
      and '<option value="wording-then" selected>wording-then (wording as it was then)</option>' in page
      and re.search(r"public\.notes</[^>]+>\s*<td[^>]*>0</td>\s*<td[^>]*>4</td>", page) is not None,
      "a snapshot of a branch can be merged: its plan updates the 4 notes rows", page[page.find("<main"):][:6000])

# A viewer sees no write controls and is refused.
viewer = client()
status, _, _ = console.sign_in(viewer, VIEWER, VIEWER_PASSWORD)
check(status == 303, "the viewer signs in")
status, _, page = call(viewer, "GET", f"{P}/diff?" + q(**{"from": "main", "to": "feat", "table": "public.users"}))
check(status == 200 and "diff-apply" not in page and 'type="checkbox"' not in page, "a viewer sees the diff without apply controls")
vtoken = csrf_of(page)
status, _, page = call(viewer, "GET", f"{P}/merge?" + q(source="feat", target="main"))
check(status == 200 and 'id="merge-form"' not in page and "merge-apply" not in page, "a viewer sees no merge button")
status, _, _ = call(viewer, "POST", f"{P}/merge", {"_csrf": vtoken, "source": "feat", "target": "main", "prefer": "source", "action": "apply"})
check(status == 403, "a viewer's merge POST is refused")
status, _, _ = call(viewer, "POST", f"{P}/diff/apply", {"_csrf": vtoken, "from": "main", "to": "feat", "table": "public.users", "scope": "table"})
check(status == 403, "a viewer's apply POST is refused")
status, _, _ = call(viewer, "POST", f"{P}/merge/undo", {"_csrf": vtoken, "snapshot": snapshot, "branch": "main"})
check(status == 403, "a viewer's undo POST is refused")
check(psql("select count(*) from users where id = 1001") == "0", "nothing changed for the viewer")
print("all diff and merge checks passed")
