"""The console part: how fast the web console answers its pages, with BENCH_CONSOLE_PROJECTS
projects (20) of BENCH_CONSOLE_BRANCHES branches each (5, main included). The projects and
branches are made through the API (timed apart: the set-up, not the pages) and every project but
the measured one is stopped, so a hundred idle Postgres servers do not weigh on the measurement.
Then a browser's way in: the first-run screen (`POST /setup` with the admin key), its session
cookie, and BENCH_CONSOLE_REQUESTS (50) GETs of each page type over one keep-alive connection on
loopback (http.client): the client's latency bounds the server's time from above. p50/p95 per
page against the issue's 50 ms, and the bytes of CSS plus JS against its 150 KB."""

import http.client
import os
import re
import time
import urllib.parse

from .common import REPO, BenchError, Part, ReportBase, env_int, fmt_bytes, fmt_ms, log, percentile
from .service import Service

PREFIX = "bench-console"
TABLE_ROWS = 1000
PAGE_TARGET_MS = 50
CODE_BUDGET = 150 * 1024
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench console password"


def pages(project, branch):
    """(label, path) of every page type measured, on `project` whose second branch is `branch`."""
    p = f"/projects/{project}"
    return [
        ("Projects dashboard", "/"),
        ("Overview", p),
        ("Timeline", f"{p}/timeline"),
        ("Branches", f"{p}/branches"),
        ("Snapshots & backups", f"{p}/backups"),
        ("Keys & settings", f"{p}/settings"),
        ("Diff of two branches", f"{p}/diff?from=main&to={branch}"),
        ("Table editor", f"{p}/tables?branch=main&table=public.items"),
        ("SQL editor", f"{p}/sql"),
        ("Database", f"{p}/database"),
        ("Observability", f"{p}/monitoring"),
        ("All branches compared", f"{p}/monitoring/branches"),
    ]


