#!/usr/bin/env bash
# Stop the daemons started by start-rgw.sh (by pid file only: never by name) and optionally wipe
# the data dir. Usage: scripts/s3/stop-rgw.sh [--wipe]    (CEPH_BASE as for start-rgw.sh)
# Always exits 0 unless a daemon survives SIGKILL.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
S3_LOG_TAG=stop-rgw

CEPH_BASE=${CEPH_BASE:-${TMPDIR:-/tmp}/s3-lock-rgw}
RUN="$CEPH_BASE/run"
rc=0
# stop_group SIGNAL NAME:PROG... : signal the given daemons at once, wait up to 10 s, then KILL.
stop_group() {
  local sig=$1 d f pid i names=() pids=() alive
  shift
  for d in "$@"; do
    f="$RUN/${d%%:*}.pid"
    [ -f "$f" ] || continue
    if s3_pid_is "$f" "${d##*:}"; then
      pid=$(tr -dc '0-9' <"$f")
      kill "-$sig" "$pid" 2>/dev/null && { names+=("${d%%:*}"); pids+=("$pid"); }
    else
      rm -f "$f" # stale
    fi
  done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do [ -d "/proc/$pid" ] && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    if [ -d "/proc/$pid" ]; then
      kill -KILL "$pid" 2>/dev/null
      sleep 0.5
    fi
    if [ -d "/proc/$pid" ]; then
      s3_log "could not stop ${names[$i]} (pid $pid)"
      rc=1
    else
      s3_log "stopped ${names[$i]} (pid $pid)"
      rm -f "$RUN/${names[$i]}.pid"
    fi
  done
}
# radosgw first and gracefully (about 2 s; it hangs for the full 10 s if the OSD goes first). The
# cluster behind it is throw-away (start-rgw.sh wipes $CEPH_BASE on every fresh start and the OSD
# keeps its data in memory), so the OSD and mon are killed outright: a graceful stop takes them
# 2-6 s each and saves nothing.
stop_group TERM client.rgw.a:radosgw
stop_group KILL osd.0:ceph-osd mon.a:ceph-mon
if [ "${1:-}" = "--wipe" ] && [ "$rc" = 0 ]; then
  rm -rf "$CEPH_BASE"
  s3_log "wiped $CEPH_BASE"
fi
exit "$rc"
