"""The diff part: row-level diff of two branches of one project loaded with `pgbench -i -s
BENCH_DIFF_SCALE`, after 0, 100, 100 000 and 3 000 000 rows of pgbench_accounts changed on one of them, against
the naive comparison (COPY of both tables, compared line by line); the summary diff; merges of
10 000 non-conflicting row changes. Its measurements, and its sections of the document."""

import io
import itertools
import json
import os
import random
import re
import resource
import statistics
import subprocess
import time
import urllib.error
import urllib.request

from .common import (
    ApiProbe,
    REPO, BenchError, CountingPipe, Part, PeakSampler, ReportBase, fmt_bytes, fmt_ms, fmt_ratio, io_field, log,
    status_kb, step_medians, verdict,
)
from .service import Service

# Rows of pgbench_accounts changed on the diff part's branch `b`, cumulative stages.
DIFF_STAGES = (0, 100, 100000, 3000000)
# The stage whose summary diff is measured too.
SUMMARY_STAGE = 100000
# The slowest API answer allowed while a diff, a backup or a restore runs (ms).
API_LATENCY_LIMIT_MS = 300
# Rows changed on the merged branch per merge.
MERGE_ROWS = 10000
# RowDiffSettings' defaults (Sources/BranchDiff/RowDiff.swift), read from the source at run time when it is there.
DIFF_SETTINGS = {"firstSegments": 64, "fanout": 16, "fetchThreshold": 2000, "smallTable": 4000}
# How often the diff part samples VmRSS, in seconds.
DIFF_SAMPLE_INTERVAL = 0.02
# A diff or merge that took longer than this (ms) is not repeated (BENCH_DIFF_RUNS, BENCH_DIFF_MERGES).
DIFF_SLOW_MS = 120000


class DiffBench(Service):
    """The diff part's measurements (a mixin of Bench)."""

    def measure_diff(self):
        self.ensure_service("diff")
        try:
            self.bench_diff()
        except Exception as error:  # noqa: BLE001 - what was measured is kept
            self.results.setdefault("diff", {})["error"] = str(error)
            self.failed(f"diff: {error}", during="the diff part")

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
                    # The first read of a changed row sets its hint bits, and with data checksums (as
                    # Branch's clusters have) the first hint on a page after a checkpoint writes the
                    # whole page to the WAL. Whichever method read first would pay for it (about 6 s at
                    # 100,000 changes), so both start after one read of the table, then a CHECKPOINT.
                    self.su_sql(b_port, "CHECKPOINT", timeout=3600)
                    started = time.perf_counter()
                    self.url_sql(b_url, "select sum(abalance) from pgbench_accounts")
                    self.su_sql(b_port, "CHECKPOINT", timeout=3600)
                    stage["hint_ms"] = (time.perf_counter() - started) * 1000
                    log(f"diff: {count:,} rows of b changed in all (update {fmt_ms(stage['update_ms'])}, then CHECKPOINT, "
                        f"a read of the table and CHECKPOINT: {fmt_ms(stage['hint_ms'])})")
                result["stages"].append(stage)

                def full(run, count=count):
                    outcome = self.diff_request(name, {"from": "main", "to": "b"})
                    self.check_diff(outcome, count, f"{count} changed rows, run {run + 1}")
                    log(f"  Branch diff {run + 1}/{self.diff_runs} ({count:,} changed): {fmt_ms(outcome['wall'])} "
                        f"(server {fmt_ms(outcome['server'])}), rowsChanged {outcome['rows_changed']}, "
                        f"{fmt_bytes(outcome['bytes_first'])} from main, {fmt_bytes(outcome['bytes_second'])} from b, "
                        f"peak +{fmt_bytes(outcome['peak'])}, slowest API answer meanwhile {fmt_ms(outcome['api'].get('max'))}")
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
                if count == min(SUMMARY_STAGE, rows):
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
                    self.failed(message)
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
            self.failed(f"merge {index + 1}: " + "; ".join(problems))
        log(f"  merge {index + 1}/{self.diff_merges} ({per_merge:,} rows): {fmt_ms(wall)} (server {fmt_ms(entry['server'])}), "
            f"applied {entry['applied']}, plan {plan}, peak +{fmt_bytes(entry['peak'])}")
        return entry

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
        with self.service_peak() as sampler, ApiProbe(self.probe_call(project)) as probe:
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
               "tables": [entry["table"] for entry in parsed if entry.get("type") == "table"], "api": probe.summary()}
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
            self.failed(f"diff, {what}: " + "; ".join(problems))

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
            log("service log, last lines:\n" + self.log_tail(20))
            self.failed(f"diff, {label}: {error}", during=f"the diff part ({label})")
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


