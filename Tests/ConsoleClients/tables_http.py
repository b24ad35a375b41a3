"""The table editor over plain HTTP: browse a table page by page (keyset), sort and filter from
the URL, save a batch of edits as the page's script does (JSON), a failing batch changes nothing,
the no-JS row form, CSV export and import, escaping of data, a table without a primary key, and
a viewer who reads rows (grid, CSV) but gets no editing controls and whose POSTs are refused. Data is checked through the
API with the admin key, not through the console.

Usage: tables_http.py BASE_URL ADMIN_KEY
Prints one line per check and exits non-zero at the first failure."""
import csv
import io
import json
import re
import sys
import time

from console_http_support import AdminAPI, Console, csrf_of

BASE, ADMIN_KEY = sys.argv[1], sys.argv[2]
PROJECT = "shop"
PASSWORD = "correct horse battery"

console = Console(BASE, timeout=120)
client, call, check = console.client, console.call, console.check
admin_api = AdminAPI(BASE, ADMIN_KEY)
api = admin_api.call


def sql(query):
    return admin_api.sql(PROJECT, query)


def grid_ids(html):
    """The `id` cell of each grid row, in order."""
    body = html.split('id="table-grid"', 1)[1].split("</tbody>", 1)[0]
    return [int(m) for m in re.findall(r'<td class="value" data-col="id">(\d+)</td>', body)]


def link(html, anchor_id):
    match = re.search(r'<a href="([^"]+)"[^>]*id="' + anchor_id + '"', html)
    return match.group(1).replace("&amp;", "&") if match else None


# Setup through the API: a project, tables, a viewer.
status, _ = api("POST", "/projects", {"name": PROJECT, "backups": False})
check(status == 201, "project created through the API")
sql("""
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(8,2), note text);
INSERT INTO items SELECT g, 'item ' || lpad(g::text, 3, '0'), g * 1.5, CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 120) g;
UPDATE items SET note = '<script>alert(1)</script>' WHERE id = 7;
CREATE TABLE log (at timestamptz DEFAULT now(), message text);
INSERT INTO log (message) VALUES ('one'), ('two');
CREATE TABLE orders (id int PRIMARY KEY, item_id int REFERENCES items(id), qty int);
INSERT INTO orders VALUES (1, 3, 2), (2, NULL, 1);
""")
time.sleep(1.5)
before_changes = sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")[0][0]
before_changes_lsn = sql("SELECT pg_current_wal_lsn()::text")[0][0]
time.sleep(1.5)
status, _ = api("POST", "/users", {"email": "viewer@example.com", "password": PASSWORD})
check(status in (200, 201), "a viewer user created")
status, _ = api("PUT", f"/projects/{PROJECT}/members/viewer@example.com", {"role": "viewer"})
check(status in (200, 201), "the viewer is a member of the project")

browser = client()
status, _, _ = console.first_run(browser, ADMIN_KEY)
check(status == 303, "the first run signs the admin in")

base = f"/projects/{PROJECT}/tables?branch=main"
status, _, html = call(browser, "GET", base)
check(status == 200 and "public.items" in html and "public.log" in html, "the table list shows the branch's tables")
token = csrf_of(html)

# Keyset pages of 50 in primary key order.
status, _, html = call(browser, "GET", base + "&table=public.items")
check(status == 200 and grid_ids(html) == list(range(1, 51)), "page 1 holds rows 1-50 in key order")
check("numeric(8,2)" in html and "integer" in html, "column types are shown")
check("&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)</script>" not in html, "<script> in table data is escaped")
next_href = link(html, "page-next")
check(next_href is not None and "after=" in next_href, "page 1 links to the next page")
status, _, html = call(browser, "GET", next_href)
check(grid_ids(html) == list(range(51, 101)), "page 2 holds rows 51-100")
status, _, html3 = call(browser, "GET", link(html, "page-next"))
check(grid_ids(html3) == list(range(101, 121)) and link(html3, "page-next") is None, "page 3 holds rows 101-120 and is the last")
status, _, html = call(browser, "GET", link(html3, "page-previous"))
check(grid_ids(html) == list(range(51, 101)), "Previous goes back to rows 51-100")

