"""Keys & settings, instance settings, auth users and the database page over plain HTTP, as a
browser without JavaScript uses them: rotating keys from the page (the data API refuses the old
anon key afterwards and takes the new one), an allowlist with an invalid CIDR (inline error) and a
valid one, a console user made a viewer who sees no settings form and whose POSTs are refused, the
database page listing a table and escaping hostile names, and the auth users page.

Usage: settings_http.py BASE_URL ADMIN_KEY PROJECT
Prints one line per check and exits non-zero at the first failure."""
import base64
import datetime
import hashlib
import hmac
import html as htmllib
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from console_http_support import ADMIN_PASSWORD, AdminAPI, Console, check, csrf_of

BASE, ADMIN_KEY, PROJECT = sys.argv[1], sys.argv[2], sys.argv[3]

console = Console(BASE, timeout=60)
client, call = console.client, console.call

HOSTILE = "<script>alert(1)</script>"


def rest(key):
    """The data API with `key`: the status of a read of the project's items table."""
    request = urllib.request.Request(f"{BASE}/p/{PROJECT}/rest/v1/items?select=id", headers={"apikey": key, "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


admin = client()
status, _, _ = console.first_run(admin, ADMIN_KEY)
check(status == 303, "the first run signs the admin in")
settings = f"/projects/{PROJECT}/settings"

# Keys: masked with reveal, rotated from the page; the data API follows.
status, _, page = call(admin, "GET", settings)
check(status == 200 and 'id="rotate-keys"' in page and "branch keys rotate" in page, "the settings page shows the keys with the CLI equivalent", page)
token = csrf_of(page)
old_anon = htmllib.unescape(re.search(r'data-key-role="anon">([^<]+)<', page).group(1))
check(rest(old_anon) == 200, "the data API takes the current anon key")
status, _, page = call(admin, "POST", settings + "/keys/rotate", {"_csrf": token})
check(status == 200 and 'id="new-anon-key"' in page, "rotating from the page shows the new keys once", page)
new_anon = htmllib.unescape(re.search(r'id="new-anon-key">([^<]+)<', page).group(1))
check(new_anon != old_anon, "the new anon key differs")
check(rest(old_anon) == 401, "the data API refuses the old anon key")
check(rest(new_anon) == 200, "the data API takes the new anon key")

# Allowlist: an invalid CIDR is an inline error, a valid list is saved.
status, _, page = call(admin, "POST", settings + "/allowlist", {"_csrf": token, "allowlist": "10.1.2.3/8"})
check(status == 400 and "invalid_cidr" in page and 'id="allowlist-error"' in page and "10.1.2.3/8" in page, "an invalid CIDR is shown inline with invalid_cidr", page)
status, headers, _ = call(admin, "POST", settings + "/allowlist", {"_csrf": token, "allowlist": "127.0.0.0/8\n::1/128"})
check(status == 303, "a valid allowlist is saved")
status, _, page = call(admin, "GET", settings)
check("<code>127.0.0.0/8</code>" in page, "the page shows the saved allowlist", page)

# Limits: saved and shown.
status, _, _ = call(admin, "POST", settings + "/limits", {"_csrf": token, "max_connections": "", "suspend_after": "600"})
check(status == 303, "scale-to-zero settings are saved")
status, _, page = call(admin, "GET", settings)
check('id="suspend-after" name="suspend_after" inputmode="numeric" value="600"' in page, "the page shows the new suspend delay", page)

# Branch defaults: saved, shown, and preselected in the create-branch form, which can still say otherwise.
status, _, _ = call(admin, "POST", settings + "/branch-defaults", {"_csrf": token, "new_branch_ttl": "86400", "protect_new_branches": "on"})
check(status == 303, "branch defaults are saved")
status, _, page = call(admin, "GET", settings)
check('<option value="86400" selected>' in page and 'id="protect-new-branches" name="protect_new_branches" checked' in page,
      "the settings page shows the branch defaults", page)
branches = f"/projects/{PROJECT}/branches"
status, _, page = call(admin, "GET", branches + "?new=1")
check('<option value="86400" selected>' in page and 'id="branch-protect" name="protected" checked' in page
      and "deleted after 1d, protected" in page, "the create-branch form starts from the defaults", page)
status, headers, _ = call(admin, "POST", branches, {"_csrf": token, "name": "chosen", "source": "head", "ttl": "0", "protected_shown": "1"})
check(status == 303, "a branch made with the defaults unchosen in the form")
status, _, page = call(admin, "GET", branches + "/chosen")
check(status == 200 and 'id="protect-branch"' in page and "until deleted" in page, "it is neither protected nor given a time to live", page)
status, _, page = call(admin, "POST", settings + "/branch-defaults", {"_csrf": token, "new_branch_ttl": "99999999"})
check(status == 400 and 'id="branch-defaults-error"' in page and "invalid_request" in page, "a time to live over a year is refused inline", page)
status, _, _ = call(admin, "POST", settings + "/branch-defaults", {"_csrf": token, "new_branch_ttl": "0"})
status, _, page = call(admin, "GET", settings)
check(status == 200 and '<option value="0" selected>never (keep them)' in page and 'name="protect_new_branches" checked' not in page,
      "the defaults are cleared again", page)

# Instance settings: a console user, shown its generated password once, made a viewer of the project.
status, _, page = call(admin, "GET", "/settings")
check(status == 200 and 'id="create-user"' in page and 'id="create-token"' in page, "the instance admin sees the instance settings", page)
pool = page.split('id="pool"')[1].split("</section>")[0] if 'id="pool"' in page else ""
check('class="pool-bar"' in pool and re.search(r"of [0-9.]+ [KMGT]iB used \([0-9]+%\)", pool) and 'class="pool-part pool-branches"' in pool
      and "pool_full" in pool and 'class="pool-reserve"' in pool, "the pool card: how full, what uses it, where the guard refuses", pool)
check('id="pool-largest"' in pool and "<code>branch " in pool and "branch delete main" not in pool, "the pool card lists what frees the most space, with the command", pool)
status, _, page = call(admin, "POST", "/settings/users", {"_csrf": token, "email": "viewer@example.com"})
check(status == 201 and 'id="secret-value"' in page, "creating a console user shows its password once", page)
password = htmllib.unescape(re.search(r'id="secret-value">([^<]+)<', page).group(1))
status, _, page = call(admin, "POST", "/settings/tokens", {"_csrf": token, "name": "ci", "project": PROJECT, "role": "viewer", "expires_days": "1"})
check(status == 201 and 'id="secret-value"' in page, "creating a token shows it once", page)
status, _, page = call(admin, "POST", settings + "/members", {"_csrf": token, "email": "viewer@example.com", "role": "viewer"})
check(status == 303, "the user becomes a viewer of the project")
status, _, page = call(admin, "GET", settings)
check("viewer@example.com" in page, "the members list shows them", page)
status, _, page = call(admin, "POST", settings + "/members", {"_csrf": token, "email": "nobody@example.com", "role": "viewer"})
check(status in (400, 404) and 'class="field-error"' in page and 'id="set-member"' in page, "an unknown user is an error beside the members form", page)

# Alert channels of the project, and the instance's backup key.
status, _, _ = call(admin, "POST", settings + "/alerts", {"_csrf": token, "kind": "webhook", "url": "https://alerts.example.org/branch"})
check(status == 303, "a project webhook is set")
status, _, page = call(admin, "GET", settings)
check("https://alerts.example.org" in page and 'action="/projects/' + PROJECT + '/settings/alerts/remove"' in page, "the webhook is listed with its remove button", page)
status, _, _ = call(admin, "POST", settings + "/alerts/remove", {"_csrf": token, "kind": "webhook"})
check(status == 303, "the webhook is removed")
status, _, page = call(admin, "GET", settings)
check("https://alerts.example.org" not in page, "the webhook is gone", page[page.find('id="alerts"'):])
status, _, _ = call(admin, "POST", "/settings/backup-key/acknowledge", {"_csrf": token})
check(status == 303, "acknowledging the backup key's copy")
status, _, page = call(admin, "GET", "/settings")
check("acknowledged 20" in page and 'id="acknowledge-backup-key"' not in page, "the backup key shows as acknowledged", page)
# The key itself, for copying it off the server without SSH: only with the admin's password, shown once, audited.
fingerprint = re.search(r"<dt>Fingerprint</dt><dd><code>([0-9a-f]{16})</code>", page).group(1)
status, headers, _ = call(admin, "POST", "/settings/backup-key/reveal", {"_csrf": token, "password": "not my password"})
check(status == 303, "a wrong password does not show the backup key")
status, _, page = call(admin, "GET", headers["Location"])
check("That is not your password: the key was not shown." in page and 'id="secret-value"' not in page, "and says so", page)
status, headers, page = call(admin, "POST", "/settings/backup-key/reveal", {"_csrf": token, "password": ADMIN_PASSWORD})
shown = re.search(r'<code class="secret" id="secret-value">([A-Za-z0-9+/=]+)</code>', page)
check(status == 201 and shown and headers.get("Cache-Control") == "no-store", "the admin's password shows the key, on a page not cached", page)
key = base64.b64decode(shown.group(1))
check(len(key) == 32 and hmac.new(key, b"branch-backup-key-id", hashlib.sha256).hexdigest()[:16] == fingerprint,
      "the key shown is the one whose fingerprint the settings page shows")
audit = AdminAPI(BASE, ADMIN_KEY).call("GET", "/audit")[1].get("entries", [])
check(any(entry.get("action") == "revealBackupKey" and entry.get("outcome") == "ok" for entry in audit), "showing the key is in the audit log")
# Rotating it: behind the password too; the new key is shown once, the old one listed as retired.
status, headers, _ = call(admin, "POST", "/settings/backup-key/rotate", {"_csrf": token, "password": "not my password"})
status, _, page = call(admin, "GET", headers["Location"])
check("That is not your password: the key was not rotated." in page and f"<code>{fingerprint}</code>" in page
      and 'id="retired-backup-keys"' not in page, "a wrong password rotates nothing", page)
status, headers, page = call(admin, "POST", "/settings/backup-key/rotate", {"_csrf": token, "password": ADMIN_PASSWORD})
shown = re.search(r'<code class="secret" id="secret-value">([A-Za-z0-9+/=]+)</code>', page)
check(status == 201 and shown and headers.get("Cache-Control") == "no-store" and "New backup key" in page and fingerprint in page,
      "rotating shows the new key once, naming the retired one", page)
new_key = base64.b64decode(shown.group(1))
new_fingerprint = hmac.new(new_key, b"branch-backup-key-id", hashlib.sha256).hexdigest()[:16]
status, _, page = call(admin, "GET", "/settings")
retired = page[page.find('id="retired-backup-keys"'):]
check(f"<dt>Fingerprint</dt><dd><code>{new_fingerprint}</code>" in page and 'id="acknowledge-backup-key"' in page
      and f"<code>{fingerprint}</code>" in retired[:retired.find("</table>")],
      "the settings page shows the new key, asks for its copy again, and lists the old one as retired", page[page.find('id="backup-key"'):])
audit = AdminAPI(BASE, ADMIN_KEY).call("GET", "/audit")[1].get("entries", [])
check(any(entry.get("action") == "rotateBackupKey" and entry.get("outcome") == "ok" for entry in audit), "the rotation is in the audit log")

viewer = client()
status, _, _ = console.sign_in(viewer, "viewer@example.com", password)
check(status == 303, "the viewer signs in with the generated password")
status, _, page = call(viewer, "GET", settings)
check(status == 200 and 'id="settings-readonly"' in page, "the viewer sees the settings read-only", page)
check('id="branch-defaults-facts"' in page and "kept until deleted, not protected" in page, "the viewer reads the branch defaults", page)
for form_id in ["rotate-keys", "allowlist-form", "set-member", "set-alert-channel", "revoke-key", "branch-defaults-form"]:
    check(f'id="{form_id}"' not in page, f"the viewer sees no {form_id} form")
check(f'action="{settings}' not in page, "the viewer gets no settings form at all", page)
check("eyJ" not in page, "the viewer sees no key")
viewer_token = csrf_of(page)
for path, form in [("/keys/rotate", {}), ("/allowlist", {"allowlist": ""}), ("/members", {"email": "viewer@example.com", "role": "owner"}), ("/limits", {"cpus": "1"}),
                   ("/branch-defaults", {"new_branch_ttl": "3600"})]:
    status, _, _ = call(viewer, "POST", settings + path, dict(form, _csrf=viewer_token))
    check(status in (403, 404), f"the viewer's POST to settings{path} is refused ({status})")
check(rest(new_anon) == 200, "the viewer's refused rotation changed nothing")
status, _, _ = call(viewer, "GET", "/settings")
check(status == 404, "instance settings are a 404 for anyone but the admin")
status, _, page = call(viewer, "POST", "/settings/backup-key/reveal", {"_csrf": viewer_token, "password": password})
check(status == 404 and 'id="secret-value"' not in page, "the backup key is not shown to anyone but the admin, whatever their password")
status, _, _ = call(viewer, "POST", "/settings/users", {"_csrf": viewer_token, "email": "x@example.com"})
check(status == 404, "the viewer cannot create console users")
status, _, page = call(viewer, "GET", f"/projects/{PROJECT}/database")
check(status == 200 and 'id="database-readonly"' not in page and "<strong>items</strong>" in page and "<code>title</code>" in page,
      "the viewer sees the database page with the catalog (read through the read-only querySQL)", page)

# Database page: the table and its columns, hostile names escaped.
status, _, page = call(admin, "GET", f"/projects/{PROJECT}/database")
check(status == 200 and "<strong>items</strong>" in page and "<code>title</code>" in page, "the database page lists the table and its columns", page)
check('class="schema-map"' in page and 'class="fk"' in page, "the schema map draws the tables and the foreign key", page)
check(HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, "a hostile table and column name is escaped", page)
check("pgcrypto" in page, "extensions are listed")
check("branch_reader" not in page, "Branch's own reader role is not among the roles and grants")
svg_link = htmllib.unescape(re.search(r'href="([^"]+)" download id="download-schema-svg"', page).group(1))
status, headers, svg = call(admin, "GET", svg_link)
check(status == 200 and headers.get("Content-Type", "").startswith("image/svg+xml") and "<svg" in svg and ">items<" in svg and HOSTILE not in svg, "the schema map downloads as an escaped SVG file", svg)
status, _, page = call(admin, "GET", f"/projects/{PROJECT}/database?find=ITE")
check(status == 200 and 'class="table-box found" data-table="items"' in page and 'class="table-box dimmed"' in page
      and "1 table match “ITE”." in page and 'id="schema-find" name="find" value="ITE"' in page,
      "Find table marks the matching table on the map (any case), dims the others and keeps the text", page)
# Layout controls: a grid instead of reference layers, and only the key columns drawn.
status, _, page = call(admin, "GET", f"/projects/{PROJECT}/database?layout=grid&columns=keys")
arrangement = re.search(r'id="schema-arrangement">(.*?)</nav>', page)
columns = re.search(r'id="schema-columns">(.*?)</nav>', page)
check(status == 200 and arrangement and 'aria-current="page">Grid</a>' in arrangement.group(1)
      and columns and 'aria-current="page">Keys only</a>' in columns.group(1), "the layout controls show the grid and keys-only view as chosen", page)
items_box = re.search(r'data-table="items">(.*?)</g>', page, re.S)
check(items_box and ">id bigint · PK<" in items_box.group(1) and ">customer_id bigint<" in items_box.group(1)
      and ">title text<" not in items_box.group(1) and ">+ 1 other column<" in items_box.group(1),
      "keys only: the primary and foreign key columns are drawn, the others counted", items_box.group(1) if items_box else page)
check('name="layout" value="grid"' in page and 'name="columns" value="keys"' in page and "&amp;layout=grid&amp;columns=keys" in page,
      "the find form and the SVG download keep the view")
status, _, page = call(admin, "GET", f"/projects/{PROJECT}/database?find=%3Cscript%3E")
check(status == 200 and 'value="&lt;script&gt;"' in page and "1 table match “&lt;script&gt;”." in page and "<script>alert" not in page,
      "a hostile find text is escaped (and finds the hostile table)", page)

# The schema as it was at an instant: a table made after it is not there; read on a temporary branch.
time.sleep(1.5)
instant = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
time.sleep(1.5)
status, _, _ = call(admin, "POST", f"/projects/{PROJECT}/sql?branch=main", {"_csrf": token, "sql": "CREATE TABLE later_table (id int)", "action": "run"})
check(status == 200, "a table created after the instant")
status, _, page = call(admin, "GET", f"/projects/{PROJECT}/database?at={instant}")
check(status == 200 and 'id="database-historical"' in page and instant in page and "<strong>items</strong>" in page
      and "later_table" not in page, "database?at= shows the schema as it was then, marked historical", page)
check('name="at" value="' + instant + '"' in page and "&amp;at=" + instant.replace(":", "%3A") in page,
      "its schema links, find form and SVG download keep the instant", page)
status, _, page = call(admin, "GET", f"/projects/{PROJECT}/database")
check("<strong>later_table</strong>" in page, "the present schema has the new table")
branches = [b["name"] for b in AdminAPI(BASE, ADMIN_KEY).call("GET", f"/projects/{PROJECT}/branches")[1]["branches"]]
check(not any(name.startswith("at-") for name in branches), f"the temporary branch is deleted ({branches})")

# Auth users: create one through the auth admin API, find it, ban it.
auth = f"/projects/{PROJECT}/auth"
status, _, page = call(admin, "GET", auth)
check(status == 200 and 'id="create-auth-user"' in page, "the owner sees the auth users page", page)
status, _, _ = call(admin, "POST", auth + "/users", {"_csrf": token, "email": "person@example.com", "password": "secret-password-1"})
check(status == 303, "creating an auth user")
status, _, page = call(admin, "GET", auth + "?q=person")
check("person@example.com" in page, "the new auth user is listed by search", page)
user_id = re.search(r'name="id" value="([^"]+)"><input type="hidden" name="email" value="person@example.com"', page).group(1)
status, _, _ = call(admin, "POST", auth + "/users/ban", {"_csrf": token, "id": user_id, "email": "person@example.com"})
check(status == 303, "banning the auth user")
status, _, page = call(admin, "GET", auth + "?q=person")
check("banned until" in page, "the user shows as banned", page)
status, _, page = call(viewer, "GET", f"/projects/{PROJECT}/database?at={instant}")
check(status == 200 and "needs the developer role" in page and "later_table" not in page, "a viewer cannot read the schema at an instant", page)
status, _, page = call(viewer, "GET", auth)
check(status == 200 and 'id="auth-readonly"' in page and "person@example.com" not in page, "a viewer sees no auth users", page)
print("all settings HTTP checks passed")
