"""The console's auth settings and invitations over plain HTTP, as a browser without JavaScript
uses them, on a project whose SMTP server the CLI already set (a local aiosmtpd): the page shows
the server but never its password; a change that would confirm emails with no server is refused
inline and changes nothing; a bad site URL is refused inline; a valid change is saved; a mail's own
wording is saved, and one with an unknown variable refused inline; the test
message and an invitation arrive in the mailbox, the invitation's link naming the console's own
address; a viewer sees no form and their POSTs are refused.

Usage: auth_settings_http.py BASE_URL ADMIN_KEY PROJECT MAILBOX SMTP_PASSWORD
Prints one line per check and exits non-zero at the first failure."""
import base64
import html as htmllib
import json
import re
import sys
import time

from console_http_support import Console, check, csrf_of

BASE, ADMIN_KEY, PROJECT, MAILBOX, SMTP_PASSWORD = sys.argv[1:6]
console = Console(BASE, timeout=60)
client, call = console.client, console.call
page_path = f"/projects/{PROJECT}/auth/settings"


def mail_to(address):
    """The decoded body of the latest mail to `address`, waiting up to 30 s for one."""
    deadline = time.time() + 30
    while time.time() < deadline:
        for line in reversed(open(MAILBOX).read().splitlines()):
            entry = json.loads(line)
            if entry.get("channel") == "smtp" and address in entry.get("to", []):
                return base64.b64decode(entry["message"].partition("\r\n\r\n")[2].replace("\r\n", "")).decode()
        time.sleep(0.2)
    check(False, f"a mail to {address} arrives")


admin = client()
status, _, _ = console.first_run(admin, ADMIN_KEY)
check(status == 303, "the first run signs the admin in")
status, _, page = call(admin, "GET", page_path)
console.check(status == 200 and 'id="auth-settings-form"' in page, "the owner sees the auth settings form")
console.check("smtp://" in page and "127.0.0.1" in page and "set: leave empty to keep it" in page, "the page shows the server and that a password is set")
check(SMTP_PASSWORD not in page, "the SMTP password is never on the page")
console.check('aria-current="page">Settings' in page and f'href="/projects/{PROJECT}/auth"' in page, "Users and Settings are one segmented navigation")
console.check(re.search(r'id="auth-secure-email-change" name="secure_email_change" type="checkbox"[^>]* checked', page) is not None,
              "secure email change is on by default")
token = csrf_of(page)
smtp_field = htmllib.unescape(re.search(r'id="auth-smtp" name="smtp" value="([^"]*)"', page).group(1))

form = {"_csrf": token, "allow_signup": "on", "confirm_email": "on", "secure_email_change": "on", "site_url": "https://app.example.com", "redirect_urls": "",
        "otp_expiry": "3600", "mails_per_hour": "30", "api_url": "", "smtp": smtp_field, "sender": "no-reply@example.com", "remove_smtp": "on"}
status, _, page = call(admin, "POST", page_path, form)
console.check(status == 409 and "mail_not_configured" in page and 'id="auth-settings-error"' in page, "confirming emails without a server is refused inline")
status, _, page = call(admin, "GET", page_path)
console.check(smtp_field in page and "set: leave empty to keep it" in page, "the refused change left the server and its password as they were")

status, _, page = call(admin, "POST", page_path, dict(form, remove_smtp="", site_url="not a url"))
console.check(status == 400 and "site URL" in page and 'value="not a url"' in page, "a bad site URL is refused inline, the form keeping what was typed")

status, _, _ = call(admin, "POST", page_path, dict(form, remove_smtp="", site_url="https://shop.example.com", redirect_urls="https://*.preview.example.com/**\nmyapp://done", otp_expiry="900"))
check(status == 303, "a valid change is saved")
status, _, page = call(admin, "GET", page_path)
console.check('value="https://shop.example.com"' in page and "myapp://done" in page and 'value="900"' in page, "the page shows the saved settings")
console.check("set: leave empty to keep it" in page, "saving without typing the password kept it")

# The mails' own wording: GoTrue's variables; anything else is refused inline, the form keeping it.
saved = dict(form, remove_smtp="", site_url="https://shop.example.com", redirect_urls="https://*.preview.example.com/**\nmyapp://done", otp_expiry="900")
status, _, page = call(admin, "POST", page_path, dict(saved, template_recovery_body="Hello {{ .Name }}"))
console.check(status == 400 and "is not a variable" in htmllib.unescape(page) and ">Hello {{ .Name }}</textarea>" in page,
              "a mail template with an unknown variable is refused inline, the form keeping it")
