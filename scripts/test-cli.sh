#!/usr/bin/env bash
# The operator CLI's tests (test/cli, jest project `cli`): every command of the `nestjs-s3-lock`
# bin as an installed package runs it, against Ceph RGW and moto with both protocols; on its own
# memory-s3 server a store that ignores If-None-Match, 1,100 names, memory-s3 itself, and `watch`
# in a real terminal (tmux).
#
#   bash scripts/test-cli.sh [BIN]
#
# BIN: an installed bin (`<project>/node_modules/.bin/nestjs-s3-lock`); scripts/test-consumers.sh
# passes the one of its Nest 11 app. Without it: build, `npm pack`, and install the tarball with
# @aws-sdk/client-s3 into a temporary project. The stores: S3_RGW_ENDPOINT and S3_MOTO_ENDPOINT
# (with S3_<STORE>_ACCESS_KEY_ID / _SECRET_ACCESS_KEY; RGW also S3_RGW_LIMITED_ACCESS_KEY_ID /
# _SECRET_ACCESS_KEY, the restricted second user start-rgw.sh creates): npm test exports them;
# unset or unreachable is a failure. Needs tmux (scripts/s3/install-deps.sh installs it).
# Last line: `cli: N passed, M failed`; exit 0 when none failed.
set -uo pipefail
{
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
T0=$SECONDS
log() { printf '[cli %4ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3-lock-cli.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

BIN=${1:-}
if [ -z "$BIN" ]; then
  log "building, packing and installing the package"
  if ! { rm -rf dist && npm run --silent build && npm pack --silent --pack-destination "$WORK" >"$WORK/pack.out" &&
    mkdir -p "$WORK/app" && (cd "$WORK/app" && echo '{"name":"cli-check","private":true}' >package.json &&
      npm install --no-audit --no-fund "$WORK/$(tail -n 1 "$WORK/pack.out")" "@aws-sdk/client-s3@$(node -p 'require("./node_modules/@aws-sdk/client-s3/package.json").version' 2>/dev/null || (cd "$ROOT" && node -p 'require("./node_modules/@aws-sdk/client-s3/package.json").version'))"); } >"$WORK/install.log" 2>&1; then
    tail -n 40 "$WORK/install.log" >&2
    log "FAILED: build, pack or install"
    echo "cli: 0 passed, 1 failed"
    exit 1
  fi
  BIN="$WORK/app/node_modules/.bin/nestjs-s3-lock"
fi
[ -x "$BIN" ] || { log "FAILED: $BIN is not an executable bin"; echo "cli: 0 passed, 1 failed"; exit 1; }
log "bin: $BIN"

rc=0
NESTJS_S3_LOCK_BIN=$BIN node_modules/.bin/jest --selectProjects cli --json --outputFile "$WORK/jest.json" </dev/null || rc=$?
read -r passed failed < <(node -e 'try { const r = require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites); } catch { console.log(0, 1); }' "$WORK/jest.json")
log "finished after $((SECONDS - T0)) s (jest exit $rc)"
echo "cli: $passed passed, $failed failed"
[ "$rc" = 0 ] && [ "$failed" = 0 ]
}
