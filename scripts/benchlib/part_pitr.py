"""The pitr part: point-in-time branches (`from main, at <instant>`) of a project loaded with
`pgbench -i -s BENCH_PITR_SCALE`, after stages of pgbench (BENCH_PITR_STAGES) since a snapshot:
creation time against the WAL to replay. Its measurements, and its sections of the document."""

import datetime
import math
import statistics
import time

from .common import GIB, MIB, BenchError, Part, ReportBase, fmt_bytes, fmt_ms, fmt_rate, linear_fit, log
from .service import Service


class PitrBench(Service):
    """The pitr part's measurements (a mixin of Bench)."""

    def measure_pitr(self):
        self.ensure_service("pitr")
        self.section("point-in-time branches", self.results, "pitr", self.bench_pitr)

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


class PitrReport(ReportBase):
    """The pitr part's sections of the document (a mixin of Report)."""

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

    def interpretation_pitr(self):
        b = self.b
        paragraphs = []
        pitr = b.results.get("pitr")
        if isinstance(pitr, dict) and pitr.get("points"):
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

    def command_pitr(self):
        b = self.b
        return (f" BENCH_PITR_SCALE={b.pitr_scale} BENCH_PITR_STAGES=\"{' '.join(map(str, b.pitr_stages))}\""
                f" BENCH_PITR_RUNS={b.pitr_runs}")

    def raw_values_pitr(self):
        b, raw = self.b, []
        pitr = b.results.get("pitr")
        if isinstance(pitr, dict):
            for index, point in enumerate(pitr.get("points", [])):
                if point.get("wall"):
                    raw.append((f"point-in-time branch, instant {index} ({fmt_bytes(point['wal_bytes'])} of WAL), wall",
                                point["wall"]))
        return raw


# The backup part's chapter too: with both parts, the pitr section follows the backups under one heading.
PART = Part("pitr", PitrBench, PitrReport, chapter="Backups, restores and point-in-time branches")
