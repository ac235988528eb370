#!/usr/bin/env bash
# The compatibility steps of `npm test` (called by scripts/test.sh after the jest run):
#
#   package   `npm pack` (prepack builds dist), then on the tarball: @arethetypeswrong/cli (types
#             under node10, node16 from CJS and ESM, bundler) and publint --strict; then
#             test/package/one-copy.mjs on Node 20, 22 and 24 against the unpacked tarball (an ES
#             module importer and a CommonJS requirer in one process see one package).
#   nest11    the NestJS suites on Nest 11 (test/compat/jest.nest11.config.js): src/nest specs, and
#             test/nest e2e specs on the in-memory store and on RGW (when S3_RGW_ENDPOINT is set).
#             The Nest 11 packages (test/compat/nest11) are installed once into a cache folder.
#             Without S3_RGW_ENDPOINT, nest11-rgw fails under CI=true and is reported NOT RUN otherwise.
#   node22, node24   on that Node version (scripts/node-bin.sh provides the binary): the unit
#             project, the NestJS specs (node24: the src/nest ones; the consumer apps run Nest 12
#             on Node 24) and the lock contract on the in-memory store; the
#             fault-injection suites, the multi-process contract, the demo, the versioned torture
#             and the cron-logs spec wait on timers or child processes and run on Node 20 against
#             every store.
#
# Usage: scripts/test-compat.sh COUNTS_FILE
#   Writes "PASSED FAILED" to COUNTS_FILE: the tests of each jest run, plus one per other check.
#   Exit 0 when every step passed, 1 otherwise.
# Environment: S3_LOCK_COMPAT  comma-separated steps to run (default package,nest11,node22,node24;
#              `none` runs nothing); S3_LOCK_CACHE  the cache folder (as scripts/node-bin.sh).
set -uo pipefail
{

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=s3/lib.sh
. scripts/s3/lib.sh
S3_LOG_TAG=compat
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
COUNTS=${1:?usage: test-compat.sh COUNTS_FILE}
IFS=', ' read -r -a STEPS <<<"${S3_LOCK_COMPAT:-package,nest11,node22,node24}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3-lock-compat.XXXXXX") || exit 1
# the unpacked tarball must sit inside the repository: its peers resolve from node_modules here
UNPACKED="$ROOT/.s3-lock-run/compat-$$"
trap 'rm -rf "$WORK" "$UNPACKED"' EXIT

