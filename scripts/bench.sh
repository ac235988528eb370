#!/usr/bin/env bash
# `npm run bench`: measures the lock (both protocols side by side) and writes bench-out/.
#
#   npm run bench                          the in-memory store (or S3_ENDPOINT when set)
#   npm run bench -- --store all           memory + Ceph RGW + moto (starts RGW and moto when root on Debian)
#   npm run bench -- --store rgw --quick   short loops, one store
#   S3_ENDPOINT=http://host:port S3_ACCESS_KEY=.. S3_SECRET_KEY=.. npm run bench -- --store endpoint
#   S3_RGW_ENDPOINT=http://host:port npm run bench -- --store rgw   use a running RGW (same for MOTO)
#
# RGW and moto are started (or reused) like `npm test` does, and this run registers as one of
# their users, so a test run finishing meanwhile does not stop them; a server this run started is
# stopped at the end unless another run still uses it or S3_KEEP_SERVERS=1. A store that cannot
# be started is reported as n/a in its columns (BENCH_UNAVAILABLE_<STORE>), the others still run.
# Options: see `npm run bench -- --help`.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=s3/lib.sh
. scripts/s3/lib.sh
S3_LOG_TAG=bench
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

if [ ! -x node_modules/.bin/ts-node ]; then
  s3_log "node_modules missing: npm ci"
  npm ci --no-audit --no-fund || s3_fail 1 "npm ci failed"
fi

# ---------------------------------------------------------------- which servers
STORES=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --store) STORES+=",${args[$((i + 1))]:-}" ;;
    --store=*) STORES+=",${args[$i]#--store=}" ;;
  esac
done
SERVERS=()
for s in rgw moto; do
  case ",$STORES," in *",$s,"* | *",all,"*) SERVERS+=("$s") ;; esac
done

# ---------------------------------------------------------------- server bookkeeping (as scripts/test.sh)
sessions_dir() {
  case "$1" in
    rgw) echo "${CEPH_BASE:-${TMPDIR:-/tmp}/s3-lock-rgw}.sessions" ;;
    moto) echo "${MOTO_STATE_DIR:-${MOTO_ROOT:-/var/cache/s3-lock/moto-root}}.sessions" ;;
  esac
}
server_pidfile() {
  case "$1" in
    rgw) echo "${CEPH_BASE:-${TMPDIR:-/tmp}/s3-lock-rgw}/run/client.rgw.a.pid" ;;
    moto) echo "${MOTO_STATE_DIR:-${MOTO_ROOT:-/var/cache/s3-lock/moto-root}}/moto.pid" ;;
  esac
}
proc_start_time() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
ME_START=$(proc_start_time $$)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3-lock-bench.XXXXXX") || exit 1
REGISTERED=()

# acquire NAME: start or reuse the server and register this run as a user of it
acquire() {
  local name=$1 dir fd rc=0 state pid
  dir=$(sessions_dir "$name")
  mkdir -p "$dir/users" 2>/dev/null && s3_is_root && chmod 1777 "$dir" "$dir/users" 2>/dev/null
  s3_open_lock "$dir/lock" fd 2>/dev/null && flock -w 900 "$fd"
  if [ -n "${fd:-}" ]; then
    S3_ERROR_FILE="$WORK/$name.err" "scripts/s3/start-$name.sh" >"$WORK/$name.out" {fd}<&- || rc=$?
  else
    S3_ERROR_FILE="$WORK/$name.err" "scripts/s3/start-$name.sh" >"$WORK/$name.out" || rc=$?
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

# release NAME: unregister; stop the server if a run started it and no registered run still uses it
release() {
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
      rm -f "$dir/managed"
    elif [ "$left" -gt 0 ]; then
      s3_log "$name is still used by $left other run(s); leaving it running"
    elif [ "${S3_KEEP_SERVERS:-}" = 1 ]; then
      s3_log "S3_KEEP_SERVERS=1: leaving $name running (stop: scripts/s3/stop-$name.sh)"
    else
      if [ -n "${fd:-}" ]; then "scripts/s3/stop-$name.sh" {fd}<&-; else "scripts/s3/stop-$name.sh"; fi
      rm -f "$dir/managed"
    fi
  fi
  [ -n "${fd:-}" ] && exec {fd}<&-
  return 0
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for s in "${REGISTERED[@]}"; do release "$s"; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- start servers
for s in "${SERVERS[@]}"; do
  S=$(echo "$s" | tr a-z A-Z)
  var="S3_${S}_ENDPOINT"
  if [ -n "${!var:-}" ]; then
    s3_log "$s: using $var=${!var} from the environment"
    continue
  fi
  s3_log "$s: starting or reusing the server"
  rc=0
  acquire "$s" || rc=$?
  REGISTERED+=("$s")
  if [ "$rc" = 0 ]; then
    export "S3_${S}_ENDPOINT=$(sed -n 's/^S3_ENDPOINT=//p' "$WORK/$s.out")"
    export "S3_${S}_ACCESS_KEY_ID=$(sed -n 's/^S3_ACCESS_KEY=//p' "$WORK/$s.out")"
    export "S3_${S}_SECRET_ACCESS_KEY=$(sed -n 's/^S3_SECRET_KEY=//p' "$WORK/$s.out")"
  else
    reason=$(tail -n 1 "$WORK/$s.err" 2>/dev/null)
    export "BENCH_UNAVAILABLE_${S}=${reason:-start-$s.sh failed (exit $rc)}"
    s3_log "$s cannot be measured: ${reason:-start-$s.sh failed (exit $rc)}"
  fi
done

# ---------------------------------------------------------------- store versions for the report
if [[ " ${SERVERS[*]-} " == *" rgw "* ]] && command -v radosgw >/dev/null; then
  export BENCH_VERSION_RGW="$(radosgw --version 2>/dev/null | awk '{print $3}')"
fi
if [[ " ${SERVERS[*]-} " == *" moto "* ]]; then
  v=$(dpkg-query --admindir="${MOTO_ROOT:-/var/cache/s3-lock/moto-root}/var/lib/dpkg" -W -f='${Version}' python3-moto 2>/dev/null)
  [ -n "$v" ] && export BENCH_VERSION_MOTO="${v%%-*}"
fi

node -r ts-node/register/transpile-only bench/main.ts "$@"
