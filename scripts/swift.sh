#!/usr/bin/env bash
# Runs the Swift toolchain: the one on PATH, else /opt/swift.
if command -v swift >/dev/null 2>&1; then exec swift "$@"; fi
exec /opt/swift/usr/bin/swift "$@"
