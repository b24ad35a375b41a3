"""The observability page over HTTP: server-rendered SVG charts, events and log, and the live
streams (a sample within 10 s; the log stream opens as an event stream).

Usage: monitoring_http.py BASE_URL ADMIN_KEY PROJECT POSTGRES_URL
Prints one line per check and exits non-zero at the first failure."""
import re
import subprocess
import threading
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from console_http_support import Console, check

BASE, ADMIN_KEY, PROJECT, POSTGRES_URL = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

console = Console(BASE, timeout=60)
browser = console.client()


def call(method, path, form=None):
    return console.call(browser, method, path, form)


def first_event(path, within):
    """Opens an event stream and returns (status, content type, the first event's text or None)."""
    started = time.monotonic()
    with browser.open(urllib.request.Request(BASE + path), timeout=within) as response:
        kind = response.headers.get("Content-Type", "")
        buffer = ""
        while time.monotonic() - started < within:
            line = response.readline().decode()
            if not line:
                break
            buffer += line
            match = re.search(r"event: (\w+)\ndata: ([^\n]*)\n\n", buffer)
            if match:
                return response.status, kind, match.group(1), match.group(2)
        return response.status, kind, None, None


status, _, _ = console.first_run(browser, ADMIN_KEY)
check(status == 303, "the first run signs the admin in")
page_path = f"/projects/{PROJECT}/monitoring?branch=main&range=15m"
status, _, page = call("GET", page_path)
check(status == 200 and '<svg class="chart" id="chart-cpu"' in page, "the page renders the CPU chart as SVG", page)
for chart in ["memory", "io", "connections", "rows", "wal", "deadlocks", "size"]:
    check(f'id="chart-{chart}"' in page, f"the {chart} chart is there")
for field in ["activeConnections", "idleConnections", "maxConnections", "rowsInsertedPerSecond", "rowsUpdatedPerSecond",
              "rowsDeletedPerSecond", "walBytesPerSecond", "exclusiveBytes"]:
    check(f'data-field="{field}"' in page, f"the {field} line is drawn, and the live stream can extend it", page[page.find('id="charts"'):][:3000])
# The sampler's first samples of a new branch take up to an interval; the page shows them once there.
deadline = time.monotonic() + 90
while re.search(r'<path class="series series-memoryBytes" d="M[0-9.]+ [0-9.]+', page) is None and time.monotonic() < deadline:
    time.sleep(3)
    status, _, page = call("GET", page_path)
charts = page[page.find('id="charts"'):page.find('id="events"')]
check(re.search(r'<path class="series series-memoryBytes" d="M[0-9.]+ [0-9.]+', page) is not None, "the memory chart has a line from the samples", charts)
check("branch top --project" in page and 'id="log-lines"' in page and 'id="events"' in page, "events, log and the CLI equivalent show", page)
check("monitoring.js" in page, "the page loads its live module")

# Every branch on the same charts: a line per branch, a table of their latest samples.
check('id="all-branches"' in page, "the page links the comparison of all branches")
deadline = time.monotonic() + 90
while True:
    status, _, compare = call("GET", f"/projects/{PROJECT}/monitoring/branches?range=15m")
    lines = re.findall(r'<path class="series series-(b\d)" d="(M[^"]*)" data-branch="([^"]+)">', compare[compare.find('id="chart-memory"'):])
    drawn = {branch for _, path, branch in lines if path}
    if {"main", "second"} <= drawn or time.monotonic() > deadline:
        break
    time.sleep(3)
check(status == 200 and '<svg class="chart" id="chart-cpu"' in compare and {"main", "second"} <= drawn,
      "the memory chart has a line for each branch, drawn from its samples", compare[compare.find('id="branch-charts"'):][:3000])
styles = {branch: style for style, _, branch in lines}
check(styles.get("main") == "b0" and styles.get("second") not in (None, "b0"), "each branch has its own line style", str(styles))
rows = re.findall(r'<tr><th scope="row"><span class="legend legend-(b\d)" aria-hidden="true"></span><a href="([^"]+)">([^<]+)</a></th>', compare)
check([row[2] for row in rows][:1] == ["main"] and "second" in [row[2] for row in rows] and "monitoring?branch=second" in compare,
      "the latest-sample table lists every branch, main first, each linking its own page", str(rows))
check(re.search(r'<td class="num">\d[^<]*(B|KiB|MiB|GiB)</td>', compare) is not None, "the table shows each branch's memory and size")
status, _, _ = call("GET", "/projects/nothere/monitoring/branches")
check(status == 404, "another project's comparison is a 404")
check('id="operations"' in page, "the operations journal shows", page)
status, _, page = call("GET", f"/projects/{PROJECT}/monitoring?branch=main&level=ERROR&q=nothing-matches-this")
check(status == 200 and 'class="log-line' not in page, "the log filter in the URL applies", page)

status, kind, event, data = first_event(f"/projects/{PROJECT}/monitoring/stream?branch=main", 10)
check(status == 200 and kind.startswith("text/event-stream"), "the sample stream is an event stream")
check(event == "sample" and '"at"' in data, f"a sample arrives within 10 s ({event})", str(data))

def failing_statement():
    time.sleep(2)
    subprocess.run(["psql", POSTGRES_URL, "-X", "-q", "-c", "select console_follow_probe()"], capture_output=True)


threading.Thread(target=failing_statement, daemon=True).start()
status, kind, event, data = first_event(f"/projects/{PROJECT}/monitoring/logs/stream?branch=main&level=ERROR&q=console_follow_probe", 20)
check(status == 200 and kind.startswith("text/event-stream"), "the log stream is an event stream")
check(event == "line" and "ERROR" in data and "console_follow_probe" in data, "a new ERROR log line is relayed, filtered", str(data))

status, _, _ = call("GET", "/projects/nothere/monitoring/stream")
check(status == 404, "another project's stream is a 404")
print("all monitoring HTTP checks passed")
