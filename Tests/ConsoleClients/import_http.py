"""The console's "Import a database" over plain HTTP, as a browser without JavaScript uses it: the
dashboard's form (the source URL a password field), refusals said next to the form without the
password, the job page that reloads itself (a Refresh header) until the report, the report (what
came over, what did not and why, the keys), a mirror import and the overview's Mirror card, a job
another user may not see, and hostile names escaped.

Usage: import_http.py BASE_URL ADMIN_KEY SOURCE_URL OTHER_EMAIL OTHER_PASSWORD [pending]
The source (a superuser URL, wal_level=logical) holds public.items (300 rows), public.orders
(40 rows) and an event trigger named "<script>alert(1)</script>". Imports it as `shop`, then as
the mirror `shopmirror`. With `pending` (run again after the source changed public.items.name's type
in a way main's cast cannot follow) it only checks the Mirror card lists that change with its SQL.
Prints one line per check and exits non-zero at the first failure."""
import re
import sys
import time
import urllib.parse

from console_http_support import ADMIN_EMAIL, ADMIN_PASSWORD, AdminAPI, Console, check, csrf_of

BASE, ADMIN_KEY, SOURCE, OTHER, OTHER_PASSWORD = sys.argv[1:6]
PENDING = sys.argv[6:7] == ["pending"]
RAW_SECRET = urllib.parse.urlsplit(SOURCE).password or ""
SECRETS = {RAW_SECRET, urllib.parse.unquote(RAW_SECRET)}
HOSTILE = "<script>alert(1)</script>"

console = Console(BASE, timeout=120)
client, call = console.client, console.call


def import_form(opener, token, name, source, **extra):
    """Posts the dashboard's import form."""
    return call(opener, "POST", "/imports", {"_csrf": token, "name": name, "from": source, **extra})


def no_secret(page, what):
    check(RAW_SECRET and not any(secret in page for secret in SECRETS), f"{what}: the source's password is not on the page")


def header(headers, name):
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def until_finished(opener, path):
    """GETs the job page as the browser's refresh does until the job ends; answers its last page."""
    saw_running = False
    deadline = time.time() + 240
    while True:
        status, headers, page = call(opener, "GET", path)
        console.check(status == 200 and 'id="import-job"' in page, f"the job page renders ({status})")
        if 'data-job-running' not in page:
            check(header(headers, "Refresh") is None, "a finished job's page no longer reloads itself")
            return page, saw_running
        if not saw_running:
            check(header(headers, "Refresh") == "2", "a running job's page reloads itself every 2 s (a Refresh header, no script)")
            check('id="import-step"' in page and 'id="import-tables"' in page and 'id="import-rows"' in page and 'id="import-eta"' in page,
                  "it shows the step, tables x/y, rows, bytes and the time left")
            check('id="refresh-import"' in page, "and a Refresh link")
            saw_running = True
        if time.time() > deadline:
            check(False, "the import ends within 4 minutes", page[page.find("<main"):][:3000])
        time.sleep(0.5)


def pending_change():
    """The Mirror card lists the schema change main could not apply, with its SQL."""
    admin = client()
    status, _, _ = console.sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    check(status == 303, "the admin signs in")
    deadline = time.time() + 90
    while True:
        status, _, page = call(admin, "GET", "/projects/shopmirror")
        check(status == 200, f"the mirror's overview renders ({status})")
        if 'id="mirror-pending"' in page:
            break
        if time.time() > deadline:
            check(False, "within 90 s the Mirror card lists the change it could not apply", page[page.find('id="mirror"'):][:3000])
        time.sleep(1)
    card = page[page.find('id="mirror-pending"'):]
    card = card[:card.find("</ul>")]
    check("column public.items.name now integer" in card, "the card names the change", card)
    check(re.search(r"<pre><code>ALTER TABLE public\.items ALTER COLUMN &quot;name&quot; TYPE integer USING", card) is not None,
          "with the SQL that applies it", card)
    no_secret(page, "the pending changes")
    print("all pending-change checks passed")
    sys.exit(0)


if PENDING:
    pending_change()

admin = client()
status, _, _ = console.first_run(admin, ADMIN_KEY)
check(status == 303, "the admin signs in through the first-run screen")

status, _, page = call(admin, "GET", "/")
token = csrf_of(page)
check(status == 200 and 'id="import-database"' in page and 'action="/imports"' in page, "the dashboard has the import form next to New project")
check(re.search(r'<input id="import-source" name="from" type="password"', page) is not None, "the source URL is a password field")
check('id="import-mirror" name="mirror"' in page and "Keep following it (mirror)" in page, "with a mirror checkbox")
check('id="import-publication"' in page and 'id="import-workers"' in page, "an optional publication and workers")
check("branch project import" in page, "and the CLI command that does the same")
check(re.search(r'id="import-database"[^>]* open', page) is None, "the form starts folded")

