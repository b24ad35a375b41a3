"""The rest part: the project's data API (`/p/{project}/rest/v1/{table}`, PostgREST semantics) against
the same statements sent as SQL, on a table of BENCH_REST_ROWS rows (default 1,000,000): GET by
primary key, a filtered list of 100 rows and a single-row insert. wrk drives the data API over
HTTP keep-alive with BENCH_REST_CONNECTIONS connections (64); pgbench (`-M prepared`, custom
scripts) drives the same statements with as many clients on the branch's direct URL, and with
as many clients as PgBouncer serves at once on the project's pooled URL. Requests per second, p50
and p99 latency, errors; the service's RSS every second during the longest data API run
(BENCH_REST_MEMORY_SECONDS, 60). Its measurements, and its sections of the document."""

import contextlib
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request

from .common import (
    CONTAINER_PREFIX, BenchError, Part, ReportBase, Sampler, env_int, find_pids, fmt_bytes, fmt_ms, fmt_ratio,
    linear_fit, log, percentile, read_proc, status_kb,
)
from .service import Service

PROJECT = "bench-rest"
TABLE = "bench"
# Rows per group_id: the filtered list returns exactly this many rows.
GROUP_ROWS = 100
# wrk threads and pgbench jobs (`-j`), the same for both.
WORKERS = 2
# Seconds of wrk before each scenario's measured data API run (pools, caches), not counted.
WARMUP_SECONDS = 5
# The service's memory is flat when its RSS at the end of the memory run is within this fraction of
# its RSS after the warm-up, and the second half of the run added at most LATE_GROWTH_LIMIT.
MEMORY_GROWTH_LIMIT = 0.20
LATE_GROWTH_LIMIT = 0.10
# The goals: data API throughput at least this fraction of SQL's, p99 at most this multiple of SQL's.
THROUGHPUT_GOAL = 0.5
P99_GOAL = 3.0
# The sides whose CPU time per request is measured (CPUMeter).
CPU_SIDES = ("client", "service", "pgbouncer", "postgres")
# Seconds to wait before reading pg_stat_database: idle backends publish their counts within 10 s.
STATS_SETTLE_SECONDS = 11
# Postgres' max_connections for the project (see bench_rest).
MAX_CONNECTIONS = 200

# A wrk script's last words: one line of JSON the bench reads (latencies in µs).
WRK_DONE = r"""function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"max":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
"""

# Each wrk thread has its own Lua state: a seed of its own, so threads ask for different rows.
WRK_RANDOM = r"""local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + seed)
end
"""


def scenarios(rows):
    """The three workloads: the data API request (wrk's Lua) and the SQL statement (pgbench's script)."""
    groups = rows // GROUP_ROWS
    return [
        {"name": "get", "label": "GET by primary key",
         "http": f"`GET /rest/v1/{TABLE}?id=eq.<random 1…{rows:,}>`",
         "lua": WRK_RANDOM + "function request()\n  return wrk.format(nil, wrk.path .. \"?id=eq.\" .. "
                f"math.random(1, {rows}))\nend\n",
         "sql": f"\\set id random(1, {rows})\nselect * from {TABLE} where id = :id;\n"},
        {"name": "list", "label": f"Filtered list of {GROUP_ROWS} rows",
         "http": f"`GET /rest/v1/{TABLE}?select=*&group_id=eq.<random 1…{groups:,}>&limit={GROUP_ROWS}`",
         "lua": WRK_RANDOM + "function request()\n  return wrk.format(nil, wrk.path .. \"?select=*&group_id=eq.\" .. "
                f"math.random(1, {groups}) .. \"&limit={GROUP_ROWS}\")\nend\n",
         "sql": f"\\set g random(1, {groups})\nselect * from {TABLE} where group_id = :g limit {GROUP_ROWS};\n"},
        {"name": "insert", "label": "Single-row insert",
         "http": f"`POST /rest/v1/{TABLE}` `{{\"group_id\":0,\"payload\":\"x\"}}`, `Prefer: return=minimal`",
         "lua": "wrk.method = \"POST\"\nwrk.body = '{\"group_id\":0,\"payload\":\"x\"}'\n"
                "wrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Prefer\"] = \"return=minimal\"\n",
         "sql": f"insert into {TABLE} (group_id, payload) values (0, 'x');\n"},
    ]


# The HTTP floor: the service's cheapest route (constant JSON, no key, no database) under the same
# wrk load. No data API request can be served faster than this by the same HTTP server on the same
# CPUs, so it bounds what the throughput and p99 goals can reach on this machine.
FLOOR_PATH = "/api/v1/health"
FLOOR = {"name": "floor", "label": "HTTP floor", "path": FLOOR_PATH, "lua": "", "keyless": True,
         "http": f"`GET {FLOOR_PATH}` (constant JSON; no key, no database)"}


def stat_fields(pid):
    """/proc/<pid>/stat after the command name: [state, ppid, …] (None when the process is gone)."""
    stat = read_proc(pid, "stat")
    return stat[stat.rindex(b")") + 2:].split() if stat and b")" in stat else None


def cpu_ticks(pid, children=False):
    """CPU time of one process in clock ticks (utime + stime), with `children` also that of its
    children it has waited for (cutime + cstime); 0 when it is gone."""
    fields = stat_fields(pid) if pid else None
    if not fields:
        return 0
    return sum(int(fields[index]) for index in ((11, 12, 13, 14) if children else (11, 12)))


def tree_ticks(root):
    """CPU time of `root` and every live descendant, each with its waited-for children: so also the
    backends that exited since (a postmaster waits for each of them)."""
    if not root:
        return 0
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(int(entry))
            if fields:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += cpu_ticks(pid, children=True)
        pending += parents.get(pid, [])
    return total


