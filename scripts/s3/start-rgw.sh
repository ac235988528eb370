#!/usr/bin/env bash
# Start (or reuse) a throw-away single-node Ceph cluster (1 mon, 1 memstore OSD, no mgr) plus
# radosgw (beast) on 127.0.0.1, with two S3 users: `test` (owns the buckets the tests create) and
# `limited` (owns nothing: it only gets what a bucket policy of `test` grants it, for tests of denied
# actions). Debian 12 ships Ceph 16.2.15.
#
# Usage: scripts/s3/start-rgw.sh
# Environment (all optional):
#   CEPH_BASE      data dir (default ${TMPDIR:-/tmp}/s3-lock-rgw); nothing goes to /etc/ceph or /var/lib/ceph
#   RGW_PORT       S3 port on 127.0.0.1 (default 7480); MON_V2_PORT / MON_V1_PORT (3300 / 6789)
#   S3_ACCESS_KEY / S3_SECRET_KEY   user `test` (default testaccesskey / testsecretkey)
#   S3_LIMITED_ACCESS_KEY / S3_LIMITED_SECRET_KEY   user `limited` (default limitedaccesskey /
#                  limitedsecretkey)
#   READY_TIMEOUT  seconds to wait for the S3 endpoint (default 120)
# Stdout: KEY=VALUE lines only (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_LIMITED_ACCESS_KEY,
#         S3_LIMITED_SECRET_KEY, S3_REGION, S3_SERVER_PID, S3_SERVER_STATE=started|reused); the same
#         minus the last two is kept in $CEPH_BASE/s3.env.
# Exit:   0 ready; 3 not running and cannot be started here (not root / no apt-get to install the
#         packages); 1 any other failure (daemons stopped again, log tail printed).
# Idempotent: a healthy running instance is reused (user `limited` is added to it when its keys are
# refused, e.g. an instance started before that user existed; that needs root); stale pid files or a
# half-dead instance are cleaned up (our own pids only) and a fresh cluster is started. Stop with
# scripts/s3/stop-rgw.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
S3_LOG_TAG=start-rgw

CEPH_BASE=${CEPH_BASE:-${TMPDIR:-/tmp}/s3-lock-rgw}
RGW_PORT=${RGW_PORT:-7480}
MON_V2_PORT=${MON_V2_PORT:-3300}
MON_V1_PORT=${MON_V1_PORT:-6789}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-testaccesskey}
S3_SECRET_KEY=${S3_SECRET_KEY:-testsecretkey}
S3_LIMITED_ACCESS_KEY=${S3_LIMITED_ACCESS_KEY:-limitedaccesskey}
S3_LIMITED_SECRET_KEY=${S3_LIMITED_SECRET_KEY:-limitedsecretkey}
READY_TIMEOUT=${READY_TIMEOUT:-120}
ENDPOINT="http://127.0.0.1:$RGW_PORT"
ENV_FILE="$CEPH_BASE/s3.env"
RUN="$CEPH_BASE/run"
CONF="$CEPH_BASE/ceph.conf"
STDIO_LOG="$CEPH_BASE/log/daemons-stdio.log" # the daemons' stdout/stderr: never the caller's pipes
DAEMONS=("mon.a:ceph-mon" "osd.0:ceph-osd" "client.rgw.a:radosgw")

for v in RGW_PORT MON_V2_PORT MON_V1_PORT; do s3_check_port "$v" "${!v}"; done

t0=$(date +%s.%N)
log() { s3_log "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{printf "%6.2fs", a-b}') $*"; }

emit() { # emit STATE
  cat <<EOF
S3_ENDPOINT=$ENDPOINT
S3_ACCESS_KEY=$S3_ACCESS_KEY
S3_SECRET_KEY=$S3_SECRET_KEY
S3_LIMITED_ACCESS_KEY=$S3_LIMITED_ACCESS_KEY
S3_LIMITED_SECRET_KEY=$S3_LIMITED_SECRET_KEY
S3_REGION=us-east-1
S3_SERVER_PID=$(cat "$RUN/client.rgw.a.pid" 2>/dev/null || echo unknown)
S3_SERVER_STATE=$1
EOF
}

# alive_count -> number of our daemons (by pid file) that are alive
alive_count() {
  local n=0 d
  for d in "${DAEMONS[@]}"; do s3_pid_is "$RUN/${d%%:*}.pid" "${d##*:}" && n=$((n + 1)); done
  echo "$n"
}

healthy() { [ "$(alive_count)" = 3 ] && [ "$(s3_http_code "$ENDPOINT" "$S3_ACCESS_KEY" "$S3_SECRET_KEY")" = 200 ]; }
limited_ok() { [ "$(s3_http_code "$ENDPOINT" "$S3_LIMITED_ACCESS_KEY" "$S3_LIMITED_SECRET_KEY")" = 200 ]; }