# Sort and filter in the URL.
status, _, html = call(browser, "GET", base + "&table=public.items&sort=id.desc")
check(grid_ids(html)[:3] == [120, 119, 118] and 'aria-sort="descending"' in html, "sort=id.desc orders by id descending")
status, _, html = call(browser, "GET", link(html, "page-next"))
check(grid_ids(html)[:2] == [70, 69], "the next page of a descending sort continues at 70")
status, _, html = call(browser, "GET", base + "&table=public.items&sort=note.asc")
ids = grid_ids(html)
status, _, html2 = call(browser, "GET", link(html, "page-next"))
status, _, html3 = call(browser, "GET", link(html2, "page-next"))
all_ids = ids + grid_ids(html2) + grid_ids(html3)
check(sorted(all_ids) == list(range(1, 121)) and all_ids[-12:] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120],
      "sorting by a column with NULLs pages through every row once, NULLs last")
status, _, html = call(browser, "GET", base + "&table=public.items&filter=price.gt.150")
check(grid_ids(html) == list(range(101, 121)), "filter=price.gt.150 keeps rows 101-120")
status, _, html = call(browser, "GET", base + "&table=public.items&filter=name.like.item%2003&filter=id.lte.35")
check(grid_ids(html) == list(range(30, 36)), "two filters (like and lte) combine")
status, _, html = call(browser, "GET", base + "&table=public.items&fcol=note&fop=isnull&fval=")
check(grid_ids(html) == list(range(10, 121, 10)), "the filter form without JS (is null) works")

# Saving a batch as the page's script does.
save = f"/projects/{PROJECT}/tables/save?branch=main"
json_headers = {"Content-Type": "application/json", "X-CSRF-Token": token}
batch = {"table": "public.items", "edits": [
    {"op": "update", "key": {"id": "1"}, "values": {"name": "it's a \\ test", "note": None}},
    {"op": "insert", "values": {"id": "500", "name": "new item", "price": "9.99"}},
    {"op": "delete", "key": {"id": "2"}},
]}
status, _, body = call(browser, "POST", save, headers=json_headers, body=json.dumps({**batch, "preview": True}).encode())
answer = json.loads(body)
check(status == 200 and answer["ok"] and len(answer["statements"]) == 3 and "::text" in answer["statements"][0], "Review shows the generated SQL")
check(sql("SELECT name FROM items WHERE id = 1")[0][0] == "item 001", "a preview changes nothing")
status, _, body = call(browser, "POST", save, headers=json_headers, body=json.dumps(batch).encode())
answer = json.loads(body)
check(status == 200 and answer["ok"] and answer["rowsAffected"] == [1, 1, 1], "the batch of update, insert and delete saves")
check(sql("SELECT name, note FROM items WHERE id = 1") == [["it's a \\ test", None]], "the update landed (quotes and backslashes intact, NULL set)")
check(sql("SELECT name, price::text FROM items WHERE id = 500") == [["new item", "9.99"]], "the insert landed")
check(sql("SELECT count(*) FROM items WHERE id = 2") == [[0]], "the delete landed")

failing = {"table": "public.items", "edits": [
    {"op": "update", "key": {"id": "3"}, "values": {"name": "changed"}},
    {"op": "update", "key": {"id": "4"}, "values": {"name": None}},
]}
status, _, body = call(browser, "POST", save, headers=json_headers, body=json.dumps(failing).encode())
answer = json.loads(body)
check(status == 422 and not answer["ok"] and answer["error"]["index"] == 1 and "null" in answer["error"]["message"].lower(),
      "a NOT NULL violation comes back inline, naming the failing edit")
check(sql("SELECT name FROM items WHERE id = 3")[0][0] == "item 003", "a failing batch changes nothing (all or nothing)")
evil = {"table": "public.items", "edits": [{"op": "update", "key": {"id": "5"}, "values": {"name": "x'); DROP TABLE items; --"}}]}
status, _, body = call(browser, "POST", save, headers=json_headers, body=json.dumps(evil).encode())
check(status == 200 and sql("SELECT name FROM items WHERE id = 5")[0][0] == "x'); DROP TABLE items; --", "a value is a literal, never SQL")
status, _, body = call(browser, "POST", save, headers={"Content-Type": "application/json"}, body=json.dumps(batch).encode())
check(status == 403, "a save without the CSRF token is refused")

