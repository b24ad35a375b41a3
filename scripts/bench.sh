#!/usr/bin/env bash
# `make bench`: run the benchmarks against a throw-away `branch serve` and write docs/benchmarks.md.
# The work is done by scripts/bench.py (Python 3 standard library only); this checks the basics.
#
# Settings (environment):
#   CONFIGURATION (release with `make bench`; debug when bench.sh is run by hand)
#   BENCH_PARTS ("branch,pitr,diff,rest,containers,backup,console,import", or "all"): which parts run, always in that order
#     branch      branch ready vs createdb -T and pg_basebackup, project create, snapshot create
#     pitr        point-in-time branches against the WAL to replay
#     diff        row-level diff of two branches (0, 100, 100 000 changed rows of pgbench_accounts)
#                 vs COPY of both tables compared line by line; summary diff; merges of 10 000 rows
#     rest        the data API (wrk, 64 connections: GET by key, a list of 100 rows, an insert) vs the
#                 same statements by pgbench (prepared), direct and through the pooler; memory over 60 s
#     containers  branch ready with podman vs plain processes, idle memory, density in 8 GB,
#                 scale to zero, resume time of a suspended branch
#     backup      Branch's backups and restores vs pgBackRest and pg_basebackup | zstd, incrementals
#     console     the web console's pages (p50/p95 of 50 GETs each over keep-alive) with 20 projects of 5
#                 branches, and its CSS + JS bytes; BENCH_CONSOLE_PROJECTS (20), BENCH_CONSOLE_BRANCHES (5),
#                 BENCH_CONSOLE_REQUESTS (50)
#     import      `branch project import` vs `pg_dump -Fc | pg_restore` and `pg_dump -Fd -j N` + `pg_restore -j N`
#                 of the same source (a Postgres the part starts and loads); BENCH_IMPORT_MB (1000: MiB of
#                 table data), BENCH_IMPORT_RUNS (3 per method), BENCH_IMPORT_WORKERS (Branch's default: two
#                 per core, 2 to 8)
#   BENCH_SCALES ("68 680": pgbench scales, about 1 GB and 10 GB), BENCH_RUNS (10: branch, snapshot,
#   project creates, and branch ready per runtime), BENCH_COPY_RUNS (3: createdb -T, pg_basebackup),
#   BENCH_BACKUP_RUNS (3: full backup + restore per method), BENCH_BACKUP_RUNS_LARGE (1: the same for
#   databases of 4 GB and more), BENCH_IDLE_PROJECTS (10), BENCH_SUSPEND_PROJECTS (20),
#   BENCH_RESUMES (10), BENCH_PITR_SCALE (20), BENCH_PITR_STAGES ("10 30 60": seconds of pgbench
#   between the instants), BENCH_PITR_RUNS (2), BENCH_DIFF_SCALE (100: pgbench scale of the diff part's
#   project, 10 M accounts), BENCH_DIFF_RUNS (2: Branch diffs per stage; the naive comparison runs once),
#   BENCH_DIFF_MERGES (2: merges of 10 000 rows), BENCH_DIR (/var/tmp/branch-bench), BENCH_OUTPUT
#   (docs/benchmarks.md), BENCH_CREATEDB_STRATEGY (empty: Postgres's default), BENCH_RUNTIME (empty:
#   Branch's default; or process, podman, docker: `branch serve --runtime` for the branch, pitr and
#   diff parts; the containers part uses both podman and process, the backup part process),
#   BENCH_REST_ROWS (1000000), BENCH_REST_SECONDS (20 per run), BENCH_REST_MEMORY_SECONDS (60),
#   BENCH_REST_CONNECTIONS (64).
#   BENCH_STATE=FILE also saves the results; `scripts/bench.py --render FILE` rewrites the document
#   from them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != "0" ]; then
  echo "error: run the benchmarks as root: branch serve mounts a Btrfs image and runs Postgres as postgres." >&2
  exit 1
fi

CONFIGURATION=${CONFIGURATION:-debug}
if [ ! -x ".build/$CONFIGURATION/branch" ]; then
  echo "error: .build/$CONFIGURATION/branch is missing; build it first (make build CONFIGURATION=$CONFIGURATION)." >&2
  exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is needed (scripts/install-deps.sh installs it)." >&2
  exit 1
fi

PARTS=${BENCH_PARTS:-all}
if [ "$PARTS" = "all" ] || [[ ",${PARTS// /,}," == *",backup,"* ]]; then
  # The backup part compares with pgBackRest (the Debian package) and pipes through zstd.
  missing=()
  command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
  command -v zstd >/dev/null 2>&1 || missing+=(zstd)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench.sh: installing ${missing[*]} (apt-get) for the backup comparison" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
fi

export CONFIGURATION
# exec: Ctrl-C and SIGTERM go straight to bench.py, which cleans up whatever it started.
exec python3 scripts/bench.py "$@"
