"""The console's overview and branches pages over plain HTTP, as a browser without JavaScript uses
them: connection strings and the backup trust card, creating branches (from HEAD, from a snapshot,
the palette's ?new=1&at=), the branch detail's actions (stop, start, check out, reset, delete with a
typed confirmation), escaping, and a viewer who sees no write forms and is refused anyway.

Usage: overview_http.py BASE_URL ADMIN_KEY PROJECT VIEWER_EMAIL VIEWER_PASSWORD
Expects the project to have branches main and feature and a manual snapshot named before-change.
Prints one line per check and exits non-zero at the first failure."""
import datetime
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from console_http_support import Console, check, csrf_of, forms, hidden_fields

BASE, ADMIN_KEY, PROJECT, VIEWER, VIEWER_PASSWORD = sys.argv[1:6]

console = Console(BASE, timeout=120)
client, call = console.client, console.call

P = f"/projects/{PROJECT}"


def follow(opener, status, headers):
    """GETs where a 303 points (its flash message is shown there)."""
    check(status == 303, f"the form answers 303 (got {status})")
    return call(opener, "GET", headers.get("Location", "/"))


admin = client()
status, _, _ = console.first_run(admin, ADMIN_KEY)
check(status == 303, "the admin signs in through the first-run screen")

status, _, page = call(admin, "GET", P)
check(status == 200 and "<h1>shop</h1>" in page, "the overview renders")
token = csrf_of(page)
check('id="connection-strings"' in page and "postgres://" in page and f"{PROJECT}__main" in page and f"{PROJECT}__feature" in page,
      "the overview shows each branch's pooled connection string")
check('data-copy="postgres://' in page, "connection strings have copy buttons")
check('id="backup-trust"' in page and "Last verified restore" in page and "Encrypt" in page, "the backup trust card shows backups, verified restores and encryption")
check('id="branch-health"' in page and "state-running" in page, "the health table shows each branch's Postgres state")
check("before-change" in page, "the newest snapshots are listed")
check("project.create" in page, "recent activity lists the journal")
status, _, page = call(admin, "GET", P + "?branch=feature")
check(status == 200 and 'class="current-branch"' in page, "?branch= highlights a branch on the overview")

status, _, page = call(admin, "GET", P + "/branches")
check(status == 200 and 'id="branch-list"' in page and 'id="create-branch"' in page, "the branches page lists branches and has the create form")
check('<th scope="col">Last active</th>' in page, "the list says when each branch last had a client")
check(">feature</a>" in page and "main @ HEAD" in page, "a branch made from main says it came from main's HEAD")
check("branch create NAME --from main --project shop" in page, "the create form shows the equivalent CLI command")
snapshot = re.search(r'<option value="([^"]+)">before-change ', page)
check(snapshot is not None, "the create form offers the snapshots")
at = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
status, _, page = call(admin, "GET", P + "/branches?new=1&at=" + urllib.parse.quote(at))
check(status == 200 and re.search(r'id="source-time"[^>]*checked', page) and 'id="new-branch" open' in page,
      "?new=1&at= (the command palette) opens the form on \"from a time\"")
check(f'value="{at[:-1]}"' in page or 'type="datetime-local"' in page, "the instant is filled in (UTC)")

time.sleep(1.2)
before_from_web = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
time.sleep(1.2)
status, headers, _ = call(admin, "POST", P + "/branches", {"_csrf": token, "name": "from-web", "source": "head", "from": "main"})
check(headers.get("Location") == P + "/branches/from-web", "creating a branch from HEAD redirects to it")

status, _, page = call(admin, "GET", headers["Location"])
check(status == 200 and "Created branch from-web" in page and "<h1>Branch from-web</h1>" in page, "its detail page shows the flash and the branch")
check(f'href="{P}/diff?from=main&amp;to=from-web"' in page, "\"compare to parent\" links to the diff page")
check("postgres://" in page and 'id="delete-branch"' in page and 'id="reset-branch"' in page, "the detail page has connection strings and actions")

# The overview as it was before from-web: historical, read-only, without it and without connection strings.
status, _, page = call(admin, "GET", P + "?at=" + before_from_web)
main_part = page[page.find("<main"):]
check(status == 200 and 'id="overview-historical"' in page and before_from_web in page and "/branches/feature" in main_part
      and "/branches/from-web" not in main_part, "?at= shows the overview as it was: from-web did not exist yet")
check('id="connection-strings"' not in page and 'method="post"' not in main_part and 'class="historical"' in page,
      "a historical overview is tinted, read-only and shows no connection strings")
status, _, page = call(admin, "GET", P + "?at=not-a-time")
check(status == 400, "a bad instant is a 400")