# The row form without JS: update, then delete.
status, _, html = call(browser, "GET", base + "&table=public.items")
edit = re.search(r'href="([^"]*/tables/row\?[^"]*key=[^"]*)"', html).group(1).replace("&amp;", "&")
status, _, html = call(browser, "GET", edit)
check(status == 200 and 'name="v.name"' in html, "a row's edit form renders")
status, _, html = call(browser, "POST", edit, {"_csrf": token, "action": "update", "v.id": "1", "v.name": "form edit", "v.price": "1.50", "null.note": "on"})
check(status == 303 and sql("SELECT name FROM items WHERE id = 1")[0][0] == "form edit", "the row form updates without JS")
status, _, html = call(browser, "POST", edit, {"_csrf": token, "action": "update", "v.id": "1", "null.name": "on", "v.price": "1.50", "null.note": "on"})
check(status == 422 and "row-error" in html, "a failing row form shows its error inline")
status, _, _ = call(browser, "POST", edit, {"_csrf": token, "action": "delete"})
check(status == 303 and sql("SELECT count(*) FROM items WHERE id = 1") == [[0]], "the row form deletes without JS")

# The row form's typed controls: lists for booleans and enums, number fields, date and time pickers.
sql("""
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE TABLE typed (id int PRIMARY KEY, done boolean, feeling mood, due date, at timestamp, n bigint, ratio numeric, stamp timestamptz);
""")
new_row = f"/projects/{PROJECT}/tables/row?branch=main&table=public.typed&new=1"
status, _, html = call(browser, "GET", new_row)
check(status == 200 and re.search(r'<select id="[^"]+" name="v.done"><option value="" selected>—</option><option value="true">true</option><option value="false">false</option></select>', html) is not None,
      "a boolean is a list (true, false), empty on a new row")
check('<option value="calm">calm</option><option value="busy">busy</option>' in html, "an enum lists its labels in order")
check('name="v.due" type="date"' in html and 'name="v.at" type="datetime-local"' in html and 'name="v.n" type="number"' in html
      and 'name="v.ratio" type="text" value="" inputmode="decimal"' in html, "dates, timestamps and numbers get typed inputs")
check('name="v.stamp" rows="1"' in html, "a timestamp with a time zone stays text (a picker cannot hold the zone)")
status, _, html = call(browser, "POST", new_row, {"_csrf": token, "action": "insert", "v.id": "1", "v.done": "true", "v.feeling": "busy",
                                                 "v.due": "2026-01-02", "v.at": "2026-01-02T03:04:05", "v.n": "7", "v.ratio": "0.25", "null.stamp": "on"})
check(status == 303 and sql("SELECT done, feeling::text, due::text, at::text, n::text, ratio::text FROM typed") == [[True, "busy", "2026-01-02", "2026-01-02 03:04:05", "7", "0.25"]],
      "the typed form inserts what the pickers send")
status, _, grid = call(browser, "GET", base + "&table=public.typed")
edit_typed = re.search(r'href="([^"]*/tables/row\?[^"]*key=[^"]*)"', grid).group(1).replace("&amp;", "&")
status, _, html = call(browser, "GET", edit_typed)
check(status == 200 and '<option value="true" selected>' in html and '<option value="busy" selected>' in html and 'value="2026-01-02T03:04:05"' in html,
      "the edit form shows the row in its typed controls")
status, headers, _ = call(browser, "POST", edit_typed, {"_csrf": token, "action": "update", "v.id": "1", "v.done": "true", "v.feeling": "busy",
                                                                         "v.due": "2026-01-02", "v.at": "2026-01-02T03:04:05", "v.n": "7", "v.ratio": "0.25", "null.stamp": "on"})
status, _, html = call(browser, "GET", headers.get("Location", base))
check("Nothing changed." in html, "saving the typed form unchanged changes nothing (the picker's T is the same instant)")

