"""The console's sign-in providers over plain HTTP, as a browser without JavaScript uses them, on a
project whose GitHub sign-in supabase_oauth.py already set up through the API: the settings page
shows the callback URL and each provider's form, the client id but never the secret; turning a
provider on without a secret is refused beside it and changes nothing; a complete one is saved and
what the API reads; removing it works; a POST without the CSRF token is refused; a viewer sees no
provider form and their POSTs are refused.

Usage: auth_providers_http.py BASE_URL ADMIN_KEY PROJECT
Prints one line per check and exits non-zero at the first failure."""
import html as htmllib
import re
import sys

from console_http_support import AdminAPI, Console, check, csrf_of

BASE, ADMIN_KEY, PROJECT = sys.argv[1:4]
console = Console(BASE, timeout=60)
client, call = console.client, console.call
api = AdminAPI(BASE, ADMIN_KEY)
page_path = f"/projects/{PROJECT}/auth/settings"
callback = f"/p/{PROJECT}/auth/v1/callback"

admin = client()
status, _, _ = console.first_run(admin, ADMIN_KEY)
check(status == 303, "the first run signs the admin in")
status, _, page = call(admin, "GET", page_path)
check(status == 200 and 'id="providers"' in page, "the auth settings page has a sign-in providers section", page)
check(callback in page and 'data-copy="' in page[page.find('id="providers"'):], "it shows the callback URL to register, with a copy button", page)
for provider in ["github", "gitlab", "google", "keycloak"]:
    check(f'id="provider-{provider}"' in page and f'action="{page_path}/providers/{provider}"' in page, f"{provider} has its form")
github = page[page.find('id="provider-github"'):page.find('id="provider-gitlab"')]
check('value="gh-client"' in github and "set: leave empty to keep it" in github and "checked" in github,
      "GitHub shows its client id, that a secret is set, and that it is on", github)
check("gh-secret" not in page, "the client secret is never in the page")
token = csrf_of(page)

# Turning Google on without a secret is refused beside it, and nothing is stored.
status, headers, _ = call(admin, "POST", page_path + "/providers/google", {"_csrf": token, "enabled": "on", "client_id": "g-client", "client_secret": "", "url": ""})
check(status == 303 and headers.get("Location", "").endswith("#provider-google"), "the refused save returns to Google's form", str(headers))
status, _, page = call(admin, "GET", page_path)
check('class="flash error"' in page and "client id and secret" in page, "the refusal says what is missing", page[:3000])
status, answer = api.call("GET", f"/projects/{PROJECT}/auth/providers")
google = next(p for p in answer["providers"] if p["provider"] == "google")
check(status == 200 and not google["enabled"] and google.get("clientId") is None, "nothing of the refused save was stored", str(google))

# A complete one is saved, is what the API reads, and can be removed.
status, _, _ = call(admin, "POST", page_path + "/providers/google", {"_csrf": token, "enabled": "on", "client_id": "g-client", "client_secret": "g-secret-value", "url": ""})
check(status == 303, "a complete Google form is saved")
status, answer = api.call("GET", f"/projects/{PROJECT}/auth/providers")
google = next(p for p in answer["providers"] if p["provider"] == "google")
check(google["enabled"] and google["clientId"] == "g-client" and google["hasSecret"] and "g-secret-value" not in str(answer),
      "the API reads what the console saved, without the secret", str(google))
status, _, page = call(admin, "GET", page_path)
check("g-secret-value" not in page and f'action="{page_path}/providers/google/remove"' in page, "the page offers to remove it and hides its secret")
status, _, _ = call(admin, "POST", page_path + "/providers/google/remove", {"_csrf": token})
check(status == 303, "removing Google")
status, answer = api.call("GET", f"/projects/{PROJECT}/auth/providers")
check(not next(p for p in answer["providers"] if p["provider"] == "google")["enabled"], "Google sign-in is gone")
status, _, _ = call(admin, "POST", page_path + "/providers/github", {"enabled": "", "client_id": "x"})
check(status == 403, f"a POST without the CSRF token is refused ({status})")
status, answer = api.call("GET", f"/projects/{PROJECT}/auth/providers")
check(next(p for p in answer["providers"] if p["provider"] == "github")["enabled"], "and changed nothing")

# A viewer of the project sees no provider form and cannot post one.
status, _, page = call(admin, "POST", "/settings/users", {"_csrf": token, "email": "oauth-viewer@example.com"})
check(status == 201 and 'id="secret-value"' in page, "a console user is made", page)
password = htmllib.unescape(re.search(r'id="secret-value">([^<]+)<', page).group(1))
status, _, _ = call(admin, "POST", f"/projects/{PROJECT}/settings/members", {"_csrf": token, "email": "oauth-viewer@example.com", "role": "viewer"})
check(status == 303, "they become a viewer of the project")
viewer = client()
status, _, _ = console.sign_in(viewer, "oauth-viewer@example.com", password)
check(status == 303, "the viewer signs in")
status, _, page = call(viewer, "GET", page_path)
check(status == 200 and 'id="providers"' not in page and "/providers/" not in page, "the viewer sees no provider form", page[:3000])
status, _, _ = call(viewer, "POST", page_path + "/providers/github", {"_csrf": csrf_of(page), "enabled": "", "client_id": "x"})
check(status in (403, 404), f"the viewer's POST is refused ({status})")
status, answer = api.call("GET", f"/projects/{PROJECT}/auth/providers")
check(next(p for p in answer["providers"] if p["provider"] == "github")["clientId"] == "gh-client", "the viewer changed nothing")
print("PASS auth_providers_http")
