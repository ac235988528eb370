#!/usr/bin/env bash
# `npm run verify`: the lock under faults, checked from the outside (docs/verification.md).
#
#   npm run verify                                      60 s per protocol on the in-memory store
#   VERIFY_SECONDS=60 npm run verify -- --store rgw --protocol both
#   npm run verify -- --store moto --seconds 600 --protocol create-only
#   npm run verify -- --help                            every option
#
# For --store rgw / moto: uses S3_RGW_ENDPOINT / S3_MOTO_ENDPOINT when set (plus *_ACCESS_KEY_ID,
# *_SECRET_ACCESS_KEY); otherwise runs scripts/s3/start-<store>.sh (idempotent: reuses a running
# server). A server this script started is stopped again at the end, unless S3_KEEP_SERVERS=1 or an
# `npm test` run registered as its user meanwhile. Servers it found running are never stopped.
# Exit code: 0 pass, 1 violation / crash / protocol skipped, 2 harness failure, 3 store not startable here.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=s3/lib.sh
. scripts/s3/lib.sh
S3_LOG_TAG=verify
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

store=memory
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --store) store=${args[$((i + 1))]:-} ;;
    --store=*) store=${args[$i]#--store=} ;;
  esac
done

if [ ! -x node_modules/.bin/ts-node ]; then
  s3_log "node_modules missing: npm ci"
  npm ci --no-audit --no-fund || s3_fail 2 "npm ci failed"
fi

started=
case "$store" in
  rgw | moto)
    S=$(echo "$store" | tr a-z A-Z)
    var="S3_${S}_ENDPOINT"
    if [ -n "${!var:-}" ]; then
      s3_log "$store: using $var=${!var}"
    else
      out=$(mktemp "${TMPDIR:-/tmp}/s3-lock-verify.XXXXXX")
      rc=0
      "scripts/s3/start-$store.sh" >"$out" || rc=$?
      if [ "$rc" != 0 ]; then
        rm -f "$out"
        [ "$rc" = "$S3_EXIT_UNSUPPORTED" ] && s3_fail 3 "$store is not running and cannot be started here (needs root on Debian)"
        s3_fail 2 "scripts/s3/start-$store.sh failed (exit $rc)"
      fi
      export "S3_${S}_ENDPOINT=$(sed -n 's/^S3_ENDPOINT=//p' "$out")"
      export "S3_${S}_ACCESS_KEY_ID=$(sed -n 's/^S3_ACCESS_KEY=//p' "$out")"
      export "S3_${S}_SECRET_ACCESS_KEY=$(sed -n 's/^S3_SECRET_KEY=//p' "$out")"
      [ "$(sed -n 's/^S3_SERVER_STATE=//p' "$out")" = started ] && started=$store
      rm -f "$out"
      if [ -n "$started" ]; then s3_log "$store: $var=${!var} (started here)"; else s3_log "$store: $var=${!var} (already running)"; fi
    fi
    ;;
esac

# The sessions directory scripts/test.sh registers its runs in (see there).
sessions_users() {
  case "$1" in
    rgw) echo "${CEPH_BASE:-${TMPDIR:-/tmp}/s3-lock-rgw}.sessions/users" ;;
    moto) echo "${MOTO_STATE_DIR:-${MOTO_ROOT:-/var/cache/s3-lock/moto-root}}.sessions/users" ;;
  esac
}

stop_started() {
  [ -n "$started" ] || return 0
  if [ "${S3_KEEP_SERVERS:-}" = 1 ]; then
    s3_log "S3_KEEP_SERVERS=1: leaving $started running (stop: scripts/s3/stop-$started.sh)"
    return 0
  fi
  local f p users=0
  for f in "$(sessions_users "$started")"/*; do
    [ -e "$f" ] || continue
    p=${f##*/}
    kill -0 "$p" 2>/dev/null && users=$((users + 1))
  done
  if [ "$users" -gt 0 ]; then
    s3_log "$started is used by $users npm test run(s); leaving it running"
  else
    "scripts/s3/stop-$started.sh" >&2 || true
  fi
}

rc=0
node -r ts-node/register/transpile-only verify/main.ts "$@" || rc=$?
stop_started
exit "$rc"
