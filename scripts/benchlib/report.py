"""The document (docs/benchmarks.md): its shared sections (targets, interpretation, machine and
set-up, the command, how it is measured, all runs), each with the contributions of the parts that
ran, and between them the parts' own sections. What a part writes lives in its module
(part_<name>.py, its mixin of Report); see common.Part for the hooks."""

import os

from .common import CONTAINER_PREFIX, fmt_bytes, fmt_load
from .parts import PARTS

# The order in which each section of the document takes the parts' contributions (it is not the run
# order); a part not named here comes after the named ones, in the run order.
SECTION_ORDER = {
    "targets": ("branch", "diff", "containers", "backup"),
    "notes": ("branch", "diff", "containers", "backup"),
    "render": ("branch", "containers", "backup", "pitr", "diff"),
    "interpretation": ("branch", "containers", "backup", "pitr", "diff"),
    "command": ("backup", "containers", "pitr", "diff"),
    "raw_values": ("branch", "containers", "backup", "pitr", "diff"),
    "raw_details": ("containers", "backup", "diff", "branch"),
}


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
    "Parts: BENCH_PARTS picks some of `branch`, `pitr`, `diff`, `rest`, `containers`, `backup`, `console`, `import` "
    "(default all, in that order). Projects loaded by the branch part are kept for the later parts, so each size is loaded once; the pitr, "
    "diff and rest parts load projects of their own (BENCH_PITR_SCALE, BENCH_DIFF_SCALE, BENCH_REST_ROWS) and delete "
    "them when done. The containers "
    "part restarts the service on the same pool (SIGTERM, then `branch serve` again with other options); the backup "
    "part runs with `--runtime process`.",
    "Statistics: median; p95 by linear interpolation between closest ranks (with 10 runs it lies between the two "
    "slowest); min; max.",
    "Clean-up: the service is stopped with SIGTERM (it stops every branch server), any postgres/pgbouncer still "
    "mentioning the bench directory is killed, containers labelled with the pool are removed, the pool is unmounted "
    "and the image and directory are deleted — also on failure, Ctrl-C or SIGTERM.",
]


class Report(*(part.report for part in PARTS)):
    """The document for one run: `Report(bench).render()`."""

    def contributions(self, section):
        """(part, hook) for each part that ran and adds to `section`, in the section's order."""
        order = SECTION_ORDER.get(section, ())
        ranked = sorted(PARTS, key=lambda part: order.index(part.name) if part.name in order else len(order))
        found = []
        for part in ranked:
            hook = part.hook(self, section)
            if part.name in self.b.parts and hook:
                found.append((part, hook))
        return found

    def targets(self):
        rows = []
        for _, targets in self.contributions("targets"):
            rows += targets()
        return rows

    def runtimes_by_part(self):
        described = []
        for service in self.b.services:
            if service["parts"]:
                described.append(f"{service['runtime']} ({', '.join(service['parts'])})")
        return ", ".join(dict.fromkeys(described)) or self.b.runtime_name

    def interpretation(self):
        b, scales = self.b, self.b.results["scales"]
        paragraphs = []
        for _, interpretation in self.contributions("interpretation"):
            paragraphs += interpretation()
        missed = [label for label, _, _, met, _ in self.targets() if met is False]
        if missed:
            paragraphs.append("Targets not met in this run: " + "; ".join(missed) + ".")
        elif all(met is True or isinstance(met, str) for _, _, _, met, _ in self.targets()):
            paragraphs.append("Every target was met in this run.")
        sizes = [entry.get("data", {}).get("database_bytes") or 0 for entry in scales.values()]
        if "diff" in b.parts and isinstance(b.results.get("diff"), dict) and b.results["diff"].get("database_bytes"):
            sizes.append(b.results["diff"]["database_bytes"])
        memory = b.machine_info.get("memory") or 0
        if not sizes:
            cache = ""  # no full copies were made (only parts without a pgbench load ran)
        elif memory and max(sizes) < 0.6 * memory:
            cache = ("Every data set fits in this machine's memory, so the full copies mostly read from the page cache; "
                     "on a cold cache or a database larger than memory they would be slower still, while Branch copies "
                     "no data.")
        else:
            cache = ("The largest data set is a sizeable part of this machine's memory, so the full copies partly read "
                     "from disk.")
        paragraphs.append(
            f"Caveats: branch servers ran as {self.runtimes_by_part()}; this is a `{b.configuration}` build on a shared {b.machine_info['nproc']}-CPU machine, so absolute "
            f"figures move from run to run; the ratios within one run are the robust part. {cache}".strip())
        return paragraphs

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
            # A string verdict ("info …") marks a figure given for reference, not a goal.
            verdict = ("not measured" if met is None else "informational" + met[len("info"):] if isinstance(met, str)
                       else ("**met**" if met else "**not met**"))
            rows.append([label, target, measured, verdict])
        self.table(["Target", "Goal", "Measured", "Result"], rows)
        written = set()
        for _, notes in self.contributions("notes"):
            for paragraph in notes():
                if paragraph not in written:  # a paragraph two parts share is written once
                    written.add(paragraph)
                    self.add(paragraph)
                    self.add()

        chapter = None
        for part, render in self.contributions("render"):
            if part.chapter != chapter:  # parts that share a chapter get its heading once
                chapter = part.chapter
                self.add(f"## {chapter}")
                self.add()
            render()

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
        for _, command in self.contributions("command"):
            env += command()
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
        for _, values in self.contributions("raw_values"):
            raw += values()
        for label, values in raw:
            self.add(f"- {label}: " + ", ".join(f"{value:.1f}" for value in values))
        for _, details in self.contributions("raw_details"):
            for line in details():
                self.add(line)
        self.add()
        self.add("</details>")
        self.add()
        return "\n".join(self.lines)
