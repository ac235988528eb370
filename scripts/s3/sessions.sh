# Sourced by scripts/test.sh and scripts/bench.sh (after scripts/s3/lib.sh, with $WORK set):
# bookkeeping of the RGW and moto servers that several runs may share.
#
# Each run registers its pid under <instance>.sessions/users/; the run that started a server writes
# <instance>.sessions/managed (the server's pid). The last registered run to finish stops a managed
# server. Servers started by hand (start-*.sh) or by something else are reused and never stopped.
RGW_PIDFILE="${CEPH_BASE:-${TMPDIR:-/tmp}/s3-lock-rgw}/run/client.rgw.a.pid"
MOTO_PIDFILE="${MOTO_STATE_DIR:-${MOTO_ROOT:-/var/cache/s3-lock/moto-root}}/moto.pid"
sessions_dir() {
  case "$1" in
    rgw) echo "${CEPH_BASE:-${TMPDIR:-/tmp}/s3-lock-rgw}.sessions" ;;
    moto) echo "${MOTO_STATE_DIR:-${MOTO_ROOT:-/var/cache/s3-lock/moto-root}}.sessions" ;;
  esac
}
server_pidfile() { if [ "$1" = rgw ]; then echo "$RGW_PIDFILE"; else echo "$MOTO_PIDFILE"; fi; }
proc_start_time() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
ME_START=$(proc_start_time $$)

# s3_session_acquire NAME: start or reuse the server and register this run; KEY=VALUE output in $WORK/NAME.out
s3_session_acquire() {
  local name=$1 dir fd rc=0 state pid
  dir=$(sessions_dir "$name")
  mkdir -p "$dir/users" 2>/dev/null && s3_is_root && chmod 1777 "$dir" "$dir/users" 2>/dev/null
  if s3_open_lock "$dir/lock" fd 2>/dev/null; then
    flock -w 900 "$fd" || { s3_log "timed out waiting for $dir/lock"; return 1; }
    S3_ERROR_FILE="$WORK/$name.err" bash "scripts/s3/start-$name.sh" >"$WORK/$name.out" {fd}<&- || rc=$?
  else
    S3_ERROR_FILE="$WORK/$name.err" bash "scripts/s3/start-$name.sh" >"$WORK/$name.out" || rc=$?
  fi
  if [ "$rc" = 0 ]; then
    state=$(sed -n 's/^S3_SERVER_STATE=//p' "$WORK/$name.out")
    pid=$(sed -n 's/^S3_SERVER_PID=//p' "$WORK/$name.out")
    [ "$state" = started ] && echo "$pid" >"$dir/managed"
    echo "$ME_START" >"$dir/users/$$" 2>/dev/null || true
  fi
  [ -n "${fd:-}" ] && exec {fd}<&-
  return "$rc"
}

# s3_session_release NAME: unregister; stop the server if this was the last run using a server started by a run
s3_session_release() {
  local name=$1 dir fd f p left=0 managed current
  dir=$(sessions_dir "$name")
  [ -f "$dir/users/$$" ] || return 0
  s3_open_lock "$dir/lock" fd 2>/dev/null && flock -w 120 "$fd"
  rm -f "$dir/users/$$"
  for f in "$dir"/users/*; do
    [ -e "$f" ] || continue
    p=${f##*/}
    if [ "$(proc_start_time "$p")" = "$(cat "$f" 2>/dev/null)" ]; then left=$((left + 1)); else rm -f "$f" 2>/dev/null; fi
  done
  if [ -f "$dir/managed" ]; then
    managed=$(cat "$dir/managed" 2>/dev/null)
    current=$(tr -dc '0-9' <"$(server_pidfile "$name")" 2>/dev/null)
    if [ "$managed" != "$current" ]; then
      rm -f "$dir/managed" # the server it named is gone or was replaced by a hand-started one
    elif [ "$left" -gt 0 ]; then
      s3_log "$name is still used by $left other run(s); leaving it running"
    elif [ "${S3_KEEP_SERVERS:-}" = 1 ]; then
      s3_log "S3_KEEP_SERVERS=1: leaving $name running (stop: scripts/s3/stop-$name.sh)"
    else
      if [ -n "${fd:-}" ]; then bash "scripts/s3/stop-$name.sh" {fd}<&-; else bash "scripts/s3/stop-$name.sh"; fi
      rm -f "$dir/managed"
    fi
  fi
  [ -n "${fd:-}" ] && exec {fd}<&-
  return 0
}
