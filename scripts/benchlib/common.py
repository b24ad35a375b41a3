"""What the parts of the benchmarks share (scripts/bench.py, scripts/benchlib/): errors and logging,
settings from the environment, statistics and formatting, processes and ports, memory sampling,
signal handling, the record of a part (Part) and the document's building blocks (ReportBase)."""

import datetime
import io
import math
import os
import random
import re
import signal
import socket
import statistics
import sys
import threading
import time

# scripts/benchlib/common.py: the repository is three levels up.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1 << 20
GIB = 1 << 30
# pgbench tables plus indexes per unit of scale, measured on Postgres 15 (used only for sizing).
BYTES_PER_SCALE = 16 * MIB
CONTAINER_PREFIX = "branch-bench"
# Processes the clean-up may kill when they mention the bench directory (never anything else).
KILLABLE = {
    "postgres", "postmaster", "pgbouncer", "branch", "pg_basebackup", "pg_ctl", "createdb", "dropdb",
    "psql", "pgbench", "runuser", "pgbackrest", "zstd", "tar", "sync",
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


def install_signal_handlers():
    def handler(signum, _frame):
        raise Interrupted(f"stopped by {signal.Signals(signum).name}")
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


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


def fmt_load(load):
    return " / ".join(f"{value:.2f}" for value in load)


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


def verdict(value, limit):
    return None if value is None else value <= limit


def linear_fit(xs, ys):
    """Least squares y = a + b·x; None with fewer than two distinct x."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope


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
    """`size` free ports in a row, starting at a multiple of 100 between 30000 and 39000."""
    for _ in range(50):
        base = random.randrange(30000, 39000, 100)
        if all(port_is_free(port) for port in range(base, base + size)):
            return base, base + size - 1
    raise BenchError(f"found no range of {size} free ports between 30000 and 39000")


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


class Sampler:
    """Calls `sample()` every `interval` seconds in a thread while a `with` block runs."""

    def __init__(self, interval):
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def sample(self):
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=30)
        return False


class PeakSampler(Sampler):
    """Polls the summed VmRSS of the processes `pids()` returns, every `interval` seconds, in a
    thread; `peak` is the largest sum seen. Used as `with PeakSampler(...) as sampler:`."""

    def __init__(self, pids, interval=0.1, guard=None):
        super().__init__(interval)
        self.pids, self.guard = pids, guard
        self.peak, self.samples = 0, 0

    def sample(self):
        try:
            total = sum(status_kb(pid, "VmRSS") or 0 for pid in self.pids())
        except Exception:  # noqa: BLE001 - a process vanishing mid-scan is normal
            total = 0
        self.peak = max(self.peak, total)
        self.samples += 1
        if self.guard:
            self.guard(total)


class ApiProbe(Sampler):
    """While heavy work runs, asks the service a cheap question (`call()`) every `interval` seconds
    in a thread and keeps how long each answer took, in ms: the API must stay responsive whatever
    the engine does (the slowest answer is a target). Used as `with ApiProbe(...) as probe:`;
    `probe.summary()` gives n, median and max."""

    def __init__(self, call, interval=0.1):
        super().__init__(interval)
        self.call = call
        self.latencies, self.failures = [], 0

    def sample(self):
        started = time.perf_counter()
        try:
            self.call()
            self.latencies.append((time.perf_counter() - started) * 1000)
        except Exception:  # noqa: BLE001 - counted; a failed answer is reported, not fatal
            self.failures += 1

    def summary(self):
        values = sorted(self.latencies)
        if not values:
            return {"n": 0, "failures": self.failures}
        return {"n": len(values), "median": values[len(values) // 2], "max": values[-1], "failures": self.failures}


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


def tail_of(path, lines=15):
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:]).strip()
    except OSError as error:
        return f"({path}: {error.strerror})"


# ---------------------------------------------------------------- parts and the document


class Part:
    """One part of the benchmarks: a module part_<name>.py, listed in benchlib/parts.py.

    `name` is the part's name in BENCH_PARTS. `bench` is its mixin of Bench (a subclass of
    Service): `measure_<name>()` runs the part, the rest are its measurements; results go into
    `self.results`, and whatever the document needs must be in Bench's attributes (BENCH_STATE
    saves them). `report` is its mixin of Report (a subclass of ReportBase): `render_<name>()`
    writes the part's sections under the heading `## <chapter>` (parts that share a chapter, as
    pitr and backup do, get the heading once), and any of these add to the shared sections:
    `targets_<name>()` rows (label, goal, value, met, formatter), `notes_<name>()` paragraphs under
    the targets, `interpretation_<name>()` paragraphs, `command_<name>()` the part's settings for
    the command line, `raw_values_<name>()` (label, values in ms) and `raw_details_<name>()` lines of
    the list of all runs. The report calls them only for the parts that ran, in the order that
    report.SECTION_ORDER gives for each section."""

    def __init__(self, name, bench, report, chapter):
        self.name, self.bench, self.report, self.chapter = name, bench, report, chapter

    def hook(self, owner, kind):
        """`owner`'s method `<kind>_<name>` (owner: a Bench or a Report), or None."""
        return getattr(owner, f"{kind}_{self.name}", None)


# Under the targets, written once when the containers or the backup part ran (both give it).
MEASURED_NOTE = ("The density figure is computed from measured memory (see its section); throughput is the database's "
                 "size (`pg_database_size`) divided by the wall time; incremental sizes are stored bytes after "
                 "compression and encryption.")


class ReportBase:
    """What every part's sections are written with: `self.b` is the Bench (or a Bench restored from a
    BENCH_STATE file), `self.lines` the document so far."""

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
