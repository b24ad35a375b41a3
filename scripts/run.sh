#!/usr/bin/env bash
# `make run`: install the built binary, start `branch serve` (systemd unit where systemd runs,
# else a background process), wait until it answers, then print, in this order, the console and its
# login, the backup key warning and the first steps.
set -euo pipefail
cd "$(dirname "$0")/.."

POOL=${BRANCH_POOL:-/var/lib/branch}
POOL_SIZE=${BRANCH_POOL_SIZE:-20G}
# HTTPS with the certificate the first start makes (beside the master key), on every address.
LISTEN=${BRANCH_LISTEN:-0.0.0.0:8420}
CERT=${BRANCH_TLS_CERT_FILE:-/etc/branch/tls/cert.pem}
POOLER_PORT=${BRANCH_POOLER_PORT:-6432}
PUBLIC_HOST=${BRANCH_PUBLIC_HOST:-127.0.0.1}
# `make run` builds optimized (release); CONFIGURATION=debug installs a debug build instead.
CONFIGURATION=${CONFIGURATION:-release}
LOG_DIR=/var/log/branch
PID_FILE=/run/branch/serve.pid

install -m 0755 ".build/$CONFIGURATION/branch" /usr/local/bin/branch.new
mv -f /usr/local/bin/branch.new /usr/local/bin/branch

args=(serve --pool "$POOL" --pool-size "$POOL_SIZE" --listen "$LISTEN" --pooler-port "$POOLER_PORT" --public-host "$PUBLIC_HOST")

stop_background() {
  if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    echo "Stopping the running service (its branches restart with it)..."
    kill -TERM "$(cat "$PID_FILE")"
    for _ in $(seq 1 600); do kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break; sleep 0.1; done
  fi
}

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  mode=systemd
  cat > /etc/systemd/system/branch.service <<UNIT
[Unit]
Description=Branch: instant Postgres branches on Btrfs
After=network-online.target local-fs.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/branch ${args[*]}
# SIGTERM to the service only: it stops every Postgres cleanly itself, and after a crash
# the servers it leaves running are adopted by the next start.
KillMode=process
TimeoutStopSec=180
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable branch.service >/dev/null 2>&1
  systemctl restart branch.service
  log_hint="journalctl -u branch -f"
else
  mode=background
  stop_background
  mkdir -p "$LOG_DIR" "$(dirname "$PID_FILE")"
  setsid /usr/local/bin/branch "${args[@]}" >>"$LOG_DIR/serve.log" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  log_hint="tail -f $LOG_DIR/serve.log"
fi

port=${LISTEN##*:}
local_url="https://127.0.0.1:$port"
url="https://$PUBLIC_HOST:$port"
# Readiness only: the certificate is checked below, once it exists.
for _ in $(seq 1 600); do
  curl -fsSk "$local_url/api/v1/health" >/dev/null 2>&1 && break
  if [ "$mode" = background ] && ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    echo "error: branch serve exited; its log:" >&2
    tail -n 20 "$LOG_DIR/serve.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS --cacert "$CERT" "$local_url/api/v1/health" >/dev/null || { echo "error: the service did not answer at $local_url ($log_hint)" >&2; exit 1; }
fingerprint=$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 | cut -d= -f2)

login=$(sed -n 1p "$POOL/admin.password" 2>/dev/null || echo "admin@localhost")
password=$(sed -n 2p "$POOL/admin.password" 2>/dev/null || echo "(changed since the first start)")

# In this order: the console and its login, the backup key warning, the first steps.
cat <<INFO

Branch is running ($mode).
  console     $url/
  login       $login   password $password
  certificate SHA-256 $fingerprint
              (self-signed, $CERT: check it when the browser or a client asks)
  API         $url/api/v1   (OpenAPI: $url/api/v1/openapi.json)
  admin key   $(cat "$POOL/admin.key")   (the instance admin's token: the CLI here uses it)
  pool        $POOL
  pooler      postgres://…@$PUBLIC_HOST:$POOLER_PORT/<project>?sslmode=require   (TLS required)
  logs        $log_hint
INFO

# The backup key the first start made beside the master key: until its copy off the server is
# acknowledged, `branch status` warns, and so does this.
if /usr/local/bin/branch status 2>/dev/null | grep -qF "Copy the backup key"; then
  cat <<WARNING

WARNING: copy the backup key off this server: without it no backup can be restored.
  branch backup key show             # prints it (it is in /etc/branch/backup.key): keep it in a password manager
  branch backup key acknowledge      # once it is kept elsewhere; \`branch status\` warns until then
  Every project is backed up daily (03:00-05:00 UTC) to $POOL.backups and verified weekly.
WARNING
fi

cat <<INFO

First steps (as root on this machine the CLI finds the service and key by itself;
elsewhere: branch login $url --token <admin key> --fingerprint $fingerprint):
  branch project create myapp        # a Postgres with an owner role and a main branch
  branch project import shop --from 'postgres://USER:PASS@HOST/DB'   # or bring one in (Supabase too; --mirror follows it)
  cd ~/code/myapp && branch link myapp
  psql "\$(branch url)"               # the pooled URL your app uses
  branch create feature-x            # a copy of main, ready in well under a second
  branch checkout feature-x          # the app's unchanged URL now reaches feature-x
  branch snapshot create --name before-migration
  branch restore before-migration --in-place
  branch keys                        # the Supabase URL and keys: apps move by changing these two
  branch migrate check 001_todos.sql # try a migration on a throw-away copy, then: branch migrate apply
  claude mcp add branch -- branch mcp   # let an AI agent drive it (or point one at $url/mcp)
  branch user create dev@example.com && branch member add dev@example.com --project myapp --role developer
Stop it with: make stop
INFO
