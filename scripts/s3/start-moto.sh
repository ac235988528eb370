#!/usr/bin/env bash
# Start (or reuse) moto's S3 server (moto 5.x from Debian 13) on 127.0.0.1, inside a Debian 13
# chroot: Debian 12 has no moto package and its Python is too old for Debian 13's packages.
# The chroot is built once with debootstrap (about 2-3 minutes) and kept for later runs.
#
# Usage: scripts/s3/start-moto.sh              start or reuse the server
#        scripts/s3/start-moto.sh --prepare    only install packages and build the chroot (root)
# Environment (all optional):
#   MOTO_ROOT       the chroot (default /var/cache/s3-lock/moto-root)
#   MOTO_PORT       port on 127.0.0.1 (default 5055)
#   MOTO_STATE_DIR  where moto.pid, moto.log and s3.env live (default $MOTO_ROOT)
#   MOTO_SUITE      Debian suite of the chroot (default trixie)
#   S3_ACCESS_KEY / S3_SECRET_KEY  printed for clients (moto accepts any; default testaccesskey / testsecretkey)
#   READY_TIMEOUT   seconds to wait for the endpoint (default 60)
# Stdout: KEY=VALUE lines only (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_SERVER_PID,
#         S3_SERVER_STATE=started|reused); the same minus the last two is kept in $MOTO_STATE_DIR/s3.env.
# Exit:   0 ready; 3 not running and cannot be started here (not root / no apt-get); 1 any other
#         failure (the half-started server is stopped again, log tail printed).
# Idempotent: a healthy server from our pid file is reused; a stale pid file is removed.
# Stop with scripts/s3/stop-moto.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
S3_LOG_TAG=start-moto

MOTO_ROOT=${MOTO_ROOT:-/var/cache/s3-lock/moto-root}
MOTO_ROOT=${MOTO_ROOT%/}
MOTO_PORT=${MOTO_PORT:-5055}
MOTO_STATE_DIR=${MOTO_STATE_DIR:-$MOTO_ROOT}
MOTO_SUITE=${MOTO_SUITE:-trixie}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-testaccesskey}
S3_SECRET_KEY=${S3_SECRET_KEY:-testsecretkey}
READY_TIMEOUT=${READY_TIMEOUT:-60}
ENDPOINT="http://127.0.0.1:$MOTO_PORT"
PID_FILE="$MOTO_STATE_DIR/moto.pid"
LOG_FILE="$MOTO_STATE_DIR/moto.log"
ENV_FILE="$MOTO_STATE_DIR/s3.env"
s3_check_port MOTO_PORT "$MOTO_PORT"
PREPARE_ONLY=0
case "${1:-}" in
  --prepare) PREPARE_ONLY=1 ;;
  '') ;;
  *) s3_fail 1 "unknown argument '$1' (usage: start-moto.sh [--prepare])" ;;
esac

t0=$(date +%s.%N)
log() { s3_log "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%6.2fs", a-b}') $*"; }

emit() { # emit STATE
  cat <<EOF
S3_ENDPOINT=$ENDPOINT
S3_ACCESS_KEY=$S3_ACCESS_KEY
S3_SECRET_KEY=$S3_SECRET_KEY
S3_REGION=us-east-1
S3_SERVER_PID=$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || echo unknown)
S3_SERVER_STATE=$1
EOF
}
write_env() { { emit "$1" | grep -v '^S3_SERVER_' >"$ENV_FILE"; } 2>/dev/null || true; }

ours_alive() { s3_pid_is "$PID_FILE" moto_server; }
healthy() { ours_alive && [ "$(s3_http_code "$ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_KEY")" = 200 ]; }

# 1. Reuse a healthy server (no root needed for that).
if [ "$PREPARE_ONLY" = 0 ] && healthy; then
  log "already running at $ENDPOINT (pid $(tr -dc '0-9' <"$PID_FILE")); reusing it"
  write_env reused
  emit reused
  exit 0
fi

# 2. Everything below needs root: apt-get, debootstrap, mount, chroot.
if ! s3_is_root; then
  [ "$PREPARE_ONLY" = 1 ] && s3_fail "$S3_EXIT_UNSUPPORTED" "--prepare needs root (debootstrap, chroot)"
  s3_fail "$S3_EXIT_UNSUPPORTED" "moto is not running at $ENDPOINT and starting it needs root (debootstrap, mount, chroot)"
fi
rc=0
# shellcheck disable=SC2046
s3_ensure_packages $(s3_packages_for moto) || rc=$?
[ "$rc" = 0 ] || s3_fail "$rc" "cannot install the packages moto needs ($(s3_packages_for moto))"

# 3. Serialise concurrent starts (and chroot builds). Nothing started below may keep the lock fd.
mkdir -p "$(dirname "$MOTO_ROOT")"
s3_open_lock "$MOTO_ROOT.lock" LOCK_FD || s3_fail 1 "cannot create lock file $MOTO_ROOT.lock"
flock -w 900 "$LOCK_FD" || s3_fail 1 "timed out waiting for another start-moto.sh ($MOTO_ROOT.lock)"
if [ "$PREPARE_ONLY" = 0 ] && healthy; then
  log "started meanwhile by another process; reusing it"
  write_env reused
  emit reused
  exit 0
