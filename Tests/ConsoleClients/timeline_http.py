"""The console's timeline over plain HTTP, as a browser without JavaScript uses it: a lane per
branch with fork edges, a dot per snapshot, backup markers, the point-in-time band's links, the
filters, the point panel's actions (query, branch, diff, restore), two-point selection, "Branch
here" at an instant, escaping, and a viewer who gets no write forms and is refused anyway.

Usage: timeline_http.py BASE_URL ADMIN_KEY PROJECT VIEWER_EMAIL VIEWER_PASSWORD SNAPSHOTS INSTANT
Expects branches main and feature (from main), SNAPSHOTS snapshots (one named checkpoint-a) and a
backup of main; INSTANT is an ISO 8601 instant inside main's point-in-time window.
Prints one line per check and exits non-zero at the first failure."""
import html as htmlmod
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from console_http_support import Console, check, csrf_of

BASE, ADMIN_KEY, PROJECT, VIEWER, VIEWER_PASSWORD, SNAPSHOTS, INSTANT = sys.argv[1:8]

console = Console(BASE, timeout=300)
client, call = console.client, console.call

P = f"/projects/{PROJECT}"
T = P + "/timeline"


def href(page, element_id):
    match = re.search(r'<a [^>]*href="([^"]+)"[^>]*id="' + element_id + '"', page) or re.search(r'<a [^>]*id="' + element_id + r'"[^>]*href="([^"]+)"', page)
    return htmlmod.unescape(match.group(1)) if match else None


def drawing(page):
    """The timeline's SVG alone (the legend below it uses the same classes)."""
    return page.split('<svg class="timeline" id="timeline"')[1].split("</svg>")[0]


def form_fields(page, form_id):
    match = re.search(r'<form [^>]*id="' + form_id + r'"[^>]*>(.*?)</form>', page, re.S)
    if not match:
        return None
    fields = {}
    for tag in re.findall(r"<input [^>]*>", match.group(1)):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = htmlmod.unescape(value.group(1)) if value else ""
    return fields


admin = client()
status, _, _ = console.first_run(admin, ADMIN_KEY)
check(status == 303, "the admin signs in through the first-run screen")

started = time.monotonic()
status, _, page = call(admin, "GET", T)
elapsed = time.monotonic() - started
check(status == 200 and '<svg class="timeline" id="timeline"' in page, f"the timeline renders a server-side SVG ({elapsed * 1000:.0f} ms)")
lanes = re.findall(r'<g class="lane-group[^"]*" data-lane="([^"]+)"', page)
check(lanes == ["main", "feature"], f"a lane per branch, children under their parent ({lanes})")
check(page.count('class="fork"') == 1, "feature's fork edge leaves main's lane")
dots = re.findall(r'<a href="([^"]+)" class="point" data-snapshot="([^"]+)"', page)
check(len(dots) >= int(SNAPSHOTS), f"a dot per snapshot ({len(dots)} dots, {SNAPSHOTS} snapshots)")
check(len(set(d[1] for d in dots)) == len(dots), "each snapshot is drawn once")
check("kind-manual" in drawing(page) and "kind-base" in drawing(page) and "<title>Snapshot checkpoint-a" in page, "dots are classed by kind and carry a title for hover")
check('class="backup-marker"' in page and "encrypted</title>" in page, "backups are markers")
stretches = re.findall(r'<a href="([^"]+)" class="stretch" data-at="([^"]+)" data-lane="([^"]+)"', page)
check(any(s[2] == "main" for s in stretches) and any(s[2] == "feature" for s in stretches), "each lane has a clickable point-in-time band")
check('src="/assets/timeline.js?v=' in page, "the page loads its zoom-and-hover module")
status, _, script = call(admin, "GET", "/assets/timeline.js")
check(status == 200 and len(script.encode()) <= 10 * 1024, f"timeline.js is at most 10 KB ({len(script.encode())} bytes)")

status, _, filtered = call(admin, "GET", T + "?hide_auto=1")
check("kind-automatic" not in drawing(filtered) and "kind-base" not in drawing(filtered) and "kind-manual" in drawing(filtered), "hide automatic snapshots")
status, _, searched = call(admin, "GET", T + "?q=feat")
check(re.findall(r'<g class="lane-group[^"]*" data-lane="([^"]+)"', searched) == ["feature"], "search branches")
status, _, hostile = call(admin, "GET", T + "?q=" + urllib.parse.quote("<script>alert(1)</script>") + "&at=" + urllib.parse.quote(INSTANT) + "&lane=" + urllib.parse.quote("<b>x</b>"))
check(status == 200 and "<script>alert(1)</script>" not in hostile and "<b>x</b>" not in hostile and "&lt;script&gt;" in hostile, "text from the URL is escaped")

