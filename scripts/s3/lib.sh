# shellcheck shell=bash
# Helpers shared by scripts/s3/*.sh, scripts/test.sh and .ci/run. Source it; it only defines
# functions and constants.
#
# Exit-code convention of the start scripts (and of s3_ensure_packages):
#   0  server ready (started or reused)
#   3  this machine cannot start the server: not root, or not Debian with apt-get, and the server
#      is not already running. scripts/test.sh may skip that store outside CI.
#   1  anything else (install failed, port taken, daemon crashed, timeout, ...): a real failure.

S3_EXIT_UNSUPPORTED=3

s3_log() { printf '[%s] %s\n' "${S3_LOG_TAG:-s3}" "$*" >&2; }
s3_fail() { # s3_fail CODE MESSAGE...   (the message is also appended to $S3_ERROR_FILE when set)
  local code=$1
  shift
  printf '[%s] ERROR: %s\n' "${S3_LOG_TAG:-s3}" "$*" >&2
  [ -z "${S3_ERROR_FILE:-}" ] || printf '%s\n' "$*" >>"$S3_ERROR_FILE" 2>/dev/null || true
  exit "$code"
}

s3_is_root() { [ "$(id -u)" = 0 ]; }
s3_is_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; }
s3_pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Debian packages each server needs on the host.
s3_packages_for() {
  case "$1" in
    rgw) echo "radosgw ceph-mon ceph-osd curl" ;;
    moto) echo "debootstrap curl" ;;
    cli) echo "tmux" ;; # the operator CLI's watch test runs it in a real terminal (scripts/test-cli.sh)
    *) return 1 ;;
  esac
}

# s3_ensure_packages PKG... -> 0 all present (installed now if needed), 3 cannot install here, 1 failed.
# Runs `apt-get update` at most once per process tree (S3_APT_UPDATED=1 is exported afterwards).
s3_ensure_packages() {
  local missing=() p log
  if command -v dpkg-query >/dev/null 2>&1; then
    for p in "$@"; do s3_pkg_installed "$p" || missing+=("$p"); done
  else
    missing=("$@")
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! s3_is_debian; then
    s3_log "missing ${missing[*]} and this is not a Debian system with apt-get; install them yourself"
    return "$S3_EXIT_UNSUPPORTED"
  fi
  if ! s3_is_root; then
    s3_log "missing Debian packages: ${missing[*]}; run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}"
    return "$S3_EXIT_UNSUPPORTED"
  fi
  log="${TMPDIR:-/tmp}/s3-lock-apt.log"
  if [ "${S3_APT_UPDATED:-}" != 1 ]; then
    s3_log "apt-get update"
    if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      s3_log "apt-get update failed (full log: $log)"
      return 1
    fi
    export S3_APT_UPDATED=1
  fi
  s3_log "apt-get install --no-install-recommends ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    s3_log "apt-get install ${missing[*]} failed (full log: $log)"
    return 1
  fi
  for p in "${missing[@]}"; do
    s3_pkg_installed "$p" || { s3_log "package $p still not installed after apt-get (log: $log)"; return 1; }
  done
  return 0
}

# s3_pid_is PIDFILE PROGRAM -> true if the pid in PIDFILE is alive and its argv[0] ends in PROGRAM
# (guards against a recycled pid). Works for other users' processes too (reads /proc only).
s3_pid_is() {
  local pidfile=$1 prog=$2 pid argv0
  [ -r "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)
  case "$argv0" in
    *"$prog") return 0 ;;
  esac
  # python scripts (moto_server) show the interpreter as argv[0]
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 2 | grep -q "$prog\$"
}

# s3_http_code URL ACCESS_KEY SECRET_KEY -> prints the HTTP status of a SigV4-signed GET (000 = no answer)
s3_http_code() {
  curl -s --max-time 3 -o /dev/null -w '%{http_code}' \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    --aws-sigv4 'aws:amz:us-east-1:s3' --user "$2:$3" "$1/" 2>/dev/null || true
}

# s3_check_port NAME VALUE -> fails (exit 1) unless VALUE is a TCP port number
s3_check_port() {
  case "$2" in '' | *[!0-9]*) s3_fail 1 "$1='$2' is not a port number" ;; esac
  [ "$2" -ge 1 ] && [ "$2" -le 65535 ] || s3_fail 1 "$1=$2 is not a port number (1-65535)"
}

# s3_port_open PORT -> true if something accepts TCP connections on 127.0.0.1:PORT
s3_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# s3_open_lock FILE FD_VAR -> opens FILE read-only on a new fd (created if missing) and stores the fd
# number in FD_VAR. flock works on read-only fds, so a lock file created by root stays usable.
s3_open_lock() {
  local file=$1 __fd
  [ -e "$file" ] || { (umask 000 && : >"$file") 2>/dev/null || return 1; }
  exec {__fd}<"$file" || return 1
  printf -v "$2" '%s' "$__fd"
}

# s3_close_extra_fds: close every fd above 2 of the current (sub)shell. Call it in a subshell right
# before exec-ing a daemon, so the daemon does not inherit lock fds or a caller's pipes (a daemon
# holding a pipe open makes `$(start-rgw.sh)` or `start-rgw.sh | cat` hang for its whole life).
s3_close_extra_fds() {
  local fd
  for fd in $(ls "/proc/$BASHPID/fd" 2>/dev/null); do
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
  return 0
}