passed=0 failed=0
declare -a SUMMARY=()
record() { # record NAME RC SECONDS [DETAIL]
  if [ "$2" = 0 ]; then SUMMARY+=("PASS  $1 (${3} s)${4:+: $4}"); else SUMMARY+=("FAIL  $1 (${3} s)${4:+: $4}"); fi
}
check() { # check NAME COMMAND...: one test
  local name=$1 t=$SECONDS rc=0
  shift
  s3_log "$name"
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  record "$name" "$rc" "$((SECONDS - t))"
  return 0
}
declare -A JEST_PID=() JEST_T0=()
jest_start() { # jest_start NAME NODE JEST-ARGS...: starts a jest run in the background
  local name=$1 node=$2
  shift 2
  s3_log "$name: $("$node" -v) jest $* (log: $WORK/$name.log)"
  JEST_T0[$name]=$SECONDS
  (
    rc=0
    PATH="$(dirname "$node"):$PATH" "$node" node_modules/.bin/jest "$@" --json --outputFile "$WORK/$name.json" >"$WORK/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$WORK/$name.rc"
  ) </dev/null &
  JEST_PID[$name]=$!
}
jest_finish() { # jest_finish NAME: waits for the run and counts its tests
  local name=$1 rc p f
  wait "${JEST_PID[$name]}"
  rc=$(cat "$WORK/$name.rc" 2>/dev/null || echo 1)
  read -r p f < <(node -e 'try { const r = require(process.argv[1]); console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites); } catch { console.log(0, 1); }' "$WORK/$name.json")
  [ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
  passed=$((passed + p)) failed=$((failed + f))
  if [ "$rc" != 0 ]; then grep -E '^(FAIL|  ●)' "$WORK/$name.log" | head -n 40 >&2; tail -n 15 "$WORK/$name.log" >&2; fi
  record "$name" "$rc" "$((SECONDS - JEST_T0[$name]))" "$p passed, $f failed"
}
jest_run() { # jest_run NAME NODE JEST-ARGS...: one jest run, counted
  jest_start "$@"
  jest_finish "$1"
}
want() { case " ${STEPS[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

NODE_BIN=()
node_bin() { # node_bin MAJOR -> path (the machine's node for its own major)
  if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$1" ]; then command -v node; else bash scripts/node-bin.sh "$1"; fi
}

# ---------------------------------------------------------------- package
if want package; then
  t=$SECONDS
  if npm pack --pack-destination "$WORK" >"$WORK/pack.log" 2>&1; then
    TGZ=$(ls "$WORK"/nestjs-s3-lock-*.tgz)
    s3_log "packed $(basename "$TGZ") in $((SECONDS - t)) s ($(tar -tzf "$TGZ" | wc -l) files)"
    check "attw: types under node10, node16 (CJS and ESM), bundler" node_modules/.bin/attw --no-emoji "$TGZ"
    check "publint --strict" node_modules/.bin/publint run "$TGZ" --strict
    mkdir -p "$UNPACKED/node_modules/nestjs-s3-lock"
    tar -xzf "$TGZ" -C "$UNPACKED/node_modules/nestjs-s3-lock" --strip-components=1
    cp test/package/one-copy.mjs test/package/cjs-library.cjs "$UNPACKED/"
    for v in 20 22 24; do
      if bin=$(node_bin "$v"); then
        check "one package for import and require() on Node $v" "$bin" "$UNPACKED/one-copy.mjs"
      else
        failed=$((failed + 1)); record "Node $v binary" 1 0 "scripts/node-bin.sh $v failed"
      fi
    done
  else
    cat "$WORK/pack.log" >&2
    failed=$((failed + 1)); record "npm pack" 1 "$((SECONDS - t))"
  fi
fi

# ---------------------------------------------------------------- Nest 11
if want nest11; then
  t=$SECONDS
  cache=${S3_LOCK_CACHE:-/var/cache/s3-lock}
  mkdir -p "$cache" 2>/dev/null || cache=${TMPDIR:-/tmp}/s3-lock
  hash=$(cat test/compat/nest11/package.json test/compat/nest11/package-lock.json | sha1sum | cut -c1-12)
  dir="$cache/nest11-$hash"
  mkdir -p "$cache"
  (
    flock -w 600 9 || exit 1
    [ -f "$dir/.installed" ] && exit 0
    rm -rf "$dir" && mkdir -p "$dir" &&
      cp test/compat/nest11/package.json test/compat/nest11/package-lock.json test/compat/nest11/.npmrc "$dir/" &&
      (cd "$dir" && npm ci --no-audit --no-fund --legacy-peer-deps >&2) && touch "$dir/.installed"
  ) 9>"$dir.lock"
  irc=$?
  record "Nest 11 install ($dir)" "$irc" "$((SECONDS - t))"
  if [ "$irc" = 0 ]; then
    projects=(nest11-unit nest11-memory)
    if [ -n "${S3_RGW_ENDPOINT:-}" ]; then
      projects+=(nest11-rgw)
    elif [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
      failed=$((failed + 1)) && record "nest11-rgw" 1 0 "CI=true but S3_RGW_ENDPOINT is not set"
    else
      SUMMARY+=("NOT RUN  nest11-rgw: S3_RGW_ENDPOINT is not set (RGW was not started)")
    fi
    NEST11_NODE_MODULES="$dir/node_modules" jest_run nest11 "$(command -v node)" -c test/compat/jest.nest11.config.js --selectProjects "${projects[@]}"
  else
    failed=$((failed + 1))
  fi
fi

# ---------------------------------------------------------------- Node 22 and 24
# One after the other, two jest workers each: most of these specs wait on timers, so one worker
# each at once took about twice as long.
for v in 22 24; do
  want "node$v" || continue
  if bin=$(node_bin "$v"); then
    # What depends on the runtime: the unit project (engine logic, the in-memory store, the
    # checker), the NestJS specs on the in-memory store (module loading, the ESM-only Nest
    # packages through require, async context, timers) and the lock contract. The fault-injection
    # suites (test/memory), the multi-process contract, the demo, the versioned torture and the
    # per-second cron's logs mostly wait on timers or child processes: they run on Node 20 against
    # every store, which keeps CI within its time.
    # Node 24 leaves out test/nest's e2e specs (the src/nest specs stay): the consumer apps run
    # Nest 12, ESM and CommonJS, on Node 24 against RGW (scripts/test-consumers.sh).
    pattern='/src/|/verify/|/test/nest/|/test/contract/lock-contract'
    [ "$v" = 24 ] && pattern='/src/|/verify/|/test/contract/lock-contract'
    jest_run "node$v" "$bin" --selectProjects unit memory --testPathPattern "$pattern" \
      --testPathIgnorePatterns /node_modules/ /dist/ /test/consumers/ /src/core/versioned-protocol.torture /test/nest/cron-logs
  else
    failed=$((failed + 1)); record "node$v" 1 0 "scripts/node-bin.sh $v failed"
  fi
done

echo "$passed $failed" >"$COUNTS"
printf '[compat] %s\n' "${SUMMARY[@]}" >&2
s3_log "compat steps: $passed passed, $failed failed"
[ "$failed" = 0 ]
}