# ensure_limited_user: create user `limited` with our keys, or (it exists) add/replace those keys.
# Idempotent: `radosgw-admin user create` of an existing uid fails (exit 17, "user: limited exists").
ensure_limited_user() {
  if CEPH_CONF="$CONF" timeout 60 radosgw-admin user info --uid=limited >/dev/null 2>&1; then
    CEPH_CONF="$CONF" timeout 60 radosgw-admin key create --uid=limited --key-type=s3 \
      --access-key="$S3_LIMITED_ACCESS_KEY" --secret-key="$S3_LIMITED_SECRET_KEY" >/dev/null
  else
    CEPH_CONF="$CONF" timeout 60 radosgw-admin user create --uid=limited --display-name=limited \
      --access-key="$S3_LIMITED_ACCESS_KEY" --secret-key="$S3_LIMITED_SECRET_KEY" >/dev/null
  fi
}

# reuse MESSAGE: report a healthy running instance, adding user `limited` to it if its keys are refused
reuse() {
  log "$1"
  if ! limited_ok; then
    if s3_is_root && ensure_limited_user && limited_ok; then
      log "added user limited to the running instance"
    else
      log "WARNING: the running instance refuses the keys of user limited and it could not be added (needs root); restart it: scripts/s3/stop-rgw.sh && scripts/s3/start-rgw.sh"
    fi
  fi
  emit reused
  exit 0
}

# 1. Reuse a healthy instance (no root needed for that).
if healthy; then
  reuse "already running at $ENDPOINT (radosgw pid $(cat "$RUN/client.rgw.a.pid")); reusing it"
fi

# 2. Everything below starts daemons: root + packages.
if ! s3_is_root; then
  s3_fail "$S3_EXIT_UNSUPPORTED" "RGW is not running at $ENDPOINT and starting it needs root (apt-get install of the Ceph packages, daemons under $CEPH_BASE)"
fi
rc=0
# shellcheck disable=SC2046
s3_ensure_packages $(s3_packages_for rgw) || rc=$?
[ "$rc" = 0 ] || s3_fail "$rc" "cannot install the RGW packages ($(s3_packages_for rgw))"
for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
  command -v "$b" >/dev/null || s3_fail 1 "missing $b although its package is installed"
done

# 3. Serialise concurrent starts of the same instance. The daemons must not inherit the lock fd
#    (they would hold the lock for their whole life) nor any pipe: they start via s3_close_extra_fds.
mkdir -p "$(dirname "$CEPH_BASE")"
s3_open_lock "$CEPH_BASE.lock" LOCK_FD || s3_fail 1 "cannot create lock file $CEPH_BASE.lock"
flock -w 300 "$LOCK_FD" || s3_fail 1 "timed out waiting for another start-rgw.sh ($CEPH_BASE.lock)"
if healthy; then
  reuse "started meanwhile by another process; reusing it"
fi

