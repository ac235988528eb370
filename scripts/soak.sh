#!/usr/bin/env bash
# `npm run soak -- --store rgw --minutes 60 --locks 200`: one process holds that many locks with
# renewals for that long and prints a sample every 30 s (held, lost, renewals, heap after GC, RSS,
# timers); exits 1 if a lease was lost. The servers are started (or reused) like `npm run bench`
# does. Not part of `npm test`; the recorded run is in docs/benchmarks.md.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_ENTRY=bench/soak.ts exec bash "$ROOT/scripts/bench.sh" "$@"