class CPUMeter:
    """The CPU time the processes of one run use, per side: the client (wrk or pgbench, this
    script's children), the service, PgBouncer and the branch's Postgres (its process tree), in
    µs per request once `per_request(requests)` is called after the `with` block."""

    def __init__(self, service_pid, pgbouncer_pid, postgres_pid):
        self.pids = (service_pid, pgbouncer_pid, postgres_pid)
        self.tick = os.sysconf("SC_CLK_TCK")

    def read(self):
        service, pgbouncer, postgres = self.pids
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"client": (usage.ru_utime + usage.ru_stime) * self.tick, "service": cpu_ticks(service),
                "pgbouncer": cpu_ticks(pgbouncer), "postgres": tree_ticks(postgres)}

    def __enter__(self):
        self.before = self.read()
        return self

    def __exit__(self, *exc):
        self.after = self.read()
        return False

    def per_request(self, requests):
        return {side: (self.after[side] - self.before[side]) / self.tick * 1e6 / max(requests, 1) for side in CPU_SIDES}


class RssSeries(Sampler):
    """The VmRSS of one process every `interval` seconds while a `with` block runs: (seconds, bytes)."""

    def __init__(self, pid, interval=1.0):
        super().__init__(interval)
        self.pid, self.started, self.samples = pid, time.monotonic(), []

    def sample(self):
        rss = status_kb(self.pid, "VmRSS")
        if rss is not None:
            self.samples.append((time.monotonic() - self.started, rss))