# 4. Clean up whatever is left of an earlier instance (our pid files only), then check the ports.
if [ -d "$RUN" ] && ls "$RUN"/*.pid >/dev/null 2>&1; then
  if [ "$(alive_count)" != 0 ]; then
    log "found a half-running or unhealthy instance in $CEPH_BASE; stopping it"
  else
    log "removing stale pid files from $RUN"
  fi
  bash "$HERE/stop-rgw.sh" >&2 || true
fi
for p in "$RGW_PORT" "$MON_V2_PORT" "$MON_V1_PORT"; do
  if s3_port_open "$p"; then
    code=$(s3_http_code "http://127.0.0.1:$p" "$S3_ACCESS_KEY" "$S3_SECRET_KEY")
    s3_fail 1 "port 127.0.0.1:$p is already in use by a process not started from $CEPH_BASE (HTTP $code with our keys); stop it or set RGW_PORT/MON_V2_PORT/MON_V1_PORT/CEPH_BASE (see: ss -ltnp)"
  fi
done

rm -rf "$CEPH_BASE"
mkdir -p "$CEPH_BASE"/{run,log,crash,mon/ceph-a,osd/ceph-0,rgw}

on_error() {
  local rc=$?
  trap - ERR EXIT
  echo "----- last log lines ($CEPH_BASE/log) -----" >&2
  for f in "$STDIO_LOG" "$CEPH_BASE"/log/mon.a.log "$CEPH_BASE"/log/osd.0.log "$CEPH_BASE"/log/client.rgw.a.log; do
    [ -s "$f" ] && { echo "== $f" >&2; tail -n 15 "$f" >&2; }
  done
  bash "$HERE/stop-rgw.sh" >&2 || true
  s3_fail 1 "RGW failed to start (exit $rc); daemons stopped again; logs kept in $CEPH_BASE/log"
}
trap on_error ERR
trap 'rc=$?; [ "$rc" = 0 ] || on_error' EXIT

FSID=$(cat /proc/sys/kernel/random/uuid)
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
export CEPH_CONF="$CONF" # picked up by ceph, radosgw-admin and the ceph-* daemons

cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]
public addr = 127.0.0.1
# without cluster addr the OSD binds its cluster/heartbeat-back ports on 0.0.0.0
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# daemons (radosgw included) default ms_mon_client_mode to "secure", which auth=none cannot do:
# without this radosgw loops on "get_initial_auth_request returned -13" and never daemonizes
ms mon client mode = crc
mon warn on insecure global id reclaim allowed = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
run dir = $CEPH_BASE/run
pid file = $CEPH_BASE/run/\$name.pid
admin socket = $CEPH_BASE/run/\$name.asok
log file = $CEPH_BASE/log/\$name.log
crash dir = $CEPH_BASE/crash
log to stderr = false
err to stderr = true

[mon]
# default paxos_propose_interval=1s made each of radosgw's ~15 pool create/set commands take ~1s
paxos propose interval = 0.05
paxos min wait = 0.01
mon data = $CEPH_BASE/mon/ceph-\$id
mon cluster log file = $CEPH_BASE/log/cluster.log

[osd]
osd data = $CEPH_BASE/osd/ceph-\$id
osd objectstore = memstore
memstore device bytes = 1073741824
osd crush update on start = true
# keep the in-memory PG logs short: with defaults (10000 entries, 3000 dups per PG) a memstore
# OSD grew to ~880 MB RSS after 3 minutes / ~49k S3 ops
osd min pg log entries = 10
osd max pg log entries = 10
osd pg log dups tracked = 10
osd pg log trim min = 10

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $CEPH_BASE/rgw
rgw thread pool size = 64
EOF

log "mon mkfs"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]" "$CEPH_BASE/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$CEPH_BASE/monmap"

log "start mon"
(s3_close_extra_fds && exec timeout 60 ceph-mon -i a) </dev/null >>"$STDIO_LOG" 2>&1 # daemonizes, writes $RUN/mon.a.pid
timeout 60 ceph --connect-timeout 5 mon stat >/dev/null # waits for quorum

log "create + mkfs osd.0 (memstore)"
OSD_ID=$(timeout 60 ceph osd new "$OSD_UUID")
[ "$OSD_ID" = 0 ] || { echo "expected osd id 0, got '$OSD_ID'" >&2; false; }
ceph-osd -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1
(s3_close_extra_fds && exec timeout 60 ceph-osd -i "$OSD_ID") </dev/null >>"$STDIO_LOG" 2>&1 # daemonizes, writes $RUN/osd.0.pid
up=0
for _ in $(seq 1 120); do
  if timeout 10 ceph osd dump 2>/dev/null | grep -q "^osd.$OSD_ID up"; then up=1; break; fi
  sleep 0.5
done
[ "$up" = 1 ] || { echo "osd.$OSD_ID did not come up within 60 s" >&2; false; }

log "start radosgw on 127.0.0.1:$RGW_PORT"
# radosgw fetches its config from the mon *before* it forks, so a mon/auth problem hangs here;
# timeout bounds that (it only signals the pre-fork parent)
(s3_close_extra_fds && exec timeout 60 radosgw -n client.rgw.a) </dev/null >>"$STDIO_LOG" 2>&1 # daemonizes, writes $RUN/client.rgw.a.pid
code=000
for _ in $(seq 1 $((READY_TIMEOUT * 2))); do
  code=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$ENDPOINT/" || true)
  [ "$code" = 200 ] && break
  # the pid file appears a moment after the pre-fork parent returns
  if [ -f "$RUN/client.rgw.a.pid" ] && ! s3_pid_is "$RUN/client.rgw.a.pid" radosgw; then echo "radosgw exited" >&2; false; fi
  sleep 0.5
done
[ "$code" = 200 ] || { echo "radosgw not answering on :$RGW_PORT after ${READY_TIMEOUT}s (last HTTP code $code)" >&2; false; }

log "create S3 users test and limited"
timeout 60 radosgw-admin user create --uid=test --display-name=test \
  --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >/dev/null
ensure_limited_user
for u in test limited; do
  if [ "$u" = test ]; then ak=$S3_ACCESS_KEY sk=$S3_SECRET_KEY; else ak=$S3_LIMITED_ACCESS_KEY sk=$S3_LIMITED_SECRET_KEY; fi
  code=000
  for _ in $(seq 1 20); do
    code=$(s3_http_code "$ENDPOINT" "$ak" "$sk")
    [ "$code" = 200 ] && break
    sleep 0.25
  done
  [ "$code" = 200 ] || { echo "signed request with the keys of the new user $u answered HTTP $code" >&2; false; }
done

emit started | grep -v '^S3_SERVER_' >"$ENV_FILE"
trap - ERR EXIT
log "ready: $ENDPOINT (env in $ENV_FILE)"
emit started
