#!/usr/bin/env bash
# Stop the moto server started by start-moto.sh (by its pid file only: never by name), then unmount
# the chroot's /proc unless some other process still lives in the chroot (or --keep-mount is given).
# Usage: scripts/s3/stop-moto.sh [--keep-mount]    (MOTO_ROOT / MOTO_STATE_DIR as for start-moto.sh)
# Exits 0 unless the server survives SIGKILL.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
S3_LOG_TAG=stop-moto

MOTO_ROOT=${MOTO_ROOT:-/var/cache/s3-lock/moto-root}
MOTO_ROOT=${MOTO_ROOT%/}
MOTO_STATE_DIR=${MOTO_STATE_DIR:-$MOTO_ROOT}
f="$MOTO_STATE_DIR/moto.pid"
rc=0
if [ -f "$f" ]; then
  pid=$(tr -dc '0-9' <"$f")
  if s3_pid_is "$f" moto_server; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 40); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
    if [ -d "/proc/$pid" ]; then
      kill -KILL "$pid" 2>/dev/null
      sleep 0.5
    fi
    if [ -d "/proc/$pid" ]; then
      s3_log "could not stop moto (pid $pid)"
      rc=1
    else
      s3_log "stopped moto (pid $pid)"
    fi
  fi
  [ "$rc" = 0 ] && rm -f "$f"
fi

if [ "${1:-}" != "--keep-mount" ] && mountpoint -q "$MOTO_ROOT/proc" 2>/dev/null; then
  busy=0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$MOTO_ROOT" ] && { busy=1; break; }
  done
  if [ "$busy" = 0 ]; then
    umount "$MOTO_ROOT/proc" 2>/dev/null || s3_log "could not unmount $MOTO_ROOT/proc (left mounted)"
  fi
fi
exit "$rc"