# Refusals from the API, next to the form, the URL not filled in again.
bad = f"mysql://postgres:{RAW_SECRET}@127.0.0.1/source"
status, _, page = import_form(admin, token, "shop", bad, workers="3")
check(status >= 400 and 'id="import-error"' in page and "invalid_database_url" in page, f"a malformed URL re-renders the form with invalid_database_url ({status})", page[page.find("<main"):][:3000])
check(re.search(r'id="import-database"[^>]* open', page) is not None and 'value="shop"' in page and 'value="3"' in page,
      "the form comes back open, with the name and workers kept")
check(re.search(r'id="import-source"[^>]*value=', page) is None, "the URL is not filled in again")
no_secret(page, "a malformed URL")
wrong = SOURCE.replace(f":{RAW_SECRET}@", ":not-the-password-42@")
check(wrong != SOURCE, "the test makes a URL with a wrong password")
status, _, page = import_form(admin, token, "shop", wrong)
check(status >= 400 and "external_database_auth_failed" in page, f"a wrong password is refused inline ({status})", page[page.find("<main"):][:3000])
check("not-the-password-42" not in page, "the wrong password is not shown back either")
status, _, page = import_form(admin, token, "shop", "")
check(status == 422 and "Give the source" in page, "no URL at all is said next to the form")
status, _, page = import_form(admin, token, "shop", SOURCE, workers="many")
check(status == 422 and "whole number" in page, "workers that are not a number are said next to the form")
no_secret(page, "a form refused before the call")
status, _ = AdminAPI(BASE, ADMIN_KEY).call("GET", "/projects/shop")
check(status == 404, "no project was made by a refused import")

# A one-time import, followed to its report.
status, headers, _ = import_form(admin, token, "shop", SOURCE, workers="2")
location = headers.get("Location", "")
check(status == 303 and location.startswith("/imports/"), f"the import answers 303 to its job page ({status} {location})")
job_path = location
page, saw_running = until_finished(admin, job_path)
print(f"note the first load found the import {'running' if saw_running else 'already finished'}")
check('id="import-step"' in page and 'id="import-tables"' in page, "the finished page keeps the progress facts")
check('id="import-report"' in page and "state-succeeded" in page, "the import succeeded and its page shows the report", page[page.find("<main"):][:3000])
check(re.search(r'id="report-tables">2<', page) and re.search(r'id="report-rows">340<', page), "the report counts 2 tables and 340 rows")
check("postgres://postgres:" in page and "Postgres " in page, "it names the source and its version")
no_secret(page, "the report")
check('id="import-not-carried"' in page and "event trigger" in page, "what was not carried over is listed with its reason")
check(HOSTILE not in page and "&lt;script&gt;alert(1)" in page, "a hostile name in the report is escaped")
check('aria-label="Copy the anon key"' in page and 'aria-label="Copy the service_role key"' in page, "the keys have copy buttons")
check('id="open-imported" href="/projects/shop"' in page or 'href="/projects/shop" id="open-imported"' in page, "and a link to the project")
check('id="mirror"' not in page and 'id="report-mirror"' not in page, "a one-time import is no mirror")
status, _, page = call(admin, "GET", "/")
check(status == 200 and '<a href="/projects/shop">shop</a>' in page, "the dashboard lists the imported project")
status, _, page = call(admin, "GET", "/projects/shop")
check(status == 200 and 'id="mirror"' not in page, "its overview renders, without a Mirror card")
status, _, page = import_form(admin, token, "shop", SOURCE)
check(status >= 400 and "project_exists" in page, f"importing into a taken name is refused inline ({status})")
no_secret(page, "a taken name")

# Another user may not see the admin's import job.
other = client()
status, _, _ = console.sign_in(other, OTHER, OTHER_PASSWORD)
check(status == 303, "another user signs in")
status, _, page = call(other, "GET", job_path)
check(status == 404, f"another user's import job is a 404 ({status})")
status, _, page = call(other, "GET", "/imports/no-such-job")
check(status == 404, "an unknown job is a 404")

# A mirror import: the overview's Mirror card.
status, headers, _ = import_form(admin, token, "shopmirror", SOURCE, mirror="on")
location = headers.get("Location", "")
check(status == 303 and location.startswith("/imports/"), f"the mirror import answers 303 to its job page ({status} {location})")
page, _ = until_finished(admin, location)
check('id="import-report"' in page and 'id="report-mirror"' in page and "branch_shopmirror" in page, "the mirror's report names its publication",
      page[page.find("<main"):][:3000])
deadline = time.time() + 90
while True:
    status, _, page = call(admin, "GET", "/projects/shopmirror")
    check(status == 200, f"a mirror project's overview renders ({status})")
    # The service reports a mirror's state once its first check (every few seconds) has run.
    if 'id="mirror"' in page and "✓ following" in page and "behind" in page:
        break
    check(time.time() < deadline, "within 90 s the overview has the Mirror card, following, with its lag", page[page.find("<main"):][:3000])
    time.sleep(1)
check(True, "a mirror project's overview has the Mirror card: following, with its lag")
check("main is read-only" in page and "writable" in page, "the card says main is read-only and branches are writable")
check('id="mirror-source"' in page and "postgres://postgres:" in page, "it shows the source")
no_secret(page, "the Mirror card")
check("branch_shopmirror" in page and "Schema changes not applied" in page, "its publication and the pending schema changes")
print("all import checks passed")