# CSV export matches the table.
status, headers, body = call(browser, "GET", f"/projects/{PROJECT}/tables/export.csv?branch=main&table=public.items")
rows = list(csv.reader(io.StringIO(body)))
expected = sql("SELECT id::text AS i, name, price::text AS p, note FROM items ORDER BY id")
check(status == 200 and "text/csv" in headers.get("Content-Type", "") and rows[0] == ["id", "name", "price", "note"], "CSV export has a header")
exported = [[c if c != "" else None for c in r] for r in rows[1:]]
check(exported == expected, f"CSV export matches the table ({len(rows) - 1} rows)"
      + ("" if exported == expected else f": first difference {next((a, b) for a, b in zip(exported + [None] * 200, expected) if a != b)}"))

# JSON export: one object per row, values typed as the API answers them.
status, headers, body = call(browser, "GET", f"/projects/{PROJECT}/tables/export.json?branch=main&table=public.items&sort=id.desc")
objects = json.loads(body)
check(status == 200 and "application/json" in headers.get("Content-Type", "") and "items.json" in headers.get("Content-Disposition", ""),
      "JSON export is a JSON attachment")
check(len(objects) == len(expected) and list(objects[0].keys()) == ["id", "name", "price", "note"] and objects[0]["id"] == int(expected[-1][0]),
      "JSON export has every row as an object, in the grid's sort")
by_id = {each["id"]: each for each in objects}
mismatched = [r for r in expected if (by_id.get(int(r[0]), {}).get("name"), by_id.get(int(r[0]), {}).get("note")) != (r[1], r[3])]
check(not mismatched and any(r[3] is None for r in expected) and all(isinstance(each["id"], int) for each in objects),
      "JSON export keeps text as written, NULL as null and numbers as numbers")
status, _, html = call(browser, "GET", base + "&table=public.items")
check('id="export-json"' in html, "the grid offers Export JSON")

# CSV import: preview, then insert in one transaction.
imported = 'id,name,price\n900,"imported, one",1.00\n901,"say ""hi""",\n'
status, _, html = call(browser, "POST", f"/projects/{PROJECT}/tables/import?branch=main&table=public.items", {"_csrf": token, "csv": imported, "header": "on", "step": "preview"})
check(status == 200 and "import-preview" in html and "imported, one" in html and 'value="name" selected' in html, "CSV import previews with a column mapping")
status, _, _ = call(browser, "POST", f"/projects/{PROJECT}/tables/import?branch=main&table=public.items",
                    {"_csrf": token, "csv": imported, "header": "on", "step": "insert", "map": ["id", "name", "price"]})
check(status == 303 and sql("SELECT name, price::text FROM items WHERE id IN (900, 901) ORDER BY id") == [["imported, one", "1.00"], ['say "hi"', None]], "CSV import inserts")
bad = "id,name\n950,ok\n951,\n"
status, _, html = call(browser, "POST", f"/projects/{PROJECT}/tables/import?branch=main&table=public.items", {"_csrf": token, "csv": bad, "header": "on", "step": "insert"})
check(status == 422 and "nothing was imported" in html and sql("SELECT count(*) FROM items WHERE id = 950") == [[0]], "a failing import inserts nothing")

# FK jump: a foreign key's value links to the referenced row, in the same branch.
status, _, html = call(browser, "GET", base + "&table=public.orders")
check(status == 200 and "FK → public.items.id" in html, "a foreign key column is marked with what it references")
jumps = re.findall(r'<a class="fk-jump" href="([^"]+)"', html)
check(len(jumps) == 1, f"a non-NULL foreign key value has a jump link, a NULL one none ({len(jumps)})")
jump = jumps[0].replace("&amp;", "&")
check("table=public.items" in jump and "filter=id.eq.3" in jump and "branch=main" in jump, "the jump opens the referenced table filtered to the row")
status, _, html = call(browser, "GET", jump)
check(status == 200 and grid_ids(html) == [3], "following the jump shows the referenced row alone")

# "As of": the table as it was before the edits above, read-only, from a temporary branch since deleted.
def branches():
    return {b["name"] for b in api("GET", f"/projects/{PROJECT}/branches")[1]["branches"]}