snapshot_href = next(h for h, i in dots if "checkpoint" in page.split(f'data-snapshot="{i}"')[1][:400])
status, _, panel = call(admin, "GET", htmlmod.unescape(snapshot_href))
check(status == 200 and 'id="point-panel"' in panel and "checkpoint-a" in panel, "a dot opens its point panel")
query = href(panel, "query-here")
check(query is not None and query.startswith(P + "/sql?branch=main&at="), "Query here opens the SQL editor at that point")
restore = href(panel, "restore-here")
check(restore is not None and restore.startswith(P + "/backups?restore=snapshot%3A"), "Restore to here links to the restore flow")
check(f'{P}/diff?from=' in panel and "to=main" in panel, "Diff against… links to the diff page")
check('id="branch-here"' in panel, "Branch here is offered")
select_a = href(panel, "select-a")
status, _, page_a = call(admin, "GET", select_a)
check(status == 200 and 'id="timeline-selection"' in page_a and "selected-a" in page_a, "Select as A marks the dot")

instant_point = T + "?" + urllib.parse.urlencode({"a": urllib.parse.parse_qs(urllib.parse.urlparse(select_a).query)["a"][0], "at": INSTANT, "lane": "main"})
status, _, panel = call(admin, "GET", instant_point)
check(status == 200 and 'id="point-panel"' in panel and "main at " in panel, "a point inside the band opens its panel (?at=&lane=)")
check(href(panel, "query-here") == f"{P}/sql?branch=main&at=" + urllib.parse.quote(INSTANT, safe=""), "Query here carries the instant")
check(href(panel, "tables-here") == f"{P}/tables?branch=main&at=" + urllib.parse.quote(INSTANT, safe="")
      and href(panel, "schema-here") == f"{P}/database?branch=main&at=" + urllib.parse.quote(INSTANT, safe="")
      and href(panel, "overview-here") == f"{P}?at=" + urllib.parse.quote(INSTANT, safe=""),
      "Tables then, Schema then and Overview then open those pages at the instant")
check(href(panel, "restore-here") == f"{P}/backups?restore_at=" + urllib.parse.quote(INSTANT, safe="") + "&branch=main", "Restore to here carries the instant and branch")
check(f"from=main%40{urllib.parse.quote(INSTANT, safe='')}&amp;to=main" in panel, "Diff against uses the diff API's BRANCH@INSTANT syntax")
select_b = href(panel, "select-b")
status, _, both = call(admin, "GET", select_b)
diff = href(both, "diff-two-points")
check(diff is not None and diff.startswith(P + "/diff?from=") and f"&to=main%40{urllib.parse.quote(INSTANT, safe='')}" in diff, "two selected points give a \"Diff these two points\" link")
check('class="pin"' in both, "the selected instant is pinned on its lane")

fields = form_fields(panel, "branch-here")
check(fields is not None and fields["source"] == "time" and fields["at"] == INSTANT and fields["from"] == "main", "the Branch here form carries the instant")
fields["name"] = "from-timeline"
status, headers, _ = call(admin, "POST", P + "/branches", fields)
check(status == 303 and headers.get("Location") == P + "/branches/from-timeline", "Branch here creates the branch at that instant")
status, _, page = call(admin, "GET", headers["Location"])
check("Created branch from-timeline from main as of" in page, "the new branch's page says where it came from")
status, _, page = call(admin, "GET", P + "/branches")
check(f"main @ {INSTANT[:16]}" in page, "the branches list says the new branch came from main at that instant", INSTANT)
status, _, page = call(admin, "GET", T)
check(re.findall(r'<g class="lane-group[^"]*" data-lane="([^"]+)"', page) == ["main", "feature", "from-timeline"], "the new branch gets a lane")

viewer = client()
status, _, _ = console.sign_in(viewer, VIEWER, VIEWER_PASSWORD)
check(status == 303, "the viewer signs in")
status, _, page = call(viewer, "GET", T)
check(status == 200 and page.count('class="lane-group') == 3, "a viewer sees the timeline")
status, _, panel = call(viewer, "GET", instant_point)
check(status == 200 and 'id="point-panel"' in panel and 'id="branch-here"' not in panel and 'id="restore-here"' not in panel and 'id="query-here"' in panel,
      "a viewer's point panel offers only reading: query and diff")
status, _, _ = call(viewer, "POST", P + "/branches", {"_csrf": csrf_of(panel), "name": "sneaky", "source": "time", "from": "main", "at": INSTANT})
check(status == 403, "a viewer who posts Branch here anyway is refused (403)")
status, _, _ = call(viewer, "GET", "/projects/nothere/timeline")
check(status == 404, "another project's timeline is a 404")
print("all timeline checks passed")
