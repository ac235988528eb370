#!/usr/bin/env bash
# Print the path of a Node.js binary of the given major version (22, 24, ...), installing it first
# from the npm registry's `node` package into a cache folder kept between runs.
#
# Usage: scripts/node-bin.sh 24          -> /var/cache/s3-lock/node-24/node_modules/node/bin/node
# Environment: S3_LOCK_CACHE  the cache folder (default /var/cache/s3-lock, or $TMPDIR/s3-lock when
#              that cannot be created)
# Exit: 0 and the path on stdout; 1 when the install fails (npm's output on stderr).
set -euo pipefail
major=${1:?usage: node-bin.sh MAJOR}
case "$major" in *[!0-9]*) echo "node-bin.sh: MAJOR must be a number, got '$major'" >&2; exit 1 ;; esac
cache=${S3_LOCK_CACHE:-/var/cache/s3-lock}
mkdir -p "$cache" 2>/dev/null || cache=${TMPDIR:-/tmp}/s3-lock
dir="$cache/node-$major"
bin="$dir/node_modules/node/bin/node"
if [ -x "$bin" ] && "$bin" -v 2>/dev/null | grep -q "^v$major\."; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
# one install at a time per version (several test runs may ask at once)
exec 9>"$dir.lock"
flock -w 600 9
if ! { [ -x "$bin" ] && "$bin" -v 2>/dev/null | grep -q "^v$major\."; }; then
  rm -rf "$dir/node_modules" "$dir/package.json" "$dir/package-lock.json"
  npm install --no-audit --no-fund --no-save --prefix "$dir" "node@$major" >&2
  "$bin" -v | grep -q "^v$major\." || { echo "node-bin.sh: $bin is not Node $major" >&2; exit 1; }
fi
echo "$bin"