check(sql("SELECT count(*) FROM items WHERE id IN (1, 2)") == [[0]], "rows 1 and 2 are gone now")
status, _, html = call(browser, "GET", base + "&table=public.items&at=" + before_changes)
check(status == 200 and 'id="as-of-notice"' in html and "as of " + before_changes in html, "?at= shows the table as of that instant, marked read-only")
ids = grid_ids(html)
check(ids[:3] == [1, 2, 3], f"as of the instant, rows 1 and 2 are there again ({ids[:5]})")
check("data-editable" not in html and 'id="edit-bar"' not in html and 'id="import-csv"' not in html and 'id="new-row-link"' not in html
      and 'id="export-csv"' not in html, "as of an instant the grid has no editing controls")
next_page = link(html, "page-next")
check(next_page is not None and ("at=" + before_changes.replace(":", "%3A") in next_page or "at=" + before_changes in next_page),
      "the grid's links keep the instant")
check('name="at" value="' + before_changes + '"' in html and link(html, "as-of-now") is not None, "the as-of form shows the instant and a way back to now")
check(not any(b.startswith("asof-") for b in branches()), "the temporary branch of an as-of view is deleted")
status, _, html = call(browser, "GET", base + "&table=public.orders&at=" + before_changes)
as_of_jump = re.search(r'<a class="fk-jump" href="([^"]+)"', html)
check(status == 200 and as_of_jump is not None and "at=" in as_of_jump.group(1), "as of an instant, a foreign key's jump keeps the instant")
status, _, html = call(browser, "GET", base + "&table=public.items&at=" + before_changes[:16])
check(status == 200 and 'id="as-of-notice"' in html, "a form's datetime-local value (no zone, no seconds) reads as UTC")
status, _, html = call(browser, "GET", base + "&table=public.items&at=" + before_changes_lsn.lower())
check(status == 200 and 'id="as-of-notice"' in html and "as of " + before_changes_lsn in html and grid_ids(html)[:3] == [1, 2, 3],
      "?at= a WAL position (written in any case) shows the table as of that position")
status, _, html = call(browser, "GET", base + "&table=public.items&at=yesterday-ish")
check(status == 400, "a bad instant is a 400")

# A table without a primary key is read-only.
status, _, html = call(browser, "GET", base + "&table=public.log")
check(status == 200 and "no-key-notice" in html and "data-editable" not in html and "one" in html, "a table without a primary key is a read-only grid")

# Row and cell history: row 10 across two snapshots and now, each snapshot read on a temporary branch.
status, first = api("POST", f"/projects/{PROJECT}/snapshots", {"branch": "main", "name": "history-one"})
sql("UPDATE items SET price = 99 WHERE id = 10")
status2, _ = api("POST", f"/projects/{PROJECT}/snapshots", {"branch": "main", "name": "history-two"})
sql("UPDATE items SET note = '<b>later</b>' WHERE id = 10")
check(status == 201 and status2 == 201, "two snapshots taken around two changes of row 10")
status, _, html = call(browser, "GET", base + "&table=public.items&filter=id.eq.10")
history = re.search(r'<a href="([^"]+)" class="small" data-no-prefetch aria-label="History of row', html)
check(status == 200 and history is not None, "each row of the grid links to its history")
history = history.group(1).replace("&amp;", "&")
status, _, html = call(browser, "GET", history)
versions = re.findall(r'<tr class="[^"]*">\s*<th scope="row">(.*?)</tr>', html, re.S)
check(status == 200 and 'id="row-history"' in html and len(versions) >= 3, f"the history page lists the row's versions ({len(versions)})")
check("main now" in versions[0] and "1 cell changed" in versions[0] and '<ins aria-label="&lt;b&gt;later&lt;/b&gt;, changed from NULL">' in versions[0],
      "now: the note changed (escaped), marked with its old value")
check("history-two" in versions[1] and "1 cell changed" in versions[1] and '<ins aria-label="99.00, changed from 15.00">' in versions[1],
      "at snapshot history-two: the price changed")
