#!/usr/bin/env bash
# `make bench`: run the benchmarks against a throw-away `branch serve` and write docs/benchmarks.md.
# The work is done by scripts/bench.py (Python 3 standard library only); this checks the basics.
#
# Settings (environment): CONFIGURATION (debug), BENCH_SCALES ("68 680": pgbench scales, about
# 1 GB and 10 GB), BENCH_RUNS (10), BENCH_COPY_RUNS (3), BENCH_DIR (/var/tmp/branch-bench),
# BENCH_OUTPUT (docs/benchmarks.md), BENCH_CREATEDB_STRATEGY (empty: Postgres's default),
# BENCH_RUNTIME (empty: Branch's default; or process, podman, docker: `branch serve --runtime`).
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

export CONFIGURATION
# exec: Ctrl-C and SIGTERM go straight to bench.py, which cleans up whatever it started.
exec python3 scripts/bench.py "$@"
