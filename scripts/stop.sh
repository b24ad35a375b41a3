#!/usr/bin/env bash
# `make stop`: stop the service started by `make run`; it stops every branch server cleanly.
set -euo pipefail
PID_FILE=/run/branch/serve.pid
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] && systemctl is-active --quiet branch.service; then
  systemctl stop branch.service
elif [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  kill -TERM "$(cat "$PID_FILE")"
  for _ in $(seq 1 1800); do kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break; sleep 0.1; done
  rm -f "$PID_FILE"
else
  echo "Branch is not running."
  exit 0
fi
echo "Branch stopped."