class ConsoleBench(Service):
    """The console part's measurements (a mixin of Bench)."""

    def measure_console(self):
        self.console_projects = env_int("BENCH_CONSOLE_PROJECTS", 20)
        self.console_branches = env_int("BENCH_CONSOLE_BRANCHES", 5)
        self.console_requests = env_int("BENCH_CONSOLE_REQUESTS", 50)
        self.ensure_service("console")
        self.section("console pages", self.results, "console", self.bench_console)

    def bench_console(self):
        names = [f"{PREFIX}-{index:02d}" for index in range(self.console_projects)]
        measured, branch = names[0], "feature"
        started = time.perf_counter()
        project_ms, branch_ms = [], []
        for index, name in enumerate(names):
            url, elapsed = self.create_project(name)
            project_ms.append(elapsed)
            if index == 0:
                self.url_sql(url, f"create table items (id serial primary key, name text not null, qty int not null default 0); "
                                  f"insert into items (name, qty) select 'item ' || g, g from generate_series(1, {TABLE_ROWS}) g")
            for number in range(1, self.console_branches):
                branch_name = branch if number == 1 else f"b{number}"
                _, elapsed = self.api("POST", f"/api/v1/projects/{name}/branches", {"name": branch_name, "from": "main"},
                                      expect=(201,))
                branch_ms.append(elapsed)
            if index == 0:
                direct, _ = self.api("GET", f"/api/v1/projects/{name}/branches/{branch}/connection")
                self.url_sql(direct["url"], "update items set qty = qty + 1 where id % 10 = 0; "
                                            "insert into items (name) values ('added on the branch'); delete from items where id = 7")
            else:
                for number in range(self.console_branches):
                    branch_name = "main" if number == 0 else branch if number == 1 else f"b{number}"
                    self.api("POST", f"/api/v1/projects/{name}/branches/{branch_name}/stop")
            log(f"console: {name} with {self.console_branches} branches ready")
        setup_s = time.perf_counter() - started

        connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=120)
        cookie = self.console_sign_in(connection)
        results, assets = [], set()
        for label, path in pages(measured, branch):
            status, body, _ = self.console_get(connection, path, cookie)
            entry = {"label": label, "path": path, "status": status, "bytes": len(body), "ms": [], "server_ms": [], "calls": {}}
            results.append(entry)
            if status != 200:
                entry["error"] = f"{status}: {re.sub(r'<[^>]+>', ' ', body.decode(errors='replace'))[:200].split()}"
                log(f"console: {path} answered {status}; not measured")
                continue
            assets.update(re.findall(rb'(?:href|src)="(/assets/[^"?]+\.(?:css|js))(?:\?[^"]*)?"', body))
            for _ in range(self.console_requests):
                began = time.perf_counter()
                status, body, headers = self.console_get(connection, path, cookie)
                entry["ms"].append((time.perf_counter() - began) * 1000)
                # The server's own time for the page, where it says it (`Server-Timing: app;dur=MS`).
                timing = re.search(r"\bapp;dur=([0-9.]+)", headers.get("Server-Timing") or "")
                if timing:
                    entry["server_ms"].append(float(timing.group(1)))
                # The API calls the page made (`listBranches;dur=3.1, …`), summed per name per request.
                calls = {}
                for name, value in re.findall(r"([A-Za-z0-9]+);dur=([0-9.]+)", headers.get("Server-Timing") or ""):
                    if name != "app":
                        calls[name] = calls.get(name, 0.0) + float(value)
                for name, value in calls.items():
                    entry["calls"].setdefault(name, []).append(value)
                if status != 200:
                    raise BenchError(f"GET {path} answered {status} during the measurement")
            log(f"console: {label}: p50 {fmt_ms(percentile(entry['ms'], 0.5))}, p95 {fmt_ms(percentile(entry['ms'], 0.95))}")
        served = {}
        for asset in sorted(assets):
            status, body, _ = self.console_get(connection, asset.decode(), cookie)
            if status == 200:
                served[asset.decode()] = len(body)
        connection.close()
        shipped = 0
        for folder in ("css", "js"):
            directory = os.path.join(REPO, "Sources", "BranchConsole", "Assets", folder)
            for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
                shipped += os.path.getsize(os.path.join(directory, name))
        for name in names:
            self.api("DELETE", f"/api/v1/projects/{name}?force=true", expect=(200, 404))
        return {"pages": results, "setup_s": setup_s, "project_ms": project_ms, "branch_ms": branch_ms,
                "served_assets": served, "shipped_code_bytes": shipped, "requests": self.console_requests,
                "projects": self.console_projects, "branches": self.console_branches, "rows": TABLE_ROWS,
                "wall": [value for entry in results for value in entry["ms"]]}

    def console_get(self, connection, path, cookie):
        connection.request("GET", path, headers={"Cookie": cookie, "Accept": "text/html"})
        response = connection.getresponse()
        return response.status, response.read(), response.headers

    def console_form_token(self, connection, path):
        """The sign-in form's pre-session token and cookie (GET `path`), as a browser gets them."""
        connection.request("GET", path, headers={"Accept": "text/html"})
        response = connection.getresponse()
        page = response.read().decode()
        token = re.search(r'name="_csrf" value="([^"]*)"', page)
        cookies = [value.split(";", 1)[0] for key, value in response.headers.items()
                   if key.lower() == "set-cookie" and value.startswith("branch_presession=")]
        return (token.group(1) if token else ""), (cookies[-1] if cookies else "")

    def console_sign_in(self, connection):
        """The first-run screen, as a browser meets it; returns the session cookie."""
        token, cookie = self.console_form_token(connection, "/setup")
        form = urllib.parse.urlencode({"_csrf": token, "admin_key": self.token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                       "confirm": ADMIN_PASSWORD})
        connection.request("POST", "/setup", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Origin": self.base_url, "Cookie": cookie})
        response = connection.getresponse()
        response.read()
        if response.status != 303 or not any(key.lower() == "set-cookie" and value.startswith("branch_session=")
                                              for key, value in response.headers.items()):
            token, cookie = self.console_form_token(connection, "/login")
            form = urllib.parse.urlencode({"_csrf": token, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/"})
            connection.request("POST", "/login", body=form, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Origin": self.base_url, "Cookie": cookie})
            response = connection.getresponse()
            response.read()
        cookies = [value.split(";", 1)[0] for key, value in response.headers.items()
                   if key.lower() == "set-cookie" and value.startswith("branch_session=")]
        if response.status != 303 or not cookies:
            raise BenchError(f"signing in to the console answered {response.status} without a session cookie")
        return cookies[-1]


class ConsoleReport(ReportBase):
    """The console part's sections of the document (a mixin of Report)."""

    def console_result(self):
        result = self.b.results.get("console")
        return result if isinstance(result, dict) and "pages" in result else None

    def render_console(self):
        self.add("### Pages, server-rendered")
        self.add()
        result = self.console_result()
        if not result:
            error = self.b.results.get("console", {}).get("error", "not run") if isinstance(self.b.results.get("console"), dict) else "not run"
            self.add(f"Failed: {error[:400]}")
            self.add()
            return
        self.add(f"{result['projects']} projects of {result['branches']} branches each (main included) made through the API "
                 f"in {result['setup_s']:.0f} s (project create median {fmt_ms(percentile(result['project_ms'], 0.5))}, "
                 f"branch create median {fmt_ms(percentile(result['branch_ms'], 0.5)) if result['branch_ms'] else '–'}); "
                 f"every project but the measured one then stopped. The measured project has a table of {result['rows']:,} "
                 "rows on main, changed on its branch `feature` (every tenth row updated, one inserted, one deleted). "
                 "Signed in through the first-run screen, then each page fetched once (not timed) and "
                 f"{result['requests']} times over one keep-alive HTTP/1.1 connection to 127.0.0.1 (Python's http.client), "
                 "from the request to the last byte of the page: the client's latency, an upper bound of the server's time.")
        self.add()
        rows = []
        for entry in result["pages"]:
            server = entry.get("server_ms") or []
            if entry["ms"]:
                p95 = percentile(entry["ms"], 0.95)
                rows.append([entry["label"], f"`{entry['path']}`", len(entry["ms"]), fmt_ms(percentile(entry["ms"], 0.5)),
                             f"**{fmt_ms(p95)}**", fmt_ms(max(entry["ms"])),
                             fmt_ms(percentile(server, 0.5)) if server else "–", fmt_ms(percentile(server, 0.95)) if server else "–",
                             fmt_bytes(entry["bytes"]), "met" if p95 <= PAGE_TARGET_MS else "**not met**"])
            else:
                rows.append([entry["label"], f"`{entry['path']}`", 0, "–", "–", "–", "–", "–", "–",
                             f"failed ({entry.get('error', '?')[:80]})"])
        self.table(["Page", "URL", "Requests", "p50", "p95", "Max", "Server p50", "Server p95", "HTML",
                    f"p95 ≤ {PAGE_TARGET_MS} ms"], rows)
        self.add("p50, p95 and max are the client's (request to last byte); \"Server\" is what the page's `Server-Timing: "
                 "app;dur=…` header says the service spent on it, where it sends one. The verdict uses the client's p95.")
        self.add()
        # Where each page's server time goes: the API calls its Server-Timing header names.
        breakdown = []
        for entry in result["pages"]:
            calls = entry.get("calls") or {}
            if entry["ms"] and calls:
                ranked = sorted(calls.items(), key=lambda item: -percentile(item[1], 0.5))
                breakdown.append([entry["label"], fmt_ms(percentile(entry.get("server_ms") or [0], 0.5)),
                                  ", ".join(f"`{name}` {fmt_ms(percentile(values, 0.5))}" for name, values in ranked)])
        if breakdown:
            self.add("Where the server's time goes (medians; calls made side by side overlap, so they may add up to more "
                     "than the page; what the page's time leaves over is rendering and the session's own work):")
            self.add()
            self.table(["Page", "Server p50", "API calls (p50 each, summed per request)"], breakdown)
        served = result["served_assets"]
        self.add(f"CSS and JS the measured pages load: {fmt_bytes(sum(served.values()))} "
                 f"({', '.join(f'`{name}` {size / 1024:.1f} KiB' for name, size in served.items())}); all the CSS and JS the "
                 f"binary ships: {result['shipped_code_bytes'] / 1024:.1f} KiB, against a budget of 150 KiB.")
        self.add()

    def targets_console(self):
        result = self.console_result()
        measured = [entry for entry in result["pages"] if entry["ms"]] if result else []
        worst = max((percentile(entry["ms"], 0.95) for entry in measured), default=None)
        missing = result and len(measured) < len(result["pages"])
        code = result["shipped_code_bytes"] if result else None
        return [
            ("Console: every page's server time, p95 (worst page)", f"≤ {PAGE_TARGET_MS} ms", worst,
             None if worst is None else (worst <= PAGE_TARGET_MS and not missing), fmt_ms),
            ("Console: CSS + JS", "≤ 150 KiB", code, None if code is None else code <= CODE_BUDGET, fmt_bytes),
        ]

    def interpretation_console(self):
        result = self.console_result()
        if not result:
            return []
        measured = [entry for entry in result["pages"] if entry["ms"]]
        if not measured:
            return []
        slowest = max(measured, key=lambda entry: percentile(entry["ms"], 0.95))
        return [f"Console: the slowest page at p95 was {slowest['label']} ({fmt_ms(percentile(slowest['ms'], 0.95))}), "
                f"with {result['projects']} projects of {result['branches']} branches on the service; the times include "
                "the client's side of loopback HTTP, so the server's own time is lower."]

    def command_console(self):
        b = self.b
        return (f" BENCH_CONSOLE_PROJECTS={getattr(b, 'console_projects', 20)} BENCH_CONSOLE_BRANCHES="
                f"{getattr(b, 'console_branches', 5)} BENCH_CONSOLE_REQUESTS={getattr(b, 'console_requests', 50)}")

    def raw_values_console(self):
        result = self.console_result()
        return [(f"console page {entry['label']} (`{entry['path']}`)", entry["ms"])
                for entry in (result["pages"] if result else []) if entry["ms"]]


PART = Part("console", ConsoleBench, ConsoleReport, chapter="The web console")
