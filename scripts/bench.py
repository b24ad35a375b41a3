#!/usr/bin/env python3
"""Branch benchmarks: `make bench` (through scripts/bench.sh). Python 3 standard library only.

Starts a throw-away `branch serve` on a loop-mounted Btrfs image under BENCH_DIR, then measures
the parts BENCH_PARTS names (default all five, in this order):

* branch: project create (on the empty service; each project deleted again, deletion not timed);
  for each pgbench scale (default 68 ≈ 1 GB and 680 ≈ 10 GB), on a project loaded with
  `pgbench -i`:
  - branch create until the branch accepts connections (client wall time of the POST, the
    server's durationMs and steps, then a first query with psql), branch deleted after each run;
  - snapshot create (snapshot deleted after each run);
  - a full copy with `createdb -T` (as postgres over the Unix socket), until createdb returns;
  - a full copy with `pg_basebackup` plus starting a Postgres on it, until it accepts connections.
* pitr: point-in-time branches (`from main, at <instant>`) after increasing amounts of pgbench
  WAL since a snapshot: creation time against the WAL replayed.
* diff: row-level diff of two branches of one project loaded with `pgbench -i -s BENCH_DIFF_SCALE`
  (default 100: 10 M rows in pgbench_accounts): branch `b` from main, then 0, 100 and 100 000
  rows of pgbench_accounts changed on `b` (cumulative, random distinct aids over the whole table).
  For each stage `POST …/diff {"from":"main","to":"b"}` read to the end of its NDJSON stream
  (BENCH_DIFF_RUNS times): wall time, the `end` line's durationMs, bytes from each server and
  rowsChanged (checked), and the service's peak RSS during the request (sampled every 20 ms) above
  its RSS before; `"summary": true` at the last stage; against the naive comparison: `psql -c "COPY
  (SELECT * FROM pgbench_accounts ORDER BY aid) TO STDOUT"` on both branches, streamed and compared
  line by line here. Then BENCH_DIFF_MERGES merges of 10 000 non-conflicting row changes (branch
  `m` from main, rows updated on it, `POST …/merge {"source":"m","into":"main"}`): wall time,
  operation.durationMs, the plan (10 000 updates) and applied=true checked.
* containers: branch ready with `--runtime podman` and `--runtime process` on the same pool (the
  service restarted in between), the memory of idle branches under both, the service's and
  PgBouncer's own memory with many projects, scale to zero (projects suspended after 5 s) and the
  time a client connection takes to resume a suspended branch; how many projects fit in 8 GB is
  computed from those measurements.
* backup: at each scale, Branch's encrypted backups and restores against pgBackRest (the Debian
  package) and `pg_basebackup | zstd`: time, throughput, stored size, peak memory; incremental
  size after changing 1% of the rows (spread over the table and contiguous). Runs with
  `--runtime process` (pgBackRest reads the data directory on the host and checks that the
  server reports the same path).

Then writes docs/benchmarks.md from scratch. Everything it starts is stopped and removed at the
end, also on failure, Ctrl-C or SIGTERM (a run killed with SIGKILL is cleaned up by the next run).

Settings (environment): CONFIGURATION, BENCH_SCALES, BENCH_RUNS, BENCH_COPY_RUNS, BENCH_DIR,
BENCH_OUTPUT, BENCH_CREATEDB_STRATEGY, BENCH_RUNTIME, BENCH_PARTS, BENCH_BACKUP_RUNS,
BENCH_BACKUP_RUNS_LARGE, BENCH_IDLE_PROJECTS, BENCH_SUSPEND_PROJECTS, BENCH_RESUMES,
BENCH_PITR_SCALE, BENCH_PITR_STAGES, BENCH_PITR_RUNS, BENCH_DIFF_SCALE, BENCH_DIFF_RUNS, BENCH_DIFF_MERGES
(see scripts/bench.sh).
"""

import datetime
import fcntl
import hashlib
import io
import itertools
import json
import math
import os
import pickle
import platform
import pwd
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import secrets
import statistics
import subprocess
import sys
import threading
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
    "psql", "pgbench", "runuser", "pgbackrest", "zstd", "tar", "sync",
}
PARTS = ("branch", "pitr", "diff", "containers", "backup")
# Rows of pgbench_accounts changed on the diff part's branch `b`, cumulative stages.
DIFF_STAGES = (0, 100, 100000)
# Rows changed on the merged branch per merge.
MERGE_ROWS = 10000
# RowDiffSettings' defaults (Sources/BranchDiff/RowDiff.swift), read from the source at run time when it is there.
DIFF_SETTINGS = {"firstSegments": 64, "fanout": 16, "fetchThreshold": 2000, "smallTable": 4000}
# How often the diff part samples VmRSS, in seconds.
DIFF_SAMPLE_INTERVAL = 0.02
# The kernel's ports kept out of ephemeral use; `branch serve` adds its branch port range.
RESERVED_PORTS = "/proc/sys/net/ipv4/ip_local_reserved_ports"
# A diff or merge that took longer than this (ms) is not repeated (BENCH_DIFF_RUNS, BENCH_DIFF_MERGES).
DIFF_SLOW_MS = 120000
# Databases at least this large (estimated from the scale) get BENCH_BACKUP_RUNS_LARGE repetitions.
LARGE_BYTES = 4 * GIB
# The memory budget the density figures are computed for.
DENSITY_BUDGET = 8 * GIB


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