status, _, _ = call(admin, "POST", page_path, dict(saved, template_recovery_subject="Reset for {{ .Email }}", template_recovery_body="Reset here: {{ .ConfirmationURL }}"))
check(status == 303, "the recovery mail's own wording is saved")
status, _, page = call(admin, "GET", page_path)
console.check('value="Reset for {{ .Email }}"' in page and ">Reset here: {{ .ConfirmationURL }}</textarea>" in page and "your wording" in page,
              "the page shows the saved wording, open")
console.check("{{ .ConfirmationURL }}, {{ .Token }}" in page and "{{ .NewEmail }}" in page, "the page lists the variables")
console.check(re.search(r'name="secure_email_change" type="checkbox"[^>]* checked', page) is not None, "saving with the box ticked kept it on")

# Secure email change off: an unticked box is off, as a browser sends it.
worded = dict(saved, template_recovery_subject="Reset for {{ .Email }}", template_recovery_body="Reset here: {{ .ConfirmationURL }}")
status, _, _ = call(admin, "POST", page_path, {k: v for k, v in worded.items() if k != "secure_email_change"})
check(status == 303, "the settings are saved with secure email change off")
status, _, page = call(admin, "GET", page_path)
console.check(re.search(r'name="secure_email_change" type="checkbox"[^>]* checked', page) is None and "Reset here" in page,
              "the box is unticked, the wording kept")
status, _, _ = call(admin, "POST", page_path, worded)
check(status == 303, "and on again")

status, headers, _ = call(admin, "POST", page_path + "/test-mail", {"_csrf": token, "to": "owner@example.com"})
check(status == 303, "the test message is sent")
status, _, page = call(admin, "GET", headers.get("Location", page_path).split("#")[0])
console.check("Test message sent to owner@example.com" in page, "the page says the test message went")
check("test of project" in mail_to("owner@example.com"), "the test message arrives")

users = f"/projects/{PROJECT}/auth"
status, _, page = call(admin, "GET", users)
console.check('id="invite-auth-user"' in page, "the users page has the invitation form")
status, _, page = call(admin, "POST", users + "/invite", {"_csrf": token, "branch": "main", "email": "invitee@example.com"})
check(status == 303, "an invitation is sent from the users page")
body = mail_to("invitee@example.com")
check(f"{BASE}/p/{PROJECT}/b/main/auth/v1/verify?token=" in body and "redirect_to=https%3A%2F%2Fshop.example.com" in body,
      "the invitation links to the console's own address and leads to the site URL", body)
status, _, page = call(admin, "GET", users + "?q=invitee")
console.check("invitee@example.com" in page and "unconfirmed" in page, "the invitee is listed, unconfirmed")

# Filter by provider, and "Run SQL as" one of them.
status, _, page = call(admin, "GET", users + "?provider=email&q=invitee")
console.check("invitee@example.com" in page and '<option value="email" selected>' in page, "the email provider filter keeps the invitee")
status, _, page = call(admin, "GET", users + "?provider=github")
console.check("invitee@example.com" not in page and "No users" in page, "the github provider filter finds nobody")
status, _, page = call(admin, "GET", users + "?q=invitee")
run_as = htmllib.unescape(re.search(r'<a class="button ghost small" href="([^"]+)" aria-label="Run SQL as invitee@example.com"', page).group(1))
invitee_id = run_as.rsplit("=", 1)[1]
status, _, page = call(admin, "GET", run_as)
console.check(status == 200 and '<option value="authenticated" selected>' in page and f'name="run_as_user" value="{invitee_id}"' in page,
              "Run SQL as opens the SQL editor as that user")

# A viewer: no form, and the server refuses their POSTs.
status, _, page = call(admin, "POST", "/settings/users", {"_csrf": token, "email": "auth-viewer@example.com"})
password = htmllib.unescape(re.search(r'id="secret-value">([^<]+)<', page).group(1))
status, _, _ = call(admin, "POST", f"/projects/{PROJECT}/settings/members", {"_csrf": token, "email": "auth-viewer@example.com", "role": "viewer"})
check(status == 303, "the user becomes a viewer")
viewer = client()
console.sign_in(viewer, "auth-viewer@example.com", password)
status, _, page = call(viewer, "GET", page_path)
console.check(status == 200 and 'id="auth-settings-readonly"' in page and 'id="auth-settings-form"' not in page and "alice%40example.com" not in page,
              "the viewer sees neither the form nor the server")
viewer_token = csrf_of(page)
for path in ["", "/test-mail"]:
    status, _, _ = call(viewer, "POST", page_path + path, dict(form, _csrf=viewer_token, to="x@example.com", remove_smtp=""))
    check(status in (403, 404), f"the viewer's POST to auth/settings{path} is refused ({status})")
status, _, page = call(admin, "GET", page_path)
console.check('value="https://shop.example.com"' in page, "the viewer's refused POST changed nothing")
print("auth settings: all checks passed")
