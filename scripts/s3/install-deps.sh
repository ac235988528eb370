#!/usr/bin/env bash
# Install, in one apt-get run, the Debian packages the given servers need (default: rgw moto);
# `cli` is tmux, for the operator CLI's terminal test.
# Usage: scripts/s3/install-deps.sh [rgw] [moto] [cli]
# Exit: 0 all present; 3 packages missing but this is not root / not Debian with apt-get; 1 apt failed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
S3_LOG_TAG=install-deps

[ $# -gt 0 ] || set -- rgw moto
pkgs=()
for s in "$@"; do
  list=$(s3_packages_for "$s") || s3_fail 1 "unknown server '$s' (expected rgw, moto or cli)"
  for p in $list; do
    case " ${pkgs[*]-} " in *" $p "*) ;; *) pkgs+=("$p") ;; esac
  done
done
rc=0
s3_ensure_packages "${pkgs[@]}" || rc=$?
exit "$rc"