def parse_parts():
    raw = os.environ.get("BENCH_PARTS", "").strip()
    if not raw or raw == "all":
        return list(PARTS)
    parts = {part.strip() for part in raw.replace(" ", ",").split(",") if part.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        raise BenchError(f"BENCH_PARTS: unknown part(s) {sorted(unknown)}; use some of {', '.join(PARTS)}")
    return [part for part in PARTS if part in parts]


def parse_stages():
    raw = os.environ.get("BENCH_PITR_STAGES", "").strip() or "10 30 60"
    try:
        stages = [int(part) for part in raw.replace(",", " ").split()]
    except ValueError:
        raise BenchError(f"BENCH_PITR_STAGES must be seconds of pgbench separated by spaces, not {raw!r}")
    if not stages or min(stages) < 1:
        raise BenchError("BENCH_PITR_STAGES must hold at least one stage of 1 s or more")
    return stages


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
    if value < 0:
        return "−" + fmt_bytes(-value)
    if value >= GIB:
        return f"{value / GIB:.2f} GiB"
    if value >= 100 * MIB:
        return f"{value / MIB:.0f} MiB"
    if value >= MIB:
        return f"{value / MIB:.1f} MiB"
    return f"{value / 1024:.0f} KiB"


def fmt_rate(value):
    """Bytes per second as MiB/s."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value / MIB:.0f} MiB/s" if value >= 10 * MIB else f"{value / MIB:.1f} MiB/s"


def fmt_percent(value):
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"


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


def status_kb(pid, field):
    """A `Field:   N kB` line of /proc/<pid>/status, in bytes (None when the process is gone)."""
    text = read_proc(pid, "status")
    if not text:
        return None
    match = re.search(rb"^" + field.encode() + rb":\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def io_field(pid, field):
    """A field of /proc/<pid>/io (rchar: bytes read through read() and the like, files and sockets)."""
    text = read_proc(pid, "io")
    if not text:
        return None
    match = re.search(rb"^" + field.encode() + rb":\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def pss_of(pid):
    text = read_proc(pid, "smaps_rollup")
    if not text:
        return None
    match = re.search(rb"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def find_pids(comms, mention=None, parent=None):
    """Live processes whose comm is in `comms`, optionally whose command line contains `mention`
    or whose parent is `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        comm = (read_proc(pid, "comm") or b"").decode(errors="replace").strip()
        if comm not in comms:
            continue
        if parent is not None:
            stat = read_proc(pid, "stat") or b""
            if b")" not in stat or int(stat[stat.rindex(b")") + 2:].split()[1]) != parent:
                continue
        if mention is not None:
            cmdline = (read_proc(pid, "cmdline") or b"").replace(b"\0", b" ").decode(errors="replace")
            if mention not in cmdline:
                continue
        found.append(pid)
    return found


class PeakSampler:
    """Polls the summed VmRSS of the processes `pids()` returns, every `interval` seconds, in a
    thread; `peak` is the largest sum seen. Used as `with PeakSampler(...) as sampler:`."""

    def __init__(self, pids, interval=0.1, guard=None):
        self.pids, self.interval, self.guard = pids, interval, guard
        self.peak, self.samples = 0, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stopping.is_set():
            try:
                total = sum(status_kb(pid, "VmRSS") or 0 for pid in self.pids())
            except Exception:  # noqa: BLE001 - a process vanishing mid-scan is normal
                total = 0
            self.peak = max(self.peak, total)
            self.samples += 1
            if self.guard:
                self.guard(total)
            self.stopping.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=10)
        return False


class CountingPipe(io.RawIOBase):
    """The read end of a pipe that counts the bytes read through it (wrapped in a BufferedReader)."""

    def __init__(self, descriptor):
        super().__init__()
        self.descriptor, self.count = descriptor, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        read = os.readv(self.descriptor, [buffer])
        self.count += read
        return read


def mem_available():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def is_mounted(path):
    with open("/proc/mounts") as handle:
        return any(line.split()[1] == path for line in handle if len(line.split()) > 1)


# ---------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self):
        self.configuration = os.environ.get("CONFIGURATION", "").strip() or "debug"
        self.binary = os.path.join(REPO, ".build", self.configuration, "branch")
        self.parts = parse_parts()
        self.scales = parse_scales()
        self.requested_scales = list(self.scales)
        if "branch" not in self.parts and "backup" not in self.parts:
            self.scales = self.scales[:1]  # the containers part needs only the smallest size
        self.runs = env_int("BENCH_RUNS", 10)
        self.copy_runs = env_int("BENCH_COPY_RUNS", 3)
        self.backup_runs = env_int("BENCH_BACKUP_RUNS", 3)
        self.backup_runs_large = env_int("BENCH_BACKUP_RUNS_LARGE", 1)
        self.idle_projects = env_int("BENCH_IDLE_PROJECTS", 10)
        self.suspend_projects = env_int("BENCH_SUSPEND_PROJECTS", 20)
        self.resumes = env_int("BENCH_RESUMES", 10)
        self.pitr_scale = env_int("BENCH_PITR_SCALE", 20)
        self.pitr_stages = parse_stages()
        self.pitr_runs = env_int("BENCH_PITR_RUNS", 2)
        self.diff_scale = env_int("BENCH_DIFF_SCALE", 100)
        self.diff_runs = env_int("BENCH_DIFF_RUNS", 2)
        self.diff_merges = env_int("BENCH_DIFF_MERGES", 2)
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
        self.backup_dir = os.path.join(self.dir, "backups")  # Branch's backup target (host disk, like the others' repos)
        self.backup_key = os.path.join(self.dir, "backup.key")
        self.pgbackrest_dir = os.path.join(self.dir, "pgbackrest")
        self.basebackup_dir = os.path.join(self.dir, "basebackup")
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
        self.reserved_ports = None
        self.hba_restore = None  # (path, original text, port) while pg_basebackup needs a replication entry
        self.hba_added = None  # whether the replication entry had to be added (older builds)
        self.projects = {}  # scale -> loaded project info, kept for the later parts
        self.service_config = None  # (runtime, metrics interval) the running service was started with
        self.services = []  # every service start: arguments, runtime, parts it served
        self.help_text = ""
        self.tool_versions = {}
        self.machine_info = None
        self.memory_aborted = None

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

    def environment(self, as_postgres=False):
        environment = dict(os.environ)
        for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"):
            environment.pop(name, None)
        environment["PGCONNECT_TIMEOUT"] = "10"
        if as_postgres:
            environment["HOME"] = pwd.getpwnam("postgres").pw_dir
        return environment

    def pipeline(self, first, second, timeout=4 * 3600):
        """Runs `first | second` (argument lists); raises with both commands' errors on failure."""
        started = time.monotonic()
        with open(os.devnull, "rb") as devnull:
            producer = subprocess.Popen(first, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/",
                                        env=self.environment())
            consumer = subprocess.Popen(second, stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        cwd="/", env=self.environment())
            producer.stdout.close()  # the consumer holds the pipe now
            try:
                consumer_errors = consumer.communicate(timeout=timeout)[1]
                producer_errors = producer.communicate(timeout=max(1, timeout - (time.monotonic() - started)))[1]
            except subprocess.TimeoutExpired:
                producer.kill()
                consumer.kill()
                producer.wait()
                consumer.wait()
                raise BenchError(f"`{' '.join(first)} | {' '.join(second)}` timed out")
        if producer.returncode != 0 or consumer.returncode != 0:
            raise BenchError(f"`{' '.join(first)} | {' '.join(second)}` failed ({producer.returncode}, {consumer.returncode}): "
                             f"{producer_errors.decode(errors='replace')[-800:]} {consumer_errors.decode(errors='replace')[-800:]}")

    def tool(self, name):
        return os.path.join(self.bindir, name)

    def su_sql(self, port, sql, database="postgres", socket_dir=None, check=True, timeout=600):
        """SQL as the postgres superuser over a Unix socket; unaligned, tuples only."""
        result = self.run(
            [self.tool("psql"), "-h", socket_dir or self.socket_for(port), "-p", str(port), "-U", "postgres", "-d", database,
             "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
            as_postgres=True, check=check, timeout=timeout)
        return result.stdout.strip()

    def url_sql(self, url, sql):
        result = self.run([self.tool("psql"), url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], timeout=120)
        return result.stdout.strip()

    @property
    def socket_dir(self):
        return os.path.join(self.pool, "run", "pg")

    def socket_for(self, port):
        """A branch server's socket directory: `<pool>/run/pg/<port>` (one per port), or the shared
        `<pool>/run/pg` of older builds."""
        own = os.path.join(self.socket_dir, str(port))
        return own if os.path.isdir(own) else self.socket_dir

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

        # The backup part keeps its backups, pgBackRest's repository and the base backup outside the
        # pool (compressed, pgbench data shrinks about tenfold; half the data size is generous).
        outside = 0.5 if "backup" in self.parts else 0.0

        def host_bytes(largest):
            return pool_bytes(largest) + outside * largest * BYTES_PER_SCALE + HOST_MARGIN

        # The diff part's project (its own pgbench load) must fit too.
        diff_scale = self.diff_scale if "diff" in self.parts else 0
        largest = max(self.scales[-1], diff_scale)
        if host_bytes(largest) > available:
            fitting = int((available - HOST_MARGIN - POOL_HEADROOM) // ((3 + outside) * BYTES_PER_SCALE))
            if fitting < 1:
                raise BenchError(f"only {fmt_bytes(available)} free under {parent}: not enough for any benchmark")
            old = list(self.scales)
            self.scales = sorted({min(scale, fitting) for scale in self.scales})
            if diff_scale > fitting:
                self.diff_scale = diff_scale = fitting
            note = (f"Not enough disk for the requested scales {old}"
                    + (f" and the diff part's scale {largest}" if "diff" in self.parts else "")
                    + f" ({fmt_bytes(available)} free under {parent}, "
                    f"{fmt_bytes(host_bytes(largest))} needed: a pool of {fmt_bytes(pool_bytes(largest))}, the backups "
                    f"and {fmt_bytes(HOST_MARGIN)} margin): scaled down to {self.scales}"
                    + (f" (diff: {self.diff_scale})" if "diff" in self.parts else "") + ".")
            self.notes.append(note)
            log("NOTE: " + note)
        size_gib = math.ceil(pool_bytes(max(self.scales[-1], diff_scale)) / GIB)
        self.pool_size = f"{size_gib}G"
        log(f"{fmt_bytes(available)} free under {parent}; pool image {self.pool_size} (sparse) for scales {self.scales}"
            + (f" and the diff part's scale {self.diff_scale}" if "diff" in self.parts else ""))

    def start_service(self, runtime=None, metrics_interval=None, parts=()):
        """Starts `branch serve` on the pool (created at the first start, reused after). `runtime`
        None means BENCH_RUNTIME (or Branch's default); `metrics_interval` None, Branch's default."""
        first = self.service_config is None
        if first:
            os.makedirs(self.dir, mode=0o711, exist_ok=True)
            os.chmod(self.dir, 0o711)  # postgres must reach the pool and the copies' socket directory
            shutil.copy2(self.binary, self.binary_copy)
            with open(self.binary_copy, "rb") as handle:
                self.binary_sha = hashlib.sha256(handle.read()).hexdigest()[:12]
            self.help_text = subprocess.run(
                [self.binary_copy, "serve", "--help-hidden"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=60).stdout
            if "--pool" not in self.help_text:  # a build without --help-hidden
                self.help_text = subprocess.run([self.binary_copy, "serve", "--help"], stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, text=True, timeout=60).stdout
            self.api_port, self.pooler_port = free_port(), free_port()
            self.port_range = free_port_range()
            if "--backup-target" in self.help_text:
                key = subprocess.run([self.binary_copy, "backup", "keygen"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, timeout=60)
                if key.returncode != 0 or not key.stdout.strip():
                    raise BenchError(f"`branch backup keygen` failed: {key.stderr.strip()}")
                descriptor = os.open(self.backup_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(key.stdout.strip() + "\n")
                os.chmod(self.backup_key, 0o600)
                os.makedirs(self.backup_dir, mode=0o700, exist_ok=True)
        runtime = runtime if runtime is not None else self.runtime
        first_port, last_port = self.port_range
        args = [
            "serve", "--pool", self.pool, "--pool-image", self.image, "--pool-size", self.pool_size,
            "--listen", f"127.0.0.1:{self.api_port}", "--pooler-port", str(self.pooler_port),
            "--port-range", f"{first_port}-{last_port}", "--db-listen", "127.0.0.1",
        ]
        if "--container-prefix" in self.help_text:
            # Containers are started with --replace: a prefix of our own keeps us off anyone else's.
            args += ["--container-prefix", CONTAINER_PREFIX]
        if runtime:
            if "--runtime" not in self.help_text:
                raise BenchError(f"runtime {runtime} is asked for but this branch binary has no --runtime option")
            args += ["--runtime", runtime]
        if metrics_interval:
            if "--metrics-interval" not in self.help_text:
                raise BenchError("this branch binary has no (hidden) --metrics-interval option; rebuild it")
            args += ["--metrics-interval", metrics_interval]
        if "--backup-target" in self.help_text:
            args += ["--backup-target", f"dir:{self.backup_dir}", "--backup-key-file", self.backup_key]
        self.service_args = args
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        log(f"starting branch serve (copy of {self.binary}, sha256 {self.binary_sha}) on {self.base_url}, pool {self.pool}"
            + (f", runtime {runtime}" if runtime else "") + (f", metrics every {metrics_interval}" if metrics_interval else ""))
        with open(self.serve_log, "ab") as log_file:
            # A session of its own: Ctrl-C reaches only us, and we stop it in order.
            self.service = subprocess.Popen(
                [self.binary_copy] + args, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
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
        self.service_config = (runtime, metrics_interval)
        with open(os.path.join(self.pool, "admin.key")) as handle:
            self.token = handle.read().strip()
        status, _ = self.api("GET", "/api/v1/status")
        self.status = status
        self.bindir = status["postgres"]["binDirectory"]
        details = status.get("runtimeDetails") or {}
        self.runtime_name = details.get("name") or status.get("runtime") or "unknown"
        self.runtime_notes = details.get("notes") or []
        self.services.append({"args": list(args), "runtime": self.runtime_name, "notes": list(self.runtime_notes),
                              "parts": list(parts)})
        log(f"service up: Postgres {status['postgres']['version']} ({self.bindir}), runtime {self.runtime_name}, "
            f"pool {status['pool']['mount']}")

    def stop_service(self):
        """SIGTERM: the service stops every branch server and the pooler; the pool stays mounted."""
        if not self.service or self.service.poll() is not None:
            self.service = None
            return
        log("stopping branch serve (SIGTERM)")
        self.service.send_signal(signal.SIGTERM)
        try:
            self.service.wait(timeout=300)
        except subprocess.TimeoutExpired:
            raise BenchError("branch serve did not stop within 300 s")
        self.service = None

    def ensure_service(self, part, runtime=None, metrics_interval=None):
        """The service as `part` needs it: restarted on the same pool when the runtime or the
        metrics interval differ from the running one's."""
        wanted = (runtime if runtime is not None else self.runtime, metrics_interval)
        if self.service and self.service.poll() is None and self.service_config == wanted:
            self.services[-1]["parts"].append(part)
            return
        self.stop_service()
        self.start_service(runtime=runtime, metrics_interval=metrics_interval, parts=[part])

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
            command = [self.tool("createdb"), "-h", self.socket_for(port), "-p", str(port), "-U", "postgres", "-T", database]
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
            self.run([self.tool("dropdb"), "-h", self.socket_for(port), "-p", str(port), "-U", "postgres", copy], as_postgres=True)
            log(f"  createdb {index + 1}/{self.copy_runs}: {fmt_ms(elapsed)} (first query +{query:.0f} ms)")
        self.su_sql(port, "CHECKPOINT")
        return {"wall": wall, "first_query": first_query}

    def allow_replication(self, info):
        """pg_basebackup needs a replication entry in pg_hba.conf. Branch's has one for postgres over
        the socket since per-port socket directories; older builds had none (their `all` does not
        cover replication): then it is added to main for the measurement and taken out right after."""
        hba = os.path.join(self.pool, "projects", info["name"], "branches", "main", "pgdata", "pg_hba.conf")
        with open(hba) as handle:
            original = handle.read()
        if re.search(r"^local\s+replication\s+postgres\s+trust", original, re.MULTILINE):
            self.hba_added = False
            return
        self.hba_added = True
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
                    self.run([self.tool("pg_basebackup"), "-h", self.socket_for(info["port"]), "-p", str(info["port"]), "-U", "postgres",
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

    # ------------------------------------------------------------ shared helpers of the later parts

    def wait_job(self, job_id, timeout=4 * 3600):
        """Polls a job (backup, restore) every 50 ms until it is no longer running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job, _ = self.api("GET", f"/api/v1/jobs/{job_id}")
            if job.get("status") != "running":
                return job
            time.sleep(0.05)
        raise BenchError(f"job {job_id} did not finish within {timeout} s")

    def pgbouncer_pid(self):
        try:
            with open(os.path.join(self.pool, "run", "pgbouncer", "pgbouncer.pid")) as handle:
                return int(handle.read().strip())
        except (OSError, ValueError):
            return None

    def overhead(self):
        """RSS of the service and of PgBouncer: the median of three readings half a second apart."""
        readings = []
        for index in range(3):
            if index:
                time.sleep(0.5)
            pgbouncer = self.pgbouncer_pid()
            readings.append((status_kb(self.service.pid, "VmRSS") or 0, (status_kb(pgbouncer, "VmRSS") or 0) if pgbouncer else 0))
        return {"service": statistics.median(r[0] for r in readings), "pgbouncer": statistics.median(r[1] for r in readings)}

    def create_project(self, name, settings=None):
        body = {"name": name}
        if settings:
            body["settings"] = settings
        created, elapsed = self.api("POST", "/api/v1/projects", body, expect=(201,))
        return created["connection"]["url"], elapsed

    @staticmethod
    def with_database(url, database):
        return url.rsplit("/", 1)[0] + "/" + database

    def branch_status(self, project, branch="main"):
        info, _ = self.api("GET", f"/api/v1/projects/{project}/branches/{branch}")
        return info.get("status")

    def wait_status(self, projects, status, timeout=180):
        """Waits until the main branch of every project has `status`; returns seconds waited."""
        started = time.monotonic()
        pending = list(projects)
        while pending:
            pending = [name for name in pending if self.branch_status(name) != status]
            if not pending:
                break
            if time.monotonic() - started > timeout:
                raise BenchError(f"{len(pending)} project(s) did not become {status} within {timeout} s: {pending[:5]}")
            time.sleep(0.25)
        return time.monotonic() - started

    def timed_psql(self, url, sql="select 1"):
        started = time.perf_counter()
        result = self.run([self.tool("psql"), url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], timeout=120)
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, result.stdout.strip()

    # ------------------------------------------------------------ containers: runtimes, density, scale to zero

    def container_pids(self, names):
        """Host pid of each container's postmaster and of its conmon, by container name (podman)."""
        if not names or not shutil.which("podman"):
            return {}
        result = subprocess.run(["podman", "inspect", "--format", "{{.Name}} {{.State.Pid}} {{.State.ConmonPid}}"] + names,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
        found = {}
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) > 0:
                found[parts[0].lstrip("/")] = (int(parts[1]), int(parts[2]))
        return found

    @staticmethod
    def cgroup_breakdown(pid):
        """The memory cgroup of `pid`: usage and its parts (anon, shmem, file pages, kernel)."""
        text = (read_proc(pid, "cgroup") or b"").decode()
        v1 = v2 = None
        for line in text.splitlines():
            fields = line.split(":", 2)
            if len(fields) == 3 and "memory" in fields[1].split(","):
                v1 = "/sys/fs/cgroup/memory" + fields[2]
            elif len(fields) == 3 and fields[0] == "0" and fields[1] == "":
                v2 = "/sys/fs/cgroup" + fields[2]

        def read(path):
            try:
                with open(path) as handle:
                    return handle.read()
            except OSError:
                return None

        def stat(text):
            values = {}
            for line in (text or "").splitlines():
                key, _, value = line.partition(" ")
                if value.strip().isdigit():
                    values[key] = int(value)
            return values

        if v1 and read(v1 + "/memory.usage_in_bytes"):
            usage = int(read(v1 + "/memory.usage_in_bytes"))
            values = stat(read(v1 + "/memory.stat"))
            anon, shmem = values.get("total_rss", 0), values.get("total_shmem", 0)
            active, inactive = values.get("total_active_file", 0), values.get("total_inactive_file", 0)
            cache = values.get("total_cache", 0)
            return {"usage": usage, "anon": anon, "shmem": shmem, "active_file": active, "inactive_file": inactive,
                    "other": max(0, usage - anon - cache)}
        if v2 and read(v2 + "/memory.current"):
            usage = int(read(v2 + "/memory.current"))
            values = stat(read(v2 + "/memory.stat"))
            return {"usage": usage, "anon": values.get("anon", 0), "shmem": values.get("shmem", 0),
                    "active_file": values.get("active_file", 0), "inactive_file": values.get("inactive_file", 0),
                    "other": values.get("kernel", values.get("slab", 0))}
        return None

    def latest_metrics(self):
        """The service's latest sample of every branch, by (project, branch)."""
        metrics, _ = self.api("GET", "/api/v1/metrics?minutes=0")
        latest = {}
        for series in metrics.get("series", []):
            if series.get("samples"):
                latest[(series["project"], series["branch"])] = series["samples"][-1]
        return latest

    def create_idle_projects(self):
        before = self.overhead()
        names, urls = [], {}
        for index in range(self.idle_projects):
            name = f"bench-idle-{index + 1}"
            urls[name], _ = self.create_project(name)
            names.append(name)
        self.idle_names, self.idle_urls = names, urls
        after = self.overhead()
        log(f"containers: {len(names)} idle projects created (default settings)")
        return {"count": len(names), "before": before, "after": after}

    def measure_idle(self, scale):
        """Memory of the idle projects' main branches, sampled by the service after ≥ 10 s without
        any client; with podman also each container's cgroup parts and its conmon."""
        info = self.projects.get(scale)
        if info:
            # The loaded project's main does some reading first (its shared_buffers fill up), then idles too.
            self.run([self.tool("pgbench"), "-n", "-S", "-T", "5", "-c", "2", "-j", "2", info["url"]], timeout=300)
        time.sleep(12)
        latest = self.latest_metrics()
        time.sleep(2)  # a second sample: the figure must be stable, not a start-up transient
        again = self.latest_metrics()
        memory, second, connections, statuses = [], [], [], []
        for name in self.idle_names:
            sample = latest.get((name, "main")) or {}
            statuses.append(sample.get("status"))
            if sample.get("memoryBytes") is not None:
                memory.append(sample["memoryBytes"])
                connections.append(sample.get("connections"))
            later = again.get((name, "main")) or {}
            if later.get("memoryBytes") is not None:
                second.append(later["memoryBytes"])
        if not memory:
            raise BenchError(f"the service reported no memory for the idle branches (statuses {statuses})")
        warm = (again.get((f"bench-s{scale}", "main")) or {}).get("memoryBytes")
        result = {"memory": memory, "memory_again": second, "connections": connections, "statuses": statuses,
                  "warm": warm, "overhead": self.overhead(), "runtime": self.runtime_name}
        if self.runtime_name == "podman":
            containers = self.container_pids([f"{CONTAINER_PREFIX}-{name}-main" for name in self.idle_names])
            conmon, parts = [], []
            for pid, conmon_pid in containers.values():
                value = pss_of(conmon_pid)
                if value is not None:
                    conmon.append(value)
                breakdown = self.cgroup_breakdown(pid)
                if breakdown:
                    parts.append(breakdown)
            result["conmon"] = conmon
            result["cgroup"] = {key: statistics.median(part[key] for part in parts) for key in parts[0]} if parts else None
        log(f"containers: idle branch memory with {self.runtime_name}: median {fmt_bytes(statistics.median(memory))} "
            f"over {len(memory)} branches" + (f"; 1 GB project's main {fmt_bytes(warm)}" if warm else ""))
        return result

    def postgres_of(self, names):
        """Running Postgres of these projects' main branches: (count, memory) of containers or processes."""
        count, memory = 0, 0
        containers = self.container_pids([f"{CONTAINER_PREFIX}-{name}-main" for name in names]) if self.runtime_name == "podman" else {}
        for pid, _ in containers.values():
            count += 1
            breakdown = self.cgroup_breakdown(pid)
            memory += (breakdown["usage"] - breakdown["inactive_file"]) if breakdown else 0
        for name in names:
            for pid in find_pids({"postgres", "postmaster"}, mention=f"/projects/{name}/branches/main/pgdata"):
                count += 1
                memory += pss_of(pid) or 0
        return count, memory

    def create_suspended_projects(self):
        """Projects whose main is suspended after 5 s without clients: what each costs when asleep."""
        before = self.overhead()
        names, urls = [], {}
        created_at = time.monotonic()
        for index in range(self.suspend_projects):
            name = f"bench-zero-{index + 1}"
            urls[name], _ = self.create_project(name, {"suspendMainAfterSeconds": 5})
            names.append(name)
        self.zero_names, self.zero_urls = names, urls
        created = time.monotonic() - created_at
        waited = self.wait_status(names, "suspended", timeout=180)
        time.sleep(2)
        after = self.overhead()
        count, memory = self.postgres_of(names)
        latest = self.latest_metrics()
        reported = [latest.get((name, "main"), {}).get("memoryBytes") for name in names]
        per_project = ((after["service"] + after["pgbouncer"]) - (before["service"] + before["pgbouncer"])) / len(names)
        log(f"containers: {len(names)} projects suspended {waited:.1f} s after the last was created; {count} Postgres "
            f"still running ({fmt_bytes(memory)}); service + PgBouncer grew {fmt_bytes(per_project)} per project")
        return {"count": len(names), "before": before, "after": after, "per_project": per_project,
                "postgres_running": count, "postgres_memory": memory, "creating_seconds": created,
                "suspended_after_seconds": waited, "reported_memory": [value for value in reported if value is not None]}

    def bench_resume(self):
        """Client connections to suspended branches through the pooler: psql wall time, and the
        server's own `ready in` from its `resumed` event; a reference psql on running branches."""
        wall, server, causes = [], [], []
        for index in range(self.resumes):
            name = self.zero_names[index % len(self.zero_names)]
            self.wait_status([name], "suspended", timeout=120)
            url = self.with_database(self.zero_urls[name], f"{name}__main")
            elapsed, answer = self.timed_psql(url)
            if answer != "1":
                raise BenchError(f"select 1 through the pooler on suspended {name} answered {answer!r}")
            wall.append(elapsed)
            events, _ = self.api("GET", f"/api/v1/events?project={name}&limit=5")
            resumed = [event for event in events.get("events", []) if event.get("kind") == "resumed"]
            match = re.search(r"ready in (\d+) ms", resumed[0]["detail"]) if resumed else None
            server.append(float(match.group(1)) if match else float("nan"))
            causes.append(resumed[0]["detail"] if resumed else "")
            log(f"  resume {index + 1}/{self.resumes} ({name}): psql {elapsed:.0f} ms, server "
                f"{server[-1]:.0f} ms")
        reference = []
        for name in self.idle_names[:self.resumes]:
            elapsed, answer = self.timed_psql(self.with_database(self.idle_urls[name], f"{name}__main"))
            if answer == "1":
                reference.append(elapsed)
        return {"wall": wall, "server": [value for value in server if not math.isnan(value)], "reference": reference,
                "causes": causes, "runtime": self.runtime_name}

    def bench_containers(self):
        results = self.results.setdefault("containers", {})
        scale = self.scales[0]
        results["scale"] = scale
        try:
            for runtime in ("podman", "process"):
                if runtime == "podman" and not shutil.which("podman"):
                    results[runtime] = {"error": "podman is not installed"}
                    self.errors.append("containers: podman is not installed; only the process runtime was measured")
                    continue
                self.ensure_service("containers", runtime=runtime, metrics_interval="1s")
                entry = results.setdefault(runtime, {})
                entry["runtime"] = self.runtime_name
                info = self.project(scale)
                self.section(f"branch create with {runtime} at scale {scale}", entry, "branch", self.bench_branch_create,
                             info, scale)
                if not hasattr(self, "idle_names"):
                    self.section("idle projects", results, "idle_setup", self.create_idle_projects)
                if hasattr(self, "idle_names"):
                    self.section(f"idle memory with {runtime}", entry, "idle", self.measure_idle, scale)
                if not hasattr(self, "zero_names"):
                    self.section("scale to zero", results, "suspend", self.create_suspended_projects)
                if hasattr(self, "zero_names") and hasattr(self, "idle_names"):
                    self.section(f"resume with {runtime}", entry, "resume", self.bench_resume)
        finally:
            for name in getattr(self, "idle_names", []) + getattr(self, "zero_names", []):
                try:
                    self.api("DELETE", f"/api/v1/projects/{name}?force=true", expect=(200, 404))
                except Exception as error:  # noqa: BLE001
                    log(f"could not delete project {name}: {error}")
        return results

    # ------------------------------------------------------------ point-in-time branches

    def bench_pitr(self):
        name = "bench-pitr"
        url, _ = self.create_project(name)
        main, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main")
        direct, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main/connection")
        port, database = main["port"], direct["database"]
        log(f"pitr: pgbench -i -s {self.pitr_scale} into {name}")
        self.run([self.tool("pgbench"), "-i", "-q", "-s", str(self.pitr_scale), direct["url"]], timeout=3600, stream=True)
        # The hourly snapshot schedule would add snapshots (newer replay sources) in the middle.
        self.api("DELETE", f"/api/v1/projects/{name}/schedules/snapshot", expect=(200, 404))
        self.su_sql(port, "CHECKPOINT")
        snapshot, _ = self.api("POST", f"/api/v1/projects/{name}/snapshots", {"branch": "main"}, expect=(201,))
        start_lsn = self.su_sql(port, "select pg_current_wal_lsn()")
        points = []

        def mark(seconds):
            lsn = self.su_sql(port, "select pg_current_wal_lsn()")
            history = int(self.su_sql(port, "select count(*) from pgbench_history", database=database))
            # Whole seconds (the API's instants have no fraction): the next second boundary is after
            # every commit so far; the next stage starts only after it.
            instant = math.floor(time.time()) + 1
            time.sleep(max(0, instant - time.time()) + 0.3)
            wal = int(self.su_sql(port, f"select pg_wal_lsn_diff('{lsn}', '{start_lsn}')"))
            points.append({"instant": instant, "pgbench_seconds": seconds, "wal_bytes": wal, "history": history})
            log(f"pitr: instant {len(points) - 1} after {seconds} s of pgbench: {fmt_bytes(wal)} of WAL since the snapshot")

        mark(0)
        total = 0
        for seconds in self.pitr_stages:
            self.run([self.tool("pgbench"), "-n", "-T", str(seconds), "-c", "2", "-j", "2", direct["url"]],
                     timeout=seconds + 600)
            total += seconds
            mark(total)
        # Recovery stops at the first commit after the target; without one it would replay to the
        # end, fail to reach the target and start over. A few commits after the last instant:
        self.run([self.tool("pgbench"), "-n", "-t", "20", "-c", "1", direct["url"]], timeout=600)
        segment = self.su_sql(port, "select pg_walfile_name(pg_switch_wal())")
        deadline = time.monotonic() + 1800
        while self.su_sql(port, "select coalesce(last_archived_wal, '') from pg_stat_archiver") < segment:
            if time.monotonic() > deadline:
                raise BenchError(f"WAL segment {segment} was not archived within 30 min")
            time.sleep(0.5)
        for point in points:
            point.update(wall=[], server=[], replay=[], steps=[])
        for run in range(self.pitr_runs):
            for index, point in enumerate(points):
                branch = f"bench-pitr-{index}-{run + 1}"
                at = datetime.datetime.fromtimestamp(point["instant"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                result, elapsed = self.api("POST", f"/api/v1/projects/{name}/branches",
                                           {"name": branch, "from": "main", "at": at}, expect=(201,), timeout=4 * 3600)
                connection, _ = self.api("GET", f"/api/v1/projects/{name}/branches/{branch}/connection")
                history = int(self.url_sql(connection["url"], "select count(*) from pgbench_history"))
                if history != point["history"]:
                    raise BenchError(f"point-in-time branch at {at} holds {history} pgbench_history rows, expected {point['history']}")
                steps = result["operation"]["steps"]
                point["wall"].append(elapsed)
                point["server"].append(result["operation"]["durationMs"])
                point["replay"].append(sum(step["ms"] for step in steps if step["name"].startswith("replay")))
                point["steps"].append(steps)
                self.api("DELETE", f"/api/v1/projects/{name}/branches/{branch}")
                log(f"  point-in-time branch at instant {index} ({fmt_bytes(point['wal_bytes'])} of WAL): "
                    f"{fmt_ms(elapsed)}, replay {fmt_ms(point['replay'][-1])}")
        self.api("DELETE", f"/api/v1/projects/{name}?force=true", expect=(200, 404))
        return {"scale": self.pitr_scale, "stages": list(self.pitr_stages), "points": points, "snapshot": snapshot["snapshot"]["id"],
                "runtime": self.runtime_name, "wall": [value for point in points for value in point["wall"]]}

    # ------------------------------------------------------------ row-level diff and merge

    @staticmethod
    def diff_settings():
        """RowDiffSettings' defaults as Sources/BranchDiff/RowDiff.swift has them (for the document)."""
        found = dict(DIFF_SETTINGS)
        try:
            with open(os.path.join(REPO, "Sources", "BranchDiff", "RowDiff.swift")) as handle:
                text = handle.read()
        except OSError:
            return found
        for name in list(found) + ["tupleLimit"]:  # tupleLimit: builds that compare heap tuples first
            match = re.search(r"\bvar " + name + r"\s*=\s*([\d_]+)", text)
            if match:
                found[name] = int(match.group(1).replace("_", ""))
        return found

    def service_peak(self):
        """A PeakSampler on the service alone, every 20 ms; its high-water mark is reset first
        (`peak_of` takes the larger of both)."""
        pid = self.service.pid
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as handle:
                handle.write("5")  # resets VmHWM
        except OSError:
            pass
        return PeakSampler(lambda: [pid], interval=DIFF_SAMPLE_INTERVAL)

    def peak_of(self, sampler, baseline):
        hwm = status_kb(self.service.pid, "VmHWM") or 0
        return {"peak": max(sampler.peak, hwm) - baseline, "peak_sampled": sampler.peak - baseline,
                "peak_hwm": hwm - baseline, "baseline": baseline, "samples": sampler.samples}

    def update_accounts(self, url, aids, label):
        """`UPDATE pgbench_accounts SET abalance = abalance + 1` of the given (distinct) aids, through
        a file (the list is too long for a command line); checks the count, returns the ms taken."""
        if not aids:
            return 0.0
        path = os.path.join(self.dir, f"{label}.sql")
        with open(path, "w") as handle:
            handle.write("WITH changed AS (UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = ANY('{"
                         + ",".join(map(str, aids)) + "}'::integer[]) RETURNING 1) SELECT count(*) FROM changed;\n")
        started = time.perf_counter()
        try:
            result = self.run([self.tool("psql"), url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-f", path],
                              timeout=3600)
        finally:
            os.remove(path)
        elapsed = (time.perf_counter() - started) * 1000
        updated = int(result.stdout.strip() or "0")
        if updated != len(aids):
            raise BenchError(f"{label}: the UPDATE changed {updated} rows, expected {len(aids)}")
        return elapsed

    def diff_request(self, project, body, timeout=3600):
        """`POST …/diff`, its NDJSON stream read to the end (read1, up to 1 MiB; the row lines are counted,
        the others parsed); the service's memory sampled meanwhile."""
        data = json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}/api/v1/projects/{project}/diff", data=data, method="POST")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/x-ndjson")
        baseline = status_kb(self.service.pid, "VmRSS") or 0
        rchar_before = io_field(self.service.pid, "rchar")
        lines, rows, received, first_byte = 0, 0, 0, None
        others = []
        with self.service_peak() as sampler:
            started = time.perf_counter()
            try:
                with self.opener.open(request, timeout=timeout) as response:
                    rest = b""
                    while True:
                        chunk = response.read1(1 << 20)  # what has arrived, up to 1 MiB
                        if not chunk:
                            break
                        if first_byte is None:
                            first_byte = (time.perf_counter() - started) * 1000
                        received += len(chunk)
                        parts = (rest + chunk).split(b"\n")
                        rest = parts.pop()
                        for line in parts:
                            if not line:
                                continue
                            lines += 1
                            if b'"type":"row"' in line:
                                rows += 1
                            else:
                                others.append(line)
                    if rest.strip():
                        lines += 1
                        others.append(rest)
            except urllib.error.HTTPError as error:
                raise BenchError(f"POST …/diff {json.dumps(body)} answered {error.code}: {error.read()[:800].decode(errors='replace')}")
            wall = (time.perf_counter() - started) * 1000
        rchar_after = io_field(self.service.pid, "rchar")
        parsed = []
        for line in others:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                raise BenchError(f"POST …/diff sent a line that is not JSON: {line[:300]!r}")
        errors = [entry for entry in parsed if entry.get("type") == "error"]
        if errors:
            raise BenchError(f"POST …/diff {json.dumps(body)} failed while streaming: {errors[0].get('error')}")
        if not parsed or parsed[-1].get("type") != "end":
            raise BenchError(f"POST …/diff {json.dumps(body)}: the stream ended without an `end` line")
        end = parsed[-1]["end"]
        run = {"wall": wall, "first_byte": first_byte, "server": end.get("durationMs"), "bytes_first": end.get("bytesFromFirst"),
               "bytes_second": end.get("bytesFromSecond"), "rows_changed": end.get("rowsChanged"),
               "rows_added": end.get("rowsAdded"), "rows_removed": end.get("rowsRemoved"), "schema_changes": end.get("schemaChanges"),
               "response_bytes": received, "lines": lines, "row_lines": rows,
               "service_read": rchar_after - rchar_before if rchar_before is not None and rchar_after is not None else None,
               "tables": [entry["table"] for entry in parsed if entry.get("type") == "table"]}
        run.update(self.peak_of(sampler, baseline))
        return run

    def check_diff(self, run, expected, what):
        """rowsChanged must be the rows changed, nothing added or removed, no schema change, and a row
        line per change unless it is a summary."""
        problems = []
        if run["rows_changed"] != expected:
            problems.append(f"rowsChanged {run['rows_changed']}, expected {expected}")
        if run["rows_added"] or run["rows_removed"]:
            problems.append(f"rowsAdded {run['rows_added']}, rowsRemoved {run['rows_removed']}, expected 0")
        if run["schema_changes"]:
            problems.append(f"{run['schema_changes']} schema change(s), expected none")
        if not run.get("summary") and run["row_lines"] != expected:
            problems.append(f"{run['row_lines']} row lines, expected {expected}")
        if problems:
            run["problems"] = problems
            message = f"diff, {what}: " + "; ".join(problems)
            log("FAILED " + message)
            self.errors.append(message)

    def naive_compare(self, first_url, second_url):
        """Both tables out with `COPY (… ORDER BY aid) TO STDOUT` through psql at once, read here in
        parallel line by line and compared; the psql clients' RSS plus the comparer's growth sampled."""
        sql = "COPY (SELECT * FROM pgbench_accounts ORDER BY aid) TO STDOUT"
        processes, readers, errors = [], [], []
        own = os.getpid()
        own_before = status_kb(own, "VmRSS") or 0
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        differing = lines = 0
        try:
            started = time.perf_counter()
            for index, url in enumerate((first_url, second_url)):
                error_log = open(os.path.join(self.dir, f"naive-{index}.err"), "w+b")
                errors.append(error_log)
                process = subprocess.Popen(
                    [self.tool("psql"), url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=error_log, cwd="/", env=self.environment(), bufsize=0)
                processes.append(process)
                readers.append(io.BufferedReader(CountingPipe(process.stdout.fileno()), buffer_size=1 << 20))
            pids = [process.pid for process in processes] + [own]
            with PeakSampler(lambda: pids, interval=DIFF_SAMPLE_INTERVAL) as sampler:
                for lines, (left, right) in enumerate(itertools.zip_longest(readers[0], readers[1]), 1):
                    if left != right:
                        differing += 1
                codes = [process.wait(timeout=600) for process in processes]
            wall = (time.perf_counter() - started) * 1000
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            for code, error_log in zip(codes, errors):
                if code != 0:
                    error_log.seek(0)
                    raise BenchError(f"psql COPY failed ({code}): {error_log.read()[-800:].decode(errors='replace')}")
            received = [reader.raw.count for reader in readers]
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                process.wait()
            for reader in readers:
                reader.close()
            for process in processes:
                process.stdout.close()
            for error_log in errors:
                error_log.close()
                os.remove(error_log.name)
        return {"wall": wall, "lines": lines, "differing": differing, "bytes_first": received[0], "bytes_second": received[1],
                "peak": sampler.peak - own_before, "own_before": own_before, "samples": sampler.samples,
                "cpu": ((cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)) * 1000}

    def diff_attempt(self, label, function, *args):
        """One measurement of the diff part: a failure is logged (with the service log's tail: the bench
        directory is deleted at the end) and recorded, and the next measurement still runs."""
        try:
            return function(*args)
        except Exception as error:  # noqa: BLE001 - reported in the document and the exit status
            message = f"diff, {label}: {error}"
            log("FAILED " + message)
            log("service log, last lines:\n" + self.log_tail(20))
            self.errors.append(message)
            if not self.service or self.service.poll() is not None:
                raise BenchError(f"branch serve died during the diff part ({label}):\n{self.log_tail()}")
            return {"error": str(error)}

    def diff_repeated(self, label, measure):
        """`measure(run)` BENCH_DIFF_RUNS times, or once when the first run took longer than
        DIFF_SLOW_MS; stops at the first failure (kept as a run with an `error`)."""
        runs = []
        for run in range(self.diff_runs):
            outcome = self.diff_attempt(f"{label}, run {run + 1}", measure, run)
            runs.append(outcome)
            if "error" in outcome:
                break
            if outcome["wall"] > DIFF_SLOW_MS and run + 1 < self.diff_runs:
                log(f"  {label}: the first run took {fmt_ms(outcome['wall'])}; no further runs")
                break
        return runs

    def bench_diff(self):
        result = self.results["diff"] = {
            "scale": self.diff_scale, "runs": self.diff_runs, "settings": self.diff_settings(), "stages": [], "merges": [],
            "runtime": self.runtime_name}
        name = "bench-diff"
        scale = self.diff_scale
        try:
            # Scale to zero off: a diff keeps its sides awake, but between stages (loading, updating,
            # the naive comparison over direct URLs) a branch must not be suspended and resumed.
            self.create_project(name, {"suspendAfterSeconds": 0, "suspendMainAfterSeconds": 0})
            main, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main")
            direct, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main/connection")
            port, database, main_url = main["port"], direct["database"], direct["url"]
            # The hourly snapshot schedule would take snapshots in the middle of the measurements.
            self.api("DELETE", f"/api/v1/projects/{name}/schedules/snapshot", expect=(200, 404))
            log(f"diff: pgbench -i -s {scale} into {name} (this takes a while)")
            started = time.perf_counter()
            self.run([self.tool("pgbench"), "-i", "-q", "-s", str(scale), main_url], timeout=6 * 3600, stream=True)
            result["load_seconds"] = time.perf_counter() - started
            self.su_sql(port, "CHECKPOINT", timeout=3600)
            sizes = self.su_sql(port, f"select pg_database_size('{database}'), pg_total_relation_size('pgbench_accounts'), "
                                "(select count(*) from pgbench_accounts)", database=database, timeout=3600).split("|")
            result.update(database_bytes=int(sizes[0]), table_bytes=int(sizes[1]), rows=int(sizes[2]))
            rows = result["rows"]
            if rows != scale * 100000:
                raise BenchError(f"pgbench_accounts holds {rows} rows, expected {scale * 100000}")
            log(f"diff: loaded {fmt_bytes(result['database_bytes'])} ({rows:,} accounts) in {result['load_seconds']:.0f} s")

            created, elapsed = self.api("POST", f"/api/v1/projects/{name}/branches", {"name": "b", "from": "main"},
                                        expect=(201,), timeout=900)
            branch, _ = self.api("GET", f"/api/v1/projects/{name}/branches/b")
            connection, _ = self.api("GET", f"/api/v1/projects/{name}/branches/b/connection")
            b_port, b_url = branch["port"], connection["url"]
            log(f"diff: branch b created in {fmt_ms(elapsed)}")
            # Both sides' heap and primary key read once, so neither method pays for a cold cache.
            started = time.perf_counter()
            for url in (main_url, b_url):
                self.run([self.tool("psql"), url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                          "select sum(abalance) from pgbench_accounts",
                          "-c", "select count(*) from (select aid from pgbench_accounts order by aid) s"], timeout=3600)
            result["warmup_ms"] = (time.perf_counter() - started) * 1000
            log(f"diff: warm-up reads of both sides in {fmt_ms(result['warmup_ms'])}")

            stages = sorted({min(count, rows) for count in DIFF_STAGES})
            # Distinct aids in random order (seeded), spread over the whole table; each stage adds the next ones.
            order = random.Random(f"bench-diff-{scale}").sample(range(1, rows + 1), stages[-1])
            changed = 0
            for count in stages:
                stage = {"changes": count}
                if count > changed:
                    stage["update_ms"] = self.update_accounts(b_url, order[changed:count], f"diff-update-{count}")
                    changed = count
                    self.su_sql(b_port, "CHECKPOINT", timeout=3600)
                    log(f"diff: {count:,} rows of b changed in all (update {fmt_ms(stage['update_ms'])}, with CHECKPOINT after)")
                result["stages"].append(stage)

                def full(run, count=count):
                    outcome = self.diff_request(name, {"from": "main", "to": "b"})
                    self.check_diff(outcome, count, f"{count} changed rows, run {run + 1}")
                    log(f"  Branch diff {run + 1}/{self.diff_runs} ({count:,} changed): {fmt_ms(outcome['wall'])} "
                        f"(server {fmt_ms(outcome['server'])}), rowsChanged {outcome['rows_changed']}, "
                        f"{fmt_bytes(outcome['bytes_first'])} from main, {fmt_bytes(outcome['bytes_second'])} from b, "
                        f"peak +{fmt_bytes(outcome['peak'])}")
                    return outcome

                def summary(run, count=count):
                    outcome = self.diff_request(name, {"from": "main", "to": "b", "summary": True})
                    outcome["summary"] = True
                    self.check_diff(outcome, count, f"{count} changed rows, summary, run {run + 1}")
                    log(f"  Branch diff summary {run + 1}/{self.diff_runs}: {fmt_ms(outcome['wall'])} "
                        f"(server {fmt_ms(outcome['server'])}), rowsChanged {outcome['rows_changed']}, "
                        f"peak +{fmt_bytes(outcome['peak'])}")
                    return outcome

                runs = self.diff_repeated(f"{count} changed rows", full)
                stage["branch"] = [run for run in runs if "error" not in run]
                if len(stage["branch"]) < len(runs):
                    stage["error"] = runs[-1]["error"]
                if count == stages[-1]:
                    runs = self.diff_repeated(f"{count} changed rows, summary", summary)
                    stage["summary"] = [run for run in runs if "error" not in run]
                    if len(stage["summary"]) < len(runs):
                        stage["summary_error"] = runs[-1]["error"]
                naive = self.diff_attempt(f"{count} changed rows, naive comparison", self.naive_compare, main_url, b_url)
                stage["naive"] = naive
                if "error" in naive:
                    continue
                if naive["differing"] != count or naive["lines"] != rows:
                    message = (f"diff, {count} changed rows: the naive comparison found {naive['differing']} differing "
                               f"lines of {naive['lines']}, expected {count} of {rows}")
                    naive["problems"] = [message]
                    log("FAILED " + message)
                    self.errors.append(message)
                log(f"  naive COPY + compare ({count:,} changed): {fmt_ms(naive['wall'])}, {naive['differing']:,} differing "
                    f"lines, {fmt_bytes(naive['bytes_first'])} + {fmt_bytes(naive['bytes_second'])}, "
                    f"peak {fmt_bytes(naive['peak'])}")

            # Merges: a branch from main with MERGE_ROWS rows changed, merged back; disjoint rows each time.
            per_merge = min(MERGE_ROWS, rows // self.diff_merges)
            aids = random.Random(f"bench-merge-{scale}").sample(range(1, rows + 1), per_merge * self.diff_merges)
            for index in range(self.diff_merges):
                entry = self.diff_attempt(f"merge {index + 1}", self.bench_merge, name, main_url, index, per_merge,
                                          aids[index * per_merge:(index + 1) * per_merge])
                if "error" in entry:
                    result["merge_error"] = entry["error"]
                    break
                result["merges"].append(entry)
                if entry["wall"] > DIFF_SLOW_MS and index + 1 < self.diff_merges:
                    log(f"  merge: the first took {fmt_ms(entry['wall'])}; no further merges")
                    break
        finally:
            try:
                self.api("DELETE", f"/api/v1/projects/{name}?force=true", expect=(200, 404), timeout=900)
            except Exception as error:  # noqa: BLE001
                log(f"could not delete project {name}: {error}")
        return result

    def bench_merge(self, name, main_url, index, per_merge, aids):
        """Branch `m` (`m-2`, …) from main, `aids` updated on it, merged into main; checked."""
        source = "m" if index == 0 else f"m-{index + 1}"
        self.api("POST", f"/api/v1/projects/{name}/branches", {"name": source, "from": "main"}, expect=(201,), timeout=900)
        source_connection, _ = self.api("GET", f"/api/v1/projects/{name}/branches/{source}/connection")
        update_ms = self.update_accounts(source_connection["url"], aids, f"merge-update-{index + 1}")
        baseline = status_kb(self.service.pid, "VmRSS") or 0
        with self.service_peak() as sampler:
            merged, wall = self.api("POST", f"/api/v1/projects/{name}/merge", {"source": source, "into": "main"}, timeout=3600)
        plans = merged.get("tables") or []
        accounts = [plan for plan in plans if plan["table"].replace('"', "").endswith("pgbench_accounts")]
        others = [plan for plan in plans if plan not in accounts
                  and (plan["inserts"] or plan["updates"] or plan["deletes"] or plan["conflicts"])]
        operation = merged.get("operation") or {}
        entry = {"source": source, "rows": per_merge, "update_ms": update_ms, "wall": wall, "server": operation.get("durationMs"),
                 "steps": operation.get("steps") or [], "applied": merged.get("applied"),
                 "plan": accounts[0] if accounts else None, "conflicts": len(merged.get("conflicts") or []),
                 "undo": merged.get("undoSnapshot")}
        entry.update(self.peak_of(sampler, baseline))
        problems = []
        if merged.get("applied") is not True:
            problems.append(f"applied is {merged.get('applied')!r}")
        plan = entry["plan"]
        if not plan or plan["updates"] != per_merge or plan["inserts"] or plan["deletes"] or plan["conflicts"]:
            problems.append(f"the plan for pgbench_accounts is {plan}, expected {per_merge} updates and nothing else")
        if others or entry["conflicts"]:
            problems.append(f"other changes in the plan: {others}, {entry['conflicts']} conflict(s)")
        if not problems:
            # Untimed: main now holds every merged change (pgbench -i leaves abalance 0; only merges change main).
            moved = int(self.url_sql(main_url, "select count(*) from pgbench_accounts where abalance <> 0"))
            if moved != per_merge * (index + 1):
                problems.append(f"main has {moved} changed accounts after the merge, expected {per_merge * (index + 1)}")
        if problems:
            entry["problems"] = problems
            message = f"merge {index + 1}: " + "; ".join(problems)
            log("FAILED " + message)
            self.errors.append(message)
        log(f"  merge {index + 1}/{self.diff_merges} ({per_merge:,} rows): {fmt_ms(wall)} (server {fmt_ms(entry['server'])}), "
            f"applied {entry['applied']}, plan {plan}, peak +{fmt_bytes(entry['peak'])}")
        return entry

    # ------------------------------------------------------------ backups: Branch, pgBackRest, pg_basebackup | zstd

    def branch_pids(self):
        pid = self.service.pid
        return [pid] + find_pids({"btrfs"}, parent=pid)

    def memory_guard(self, what):
        """For a PeakSampler: when the machine runs low on memory during one of Branch's backups (its
        stream is read faster than it is compressed, and what is read waits in memory), the btrfs
        process feeding it is stopped so the job fails instead of the machine (it is shared)."""
        total = (self.machine_info or {}).get("memory") or 0
        floor = max(2 * GIB, total // 10)

        def check(_rss):
            available = mem_available()
            if available is not None and available < floor and not self.memory_aborted:
                self.memory_aborted = (f"{what} stopped: only {fmt_bytes(available)} of memory left on the machine "
                                       f"(service RSS {fmt_bytes(status_kb(self.service.pid, 'VmRSS'))})")
                log("WARNING: " + self.memory_aborted)
                for pid in find_pids({"btrfs"}, parent=self.service.pid):
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except OSError:
                        pass
        self.memory_aborted = None
        return check

    def branch_backup(self, project):
        """One `POST …/backups` job, timed until the job reports done; peak RSS of the service (its
        high-water mark, reset first) and of its btrfs children, above the RSS right before."""
        pid = self.service.pid
        baseline = status_kb(pid, "VmRSS") or 0
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as handle:
                handle.write("5")  # resets VmHWM
        except OSError:
            pass
        self.cold_cache()
        started = time.perf_counter()
        with PeakSampler(self.branch_pids, guard=self.memory_guard("the backup")) as sampler:
            job, _ = self.api("POST", f"/api/v1/projects/{project}/backups", {"branch": "main"}, expect=(202,))
            job = self.wait_job(job["id"])
        wall = (time.perf_counter() - started) * 1000
        if self.memory_aborted:
            raise BenchError(f"{self.memory_aborted}; the service's RSS grew by {fmt_bytes(sampler.peak - baseline)}")
        if job.get("status") != "succeeded" or not job.get("backup"):
            raise BenchError(f"backup job {job.get('id')} {job.get('status')}: {job.get('errorMessage')}")
        backup = job["backup"]
        peak = max(sampler.peak, status_kb(pid, "VmHWM") or 0)
        return {"wall": wall, "server": job.get("durationMs"), "raw": backup["rawBytes"], "stored": backup["storedBytes"],
                "id": backup["id"], "kind": backup["kind"], "peak": peak - baseline, "baseline": baseline}

    def branch_restore(self, backup_id, project, name, scale):
        pid = self.service.pid
        baseline = status_kb(pid, "VmRSS") or 0
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            pass
        self.cold_cache()
        started = time.perf_counter()
        with PeakSampler(self.branch_pids, guard=self.memory_guard("the restore")) as sampler:
            job, _ = self.api("POST", f"/api/v1/backups/{backup_id}/restore", {"as": name, "project": project}, expect=(202,))
            job = self.wait_job(job["id"])
        wall = (time.perf_counter() - started) * 1000
        if self.memory_aborted:
            raise BenchError(f"{self.memory_aborted}; the service's RSS grew by {fmt_bytes(sampler.peak - baseline)}")
        if job.get("status") != "succeeded":
            raise BenchError(f"restore job {job.get('id')} {job.get('status')}: {job.get('errorMessage')}")
        peak = max(sampler.peak, status_kb(pid, "VmHWM") or 0)
        connection, _ = self.api("GET", f"/api/v1/projects/{project}/branches/{name}/connection")
        count = self.url_sql(connection["url"], "select count(*) from pgbench_branches")
        self.api("DELETE", f"/api/v1/projects/{project}/branches/{name}")
        if count != str(scale):
            raise BenchError(f"the restored branch answered {count!r} for count(*) of pgbench_branches, expected {scale}")
        return {"wall": wall, "server": job.get("durationMs"), "bytes": job.get("bytesDone"), "peak": peak - baseline,
                "baseline": baseline}

    @staticmethod
    def cold_cache():
        """Every backup and restore starts from a cold page cache: a Btrfs snapshot's files do not
        share the page cache of the files they were taken from, so Branch's `btrfs send` reads from
        disk, while with a warm cache the others would read the live files from memory."""
        os.sync()
        try:
            with open("/proc/sys/vm/drop_caches", "w") as handle:
                handle.write("3\n")
        except OSError as error:
            log(f"  could not drop the page cache: {error}")

    def bench_branch_backups(self, info, scale, runs):
        project = info["name"]
        backups, restores = [], []
        for index in range(runs):
            backup = self.branch_backup(project)
            if backup["kind"] != "full":
                raise BenchError(f"backup {backup['id']} is {backup['kind']}, expected a full backup")
            backups.append(backup)
            log(f"  Branch backup {index + 1}/{runs}: {fmt_ms(backup['wall'])}, raw {fmt_bytes(backup['raw'])}, stored "
                f"{fmt_bytes(backup['stored'])}, peak +{fmt_bytes(backup['peak'])}")
            restore = self.branch_restore(backup["id"], project, f"bench-restore-{index + 1}", scale)
            restores.append(restore)
            log(f"  Branch restore {index + 1}/{runs}: {fmt_ms(restore['wall'])}, peak +{fmt_bytes(restore['peak'])}")
            if index < runs - 1:
                self.api("DELETE", f"/api/v1/backups/{backup['id']}")  # the next one is full again
        return {"backup": backups, "restore": restores, "wall": [b["wall"] for b in backups]}

    def pgbackrest_config(self, info, scale):
        """pgBackRest's configuration in the bench directory: one repository, a stanza per size."""
        if not shutil.which("pgbackrest"):
            raise BenchError("pgbackrest is not installed (scripts/bench.sh installs the Debian package)")
        postgres = pwd.getpwnam("postgres")
        for sub in ("", "repo", "log", "lock", "spool"):
            path = os.path.join(self.pgbackrest_dir, sub)
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
        if not hasattr(self, "pgbackrest_stanzas"):
            self.pgbackrest_stanzas = {}
            self.pgbackrest_pass = secrets.token_urlsafe(32)
        stanza = f"bench-s{scale}"
        self.pgbackrest_stanzas[stanza] = info
        lines = [
            "# Written by scripts/bench.py; removed with the bench directory.",
            "[global]",
            f"repo1-path={self.pgbackrest_dir}/repo",
            "repo1-cipher-type=aes-256-cbc",
            f"repo1-cipher-pass={self.pgbackrest_pass}",
            "repo1-retention-full=100",
            "compress-type=zst",
            "compress-level=3",
            "process-max=1",
            f"log-path={self.pgbackrest_dir}/log",
            f"lock-path={self.pgbackrest_dir}/lock",
            f"spool-path={self.pgbackrest_dir}/spool",
            "log-level-console=warn",
            "log-level-file=off",
            "archive-check=n",
            "archive-copy=n",
            "start-fast=y",
            "",
        ]
        for name, project in self.pgbackrest_stanzas.items():
            lines += [f"[{name}]",
                      f"pg1-path={self.pool}/projects/{project['name']}/branches/main/pgdata",
                      f"pg1-socket-path={self.socket_for(project['port'])}",
                      f"pg1-port={project['port']}",
                      "pg1-user=postgres", ""]
        self.pgbackrest_conf = os.path.join(self.pgbackrest_dir, "pgbackrest.conf")
        descriptor = os.open(self.pgbackrest_conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("\n".join(lines))
        os.chown(self.pgbackrest_conf, postgres.pw_uid, postgres.pw_gid)
        self.pgbackrest(stanza, "stanza-create")
        return stanza

    def pgbackrest(self, stanza, *args, timeout=4 * 3600):
        return self.run(["pgbackrest", f"--config={self.pgbackrest_conf}", f"--stanza={stanza}"] + list(args),
                        as_postgres=True, timeout=timeout)

    def pgbackrest_last(self, stanza):
        info = json.loads(self.pgbackrest(stanza, "info", "--output=json").stdout)
        backups = info[0]["backup"]
        return backups[-1]

    def pgbackrest_backup(self, stanza, kind):
        self.cold_cache()
        started = time.perf_counter()
        with PeakSampler(lambda: find_pids({"pgbackrest"}, mention=self.pgbackrest_dir)) as sampler:
            self.pgbackrest(stanza, "backup", f"--type={kind}")
        wall = (time.perf_counter() - started) * 1000
        last = self.pgbackrest_last(stanza)
        return {"wall": wall, "label": last["label"], "kind": last["type"], "size": last["info"]["size"],
                "delta": last["info"]["delta"], "stored": last["info"]["repository"]["delta"], "peak": sampler.peak}

    def bench_pgbackrest(self, info, scale, runs):
        stanza = self.pgbackrest_config(info, scale)
        self.prepare_copy_dirs()
        backups, restores = [], []
        for index in range(runs):
            backup = self.pgbackrest_backup(stanza, "full")
            backups.append(backup)
            log(f"  pgBackRest backup {index + 1}/{runs}: {fmt_ms(backup['wall'])}, stored {fmt_bytes(backup['stored'])}, "
                f"peak {fmt_bytes(backup['peak'])}")
            target = os.path.join(self.copies_dir, f"pgbackrest-s{scale}")
            shutil.rmtree(target, ignore_errors=True)
            self.cold_cache()
            started = time.perf_counter()
            with PeakSampler(lambda: find_pids({"pgbackrest"}, mention=self.pgbackrest_dir)) as sampler:
                self.pgbackrest(stanza, "restore", f"--pg1-path={target}", f"--set={backup['label']}")
            wall = (time.perf_counter() - started) * 1000
            if not os.path.exists(os.path.join(target, "PG_VERSION")):
                raise BenchError(f"pgBackRest restored no cluster into {target}")
            shutil.rmtree(target, ignore_errors=True)
            restores.append({"wall": wall, "peak": sampler.peak})
            log(f"  pgBackRest restore {index + 1}/{runs}: {fmt_ms(wall)}, peak {fmt_bytes(sampler.peak)}")
        return {"stanza": stanza, "backup": backups, "restore": restores, "wall": [b["wall"] for b in backups]}

    def bench_basebackup_zstd(self, info, scale, runs):
        """`pg_basebackup -Ft -X fetch -D - | zstd -3 -T1` into a file; restore: `zstd -d | tar -x`
        into a directory on the pool, then `sync -f` (the others' restores are durable too)."""
        os.makedirs(self.basebackup_dir, mode=0o700, exist_ok=True)
        self.prepare_copy_dirs()
        self.allow_replication(info)
        backups, restores = [], []
        try:
            for index in range(runs):
                archive = os.path.join(self.basebackup_dir, f"s{scale}.tar.zst")
                mention = self.dir
                self.cold_cache()
                started = time.perf_counter()
                with PeakSampler(lambda: find_pids({"pg_basebackup", "zstd"}, mention=mention)) as sampler:
                    self.pipeline(
                        ["runuser", "-u", "postgres", "--", self.tool("pg_basebackup"), "-h", self.socket_for(info["port"]),
                         "-p", str(info["port"]), "-U", "postgres", "-D", "-", "-Ft", "-X", "fetch", "-c", "fast"],
                        ["zstd", "-3", "-T1", "-q", "-f", "-o", archive])
                wall = (time.perf_counter() - started) * 1000
                backups.append({"wall": wall, "stored": os.path.getsize(archive), "peak": sampler.peak})
                log(f"  pg_basebackup | zstd {index + 1}/{runs}: {fmt_ms(wall)}, {fmt_bytes(backups[-1]['stored'])}, "
                    f"peak {fmt_bytes(sampler.peak)}")
                target = os.path.join(self.copies_dir, f"basebackup-s{scale}")
                shutil.rmtree(target, ignore_errors=True)
                os.makedirs(target, mode=0o700)
                self.cold_cache()
                started = time.perf_counter()
                with PeakSampler(lambda: find_pids({"zstd", "tar"}, mention=mention)) as sampler:
                    self.pipeline(["zstd", "-d", "-c", "-q", archive], ["tar", "-x", "-C", target])
                    self.run(["sync", "-f", target])
                wall = (time.perf_counter() - started) * 1000
                if not os.path.exists(os.path.join(target, "PG_VERSION")):
                    raise BenchError(f"the base backup restored no cluster into {target}")
                shutil.rmtree(target, ignore_errors=True)
                os.remove(archive)
                restores.append({"wall": wall, "peak": sampler.peak})
                log(f"  zstd -d | tar -x {index + 1}/{runs}: {fmt_ms(wall)}")
        finally:
            self.restore_hba()
        return {"backup": backups, "restore": restores, "wall": [b["wall"] for b in backups]}

    def bench_incremental(self, info, scale, stanza):
        """Changes 1% of pgbench_accounts' rows (spread: every 100th; then contiguous: the first 1%),
        CHECKPOINT, and takes an incremental backup with Branch and with pgBackRest after each."""
        port, database, project = info["port"], info["database"], info["name"]
        pages, tuples = self.su_sql(
            port, "select relpages, reltuples::bigint from pg_class where relname = 'pgbench_accounts'", database=database).split("|")
        pages, tuples = int(pages), int(tuples)
        per_page = tuples / pages if pages else 1
        rows = scale * 100000
        changes = []
        for label, condition, page_share in (
                ("spread", "aid % 100 = 0", min(1.0, per_page / 100)),
                ("contiguous", f"aid <= {rows // 100}", (rows // 100) / tuples if tuples else 0.01)):
            before = self.su_sql(port, "select pg_current_wal_lsn()")
            started = time.perf_counter()
            updated = int(self.su_sql(
                port, f"with changed as (UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE {condition} RETURNING 1) "
                "select count(*) from changed", database=database, timeout=4 * 3600))
            self.su_sql(port, "CHECKPOINT", timeout=3600)
            update_ms = (time.perf_counter() - started) * 1000
            wal = int(self.su_sql(port, f"select pg_wal_lsn_diff(pg_current_wal_lsn(), '{before}')"))
            change = {"label": label, "condition": condition, "rows": updated, "page_share": page_share, "wal": wal,
                      "update_ms": update_ms}
            log(f"  {label} 1% change: {updated} rows in {fmt_ms(update_ms)} (with CHECKPOINT), {fmt_bytes(wal)} of WAL")
            try:
                change["branch"] = self.branch_backup(project)
                log(f"    Branch {change['branch']['kind']}: stored {fmt_bytes(change['branch']['stored'])} "
                    f"(raw {fmt_bytes(change['branch']['raw'])}) in {fmt_ms(change['branch']['wall'])}")
            except Exception as error:  # noqa: BLE001
                change["branch"] = {"error": str(error)}
                self.errors.append(f"Branch incremental backup ({label}) at scale {scale}: {error}")
            if stanza:
                try:
                    change["pgbackrest"] = self.pgbackrest_backup(stanza, "incr")
                    log(f"    pgBackRest incr: stored {fmt_bytes(change['pgbackrest']['stored'])} in "
                        f"{fmt_ms(change['pgbackrest']['wall'])}")
                except Exception as error:  # noqa: BLE001
                    change["pgbackrest"] = {"error": str(error)}
                    self.errors.append(f"pgBackRest incremental backup ({label}) at scale {scale}: {error}")
            changes.append(change)
        return {"changes": changes, "pages": pages, "tuples": tuples}

    def bench_backups(self, scale):
        entry = self.results["scales"].setdefault(scale, {"scale": scale})
        backup = entry.setdefault("backup", {})
        try:
            info = self.project(scale)
            large = scale * BYTES_PER_SCALE >= LARGE_BYTES
            runs = self.backup_runs_large if large else self.backup_runs
            backup.update(runs=runs, large=large, database_bytes=info["database_bytes"])
            log(f"scale {scale}: backups and restores, {runs} run(s) each")
            self.su_sql(info["port"], "CHECKPOINT")
            self.section(f"Branch backup at scale {scale}", backup, "branch", self.bench_branch_backups, info, scale, runs)
            self.section(f"pgBackRest at scale {scale}", backup, "pgbackrest", self.bench_pgbackrest, info, scale, runs)
            self.section(f"pg_basebackup | zstd at scale {scale}", backup, "basebackup_zstd", self.bench_basebackup_zstd,
                         info, scale, runs)
            stanza = backup.get("pgbackrest", {}).get("stanza")
            self.section(f"incremental backups at scale {scale}", backup, "incremental", self.bench_incremental, info, scale,
                         stanza)
        except Exception as error:  # noqa: BLE001 - the next size still runs
            message = f"backups at scale {scale}: {error}"
            log("FAILED " + message)
            self.errors.append(message)
            if self.service and self.service.poll() is not None:
                raise BenchError(f"branch serve died during the backups at scale {scale}:\n{self.log_tail()}")
        finally:
            self.drop_project(scale)

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

    def project(self, scale):
        """The project loaded at `scale`, loaded now if no earlier part did."""
        if scale not in self.projects:
            entry = self.results["scales"].setdefault(scale, {"scale": scale})
            info = self.load_project(scale)
            entry["data"] = {key: info[key] for key in ("database_bytes", "load_seconds")}
            self.projects[scale] = info
        return self.projects[scale]

    def drop_project(self, scale):
        """Frees the space of a loaded project (the project may not exist if its creation failed)."""
        self.projects.pop(scale, None)
        try:
            self.api("DELETE", f"/api/v1/projects/bench-s{scale}?force=true", expect=(200, 404))
        except Exception as error:  # noqa: BLE001
            log(f"could not delete project bench-s{scale}: {error}")

    def bench_scale(self, scale):
        entry = self.results["scales"].setdefault(scale, {"scale": scale})
        try:
            info = self.project(scale)
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
            # Later parts use the loaded data; without them, free the space before the next size.
            needed = "backup" in self.parts or ("containers" in self.parts and scale == self.scales[0])
            if not needed:
                self.drop_project(scale)

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
        # A service stopped cleanly took its port range out of the kernel's reserved ports; one
        # that was killed did not: put the setting back as it was before the run.
        if self.reserved_ports is not None:
            try:
                with open(RESERVED_PORTS, "w") as handle:
                    handle.write(self.reserved_ports)
            except OSError:
                pass
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

    def versions(self):
        def first_line(command):
            try:
                result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                return None
            line = (result.stdout or "").strip().splitlines()
            return line[0].strip() if result.returncode == 0 and line else None

        found = {}
        if "containers" in self.parts or not self.runtime:
            found["podman"] = (first_line(["podman", "--version"]) or "").replace("podman version ", "") or None
        if "backup" in self.parts:
            found["pgbackrest"] = (first_line(["pgbackrest", "version"]) or "").replace("pgBackRest ", "") or None
            zstd = first_line(["zstd", "--version"]) or ""
            match = re.search(r"v(\d+\.\d+\.\d+)", zstd)
            found["zstd"] = match.group(1) if match else None
        found["btrfs-progs"] = ((first_line(["btrfs", "--version"]) or "").replace("btrfs-progs ", "") or None)
        found["pgbouncer"] = ((first_line(["pgbouncer", "--version"]) or "").replace("PgBouncer ", "").replace("pgbouncer ", "") or None)
        return found

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
        try:
            with open(RESERVED_PORTS) as handle:
                self.reserved_ports = handle.read()
        except OSError:
            self.reserved_ports = None
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
        self.tool_versions = self.versions()
        try:
            self.start_service()
            if "branch" in self.parts:
                self.ensure_service("branch")
                self.section("project create", self.results, "project_create", self.bench_project_create)
                for scale in self.scales:
                    self.bench_scale(scale)
            if "pitr" in self.parts:
                self.ensure_service("pitr")
                self.section("point-in-time branches", self.results, "pitr", self.bench_pitr)
            if "diff" in self.parts:
                self.ensure_service("diff")
                try:
                    self.bench_diff()
                except Exception as error:  # noqa: BLE001 - what was measured is kept
                    message = f"diff: {error}"
                    log("FAILED " + message)
                    self.errors.append(message)
                    self.results.setdefault("diff", {})["error"] = str(error)
                    if not self.service or self.service.poll() is not None:
                        raise BenchError(f"branch serve is not running after the diff part:\n{self.log_tail()}")
            if "containers" in self.parts:
                try:
                    self.bench_containers()
                except Exception as error:  # noqa: BLE001 - what was measured is kept
                    message = f"containers: {error}"
                    log("FAILED " + message)
                    self.errors.append(message)
                    if not self.service or self.service.poll() is not None:
                        raise BenchError(f"branch serve is not running after the containers part:\n{self.log_tail()}")
            if "backup" in self.parts:
                if "--backup-target" not in self.help_text:
                    raise BenchError("this branch binary has no backups (serve --backup-target); rebuild it")
                # pgBackRest reads the data directory on the host and checks it against the path the
                # server reports: inside a container that is /branch/data, so branch servers run as processes.
                self.ensure_service("backup", runtime="process")
                for scale in self.scales:
                    self.bench_backups(scale)
            self.load_end = os.getloadavg()
        finally:
            self.cleanup()
        self.duration = time.perf_counter() - started
        self.verify_clean()
        state = os.environ.get("BENCH_STATE", "").strip()
        if state:
            # Everything the document is made from, to re-render it: `scripts/bench.py --render FILE`.
            keep = {key: value for key, value in vars(self).items()
                    if key not in ("service", "lock_handle", "opener")}
            with open(state, "wb") as handle:
                pickle.dump(keep, handle)
            log(f"saved the results to {state}")
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
        if "branch" in b.parts:
            branch_medians = {}
            for scale in b.scales:
                series = scales.get(scale, {}).get("branch")
                median = self.median(series)
                branch_medians[scale] = median
                rows.append((f"Branch ready, median, {self.size_label(scale)}", "≤ 300 ms", median, verdict(median, 300), fmt_ms))
            valid = [value for value in branch_medians.values() if value]
            if len(valid) >= 2:
                spread = max(valid) / min(valid)
                rows.append(("Branch ready, slower size / faster size (medians)", "within 25% (≤ 1.25×)", spread,
                             spread <= 1.25, fmt_ratio))
            else:
                rows.append(("Branch ready, slower size / faster size (medians)", "within 25% (≤ 1.25×)", None, None, fmt_ratio))
            median = self.median(b.results.get("project_create"))
            rows.append(("Project create, median", "≤ 300 ms", median, verdict(median, 300), fmt_ms))
            for scale in b.scales:
                median = self.median(scales.get(scale, {}).get("snapshot"))
                rows.append((f"Snapshot create, median, {self.size_label(scale)}", "≤ 50 ms", median, verdict(median, 50), fmt_ms))
        if "diff" in b.parts:
            diff = b.results.get("diff") if isinstance(b.results.get("diff"), dict) else {}
            stages = {stage["changes"]: stage for stage in diff.get("stages", [])}
            for count in DIFF_STAGES[:2]:
                label = f"Diff, {count:,} changed rows, scale {diff.get('scale', b.diff_scale)}"
                branch, naive = self.diff_times(stages.get(count))
                rows.append((f"{label}: Branch diff time (median)", "≤ 15 s", branch, verdict(branch, 15000), fmt_ms))
                ratio = naive / branch if naive and branch else None
                rows.append((f"{label}: naive time ÷ Branch diff time", "≥ 10× (faster than the naive comparison)", ratio,
                             None if ratio is None else ratio >= 10, fmt_ratio))
        if "containers" in b.parts:
            density = self.density()
            fit = density.get("suspended", {}).get("fit") if density else None
            rows.append(("Projects in 8 GB with scale to zero (computed from measured memory)", "≥ 50", fit,
                         None if fit is None else fit >= 50, lambda value: f"{value:,}"))
            containers = b.results.get("containers", {})
            for runtime in ("podman", "process"):
                resume = containers.get(runtime, {}).get("resume")
                median = self.median(resume)
                rows.append((f"Resume of a suspended branch on a client connection, median ({runtime})", "≤ 1 s", median,
                             verdict(median, 1000), fmt_ms))
        if "backup" in b.parts:
            for scale in b.scales:
                backup = scales.get(scale, {}).get("backup", {})
                ratios = self.backup_ratios(backup)
                for key, what in (("backup", "Backup"), ("restore", "Restore")):
                    value = ratios.get(("pgbackrest", key))
                    rows.append((f"{what} throughput, Branch ÷ pgBackRest, {self.size_label(scale)}", "≥ 1.00×", value,
                                 None if value is None else value >= 1, fmt_ratio))
                incremental = backup.get("incremental") if isinstance(backup.get("incremental"), dict) else {}
                full = self.branch_full_stored(backup)
                for change in sorted(incremental.get("changes", []), key=lambda change: change["label"] != "contiguous"):
                    stored = change.get("branch", {}).get("stored")
                    share = stored / full if stored is not None and full else None
                    if change["label"] == "contiguous":
                        rows.append((f"Incremental after changing 1% of the rows (contiguous), {self.size_label(scale)}: "
                                     "stored ÷ full", "proportional to the change: ≤ 10%", share,
                                     None if share is None else share <= 0.10, fmt_percent))
                    else:
                        rows.append((f"… the same, 1% of the rows spread (every 100th row), {self.size_label(scale)}",
                                     f"follows the pages rewritten ({fmt_percent(change['page_share'])} of the table's)",
                                     share, "info" if share is not None else None, fmt_percent))
        return rows

    # ------------------------------------------------------------ derived figures

    @staticmethod
    def diff_times(stage):
        """(Branch diff median wall ms, naive wall ms) of a diff stage; None where not measured."""
        if not isinstance(stage, dict):
            return None, None
        branch = statistics.median(run["wall"] for run in stage["branch"]) if stage.get("branch") else None
        naive = stage.get("naive")
        return branch, naive["wall"] if isinstance(naive, dict) and "wall" in naive else None

    def density(self):
        """How many projects fit in DENSITY_BUDGET, from the containers part's measurements."""
        containers = self.b.results.get("containers", {})
        setup, suspend = containers.get("idle_setup"), containers.get("suspend")
        if not isinstance(setup, dict) or "before" not in setup:
            return None
        fixed = setup["before"]["service"] + setup["before"]["pgbouncer"]
        budget = DENSITY_BUDGET - fixed
        per_project = None
        if isinstance(suspend, dict) and "per_project" in suspend:
            # Service and PgBouncer growth per project; a negative or tiny reading (noise) counts as 64 KiB.
            per_project = max(suspend["per_project"], 64 * 1024)
        result = {"fixed": fixed, "budget": budget, "per_project": per_project}
        for runtime in ("podman", "process"):
            idle = containers.get(runtime, {}).get("idle")
            if not isinstance(idle, dict) or not idle.get("memory"):
                continue
            branch = statistics.median(idle["memory"])
            conmon = statistics.median(idle["conmon"]) if idle.get("conmon") else 0
            each = branch + conmon + (per_project or 0)
            result[runtime] = {"branch": branch, "conmon": conmon, "each": each, "fit": int(budget // each)}
            if idle.get("warm"):
                warm_each = idle["warm"] + conmon + (per_project or 0)
                result[runtime]["warm"] = {"branch": idle["warm"], "each": warm_each, "fit": int(budget // warm_each)}
        if per_project:
            result["suspended"] = {"each": per_project, "fit": int(budget // per_project)}
            awake_runtime = "podman" if "podman" in result else ("process" if "process" in result else None)
            if awake_runtime:
                spare = budget - 50 * per_project
                awake = max(0, int(spare // (result[awake_runtime]["each"] - per_project)))
                result["awake_of_50"] = {"runtime": awake_runtime, "count": min(50, awake)}
        return result

    @staticmethod
    def backup_throughput(backup, method, key):
        series = backup.get(method)
        if not isinstance(series, dict) or "error" in series or not series.get(key):
            return None
        size = backup.get("database_bytes")
        wall = statistics.median(run["wall"] for run in series[key])
        return size / (wall / 1000) if size and wall else None

    def backup_ratios(self, backup):
        """Branch's throughput divided by each alternative's, for backup and restore."""
        ratios = {}
        for key in ("backup", "restore"):
            own = self.backup_throughput(backup, "branch", key)
            for method in ("pgbackrest", "basebackup_zstd"):
                other = self.backup_throughput(backup, method, key)
                if own and other:
                    ratios[(method, key)] = own / other
        return ratios

    @staticmethod
    def branch_full_stored(backup):
        series = backup.get("branch")
        if not isinstance(series, dict) or not series.get("backup"):
            return None
        return series["backup"][-1]["stored"]  # the full the first incremental builds on

    @staticmethod
    def pgbackrest_full_stored(backup):
        series = backup.get("pgbackrest")
        if not isinstance(series, dict) or not series.get("backup"):
            return None
        return series["backup"][-1]["stored"]

    def render_branch(self):
        b = self.b
        results = b.results
        scales = results["scales"]
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

    def render_containers(self):
        b = self.b
        containers = b.results.get("containers", {})
        scale = containers.get("scale", b.scales[0])
        self.add("## Containers: podman versus plain processes, density, scale to zero")
        self.add()
        self.add("The service was restarted on the same pool between the two runtimes (`--runtime podman`, then "
                 "`--runtime process`), both times with the hidden `--metrics-interval 1s` so that idle branches are "
                 "sampled, and suspended, within a second; the same projects served both.")
        self.add()

        # Branch ready, side by side.
        self.add(f"### Branch ready with podman and with plain processes, {self.size_label(scale)}")
        self.add()
        podman_branch = containers.get("podman", {}).get("branch")
        reference = self.median(podman_branch)
        rows = []
        for runtime in ("podman", "process"):
            series = containers.get(runtime, {}).get("branch")
            if self.ok(series):
                rows.append(self.stats_row(f"**{runtime}**: POST wall time", series["wall"], reference))
                _, steps = step_medians(series["steps"])
                starts = [sum(step["ms"] for step in run if step["name"] == "start") for run in series["steps"]]
                rows.append(self.stats_row(f"{runtime}: server step `start` (Postgres up, accepting connections)",
                                           starts, reference))
            else:
                error = series.get("error", "not run") if isinstance(series, dict) else "not run"
                rows.append([f"{runtime}", "failed", error[:80], "", "", "", ""])
        self.table(["Runtime", "Runs", "Median", "p95", "Min", "Max", "× podman"], rows)
        process_branch = containers.get("process", {}).get("branch")
        if self.ok(podman_branch) and self.ok(process_branch):
            ratio = statistics.median(podman_branch["wall"]) / statistics.median(process_branch["wall"])
            self.add(f"podman ÷ process (medians of the POST wall time): **{fmt_ratio(ratio)}**; the difference is the "
                     "container's start (`podman run` through conmon and runc, a fresh cgroup and mount namespace) "
                     "against a `pg_ctl start` of a plain process.")
            self.add()

        # Idle memory.
        self.add("### Memory of an idle branch (measured)")
        self.add()
        self.add(f"{containers.get('idle_setup', {}).get('count', b.idle_projects)} projects created with the default "
                 "settings and left alone: no client connected to them. Their main branches' memory is the service's own "
                 "metric (`GET /api/v1/metrics?minutes=0` → `memoryBytes`, also exported as `branch_memory_bytes`), read "
                 "≥ 12 s after the last activity (project creation, or the restart that started them again) and once "
                 "more 2 s later. With podman it is the container's memory cgroup without reclaimable page cache "
                 "(`memory.usage_in_bytes − total_inactive_file`); with plain processes, the proportional set size (PSS) "
                 "of the postmaster and its children, so shared memory is counted once. conmon, podman's per-container "
                 "monitor, lives outside the container's cgroup: its PSS is shown apart.")
        self.add()
        rows = []
        for runtime in ("podman", "process"):
            idle = containers.get(runtime, {}).get("idle")
            if not isinstance(idle, dict) or not idle.get("memory"):
                error = idle.get("error", "not measured") if isinstance(idle, dict) else "not measured"
                rows.append([runtime, "–", error[:80], "", "", "", "", ""])
                continue
            memory = idle["memory"]
            again = statistics.median(idle["memory_again"]) if idle.get("memory_again") else None
            conmon = fmt_bytes(statistics.median(idle["conmon"])) if idle.get("conmon") else "–"
            rows.append([runtime, len(memory), f"**{fmt_bytes(statistics.median(memory))}**", fmt_bytes(min(memory)),
                         fmt_bytes(max(memory)), fmt_bytes(again), conmon, fmt_bytes(idle.get("warm"))])
        self.table(["Runtime", "Branches", "Median", "Min", "Max", "Median 2 s later", "conmon (PSS) per container",
                    f"main of the {self.size_label(scale)} project, idle after 5 s of `pgbench -S`"], rows)
        idle = containers.get("podman", {}).get("idle")
        if isinstance(idle, dict) and idle.get("cgroup"):
            parts = idle["cgroup"]
            self.add(f"Inside a podman branch's memory cgroup (medians): usage {fmt_bytes(parts['usage'])} = anonymous "
                     f"{fmt_bytes(parts['anon'])} + shared memory {fmt_bytes(parts['shmem'])} (the part of "
                     f"`shared_buffers` touched so far) + file pages {fmt_bytes(parts['active_file'])} active and "
                     f"{fmt_bytes(parts['inactive_file'])} inactive + kernel and other {fmt_bytes(parts['other'])}. "
                     "The metric leaves out the inactive file pages only. The last column shows a branch whose "
                     "`shared_buffers` (64 MB) have been filled by work: idle memory grows with what the branch did.")
            self.add()

        # Scale to zero.
        self.add("### Scale to zero (measured)")
        self.add()
        suspend, setup = containers.get("suspend"), containers.get("idle_setup")
        if isinstance(suspend, dict) and "per_project" in suspend:
            rows = [
                ["Projects created with `suspendMainAfterSeconds: 5` (`--suspend-main-after 5s`)", suspend["count"]],
                ["Seconds until every one was suspended, after the last was created",
                 f"{suspend['suspended_after_seconds']:.1f} s"],
                ["Postgres servers (containers or processes) still running for them", suspend["postgres_running"]],
                ["Their memory", fmt_bytes(suspend["postgres_memory"])],
                ["Service RSS before → after creating them", f"{fmt_bytes(suspend['before']['service'])} → "
                                                              f"{fmt_bytes(suspend['after']['service'])}"],
                ["PgBouncer RSS before → after", f"{fmt_bytes(suspend['before']['pgbouncer'])} → "
                                                 f"{fmt_bytes(suspend['after']['pgbouncer'])}"],
                ["**Service + PgBouncer growth per suspended project**", f"**{fmt_bytes(suspend['per_project'])}**"],
            ]
            if isinstance(setup, dict) and "before" in setup:
                rows.insert(0, [f"Service + PgBouncer RSS before any density project ({setup['count']} idle ones, then "
                                f"these)", fmt_bytes(setup["before"]["service"] + setup["before"]["pgbouncer"])])
            self.table(["What", "Value"], rows)
            self.add("Suspended branches hold no Postgres memory: their server is stopped and their PgBouncer entry "
                     "paused. What stays per project is the service's and PgBouncer's bookkeeping, measured as the "
                     "growth of their resident memory (VmRSS, median of three readings) over the projects created; "
                     "that also counts allocations made while creating them, so it is an upper bound.")
            self.add()
        else:
            error = suspend.get("error", "not measured") if isinstance(suspend, dict) else "not measured"
            self.add(f"Not measured: {error}")
            self.add()

        # Density.
        self.add("### Projects in 8 GB (computed)")
        self.add()
        density = self.density()
        if density:
            self.add(f"Budget: 8 GiB minus the service's and PgBouncer's own RSS before the density projects "
                     f"({fmt_bytes(density['fixed'])}) = {fmt_bytes(density['budget'])}. Each project costs the memory of "
                     "its running main (plus conmon with podman) and its share of the service and PgBouncer "
                     f"({fmt_bytes(density['per_project'])}, measured above); a suspended project costs only that share.")
            self.add()
            rows = []
            for runtime in ("podman", "process"):
                entry = density.get(runtime)
                if not entry:
                    continue
                rows.append([f"Every project's main running and idle ({runtime})",
                             f"{fmt_bytes(entry['branch'])} + {fmt_bytes(entry['conmon'])} + {fmt_bytes(density['per_project'])}",
                             fmt_bytes(entry["each"]), f"**{entry['fit']:,}**"])
                if entry.get("warm"):
                    warm = entry["warm"]
                    rows.append([f"… after work filled `shared_buffers` ({runtime})",
                                 f"{fmt_bytes(warm['branch'])} + {fmt_bytes(entry['conmon'])} + {fmt_bytes(density['per_project'])}",
                                 fmt_bytes(warm["each"]), f"{warm['fit']:,}"])
            if density.get("suspended"):
                rows.append(["Scale to zero: every project suspended", f"{fmt_bytes(density['per_project'])}",
                             fmt_bytes(density["suspended"]["each"]), f"**{density['suspended']['fit']:,}**"])
            self.table(["Scenario", "Per project (branch + conmon + service share)", "Per project", "Projects in 8 GB"], rows)
            awake = density.get("awake_of_50")
            if awake:
                if awake["count"] >= 50:
                    self.add(f"With 50 projects and scale to zero, all 50 could even be awake (idle, {awake['runtime']}) at "
                             "the same time within the 8 GB.")
                else:
                    self.add(f"With 50 projects scaled to zero, the 8 GB leave room for **{awake['count']}** of them to "
                             f"be awake at the same time (idle, {awake['runtime']}).")
                self.add()
            if density.get("suspended") and density["suspended"]["fit"] > 1000:
                self.add("With every project asleep, memory stops being the limit long before that figure: the port "
                         "range (`--port-range`, 1000 branch ports by default), disk, and the memory of the projects "
                         "that wake up at the same time are.")
                self.add()
        else:
            self.add("Not computed: the memory measurements failed.")
            self.add()

        # Resume.
        self.add("### Resume of a suspended branch on a client connection")
        self.add()
        self.add("Each run waits until a project's main is `suspended` (`GET …/branches/main`, which does not wake it), "
                 "then times `psql \"<pooled URL with database <project>__main>\" -c 'select 1'` (process start, TCP "
                 "to PgBouncer, SCRAM, the wait while the service starts the server, the query). \"Server\" is the "
                 "service's own `ready in` from its `resumed` event (starting Postgres until it accepts connections). "
                 "The reference is the same psql through the pooler to branches that are running.")
        self.add()
        rows = []
        podman_resume = self.median(containers.get("podman", {}).get("resume"))
        for runtime in ("podman", "process"):
            resume = containers.get(runtime, {}).get("resume")
            if not self.ok(resume):
                error = resume.get("error", "not measured") if isinstance(resume, dict) else "not measured"
                rows.append([f"{runtime}", "failed", error[:80], "", "", "", ""])
                continue
            rows.append(self.stats_row(f"**{runtime}**: psql on a suspended branch", resume["wall"], podman_resume))
            rows.append(self.stats_row(f"{runtime}: server, `ready in`", resume["server"], podman_resume))
            rows.append(self.stats_row(f"{runtime}: reference, psql on a running branch", resume["reference"], podman_resume))
        self.table(["Measurement", "Runs", "Median", "p95", "Min", "Max", "× podman resume"], rows)

    def render_backups(self):
        b = self.b
        scales = b.results["scales"]
        self.add("## Backups, restores and point-in-time branches")
        self.add()
        if "backup" in b.parts:
            self.add("Branch servers ran as plain processes in this part (`--runtime process`): pgBackRest reads the data "
                     "directory on the host and checks it against the path the server reports, which inside a container "
                     "is `/branch/data`. Branch's own backup and restore (`btrfs send`/`receive`) do not depend on the "
                     "runtime, except the start of the restored branch.")
            self.add()
            self.add("- **Branch**: `POST /api/v1/projects/{p}/backups` (a job, polled every 50 ms until done): a Btrfs "
                     "snapshot of main streamed by `btrfs send` through zstd level 3 and AES-256-GCM into "
                     "`dir:<bench>/backups`; restore: `POST /api/v1/backups/{id}/restore {\"as\": …}` until the job is "
                     "done, which includes `btrfs receive` and starting the restored branch (then checked with a query "
                     "and deleted). Before each further full backup the previous one is deleted, so every timed backup "
                     "is full.")
            self.add(f"- **pgBackRest {b.tool_versions.get('pgbackrest', '')}** (Debian package), as postgres with a "
                     "configuration in the bench directory: `compress-type=zst`, `compress-level=3`, "
                     "`repo1-cipher-type=aes-256-cbc`, `process-max=1` (Branch compresses on one thread too), "
                     "`start-fast=y`, `archive-check=n` (Branch owns `archive_command`, so pgBackRest's backup carries no "
                     "WAL archive of its own: it copies the files only, which favours it slightly); restore: "
                     "`pgbackrest restore --pg1-path=<new directory on the pool> --set=<label>` (files only, not started).")
            self.add("- **`pg_basebackup -D - -Ft -X fetch -c fast | zstd -3 -T1`** into a file (not encrypted); restore: "
                     "`zstd -d | tar -x` into a new directory on the pool, then `sync -f` (pgBackRest and Branch write "
                     "durably too); not started.")
            self.add("- Throughput: the database's size (`pg_database_size`) divided by the wall time. Peak memory: for "
                     "Branch, the service's resident memory (its VmHWM, reset through `/proc/<pid>/clear_refs` before, "
                     "and VmRSS of it and its `btrfs` children polled every 100 ms) above its RSS right before; for the "
                     "others, the summed VmRSS of their processes (pgbackrest; pg_basebackup + zstd; zstd + tar) polled "
                     "every 100 ms. The Postgres backend that serves a backup is not counted for any of them.")
            self.add("- Cold page cache: right before every timed backup and restore (incrementals included), `sync` "
                     "and `echo 3 > /proc/sys/vm/drop_caches`. A Btrfs snapshot's files do not share the page cache of "
                     "the live files they were taken from, so Branch's `btrfs send` reads from disk in any case; with a "
                     "warm cache the others would read the live data directory from memory. Backing up a database "
                     "that is not in memory is also the common case.")
            self.add()
            ratio_rows = []
            for scale in b.scales:
                backup = scales.get(scale, {}).get("backup", {})
                if not backup:
                    continue
                runs = backup.get("runs", "?")
                large = " (one run: the large size is capped at BENCH_BACKUP_RUNS_LARGE)" if backup.get("large") else ""
                self.add(f"### Full backup and restore, {self.size_label(scale)}: {runs} run(s) each{large}")
                self.add()
                rows = []
                size = backup.get("database_bytes")
                for method, label in (("branch", "**Branch**"), ("pgbackrest", "pgBackRest"),
                                      ("basebackup_zstd", "`pg_basebackup \\| zstd`")):
                    series = backup.get(method)
                    if not isinstance(series, dict) or "error" in series or not series.get("backup"):
                        error = series.get("error", "not run") if isinstance(series, dict) else "not run"
                        rows.append([label, "failed", error[:100], "", "", "", "", "", ""])
                        continue
                    backups, restores = series["backup"], series.get("restore", [])
                    wall = statistics.median(run["wall"] for run in backups)
                    stored = statistics.median(run["stored"] for run in backups)
                    restore_wall = statistics.median(run["wall"] for run in restores) if restores else None
                    rows.append([
                        label, len(backups), fmt_ms(wall),
                        fmt_rate(self.backup_throughput(backup, method, "backup")),
                        f"{fmt_bytes(stored)} ({size / stored:.1f}×)" if size and stored else fmt_bytes(stored),
                        fmt_ms(restore_wall), fmt_rate(self.backup_throughput(backup, method, "restore")),
                        fmt_bytes(max(run["peak"] for run in backups)),
                        fmt_bytes(max(run["peak"] for run in restores)) if restores else "–"])
                self.table(["Method", "Runs", "Backup (median)", "Backup throughput", "Stored (database ÷ stored)",
                            "Restore (median)", "Restore throughput", "Peak memory, backup", "Peak memory, restore"], rows)
                branch = backup.get("branch")
                if isinstance(branch, dict) and branch.get("backup"):
                    raw = statistics.median(run["raw"] for run in branch["backup"])
                    stored = statistics.median(run["stored"] for run in branch["backup"])
                    server = statistics.median(run["server"] for run in branch["backup"] if run.get("server") is not None)
                    restore_server = [run["server"] for run in branch.get("restore", []) if run.get("server") is not None]
                    self.add(f"Branch's send stream: {fmt_bytes(raw)} raw (the whole cluster: every database, the WAL "
                             f"in `pg_wal`, Btrfs metadata) → {fmt_bytes(stored)} stored, compression {raw / stored:.1f}×. "
                             f"Server job time (`durationMs`): backup {fmt_ms(server)}"
                             + (f", restore {fmt_ms(statistics.median(restore_server))}" if restore_server else "")
                             + f"; the database is {fmt_bytes(size)}.")
                    first = branch["backup"][0]
                    highest = max(run["baseline"] + run["peak"] for run in branch["backup"] + branch.get("restore", [])
                                  if "baseline" in run)
                    after = [run["baseline"] for run in branch.get("restore", []) if "baseline" in run]
                    self.add(f"The service's resident memory: {fmt_bytes(first['baseline'])} before the first backup, "
                             f"{fmt_bytes(highest)} at the highest during the backups and restores"
                             + (f", {fmt_bytes(after[0])} right after the first backup (memory the service keeps)" if after else "")
                             + ". \"Peak memory\" above is the largest rise over the RSS right before an operation.")
                    self.add()
                ratios = self.backup_ratios(backup)
                ratio_rows.append([self.size_label(scale)] + [fmt_ratio(ratios[(method, key)]) if (method, key) in ratios else "–"
                                  for method in ("pgbackrest", "basebackup_zstd") for key in ("backup", "restore")])
            if ratio_rows:
                self.add("### Throughput ratios (Branch ÷ the alternative; above 1 means Branch is faster)")
                self.add()
                self.table(["Size", "Backup ÷ pgBackRest", "Restore ÷ pgBackRest", "Backup ÷ `pg_basebackup \\| zstd`",
                            "Restore ÷ `pg_basebackup \\| zstd`"], ratio_rows)

            # Incremental.
            self.add("### Incremental backup after changing 1% of the rows")
            self.add()
            self.add("After the full backups: `UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 100 = 0` "
                     "(1% of the rows, spread over the whole table), `CHECKPOINT`, an incremental backup with Branch and "
                     "with pgBackRest (`--type=incr`); then the same for a contiguous 1% (`WHERE aid <= rows/100`), each "
                     "incremental to the one before. The share of table pages rewritten is computed from the rows per "
                     "page (`reltuples / relpages`): every 100th row lands on a page with probability rows-per-page/100.")
            self.add()
            rows = []
            for scale in b.scales:
                backup = scales.get(scale, {}).get("backup", {})
                incremental = backup.get("incremental")
                if not isinstance(incremental, dict) or "changes" not in incremental:
                    if backup:
                        error = incremental.get("error", "not run") if isinstance(incremental, dict) else "not run"
                        rows.append([self.size_label(scale), "failed", error[:80], "", "", "", "", "", ""])
                    continue
                branch_full, pgbackrest_full = self.branch_full_stored(backup), self.pgbackrest_full_stored(backup)
                for change in incremental["changes"]:
                    own, other = change.get("branch", {}), change.get("pgbackrest", {})
                    rows.append([
                        self.size_label(scale),
                        "every 100th row" if change["label"] == "spread" else "contiguous 1%",
                        f"{change['rows']:,}", fmt_percent(change["page_share"]), fmt_bytes(change["wal"]),
                        f"{fmt_bytes(own.get('stored'))} (raw {fmt_bytes(own.get('raw'))})" if "stored" in own else "failed",
                        f"**{fmt_percent(own['stored'] / branch_full)}**" if "stored" in own and branch_full else "–",
                        fmt_bytes(other.get("stored")) if "stored" in other else "failed",
                        fmt_percent(other["stored"] / pgbackrest_full) if "stored" in other and pgbackrest_full else "–"])
            self.table(["Size", "Change", "Rows", "Table pages rewritten", "WAL of the change", "Branch incremental stored",
                        "÷ Branch full", "pgBackRest incr stored", "÷ pgBackRest full"], rows)

        if "pitr" in b.parts:
            self.render_pitr()

    def render_pitr(self):
        b = self.b
        pitr = b.results.get("pitr")
        self.add("### Point-in-time branches against the WAL to replay")
        self.add()
        if not isinstance(pitr, dict) or "points" not in pitr:
            error = pitr.get("error", "not run") if isinstance(pitr, dict) else "not run"
            self.add(f"Failed: {error[:400]}")
            self.add()
            return
        self.add(f"A project loaded with `pgbench -i -s {pitr['scale']}`, its hourly snapshot schedule removed, then "
                 "`CHECKPOINT` and a snapshot (`POST …/snapshots`): the newest snapshot before every instant below, so "
                 "the one every point-in-time branch replays from. Then `pgbench -n -c 2 -j 2 -T <s>` stages of "
                 f"{', '.join(str(s) for s in pitr['stages'])} s; after each, the instant (the next whole second: the "
                 "API takes whole seconds) and `pg_current_wal_lsn()`. After the last stage a few more transactions "
                 "(recovery stops at the first commit after its target) and the archiver is waited for. Then "
                 "`POST …/branches {\"from\": \"main\", \"at\": <instant>}` for each instant, "
                 f"{b.pitr_runs} time(s), timed until the branch accepts connections, checked (its `pgbench_history` "
                 f"holds exactly the rows committed by the instant) and deleted. Branch servers ran as {pitr['runtime']}.")
        self.add()
        rows, xs, ys = [], [], []
        for index, point in enumerate(pitr["points"]):
            if not point.get("wall"):
                continue
            wall, replay = statistics.median(point["wall"]), statistics.median(point["replay"])
            rate = point["wal_bytes"] / (replay / 1000) if replay and point["wal_bytes"] > 16 * MIB else None
            rows.append([index, f"{point['pgbench_seconds']} s", fmt_bytes(point["wal_bytes"]), len(point["wall"]),
                         f"**{fmt_ms(wall)}**", fmt_ms(min(point["wall"])), fmt_ms(max(point["wall"])), fmt_ms(replay),
                         fmt_rate(rate)])
            for value in point["wall"]:
                xs.append(point["wal_bytes"] / GIB)
                ys.append(value)
        self.table(["Instant", "pgbench before it", "WAL since the snapshot", "Runs", "Create (median)", "Min", "Max",
                    "Server step `replay WAL` (median)", "Replay rate"], rows)
        fit = linear_fit(xs, ys)
        if fit:
            intercept, slope = fit
            self.add(f"Least-squares line over every run: create time ≈ {fmt_ms(intercept)} + {fmt_ms(slope)} per GiB "
                     f"of WAL to replay ({fmt_rate(GIB / (slope / 1000)) if slope > 0 else '–'} effective).")
            self.add()

    def render_diff(self):
        b = self.b
        diff = b.results.get("diff")
        self.add("## Row-level diff and merge")
        self.add()
        if not isinstance(diff, dict) or not diff.get("stages"):
            error = diff.get("error", "not run") if isinstance(diff, dict) else "not run"
            self.add(f"Failed: {error[:400]}")
            self.add()
            return
        settings = diff.get("settings") or DIFF_SETTINGS
        rows = diff.get("rows") or diff["scale"] * 100000
        first, fanout = settings["firstSegments"], settings["fanout"]
        self.add(f"A project loaded with `pgbench -i -s {diff['scale']}` ({rows:,} rows in `pgbench_accounts`, "
                 f"{fmt_bytes(diff.get('table_bytes'))} with its primary key; database {fmt_bytes(diff.get('database_bytes'))}), "
                 "its hourly snapshot schedule removed and scale to zero turned off (a diff keeps its sides awake, "
                 "but no branch should be suspended and resumed between the stages), and branch `b` made from main. "
                 "On `b`, "
                 "`UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = ANY(<aids>)` of distinct aids drawn at "
                 "random (seeded) over the whole table, cumulative from stage to stage, then `CHECKPOINT`; before the first "
                 "stage both sides' heap and primary key were read once, so neither method starts from a cold cache. "
                 f"Branch servers ran as {diff.get('runtime', b.runtime_name)}.")
        self.add()
        self.add(f"- **Branch diff**: `POST /api/v1/projects/{{p}}/diff {{\"from\": \"main\", \"to\": \"b\"}}`, timed until "
                 "its NDJSON stream is read to the end (read as it arrives, up to 1 MiB at a time; one line per changed row, then a `table` line "
                 "per table and an `end` line), "
                 f"{diff['runs']} time(s) per stage (median; every run listed; once only when the first run took more "
                 f"than {fmt_ms(DIFF_SLOW_MS)}). Bytes from main and from the branch are the "
                 "`end` line's `bytesFromFirst` and `bytesFromSecond` (what the service received from each branch server); "
                 "its `rowsChanged` is checked against the rows changed, and every stage also against the naive count. "
                 "Peak memory: the service's VmRSS sampled every 20 ms during the request (and its VmHWM, reset through "
                 "`/proc/<pid>/clear_refs` before), above its VmRSS right before, which is given in brackets. "
                 "`\"summary\": true` (counts only) is timed the same way at the last stage.")
        bisection = ("a table with a primary key is checksummed in "
                     f"{first} key ranges (about {rows / first:,.0f} rows each here; for an integer key the bounds are "
                     "computed from min and max) with one grouped scan per side: `width_bucket` of the key, `count(*)` and "
                     "`bit_xor(hashtextextended(row(…)::text, 0))`. A range that differs is split into "
                     f"{fanout} (≈ {rows / first / fanout:,.0f} rows, then ≈ {rows / first / fanout / fanout:,.0f}) and "
                     f"checksummed again, until it holds at most {settings['fetchThreshold']:,} rows on either side: then "
                     "key and hash of each of its rows are read from both sides, and the differing rows whole (tables under "
                     f"{settings['smallTable']:,} rows are read that way at once). Identical ranges cost one checksum each; "
                     "changes spread over the table make more ranges differ, down to one fetched range per change.")
        names = ", ".join(f"{name} {settings[name]:,}" for name in ("tupleLimit", "firstSegments", "fanout", "fetchThreshold",
                                                                    "smallTable") if name in settings)
        if "tupleLimit" in settings:
            how = ("both servers are read at once, each in one repeatable-read read-only transaction followed by a "
                   "`CHECKPOINT`, so its data files hold what that snapshot sees. For a table with a primary key the "
                   "service first compares the two branches' heap files on the pool page by page, and on pages that "
                   "differ tuple by tuple, and keeps the tuples whose rows may differ (other bytes, a tuple or a page "
                   "only one side has, or the same bytes with an inserting or deleting transaction that has another "
                   "commit status on each side, from `pg_xact`); if at most "
                   f"{settings['tupleLimit']:,} tuples may differ, key and hash of the rows at those tuple ids are read "
                   "by TID scans (keys found on one side only are looked up on the other), then the differing rows "
                   "whole. "
                   "Those file reads are not part of `bytesFromFirst`/`bytesFromSecond`; the checks below give all the "
                   "service read (`rchar` of `/proc/<pid>/io`: files and sockets). With more differing tuples, or a side "
                   "that is not a live server, the checksum bisection: " + bisection)
        else:
            how = ("both servers are read at once, each in one repeatable-read read-only transaction. " + bisection[0].upper()
                   + bisection[1:])
        self.add(f"- How it compares (`RowDiffSettings` in `Sources/BranchDiff/RowDiff.swift` at the time of the run: "
                 f"{names}): {how}")
        self.add("- **Naive**: `psql <direct URL> -X -c \"COPY (SELECT * FROM pgbench_accounts ORDER BY aid) TO STDOUT\"` "
                 "for main and for `b` at the same time, both outputs read by the bench script in parallel, line by line "
                 "(1 MiB buffered reads, nothing kept), counting the lines that differ; timed from starting the two psql "
                 "until both exit. Bytes: the COPY text read from each (the wire adds 5 bytes of framing per row). Peak "
                 "memory: the two psql clients' VmRSS plus the growth of the comparer's own, sampled every 20 ms; "
                 "CPU: the comparer's own user + system time.")
        self.add()
        header = ["Method", "Time", "Bytes from main", "Bytes from branch", "Peak memory", "× Branch"]
        for stage in diff["stages"]:
            count = stage["changes"]
            self.add(f"### {count:,} changed rows")
            self.add()
            branch = stage.get("branch") or []
            reference = statistics.median(run["wall"] for run in branch) if branch else None
            table = []
            for label, runs in (("**Branch diff** (`POST …/diff`, stream read to the end)", branch),
                                ("Branch diff, `\"summary\": true`", stage.get("summary"))):
                if not runs:
                    continue
                walls = [run["wall"] for run in runs]
                median = statistics.median(walls)
                times = f"**{fmt_ms(median)}**" + (f" (runs: {', '.join(fmt_ms(value) for value in walls)})" if len(walls) > 1 else "")
                table.append([label, times, fmt_bytes(statistics.median(run["bytes_first"] for run in runs)),
                              fmt_bytes(statistics.median(run["bytes_second"] for run in runs)),
                              f"+{fmt_bytes(max(run['peak'] for run in runs))} (service {fmt_bytes(runs[0]['baseline'])})",
                              fmt_ratio(median / reference) if reference else "–"])
                server = [run["server"] for run in runs if run.get("server") is not None]
                if server:
                    table.append(["… the `end` line's `durationMs` (server)", fmt_ms(statistics.median(server)), "", "", "",
                                  fmt_ratio(statistics.median(server) / reference) if reference else "–"])
            naive = stage.get("naive")
            if isinstance(naive, dict) and "wall" in naive:
                table.append(["**Naive**: 2 × psql `COPY … ORDER BY aid` + line-by-line compare",
                              f"**{fmt_ms(naive['wall'])}** (comparer CPU {fmt_ms(naive['cpu'])})",
                              fmt_bytes(naive["bytes_first"]), fmt_bytes(naive["bytes_second"]), fmt_bytes(naive["peak"]),
                              f"**{fmt_ratio(naive['wall'] / reference)}**" if reference else "–"])
            elif isinstance(naive, dict) and naive.get("error"):
                table.append(["Naive", "failed", "", "", "", ""])
            else:
                table.append(["Naive", "not measured", "", "", "", ""])
            if not branch:
                table.insert(0, ["Branch diff", "failed", "", "", "", ""])
            self.table(header, table)
            checks = []
            if branch:
                last = branch[-1]
                checks.append(f"`rowsChanged` {last['rows_changed']:,} (rows changed on `b`: {count:,})")
                checks.append(f"response {fmt_bytes(last['response_bytes'])} in {last['lines']:,} lines "
                              f"({last['row_lines']:,} row lines)")
                if last.get("service_read") is not None:
                    checks.append(f"the service read {fmt_bytes(last['service_read'])} in all (rchar: files and sockets)")
                if last.get("first_byte") is not None:
                    checks.append(f"first line after {fmt_ms(last['first_byte'])}")
            if isinstance(naive, dict) and "differing" in naive:
                checks.append(f"the naive comparison found {naive['differing']:,} differing lines of {naive['lines']:,}")
            problems = [problem for run in branch + (stage.get("summary") or []) for problem in run.get("problems", [])]
            problems += (naive or {}).get("problems", []) if isinstance(naive, dict) else []
            text = "Checks: " + "; ".join(checks) + "."
            if problems:
                text += " **Mismatch:** " + "; ".join(problems) + "."
            elif checks:
                text += " All agree."
            failures = [(what, stage.get(key)) for what, key in (("Branch diff", "error"), ("summary diff", "summary_error"))]
            failures.append(("naive comparison", naive.get("error") if isinstance(naive, dict) else None))
            for what, error in failures:
                if error:
                    text += f" **{what} failed:** {error.splitlines()[0][:300]}."
            self.add(text)
            self.add()
        merges = diff.get("merges") or []
        self.add(f"### Merge of {MERGE_ROWS:,} non-conflicting row changes")
        self.add()
        self.add("Branch `m` from main (then `m-2`, …, each from main after the previous merge), "
                 f"{merges[0]['rows'] if merges else MERGE_ROWS:,} distinct random rows of `pgbench_accounts` updated on it "
                 "(disjoint from one merge to the next), then `POST /api/v1/projects/{p}/merge {\"source\": \"m\", \"into\": "
                 "\"main\"}` timed (client wall time; the server's `operation.durationMs`). Checked: `applied` is true, the "
                 "plan for `pgbench_accounts` is exactly that many updates and nothing else, no conflicts, and main then "
                 f"holds every merged change. {b.diff_merges} merge(s) asked for (one only when the first took more than "
                 f"{fmt_ms(DIFF_SLOW_MS)}). A merge snapshots the target first (the undo), starts a throw-away Postgres on "
                 "the source's base snapshot, diffs base against source and checks each change against the target, then "
                 "applies it in one transaction.")
        self.add()
        if merges:
            rows_out = []
            for index, merge in enumerate(merges):
                plan = merge.get("plan") or {}
                rows_out.append([index + 1, f"`{merge['source']}`", f"{merge['rows']:,}", f"**{fmt_ms(merge['wall'])}**",
                                 fmt_ms(merge.get("server")),
                                 f"{plan.get('updates', '?'):,} updates, {plan.get('inserts', '?')} inserts, "
                                 f"{plan.get('deletes', '?')} deletes, {plan.get('conflicts', '?')} conflicts" if plan else "–",
                                 "yes" if merge.get("applied") else "**no**", f"+{fmt_bytes(merge['peak'])}"])
            self.table(["Run", "Source", "Rows changed", "POST wall time", "Server `durationMs`", "Plan (pgbench_accounts)",
                        "Applied", "Service peak memory"], rows_out)
            names, medians = step_medians([merge["steps"] for merge in merges if merge.get("steps")])
            if names:
                text = "Server steps (median): " + ", ".join(f"`{name}` {fmt_ms(medians[name])}" for name in names) + "."
                server = [merge["server"] for merge in merges if merge.get("server") is not None]
                if server:
                    covered, total = sum(medians.values()), statistics.median(server)
                    text += (f" They account for {fmt_ms(covered)} of the server's {fmt_ms(total)}; the other "
                             f"{fmt_ms(max(0.0, total - covered))} (starting the base snapshot's Postgres and planning: the "
                             "diff of base against source and the target's rows) has no step of its own.")
                self.add(text)
                self.add()
        else:
            self.add("No merge was measured.")
            self.add()
        if diff.get("merge_error"):
            self.add(f"**A merge failed:** {diff['merge_error'].splitlines()[0][:400]}")
            self.add()
        if diff.get("error"):
            self.add(f"**The part stopped early:** {diff['error'].splitlines()[0][:400]}")
            self.add()

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
        for label, target, value, met, formatter in self.targets():
            measured = "–" if value is None else formatter(value)
            verdict = ("not measured" if met is None else "informational (see Incremental)" if met == "info"
                       else ("**met**" if met else "**not met**"))
            rows.append([label, target, measured, verdict])
        self.table(["Target", "Goal", "Measured", "Result"], rows)
        if "branch" in b.parts:
            self.add("Branch ready is the client's wall time of `POST /api/v1/projects/{p}/branches`, which returns only "
                     "once the branch accepts connections. Project and snapshot create are client wall times of their POSTs.")
            self.add()
        if "diff" in b.parts:
            self.add("A diff's time is the client's wall time of `POST /api/v1/projects/{p}/diff` until its NDJSON stream "
                     "has been read to the end; the naive comparison copies both tables out and compares them line by "
                     "line (see Row-level diff and merge).")
            self.add()
        if "containers" in b.parts or "backup" in b.parts:
            self.add("The density figure is computed from measured memory (see its section); throughput is the database's "
                     "size (`pg_database_size`) divided by the wall time; incremental sizes are stored bytes after "
                     "compression and encryption.")
            self.add()

        if "branch" in b.parts:
            self.render_branch()
        if "containers" in b.parts:
            self.render_containers()
        if "backup" in b.parts or "pitr" in b.parts:
            self.render_backups()
        if "diff" in b.parts:
            self.render_diff()

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
        first = b.services[0] if b.services else {"runtime": b.runtime_name, "notes": b.runtime_notes}
        notes = "; ".join(first.get("notes", []))
        self.add(f"- Branch servers run as: **{first['runtime']}**" + (" at the start" if len(b.services) > 1 else "")
                 + (f" ({notes})" if notes else "")
                 + ("" if b.runtime else " — Branch's default choice; set BENCH_RUNTIME (e.g. `process`, `podman`) to pick one")
                 + ("; later parts restarted the service on the same pool, as listed below" if len(b.services) > 1 else ""))
        for index, service in enumerate(b.services):
            parts = ", ".join(service["parts"]) or "no part (restarted right away)"
            self.add(f"- Service {index + 1} ({service['runtime']}; parts: {parts}): `branch {' '.join(service['args'])}` "
                     "(ports picked free for the run)")
        versions = ", ".join(f"{name} {version}" for name, version in sorted(b.tool_versions.items()) if version)
        if versions:
            self.add(f"- Other programs: {versions}")
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
        env += f" BENCH_PARTS={','.join(b.parts)}"
        if "backup" in b.parts:
            env += f" BENCH_BACKUP_RUNS={b.backup_runs} BENCH_BACKUP_RUNS_LARGE={b.backup_runs_large}"
        if "containers" in b.parts:
            env += (f" BENCH_IDLE_PROJECTS={b.idle_projects} BENCH_SUSPEND_PROJECTS={b.suspend_projects}"
                    f" BENCH_RESUMES={b.resumes}")
        if "pitr" in b.parts:
            env += (f" BENCH_PITR_SCALE={b.pitr_scale} BENCH_PITR_STAGES=\"{' '.join(map(str, b.pitr_stages))}\""
                    f" BENCH_PITR_RUNS={b.pitr_runs}")
        if "diff" in b.parts:
            env += f" BENCH_DIFF_SCALE={b.diff_scale} BENCH_DIFF_RUNS={b.diff_runs} BENCH_DIFF_MERGES={b.diff_merges}"
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
        project = results.get("project_create")
        if self.ok(project):
            raw.append(("project create, wall", project["wall"]))
        for scale in b.scales:
            entry = scales.get(scale, {})
            for key, label, field in (("branch", "branch create, wall", "wall"), ("branch", "branch create, server", "server"),
                                      ("snapshot", "snapshot create, wall", "wall"), ("createdb", "createdb -T", "wall"),
                                      ("basebackup", "pg_basebackup + start", "wall")):
                if self.ok(entry.get(key)):
                    raw.append((f"{label}, scale {scale}", entry[key][field]))
        containers = b.results.get("containers", {})
        for runtime in ("podman", "process"):
            entry = containers.get(runtime, {})
            if self.ok(entry.get("branch")):
                raw.append((f"branch create ({runtime}), wall, scale {containers.get('scale')}", entry["branch"]["wall"]))
            if self.ok(entry.get("resume")):
                raw.append((f"resume psql ({runtime})", entry["resume"]["wall"]))
                raw.append((f"resume, server ready in ({runtime})", entry["resume"]["server"]))
                raw.append((f"psql through the pooler, running branch ({runtime})", entry["resume"]["reference"]))
        for scale in b.scales:
            backup = scales.get(scale, {}).get("backup", {})
            for method in ("branch", "pgbackrest", "basebackup_zstd"):
                series = backup.get(method)
                if isinstance(series, dict) and series.get("backup"):
                    raw.append((f"{method} backup, wall, scale {scale}", [run["wall"] for run in series["backup"]]))
                    raw.append((f"{method} restore, wall, scale {scale}", [run["wall"] for run in series.get("restore", [])]))
        pitr = b.results.get("pitr")
        if isinstance(pitr, dict):
            for index, point in enumerate(pitr.get("points", [])):
                if point.get("wall"):
                    raw.append((f"point-in-time branch, instant {index} ({fmt_bytes(point['wal_bytes'])} of WAL), wall",
                                point["wall"]))
        diff = b.results.get("diff")
        if "diff" in b.parts and isinstance(diff, dict):
            for stage in diff.get("stages", []):
                for key, label in (("branch", "Branch diff"), ("summary", "Branch diff summary")):
                    if stage.get(key):
                        raw.append((f"{label}, {stage['changes']:,} changed rows, wall", [run["wall"] for run in stage[key]]))
                        raw.append((f"{label}, {stage['changes']:,} changed rows, server",
                                    [run["server"] for run in stage[key] if run.get("server") is not None]))
                if isinstance(stage.get("naive"), dict) and "wall" in stage["naive"]:
                    raw.append((f"naive COPY + compare, {stage['changes']:,} changed rows", [stage["naive"]["wall"]]))
            if diff.get("merges"):
                raw.append(("merge, wall", [merge["wall"] for merge in diff["merges"]]))
                raw.append(("merge, server", [merge["server"] for merge in diff["merges"] if merge.get("server") is not None]))
        for label, values in raw:
            self.add(f"- {label}: " + ", ".join(f"{value:.1f}" for value in values))
        for runtime in ("podman", "process"):
            idle = containers.get(runtime, {}).get("idle")
            if isinstance(idle, dict) and idle.get("memory"):
                self.add(f"- idle branch memory ({runtime}), bytes: " + ", ".join(str(value) for value in idle["memory"]))
        for scale in b.scales:
            backup = scales.get(scale, {}).get("backup", {})
            for method in ("branch", "pgbackrest", "basebackup_zstd"):
                series = backup.get(method)
                if isinstance(series, dict) and series.get("backup"):
                    self.add(f"- {method} backups, scale {scale}: " + "; ".join(
                        ", ".join(f"{key} {value}" for key, value in run.items() if key not in ("wall",))
                        for run in series["backup"]))
            incremental = backup.get("incremental")
            if isinstance(incremental, dict):
                for change in incremental.get("changes", []):
                    self.add(f"- incremental ({change['label']}), scale {scale}: rows {change['rows']}, WAL {change['wal']}, "
                             f"update + CHECKPOINT {change['update_ms']:.0f} ms, Branch {change.get('branch')}, "
                             f"pgBackRest {change.get('pgbackrest')}")
        if "diff" in b.parts and isinstance(diff, dict):
            for stage in diff.get("stages", []):
                for key in ("branch", "summary"):
                    for index, run in enumerate(stage.get(key) or []):
                        self.add(f"- diff{' summary' if key == 'summary' else ''}, {stage['changes']:,} changed rows, run "
                                 f"{index + 1}: " + ", ".join(f"{name} {value}" for name, value in run.items()
                                                              if name not in ("tables", "wall", "summary")))
                if isinstance(stage.get("naive"), dict):
                    self.add(f"- naive, {stage['changes']:,} changed rows: "
                             + ", ".join(f"{name} {value}" for name, value in stage["naive"].items()))
            for index, merge in enumerate(diff.get("merges") or []):
                self.add(f"- merge {index + 1}: " + ", ".join(f"{name} {value}" for name, value in merge.items() if name != "steps")
                         + "; steps " + ", ".join(f"{step['name']} {step['ms']:.1f}" for step in merge.get("steps") or []))
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

    def interpretation_containers(self):
        b = self.b
        if "containers" not in b.parts:
            return []
        containers = b.results.get("containers", {})
        paragraphs = []
        podman, process = containers.get("podman", {}).get("branch"), containers.get("process", {}).get("branch")
        if self.ok(podman) and self.ok(process):
            a, c = statistics.median(podman["wall"]), statistics.median(process["wall"])
            paragraphs.append(
                f"Containers: with podman a branch of the {self.size_label(containers.get('scale', b.scales[0]))} "
                f"project was ready in a median {fmt_ms(a)}, as a plain process in {fmt_ms(c)}: the container costs "
                f"{fmt_ms(a - c)} ({fmt_ratio(a / c)}), almost all of it in the `start` step (creating the container "
                "through conmon and runc). The other steps (checkpoint, snapshots, catalog, pooler) are the same.")
        density = self.density()
        if density:
            text = []
            for runtime in ("podman", "process"):
                entry = density.get(runtime)
                if entry:
                    text.append(f"{fmt_bytes(entry['branch'])} with {runtime}"
                                + (f" (+{fmt_bytes(entry['conmon'])} for its conmon)" if entry["conmon"] else ""))
            sentence = "An idle branch with the default settings held " + " and ".join(text) + ". "
            fits = [f"{density[r]['fit']:,} projects with every main running ({r})" for r in ("podman", "process") if r in density]
            if fits:
                sentence += "So 8 GB hold " + ", ".join(fits) + "; "
            suspended = density.get("suspended")
            if suspended:
                met = suspended["fit"] >= 50
                sentence += (f"with scale to zero a sleeping project costs only its share of the service and PgBouncer "
                             f"(≤ {fmt_bytes(suspended['each'])}), which puts the limit at {suspended['fit']:,} projects: the "
                             f"target of 50 is {'met' if met else 'not met'}. The memory then goes to the projects that are "
                             "awake")
                awake = density.get("awake_of_50")
                if awake and awake["count"] >= 50:
                    sentence += ": 50 projects fit even if all of them are awake at once"
                elif awake:
                    sentence += f": of 50 projects, {awake['count']} can be awake at once"
                sentence += ". "
            warm = (density.get("podman") or density.get("process") or {}).get("warm")
            if warm:
                sentence += (f"These are fresh branches: one whose `shared_buffers` have been used holds more "
                             f"({fmt_bytes(warm['branch'])} here), which lowers the all-running figure to {warm['fit']:,}.")
            paragraphs.append(sentence.strip())
        for runtime in ("podman", "process"):
            resume = containers.get(runtime, {}).get("resume")
            if not self.ok(resume):
                continue
            wall = statistics.median(resume["wall"])
            server = statistics.median(resume["server"]) if resume["server"] else None
            reference = statistics.median(resume["reference"]) if resume["reference"] else None
            text = (f"Resume ({runtime}): a client connecting to a suspended branch got its answer after a median "
                    f"{fmt_ms(wall)} (target ≤ 1 s: {'met' if wall <= 1000 else 'not met'}; p95 "
                    f"{fmt_ms(percentile(resume['wall'], 0.95))})")
            if reference:
                text += f", against {fmt_ms(reference)} for the same psql on a running branch"
            if server is not None:
                text += (f". Starting the server took {fmt_ms(server)} of that (the service's `ready in`); the rest "
                         "is the client's own connection work, the service noticing the waiting client (it polls "
                         "PgBouncer's `SHOW POOLS` every 50 ms) and PgBouncer reconnecting once the entry is resumed")
            paragraphs.append(text + ".")
        return paragraphs

    def interpretation_backups(self):
        b = self.b
        paragraphs = []
        scales = b.results["scales"]
        if "backup" in b.parts:
            for scale in b.scales:
                backup = scales.get(scale, {}).get("backup", {})
                if not backup:
                    continue
                own = self.backup_throughput(backup, "branch", "backup")
                own_restore = self.backup_throughput(backup, "branch", "restore")
                if not own:
                    continue
                ratios = self.backup_ratios(backup)
                text = f"Backups at {self.size_label(scale)}: Branch backed up at {fmt_rate(own)}"
                if ("pgbackrest", "backup") in ratios:
                    text += (f", {fmt_ratio(ratios[('pgbackrest', 'backup')])} pgBackRest's throughput at the same "
                             "compression (zstd 3) with encryption on both")
                if ("basebackup_zstd", "backup") in ratios:
                    text += f" and {fmt_ratio(ratios[('basebackup_zstd', 'backup')])} that of `pg_basebackup | zstd`"
                if own_restore:
                    text += f"; it restored at {fmt_rate(own_restore)}"
                    if ("pgbackrest", "restore") in ratios:
                        text += f" ({fmt_ratio(ratios[('pgbackrest', 'restore')])} pgBackRest's"
                        if ("basebackup_zstd", "restore") in ratios:
                            text += f", {fmt_ratio(ratios[('basebackup_zstd', 'restore')])} `zstd -d | tar -x`'s"
                        text += "), and its restore includes starting the branch"
                branch = backup.get("branch", {})
                if isinstance(branch, dict) and branch.get("backup"):
                    peak = max(run["peak"] for run in branch["backup"])
                    restore_peak = max((run["peak"] for run in branch.get("restore", [])), default=None)
                    text += (f". The service's memory rose by at most {fmt_bytes(peak)} during a backup"
                             + (f" and {fmt_bytes(restore_peak)} during a restore" if restore_peak is not None else ""))
                    other = backup.get("pgbackrest")
                    if isinstance(other, dict) and other.get("backup"):
                        text += f" (pgBackRest's processes peaked at {fmt_bytes(max(run['peak'] for run in other['backup']))})"
                paragraphs.append(text + ".")
            # Incremental, from the largest size that has it.
            for scale in reversed(b.scales):
                backup = scales.get(scale, {}).get("backup", {})
                incremental = backup.get("incremental")
                full = self.branch_full_stored(backup)
                if not isinstance(incremental, dict) or not incremental.get("changes") or not full:
                    continue
                changes = {change["label"]: change for change in incremental["changes"]}
                spread, contiguous = changes.get("spread", {}), changes.get("contiguous", {})
                other_full = self.pgbackrest_full_stored(backup)
                text = f"Incrementals ({self.size_label(scale)}): "
                if "stored" in spread.get("branch", {}):
                    per_page = incremental["tuples"] / incremental["pages"] if incremental.get("pages") else 0
                    text += (f"changing every 100th row (1% of the rows) gave an incremental of "
                             f"{fmt_percent(spread['branch']['stored'] / full)} of the full, because about {per_page:.0f} "
                             f"rows share a page, so {fmt_percent(spread['page_share'])} of the table's pages hold a "
                             "changed row; Postgres rewrites whole 8 kB pages (the new row versions also go to other pages "
                             "and the index is updated), writes the WAL of the change with a full-page image of every "
                             f"page it touches first after a checkpoint ({fmt_bytes(spread['wal'])} here), and `btrfs send` "
                             "ships every extent that changed since the previous backup's snapshot: the rewritten table and "
                             "index pages and whatever WAL segments are in `pg_wal` then. ")
                    if "stored" in spread.get("pgbackrest", {}) and other_full:
                        text += (f"pgBackRest's incremental was {fmt_percent(spread['pgbackrest']['stored'] / other_full)} "
                                 "of its full: version 2.45 copies every file that changed, and every 1 GB segment of the "
                                 "table did. ")
                if "stored" in contiguous.get("branch", {}):
                    text += (f"A contiguous 1% touches about 1% of the pages (plus the pages the new versions go to): "
                             f"Branch's incremental was {fmt_percent(contiguous['branch']['stored'] / full)} of the full")
                    if "stored" in contiguous.get("pgbackrest", {}) and other_full:
                        text += f", pgBackRest's {fmt_percent(contiguous['pgbackrest']['stored'] / other_full)}"
                    text += ". So Branch's incremental follows the pages changed, not the rows: proportional to the change "
                    text += "as Postgres writes it."
                paragraphs.append(text.strip())
                break
        pitr = b.results.get("pitr")
        if "pitr" in b.parts and isinstance(pitr, dict) and pitr.get("points"):
            xs, ys = [], []
            for point in pitr["points"]:
                for value in point.get("wall", []):
                    xs.append(point["wal_bytes"] / GIB)
                    ys.append(value)
            fit = linear_fit(xs, ys)
            first, last = pitr["points"][0], pitr["points"][-1]
            if fit and first.get("wall") and last.get("wall"):
                intercept, slope = fit
                text = (f"Point in time: with nothing to replay a point-in-time branch took "
                        f"{fmt_ms(statistics.median(first['wall']))}; with {fmt_bytes(last['wal_bytes'])} of WAL since the "
                        f"snapshot, {fmt_ms(statistics.median(last['wall']))}.")
                if slope > 0:
                    text += (f" The time grows with the WAL to replay, about {fmt_ms(slope)} per GiB on a least-squares "
                             "line: the replay (each archived segment decompressed by the restore command, then applied) "
                             "is the cost, so the snapshot schedule bounds it (a point-in-time branch replays from the "
                             "newest snapshot before its instant).")
                paragraphs.append(text)
        return paragraphs

    def interpretation_diff(self):
        b = self.b
        diff = b.results.get("diff")
        if "diff" not in b.parts or not isinstance(diff, dict) or not diff.get("stages"):
            return []
        parts = []
        for stage in diff["stages"]:
            branch, naive = self.diff_times(stage)
            if branch is None:
                continue
            text = f"{stage['changes']:,} changed rows: Branch {fmt_ms(branch)}"
            if naive:
                text += f" against {fmt_ms(naive)} for the naive comparison (which took {fmt_ratio(naive / branch)} as long)"
            runs = stage["branch"]
            received = statistics.median(run["bytes_first"] + run["bytes_second"] for run in runs)
            text += f", reading {fmt_bytes(received)} from the two servers"
            if isinstance(stage.get("naive"), dict) and "bytes_first" in stage["naive"]:
                text += f" (naive: {fmt_bytes(stage['naive']['bytes_first'] + stage['naive']['bytes_second'])})"
            text += f", the service's memory up by at most {fmt_bytes(max(run['peak'] for run in runs))}"
            parts.append(text)
        paragraphs = []
        if parts:
            checksums = ("the checksum bisection reads checksums of key ranges and only the rows of ranges that "
                         "differ, so its bytes follow the number of differing ranges, not the table; its time still "
                         "includes at least one full scan of each side (Postgres hashes every row's text form), and each "
                         "further level of bisection scans the differing ranges again, so changes spread over the whole "
                         "table cost more passes than the same number of changes close together")
            settings = diff.get("settings") or {}
            if "tupleLimit" in settings:
                how = (f"Branch compares the heap files page by page and tuple by tuple in the service and asks the "
                       f"servers only about the tuples that differ; with more than {settings['tupleLimit']:,} such "
                       f"tuples it falls back to "
                       f"checksums, and {checksums}.")
            else:
                how = f"In this build {checksums}."
            paragraphs.append(f"Row-level diff at scale {diff['scale']} ({(diff.get('rows') or 0):,} rows): " + "; ".join(parts)
                              + ". " + how)
        last = diff["stages"][-1]
        if last.get("summary") and last.get("branch"):
            summary = statistics.median(run["wall"] for run in last["summary"])
            full = statistics.median(run["wall"] for run in last["branch"])
            paragraphs.append(f"With `\"summary\": true` the {last['changes']:,}-row diff took {fmt_ms(summary)} against "
                              f"{fmt_ms(full)} with every row streamed: a summary hashes the rows of the differing ranges "
                              "but never reads them whole.")
        merges = diff.get("merges") or []
        if merges:
            server = [merge["server"] for merge in merges if merge.get("server") is not None]
            paragraphs.append(f"Merging {merges[0]['rows']:,} non-conflicting row changes into main took a median "
                              f"{fmt_ms(statistics.median(merge['wall'] for merge in merges))}"
                              + (f" (server {fmt_ms(statistics.median(server))})" if server else "")
                              + ", including the undo snapshot, a throw-away Postgres on the base snapshot and the diff "
                              "of base against source.")
        return paragraphs

    def runtimes_by_part(self):
        described = []
        for service in self.b.services:
            if service["parts"]:
                described.append(f"{service['runtime']} ({', '.join(service['parts'])})")
        return ", ".join(dict.fromkeys(described)) or self.b.runtime_name

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
                    runtime = b.services[0]["runtime"] if b.services else b.runtime_name
                    where = "a container" if runtime in ("podman", "docker") else "a process"
                    text += (f" (starting Postgres on the clone in {where} ({runtime}), including its short crash "
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
        paragraphs += self.interpretation_containers()
        paragraphs += self.interpretation_backups()
        paragraphs += self.interpretation_diff()
        missed = [label for label, _, _, met, _ in self.targets() if met is False]
        if missed:
            paragraphs.append("Targets not met in this run: " + "; ".join(missed) + ".")
        elif all(met is True or met == "info" for _, _, _, met, _ in self.targets()):
            paragraphs.append("Every target was met in this run.")
        sizes = [entry.get("data", {}).get("database_bytes") or 0 for entry in scales.values()]
        if "diff" in b.parts and isinstance(b.results.get("diff"), dict) and b.results["diff"].get("database_bytes"):
            sizes.append(b.results["diff"]["database_bytes"])
        memory = b.machine_info.get("memory") or 0
        if sizes and memory and max(sizes) < 0.6 * memory:
            cache = ("Every data set fits in this machine's memory, so the full copies mostly read from the page cache; "
                     "on a cold cache or a database larger than memory they would be slower still, while Branch copies "
                     "no data.")
        else:
            cache = ("The largest data set is a sizeable part of this machine's memory, so the full copies partly read "
                     "from disk.")
        paragraphs.append(
            f"Caveats: branch servers ran as {self.runtimes_by_part()}; this is a `{b.configuration}` build on a shared {b.machine_info['nproc']}-CPU machine, so absolute "
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
    "until pg_ctl reports the server ready. Branch's `pg_hba.conf` allows `local replication postgres trust` "
    "(builds before per-port socket directories did not: the entry is then added to main's for the measurement and "
    "removed right after).",
    "Branch servers' sockets: `<pool>/run/pg/<port>` (one directory per port); the superuser's SQL (CHECKPOINT, "
    "sizes, the 1% updates) goes over it as postgres.",
    "Parts: BENCH_PARTS picks some of `branch`, `pitr`, `diff`, `containers`, `backup` (default all, in that order). "
    "Projects loaded by the branch part are kept for the later parts, so each size is loaded once; the pitr and diff "
    "parts load projects of their own (BENCH_PITR_SCALE, BENCH_DIFF_SCALE) and delete them when done. The containers "
    "part restarts the service on the same pool (SIGTERM, then `branch serve` again with other options); the backup "
    "part runs with `--runtime process`.",
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


def linear_fit(xs, ys):
    """Least squares y = a + b·x; None with fewer than two distinct x."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope


def fmt_load(load):
    return " / ".join(f"{value:.2f}" for value in load)


def install_signal_handlers():
    def handler(signum, _frame):
        raise Interrupted(f"stopped by {signal.Signals(signum).name}")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def render_saved(path):
    """Re-renders the document from a BENCH_STATE file (for working on the report)."""
    with open(path, "rb") as handle:
        state = pickle.load(handle)
    bench = Bench.__new__(Bench)
    vars(bench).update(state)
    output = os.environ.get("BENCH_OUTPUT", "").strip()
    if output:
        bench.output = output if os.path.isabs(output) else os.path.join(REPO, output)
    report = Report(bench).render()
    with open(bench.output, "w") as handle:
        handle.write(report)
    log(f"wrote {bench.output} from {path}")
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        return render_saved(sys.argv[2])
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
