"""Snapshots, backups, restore and the activity feed over plain HTTP, as a browser without
JavaScript uses them: take a snapshot, restore it in place, undo the restore from the activity
feed, back up now and verify, edit a schedule; a viewer sees no buttons and is refused.

Usage: backups_http.py BASE_URL ADMIN_KEY PROJECT MAIN_URL VIEWER_EMAIL VIEWER_PASSWORD OTHER_PROJECT
MAIN_URL is the Postgres URL of PROJECT's main branch (which has a table items(id, name) with
row 1 = 'original'). Prints one line per check and exits non-zero at the first failure."""
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from console_http_support import AdminAPI, Console, check, csrf_of, forms, hidden_fields

BASE, ADMIN_KEY, PROJECT, MAIN_URL, VIEWER_EMAIL, VIEWER_PASSWORD, OTHER = sys.argv[1:8]

console = Console(BASE, timeout=120)
client, call = console.client, console.call

HOSTILE = "<script>alert(1)</script>"


def psql(sql):
    result = subprocess.run(["psql", MAIN_URL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        check(False, f"psql {sql}", result.stderr)
    return result.stdout.strip()


def wait_for_job(opener, location):
    for _ in range(240):
        status, _, page = call(opener, "GET", location)
        check(status == 200, "the job page renders", page) if status != 200 else None
        if "data-job-running" not in page:
            return page
        time.sleep(0.5)
    check(False, f"the job at {location} finished within 2 minutes")


admin = client()
status, headers, _ = console.first_run(admin, ADMIN_KEY)
check(status == 303, "the admin signs in through the first-run screen")
backups_path = f"/projects/{PROJECT}/backups"
status, _, page = call(admin, "GET", backups_path)
check(status == 200 and 'id="take-snapshot"' in page and 'id="back-up-now"' in page, "the snapshots & backups page renders with its forms", page)
token = csrf_of(page)

# Take a snapshot from the page; a hostile name is refused and never becomes markup.
status, headers, _ = call(admin, "POST", backups_path + "/snapshots", {"_csrf": token, "branch": "main", "name": HOSTILE})
check(status == 303, "a hostile snapshot name is answered with a message")
status, _, page = call(admin, "GET", headers.get("Location", backups_path))
check(HOSTILE not in page, "the hostile name is not in the page unescaped", page)
check('class="flash error"' in page, "the refusal is shown on the page")
status, headers, _ = call(admin, "POST", backups_path + "/snapshots", {"_csrf": token, "branch": "main", "name": "before-change"})
check(status == 303, "taking a snapshot from the page")
status, _, page = call(admin, "GET", headers["Location"])
match = re.search(r'<tr data-snapshot="([0-9a-f]+)">\s*<th scope="row"><code>before-change', page)
check(match is not None and "taken in" in page, "the new snapshot is listed with its name and the flash says so", page)
snapshot = match.group(1)

# Pin it from the page (retention keeps it), then unpin it.
status, headers, _ = call(admin, "POST", f"{backups_path}/snapshots/{snapshot}/pin", {"_csrf": token, "pinned": "on"})
status, _, page = call(admin, "GET", headers.get("Location", backups_path))
row = page.split(f'<tr data-snapshot="{snapshot}">')[1].split("</tr>")[0]
check("Pinned snapshot" in page and '<span class="badge">pinned</span>' in row and ">Unpin<" in row, "pinning from the page marks the row", row)
status, headers, _ = call(admin, "POST", f"{backups_path}/snapshots/{snapshot}/pin", {"_csrf": token, "pinned": "off"})
status, _, page = call(admin, "GET", headers.get("Location", backups_path))
row = page.split(f'<tr data-snapshot="{snapshot}">')[1].split("</tr>")[0]
check("Unpinned snapshot" in page and "pinned</span>" not in row and ">Pin<" in row, "and unpinning", row)

status, _, page = call(admin, "GET", f"/projects/{PROJECT}/restore?restore=" + urllib.parse.quote(f"snapshot:{HOSTILE}"))
check(status == 404 and HOSTILE not in page and "&lt;script&gt;" in page, "a hostile restore point is a 404 shown escaped", page)

# Change the data, then restore in place from the page.
psql("update items set name = 'changed' where id = 1")
restore_path = f"/projects/{PROJECT}/restore"
status, _, page = call(admin, "GET", restore_path + "?restore=" + urllib.parse.quote(f"snapshot:{snapshot}"))
diff_link = f'/projects/{PROJECT}/diff?from={snapshot}&amp;to=main'
check(status == 200 and diff_link in page, "the restore preview links the diff of the snapshot against now", page)
check('id="restore-new"' in page and 'id="restore-in-place"' in page and "pre-restore" in page and "connection" in page,
      "the preview offers a new branch or in place, with the downtime and the safety snapshot spelled out", page)
form = {"_csrf": token, "target": f"snapshot:{snapshot}", "mode": "in-place", "branch": "main"}
status, _, page = call(admin, "POST", restore_path, form)
check(status == 200 and "Tick the box" in page and psql("select name from items where id = 1") == "changed",
      "an in-place restore without the confirmation is refused inline and changes nothing", page)
status, headers, _ = call(admin, "POST", restore_path, dict(form, confirm="on"))
check(status == 303 and "/restore/done?" in headers.get("Location", ""), "the in-place restore runs", str(headers))
done = headers["Location"]
check(psql("select name from items where id = 1") == "original", "the data is back as it was in the snapshot")
status, _, page = call(admin, "GET", done)
previous = re.search(r'<code id="previous-snapshot">([0-9a-f]+)</code>', page)
check(status == 200 and 'id="undo-restore"' in page and previous, "the result page offers Undo restore from the pre-restore snapshot", page)

# Undo the restore from the activity feed.
status, _, page = call(admin, "GET", f"/activity?project={PROJECT}")
check(status == 200 and "restoreSnapshot" in page and "createSnapshot" in page and ">console<" in page
      and f"main in place from snapshot {snapshot}" in page and "branch restore" in page,
      "the activity feed lists the console's snapshot and restore", page)
undo = [hidden_fields(f) for f in forms(page, "/activity/undo")]
restore_undo = next((f for f in undo if f.get("kind") == "restore" and f.get("snapshot") == previous.group(1)), None)
check(restore_undo is not None and restore_undo.get("branch") == "main", "the restore has an Undo naming its pre-restore snapshot", page)
merge_row = re.search(r'<code>merge</code>.*?</tr>', page, re.S)
check(merge_row and "POST /api/v1/projects/" in merge_row.group(0) and "Undo merge" in merge_row.group(0),
      "a merge made through the API is listed with its path and an Undo merge", merge_row.group(0) if merge_row else str(re.findall(r'<th scope="row"><code>([^<]+)</code>', page)))
status, headers, _ = call(admin, "POST", "/activity/undo", restore_undo)
check(status == 303, "Undo restore from the activity feed", str(headers))
check(psql("select name from items where id = 1") == "changed", "after the undo the changed data is back")
status, _, page = call(admin, "GET", headers["Location"])
check(status == 200 and "Restore undone" in page and 'id="undo-restore"' in page, "the undo says so, and can itself be undone", page)

# Undo a snapshot: the snapshot is deleted.
status, headers, _ = call(admin, "POST", backups_path + "/snapshots", {"_csrf": token, "branch": "main", "name": "undo-me"})
status, _, page = call(admin, "GET", f"/activity?project={PROJECT}")
undo = [hidden_fields(f) for f in forms(page, "/activity/undo")]
delete_undo = next((f for f in undo if f.get("kind") == "delete-snapshot"), None)
check(delete_undo is not None, "a snapshot taken has an Undo that deletes it", page)
status, headers, _ = call(admin, "POST", "/activity/undo", delete_undo)
status, _, page = call(admin, "GET", backups_path)
check(">undo-me" not in page and "before-change" in page, "undoing the snapshot deleted it, and only it", page)

# Back up now, watch the job, see the backup listed; verify it.
status, headers, _ = call(admin, "POST", backups_path + "/run", {"_csrf": token, "branch": "main"})
check(status == 303 and "/jobs/" in headers.get("Location", ""), "Back up now starts a job", str(headers))
page = wait_for_job(admin, headers["Location"])
backup = re.search(r'Backup <a href="[^"]+"><code>([^<]+)</code></a>', page)
check("state-succeeded" in page and backup, "the backup job succeeds and links its backup", page)
backup = backup.group(1)
status, _, page = call(admin, "GET", backups_path)
row = re.search(r'<tr data-backup="' + re.escape(backup) + r'">(.*?)</tr>', page, re.S)
check(row and re.search(r'state-(complete|succeeded)"', row.group(1)) and re.search(r'\d+(\.\d)? s<', row.group(1)) and "full" in row.group(1),
      "the backup is listed with status, sizes, duration and chain", row.group(1) if row else page)
service_key = re.search(r"id=\"backup-key\">New backups are encrypted with the service's key <code>([0-9a-f]{16})</code>", page)
check(service_key is not None and f"<code title=\"The fingerprint of the key it is encrypted with\">{service_key.group(1)}</code>" in row.group(1)
      and "other key" not in row.group(1), "the backup names its key's fingerprint, the service's own", page)
status, _, page = call(admin, "GET", f"{backups_path}/{backup}")
check(status == 200 and 'id="verify-backup"' in page and 'id="delete-backup"' in page, "the backup's page offers Verify and Delete to the admin", page)
check(f"<dt>Key</dt><dd><code>{service_key.group(1)}</code></dd>" in page, "the backup's page shows its key fingerprint", page)
download = re.search(r'<a class="button ghost" id="download-backup" href="([^"]+)" download>', page)
check(download is not None and f"branch backup export {backup} &gt;" in page, "the backup's page offers Download as SQL, with its CLI", page)
status, headers, dump = call(admin, "GET", download.group(1))
check(status == 200 and "attachment" in headers.get("Content-Disposition", "") and headers.get("Content-Type", "").startswith("application/sql")
      and "CREATE TABLE public.items" in dump and "COPY public.items" in dump, "the download is the backup's database as pg_dump SQL", dump[:2000])
# A download the browser drops after its first bytes: the service puts its throw-away server away (checked by the Swift test).
response = admin.open(urllib.request.Request(BASE + download.group(1)), timeout=120)
check(response.status == 200 and len(response.read(64)) == 64, "a second download starts")
response.close()
status, headers, _ = call(admin, "POST", f"{backups_path}/{backup}/verify", {"_csrf": token})
check(status == 303 and "/jobs/" in headers.get("Location", ""), "Verify starts a job", str(headers))
page = wait_for_job(admin, headers["Location"])
check('id="verify-result"' in page and "Verification OK" in page, "the verification shows OK", page)
status, _, page = call(admin, "GET", backups_path)
check("restored OK" in page, "the backups list shows the last verified restore", page)
# After a key rotation the backup was made with a retired key: flagged as such, and it still
# verifies (and, below, restores).
status, rotated = AdminAPI(BASE, ADMIN_KEY).call("POST", "/backup-key/rotate")
check(status == 200 and rotated.get("retiredID") == service_key.group(1), "the API rotates the backup key", str(rotated))
status, _, page = call(admin, "GET", backups_path)
row = re.search(r'<tr data-backup="' + re.escape(backup) + r'">(.*?)</tr>', page, re.S)
check(row is not None and "retired key" in row.group(1) and "other key" not in row.group(1) and f"<code>{rotated.get('id')}</code>" in page,
      "the backup is flagged as made with a retired key, and the page names the new key", page)
status, headers, _ = call(admin, "POST", f"{backups_path}/{backup}/verify", {"_csrf": token})
page = wait_for_job(admin, headers["Location"])
check("Verification OK" in page, "a backup made with a retired key still verifies", page)

# The schedule editor.
status, headers, _ = call(admin, "POST", backups_path + "/schedules/snapshot",
                          {"_csrf": token, "expression": "*/15 * * * *", "keep_last": "8", "hourly": "12", "daily": "5", "weekly": "2", "monthly": "1"})
check(status == 303, "saving the snapshot schedule")
status, _, page = call(admin, "GET", headers["Location"])
check('value="*/15 * * * *"' in page and "--keep-last 8 --hourly 12 --daily 5 --weekly 2 --monthly 1" in page,
      "the schedule editor shows the saved schedule and its CLI", page)
status, headers, _ = call(admin, "POST", backups_path + "/schedules/backup", {"_csrf": token, "expression": "61 * * * *"})
status, _, page = call(admin, "GET", headers["Location"])
check('class="flash error"' in page and "61" in page, "an invalid cron expression is refused with the reason", page)

# A restore to a new branch, from a snapshot and from the backup; each undoable by deleting the branch.
status, _, page = call(admin, "GET", backups_path + "?restore=" + urllib.parse.quote(f"snapshot:{snapshot}"))
check('id="open-connections"' in page and 'id="restore-in-place"' in page,
      "the timeline's snapshot link opens the restore flow, saying how many connections would drop", page)
status, headers, _ = call(admin, "POST", restore_path, {"_csrf": token, "target": f"snapshot:{snapshot}", "mode": "new", "as": "investigate"})
check(status == 303 and "branch=investigate" in headers.get("Location", ""), "restoring a snapshot to a new branch", str(headers))
status, _, page = call(admin, "GET", f"/projects/{PROJECT}/restore?restore=" + urllib.parse.quote(f"backup:{backup}"))
check(status == 200 and 'id="restore-backup-form"' in page and f"from=backup%3A{backup}" in page,
      "the backup's restore page offers a new branch and links its diff", page)
status, headers, _ = call(admin, "POST", f"{backups_path}/{backup}/restore", {"_csrf": token, "as": "from-backup", "target_project": PROJECT})
status, _, page = call(admin, "GET", headers.get("Location", "/"))
check("Tick the box" in page, "a backup restore without the confirmation is refused", page)
status, headers, _ = call(admin, "POST", f"{backups_path}/{backup}/restore", {"_csrf": token, "as": "from-backup", "target_project": PROJECT, "confirm": "on"})
check(status == 303 and "/jobs/" in headers.get("Location", ""), "restoring the backup starts a job", str(headers))
page = wait_for_job(admin, headers["Location"])
check("state-succeeded" in page and "from-backup" in page and "is ready" in page, "the backup is restored as a new branch", page)
status, _, page = call(admin, "GET", f"/activity?project={PROJECT}")
undo = [hidden_fields(f) for f in forms(page, "/activity/undo")]
branch_undos = {f.get("branch") for f in undo if f.get("kind") == "delete-branch"}
check({"investigate", "from-backup"} <= branch_undos, "both new branches have an Undo that deletes them", page)
status, headers, _ = call(admin, "POST", "/activity/undo", next(f for f in undo if f.get("kind") == "delete-branch" and f.get("branch") == "investigate"))
status, _, page = call(admin, "GET", headers["Location"])
check(status == 200 and "Undone: deleted branch investigate" in page, "undoing the restore to a new branch deleted it", page)
instant = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
status, _, page = call(admin, "GET", backups_path + "?restore_at=" + urllib.parse.quote(instant) + "&branch=main")
check(status == 200 and f"from=main%40{urllib.parse.quote(instant, safe='')}" in page and 'id="restore-new"' in page and 'id="restore-in-place"' not in page,
      "the timeline's point-in-time link previews with its diff and restores to a new branch", page)
status, headers, _ = call(admin, "POST", restore_path, {"_csrf": token, "target": f"at:{instant}", "branch": "main", "mode": "new", "as": "at-instant"})
check(status == 303 and "branch=at-instant" in headers.get("Location", ""), "restoring a point in time makes a branch there", str(headers))

# A viewer sees no buttons, and is refused when posting anyway.
viewer = client()
status, _, _ = console.sign_in(viewer, VIEWER_EMAIL, VIEWER_PASSWORD)
check(status == 303, "the viewer signs in")
status, _, page = call(viewer, "GET", backups_path)
check(status == 200 and "before-change" in page, "the viewer reads the snapshots & backups page", page)
check(all(marker not in page for marker in ['id="take-snapshot"', 'id="back-up-now"', "schedule-form", ">Delete<", "/delete\"", ">Pin<", "/pin\""]),
      "the viewer sees no write buttons", page)
viewer_token = csrf_of(page)
status, _, page = call(viewer, "GET", restore_path + "?restore=" + urllib.parse.quote(f"snapshot:{snapshot}"))
check(status == 200 and 'id="restore-in-place"' not in page and 'id="restore-new"' not in page, "the viewer's restore page has no restore forms", page)
status, _, page = call(viewer, "GET", f"{backups_path}/{backup}")
check(status == 200 and 'id="verify-backup"' not in page and 'id="delete-backup"' not in page, "the viewer sees the backup without Verify or Delete", page)
status, _, _ = call(viewer, "POST", backups_path + "/snapshots", {"_csrf": viewer_token, "branch": "main", "name": "sneaky"})
check(status == 403, "the viewer's snapshot POST is refused")
status, _, _ = call(viewer, "POST", restore_path, {"_csrf": viewer_token, "target": f"snapshot:{snapshot}", "mode": "in-place", "branch": "main", "confirm": "on"})
check(status == 403 and psql("select name from items where id = 1") == "changed", "the viewer's restore POST is refused and changes nothing")
status, _, _ = call(viewer, "POST", f"{backups_path}/{backup}/verify", {"_csrf": viewer_token})
check(status == 403, "the viewer's verify POST is refused")
status, _, page = call(viewer, "GET", f"{backups_path}/{backup}")
check('id="download-backup"' not in page, "the viewer sees no download")
status, _, _ = call(viewer, "GET", f"{backups_path}/{backup}/download.sql")
check(status == 403, "the viewer's download is refused")
status, _, _ = call(admin, "GET", f"/projects/{OTHER}/backups/{backup}/download.sql")
check(status == 404, "a backup downloaded through another project's URL is a 404")
status, _, _ = call(viewer, "POST", "/activity/undo", dict(restore_undo, _csrf=viewer_token))
check(status == 403, "the viewer's undo POST is refused")
status, _, page = call(viewer, "GET", "/activity")
check(status == 200 and 'id="journal-note"' in page and "/activity/undo" not in page,
      "the viewer's activity feed explains the audit log is for owners and offers no undo", page)
status, _, page = call(viewer, "GET", f"/projects/{OTHER}/backups")
check(status == 404, "another project's backups page is a 404 for the viewer")
status, _, _ = call(viewer, "POST", f"{backups_path}/{backup}/delete", {"_csrf": viewer_token})
check(status == 403, "the viewer's backup delete POST is refused")

# The admin deletes the backup.
status, headers, _ = call(admin, "POST", f"{backups_path}/{backup}/delete", {"_csrf": token})
status, _, page = call(admin, "GET", headers.get("Location", backups_path))
check(f'data-backup="{backup}"' not in page and "Deleted backup" in page, "the admin deletes the backup from its page", page)
print("all backups HTTP checks passed")
