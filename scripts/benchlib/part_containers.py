"""The containers part: branch ready with `--runtime podman` and `--runtime process` on the same pool
(the service restarted in between), the memory of idle branches under both, the service's and
PgBouncer's own memory with many projects, scale to zero and the time a client connection takes to
resume a suspended branch; how many projects fit in 8 GB, computed from those. Its measurements, and
its sections of the document."""

import math
import os
import re
import shutil
import statistics
import subprocess
import time

from .common import (
    CONTAINER_PREFIX, GIB, MEASURED_NOTE, BenchError, Part, ReportBase, find_pids, fmt_bytes, fmt_ms, fmt_ratio, log,
    percentile, pss_of, read_proc, status_kb, step_medians, verdict,
)
from .service import Service

# The memory budget the density figures are computed for.
DENSITY_BUDGET = 8 * GIB


class ContainersBench(Service):
    """The containers part's measurements (a mixin of Bench). Branch create is the branch part's
    `bench_branch_create`."""

    def measure_containers(self):
        try:
            self.bench_containers()
        except Exception as error:  # noqa: BLE001 - what was measured is kept
            self.failed(f"containers: {error}", during="the containers part")

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


class ContainersReport(ReportBase):
    """The containers part's sections of the document (a mixin of Report)."""

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

    def targets_containers(self):
        rows, b = [], self.b
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
        return rows

    def notes_containers(self):
        return [MEASURED_NOTE]

    def render_containers(self):
        b = self.b
        containers = b.results.get("containers", {})
        scale = containers.get("scale", b.scales[0])
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

    def command_containers(self):
        b = self.b
        return (f" BENCH_IDLE_PROJECTS={b.idle_projects} BENCH_SUSPEND_PROJECTS={b.suspend_projects}"
                f" BENCH_RESUMES={b.resumes}")

    def raw_values_containers(self):
        b, raw = self.b, []
        containers = b.results.get("containers", {})
        for runtime in ("podman", "process"):
            entry = containers.get(runtime, {})
            if self.ok(entry.get("branch")):
                raw.append((f"branch create ({runtime}), wall, scale {containers.get('scale')}", entry["branch"]["wall"]))
            if self.ok(entry.get("resume")):
                raw.append((f"resume psql ({runtime})", entry["resume"]["wall"]))
                raw.append((f"resume, server ready in ({runtime})", entry["resume"]["server"]))
                raw.append((f"psql through the pooler, running branch ({runtime})", entry["resume"]["reference"]))
        return raw

    def raw_details_containers(self):
        lines = []
        containers = self.b.results.get("containers", {})
        for runtime in ("podman", "process"):
            idle = containers.get(runtime, {}).get("idle")
            if isinstance(idle, dict) and idle.get("memory"):
                lines.append(f"- idle branch memory ({runtime}), bytes: " + ", ".join(str(value) for value in idle["memory"]))
        return lines


PART = Part("containers", ContainersBench, ContainersReport,
            chapter="Containers: podman versus plain processes, density, scale to zero")
