"""Your account (/account) over plain HTTP, as a user who is not the instance admin: their roles,
a password changed only with the current one (which signs their other sessions out, not this one),
"sign out everywhere else", and their own API tokens: made (shown once, working against the API),
never beyond their role, revoked, and another user's token out of reach.

Usage: account_http.py BASE_URL ADMIN_KEY PROJECT
Prints one line per check and exits non-zero at the first failure."""
import html
import re
import sys

from console_http_support import AdminAPI, Console, check, csrf_of

BASE, ADMIN_KEY, PROJECT = sys.argv[1], sys.argv[2], sys.argv[3]
EMAIL, FIRST, SECOND = "dev@example.com", "first password 123", "second password 456"

console = Console(BASE, timeout=60)
call = console.call
api = AdminAPI(BASE, ADMIN_KEY)


def signed_in(password):
    opener = console.client()
    status, _, _ = console.sign_in(opener, EMAIL, password)
    return opener if status == 303 else None


def account(opener):
    status, _, page = call(opener, "GET", "/account")
    return status, page, csrf_of(page)


def works(token):
    return AdminAPI(BASE, token).call("GET", f"/projects/{PROJECT}")[0]


status, _, _ = console.first_run(console.client(), ADMIN_KEY)
check(status == 303, "the first run is done (the console signs users in after it)")
status, _ = api.call("POST", "/users", {"email": EMAIL, "password": FIRST})
check(status == 201, "a console user is made through the API")
status, _ = api.call("PUT", f"/projects/{PROJECT}/members/{EMAIL}", {"role": "developer"})
check(status == 200, "and made a developer of the project")

first, second = signed_in(FIRST), signed_in(FIRST)
check(first is not None and second is not None, "the user signs in twice (two sessions)")
status, page, token = account(first)
check(status == 200 and EMAIL in page and f">{PROJECT}</a> · developer" in page, "the account page shows who they are and their roles", page)
check('href="/account"' in page and "Your account" in page and 'href="/settings"' not in page, "the sidebar links to it (and not to instance settings)", page)
check(re.search(r'id="other-sessions">[^<]*<strong>1</strong>', page) is not None, "it counts the other session", page)

# API tokens: shown once, working, within the user's role, revoked; someone else's is out of reach.
status, _, page = call(first, "POST", "/account/tokens", {"_csrf": token, "name": "ci", "project": PROJECT, "role": "developer", "expires_days": "7"})
check(status == 201 and 'id="secret-value"' in page and 'href="/account#tokens"' in page, "a token is shown once, with the way back", page)
secret = html.unescape(re.search(r'id="secret-value">([^<]+)<', page).group(1))
check(works(secret) == 200, "the token works against the API")
status, headers, _ = call(first, "POST", "/account/tokens", {"_csrf": token, "name": "too-much", "project": PROJECT, "role": "owner", "expires_days": "7"})
status, _, page = call(first, "GET", headers.get("Location", "/account"))
check('class="flash error"' in page and "too-much" not in page.split('id="tokens"')[1], "a token above the user's own role is refused", page)
token_id = re.search(r'<th scope="row">ci</th><td><code>([^<]+)</code>', page)
check(token_id is not None, "the token is listed", page)
_, admin_tokens = api.call("GET", "/tokens")
foreign = next(each["id"] for each in admin_tokens["tokens"] if each["user"] != EMAIL)
status, _, _ = call(first, "POST", "/account/tokens/revoke", {"_csrf": token, "id": foreign})
check(status == 404, "another user's token cannot be revoked from here (404)")
status, headers, _ = call(first, "POST", "/account/tokens/revoke", {"_csrf": token, "id": token_id.group(1)})
check(status == 303 and works(secret) == 401, "the user revokes their token; the API refuses it")

# The password: only with the current one; it signs the other sessions out.
for fields, what in [({"current": "not it at all", "password": SECOND, "confirm": SECOND}, "a wrong current password"),
                     ({"current": FIRST, "password": SECOND, "confirm": SECOND + "x"}, "a confirmation that differs"),
                     ({"current": FIRST, "password": "short", "confirm": "short"}, "a password under 12 characters")]:
    status, headers, _ = call(first, "POST", "/account/password", {"_csrf": token, **fields})
    status, _, page = call(first, "GET", headers.get("Location", "/account"))
    check('class="flash error"' in page, f"{what} is refused", page)
check(signed_in(FIRST) is not None, "the password is unchanged after the refusals")
status, _, _ = call(first, "POST", "/account/password", {"current": FIRST, "password": SECOND, "confirm": SECOND})
check(status == 403, "a change without the CSRF token is refused")
status, headers, _ = call(first, "POST", "/account/password", {"_csrf": token, "current": FIRST, "password": SECOND, "confirm": SECOND})
status, _, page = call(first, "GET", headers.get("Location", "/account"))
check("Your password is changed" in page, "the change is made with the current password", page)
check(account(first)[0] == 200, "this session goes on")
check(account(second)[0] != 200, "the other session is signed out")
check(signed_in(FIRST) is None and signed_in(SECOND) is not None, "the new password signs in, the old one does not")

# Sign out everywhere else.
third = signed_in(SECOND)
status, page, token = account(first)
check(re.search(r'id="other-sessions">[^<]*<strong>[1-9]', page) is not None, "the new sessions are counted", page)
status, headers, _ = call(first, "POST", "/account/sessions/revoke", {"_csrf": token})
status, _, page = call(first, "GET", headers.get("Location", "/account"))
check("Signed out" in page and account(third)[0] != 200 and account(first)[0] == 200, "sign out everywhere else ends the others, not this one", page)
print("all account checks passed")