check("history-one" in versions[2] and "<ins" not in versions[2] and "diff vs now" in versions[2], "at history-one: as before, with a diff link")
check(not any(b.startswith("history-") for b in branches()), "the temporary branches of the history are deleted")
# An instant of the point-in-time window, chosen on the page, joins the snapshots in time order.
check('id="history-instant"' in html and 'name="instant"' in html, "the history page offers to read the row at an instant")
status, _, html = call(browser, "GET", history + "&instant=" + before_changes)
versions = re.findall(r'<tr class="[^"]*">\s*<th scope="row">(.*?)</tr>', html, re.S)
labels = [v.split("<", 1)[0] for v in versions]
at = next((i for i, label in enumerate(labels) if "main at an instant" in label), None)
one = next((i for i, label in enumerate(labels) if "history-one" in label), None)
# Older than history-one (an hourly snapshot may land between the two when the test crosses the hour).
check(status == 200 and at is not None and one is not None and at > one, f"the instant is read, older than history-one ({labels})")
check(at is not None and ">15.00<" in versions[at] and "diff vs now" in versions[at] and "main%40" in versions[at],
      "at the instant: the row's old price, and a diff from main@instant")
check(f'name="instant" value="{before_changes}"' in html, "the form keeps the instants already read")
check(not any(b.startswith("history-") for b in branches()), "the instant's temporary branch is deleted too")
status, _, _ = call(browser, "GET", history + "&instant=2999-01-01T00:00:00Z")
check(status == 400, "an instant in the future is a 400")
status, _, html = call(browser, "GET", history + "&column=price")
heads = re.findall(r"title=\"This cell's history\">([^<]+)</a>", html)
check(status == 200 and heads == ["id", "price"] and "cell price" in html, f"column=price shows that cell's history alone ({heads})")

# A viewer: rows read through the read-only querySQL, no editing controls, POSTs refused.
viewer = client()
status, _, _ = console.sign_in(viewer, "viewer@example.com", PASSWORD)
check(status == 303, "the viewer signs in")
status, _, html = call(viewer, "GET", base + "&table=public.items")
check(status == 200 and 'id="viewer-read-only"' in html and 'id="table-grid"' in html and "public.items" in html,
      "a viewer sees the table list and the grid, marked read-only")
check('data-col="id">3</td>' in html, "a viewer sees the table's rows")
check("data-editable" not in html and 'id="edit-bar"' not in html and 'id="import-csv"' not in html and 'id="new-row-link"' not in html
      and "/tables/row?" not in html and 'id="no-key-notice"' not in html, "a viewer gets no editing controls")
status, headers, body = call(viewer, "GET", f"/projects/{PROJECT}/tables/export.csv?branch=main&table=public.items")
vrows = list(csv.reader(io.StringIO(body)))
check(status == 200 and vrows[0] == ["id", "name", "price", "note"] and len(vrows) - 1 == sql("SELECT count(*) FROM items")[0][0],
      "a viewer exports the table as CSV")
status, _, html = call(viewer, "GET", base + "&table=public.items&at=" + before_changes)
check(status == 200 and 'id="table-role-notice"' in html and 'id="table-grid"' not in html,
      "a viewer cannot view a table as of an instant (it needs a temporary branch)")
status, _, _ = call(viewer, "GET", f"/projects/{PROJECT}/tables/import?branch=main&table=public.items")
check(status == 403, "a viewer gets no import form")
status, _, _ = call(viewer, "GET", edit)
check(status == 403, "a viewer gets no row form")
status, _, _ = call(viewer, "GET", history)
check(status == 403, "a viewer gets no row history (it reads through temporary branches)")
vtoken = csrf_of(html)
status, _, body = call(viewer, "POST", save, headers={"Content-Type": "application/json", "X-CSRF-Token": vtoken}, body=json.dumps(batch).encode())
check(status == 403, "a viewer's save is refused")
status, _, _ = call(viewer, "POST", edit, {"_csrf": vtoken, "action": "delete"})
check(status == 403, "a viewer's row form POST is refused")
check(sql("SELECT count(*) FROM items WHERE id = 3") == [[1]], "the viewer changed nothing")
print("all table editor checks passed")
