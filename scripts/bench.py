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
  (default 100: 10 M rows in pgbench_accounts): branch `b` from main, then 0, 100, 100 000 and 3 000 000
  rows of pgbench_accounts changed on `b` (cumulative, random distinct aids over the whole table).
  For each stage `POST …/diff {"from":"main","to":"b"}` read to the end of its NDJSON stream
  (BENCH_DIFF_RUNS times): wall time, the `end` line's durationMs, bytes from each server and
  rowsChanged (checked), and the service's peak RSS during the request (sampled every 20 ms) above
  its RSS before; `"summary": true` at the last stage; against the naive comparison: `psql -c "COPY
  (SELECT * FROM pgbench_accounts ORDER BY aid) TO STDOUT"` on both branches, streamed and compared
  line by line here. Then BENCH_DIFF_MERGES merges of 10 000 non-conflicting row changes (branch
  `m` from main, rows updated on it, `POST …/merge {"source":"m","into":"main"}`): wall time,
  operation.durationMs, the plan (10 000 updates) and applied=true checked.
* rest: the data API against the same statements sent as SQL (scripts/benchlib/part_rest.py): wrk
  at 64 connections over keep-alive on a 1 M-row table (GET by primary key, a filtered list of 100
  rows, a single-row insert) beside pgbench -M prepared on the branch's own port and through the
  pooler; the service's RSS sampled every second over a 60 s run.
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
BENCH_PITR_SCALE, BENCH_PITR_STAGES, BENCH_PITR_RUNS, BENCH_DIFF_SCALE, BENCH_DIFF_RUNS, BENCH_DIFF_MERGES,
BENCH_REST_ROWS, BENCH_REST_SECONDS, BENCH_REST_MEMORY_SECONDS, BENCH_REST_CONNECTIONS
(see scripts/bench.sh).

The code: this file reads the settings, runs the parts and writes the document, or rewrites it from
the results a run saved (BENCH_STATE=FILE, then `scripts/bench.py --render FILE`). The rest is in
scripts/benchlib/: common.py (errors, logging, statistics, formatting, processes, memory sampling),
service.py (the throw-away `branch serve` and what every part does around it), one module per part,
part_<name>.py, with its measurements and its sections of the document (listed in parts.py), and
report.py (the document's shared sections).
"""

import datetime
import os
import pickle
import sys
import time
import urllib.request

# Run as root from the work tree: no __pycache__ of root's in scripts/benchlib/.
sys.dont_write_bytecode = True

from benchlib.common import REPO, BenchError, Interrupted, env_int, install_signal_handlers, is_mounted, log  # noqa: E402
from benchlib.parts import PARTS  # noqa: E402
from benchlib.report import Report  # noqa: E402
from benchlib.service import RESERVED_PORTS  # noqa: E402

PART_NAMES = tuple(part.name for part in PARTS)


def parse_parts():
    raw = os.environ.get("BENCH_PARTS", "").strip()
    if not raw or raw == "all":
        return list(PART_NAMES)
    parts = {part.strip() for part in raw.replace(" ", ",").split(",") if part.strip()}
    unknown = parts - set(PART_NAMES)
    if unknown:
        raise BenchError(f"BENCH_PARTS: unknown part(s) {sorted(unknown)}; use some of {', '.join(PART_NAMES)}")
    return [part for part in PART_NAMES if part in parts]


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


class Bench(*(part.bench for part in PARTS)):
    """One run: the settings (read here from the environment), the service and what was measured.
    Each part's measurements are its mixin's (benchlib/part_<name>.py), the service's come from
    benchlib/service.py. BENCH_STATE saves the attributes; `--render` restores them."""

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
            for part in PARTS:
                if part.name in self.parts:
                    part.hook(self, "measure")()
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
