#!/usr/bin/env bash
# How long a CHECKPOINT takes right after a bulk load, on a bare Postgres (no Branch) on a
# loop-mounted Btrfs image: what the first branch after a load pays in its `checkpoint` step
# (docs/decisions.md, "Pre-paying snapshots"). Run as root; it cleans up after itself.
#
#   scripts/checkpoint-after-load.sh [sync] [SCALE]
#
# With `sync`, the filesystem is synced every 200 ms during the load, as Branch's pre-pay does for a
# busy branch. SCALE is pgbench's (default 68, about 1 GB). Prints the load, the dirty page cache at
# its end, the CHECKPOINT's time as psql saw it, and Postgres's own checkpoint log lines.
set -euo pipefail
mode=${1:-}
scale=${2:-68}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /var/tmp/checkpoint-after-load.XXXXXX)
chmod 755 "$work"  # postgres must reach its data directory inside
syncer=
cleanup() {
  [ -n "$syncer" ] && kill "$syncer" 2>/dev/null || true
  su postgres -c "$pgbin/pg_ctl -D $work/mnt/data stop -m fast" >/dev/null 2>&1 || true
  umount "$work/mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
truncate -s $(( scale / 10 + 4 ))G "$work/pool.img"
mkfs.btrfs -q "$work/pool.img" >/dev/null 2>&1
mkdir "$work/mnt"
mount -o loop,noatime "$work/pool.img" "$work/mnt"
chown postgres "$work/mnt"
# Branch's cluster settings that matter here: data checksums, 64 MB of shared buffers, no WAL
# zero-filling or recycling on a copy-on-write filesystem.
su postgres -c "$pgbin/initdb -D $work/mnt/data --data-checksums --auth=trust -U postgres" >/dev/null
printf 'shared_buffers = 64MB\nwal_init_zero = off\nwal_recycle = off\nlog_checkpoints = on\n' >> "$work/mnt/data/postgresql.conf"
port=$(( 45000 + RANDOM % 1000 ))
su postgres -c "$pgbin/pg_ctl -D $work/mnt/data -o '-p $port -k $work/mnt' -l $work/mnt/log start -w" >/dev/null
if [ "$mode" = sync ]; then
  (while true; do sync -f "$work/mnt/data"; sleep 0.2; done) &
  syncer=$!
fi
su postgres -c "$pgbin/pgbench -h $work/mnt -p $port -i -q -s $scale postgres" 2>&1 | tail -1
if [ -n "$syncer" ]; then kill "$syncer"; syncer=; fi
grep '^Dirty:' /proc/meminfo
su postgres -c "psql -h $work/mnt -p $port -qAt -c '\\timing on' -c 'CHECKPOINT'"
grep 'checkpoint starting\|checkpoint complete' "$work/mnt/log" | tail -4
