"""The backup part: at each scale, Branch's encrypted backups and restores against pgBackRest (the
Debian package) and `pg_basebackup | zstd`: time, throughput, stored size, peak memory; incremental
size after changing 1% of the rows (spread over the table, then contiguous). Runs with `--runtime
process`. Its measurements, and its sections of the document."""

import json
import os
import pwd
import secrets
import shutil
import signal
import statistics
import time

from .common import (
    ApiProbe,
    BYTES_PER_SCALE, GIB, MEASURED_NOTE, BenchError, Part, PeakSampler, ReportBase, find_pids, fmt_bytes, fmt_ms,
    fmt_percent, fmt_rate, fmt_ratio, log, mem_available, status_kb, verdict,
)
from .service import Service

# Databases at least this large (estimated from the scale) get BENCH_BACKUP_RUNS_LARGE repetitions.
LARGE_BYTES = 4 * GIB


class BackupBench(Service):
    """The backup part's measurements (a mixin of Bench)."""

    def measure_backup(self):
        if "--backup-target" not in self.help_text:
            raise BenchError("this branch binary has no backups (serve --backup-target); rebuild it")
        # pgBackRest reads the data directory on the host and checks it against the path the
        # server reports: inside a container that is /branch/data, so branch servers run as processes.
        self.ensure_service("backup", runtime="process")
        for scale in self.scales:
            self.bench_backups(scale)

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
            self.failed(f"backups at scale {scale}: {error}", during=f"the backups at scale {scale}")
        finally:
            self.drop_project(scale)

    def bench_branch_backups(self, info, scale, runs):
        project = info["name"]
        backups, restores = [], []
        for index in range(runs):
            backup = self.branch_backup(project)
            if backup["kind"] != "full":
                raise BenchError(f"backup {backup['id']} is {backup['kind']}, expected a full backup")
            backups.append(backup)
            log(f"  Branch backup {index + 1}/{runs}: {fmt_ms(backup['wall'])}, raw {fmt_bytes(backup['raw'])}, stored "
                f"{fmt_bytes(backup['stored'])}, peak +{fmt_bytes(backup['peak'])}, "
                f"slowest API answer meanwhile {fmt_ms(backup['api'].get('max'))}")
            restore = self.branch_restore(backup["id"], project, f"bench-restore-{index + 1}", scale)
            restores.append(restore)
            log(f"  Branch restore {index + 1}/{runs}: {fmt_ms(restore['wall'])}, peak +{fmt_bytes(restore['peak'])}, "
                f"slowest API answer meanwhile {fmt_ms(restore['api'].get('max'))}")
            if index < runs - 1:
                self.api("DELETE", f"/api/v1/backups/{backup['id']}")  # the next one is full again
        return {"backup": backups, "restore": restores, "wall": [b["wall"] for b in backups]}

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
        with PeakSampler(self.branch_pids, guard=self.memory_guard("the backup")) as sampler, \
                ApiProbe(self.probe_call(project)) as probe:
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
                "id": backup["id"], "kind": backup["kind"], "peak": peak - baseline, "baseline": baseline,
                "api": probe.summary()}

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
        with PeakSampler(self.branch_pids, guard=self.memory_guard("the restore")) as sampler, \
                ApiProbe(self.probe_call(project)) as probe:
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
                "baseline": baseline, "api": probe.summary()}

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


class BackupReport(ReportBase):
    """The backup part's sections of the document (a mixin of Report)."""

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

    def targets_backup(self):
        rows, b = [], self.b
        scales = b.results["scales"]
        for scale in b.scales:
            backup = scales.get(scale, {}).get("backup", {})
            ratios = self.backup_ratios(backup)
            for key, what in (("backup", "Backup"), ("restore", "Restore")):
                value = ratios.get(("pgbackrest", key))
                rows.append((f"{what} throughput, Branch ÷ pgBackRest, {self.size_label(scale)}", "≥ 1.00×", value,
                             None if value is None else value >= 1, fmt_ratio))
            branch = backup.get("branch") if isinstance(backup.get("branch"), dict) else {}
            for key, what in (("backup", "a Branch backup"), ("restore", "a Branch restore")):
                values = [run["api"]["max"] for run in branch.get(key, []) if run.get("api", {}).get("n")]
                slowest = max(values) if values else None
                rows.append((f"Slowest API answer during {what}, {self.size_label(scale)}", "< 300 ms", slowest,
                             verdict(slowest, 300), fmt_ms))
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
                                 share, "info (see Incremental)" if share is not None else None, fmt_percent))
        return rows

    def notes_backup(self):
        return [MEASURED_NOTE]

    def render_backup(self):
        b = self.b
        scales = b.results["scales"]
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

    def interpretation_backup(self):
        b = self.b
        paragraphs = []
        scales = b.results["scales"]
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
        return paragraphs

    def command_backup(self):
        b = self.b
        return f" BENCH_BACKUP_RUNS={b.backup_runs} BENCH_BACKUP_RUNS_LARGE={b.backup_runs_large}"

    def measured_backup_series(self):
        """(scale, its results, method, the method's series) for every method with backups measured."""
        scales = self.b.results["scales"]
        for scale in self.b.scales:
            backup = scales.get(scale, {}).get("backup", {})
            for method in ("branch", "pgbackrest", "basebackup_zstd"):
                series = backup.get(method)
                if isinstance(series, dict) and series.get("backup"):
                    yield scale, backup, method, series

    def raw_values_backup(self):
        raw = []
        for scale, _, method, series in self.measured_backup_series():
            raw.append((f"{method} backup, wall, scale {scale}", [run["wall"] for run in series["backup"]]))
            raw.append((f"{method} restore, wall, scale {scale}", [run["wall"] for run in series.get("restore", [])]))
        return raw

    def raw_details_backup(self):
        b, lines = self.b, []
        for scale, _, method, series in self.measured_backup_series():
            lines.append(f"- {method} backups, scale {scale}: " + "; ".join(
                ", ".join(f"{key} {value}" for key, value in run.items() if key not in ("wall",))
                for run in series["backup"]))
        scales = b.results["scales"]
        for scale in b.scales:
            backup = scales.get(scale, {}).get("backup", {})
            incremental = backup.get("incremental")
            if isinstance(incremental, dict):
                for change in incremental.get("changes", []):
                    lines.append(f"- incremental ({change['label']}), scale {scale}: rows {change['rows']}, WAL {change['wal']}, "
                                 f"update + CHECKPOINT {change['update_ms']:.0f} ms, Branch {change.get('branch')}, "
                                 f"pgBackRest {change.get('pgbackrest')}")
        return lines


# The pitr part's chapter too (see part_pitr.py).
PART = Part("backup", BackupBench, BackupReport, chapter="Backups, restores and point-in-time branches")