class RestBench(Service):
    """The rest part's measurements (a mixin of Bench)."""

    def measure_rest(self):
        # The part's settings, read with the part; the defaults stand when one is invalid (then reported).
        self.rest_rows, self.rest_seconds, self.rest_memory_seconds, self.rest_connections = 1000000, 20, 60, 64
        self.ensure_service("rest")
        try:
            self.rest_rows = env_int("BENCH_REST_ROWS", 1000000, minimum=GROUP_ROWS)
            self.rest_seconds = env_int("BENCH_REST_SECONDS", 20)
            self.rest_memory_seconds = env_int("BENCH_REST_MEMORY_SECONDS", 60, minimum=3)
            self.rest_connections = env_int("BENCH_REST_CONNECTIONS", 64)
            self.bench_rest()
        except Exception as error:  # noqa: BLE001 - what was measured is kept
            self.results.setdefault("rest", {})["error"] = str(error)
            self.failed(f"rest: {error}", during="the rest part")

    def bench_rest(self):
        if not shutil.which("wrk"):
            raise BenchError("wrk is not installed (scripts/install-deps.sh installs the Debian package)")
        result = self.results["rest"] = {
            "rows": self.rest_rows, "connections": self.rest_connections, "seconds": self.rest_seconds,
            "memory_seconds": self.rest_memory_seconds, "workers": WORKERS, "warmup_seconds": WARMUP_SECONDS,
            "runtime": self.runtime_name, "scenarios": [], "wrk_version": self.wrk_version()}
        self.rest_work = os.path.join(self.dir, "rest")
        os.makedirs(self.rest_work, exist_ok=True)
        try:
            # Scale to zero off: the table must not be suspended between runs; no snapshot in the middle.
            # max_connections 200: pgbench's clients on the direct URL, PgBouncer's pool (its server
            # connections stay open after a run) and the data API's own pool must fit at once.
            created, _ = self.api("POST", "/api/v1/projects", {"name": PROJECT, "settings": {
                "suspendAfterSeconds": 0, "suspendMainAfterSeconds": 0, "maxConnections": MAX_CONNECTIONS}}, expect=(201,))
            self.api("DELETE", f"/api/v1/projects/{PROJECT}/schedules/snapshot", expect=(200, 404))
            main, _ = self.api("GET", f"/api/v1/projects/{PROJECT}/branches/main")
            direct, _ = self.api("GET", f"/api/v1/projects/{PROJECT}/branches/main/connection")
            pooled_url, direct_url, port = created["connection"]["url"], direct["url"], main["port"]
            self.rest_key = created["keys"]["serviceRoleKey"]
            self.rest_base = self.base_url + created["keys"]["path"]
            result["path"] = created["keys"]["path"]
            result["pooler"] = self.pooler_settings()
            self.rest_postgres, self.rest_pgbouncer = self.postgres_root(), self.pgbouncer_of_pool()
            self.rest_port, self.rest_database = port, direct["database"]
            result.update(self.load_rest_table(pooled_url, port))
            result["max_connections"] = MAX_CONNECTIONS
            result["checks"] = self.check_rest()
            self.bench_floor(result)
            for scenario in scenarios(self.rest_rows):
                entry = {key: scenario[key] for key in ("name", "label", "http", "sql")}
                result["scenarios"].append(entry)
                self.bench_scenario(scenario, entry, direct_url, pooled_url, result)
        finally:
            try:
                self.api("DELETE", f"/api/v1/projects/{PROJECT}?force=true", expect=(200, 404), timeout=900)
            except Exception as error:  # noqa: BLE001
                log(f"could not delete project {PROJECT}: {error}")
            shutil.rmtree(self.rest_work, ignore_errors=True)
        return result

    def database_counters(self):
        """The project database's sessions opened and transactions ended so far (pg_stat_database)."""
        sessions, transactions = self.su_sql(self.rest_port, "select sessions, xact_commit + xact_rollback from "
                                             f"pg_stat_database where datname = '{self.rest_database}'").split("|")
        return int(sessions), int(transactions)

    def settled_counters(self):
        """database_counters() once every backend has published its counts: an idle backend publishes
        them within 10 s (PGSTAT_IDLE_INTERVAL), and the data API's pooled connections stay open."""
        time.sleep(STATS_SETTLE_SECONDS)
        return self.database_counters()

    def counted(self, run, before, requests):
        """Sessions and transactions per request, from the counters before the run and after it."""
        sessions, transactions = self.settled_counters()
        run["sessions_per_request"] = (sessions - before[0]) / max(requests, 1)
        run["transactions_per_request"] = (transactions - before[1]) / max(requests, 1)

    def cpu_meter(self):
        return CPUMeter(self.service.pid, self.rest_pgbouncer, self.rest_postgres)

    def postgres_root(self):
        """The host pid at the top of the project's main Postgres: its container's (podman) or its postmaster."""
        if self.runtime_name in ("podman", "docker") and shutil.which(self.runtime_name):
            inspected = subprocess.run([self.runtime_name, "inspect", "--format", "{{.State.Pid}}",
                                        f"{CONTAINER_PREFIX}-{PROJECT}-main"], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True, timeout=120)
            if inspected.returncode == 0 and inspected.stdout.strip().isdigit() and int(inspected.stdout.strip()) > 0:
                return int(inspected.stdout.strip())
        found = find_pids({"postgres", "postmaster"}, mention=f"/projects/{PROJECT}/branches/main/pgdata")
        if not found:
            raise BenchError(f"found no Postgres of {PROJECT}'s main branch to measure its CPU time")
        return min(found)

    def pgbouncer_of_pool(self):
        found = find_pids({"pgbouncer"}, mention=self.pool)
        return found[0] if found else None

    def wrk_version(self):
        result = subprocess.run(["wrk", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        match = re.search(r"wrk (\S+)", result.stdout)
        return match.group(1) if match else None

    def pooler_settings(self):
        """PgBouncer's pool mode and pool size, from the configuration Branch wrote (its command line names it)."""
        for pid in find_pids({"pgbouncer"}, mention=self.pool):
            arguments = (read_proc(pid, "cmdline") or b"").decode(errors="replace").split("\0")
            config = next((argument for argument in arguments if argument.endswith(".ini")), None)
            if not config:
                continue
            with open(config) as handle:
                text = handle.read()
            mode = re.search(r"^pool_mode\s*=\s*(\S+)", text, re.MULTILINE)
            size = re.search(r"^default_pool_size\s*=\s*(\d+)", text, re.MULTILINE)
            return {"mode": mode.group(1) if mode else "session", "size": int(size.group(1)) if size else 20}
        raise BenchError("found no PgBouncer of this pool to read its pool size from")

    def load_rest_table(self, pooled_url, port):
        """The table, filled with generate_series over the pooled URL: id (identity, primary key),
        group_id (GROUP_ROWS rows each, indexed), a 32-character payload and a timestamp."""
        log(f"rest: loading {self.rest_rows:,} rows into {PROJECT}.{TABLE} over the pooled URL")
        started = time.perf_counter()
        self.run([self.tool("psql"), pooled_url, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                  "-c", f"create table {TABLE} (id bigint generated by default as identity primary key, "
                        "group_id integer not null, payload text not null, created_at timestamptz not null default now())",
                  "-c", f"insert into {TABLE} (group_id, payload) select (g - 1) / {GROUP_ROWS} + 1, md5(g::text) "
                        f"from generate_series(1, {self.rest_rows}) g",
                  "-c", f"create index {TABLE}_group_id on {TABLE} (group_id)",
                  "-c", f"vacuum analyze {TABLE}"], timeout=3600)
        load_seconds = time.perf_counter() - started
        self.su_sql(port, "CHECKPOINT")
        size = int(self.url_sql(pooled_url, f"select pg_total_relation_size('{TABLE}')"))
        log(f"rest: loaded {fmt_bytes(size)} in {load_seconds:.1f} s")
        return {"load_seconds": load_seconds, "table_bytes": size}

    # ------------------------------------------------------------ the data API

    def rest_request(self, method, query="", body=None, prefer=None):
        """One data API request with the service_role key: (status, parsed body or text)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.rest_base}/rest/v1/{TABLE}{query}", data=data, method=method)
        request.add_header("apikey", self.rest_key)
        request.add_header("Authorization", f"Bearer {self.rest_key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if prefer:
            request.add_header("Prefer", prefer)
        try:
            with self.opener.open(request, timeout=60) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw[:300].decode(errors="replace")

    def check_rest(self):
        """One request of each kind answers what it should before anything is timed."""
        middle = self.rest_rows // 2
        status, body = self.rest_request("GET", f"?id=eq.{middle}")
        if status != 200 or not isinstance(body, list) or len(body) != 1 or body[0].get("id") != middle:
            raise BenchError(f"GET /rest/v1/{TABLE}?id=eq.{middle} answered {status}: {str(body)[:300]}")
        status, listed = self.rest_request("GET", f"?select=*&group_id=eq.2&limit={GROUP_ROWS}")
        if status != 200 or not isinstance(listed, list) or len(listed) != GROUP_ROWS:
            raise BenchError(f"the filtered list answered {status} with {len(listed) if isinstance(listed, list) else listed!r} rows")
        status, inserted = self.rest_request("POST", body={"group_id": 0, "payload": "x"}, prefer="return=minimal")
        if status != 201:
            raise BenchError(f"POST /rest/v1/{TABLE} answered {status}: {str(inserted)[:300]}")
        return {"get": f"200, 1 row (id {middle})", "list": f"200, {len(listed)} rows", "insert": "201, empty body"}

    def wrk_command(self, scenario, seconds):
        script = os.path.join(self.rest_work, f"{scenario['name']}.lua")
        with open(script, "w") as handle:
            handle.write(scenario["lua"] + WRK_DONE)
        url = self.base_url + scenario["path"] if scenario.get("path") else f"{self.rest_base}/rest/v1/{TABLE}"
        args = ["wrk", "-t", str(min(WORKERS, self.rest_connections)), "-c", str(self.rest_connections), "-d", f"{seconds}s",
                "--latency", "--timeout", "10s", "-s", script]
        headers = [] if scenario.get("keyless") else ["-H", f"apikey: {self.rest_key}", "-H", f"Authorization: Bearer {self.rest_key}"]
        shown = " ".join(shlex.quote(part) for part in args).replace(script, f"{scenario['name']}.lua")
        if headers:
            shown += " -H 'apikey: <service_role key>' -H 'Authorization: Bearer <service_role key>'"
        shown += f" http://127.0.0.1:<port>{url[len(self.base_url):]}"
        return args + headers + [url], shown

    def wrk_run(self, scenario, seconds, memory=False, counters=None):
        """wrk against the data API: requests/s, latencies, errors, CPU; with `memory`, the service's RSS
        every second; with `counters` (settled_counters() before the run), Postgres' sessions and
        transactions per request."""
        command, shown = self.wrk_command(scenario, seconds)
        pid = self.service.pid
        log_offset = os.path.getsize(self.serve_log) if os.path.exists(self.serve_log) else 0
        rss_before = status_kb(pid, "VmRSS")
        series = RssSeries(pid) if memory else None
        with series or contextlib.nullcontext(), self.cpu_meter() as meter:
            completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       timeout=seconds + 300, stdin=subprocess.DEVNULL, cwd="/")
        rss_after = status_kb(pid, "VmRSS")
        line = next((text for text in completed.stdout.splitlines() if text.startswith("WRK-RESULT ")), None)
        if completed.returncode != 0 or not line:
            raise BenchError(f"wrk failed ({completed.returncode}): {(completed.stderr + completed.stdout).strip()[-800:]}")
        summary = json.loads(line[len("WRK-RESULT "):])
        requests, duration = summary["requests"], summary["duration_us"] / 1e6
        latency = summary["latency_us"]
        run = {"command": shown, "requests": requests, "seconds": duration, "rate": requests / duration if duration else 0.0,
               "p50": latency["p50"] / 1000, "p90": latency["p90"] / 1000, "p99": latency["p99"] / 1000,
               "p999": latency["p999"] / 1000, "mean": latency["mean"] / 1000, "max": latency["max"] / 1000,
               "errors": summary["errors"], "bytes": summary["bytes"], "rss_before": rss_before, "rss_after": rss_after,
               "cpu_us": meter.per_request(requests)}
        if series:
            series.samples.append((time.monotonic() - series.started, rss_after))
            run["rss_series"] = series.samples
        if counters:
            self.counted(run, counters, requests)
        if any(summary["errors"].values()):
            run["failures"] = self.describe_failures(scenario, log_offset)
        return run

    def describe_failures(self, scenario, log_offset):
        """After a run with errors: what 20 more requests answer, and the service's log lines of the run."""
        statuses = {}
        sample = None
        for _ in range(20):
            if scenario["name"] == "insert":
                status, body = self.rest_request("POST", body={"group_id": 0, "payload": "x"}, prefer="return=minimal")
            elif scenario["name"] == "list":
                status, body = self.rest_request("GET", f"?select=*&group_id=eq.3&limit={GROUP_ROWS}")
            else:
                status, body = self.rest_request("GET", "?id=eq.7")
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 300 and sample is None:
                sample = str(body)[:300]
        lines = []
        try:
            with open(self.serve_log, errors="replace") as handle:
                handle.seek(log_offset)
                lines = [line.strip() for line in handle
                         if re.search(r"error|warning|critical|fatal", line, re.IGNORECASE)]
        except OSError:
            pass
        return {"statuses_after": statuses, "sample_body": sample, "log_lines": len(lines), "log": lines[:10]}

    # ------------------------------------------------------------ SQL

    def pgbench_run(self, scenario, url, clients, seconds, label):
        """pgbench -M prepared with the scenario's script: tps and per-transaction latencies (--log)."""
        script = os.path.join(self.rest_work, f"{scenario['name']}.sql")
        with open(script, "w") as handle:
            handle.write(scenario["sql"])
        prefix = os.path.join(self.rest_work, f"{scenario['name']}-{label}")
        args = [self.tool("pgbench"), "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(WORKERS, clients)),
                "-T", str(seconds), "-f", script, "--log", f"--log-prefix={prefix}"]
        shown = ("pgbench " + " ".join(shlex.quote(part) for part in args[1:]).replace(script, f"{scenario['name']}.sql")
                 .replace(prefix, f"<dir>/{scenario['name']}-{label}") + f" '<{label} URL>'")
        with self.cpu_meter() as meter:
            completed = self.run(args + [url], timeout=seconds + 300, check=False)
        output = (completed.stdout or "") + (completed.stderr or "")
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
        processed = re.search(r"number of transactions actually processed: (\d+)", output)
        failed = re.search(r"number of failed transactions: (\d+)", output)
        latencies, failures = [], 0
        for name in sorted(os.listdir(self.rest_work)):
            if not name.startswith(os.path.basename(prefix) + "."):
                continue
            path = os.path.join(self.rest_work, name)
            with open(path) as handle:
                for line in handle:
                    fields = line.split()
                    if len(fields) >= 3 and fields[2].isdigit():
                        latencies.append(int(fields[2]))
                    elif len(fields) >= 3:
                        failures += 1
            os.remove(path)
        if completed.returncode != 0 or not tps or not latencies:
            raise BenchError(f"`{shown}` failed ({completed.returncode}): {output.strip()[-800:]}")
        transactions = int(processed.group(1)) if processed else len(latencies)
        run = {"command": shown, "clients": clients, "rate": float(tps.group(1)), "transactions": transactions,
                "failed": int(failed.group(1)) if failed else failures, "logged": len(latencies),
                "p50": percentile(latencies, 0.50) / 1000, "p90": percentile(latencies, 0.90) / 1000,
                "p99": percentile(latencies, 0.99) / 1000, "p999": percentile(latencies, 0.999) / 1000,
                "mean": sum(latencies) / len(latencies) / 1000, "max": max(latencies) / 1000,
                "cpu_us": meter.per_request(transactions)}
        return run

    # ------------------------------------------------------------ one scenario

    def row_count(self, url):
        return int(self.url_sql(url, f"select count(*) from {TABLE}"))

    def bench_floor(self, result):
        """The HTTP floor (see FLOOR): a warm-up, then the same wrk load as the data API's runs."""
        try:
            log(f"rest: HTTP floor: wrk -c {self.rest_connections} on {FLOOR_PATH} for {self.rest_seconds} s")
            self.wrk_run(FLOOR, WARMUP_SECONDS)
            floor = result["floor"] = self.wrk_run(FLOOR, self.rest_seconds)
            log(f"  HTTP floor: {floor['rate']:,.0f} requests/s, p50 {fmt_ms(floor['p50'])}, p99 {fmt_ms(floor['p99'])}")
        except Exception as error:  # noqa: BLE001 - the workloads are still measured
            result["floor_error"] = str(error)
            self.failed(f"rest, HTTP floor: {error}", during="the HTTP floor")

    def bench_scenario(self, scenario, entry, direct_url, pooled_url, result):
        """Warm-up, the data API with wrk, then pgbench on the direct and on the pooled URL."""
        name, count_url = scenario["name"], pooled_url
        inserts = name == "insert"
        memory = name == "get"
        seconds = self.rest_memory_seconds if memory else self.rest_seconds
        try:
            if memory:
                entry["rss_cold"] = status_kb(self.service.pid, "VmRSS")
            log(f"rest: {scenario['label']}: {WARMUP_SECONDS} s of wrk to warm up")
            warmup = self.wrk_run(scenario, WARMUP_SECONDS)
            entry["warmup"] = {key: warmup[key] for key in ("requests", "rate", "errors")}
            # Meanwhile the warm-up's last requests finish (the service still runs those wrk left in flight).
            counters = self.settled_counters()
            before = self.row_count(count_url) if inserts else None
            log(f"rest: {scenario['label']}: data API, wrk -c {self.rest_connections} for {seconds} s"
                + (" (the service's RSS every second)" if memory else ""))
            rest = entry["rest"] = self.wrk_run(scenario, seconds, memory=memory, counters=counters)
            if inserts:
                rest["rows_added"] = self.row_count(count_url) - before
            log(f"  data API: {rest['rate']:,.0f} requests/s, p50 {fmt_ms(rest['p50'])}, p99 {fmt_ms(rest['p99'])}, "
                f"errors {rest['errors']}" + (f", rows added {rest['rows_added']:,}" if inserts else "")
                + (f", service RSS {fmt_bytes(rest['rss_before'])} → {fmt_bytes(rest['rss_after'])}" if memory else ""))
            if rest.get("failures"):
                log(f"  data API failures: {rest['failures']}")
        except Exception as error:  # noqa: BLE001 - the SQL side is still measured
            entry["rest_error"] = str(error)
            self.failed(f"rest, {scenario['label']}, data API: {error}", during=f"the data API's {scenario['label']}")
        for label, url, clients in (("direct", direct_url, self.rest_connections),
                                    ("pooled", pooled_url, min(self.rest_connections, result["pooler"]["size"]))):
            try:
                before = self.row_count(count_url) if inserts else None
                log(f"rest: {scenario['label']}: SQL, pgbench -M prepared -c {clients} on the {label} URL for {self.rest_seconds} s")
                run = entry[label] = self.pgbench_run(scenario, url, clients, self.rest_seconds, label)
                if inserts:
                    run["rows_added"] = self.row_count(count_url) - before
                log(f"  SQL ({label}): {run['rate']:,.0f} transactions/s, p50 {fmt_ms(run['p50'])}, p99 {fmt_ms(run['p99'])}, "
                    f"failed {run['failed']}")
            except Exception as error:  # noqa: BLE001
                entry[f"{label}_error"] = str(error)
                self.failed(f"rest, {scenario['label']}, SQL ({label}): {error}", during=f"pgbench ({scenario['label']})")


def memory_summary(rest):
    """The service's RSS over the memory run: after the warm-up (the run's first sample), max, end,
    growth, and the growth over the run's second half."""
    series = rest.get("rss_series") if isinstance(rest, dict) else None
    if not series or len(series) < 3:
        return None
    start, end = series[0][1], series[-1][1]
    middle_time = series[-1][0] / 2
    middle = min(series, key=lambda sample: abs(sample[0] - middle_time))[1]
    growth, late = (end - start) / start, (end - middle) / start
    fit = linear_fit([seconds for seconds, _ in series], [rss for _, rss in series])
    return {"start": start, "max": max(rss for _, rss in series), "end": end, "middle": middle, "growth": growth,
            "late": late, "samples": len(series), "trend": fit[1] * 60 if fit else None,
            "flat": growth <= MEMORY_GROWTH_LIMIT and late <= LATE_GROWTH_LIMIT}


class RestReport(ReportBase):
    """The rest part's sections of the document (a mixin of Report)."""

    def rest_result(self):
        rest = self.b.results.get("rest")
        return rest if isinstance(rest, dict) else {}

    @staticmethod
    def ratios(entry):
        """Data API ÷ SQL on the direct URL (same number of clients): throughput and p99; None when a side is missing."""
        rest, direct = entry.get("rest"), entry.get("direct")
        if not isinstance(rest, dict) or not isinstance(direct, dict) or not direct.get("rate") or not direct.get("p99"):
            return None, None
        return rest["rate"] / direct["rate"], rest["p99"] / direct["p99"]

    def targets_rest(self):
        rows = []
        rest = self.rest_result()
        entries = rest.get("scenarios") or [{"label": label} for label in
                                            ("GET by primary key", f"Filtered list of {GROUP_ROWS} rows", "Single-row insert")]
        for entry in entries:
            throughput, p99 = self.ratios(entry)
            rows.append((f"Data API {entry['label']}: requests/s ÷ SQL's (pgbench, direct URL)",
                         f"≥ {THROUGHPUT_GOAL:.1f}×", throughput, None if throughput is None else throughput >= THROUGHPUT_GOAL,
                         fmt_ratio))
            rows.append((f"Data API {entry['label']}: p99 latency ÷ SQL's", f"≤ {P99_GOAL:.0f}×", p99,
                         None if p99 is None else p99 <= P99_GOAL, fmt_ratio))
        get = next((entry for entry in rest.get("scenarios") or [] if entry["name"] == "get"), {})
        floor = self.floor_ratios(rest, get)
        rows.append((f"HTTP floor (`GET {FLOOR_PATH}`: constant JSON, no database): requests/s ÷ SQL's GET by primary key",
                     f"for reference: the data API cannot pass it; a ratio under {THROUGHPUT_GOAL:.1f}× makes the goal "
                     "above unreachable here", floor[0], "info (bounds the goals above)" if floor[0] is not None else None,
                     fmt_ratio))
        memory = memory_summary(get.get("rest"))
        rows.append((f"Service RSS over {rest.get('memory_seconds', 60)} s of "
                     "data API load: end vs after the warm-up",
                     f"flat: within +{MEMORY_GROWTH_LIMIT:.0%}, second half ≤ +{LATE_GROWTH_LIMIT:.0%}", memory,
                     None if memory is None else memory["flat"],
                     lambda value: f"{value['growth']:+.1%} (second half {value['late']:+.1%})"))
        return rows

    @staticmethod
    def floor_ratios(rest, get):
        """The HTTP floor ÷ SQL's GET by primary key on the direct URL: throughput and p99 (None when missing)."""
        floor, direct = rest.get("floor"), (get or {}).get("direct")
        if not isinstance(floor, dict) or not isinstance(direct, dict) or not direct.get("rate") or not direct.get("p99"):
            return None, None
        return floor["rate"] / direct["rate"], floor["p99"] / direct["p99"]

    def notes_rest(self):
        return ["Data API against SQL: both sides send the same statement with the same number of concurrent clients, "
                "closed loop (each client sends its next request when the previous answer arrives): wrk over HTTP "
                "keep-alive to the data API, pgbench `-M prepared` to the branch's direct URL. Latency is per request "
                "(wrk) or per transaction (pgbench's `--log`), measured by the client."]

    def render_rest(self):
        rest = self.rest_result()
        if not rest.get("scenarios"):
            self.add(f"Not measured: {rest.get('error', 'the part did not run')[:400]}")
            self.add()
            return
        pooler = rest.get("pooler", {})
        pooled_clients = min(rest["connections"], pooler.get("size", rest["connections"]))
        self.add(f"One project (`{PROJECT}`, scale to zero off, `maxConnections` {rest.get('max_connections', '?')} so that "
                 "pgbench's clients, PgBouncer's pool and the data API's own pool fit at once, its snapshot schedule "
                 "removed) with a table "
                 f"`{TABLE}(id bigint generated by default as identity primary key, group_id integer not null, payload "
                 "text not null, created_at timestamptz not null default now())` of "
                 f"{rest['rows']:,} rows, loaded over the pooled URL with `insert … select … from generate_series` "
                 f"({GROUP_ROWS} rows per `group_id`, a 32-character md5 `payload`), then an index on `group_id`, "
                 f"`VACUUM ANALYZE` and `CHECKPOINT`: {fmt_bytes(rest.get('table_bytes'))} with its indexes, loaded in "
                 f"{rest.get('load_seconds', 0):.1f} s. Branch servers ran as {rest.get('runtime', '?')}; wrk "
                 f"{rest.get('wrk_version') or '?'}, pgbench of the Postgres that runs the branches.")
        self.add()
        self.add(f"For each workload, in this order: {rest['warmup_seconds']} s of wrk (warm-up, not counted), the data "
                 f"API with wrk ({rest['connections']} connections, {rest['workers']} threads, HTTP/1.1 keep-alive, the "
                 "`service_role` key in `apikey` and `Authorization: Bearer`), then the same statement with pgbench "
                 f"`-M prepared` ({rest['workers']} jobs): {rest['connections']} clients on the branch's direct URL (the "
                 f"reference for the goals: as many clients as wrk's connections), and {pooled_clients} clients on the "
                 f"project's pooled URL (PgBouncer). Branch's PgBouncer runs in `{pooler.get('mode', '?')}` mode with "
                 f"`default_pool_size = {pooler.get('size', '?')}`: in session mode a client keeps its server "
                 f"connection until it disconnects, so at most {pooler.get('size', '?')} clients run at once: "
                 f"pgbench with {rest['connections']} clients on the pooled URL does not end when its time is up, "
                 "since the clients beyond the pool wait for a server connection that frees up only when another "
                 "client disconnects (or until PgBouncer's `query_wait_timeout` fails them). The pooled row therefore "
                 f"uses {pooled_clients} clients. The data API's GET by primary key ran {rest['memory_seconds']} s with the "
                 f"service's RSS sampled every second; the other runs {rest['seconds']} s each.")
        self.add()
        self.add(f"Before timing, one request of each kind was checked: GET by primary key "
                 f"{rest['checks']['get']}; the list {rest['checks']['list']}; the insert {rest['checks']['insert']}.")
        self.add()
        header = ["Workload", "Path", "Clients", "Requests/s", "× SQL direct", "p50", "p99", "p99 × SQL direct",
                  "Errors", "CPU µs per request: client / service / PgBouncer / Postgres"]
        rows = []
        for entry in rest["scenarios"]:
            direct = entry.get("direct") if isinstance(entry.get("direct"), dict) else None
            for key, path in (("rest", "**data API** (wrk)"), ("direct", "SQL, direct URL (pgbench)"),
                              ("pooled", "SQL, pooled URL (pgbench)")):
                run = entry.get(key)
                if not isinstance(run, dict):
                    error = entry.get(f"{key}_error", "not measured")
                    rows.append([entry["label"], path, "", "failed", error.splitlines()[0][:120], "", "", "", "", ""])
                    continue
                if key == "rest":
                    errors = ", ".join(f"{name} {count:,}" for name, count in run["errors"].items() if count) or "0"
                    clients = rest["connections"]
                else:
                    errors = f"{run['failed']:,}"
                    clients = run["clients"]
                cpu = " / ".join(f"{run['cpu_us'][side]:.0f}" for side in CPU_SIDES)
                rate = f"{run['rate']:,.0f}"
                ratio = fmt_ratio(run["rate"] / direct["rate"]) if direct else "–"
                p99 = fmt_ratio(run["p99"] / direct["p99"]) if direct else "–"
                if key == "rest":
                    rate, ratio, p99 = f"**{rate}**", f"**{ratio}**", f"**{p99}**"
                rows.append([entry["label"], path, clients, rate, ratio, fmt_ms(run["p50"]), fmt_ms(run["p99"]), p99,
                             errors, cpu])
        floor = rest.get("floor")
        get = next((entry for entry in rest["scenarios"] if entry["name"] == "get"), {})
        direct = get.get("direct") if isinstance(get.get("direct"), dict) else None
        if isinstance(floor, dict):
            errors = ", ".join(f"{name} {count:,}" for name, count in floor["errors"].items() if count) or "0"
            rows.append(["HTTP floor (vs GET's SQL)", f"`GET {FLOOR_PATH}` (wrk)", rest["connections"], f"{floor['rate']:,.0f}",
                         fmt_ratio(floor["rate"] / direct["rate"]) if direct else "–", fmt_ms(floor["p50"]),
                         fmt_ms(floor["p99"]), fmt_ratio(floor["p99"] / direct["p99"]) if direct else "–", errors,
                         " / ".join(f"{floor['cpu_us'][side]:.0f}" for side in CPU_SIDES)])
        elif rest.get("floor_error"):
            rows.append(["HTTP floor", f"`GET {FLOOR_PATH}` (wrk)", "", "failed", rest["floor_error"].splitlines()[0][:120],
                         "", "", "", "", ""])
        self.table(header, rows)
        self.add(f"The HTTP floor is the same wrk load on the service's cheapest route, `GET {FLOOR_PATH}`: a constant "
                 "JSON answer through the same HTTP server and middleware, with no key to check and no database. "
                 f"It ran once, after {WARMUP_SECONDS} s of warm-up, before the workloads. No data API request can be "
                 "answered faster by this server on these CPUs, so it bounds what the goals can reach here.")
        self.add()
        self.add("Requests/s: wrk's completed requests over its run time; pgbench's `tps` (without the initial "
                 "connection time). CPU per request: CPU time (user + system) used during the run, divided by the "
                 "requests, of the client (wrk or pgbench, from `getrusage` of the bench's children), of `branch serve`, "
                 "of PgBouncer and of the project's Postgres (its container's process tree, or its postmaster's, with "
                 "the backends that exited). Other jobs on the machine are not counted; the machine has "
                 f"{self.b.machine_info['nproc']} CPUs for all of them. The data "
                 "API runs each request as one transaction (`BEGIN [READ ONLY]`, the request settings with "
                 "`set_config`, the statement building its JSON in Postgres, `COMMIT`; see "
                 "docs/data-api.md); pgbench sends one prepared statement in autocommit.")
        self.add()
        counted = [f"{entry['label']} {entry['rest']['transactions_per_request']:.2f} and "
                   f"{entry['rest']['sessions_per_request']:.3f}" for entry in rest["scenarios"]
                   if isinstance(entry.get("rest"), dict) and "transactions_per_request" in entry["rest"]]
        if counted:
            self.add("Transactions and new sessions Postgres counted per data API request (growth of `xact_commit + "
                     "xact_rollback` and `sessions` in `pg_stat_database` over the run, read "
                     f"{STATS_SETTLE_SECONDS} s after the warm-up and after the run, when idle backends have published "
                     "their counts): " + "; ".join(counted) + ".")
            self.add()
        for entry in rest["scenarios"]:
            insert_checks = []
            for key in ("rest", "direct", "pooled"):
                run = entry.get(key)
                if isinstance(run, dict) and "rows_added" in run:
                    done = run["requests"] if key == "rest" else run["transactions"]
                    insert_checks.append(f"{key}: {run['rows_added']:,} rows added for {done:,} completed "
                                         f"{'requests' if key == 'rest' else 'transactions'}")
            if insert_checks:
                self.add(f"Inserts checked with `count(*)` before and after each run (an insert still in flight when "
                         f"the client stops is made but not counted): {'; '.join(insert_checks)}.")
                self.add()
            failures = (entry.get("rest") or {}).get("failures") if isinstance(entry.get("rest"), dict) else None
            if failures:
                self.add(f"**Data API errors during {entry['label']}:** after the run, 20 more requests answered "
                         f"{failures['statuses_after']}" + (f" (first error body: `{failures['sample_body']}`)"
                                                            if failures.get("sample_body") else "")
                         + f"; the service logged {failures['log_lines']} error or warning line(s) during the run"
                         + (": " + "; ".join(f"`{line[:200]}`" for line in failures["log"][:5]) if failures["log"] else "")
                         + ".")
                self.add()

        # Memory.
        get = next((entry for entry in rest["scenarios"] if entry["name"] == "get"), {})
        memory = memory_summary(get.get("rest"))
        self.add(f"### The service's memory under data API load ({rest['memory_seconds']} s of GET by primary key)")
        self.add()
        if memory:
            run = get["rest"]
            trend = memory.get("trend")
            self.table(["Before the warm-up", "After the warm-up (start)", "Max", "Half-way", "End", "End vs start",
                        "Second half", "Trend (least squares)", "Samples"],
                       [[fmt_bytes(get.get("rss_cold")), fmt_bytes(memory["start"]), fmt_bytes(memory["max"]),
                         fmt_bytes(memory["middle"]), fmt_bytes(memory["end"]), f"**{memory['growth']:+.1%}**",
                         f"{memory['late']:+.1%}", "–" if trend is None else f"{'+' if trend >= 0 else ''}{fmt_bytes(trend)}/min",
                         memory["samples"]]])
            self.add(f"VmRSS of the `branch serve` process, read every second from just before wrk started until it "
                     f"exited ({run['requests']:,} requests). Flat means: the end within +{MEMORY_GROWTH_LIMIT:.0%} of "
                     f"the start and at most +{LATE_GROWTH_LIMIT:.0%} over the second half (no steady growth); the trend, "
                     "the least-squares slope over every sample, is for information. Every sample is listed under All "
                     "runs.")
        else:
            self.add("Not measured: the data API's memory run failed.")
        self.add()
        self.add("Commands (keys and URLs elided; the Lua and SQL scripts follow):")
        self.add()
        self.add("```sh")
        if isinstance(rest.get("floor"), dict):
            self.add(rest["floor"]["command"])
        for entry in rest["scenarios"]:
            for key in ("rest", "direct", "pooled"):
                run = entry.get(key)
                if isinstance(run, dict):
                    self.add(run["command"])
        self.add("```")
        self.add()
        if rest.get("error"):
            self.add(f"**The part stopped early:** {rest['error'].splitlines()[0][:400]}")
            self.add()
        self.add("<details><summary>wrk's Lua and pgbench's scripts</summary>")
        self.add()
        for scenario in scenarios(rest["rows"]):
            self.add(f"{scenario['label']}: {scenario['http']}")
            self.add()
            self.add("```lua")
            for line in (scenario["lua"] + "-- and a done() that prints the summary and latency percentiles as JSON").splitlines():
                self.add(line)
            self.add("```")
            self.add()
            self.add("```sql")
            for line in scenario["sql"].splitlines():
                self.add(line)
            self.add("```")
            self.add()
        self.add("</details>")
        self.add()

    @staticmethod
    def span(values):
        """`1.00`, or `1.00 to 2.01` when the values differ at two decimals."""
        low, high = f"{min(values):.2f}", f"{max(values):.2f}"
        return low if low == high else f"{low} to {high}"

    def interpretation_rest(self):
        rest = self.rest_result()
        if "rest" not in self.b.parts or not rest.get("scenarios"):
            return []
        parts = []
        for entry in rest["scenarios"]:
            throughput, p99 = self.ratios(entry)
            if throughput is None:
                continue
            run, direct = entry["rest"], entry["direct"]
            cpu, sql_cpu = run["cpu_us"], direct["cpu_us"]
            parts.append(f"{entry['label']} {run['rate']:,.0f} requests/s against {direct['rate']:,.0f} for SQL "
                         f"({fmt_ratio(throughput)}), p99 {fmt_ms(run['p99'])} against {fmt_ms(direct['p99'])} "
                         f"({fmt_ratio(p99)}); per request the service used {cpu['service']:.0f} µs of CPU and Postgres "
                         f"{cpu['postgres']:.0f} µs (SQL: Postgres {sql_cpu['postgres']:.0f} µs), the client "
                         f"{cpu['client']:.0f} µs (pgbench {sql_cpu['client']:.0f} µs)")
        paragraphs = []
        if parts:
            counted = [entry["rest"]["transactions_per_request"] for entry in rest["scenarios"]
                       if isinstance(entry.get("rest"), dict) and "transactions_per_request" in entry["rest"]]
            paragraphs.append(
                f"Data API at {rest['connections']} connections on {rest['rows']:,} rows: " + "; ".join(parts) + ". "
                "Client, service and Postgres share the same CPUs here, so throughput follows the CPU time a request "
                "costs all of them together: the data API adds HTTP, the key's HS256 check and building the SQL in "
                "the service, and in Postgres a transaction with the request settings around a statement that builds "
                "its JSON"
                + (f" ({self.span(counted)} transactions per request in all, no new sessions)" if counted else "")
                + ", where pgbench runs one prepared statement.")
        get = next((entry for entry in rest["scenarios"] if entry["name"] == "get"), {})
        floor_throughput, floor_p99 = self.floor_ratios(rest, get)
        if floor_throughput is not None:
            floor, direct = rest["floor"], get["direct"]
            needed = THROUGHPUT_GOAL * direct["rate"]
            reached = (f"; the data API's GET by primary key reached {get['rest']['rate'] / floor['rate']:.0%} of the floor"
                       if isinstance(get.get("rest"), dict) else "")
            paragraphs.append(
                f"The HTTP floor: `GET {FLOOR_PATH}`, a constant answer with no key and no database, ran at "
                f"{floor['rate']:,.0f} requests/s with p99 {fmt_ms(floor['p99'])} ({fmt_ratio(floor_throughput)} and "
                f"{fmt_ratio(floor_p99)} of SQL's GET by primary key){reached}. The throughput goal asks the data API for "
                f"{needed:,.0f} requests/s, {needed / floor['rate']:.0%} of what this HTTP server answers when it does "
                "no work at all" + (": on this machine no data API on this server can meet it, however little it does "
                                    "per request." if needed >= floor["rate"] else
                                    ", which leaves the data API's own work (key check, planning, the round trip to "
                                    "Postgres, JSON) very little room." ))
        memory = memory_summary(get.get("rest"))
        if memory:
            paragraphs.append(
                f"The service's memory over {rest['memory_seconds']} s of GET by primary key: {fmt_bytes(memory['start'])} "
                f"after the warm-up, at most {fmt_bytes(memory['max'])}, {fmt_bytes(memory['end'])} at the end "
                f"({memory['growth']:+.1%}; {memory['late']:+.1%} over the second half"
                + (f"; least-squares trend {'+' if memory['trend'] >= 0 else '−'}{fmt_bytes(abs(memory['trend']))} per minute"
                   if memory.get("trend") is not None else "")
                + "): " + ("flat." if memory["flat"] else "**not flat**."))
        return paragraphs

    def command_rest(self):
        b = self.b
        return (f" BENCH_REST_ROWS={b.rest_rows} BENCH_REST_SECONDS={b.rest_seconds}"
                f" BENCH_REST_MEMORY_SECONDS={b.rest_memory_seconds} BENCH_REST_CONNECTIONS={b.rest_connections}")

    def raw_details_rest(self):
        lines = []
        floor = self.rest_result().get("floor")
        if isinstance(floor, dict):
            lines.append("- HTTP floor: " + ", ".join(f"{name} {round(value, 3) if isinstance(value, float) else value}"
                                                      for name, value in floor.items() if name not in ("command", "cpu_us")))
        for entry in self.rest_result().get("scenarios") or []:
            for key in ("warmup", "rest", "direct", "pooled"):
                run = entry.get(key)
                if not isinstance(run, dict):
                    continue
                shown = {name: ({side: round(us, 1) for side, us in value.items()} if name == "cpu_us"
                               else round(value, 3) if isinstance(value, float) else value)
                         for name, value in run.items() if name not in ("rss_series", "command")}
                lines.append(f"- {entry['label']}, {key}: " + ", ".join(f"{name} {value}" for name, value in shown.items()))
                if run.get("rss_series"):
                    lines.append(f"- {entry['label']}, the service's VmRSS every second (s: MiB): "
                                 + ", ".join(f"{seconds:.0f}: {rss / (1 << 20):.1f}" for seconds, rss in run["rss_series"]))
        return lines


PART = Part("rest", RestBench, RestReport, chapter="Data API (REST) against SQL")
