"""The branch part: project create on the empty service; for each pgbench scale (BENCH_SCALES), on a
project loaded with `pgbench -i`, branch create until the branch accepts connections, snapshot
create, and the full copies it is compared with: `createdb -T` and `pg_basebackup` plus starting a
Postgres on the copy. Its measurements, and its sections of the document."""

import os
import shutil
import statistics
import time

from .common import (
    BenchError, Part, ReportBase, fmt_ms, fmt_ratio, free_port, log, percentile, step_medians, tail_of, verdict,
)
from .service import Service


class BranchBench(Service):
    """The branch part's measurements (a mixin of Bench). The containers part measures branch create
    with `bench_branch_create` too."""

    def measure_branch(self):
        self.ensure_service("branch")
        self.section("project create", self.results, "project_create", self.bench_project_create)
        for scale in self.scales:
            self.bench_scale(scale)

    def bench_scale(self, scale):
        entry = self.results["scales"].setdefault(scale, {"scale": scale})
        try:
            # No CHECKPOINT after the load: the first branch is taken right after it and counts
            # among the runs, as it would for a user who imports data and branches at once.
            info = self.project(scale, settle=False)
            self.section(f"branch create at scale {scale}", entry, "branch", self.bench_branch_create, info, scale)
            self.section(f"snapshot create at scale {scale}", entry, "snapshot", self.bench_snapshot_create, info, scale)
            self.section(f"createdb -T at scale {scale}", entry, "createdb", self.bench_createdb, info, scale)
            self.section(f"pg_basebackup at scale {scale}", entry, "basebackup", self.bench_basebackup, info, scale)
        except Exception as error:  # noqa: BLE001 - the next size still runs
            self.failed(f"scale {scale}: {error}", during=f"the measurements at scale {scale}")
        finally:
            # Later parts use the loaded data; without them, free the space before the next size.
            needed = "backup" in self.parts or ("containers" in self.parts and scale == self.scales[0])
            if not needed:
                self.drop_project(scale)

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

    def bench_branch_create(self, info, scale):
        project = info["name"]
        # Run 1 comes right after the bulk load when this part loaded the project.
        after_load = info.pop("fresh", False)
        log(f"scale {scale}: branch create, {self.runs} runs" + (" (run 1 right after the load)" if after_load else ""))
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
        return {"wall": wall, "server": server, "first_query": first_query, "steps": steps, "after_load": after_load}

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
        self.run(["btrfs", "filesystem", "sync", self.pool], check=False)  # the dropped copies' space back now
        return {"wall": wall, "first_query": first_query}

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
            # Btrfs gives the space of deleted files back when its transaction commits (every 30 s):
            # commit now, or the next part's writes may find the pool full (seen at scale 680).
            self.run(["btrfs", "filesystem", "sync", self.pool], check=False)
        return {"wall": total, "backup": backup, "start": start, "first_query": first_query}


class BranchReport(ReportBase):
    """The branch part's sections of the document (a mixin of Report)."""

    def targets_branch(self):
        rows, b = [], self.b
        scales = b.results["scales"]
        branch_medians = {}
        for scale in b.scales:
            series = scales.get(scale, {}).get("branch")
            median = self.median(series)
            branch_medians[scale] = median
            rows.append((f"Branch ready, median, {self.size_label(scale)}", "≤ 250 ms", median, verdict(median, 250), fmt_ms))
            spread = percentile(series["wall"], 0.95) / median if median else None
            counted = " (run 1 right after the load counted)" if self.ok(series) and series.get("after_load") else ""
            rows.append((f"Branch ready, p95 / median, {self.size_label(scale)}{counted}", "≤ 1.5×", spread,
                         verdict(spread, 1.5), fmt_ratio))
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
        return rows

    def notes_branch(self):
        return ["Branch ready is the client's wall time of `POST /api/v1/projects/{p}/branches`, which returns only "
                "once the branch accepts connections. Project and snapshot create are client wall times of their POSTs.",
                "At each size the first branch create runs right after `pgbench -i` returns, with no CHECKPOINT in "
                "between, and counts among the runs: the p95 target covers the branch a user takes right after a bulk load."]

    def render_branch(self):
        b = self.b
        results = b.results
        scales = results["scales"]
        # Main table.
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

    def interpretation_branch(self):
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
        after = []
        for scale in b.scales:
            branch = scales.get(scale, {}).get("branch")
            if self.ok(branch) and branch.get("after_load") and len(branch["wall"]) > 1:
                rest = statistics.median(branch["wall"][1:])
                after.append(f"at {self.size_label(scale)} the branch taken right after the load took "
                             f"{fmt_ms(branch['wall'][0])} against a median of {fmt_ms(rest)} for the later ones "
                             f"({fmt_ratio(branch['wall'][0] / rest)})")
        if after:
            paragraphs.append("Right after a bulk load: " + "; ".join(after) + ". The service pre-pays a load's "
                              "writeback and checkpoint in the background (`branch serve --prepay-threshold`), so "
                              "the first branch does not pay for writing the load to disk.")
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
        return paragraphs

    def raw_values_branch(self):
        b, raw = self.b, []
        results = b.results
        scales = results["scales"]
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
        return raw

    def raw_details_branch(self):
        b, lines = self.b, []
        scales = b.results["scales"]
        for scale in b.scales:
            branch = scales.get(scale, {}).get("branch")
            if self.ok(branch):
                lines.append(f"- branch create server steps, scale {scale}:")
                for index, steps in enumerate(branch["steps"]):
                    lines.append(f"  - run {index + 1}: " + ", ".join(f"{step['name']} {step['ms']:.1f}" for step in steps))
        return lines


PART = Part("branch", BranchBench, BranchReport, chapter="Branch ready versus full copies")
