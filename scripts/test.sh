#!/usr/bin/env bash
# `make test`: install what the tests need, build, run every test (unit and integration, as root),
# and make sure nothing the tests started outlives them. Arguments go to `swift test`, e.g.
# `scripts/test.sh --filter BackupTests` runs one suite with the same set-up and clean-up.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# What only the tests need (from PyPI and Debian) installs while Swift builds, in the background:
# the build does not need it, and on a fresh clone the two take minutes each.
installs_log=$(mktemp)
scripts/install-test-deps.sh > "$installs_log" 2>&1 &
installs=$!
export MOTO_SERVER="$PWD/.venv/bin/moto_server"
export BRANCH_TEST_PYTHON="$PWD/.venv/bin/python"

# Each test service reserves its branch port range in the kernel while it runs (see
# Sources/BranchCore/Ports.swift); whatever a crashed test left is put back as it was.
reserved_ports=$(cat /proc/sys/net/ipv4/ip_local_reserved_ports 2>/dev/null || true)

cleanup() {
  # Safety net for a test process that died before its own clean-up ran; never changes the exit status.
  set +e
  [ -w /proc/sys/net/ipv4/ip_local_reserved_ports ] && echo "$reserved_ports" > /proc/sys/net/ipv4/ip_local_reserved_ports
  for pid in $(pgrep -f /var/tmp/branch-tests/ 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  for pid in $(pgrep -f moto_server 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  ids=$(podman ps --all --format '{{.ID}} {{index .Labels "branch.pool"}}' 2>/dev/null | awk '$2 ~ "^/var/tmp/branch-tests/" {print $1}')
  [ -n "$ids" ] && podman rm --force $ids >/dev/null 2>&1
  awk '$2 ~ "^/var/tmp/branch-tests/" {print $2}' /proc/mounts | while read -r mount; do umount -l "$mount"; done
  rm -rf /var/tmp/branch-tests
}
trap cleanup EXIT

scripts/swift.sh build --build-tests
if ! wait $installs; then
  cat "$installs_log" >&2
  echo "error: installing the tests' Python packages or browser failed (above); nothing was run." >&2
  exit 1
fi
cat "$installs_log"; rm -f "$installs_log"
if [ $# -gt 0 ]; then
  # A chosen suite or test: one process, tests one at a time.
  scripts/swift.sh test --skip-build --no-parallel "$@"
  exit
fi

# The whole suite in three shards side by side: much of an integration test is waiting (for
# Postgres, fsync, podman, a crash), so three keep the two cores busier than two did; four measured
# slower, every test about twice as long. Within a shard tests run one at a time; each shard takes
# its ports from its own share (BRANCH_TEST_SHARD, see Sources/BranchTesting/TestShard.swift). The
# first two shards are named suites (or halves of one), balanced by their last measured times; the
# third is everything else, the unit tests and any new suite included.
bundle=$(scripts/swift.sh build --show-bin-path)/branchPackageTests.xctest
run_shard() {
  local shard=$1 log=$2; shift 2
  BRANCH_TEST_SHARD=$shard "$bundle" --testing-library swift-testing --no-parallel "$@" > "$log" 2>&1
}
suites() { echo "BranchIntegrationTests\\.($1)\\b"; }
shards=(
  "$(suites 'CrashRecoveryTests/recoversLifecycle|UpgradeTests|AgentSQLTests|AllowlistTests|AttackTests|AuthMailTests|ConsoleBackupsTests|ConsoleDiffMergeTests|ConsoleEditorTests|ConsoleHTTPTests|DiskGuardTests|KeysTests|SecretsAtRestTests|DiffTests|DataAPIEngineTests|ReadOnlyQueryTests|OriginSnapshotTests|ConsoleImportTests')"
  "$(suites 'CrashRecoveryTests/(recoversDataChange|adoptsRunningServers)|ConsoleBrowserTests|OAuthSignInTests|RuntimeTests|AccessTests|AlertDeliveryTests|AlertOutboxTests|BackupsByDefaultTests|ConsoleOverviewTests|DataAPITests|PushTests|ServiceLifecycleTests|SnapshotAndCheckoutTests|TLSTests|APIAndCLITests')"
)
logs=$(mktemp -d)
started=$(date +%s)
pids=()
skips=()
for shard in "${!shards[@]}"; do
  run_shard "$shard" "$logs/shard$shard.log" --filter "${shards[$shard]}" &
  pids+=($!)
  skips+=(--skip "${shards[$shard]}")
done
run_shard "${#shards[@]}" "$logs/shard${#shards[@]}.log" "${skips[@]}" &
pids+=($!)
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$logs"/shard*.log
grep -h "Test run with" "$logs"/shard*.log
echo "test.sh: the $(( ${#shards[@]} + 1 )) shards finished in $(( $(date +%s) - started )) s"
rm -rf "$logs"
exit $status