class DiffReport(ReportBase):
    """The diff part's sections of the document (a mixin of Report)."""

    @staticmethod
    def diff_times(stage):
        """(Branch diff median wall ms, naive wall ms) of a diff stage; None where not measured."""
        if not isinstance(stage, dict):
            return None, None
        branch = statistics.median(run["wall"] for run in stage["branch"]) if stage.get("branch") else None
        naive = stage.get("naive")
        return branch, naive["wall"] if isinstance(naive, dict) and "wall" in naive else None

    def targets_diff(self):
        rows, b = [], self.b
        diff = b.results.get("diff") if isinstance(b.results.get("diff"), dict) else {}
        stages = {stage["changes"]: stage for stage in diff.get("stages", [])}
        scale = diff.get('scale', b.diff_scale)
        for count in DIFF_STAGES[:2]:
            label = f"Diff, {count:,} changed rows, scale {scale}"
            branch, naive = self.diff_times(stages.get(count))
            rows.append((f"{label}: Branch diff time (median)", "≤ 15 s", branch, verdict(branch, 15000), fmt_ms))
            ratio = naive / branch if naive and branch else None
            rows.append((f"{label}: naive time ÷ Branch diff time", "≥ 10× (faster than the naive comparison)", ratio,
                         None if ratio is None else ratio >= 10, fmt_ratio))
        branch, naive = self.diff_times(stages.get(SUMMARY_STAGE))
        ratio = naive / branch if naive and branch else None
        rows.append((f"Diff, {SUMMARY_STAGE:,} changed rows, scale {scale}: naive time ÷ Branch diff time",
                     "≥ 1.00× (at least as fast as the naive comparison)", ratio, None if ratio is None else ratio >= 1,
                     fmt_ratio))
        for count in DIFF_STAGES[2:]:
            slowest = self.slowest_api(stages.get(count, {}).get("branch"))
            rows.append((f"Slowest API answer during a diff of {count:,} changed rows", f"< {API_LATENCY_LIMIT_MS} ms",
                         slowest, verdict(slowest, API_LATENCY_LIMIT_MS), fmt_ms))
        return rows

    @staticmethod
    def slowest_api(runs):
        """The slowest `GET …/branches` ApiProbe saw during the given runs (ms), or None."""
        values = [run["api"]["max"] for run in runs or [] if isinstance(run, dict) and run.get("api", {}).get("n")]
        return max(values) if values else None

    def notes_diff(self):
        return ["A diff's time is the client's wall time of `POST /api/v1/projects/{p}/diff` until its NDJSON stream "
                "has been read to the end; the naive comparison copies both tables out and compares them line by "
                "line (see Row-level diff and merge)."]

    def render_diff(self):
        b = self.b
        diff = b.results.get("diff")
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
                 "random (seeded) over the whole table, cumulative from stage to stage, then `CHECKPOINT`, one read of the table "
                 "(`select sum(abalance)`: the first read of a changed row sets its hint bits, which with data checksums writes "
                 "each such page to the WAL once after a checkpoint; whichever method read first would pay that) and `CHECKPOINT` "
                 "again; before the first "
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
                 f"`\"summary\": true` (counts only) is timed the same way at the stage of {SUMMARY_STAGE:,} changed rows.")
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

    def command_diff(self):
        b = self.b
        return f" BENCH_DIFF_SCALE={b.diff_scale} BENCH_DIFF_RUNS={b.diff_runs} BENCH_DIFF_MERGES={b.diff_merges}"

    def raw_values_diff(self):
        b, raw = self.b, []
        diff = b.results.get("diff")
        if isinstance(diff, dict):
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
        return raw

    def raw_details_diff(self):
        b, lines = self.b, []
        diff = b.results.get("diff")
        if isinstance(diff, dict):
            for stage in diff.get("stages", []):
                for key in ("branch", "summary"):
                    for index, run in enumerate(stage.get(key) or []):
                        lines.append(f"- diff{' summary' if key == 'summary' else ''}, {stage['changes']:,} changed rows, run "
                                     f"{index + 1}: " + ", ".join(f"{name} {value}" for name, value in run.items()
                                                                  if name not in ("tables", "wall", "summary")))
                if isinstance(stage.get("naive"), dict):
                    lines.append(f"- naive, {stage['changes']:,} changed rows: "
                                 + ", ".join(f"{name} {value}" for name, value in stage["naive"].items()))
            for index, merge in enumerate(diff.get("merges") or []):
                lines.append(f"- merge {index + 1}: " + ", ".join(f"{name} {value}" for name, value in merge.items() if name != "steps")
                             + "; steps " + ", ".join(f"{step['name']} {step['ms']:.1f}" for step in merge.get("steps") or []))
        return lines


PART = Part("diff", DiffBench, DiffReport, chapter="Row-level diff and merge")
