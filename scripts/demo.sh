#!/usr/bin/env bash
# `npm run demo`: three instances of the sample NestJS app (sample/) share one bucket for about
# 30 s; one is SIGKILLed while it holds a lock; then a timeline and a summary (scripts/demo/run-demo.ts).
#
#   npm run demo                          in-memory S3 store started by the demo
#   DEMO_SECONDS=60 npm run demo          run longer (DEMO_TTL_MS=5000: the lock TTL)
#   S3_ENDPOINT=http://127.0.0.1:7480 S3_BUCKET=demo npm run demo   a store of your own
#   npm run demo -- --help
#
# Installs the node dependencies first (npm ci) when node_modules is missing.
# Exit code: 0 every check passed, 1 a check failed, 2 the demo could not run, 130/143 interrupted.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf '[demo] %s\n' "$*" >&2; }

command -v node >/dev/null && command -v npm >/dev/null || {
  say "node and npm are required (Node >= 20.19)"
  exit 2
}
# @nestjs/schedule 12 is ESM-only; the sample loads it with require(), which needs require(esm):
# Node 20.19+, 22.12+ or 23+.
if ! node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  process.exit(major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19) ? 0 : 1);
'; then
  say "Node $(node --version) is too old for the sample: it needs Node 20.19+, 22.12+ or 23+ (require of ESM packages)"
  exit 2
fi

if [ ! -x node_modules/.bin/ts-node ] || [ ! -d node_modules/@nestjs/schedule ]; then
  say "node_modules missing: npm ci"
  npm ci --no-audit --no-fund >&2 || {
    say "npm ci failed"
    exit 2
  }
fi

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
exec node -r ts-node/register/transpile-only scripts/demo/run-demo.ts "$@"