fi

# 4. Build the chroot once.
if [ ! -x "$MOTO_ROOT/usr/bin/moto_server" ]; then
  if [ -e "$MOTO_ROOT" ]; then
    s3_fail 1 "$MOTO_ROOT exists but has no usr/bin/moto_server; remove it (it is only a cache) and retry"
  fi
  build_log="$MOTO_ROOT.build.log"
  partial="$MOTO_ROOT.partial"
  if mountpoint -q "$partial/proc" 2>/dev/null; then umount "$partial/proc" || true; fi
  rm -rf "$partial"
  log "building the Debian $MOTO_SUITE chroot in $MOTO_ROOT (about 2-3 minutes, once; log: $build_log)"
  # no mirror argument: debootstrap's default mirror
  if ! debootstrap --variant=minbase "$MOTO_SUITE" "$partial" >"$build_log" 2>&1 {LOCK_FD}<&-; then
    tail -n 20 "$build_log" >&2
    rm -rf "$partial"
    s3_fail 1 "debootstrap $MOTO_SUITE failed (log: $build_log)"
  fi
  log "installing python3-moto in the chroot"
  cp /etc/resolv.conf "$partial/etc/resolv.conf"
  if ! chroot "$partial" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends python3-moto python3-flask-cors && apt-get clean' \
    </dev/null >>"$build_log" 2>&1 {LOCK_FD}<&-; then
    tail -n 20 "$build_log" >&2
    rm -rf "$partial"
    s3_fail 1 "installing python3-moto in the chroot failed (log: $build_log)"
  fi
  [ -x "$partial/usr/bin/moto_server" ] || { rm -rf "$partial"; s3_fail 1 "python3-moto installed no /usr/bin/moto_server (log: $build_log)"; }
  mv "$partial" "$MOTO_ROOT"
  log "chroot ready"
fi

if [ "$PREPARE_ONLY" = 1 ]; then
  log "chroot $MOTO_ROOT is ready (--prepare: not starting the server)"
  exit 0
fi

# 5. Clean up a stale pid file; refuse a port taken by something else.
mkdir -p "$MOTO_STATE_DIR"
if [ -f "$PID_FILE" ]; then
  if ours_alive; then
    log "moto (pid $(tr -dc '0-9' <"$PID_FILE")) is alive but not answering; stopping it"
    MOTO_ROOT=$MOTO_ROOT MOTO_STATE_DIR=$MOTO_STATE_DIR bash "$HERE/stop-moto.sh" --keep-mount >&2 || true
  else
    log "removing stale pid file $PID_FILE"
  fi
  rm -f "$PID_FILE"
fi
if s3_port_open "$MOTO_PORT"; then
  code=$(s3_http_code "$ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_KEY")
  s3_fail 1 "port 127.0.0.1:$MOTO_PORT is already in use by a process without a pid file in $MOTO_STATE_DIR (HTTP $code); stop it or set MOTO_PORT (see: ss -ltnp)"
fi

# 6. Start it in its own session (not killed by the caller's Ctrl-C; stopped via the pid file).
mountpoint -q "$MOTO_ROOT/proc" || mount --bind /proc "$MOTO_ROOT/proc"
(s3_close_extra_fds && exec setsid chroot "$MOTO_ROOT" moto_server -H 127.0.0.1 -p "$MOTO_PORT") </dev/null >"$LOG_FILE" 2>&1 &
pid=$!
echo "$pid" >"$PID_FILE"

fail_started() {
  tail -n 20 "$LOG_FILE" >&2 || true
  MOTO_ROOT=$MOTO_ROOT MOTO_STATE_DIR=$MOTO_STATE_DIR bash "$HERE/stop-moto.sh" >&2 || true
  s3_fail 1 "$*; see $LOG_FILE"
}
# the moto_server living in our chroot with our port (in case setsid had to fork)
find_moto_pid() {
  local d
  for d in /proc/[0-9]*; do
    [ "$(readlink "$d/root" 2>/dev/null)" = "$MOTO_ROOT" ] || continue
    tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q "moto_server .*-p $MOTO_PORT\b" && { echo "${d#/proc/}"; return 0; }
  done
  return 1
}
code=000
for _ in $(seq 1 $((READY_TIMEOUT * 4))); do
  code=$(s3_http_code "$ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_KEY")
  [ "$code" = 200 ] && break
  [ -d "/proc/$pid" ] || find_moto_pid >/dev/null || fail_started "moto_server exited during start-up"
  sleep 0.25
done
[ "$code" = 200 ] || fail_started "moto did not answer on :$MOTO_PORT within ${READY_TIMEOUT}s (last HTTP code $code)"
if ! ours_alive; then
  pid=$(find_moto_pid) || fail_started "the process answering on :$MOTO_PORT is not the moto_server we started"
  echo "$pid" >"$PID_FILE"
fi
write_env started
log "ready: $ENDPOINT (pid $pid; env in $ENV_FILE)"
emit started