status, headers, _ = call(admin, "POST", P + "/branches", {"_csrf": token, "name": "from-snapshot", "source": "snapshot", "snapshot": snapshot.group(1)})
check(headers.get("Location") == P + "/branches/from-snapshot", "creating a branch from a snapshot")
status, _, page = call(admin, "GET", P + "/branches")
check("snapshot before-change" in page, "the list says the branch came from the snapshot")

status, headers, _ = call(admin, "POST", P + "/branches", {"_csrf": token, "name": "<script>alert(1)</script>", "source": "head"})
status, _, page = follow(admin, status, headers)
check(status == 200 and "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page, "a hostile branch name is refused and shown escaped")
status, headers, _ = call(admin, "POST", P + "/branches", {"_csrf": token, "name": "too-early", "source": "time", "from": "main", "at": "2001-01-01T00:00:00"})
status, _, page = follow(admin, status, headers)
check('class="flash error"' in page and "point_not_restorable" in page, "an instant outside the window is refused with the API's reason")

detail = P + "/branches/from-web"
status, headers, _ = call(admin, "POST", detail + "/stop", {"_csrf": token})
status, _, page = follow(admin, status, headers)
check("Stopped from-web" in page and "state-stopped" in page and 'id="start-branch"' in page, "stop, then the page offers start")
status, headers, _ = call(admin, "POST", detail + "/start", {"_csrf": token})
status, _, page = follow(admin, status, headers)
check("Started from-web" in page and "state-running" in page, "start")
status, headers, _ = call(admin, "POST", detail + "/checkout", {"_csrf": token})
status, _, page = follow(admin, status, headers)
check("now reaches from-web" in page and 'id="checkout-branch"' not in page, "check out")
status, headers, _ = call(admin, "POST", P + "/branches/main/checkout", {"_csrf": token})
check(status == 303, "check main out again")
status, headers, _ = call(admin, "POST", detail + "/reset", {"_csrf": token})
status, _, page = follow(admin, status, headers)
check("Reset from-web from main" in page, "reset from parent")

status, headers, _ = call(admin, "POST", P + "/branches", {"_csrf": token, "name": "doomed", "source": "head"})
check(status == 303, "create a branch to delete")
# Protection and a time to live, from the detail page.
status, headers, _ = call(admin, "POST", P + "/branches/doomed/protect", {"_csrf": token})
status, _, page = follow(admin, status, headers)
check("Protected doomed" in page and 'id="unprotect-branch"' in page and '<span class="badge">protected</span>' in page, "protect from the detail page")
status, headers, _ = call(admin, "POST", P + "/branches/doomed/delete", {"_csrf": token, "confirm": "doomed"})
status, _, page = follow(admin, status, headers)
check('class="flash error"' in page and "is protected" in page and "<h1>Branch doomed</h1>" in page, "a protected branch is not deleted")
status, headers, _ = call(admin, "POST", P + "/branches/doomed/unprotect", {"_csrf": token})
status, headers, _ = call(admin, "POST", P + "/branches/doomed/expire", {"_csrf": token, "ttl": "604800"})
status, _, page = follow(admin, status, headers)
check("doomed is deleted at" in page and 'id="protect-branch"' in page and ("6 d left" in page or "7 d left" in page), "a time to live set from the detail page", page[:0])
status, _, page = call(admin, "GET", P + "/branches")
check('id="branch-schema-only"' in page and 'id="branch-ttl"' in page and ("6 d left" in page or "7 d left" in page), "the list shows the time left and the form offers a time to live")
# Rename from the detail page: the page moves with the name; refusals are shown inline.
status, _, page = call(admin, "GET", P + "/branches/main")
check('id="rename-branch"' not in page and 'id="rename-refused"' in page, "main offers no rename, and says why")
status, _, page = call(admin, "GET", P + "/branches/doomed")
check('id="rename-branch"' in page and "branch rename doomed NEW-NAME" in page, "the detail page offers a rename, with its command")
status, headers, _ = call(admin, "POST", P + "/branches/doomed/rename", {"_csrf": token, "name": "main"})
status, _, page = follow(admin, status, headers)
check('class="flash error"' in page and "branch_exists" in page and "<h1>Branch doomed</h1>" in page, "a name already taken is refused inline")
status, headers, _ = call(admin, "POST", P + "/branches/doomed/rename", {"_csrf": token, "name": "<b>x</b>"})
status, _, page = follow(admin, status, headers)
check('class="flash error"' in page and "<b>x</b>" not in page and "<h1>Branch doomed</h1>" in page, "an invalid name is refused, shown escaped")
status, headers, _ = call(admin, "POST", P + "/branches/doomed/rename", {"_csrf": token, "name": "doomed-too"})
check(headers.get("Location") == P + "/branches/doomed-too", "rename redirects to the new name's page")
status, _, page = call(admin, "GET", headers["Location"])
check("Renamed doomed to doomed-too" in page and "<h1>Branch doomed-too</h1>" in page and "state-running" in page, "the renamed branch runs under its new name")
status, _, _ = call(admin, "GET", P + "/branches/doomed")
check(status == 404, "the old name's page is a 404")
# The activity feed offers to undo the rename by renaming back.
status, _, page = call(admin, "GET", "/activity?project=shop")
undo = [hidden_fields(f) for f in forms(page, "/activity/undo") if 'name="kind" value="rename-back"' in f]
check(len(undo) == 1 and undo[0].get("branch") == "doomed-too" and undo[0].get("name") == "doomed", "the activity feed offers Undo: rename back", page[:0])
status, headers, _ = call(admin, "POST", "/activity/undo", {**undo[0], "_csrf": token})
status, _, page = follow(admin, status, headers)
check("Undone: renamed doomed-too back to doomed." in page, "undo the rename")
status, _, page = call(admin, "GET", P + "/branches/doomed")
check(status == 200 and "<h1>Branch doomed</h1>" in page, "the branch has its old name again")
# The overview's recent activity offers the same undo, and its form comes back to the overview.
status, _, page = call(admin, "GET", P)
undo = [hidden_fields(f) for f in forms(page.split('id="recent-activity"')[1], "/activity/undo") if 'value="rename-back"' in f]
check(len(undo) == 1 and undo[0].get("branch") == "doomed" and undo[0].get("name") == "doomed-too" and undo[0].get("return_to") == P,
      "the overview offers Undo: rename back, returning to itself", page[:0])
status, headers, _ = call(admin, "POST", "/activity/undo", {**undo[0], "_csrf": token})
check(headers.get("Location") == P, "an undo from the overview comes back to it")
status, _, page = call(admin, "GET", P)
check("Undone: renamed doomed back to doomed-too." in page, "and says what it did")
status, headers, _ = call(admin, "POST", P + "/branches/doomed-too/rename", {"_csrf": token, "name": "doomed"})
check(headers.get("Location") == P + "/branches/doomed", "renamed to doomed again")
status, headers, _ = call(admin, "POST", P + "/branches/doomed/delete", {"_csrf": token, "confirm": "wrong"})
status, _, page = follow(admin, status, headers)
check('class="flash error"' in page and "<h1>Branch doomed</h1>" in page, "delete without the typed name is refused and nothing is deleted")
status, headers, _ = call(admin, "POST", P + "/branches/doomed/delete", {"_csrf": token, "confirm": "doomed"})
check(headers.get("Location") == P + "/branches", "delete with the typed name")
status, _, page = call(admin, "GET", headers["Location"])
check("Deleted branch doomed" in page and ">doomed</a>" not in page, "the list no longer has it")
status, _, page = call(admin, "GET", P + "/branches/doomed")
check(status == 404, "a deleted branch's page is a 404")

status, _, page = call(admin, "GET", "/projects/nothere/branches")
check(status == 404, "another project's branches page is a 404")
status, _, page = call(admin, "POST", "/projects/nothere/branches", {"_csrf": token, "name": "x", "source": "head"})
check(status == 404, "creating a branch in an unknown project is a 404")

viewer = client()
status, headers, _ = console.sign_in(viewer, VIEWER, VIEWER_PASSWORD)
check(status == 303, "the viewer signs in")
status, _, page = call(viewer, "GET", P)
vtoken = csrf_of(page)
check(status == 200 and "password hidden" in page and "postgres://" not in page, "a viewer sees where to connect, without the password")
check("/activity/undo" not in page, "a viewer's overview offers no undo")
status, _, page = call(viewer, "GET", P + "/branches")
check(status == 200 and 'id="create-branch"' not in page and ">from-web</a>" in page, "a viewer sees the branches but no create form")
status, _, page = call(viewer, "GET", detail)
check(status == 200 and "<form" not in page.split('id="main"')[1].split("</main>")[0], "a viewer's branch page has no action forms")
status, _, _ = call(viewer, "POST", P + "/branches", {"_csrf": vtoken, "name": "sneaky", "source": "head"})
check(status == 403, "a viewer who posts the create form anyway is refused (403)")
status, _, _ = call(viewer, "POST", detail + "/delete", {"_csrf": vtoken, "confirm": "from-web"})
check(status == 403, "a viewer who posts delete anyway is refused (403)")
status, _, _ = call(viewer, "POST", detail + "/stop", {"_csrf": vtoken})
check(status == 403, "a viewer who posts stop anyway is refused (403)")
status, _, _ = call(viewer, "POST", detail + "/protect", {"_csrf": vtoken})
check(status == 403, "a viewer who posts protect anyway is refused (403)")
status, _, _ = call(viewer, "POST", detail + "/rename", {"_csrf": vtoken, "name": "stolen"})
check(status == 403, "a viewer who posts rename anyway is refused (403)")
print("all overview and branches checks passed")
