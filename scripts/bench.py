#!/usr/bin/env python3
"""Branch benchmarks: `make bench` (through scripts/bench.sh). Python 3 standard library only.

Starts a throw-away `branch serve` on a loop-mounted Btrfs image under BENCH_DIR, then measures:

* project create (on the empty service; each project deleted again, deletion not timed);
* for each pgbench scale (default 68 ≈ 1 GB and 680 ≈ 10 GB), on a project loaded with
  `pgbench -i`:
  - branch create until the branch accepts connections (client wall time of the POST, the
    server's durationMs and steps, then a first query with psql), branch deleted after each run;
  - snapshot create (snapshot deleted after each run);
  - a full copy with `createdb -T` (as postgres over the Unix socket), until createdb returns;
  - a full copy with `pg_basebackup` plus starting a Postgres on it, until it accepts connections.

Then writes docs/benchmarks.md from scratch. Everything it starts is stopped and removed at the
end, also on failure, Ctrl-C or SIGTERM (a run killed with SIGKILL is cleaned up by the next run).

Settings (environment): CONFIGURATION, BENCH_SCALES, BENCH_RUNS, BENCH_COPY_RUNS, BENCH_DIR,
BENCH_OUTPUT, BENCH_CREATEDB_STRATEGY, BENCH_RUNTIME (see scripts/bench.sh).
"""

import datetime
import fcntl
import hashlib
import json
import math
import os
import platform
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
GIB = 1 << 30
# pgbench tables plus indexes per unit of scale, measured on Postgres 15 (used only for sizing).
BYTES_PER_SCALE = 16 * MIB
# Free space left on the host disk beyond the (sparse) pool image's full size.
HOST_MARGIN = 4 * GIB
# Headroom inside the pool beyond 3x the largest data set (WAL, Btrfs metadata, the 1 GB project).
POOL_HEADROOM = 6 * GIB
LOCK_FILE = "/run/branch-bench.lock"
CONTAINER_PREFIX = "branch-bench"
# Processes the clean-up may kill when they mention the bench directory (never anything else).
KILLABLE = {
    "postgres", "postmaster", "pgbouncer", "branch", "pg_basebackup", "pg_ctl", "createdb", "dropdb",
    "psql", "pgbench", "runuser",
}


class BenchError(Exception):
    pass


class Interrupted(BaseException):
    """A signal asked us to stop; BaseException so section-level `except Exception` lets it through."""


def log(message):
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    sys.stderr.write(f"[bench {stamp}] {message}\n")
    sys.stderr.flush()


def env_int(name, default, minimum=1):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name} must be an integer, not {raw!r}")
    if value < minimum:
        raise BenchError(f"{name} must be at least {minimum}")
    return value


def parse_scales():
    raw = os.environ.get("BENCH_SCALES", "").strip() or "68 680"
    try:
        scales = sorted({int(part) for part in raw.replace(",", " ").split()})
    except ValueError:
        raise BenchError(f"BENCH_SCALES must be pgbench scales separated by spaces, not {raw!r}")
    if not scales or scales[0] < 1:
        raise BenchError("BENCH_SCALES must hold at least one scale of 1 or more")
    return scales


# ---------------------------------------------------------------- statistics and formatting


def percentile(values, fraction):
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(values):
    if not values:
        return None
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def fmt_ms(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value < 10:
        return f"{value:.1f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60000:
        return f"{value / 1000:.2f} s"
    return f"{value / 1000:.0f} s ({value / 60000:.1f} min)"


def fmt_ratio(value):
    if value is None or math.isnan(value):
        return "–"
    if value >= 100:
        return f"{value:.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.2f}×"


def fmt_bytes(value):
    if value is None:
        return "–"
    if value >= GIB:
        return f"{value / GIB:.2f} GiB"
    return f"{value / MIB:.0f} MiB"


# ---------------------------------------------------------------- processes and ports


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port):
    # Branch probes the way it binds: on every address.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def free_port_range(size=100):
    for _ in range(50):
        base = random.randrange(30000, 39000, 100)
        if all(port_is_free(port) for port in range(base, base + size)):
            return base, base + size - 1
    raise BenchError("found no range of 100 free ports between 30000 and 39000")


def read_proc(pid, name):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as handle:
            return handle.read()
    except OSError:
        return None


