#!/bin/sh
# Reload storm (issue 15): the 4,100-target loopback farm (20 addresses of
# 127.0.0.0/8 x {1433, 135, 445, 1164, 50000-50200}, all refusing), then
# SIGNALS SIGHUPs GAP seconds apart; prints the reloads they made and the
# daemon's RSS before and 25 s after. Use a release build:
#   PORTWATCH=build-rel/daemon/portwatch bench/reload/run.sh [SIGNALS] [GAP]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pw=${PORTWATCH:-build-rel/daemon/portwatch}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec python3 "$here/storm.py" "$pw" "$work" "${1:-500}" "${2:-0.02}"
