"""What every *_http.py script needs to use the console over plain HTTP as a browser without
JavaScript does: a client that keeps its cookies and does not follow redirects, form posts, the
CSRF token of signed-in pages, the sign-in and first-run forms with their pre-session token, and
checks that stop the script at the first failure.

    console = Console(BASE, timeout=120)
    admin = console.client()
    status, headers, page = console.first_run(admin, ADMIN_KEY)
    status, headers, page = console.call(admin, "POST", path, {"_csrf": csrf_of(page), ...})
"""
import html
import http.cookiejar
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

ADMIN_EMAIL = "owner@example.com"
ADMIN_PASSWORD = "correct horse battery"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def check(condition, what, detail=""):
    """Prints `ok   what`, or `FAIL what` with `detail` and exits."""
    if not condition:
        print(f"FAIL {what}")
        if detail:
            print(detail[:6000])
        sys.exit(1)
    print(f"ok   {what}")


def csrf_of(page):
    """The CSRF token of a signed-in page (`<meta name="csrf-token">`)."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    return match.group(1) if match else ""


def forms(page, action):
    """The insides of the page's POST forms to `action`."""
    return re.findall(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', page, re.S)


def hidden_fields(form_html):
    """A form's hidden fields, by name."""
    return {html.unescape(name): html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form_html)}


def form_token_of(page):
    """The `_csrf` field of the sign-in or first-run form (the pre-session token)."""
    match = re.search(r'<input type="hidden" name="_csrf" value="([^"]*)">', page)
    return html.unescape(match.group(1)) if match else ""


def headers_of(message):
    """The headers as a dict; several Set-Cookie headers joined by newlines."""
    headers = dict(message)
    cookies = message.get_all("Set-Cookie") or []
    if cookies:
        headers["Set-Cookie"] = "\n".join(cookies)
    return headers


def set_cookie(headers, name):
    """The Set-Cookie value for cookie `name`, or ""."""
    return next((line for line in headers.get("Set-Cookie", "").split("\n") if line.startswith(name + "=")), "")


class Console:
    """The console at `base`; `last` describes the latest answer, for failure messages."""

    def __init__(self, base, timeout=120):
        self.base = base
        self.timeout = timeout
        self.last = ""

    def client(self):
        """A new browser: an opener with its own cookie jar (as `.jar`)."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar))
        opener.jar = jar
        return opener

    def call(self, opener, method, path, form=None, headers=None, body=None):
        """(status, headers, text) of a request; `form` is sent url-encoded (lists as repeated fields)."""
        data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else body
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if form is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with opener.open(request, timeout=self.timeout) as response:
                answer = response.status, headers_of(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            answer = error.code, headers_of(error.headers), error.read().decode()
        self.last = f"{method} {path} -> {answer[0]}\n{answer[2][answer[2].find('<main'):][:4000]}"
        return answer

    def check(self, condition, what):
        """`check`, showing the latest answer on failure."""
        check(condition, what, f"last response: {self.last}")

    def first_run(self, opener, admin_key, email=ADMIN_EMAIL, password=ADMIN_PASSWORD):
        """Fills in the first-run screen as a browser does (its page first, for the form's token)."""
        _, _, page = self.call(opener, "GET", "/setup")
        return self.call(opener, "POST", "/setup", {
            "_csrf": form_token_of(page), "admin_key": admin_key, "email": email, "password": password, "confirm": password})

    def sign_in(self, opener, email, password, next="/"):
        """Fills in the sign-in form as a browser does (its page first, for the form's token)."""
        _, _, page = self.call(opener, "GET", "/login?next=" + urllib.parse.quote(next, safe=""))
        return self.call(opener, "POST", "/login", {"_csrf": form_token_of(page), "email": email, "password": password, "next": next})


class AdminAPI:
    """The service's API (`/api/v1`) with the admin key, to prepare data and check it behind the console's back."""

    def __init__(self, base, key, timeout=120):
        self.base = base
        self.key = key
        self.timeout = timeout

    def call(self, method, path, payload=None):
        """(status, decoded JSON answer)."""
        request = urllib.request.Request(
            self.base + "/api/v1" + path, data=json.dumps(payload).encode() if payload is not None else None, method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def sql(self, project, query, branch="main"):
        """The last statement's rows of admin SQL on `branch`; exits when it fails."""
        status, answer = self.call("POST", f"/projects/{project}/branches/{branch}/sql", {"query": query})
        if status != 200:
            print(f"FAIL admin SQL {query!r}: {status} {answer}")
            sys.exit(1)
        return answer["results"][-1]["rows"]