def protected_pids():
    """This process and its ancestors: never killed by the clean-up."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        stat = read_proc(pid, "stat")
        if not stat:
            break
        pid = int(stat[stat.rindex(b")") + 2:].split()[1])
    return pids


def processes_under(directory):
    """Pids of bench-started programs (postgres, pgbouncer, branch, …) whose command line mentions
    `directory` or whose working directory is inside it (Postgres children keep the data directory
    as their working directory while their command line is rewritten)."""
    pattern = re.compile(re.escape(directory) + r"(/|\s|$)")
    keep = protected_pids()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        pid = int(entry)
        comm = (read_proc(pid, "comm") or b"").decode(errors="replace").strip()
        if comm not in KILLABLE:
            continue
        stat = read_proc(pid, "stat") or b""
        if b")" in stat and stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] in (b"Z", b"X"):
            continue
        cmdline = (read_proc(pid, "cmdline") or b"").replace(b"\0", b" ").decode(errors="replace")
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        if pattern.search(cmdline) or cwd == directory or cwd.startswith(directory + "/"):
            found.append(pid)
    return found


def is_mounted(path):
    with open("/proc/mounts") as handle:
        return any(line.split()[1] == path for line in handle if len(line.split()) > 1)


# ---------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self):
        self.configuration = os.environ.get("CONFIGURATION", "").strip() or "debug"
        self.binary = os.path.join(REPO, ".build", self.configuration, "branch")
        self.scales = parse_scales()
        self.requested_scales = list(self.scales)
        self.runs = env_int("BENCH_RUNS", 10)
        self.copy_runs = env_int("BENCH_COPY_RUNS", 3)
        self.createdb_strategy = os.environ.get("BENCH_CREATEDB_STRATEGY", "").strip()
        self.runtime = os.environ.get("BENCH_RUNTIME", "").strip()  # empty: Branch's default
        self.runtime_name, self.runtime_notes, self.binary_sha = "unknown", [], "?"
        self.dir = os.path.abspath(os.environ.get("BENCH_DIR", "").strip() or "/var/tmp/branch-bench")
        output = os.environ.get("BENCH_OUTPUT", "").strip() or "docs/benchmarks.md"
        self.output = output if os.path.isabs(output) else os.path.join(REPO, output)
        if self.dir in ("/", "/var", "/var/tmp", "/tmp") or "bench" not in os.path.basename(self.dir):
            raise BenchError(f"BENCH_DIR {self.dir!r} is deleted at the end; use a dedicated directory such as /var/tmp/branch-bench")
        self.pool = os.path.join(self.dir, "pool")
        self.image = os.path.join(self.dir, "pool.img")
        self.serve_log = os.path.join(self.dir, "serve.log")
        self.copy_socket_dir = os.path.join(self.dir, "copy-sock")
        self.copies_dir = os.path.join(self.pool, "bench-copies")  # same Btrfs filesystem as the branches
        # The run uses a private copy of the binary, so a rebuild during the run cannot mix versions.
        self.binary_copy = os.path.join(self.dir, "branch")
        self.service = None
        self.base_url = None
        self.token = None
        self.bindir = None
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.notes = []
        self.errors = []
        self.results = {"scales": {}}
        self.lock_handle = None
        self.cleaning = False
        self.hba_restore = None  # (path, original text, port) while pg_basebackup needs a replication entry

    # ------------------------------------------------------------ shell helpers

    def run(self, args, *, as_postgres=False, check=True, timeout=3600, capture=True, env=None, stream=False):
        command = list(args)
        environment = dict(os.environ)
        for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"):
            environment.pop(name, None)
        environment["PGCONNECT_TIMEOUT"] = "10"
        if as_postgres:
            command = ["runuser", "-u", "postgres", "--"] + command
            environment["HOME"] = pwd.getpwnam("postgres").pw_dir
        if env:
            environment.update(env)
        kwargs = {"cwd": "/", "env": environment, "timeout": timeout, "stdin": subprocess.DEVNULL}
        if stream:
            kwargs.update(stdout=sys.stderr, stderr=sys.stderr)
        elif capture:
            kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        result = subprocess.run(command, **kwargs)
        if check and result.returncode != 0:
            detail = ""
            if capture and not stream:
                detail = ((result.stderr or "") + (result.stdout or "")).strip()[-1500:]
            raise BenchError(f"`{' '.join(shlex.quote(part) for part in args)}` failed ({result.returncode}): {detail}")
        return result

    def tool(self, name):
        return os.path.join(self.bindir, name)

    def su_sql(self, port, sql, database="postgres", socket_dir=None, check=True):
        """SQL as the postgres superuser over a Unix socket; unaligned, tuples only."""
        result = self.run(
            [self.tool("psql"), "-h", socket_dir or self.socket_dir, "-p", str(port), "-U", "postgres", "-d", database,
             "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
            as_postgres=True, check=check, timeout=600)
        return result.stdout.strip()

    def url_sql(self, url, sql):
        result = self.run([self.tool("psql"), url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], timeout=120)
        return result.stdout.strip()

    @property
    def socket_dir(self):
        return os.path.join(self.pool, "run", "pg")

    # ------------------------------------------------------------ API

    def api(self, method, path, body=None, expect=(200, 201), timeout=900):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        elapsed = (time.perf_counter() - started) * 1000
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"raw": raw[:500].decode(errors="replace")}
        if status not in expect:
            detail = payload.get("error", payload) if isinstance(payload, dict) else payload
            raise BenchError(f"{method} {path} answered {status}: {detail}")
        return payload, elapsed

    def healthy(self):
        try:
            with self.opener.open(self.base_url + "/api/v1/health", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    # ------------------------------------------------------------ set-up

    def acquire_lock(self):
        self.lock_handle = open(LOCK_FILE, "w")
        try:
            fcntl.flock(self.lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BenchError(f"another benchmark is running (it holds {LOCK_FILE})")

    def check_prerequisites(self):
        if os.geteuid() != 0:
            raise BenchError("run the benchmarks as root: branch serve mounts a Btrfs image and runs Postgres as postgres")
        if not os.access(self.binary, os.X_OK):
            raise BenchError(f"{self.binary} is missing; build it first (make build CONFIGURATION={self.configuration})")
        for program in ("runuser", "mount", "umount", "losetup", "git"):
            if not shutil.which(program):
                raise BenchError(f"{program} is needed but not on PATH")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise BenchError("there is no postgres OS user (scripts/install-deps.sh installs Postgres)")

    def plan_disk(self):
        """Sizes the pool image for the largest data set and scales down when the disk is too small."""
        parent = os.path.dirname(self.dir)
        stat = os.statvfs(parent)
        available = stat.f_bavail * stat.f_frsize
        self.host_free_start = available

        def pool_bytes(largest):
            return 3 * largest * BYTES_PER_SCALE + POOL_HEADROOM

        largest = self.scales[-1]
        if pool_bytes(largest) + HOST_MARGIN > available:
            fitting = int((available - HOST_MARGIN - POOL_HEADROOM) // (3 * BYTES_PER_SCALE))
            if fitting < 1:
                raise BenchError(f"only {fmt_bytes(available)} free under {parent}: not enough for any benchmark")
            old = list(self.scales)
            self.scales = sorted({min(scale, fitting) for scale in self.scales})
            note = (f"Not enough disk for the requested scales {old} ({fmt_bytes(available)} free under {parent}, "
                    f"a pool of {fmt_bytes(pool_bytes(largest))} plus {fmt_bytes(HOST_MARGIN)} margin needed): "
                    f"scaled down to {self.scales}.")
            self.notes.append(note)
            log("NOTE: " + note)
        size_gib = math.ceil(pool_bytes(self.scales[-1]) / GIB)
        self.pool_size = f"{size_gib}G"
        log(f"{fmt_bytes(available)} free under {parent}; pool image {self.pool_size} (sparse) for scales {self.scales}")

    def start_service(self):
        os.makedirs(self.dir, mode=0o711, exist_ok=True)
        os.chmod(self.dir, 0o711)  # postgres must reach the pool and the copies' socket directory
        shutil.copy2(self.binary, self.binary_copy)
        with open(self.binary_copy, "rb") as handle:
            self.binary_sha = hashlib.sha256(handle.read()).hexdigest()[:12]
        help_text = subprocess.run([self.binary_copy, "serve", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, timeout=60).stdout
        api_port, pooler_port = free_port(), free_port()
        first, last = free_port_range()
        self.service_args = [
            "serve", "--pool", self.pool, "--pool-image", self.image, "--pool-size", self.pool_size,
            "--listen", f"127.0.0.1:{api_port}", "--pooler-port", str(pooler_port), "--port-range", f"{first}-{last}",
            "--db-listen", "127.0.0.1",
        ]
        if "--container-prefix" in help_text:
            # Containers are started with --replace: a prefix of our own keeps us off anyone else's.
            self.service_args += ["--container-prefix", CONTAINER_PREFIX]
        if self.runtime:
            if "--runtime" not in help_text:
                raise BenchError(f"BENCH_RUNTIME={self.runtime} is set but this branch binary has no --runtime option")
            self.service_args += ["--runtime", self.runtime]
        self.base_url = f"http://127.0.0.1:{api_port}"
        log(f"starting branch serve (copy of {self.binary}, sha256 {self.binary_sha}) on {self.base_url}, pool {self.pool}")
        with open(self.serve_log, "ab") as log_file:
            # A session of its own: Ctrl-C reaches only us, and we stop it in order.
            self.service = subprocess.Popen(
                [self.binary_copy] + self.service_args, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd="/", start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.service.poll() is not None:
                raise BenchError(f"branch serve exited ({self.service.returncode}) during start-up:\n{self.log_tail()}")
            if self.healthy():
                break
            time.sleep(0.1)
        else:
            raise BenchError(f"branch serve did not answer within 300 s:\n{self.log_tail()}")
        with open(os.path.join(self.pool, "admin.key")) as handle:
            self.token = handle.read().strip()
        status, _ = self.api("GET", "/api/v1/status")
        self.status = status
        self.bindir = status["postgres"]["binDirectory"]
        details = status.get("runtimeDetails") or {}
        self.runtime_name = details.get("name") or status.get("runtime") or "unknown"
        self.runtime_notes = details.get("notes") or []
        log(f"service up: Postgres {status['postgres']['version']} ({self.bindir}), runtime {self.runtime_name}, "
            f"pool {status['pool']['mount']}")

    def log_tail(self, lines=40):
        try:
            with open(self.serve_log, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no service log)"

    # ------------------------------------------------------------ measurements

    def bench_project_create(self):
        log(f"project create: {self.runs} runs on the empty service")
        wall, server, steps = [], [], []
        for index in range(self.runs):
            name = f"bench-project-{index + 1}"
            created, elapsed = self.api("POST", "/api/v1/projects", {"name": name}, expect=(201,))
            wall.append(elapsed)
            server.append(created["operation"]["durationMs"])
            steps.append(created["operation"]["steps"])
            # The new project answers on its pooled URL (not timed; proves it is usable).
            self.url_sql(created["connection"]["url"], "select 1")
            self.api("DELETE", f"/api/v1/projects/{name}")
            log(f"  project create {index + 1}/{self.runs}: {elapsed:.0f} ms (server {server[-1]:.0f} ms)")
        return {"wall": wall, "server": server, "steps": steps}

    def load_project(self, scale):
        name = f"bench-s{scale}"
        created, elapsed = self.api("POST", "/api/v1/projects", {"name": name}, expect=(201,))
        project = created["project"]
        main, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main")
        direct, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main/connection")
        info = {"name": name, "database": project["database"], "port": main["port"], "url": direct["url"]}
        log(f"scale {scale}: project {name} created in {elapsed:.0f} ms; pgbench -i -s {scale} (this takes a while)")
        started = time.perf_counter()
        # Default init steps (drop, tables, generate, vacuum, primary keys): the vacuum leaves the
        # tables settled, so autovacuum does not rewrite them in the middle of the measurements.
        self.run([self.tool("pgbench"), "-i", "-q", "-s", str(scale), direct["url"]], timeout=6 * 3600, stream=True)
        load_seconds = time.perf_counter() - started
        self.su_sql(info["port"], "CHECKPOINT")
        size = int(self.su_sql(info["port"], f"select pg_database_size('{project['database']}')"))
        accounts = int(self.url_sql(direct["url"], "select count(*) from pgbench_branches"))
        if accounts != scale:
            raise BenchError(f"pgbench_branches holds {accounts} rows, expected {scale}")
        info.update(load_seconds=load_seconds, database_bytes=size)
        log(f"scale {scale}: loaded {fmt_bytes(size)} in {load_seconds:.0f} s")
        return info

    def bench_branch_create(self, info, scale):
        project = info["name"]
        log(f"scale {scale}: branch create, {self.runs} runs")
        wall, server, first_query, steps = [], [], [], []
        for index in range(self.runs):
            name = f"bench-b{index + 1}"
            result, elapsed = self.api("POST", f"/api/v1/projects/{project}/branches", {"name": name, "from": "main"}, expect=(201,))
            posted = time.perf_counter()
            connection, _ = self.api("GET", f"/api/v1/projects/{project}/branches/{name}/connection")
            lookup = (time.perf_counter() - posted) * 1000
            started = time.perf_counter()
            count = self.url_sql(connection["url"], "select count(*) from pgbench_branches")
            query = (time.perf_counter() - started) * 1000
            if count != str(scale):
                raise BenchError(f"branch {name} answered {count!r} for count(*) of pgbench_branches, expected {scale}")
            wall.append(elapsed)
            server.append(result["operation"]["durationMs"])
            # POST plus the first query, leaving out our own URL lookup in between.
            first_query.append(elapsed + query)
            steps.append(result["operation"]["steps"])
            self.api("DELETE", f"/api/v1/projects/{project}/branches/{name}")
            log(f"  branch {index + 1}/{self.runs}: POST {elapsed:.0f} ms, server {server[-1]:.0f} ms, "
                f"first query +{query:.0f} ms (lookup {lookup:.0f} ms, not counted)")
        return {"wall": wall, "server": server, "first_query": first_query, "steps": steps}

    def bench_snapshot_create(self, info, scale):
        project = info["name"]
        log(f"scale {scale}: snapshot create, {self.runs} runs")
        wall, server, steps = [], [], []
        for index in range(self.runs):
            result, elapsed = self.api("POST", f"/api/v1/projects/{project}/snapshots", {"branch": "main"}, expect=(201,))
            wall.append(elapsed)
            server.append(result["operation"]["durationMs"])
            steps.append(result["operation"]["steps"])
            self.api("DELETE", f"/api/v1/projects/{project}/snapshots/{result['snapshot']['id']}")
            log(f"  snapshot {index + 1}/{self.runs}: {elapsed:.0f} ms (server {server[-1]:.0f} ms)")
        return {"wall": wall, "server": server, "steps": steps}

    def terminate_others(self, info):
        self.su_sql(info["port"], (
            "select count(pg_terminate_backend(pid)) from pg_stat_activity "
            f"where datname = '{info['database']}' and pid <> pg_backend_pid()"))

    def bench_createdb(self, info, scale):
        log(f"scale {scale}: createdb -T, {self.copy_runs} runs")
        port, database = info["port"], info["database"]
        wall, first_query = [], []
        for index in range(self.copy_runs):
            copy = f"bench_copy_{index + 1}"
            self.su_sql(port, "CHECKPOINT")  # every run starts from the same clean state
            command = [self.tool("createdb"), "-h", self.socket_dir, "-p", str(port), "-U", "postgres", "-T", database]
            if self.createdb_strategy:
                command += ["-S", self.createdb_strategy]
            command.append(copy)
            for attempt in range(5):
                # The template must have no other sessions (PgBouncer may hold one).
                self.terminate_others(info)
                started = time.perf_counter()
                result = self.run(command, as_postgres=True, check=False, timeout=4 * 3600)
                elapsed = (time.perf_counter() - started) * 1000
                if result.returncode == 0:
                    break
                if "being accessed by other users" not in result.stderr or attempt == 4:
                    raise BenchError(f"createdb failed: {result.stderr.strip()[-800:]}")
                log("  template busy; terminating its sessions again")
                time.sleep(0.5)
            started = time.perf_counter()
            count = self.su_sql(port, "select count(*) from pgbench_branches", database=copy)
            query = (time.perf_counter() - started) * 1000
            if count != str(scale):
                raise BenchError(f"the copy {copy} answered {count!r}, expected {scale}")
            wall.append(elapsed)
            first_query.append(elapsed + query)
            self.run([self.tool("dropdb"), "-h", self.socket_dir, "-p", str(port), "-U", "postgres", copy], as_postgres=True)
            log(f"  createdb {index + 1}/{self.copy_runs}: {fmt_ms(elapsed)} (first query +{query:.0f} ms)")
        self.su_sql(port, "CHECKPOINT")
        return {"wall": wall, "first_query": first_query}

    def allow_replication(self, info):
        """pg_basebackup needs a replication entry in pg_hba.conf; Branch's has none (its `all` does
        not cover replication). Added to main for the measurement and taken out again right after."""
        hba = os.path.join(self.pool, "projects", info["name"], "branches", "main", "pgdata", "pg_hba.conf")
        with open(hba) as handle:
            original = handle.read()
        self.hba_restore = (hba, original, info["port"])
        with open(hba, "a") as handle:
            handle.write("\n# added by scripts/bench.py for pg_basebackup; removed when it is done\n"
                         "local   replication   postgres   trust\n")
        self.su_sql(info["port"], "select pg_reload_conf()")

    def restore_hba(self):
        if not self.hba_restore:
            return
        path, original, port = self.hba_restore
        self.hba_restore = None
        with open(path, "w") as handle:
            handle.write(original)
        self.su_sql(port, "select pg_reload_conf()", check=False)

    def prepare_copy_dirs(self):
        postgres = pwd.getpwnam("postgres")
        for path in (self.copies_dir, self.copy_socket_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
            os.chmod(path, 0o700)

    def stop_copy(self, data_dir):
        if os.path.exists(os.path.join(data_dir, "postmaster.pid")):
            self.run([self.tool("pg_ctl"), "stop", "-D", data_dir, "-m", "immediate", "-w", "-t", "60"],
                     as_postgres=True, check=False, timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)

    def bench_basebackup(self, info, scale):
        log(f"scale {scale}: pg_basebackup + start, {self.copy_runs} runs")
        self.prepare_copy_dirs()
        self.allow_replication(info)
        backup, start, total, first_query = [], [], [], []
        try:
            for index in range(self.copy_runs):
                data_dir = os.path.join(self.copies_dir, f"copy{index + 1}")
                copy_log = os.path.join(self.copies_dir, f"copy{index + 1}.log")
                self.su_sql(info["port"], "CHECKPOINT")
                port = free_port()
                try:
                    started = time.perf_counter()
                    self.run([self.tool("pg_basebackup"), "-h", self.socket_dir, "-p", str(info["port"]), "-U", "postgres",
                              "-D", data_dir, "-X", "stream", "-c", "fast"], as_postgres=True, timeout=4 * 3600)
                    copied = time.perf_counter()
                    # The copy carries main's branch.conf; command-line settings override it.
                    options = (f"-c port={port} -c listen_addresses=127.0.0.1 "
                               f"-c unix_socket_directories={self.copy_socket_dir} -c cluster_name=bench-copy "
                               "-c logging_collector=off")
                    try:
                        self.run([self.tool("pg_ctl"), "start", "-w", "-t", "600", "-D", data_dir, "-l", copy_log, "-o", options],
                                 as_postgres=True, timeout=900)
                    except BenchError as error:
                        raise BenchError(f"{error}\n--- server log of the copy ---\n{tail_of(copy_log)}")
                    ready = time.perf_counter()
                    count = self.su_sql(port, "select count(*) from pgbench_branches", database=info["database"],
                                        socket_dir=self.copy_socket_dir)
                    queried = time.perf_counter()
                    if count != str(scale):
                        raise BenchError(f"the base backup answered {count!r}, expected {scale}")
                finally:
                    self.stop_copy(data_dir)
                backup.append((copied - started) * 1000)
                start.append((ready - copied) * 1000)
                total.append((ready - started) * 1000)
                first_query.append((queried - started) * 1000)
                log(f"  basebackup {index + 1}/{self.copy_runs}: {fmt_ms(total[-1])} "
                    f"(copy {fmt_ms(backup[-1])}, start {fmt_ms(start[-1])})")
        finally:
            self.restore_hba()
            shutil.rmtree(self.copies_dir, ignore_errors=True)
        return {"wall": total, "backup": backup, "start": start, "first_query": first_query}

    def section(self, label, target, key, function, *args):
        """Runs one measurement; a failure is recorded and the others still run."""
        try:
            target[key] = function(*args)
        except Exception as error:  # noqa: BLE001 - reported in the document and the exit status
            message = f"{label}: {error}"
            log("FAILED " + message)
            self.errors.append(message)
            target[key] = {"error": str(error)}
            if self.service and self.service.poll() is not None:
                raise BenchError(f"branch serve died during {label}:\n{self.log_tail()}")

    def bench_scale(self, scale):
        entry = {"scale": scale}
        self.results["scales"][scale] = entry
        try:
            info = self.load_project(scale)
            entry["data"] = {key: info[key] for key in ("database_bytes", "load_seconds")}
            self.section(f"branch create at scale {scale}", entry, "branch", self.bench_branch_create, info, scale)
            self.section(f"snapshot create at scale {scale}", entry, "snapshot", self.bench_snapshot_create, info, scale)
            self.section(f"createdb -T at scale {scale}", entry, "createdb", self.bench_createdb, info, scale)
            self.section(f"pg_basebackup at scale {scale}", entry, "basebackup", self.bench_basebackup, info, scale)
        except Exception as error:  # noqa: BLE001 - the next size still runs
            message = f"scale {scale}: {error}"
            log("FAILED " + message)
            self.errors.append(message)
            if self.service and self.service.poll() is not None:
                raise BenchError(f"branch serve died at scale {scale}:\n{self.log_tail()}")
        finally:
            # Free the space before the next size (the project may not exist if its creation failed).
            try:
                self.api("DELETE", f"/api/v1/projects/bench-s{scale}?force=true", expect=(200, 404))
            except Exception as error:  # noqa: BLE001
                log(f"could not delete project bench-s{scale}: {error}")

    # ------------------------------------------------------------ clean-up

    def cleanup(self):
        if self.cleaning:
            return
        self.cleaning = True
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # finish the clean-up whatever happens
        log("cleaning up")
        try:
            self.restore_hba()
        except Exception as error:  # noqa: BLE001
            log(f"  could not restore pg_hba.conf: {error}")
        if self.bindir and os.path.isdir(self.copies_dir):
            for name in os.listdir(self.copies_dir):
                path = os.path.join(self.copies_dir, name)
                if os.path.isdir(path):
                    try:
                        self.stop_copy(path)
                    except Exception:  # noqa: BLE001
                        pass
        if self.service and self.service.poll() is None:
            log("  stopping branch serve (SIGTERM; it stops every branch server)")
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(timeout=300)
            except subprocess.TimeoutExpired:
                log("  branch serve did not stop within 300 s; killing it")
                self.service.kill()
                self.service.wait()
        self.service = None
        self.remove_containers()
        leftovers = processes_under(self.dir)
        if leftovers:
            log(f"  killing leftover processes {leftovers}")
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            deadline = time.monotonic() + 20
            while processes_under(self.dir) and time.monotonic() < deadline:
                time.sleep(0.1)
        if is_mounted(self.pool):
            for attempt in range(10):
                if subprocess.run(["umount", self.pool], stderr=subprocess.DEVNULL).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                log("  umount failed; detaching lazily")
                subprocess.run(["umount", "-l", self.pool])
        if os.path.exists(self.image):
            loops = subprocess.run(["losetup", "-j", self.image], stdout=subprocess.PIPE, text=True).stdout
            for line in loops.splitlines():
                device = line.split(":", 1)[0]
                subprocess.run(["losetup", "-d", device], stderr=subprocess.DEVNULL)
        if os.path.exists(self.dir) and not is_mounted(self.pool):
            shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.dir):
            log(f"  WARNING: {self.dir} could not be removed completely")
        else:
            log(f"  removed {self.dir}")

    def remove_containers(self):
        """Containers of this pool's branch servers (a container runtime labels them with the pool)."""
        for engine in ("podman", "docker"):
            if not shutil.which(engine):
                continue
            try:
                listed = subprocess.run([engine, "ps", "-a", "-q", "--filter", f"label=branch.pool={self.pool}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60)
                ids = listed.stdout.split() if listed.returncode == 0 else []
                if ids:
                    log(f"  removing {engine} containers {ids}")
                    subprocess.run([engine, "rm", "-f", "-t", "5"] + ids, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=180)
            except (OSError, subprocess.TimeoutExpired) as error:
                log(f"  could not list or remove {engine} containers: {error}")

    # ------------------------------------------------------------ machine facts

    def machine(self):
        def first_match(path, pattern):
            try:
                with open(path) as handle:
                    for line in handle:
                        match = re.match(pattern, line)
                        if match:
                            return match.group(1).strip()
            except OSError:
                pass
            return None

        memory_kb = first_match("/proc/meminfo", r"MemTotal:\s+(\d+)")
        git = lambda *args: subprocess.run(["git", "-C", REPO] + list(args), stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = git("status", "--porcelain", "--", "Sources", "Package.swift", "Package.resolved")
        return {
            "cpu": first_match("/proc/cpuinfo", r"model name\s*:\s*(.*)") or platform.processor() or "unknown",
            "nproc": os.cpu_count(),
            "memory": int(memory_kb) * 1024 if memory_kb else None,
            "kernel": platform.release(),
            "os": first_match("/etc/os-release", r'PRETTY_NAME="?([^"\n]*)') or platform.platform(),
            "commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "dirty": bool(dirty),
            "binary_mtime": datetime.datetime.fromtimestamp(os.path.getmtime(self.binary), datetime.timezone.utc),
        }

    # ------------------------------------------------------------ main

    def main(self):
        self.started_at = datetime.datetime.now(datetime.timezone.utc)
        started = time.perf_counter()
        self.load_start = os.getloadavg()
        self.check_prerequisites()
        self.acquire_lock()
        if os.path.exists(self.dir) or is_mounted(self.pool):
            log(f"removing what an earlier run left in {self.dir}")
            self.cleanup()
            self.cleaning = False
            install_signal_handlers()
        self.plan_disk()
        self.machine_info = self.machine()
        try:
            self.start_service()
            self.section("project create", self.results, "project_create", self.bench_project_create)
            for scale in self.scales:
                self.bench_scale(scale)
            self.load_end = os.getloadavg()
        finally:
            self.cleanup()
        self.duration = time.perf_counter() - started
        self.verify_clean()
        report = Report(self).render()
        os.makedirs(os.path.dirname(self.output), exist_ok=True)
        with open(self.output, "w") as handle:
            handle.write(report)
        log(f"wrote {self.output} ({self.duration / 60:.1f} min in all)")
        if self.errors:
            log(f"{len(self.errors)} measurement(s) failed; see the document")
            return 1
        return 0

    def verify_clean(self):
        left = processes_under(self.dir)
        containers = []
        if shutil.which("podman"):
            containers = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=branch.pool={self.pool}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.split()
        if left or containers or is_mounted(self.pool) or os.path.exists(self.dir):
            message = (f"clean-up incomplete: processes {left}, containers {containers}, mounted {is_mounted(self.pool)}, "
                       f"directory exists {os.path.exists(self.dir)}")
            self.errors.append(message)
            log("WARNING: " + message)


# ---------------------------------------------------------------- the document


class Report:
    def __init__(self, bench):
        self.b = bench
        self.lines = []

    def add(self, text=""):
        self.lines.append(text)

    def table(self, header, rows):
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "|".join("---" if index == 0 else "---:" for index in range(len(header))) + "|")
        for row in rows:
            self.add("| " + " | ".join(str(cell) for cell in row) + " |")
        self.add()

    def stats_row(self, label, values, reference=None):
        summary = summarize(values)
        if not summary:
            return [label, "0", "–", "–", "–", "–", "–"]
        ratio = summary["median"] / reference if reference else None
        return [label, summary["n"], fmt_ms(summary["median"]), fmt_ms(summary["p95"]), fmt_ms(summary["min"]),
                fmt_ms(summary["max"]), fmt_ratio(ratio) if ratio else "–"]

    def size_label(self, scale):
        entry = self.b.results["scales"].get(scale, {})
        size = entry.get("data", {}).get("database_bytes")
        return f"{fmt_bytes(size)} (scale {scale})" if size else f"scale {scale}"

    @staticmethod
    def ok(series):
        return isinstance(series, dict) and "error" not in series and series.get("wall")

    def median(self, series, key="wall"):
        return statistics.median(series[key]) if self.ok(series) else None

    def targets(self):
        rows, b = [], self.b
        scales = b.results["scales"]
        branch_medians = {}
        for scale in b.scales:
            series = scales.get(scale, {}).get("branch")
            median = self.median(series)
            branch_medians[scale] = median
            rows.append((f"Branch ready, median, {self.size_label(scale)}", "≤ 300 ms", median, verdict(median, 300)))
        valid = [value for value in branch_medians.values() if value]
        if len(valid) >= 2:
            spread = max(valid) / min(valid)
            rows.append(("Branch ready, slower size / faster size (medians)", "within 25% (≤ 1.25×)", spread, spread <= 1.25))
        else:
            rows.append(("Branch ready, slower size / faster size (medians)", "within 25% (≤ 1.25×)", None, None))
        median = self.median(b.results.get("project_create"))
        rows.append(("Project create, median", "≤ 300 ms", median, verdict(median, 300)))
        for scale in b.scales:
            median = self.median(scales.get(scale, {}).get("snapshot"))
            rows.append((f"Snapshot create, median, {self.size_label(scale)}", "≤ 50 ms", median, verdict(median, 50)))
        return rows

    def render(self):
        b = self.b
        m = b.machine_info
        results = b.results
        scales = results["scales"]
        self.add("# Benchmarks")
        self.add()
        self.add(f"Generated by `make bench` (`scripts/bench.sh` → `scripts/bench.py`) on "
                 f"{b.started_at.strftime('%Y-%m-%d %H:%M UTC')}; the whole run took {b.duration / 60:.1f} minutes. "
                 "This file is rewritten completely by every run: do not edit it by hand.")
        self.add()
        if b.errors:
            self.add("**Some measurements failed in this run:**")
            self.add()
            for error in b.errors:
                self.add(f"- {error.splitlines()[0][:400]}")
            self.add()
        for note in b.notes:
            self.add(f"**Note:** {note}")
            self.add()

        # Targets.
        self.add("## Targets")
        self.add()
        rows = []
        for label, target, value, met in self.targets():
            measured = "–" if value is None else (fmt_ratio(value) if "×" in target else fmt_ms(value))
            verdict = "not measured" if met is None else ("**met**" if met else "**not met**")
            rows.append([label, target, measured, verdict])
        self.table(["Target", "Goal", "Measured", "Result"], rows)
        self.add("Branch ready is the client's wall time of `POST /api/v1/projects/{p}/branches`, which returns only once "
                 "the branch accepts connections. Project and snapshot create are client wall times of their POSTs.")
        self.add()

        # Main table.
        self.add("## Branch ready versus full copies")
        self.add()
        self.add("Ratio: the row's median divided by Branch's median (POST wall time) at the same size; "
                 "all methods ran in the same run, one after the other, on the same data.")
        self.add()
        header = ["Method", "Runs", "Median", "p95", "Min", "Max", "× Branch"]
        for scale in b.scales:
            entry = scales.get(scale, {})
            self.add(f"### {self.size_label(scale)}")
            self.add()
            branch, createdb, basebackup = entry.get("branch"), entry.get("createdb"), entry.get("basebackup")
            reference = self.median(branch)
            rows = []
            if self.ok(branch):
                rows.append(self.stats_row("**Branch create → ready** (POST wall time)", branch["wall"], reference))
                rows.append(self.stats_row("Branch, server `durationMs`", branch["server"], reference))
                rows.append(self.stats_row("Branch, POST + first query (psql)", branch["first_query"], reference))
            else:
                rows.append(["Branch create", "failed", "", "", "", "", ""])
            if self.ok(createdb):
                strategy = f" (`-S {b.createdb_strategy}`)" if b.createdb_strategy else ""
                rows.append(self.stats_row(f"**`createdb -T`**{strategy} (until it returns)", createdb["wall"], reference))
                rows.append(self.stats_row("`createdb -T` + first query", createdb["first_query"], reference))
            else:
                rows.append(["`createdb -T`", "failed", "", "", "", "", ""])
            if self.ok(basebackup):
                rows.append(self.stats_row("**`pg_basebackup` + start** (until it accepts connections)", basebackup["wall"], reference))
                rows.append(self.stats_row("… of which `pg_basebackup`", basebackup["backup"], reference))
                rows.append(self.stats_row("… of which `pg_ctl start -w`", basebackup["start"], reference))
            else:
                rows.append(["`pg_basebackup` + start", "failed", "", "", "", "", ""])
            self.table(header, rows)

        # Summary of ratios.
        self.add("### Ratios")
        self.add()
        rows = []
        first_branch = None
        for scale in b.scales:
            entry = scales.get(scale, {})
            reference = self.median(entry.get("branch"))
            createdb, basebackup = self.median(entry.get("createdb")), self.median(entry.get("basebackup"))
            if first_branch is None:
                first_branch = reference
            rows.append([self.size_label(scale),
                         fmt_ratio(createdb / reference) if createdb and reference else "–",
                         fmt_ratio(basebackup / reference) if basebackup and reference else "–",
                         fmt_ratio(reference / first_branch) if reference and first_branch else "–"])
        self.table(["Size", "createdb -T / Branch", "pg_basebackup+start / Branch",
                    f"Branch / Branch at {self.size_label(b.scales[0])}"], rows)

        # Step breakdown.
        self.add("## Where the time of a branch create goes")
        self.add()
        self.add("Per step as reported by the server (`operation.steps`): the median of each step over all runs, and "
                 "the steps of the slowest run; last, the gap between the client's wall time and the server's "
                 "`durationMs` (HTTP, JSON, looking up the branch's details for the answer).")
        self.add()
        step_rows, step_names = [], None
        for scale in b.scales:
            branch = scales.get(scale, {}).get("branch")
            if not self.ok(branch):
                continue
            names, medians = step_medians(branch["steps"])
            step_names = step_names or names
            gap = statistics.median([w - s for w, s in zip(branch["wall"], branch["server"])])
            step_rows.append([self.size_label(scale) + ", median"] + [fmt_ms(medians.get(name)) for name in step_names]
                             + [fmt_ms(statistics.median(branch["server"])), fmt_ms(gap)])
            slowest = max(range(len(branch["wall"])), key=lambda index: branch["wall"][index])
            _, single = step_medians([branch["steps"][slowest]])
            step_rows.append([f"{self.size_label(scale)}, slowest run (run {slowest + 1})"]
                             + [fmt_ms(single.get(name)) for name in step_names]
                             + [fmt_ms(branch["server"][slowest]), fmt_ms(branch["wall"][slowest] - branch["server"][slowest])])
        if step_rows:
            self.table(["Size"] + [f"`{name}`" for name in step_names] + ["server total", "wall − server"], step_rows)
        else:
            self.add("No branch create succeeded.")
            self.add()

        # Project and snapshot create.
        self.add("## Project create and snapshot create")
        self.add()
        rows = []
        project = results.get("project_create")
        if self.ok(project):
            rows.append(self.stats_row("Project create (empty service), POST wall time", project["wall"]))
            rows.append(self.stats_row("Project create, server `durationMs`", project["server"]))
        else:
            rows.append(["Project create", "failed", "", "", "", "", ""])
        for scale in b.scales:
            snapshot = scales.get(scale, {}).get("snapshot")
            if self.ok(snapshot):
                rows.append(self.stats_row(f"Snapshot create, {self.size_label(scale)}, POST wall time", snapshot["wall"]))
                rows.append(self.stats_row(f"Snapshot create, {self.size_label(scale)}, server `durationMs`", snapshot["server"]))
            else:
                rows.append([f"Snapshot create, {self.size_label(scale)}", "failed", "", "", "", "", ""])
        self.table(["Operation", "Runs", "Median", "p95", "Min", "Max"], [row[:6] for row in rows])
        breakdown = []
        if self.ok(project):
            names, medians = step_medians(project["steps"])
            breakdown.append(("project create", names, medians))
        for scale in b.scales:
            snapshot = scales.get(scale, {}).get("snapshot")
            if self.ok(snapshot):
                names, medians = step_medians(snapshot["steps"])
                breakdown.append((f"snapshot create, {self.size_label(scale)}", names, medians))
        if breakdown:
            self.add("Server steps (median):")
            self.add()
            for label, names, medians in breakdown:
                self.add(f"- {label}: " + ", ".join(f"`{name}` {fmt_ms(medians[name])}" for name in names))
            self.add()

        # Interpretation.
        self.add("## Interpretation")
        self.add()
        for paragraph in self.interpretation():
            self.add(paragraph)
            self.add()

        # Setup.
        self.add("## Machine and set-up")
        self.add()
        status = getattr(b, "status", {})
        load_end = getattr(b, "load_end", None)
        self.add(f"- Machine: {m['cpu']}, {m['nproc']} CPUs (nproc), "
                 f"{fmt_bytes(m['memory']) if m['memory'] else 'unknown'} memory, kernel {m['kernel']}, {m['os']}")
        self.add(f"- Disk: {fmt_bytes(b.host_free_start)} free under {os.path.dirname(b.dir)} at the start; the pool is a "
                 f"sparse {b.pool_size} Btrfs image at `{b.image}`, loop-mounted (noatime) at `{b.pool}` by `branch serve`")
        self.add(f"- Load average (1/5/15 min): {fmt_load(b.load_start)} at the start, "
                 f"{fmt_load(load_end) if load_end else 'unknown'} at the end. The machine is shared: other jobs (builds, "
                 "tests) may have run at the same time, which is why every comparison is a ratio within this run.")
        self.add(f"- Postgres: {status.get('postgres', {}).get('version', 'unknown')} "
                 f"(`{status.get('postgres', {}).get('binDirectory', '?')}`), Branch's settings "
                 "(shared_buffers 64MB, wal_level replica); PgBouncer as Branch's pooler")
        self.add(f"- Branch: commit `{m['commit']}`" + (" (with uncommitted changes under Sources/)" if m["dirty"] else "")
                 + f", `{b.configuration}` build (`.build/{b.configuration}/branch`, built "
                 f"{m['binary_mtime'].strftime('%Y-%m-%d %H:%M UTC')}, sha256 `{b.binary_sha}`, run from a copy), "
                 f"version {status.get('version', '?')}")
        notes = "; ".join(b.runtime_notes)
        self.add(f"- Branch servers run as: **{b.runtime_name}**" + (f" ({notes})" if notes else "")
                 + ("" if b.runtime else " — Branch's default choice; set BENCH_RUNTIME (e.g. `process`, `podman`) to pick one"))
        self.add(f"- Service: `branch {' '.join(b.service_args)}` (ports picked free for the run)")
        for scale in b.scales:
            data = scales.get(scale, {}).get("data")
            if data:
                self.add(f"- Data at scale {scale}: `pgbench -i -q -s {scale}` (default steps, including VACUUM) into the "
                         f"project's main branch over its direct URL, then `CHECKPOINT`: database size "
                         f"{fmt_bytes(data['database_bytes'])}, loaded in {data['load_seconds'] / 60:.1f} min")
        self.add()
        self.add("Command:")
        self.add()
        self.add("```sh")
        env = (f"CONFIGURATION={b.configuration} BENCH_SCALES=\"{' '.join(map(str, b.requested_scales))}\" "
               f"BENCH_RUNS={b.runs} BENCH_COPY_RUNS={b.copy_runs}")
        if b.createdb_strategy:
            env += f" BENCH_CREATEDB_STRATEGY={b.createdb_strategy}"
        if b.runtime:
            env += f" BENCH_RUNTIME={b.runtime}"
        self.add(f"make bench {env}")
        self.add(f"# which builds, then runs: {env} scripts/bench.sh")
        self.add("```")
        self.add()

        # Method.
        self.add("## How it is measured")
        self.add()
        for text in METHOD:
            self.add(f"- {text}")
        self.add()

        # Raw values.
        self.add("## All runs (ms)")
        self.add()
        self.add("<details><summary>Every measured value, in run order</summary>")
        self.add()
        raw = []
        if self.ok(project):
            raw.append(("project create, wall", project["wall"]))
        for scale in b.scales:
            entry = scales.get(scale, {})
            for key, label, field in (("branch", "branch create, wall", "wall"), ("branch", "branch create, server", "server"),
                                      ("snapshot", "snapshot create, wall", "wall"), ("createdb", "createdb -T", "wall"),
                                      ("basebackup", "pg_basebackup + start", "wall")):
                if self.ok(entry.get(key)):
                    raw.append((f"{label}, scale {scale}", entry[key][field]))
        for label, values in raw:
            self.add(f"- {label}: " + ", ".join(f"{value:.1f}" for value in values))
        for scale in b.scales:
            branch = scales.get(scale, {}).get("branch")
            if self.ok(branch):
                self.add(f"- branch create server steps, scale {scale}:")
                for index, steps in enumerate(branch["steps"]):
                    self.add(f"  - run {index + 1}: " + ", ".join(f"{step['name']} {step['ms']:.1f}" for step in steps))
        self.add()
        self.add("</details>")
        self.add()
        return "\n".join(self.lines)

    def interpretation(self):
        b, scales = self.b, self.b.results["scales"]
        paragraphs = []
        sentences = []
        medians = {}
        for scale in b.scales:
            entry = scales.get(scale, {})
            branch = entry.get("branch")
            if not self.ok(branch):
                continue
            reference = statistics.median(branch["wall"])
            medians[scale] = reference
            text = (f"At {self.size_label(scale)} a branch was ready in a median {fmt_ms(reference)} "
                    f"(p95 {fmt_ms(percentile(branch['wall'], 0.95))})")
            copies = []
            createdb, basebackup = self.median(entry.get("createdb")), self.median(entry.get("basebackup"))
            if createdb:
                copies.append(f"`createdb -T` took {fmt_ms(createdb)} ({fmt_ratio(createdb / reference)} as long)")
            if basebackup:
                copies.append(f"`pg_basebackup` plus start {fmt_ms(basebackup)} ({fmt_ratio(basebackup / reference)})")
            sentences.append(text + ("; " + " and ".join(copies) if copies else "") + ".")
        if sentences:
            paragraphs.append(" ".join(sentences))
        if len(medians) >= 2:
            small, large = medians[min(medians)], medians[max(medians)]
            ratio = large / small
            sizes = {scale: scales[scale].get("data", {}).get("database_bytes") for scale in medians}
            if sizes[max(medians)] and sizes[min(medians)]:
                data_ratio = sizes[max(medians)] / sizes[min(medians)]
            else:
                data_ratio = max(medians) / min(medians)
            if max(ratio, 1 / ratio) <= 1.25:
                paragraphs.append(f"Branch's time does not follow the data size: with {data_ratio:.0f}× the data the "
                                  f"median was {fmt_ratio(ratio)} that of the smallest size, while the full copies "
                                  "grow with the data.")
            else:
                paragraphs.append(f"With {data_ratio:.0f}× the data Branch's median was {fmt_ratio(ratio)} that of the "
                                  "smallest size, outside the 25% the target allows. Branch copies no data, so such a "
                                  "difference comes from the steps that do not depend on size (see the breakdown) "
                                  "and from the noise of a shared machine.")
        # Where the server spends a branch create.
        largest = max((scale for scale in b.scales if self.ok(scales.get(scale, {}).get("branch"))), default=None)
        if largest is not None:
            branch = scales[largest]["branch"]
            names, step_values = step_medians(branch["steps"])
            if step_values:
                top = max(names, key=lambda name: step_values[name])
                total = statistics.median(branch["server"])
                gap = statistics.median([w - s for w, s in zip(branch["wall"], branch["server"])])
                text = (f"Of the server's {fmt_ms(total)} (median, {self.size_label(largest)}), the largest step is "
                        f"`{top}` with {fmt_ms(step_values[top])}")
                if top == "start":
                    where = "a container" if b.runtime_name in ("podman", "docker") else "a process"
                    text += (f" (starting Postgres on the clone in {where} ({b.runtime_name}), including its short crash "
                             "recovery, and waiting until it accepts connections)")
                text += f". The client saw {fmt_ms(gap)} more than the server's `durationMs` (HTTP and building the answer)."
                paragraphs.append(text)
        # Outliers: a run more than twice the median, and the step that made the difference.
        for scale in b.scales:
            branch = scales.get(scale, {}).get("branch")
            if not self.ok(branch):
                continue
            median = statistics.median(branch["wall"])
            slowest = max(range(len(branch["wall"])), key=lambda index: branch["wall"][index])
            if branch["wall"][slowest] <= 2 * median:
                continue
            _, step_values = step_medians(branch["steps"])
            _, single = step_medians([branch["steps"][slowest]])
            culprit = max(single, key=lambda name: single[name] - step_values.get(name, 0))
            text = (f"The p95 at {self.size_label(scale)} comes from run {slowest + 1} of {len(branch['wall'])} "
                    f"({fmt_ms(branch['wall'][slowest])}), which spent {fmt_ms(single[culprit])} in `{culprit}` against "
                    f"a median of {fmt_ms(step_values.get(culprit))}")
            if slowest == 0 and culprit == "base snapshot":
                text += (": the first Btrfs snapshot of main after the data load, which has to commit the freshly "
                         "written data; later snapshots are cheap")
            paragraphs.append(text + ".")
        missed = [label for label, _, _, met in self.targets() if met is False]
        if missed:
            paragraphs.append("Targets not met in this run: " + "; ".join(missed) + ".")
        elif all(met for _, _, _, met in self.targets()):
            paragraphs.append("Every target was met in this run.")
        sizes = [entry.get("data", {}).get("database_bytes") or 0 for entry in scales.values()]
        memory = b.machine_info.get("memory") or 0
        if sizes and memory and max(sizes) < 0.6 * memory:
            cache = ("Every data set fits in this machine's memory, so the full copies mostly read from the page cache; "
                     "on a cold cache or a database larger than memory they would be slower still, while Branch copies "
                     "no data.")
        else:
            cache = ("The largest data set is a sizeable part of this machine's memory, so the full copies partly read "
                     "from disk.")
        paragraphs.append(
            f"Caveats: branch servers ran as {b.runtime_name}; this is a `{b.configuration}` build on a shared {b.machine_info['nproc']}-CPU machine, so absolute "
            f"figures move from run to run; the ratios within one run are the robust part. {cache}")
        return paragraphs


METHOD = [
    "The service is a private copy of the built binary, on a fresh pool, with its own ports and container prefix "
    f"(`{CONTAINER_PREFIX}`); nothing else runs on it.",
    "All API calls go to `127.0.0.1` with `urllib` (a new HTTP connection per call); times are `time.perf_counter()` "
    "around the call.",
    "Branch create: `POST /api/v1/projects/{p}/branches {\"name\":…,\"from\":\"main\"}`, which returns once the new "
    "branch accepts connections. Then (not timed as part of the POST) its direct URL is fetched and "
    "`psql URL -c 'select count(*) from pgbench_branches'` checks the data; \"POST + first query\" adds that psql run "
    "(process start, TCP, SCRAM, query). Each branch is deleted after its run; deletion is not timed.",
    "Snapshot create: `POST /api/v1/projects/{p}/snapshots {\"branch\":\"main\"}`, deleted after each run.",
    "Project create: on the service before any data project exists; each project is checked with `select 1` on its "
    "pooled URL and deleted (not timed).",
    "`createdb -T`: as the `postgres` superuser over the pool's Unix socket (`<pool>/run/pg`) against the project's "
    "main server, template = the project's database, after `pg_terminate_backend` of its other sessions and a "
    "`CHECKPOINT`; timed until createdb returns, then the copy is queried and dropped. Postgres 15's default strategy "
    "(`WAL_LOG`) unless BENCH_CREATEDB_STRATEGY says otherwise.",
    "`pg_basebackup -X stream -c fast` over the same socket into a directory on the same Btrfs pool (it fsyncs "
    "every file of the copy at the end, as by default; on this Btrfs-on-loop pool that costs seconds even for a "
    "small database, since a cluster has about a thousand files), then "
    "`pg_ctl start -w` of a plain Postgres process on the copy (own port and socket directory, logging collector off); timed from the start of the backup "
    "until pg_ctl reports the server ready. Branch's `pg_hba.conf` has no replication entry, so "
    "`local replication postgres trust` is added to main's for this measurement and removed right after.",
    "Statistics: median; p95 by linear interpolation between closest ranks (with 10 runs it lies between the two "
    "slowest); min; max.",
    "Clean-up: the service is stopped with SIGTERM (it stops every branch server), any postgres/pgbouncer still "
    "mentioning the bench directory is killed, containers labelled with the pool are removed, the pool is unmounted "
    "and the image and directory are deleted — also on failure, Ctrl-C or SIGTERM.",
]


def step_medians(runs):
    """Median of each step across runs; repeated step names get #2, #3…, in their order."""
    names, values = [], {}
    for steps in runs:
        seen = {}
        for step in steps:
            seen[step["name"]] = seen.get(step["name"], 0) + 1
            name = step["name"] if seen[step["name"]] == 1 else f"{step['name']} #{seen[step['name']]}"
            if name not in values:
                values[name] = []
                names.append(name)
            values[name].append(step["ms"])
    return names, {name: statistics.median(samples) for name, samples in values.items()}


def tail_of(path, lines=15):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:]).strip()
    except OSError as error:
        return f"({path}: {error.strerror})"


def verdict(value, limit):
    return None if value is None else value <= limit


def fmt_load(load):
    return " / ".join(f"{value:.2f}" for value in load)


def install_signal_handlers():
    def handler(signum, _frame):
        raise Interrupted(f"stopped by {signal.Signals(signum).name}")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def main():
    install_signal_handlers()
    try:
        bench = Bench()
        return bench.main()
    except BenchError as error:
        log(f"error: {error}")
        return 1
    except Interrupted as interruption:
        log(f"{interruption}; cleaned up, {os.environ.get('BENCH_OUTPUT') or 'docs/benchmarks.md'} left as it was")
        return 130


if __name__ == "__main__":
    sys.exit(main())
