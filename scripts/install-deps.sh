#!/usr/bin/env bash
# Installs what Branch needs on Debian 12, as root, without asking. Safe to run again.
set -euo pipefail

if [ "$(id -u)" != "0" ]; then
  echo "error: run as root (it installs Debian packages and Branch mounts Btrfs)." >&2
  exit 1
fi

packages=(
  postgresql pgbouncer                      # the servers Branch runs
  btrfs-progs libbtrfsutil-dev              # the pool (mkfs.btrfs; libbtrfsutil for every subvolume call)
  libpq-dev libzstd-dev libsqlite3-dev      # C libraries the package links
  podman runc                               # container runtime (the containers issue)
  zstd                                      # archived WAL is zstd-compressed by Postgres' archive_command
  util-linux curl ca-certificates openssl   # setpriv, mount; the CLI's tests; make run and the TLS tests read fingerprints
  sqlite3                                   # tests read the catalog as an outsider would
  python3 python3-venv                      # tests (an S3 server, moto) and benchmarks
  wrk                                       # benchmarks: HTTP load on the data API
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian starts a system-wide PgBouncer on 6432, the port of Branch's pooled endpoint. Branch
# runs its own PgBouncer, so the packaged service is disabled (where systemd runs at all).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi

modprobe btrfs 2>/dev/null || true
if ! grep -qw btrfs /proc/filesystems; then
  echo "error: this kernel has no Btrfs support (see /proc/filesystems)." >&2
  exit 1
fi

if ! command -v swift >/dev/null 2>&1 && [ ! -x /opt/swift/usr/bin/swift ]; then
  cat >&2 <<'MSG'
error: no Swift toolchain found. Install Swift 6.3 for Debian 12 from https://www.swift.org/install/linux/
(for example with swiftly) so that `swift` is on PATH or at /opt/swift/usr/bin/swift, then run this again.
MSG
  exit 1
fi
