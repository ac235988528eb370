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

# ---------------------------------------------------------------- server bookkeeping (shared with scripts/test.sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3-lock-bench.XXXXXX") || exit 1
REGISTERED=()
. scripts/s3/sessions.sh

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for s in "${REGISTERED[@]}"; do s3_session_release "$s"; done
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
  s3_session_acquire "$s" || rc=$?
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

# scripts/soak.sh runs bench/soak.ts with the same servers
node -r ts-node/register/transpile-only "${BENCH_ENTRY:-bench/main.ts}" "$@"
