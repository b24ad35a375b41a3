"""The console over plain HTTP, as a browser without JavaScript would use it: the first-run
screen, sign-in, sessions, CSRF and origin checks, 404s that leak nothing, cached assets.

Usage: console_http.py BASE_URL ADMIN_KEY
Prints one line per check and exits non-zero at the first failure."""
import sys

from console_http_support import ADMIN_EMAIL, ADMIN_PASSWORD, AdminAPI, Console, check, csrf_of, form_token_of, set_cookie

BASE, ADMIN_KEY = sys.argv[1], sys.argv[2]
console = Console(BASE, timeout=30)
client, call = console.client, console.call


def signed_in(opener):
    return any(c.name == "branch_session" for c in opener.jar)


def refuses_forged(opener, path, form, token, other_token=None):
    """Login CSRF: the form at `path` posted without its token, with a wrong one, with another form's,
    from Origin: null or another site, or by a browser without its cookie, is refused and signs nobody in."""
    cookieless = client()
    for what, sender, fields, headers in [
        ("without its token", opener, form, {}),
        ("with a wrong token", opener, {**form, "_csrf": token[:-1] + ("B" if token.endswith("A") else "A")}, {}),
        ("with another page's token", opener, {**form, "_csrf": other_token or token[::-1]}, {}),
        ("from Origin: null", opener, {**form, "_csrf": token}, {"Origin": "null"}),
        ("from another site", opener, {**form, "_csrf": token}, {"Origin": "https://evil.example"}),
        ("with the token but not its cookie", cookieless, {**form, "_csrf": token}, {}),
    ]:
        status, _, html = call(sender, "POST", path, fields, headers)
        check(status == 403 and "csrf_refused" in html and not signed_in(sender), f"POST {path} {what} is refused", html)


browser = client()
status, headers, _ = call(browser, "GET", "/")
check(status == 303 and headers.get("Location") == "/login", "a visitor is sent to sign in")
status, headers, _ = call(browser, "GET", "/login")
check(status == 303 and headers.get("Location") == "/setup", "before the first run, sign-in leads to the first-run screen")
status, headers, html = call(browser, "GET", "/setup")
check(status == 200 and "Admin key" in html, "the first-run screen asks for the admin key")
setup_token = form_token_of(html)
presession = set_cookie(headers, "branch_presession")
check(len(setup_token) > 20 and presession.startswith("branch_presession=") and "HttpOnly" in presession and "SameSite=Strict" in presession,
      "the first-run form carries a pre-session token, its cookie HttpOnly and SameSite=Strict", presession)
check(headers.get("Referrer-Policy") == "same-origin", "console pages have a Referrer-Policy under which browsers name their origin", str(headers))
first_run = {"admin_key": ADMIN_KEY, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD}

refuses_forged(browser, "/setup", first_run, setup_token)
status, headers, _ = call(browser, "GET", "/login")
check(headers.get("Location") == "/setup", "none of those completed the first run")

status, _, html = call(browser, "POST", "/setup", {**first_run, "admin_key": "wrong", "_csrf": setup_token})
check(status == 401 and "neither the admin key" in html, "a wrong admin key is refused on the page")
check(form_token_of(html) == setup_token, "the page shown again keeps the form's token")
status, headers, _ = call(browser, "POST", "/setup", {**first_run, "_csrf": setup_token}, {"Origin": BASE})
check(status == 303 and signed_in(browser), "the first run signs the new admin in (from the console's own origin)")
cookie = set_cookie(headers, "branch_session")
check("HttpOnly" in cookie and "SameSite=Strict" in cookie, "the session cookie is HttpOnly and SameSite=Strict")
status, _, html = call(browser, "GET", "/")
check(status == 200 and "<h1>Projects</h1>" in html, "the projects dashboard renders without JavaScript")
token = csrf_of(html)
check(len(token) > 20, "pages carry a CSRF token")

