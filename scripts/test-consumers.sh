#!/usr/bin/env bash
# The consumer apps (test/consumers/<app>): small NestJS applications as `nest new` makes them,
# using the library as a user would, from the tarball `npm pack` makes. Called by scripts/test.sh
# after the jest run (and on its own: `bash scripts/test-consumers.sh`).
#
#   nest12-esm   Nest 12, "type": "module", nodenext, TypeScript 6, vitest    Node 24
#   nest12-cjs   Nest 12, CommonJS, nodenext, TypeScript 6, jest 30           Node 24 (jest needs --experimental-vm-modules, Node >= 24.9)
#   nest11-cjs   Nest 11, CommonJS, nodenext, TypeScript 5, jest 30           the machine's Node (20)
#
# Steps: build the library and `npm pack` it; for each app, in a copy in a temporary folder:
# `npm install` the tarball and the app's dependencies (the three apps in parallel), then
# 1. type-check the app with its own tsc; 2. the README's doc test (scripts/consumers/readme-blocks.ts:
# the README's example files equal the app's; in the ESM app every other ts block of the README
# compiles against the package); 3. run the app's own tests (they swap the lock module for the
# in-memory store); 4. build it and run it against RGW (scripts/consumers/check-app.ts: a route
# across two instances, a @Cron job across two instances, the README's main.ts).
# Each of the four counts as one test. Then the operator CLI's tests (scripts/test-cli.sh) with the
# bin the Nest 11 app installed; CLI_TESTS=0 leaves them out. The store: S3_RGW_ENDPOINT, S3_RGW_ACCESS_KEY_ID,
# S3_RGW_SECRET_ACCESS_KEY (scripts/test.sh exports them); missing or unreachable is a failure.
# Last line: `consumers: N passed, M failed`; exit 0 when none failed.
set -uo pipefail
{
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
T0=$SECONDS
log() { printf '[consumers %4ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

passed=0 failed=0
finish() {
  log "finished after $((SECONDS - T0)) s"
  echo "consumers: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit $?
}

# app name -> Node major ('' = the machine's node)
APPS=(nest12-esm nest12-cjs nest11-cjs)
declare -A NODE_MAJOR=([nest12-esm]=24 [nest12-cjs]=24 [nest11-cjs]='')

if [ -z "${S3_RGW_ENDPOINT:-}" ]; then
  log "FAILED: S3_RGW_ENDPOINT is not set (run through npm test, which starts RGW, or export it)"
  failed=$((${#APPS[@]} * 4))
  finish
fi
if ! node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then(() => process.exit(0), () => process.exit(1))' "$S3_RGW_ENDPOINT"; then
  log "FAILED: RGW at $S3_RGW_ENDPOINT is not reachable"
  failed=$((${#APPS[@]} * 4))
  finish
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3-lock-consumers.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT

log "building and packing the library"
rm -rf dist
if ! { npm run --silent build && npm pack --silent --pack-destination "$WORK" >"$WORK/pack.out"; } >"$WORK/pack.log" 2>&1; then
  cat "$WORK/pack.log" >&2
  log "FAILED: build or npm pack"
  failed=$((${#APPS[@]} * 4))
  finish
fi
TARBALL="$WORK/$(tail -n 1 "$WORK/pack.out")"
log "packed $(basename "$TARBALL")"

declare -A NODE_BIN=() INSTALL=()
for app in "${APPS[@]}"; do
  if [ -n "${NODE_MAJOR[$app]}" ]; then
    NODE_BIN[$app]=$(bash scripts/node-bin.sh "${NODE_MAJOR[$app]}") || { log "FAILED: no Node ${NODE_MAJOR[$app]} for $app"; failed=$((failed + 4)); continue; }
  else
    NODE_BIN[$app]=$(command -v node)
  fi
  mkdir -p "$WORK/$app"
  (cd "test/consumers/$app" && tar --exclude=node_modules --exclude=dist -cf - .) | (cd "$WORK/$app" && tar -xf -)
  log "$app: npm install (Node $("${NODE_BIN[$app]}" -v)); log $WORK/$app.install.log"
  (cd "$WORK/$app" && PATH="$(dirname "${NODE_BIN[$app]}"):$PATH" npm install --no-audit --no-fund "$TARBALL") >"$WORK/$app.install.log" 2>&1 </dev/null &
  INSTALL[$app]=$!
done

# run_step APP NAME COMMAND...: one counted test, output kept unless it fails
run_step() {
  local app=$1 name=$2 out rc=0 t=$SECONDS
  shift 2
  out="$WORK/$app.$name.log"
  (cd "$WORK/$app" && PATH="$(dirname "${NODE_BIN[$app]}"):$PATH" "$@") >"$out" 2>&1 </dev/null || rc=$?
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    log "$app: $name PASS ($((SECONDS - t)) s)"
  else
    failed=$((failed + 1))
    tail -n 60 "$out" >&2
    log "$app: $name FAILED (exit $rc, $((SECONDS - t)) s)"
  fi
  return "$rc"
}

for app in "${APPS[@]}"; do
  [ -n "${INSTALL[$app]:-}" ] || continue
  if ! wait "${INSTALL[$app]}"; then
    tail -n 40 "$WORK/$app.install.log" >&2
    log "$app: npm install FAILED"
    failed=$((failed + 4))
    continue
  fi
  log "$app: installed: $(cd "$WORK/$app" && "${NODE_BIN[$app]}" -e '
    const v = (p) => { try { return require(require.resolve(p + "/package.json", { paths: [process.cwd()] })).version; } catch { return "-"; } };
    console.log(["@nestjs/core", "@nestjs/schedule", "@nestjs/config", "typescript", "jest", "ts-jest", "vitest", "nestjs-s3-lock"].map((p) => p + " " + v(p)).join(", "));')"
  run_step "$app" typecheck "${NODE_BIN[$app]}" node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
  # the README's doc test: its example files equal this app's; in the ESM app, its fragments compile
  readme_args=(--readme "$ROOT/README.md" --app .)
  case "$app" in *-cjs) readme_args+=(--cjs) ;; *) readme_args+=(--tsconfig) ;; esac
  run_step "$app" readme sh -c 'node -r "$0/node_modules/ts-node/register/transpile-only" "$0/scripts/consumers/readme-blocks.ts" "$@" &&
    { [ ! -f tsconfig.readme.json ] || node node_modules/typescript/bin/tsc -p tsconfig.readme.json; }' "$ROOT" "${readme_args[@]}"
  run_step "$app" tests npm test
  if (cd "$WORK/$app" && PATH="$(dirname "${NODE_BIN[$app]}"):$PATH" npm run --silent build) >"$WORK/$app.build.log" 2>&1 </dev/null; then
    S3_ENDPOINT=$S3_RGW_ENDPOINT S3_ACCESS_KEY_ID=${S3_RGW_ACCESS_KEY_ID:-testaccesskey} S3_SECRET_ACCESS_KEY=${S3_RGW_SECRET_ACCESS_KEY:-testsecretkey} \
      run_step "$app" rgw node -r "$ROOT/node_modules/ts-node/register/transpile-only" "$ROOT/scripts/consumers/check-app.ts" --app "$WORK/$app" --node "${NODE_BIN[$app]}"
    grep "^\[consumer" "$WORK/$app.rgw.log" >&2
  else
    tail -n 40 "$WORK/$app.build.log" >&2
    log "$app: build FAILED"
    failed=$((failed + 1))
  fi
done

# The operator CLI (scripts/test-cli.sh): its jest suite, run with the bin the Nest 11 app installed
# from the tarball, as `npx nestjs-s3-lock` would run it there. Each of its tests counts as one.
if [ "${CLI_TESTS:-1}" != 0 ]; then
  bin="$WORK/nest11-cjs/node_modules/.bin/nestjs-s3-lock"
  if [ -x "$bin" ]; then
    crc=0
    bash scripts/test-cli.sh "$bin" >"$WORK/cli.out" 2>"$WORK/cli.log" </dev/null || crc=$?
    read -r cp cf < <(sed -n 's/^cli: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$WORK/cli.out" | tail -n 1)
    [ -n "${cp:-}" ] || { cp=0 cf=1; }
    [ "$crc" = 0 ] || [ "$cf" != 0 ] || cf=1
    passed=$((passed + cp)) failed=$((failed + cf))
    [ "$cf" = 0 ] || grep -E "●|✕|Expected|Received|never showed" "$WORK/cli.log" | head -n 80 >&2
    log "operator CLI: $cp passed, $cf failed (exit $crc)"
  else
    log "operator CLI: FAILED: the Nest 11 app has no installed bin ($bin)"
    failed=$((failed + 1))
  fi
fi
finish
}
