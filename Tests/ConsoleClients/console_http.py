"""The console over plain HTTP, as a browser without JavaScript would use it: the first-run
screen, sign-in, sessions, CSRF and origin checks, 404s that leak nothing, cached assets.

Usage: console_http.py BASE_URL ADMIN_KEY
Prints one line per check and exits non-zero at the first failure."""
import http.cookiejar
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE, ADMIN_KEY = sys.argv[1], sys.argv[2]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def client():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar)), jar


def call(opener, method, path, form=None, headers=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def check(condition, what):
    if not condition:
        print(f"FAIL {what}")
        sys.exit(1)
    print(f"ok   {what}")


def csrf_of(html):
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    return match.group(1) if match else ""


browser, jar = client()
status, headers, _ = call(browser, "GET", "/")
check(status == 303 and headers.get("Location") == "/login", "a visitor is sent to sign in")
status, headers, _ = call(browser, "GET", "/login")
check(status == 303 and headers.get("Location") == "/setup", "before the first run, sign-in leads to the first-run screen")
status, _, html = call(browser, "GET", "/setup")
check(status == 200 and "Admin key" in html, "the first-run screen asks for the admin key")
status, _, html = call(browser, "POST", "/setup", {"admin_key": "wrong", "email": "owner@example.com", "password": "correct horse battery", "confirm": "correct horse battery"})
check(status == 401 and "neither the admin key" in html, "a wrong admin key is refused on the page")
status, headers, _ = call(browser, "POST", "/setup", {"admin_key": ADMIN_KEY, "email": "owner@example.com", "password": "correct horse battery", "confirm": "correct horse battery"})
check(status == 303 and any(c.name == "branch_session" for c in jar), "the first run signs the new admin in")
cookie = headers.get("Set-Cookie", "")
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

stranger, _ = client()
status, headers, _ = call(stranger, "GET", "/")
check(status == 303 and headers.get("Location", "").startswith("/login"), "another browser without a session is sent to sign in")
status, _, _ = call(stranger, "GET", "/setup")
check(status == 303, "the first-run screen is gone once used")
status, _, html = call(stranger, "POST", "/login", {"email": "owner@example.com", "password": "wrong password!!", "next": "/"})
check(status == 401 and "Wrong email or password" in html, "a wrong password is refused on the page")
status, headers, _ = call(stranger, "POST", "/login", {"email": "owner@example.com", "password": "correct horse battery", "next": "//evil.example/"})
check(status == 303 and headers.get("Location") == "/", "sign-in never redirects off the site")

status, headers, css = call(browser, "GET", "/assets/console.css")
etag = headers.get("ETag", "")
check(status == 200 and etag and "--bg" in css, "the stylesheet is served with an ETag")
status, _, _ = call(browser, "GET", "/assets/console.css", headers={"If-None-Match": etag})
check(status == 304, "a cached stylesheet is revalidated with 304")

status, headers, _ = call(browser, "POST", "/logout", {"_csrf": token})
check(status == 303, "signing out")
status, headers, _ = call(browser, "GET", "/")
check(status == 303, "the old session no longer works")
print("all console HTTP checks passed")