status, _, html = call(browser, "POST", "/projects", {"name": "shop"})
check(status == 403 and "csrf_refused" in html, "a form without the CSRF token is refused")
status, _, html = call(browser, "POST", "/projects", {"name": "shop", "_csrf": token}, {"Origin": "https://evil.example"})
check(status == 403, "a form posted from another site is refused")
status, _, html = call(browser, "POST", "/projects", {"name": "shop", "_csrf": token})
check(status == 201 and "postgres://" in html and "service_role" in html, "New project answers with its URL and keys")
status, _, html = call(browser, "POST", "/projects", {"name": "<script>alert(1)</script>", "_csrf": token})
check(status == 400 and "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html, "a hostile name is refused and shown escaped")

status, _, html = call(browser, "GET", "/projects/nothere")
check(status == 404 and "nothere" in html, "an unknown project is a 404 page")

status, _, html = call(browser, "POST", "/projects", {"name": "elsewhere", "_csrf": token}, {"Origin": "null"})
check(status == 403 and "csrf_refused" in html, "a signed-in form from Origin: null is refused", html)

stranger = client()
status, headers, _ = call(stranger, "GET", "/")
check(status == 303 and headers.get("Location", "").startswith("/login"), "another browser without a session is sent to sign in")
status, _, _ = call(stranger, "GET", "/setup")
check(status == 303, "the first-run screen is gone once used")
status, _, html = call(stranger, "GET", "/login")
login_token = form_token_of(html)
check(status == 200 and len(login_token) > 20 and login_token != setup_token, "the sign-in form carries this browser's own pre-session token")
sign_in = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/"}

refuses_forged(stranger, "/login", sign_in, login_token, other_token=csrf_of(call(browser, "GET", "/")[2]))
status, _, _ = call(stranger, "GET", "/")
check(status == 303, "none of those signed the browser in")

status, _, html = call(stranger, "POST", "/login", {**sign_in, "password": "wrong password!!", "_csrf": login_token})
check(status == 401 and "Wrong email or password" in html, "a wrong password is refused on the page")
status, headers, _ = console.sign_in(stranger, ADMIN_EMAIL, ADMIN_PASSWORD, next="//evil.example/")
check(status == 303 and headers.get("Location") == "/" and signed_in(stranger), "sign-in never redirects off the site")
check(set_cookie(headers, "branch_presession").startswith("branch_presession=;"), "signing in drops the pre-session cookie", str(headers))

status, headers, css = call(browser, "GET", "/assets/console.css")
etag = headers.get("ETag", "")
check(status == 200 and etag and "--bg" in css, "the stylesheet is served with an ETag")
status, _, _ = call(browser, "GET", "/assets/console.css", headers={"If-None-Match": etag})
check(status == 304, "a cached stylesheet is revalidated with 304")

status, headers, _ = call(browser, "POST", "/logout", {"_csrf": token})
check(status == 303, "signing out")
status, headers, _ = call(browser, "GET", "/")
check(status == 303, "the old session no longer works")

# A session's token is checked once per request (not once per API call of the page): revoked, or its
# user deleted, behind the console's back, the very next request (a project page of several calls) is refused.
api = AdminAPI(BASE, ADMIN_KEY)
status, _, _ = call(stranger, "GET", "/projects/shop")
check(status == 200, "a second session sees a project page")
status, listed = api.call("GET", "/tokens")
live = [token["id"] for token in listed.get("tokens", []) if token["name"] == "console" and not token.get("revoked")]
check(status == 200 and len(live) == 1, "the second session is the one live console token", str(listed))
status, _ = api.call("DELETE", f"/tokens/{live[0]}")
check(status == 200, "its token is revoked through the API")
for path in ["/projects/shop", "/projects/shop/branches", "/"]:
    status, headers, _ = call(stranger, "GET", path)
    check(status == 303 and headers.get("Location", "").startswith("/login"), f"the revoked session is sent to sign in at {path}")

member_email, member_password = "member@example.com", "member password 1234"
status, _ = api.call("POST", "/users", {"email": member_email, "password": member_password})
check(status == 201, "a second user is made")
status, _ = api.call("PUT", f"/projects/shop/members/{member_email}", {"role": "developer"})
check(status == 200, "and made a developer of shop")
member = client()
status, _, _ = console.sign_in(member, member_email, member_password)
check(status == 303 and signed_in(member), "the member signs in")
status, _, _ = call(member, "GET", "/projects/shop")
check(status == 200, "the member sees shop")
status, _ = api.call("DELETE", f"/users/{member_email}")
check(status == 200, "the member's user is deleted through the API")
status, headers, _ = call(member, "GET", "/projects/shop")
check(status == 303 and headers.get("Location", "").startswith("/login"), "the deleted user's session is sent to sign in on the next request")
print("all console HTTP checks passed")
