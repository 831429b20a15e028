#!/usr/bin/env bash
# The local servers the services and tests need, on loopback, without Docker:
#   PostgreSQL        127.0.0.1:5432   Debian's package (started, or installed, when missing)
#   Kafka protocol    127.0.0.1:9092   nisshi, built once from crates.io, durable Postgres storage
#   MongoDB wire      127.0.0.1:27017  nx-27017 from PyPI in a virtualenv
#
# usage: scripts/infra.sh up | down | status
# `up` is idempotent: what runs is left alone, what is missing is installed and started.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BROKER_PID="$RUN_DIR/broker.pid"
MONGO_PID="$RUN_DIR/mongo.pid"
MONGO_DATA="$CQRSPLUS_STATE/mongo"
BROKER_URL="postgres://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/$BROKER_DB?sslmode=disable"

ensure_tools() {
  local missing=()
  command -v cc >/dev/null || missing+=(build-essential)
  command -v make >/dev/null || missing+=(make)
  command -v ss >/dev/null || missing+=(iproute2)
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v curl >/dev/null || missing+=(curl)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
}

pg_ready() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; }

ensure_postgres() {
  if ! pg_ready; then
    if port_open "$PG_PORT"; then
      die "port $PG_PORT is taken by $(who_listens "$PG_PORT"), which is not a ready PostgreSQL"
    fi
    if ! compgen -G "/etc/postgresql/*/main" >/dev/null; then
      say "installing PostgreSQL (Debian package)"
      apt_install postgresql
    fi
    local version; version="$(ls /etc/postgresql | sort -V | tail -n1)"
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_until 60 "postgres" pg_ready || die "PostgreSQL did not become ready on $PG_HOST:$PG_PORT (see /var/log/postgresql/)"
  fi
  # Fresh Debian installs ask TCP clients for a password; give the postgres role the one the
  # project's URLs carry. Where the server trusts loopback (as here), the password is ignored.
  if ! psql_admin -c 'select 1' >/dev/null 2>&1; then
    say "setting the postgres role's password for TCP logins"
    runuser -u postgres -- psql -qAtX -c "alter role postgres password '$PG_PASSWORD'" >/dev/null \
      || die "cannot log in to PostgreSQL as $PG_USER and cannot set its password"
    psql_admin -c 'select 1' >/dev/null || die "cannot log in to PostgreSQL as $PG_USER on $PG_HOST:$PG_PORT"
  fi
  say "PostgreSQL ready on $PG_HOST:$PG_PORT"
}

ensure_broker_binary() {
  [[ -x "$NISSHI_BIN" ]] && return
  say "building the Kafka broker nisshi $NISSHI_VERSION from crates.io (first time only, about 20 minutes on 2 cores)"
  say "  log: $LOG_DIR/nisshi-build.log; cached in $CQRSPLUS_CACHE"
  # nisshi declares a newer rustc than the pinned toolchain but builds with it; no default features
  # because they pull in storage engines we do not use.
  if ! (cd "$CQRSPLUS_CACHE" && cargo install nisshi --version "$NISSHI_VERSION" --locked --ignore-rust-version \
        --no-default-features --features dynostore,postgres \
        --root "$CQRSPLUS_CACHE/nisshi-$NISSHI_VERSION" --target-dir "$CQRSPLUS_CACHE/build-nisshi") \
        >"$LOG_DIR/nisshi-build.log" 2>&1; then
    tail -n 30 "$LOG_DIR/nisshi-build.log" >&2
    die "building nisshi failed; full log in $LOG_DIR/nisshi-build.log"
  fi
  rm -rf "$CQRSPLUS_CACHE/build-nisshi"
}

broker_ready() { port_open "$KAFKA_PORT" && timeout 10 "$NISSHI_BIN" topic list --broker "tcp://127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1; }

start_broker() {
  if pid_alive "$BROKER_PID" && broker_ready; then
    say "Kafka broker already running on 127.0.0.1:$KAFKA_PORT"; return
  fi
  if ! pid_alive "$BROKER_PID" && port_open "$KAFKA_PORT"; then
    die "port $KAFKA_PORT is taken by $(who_listens "$KAFKA_PORT"); stop it or set KAFKA_PORT"
  fi
  ensure_broker_binary
  if [[ "$(psql_admin -c "select 1 from pg_database where datname = '$BROKER_DB'")" != 1 ]]; then
    psql_admin -c "create database $BROKER_DB" >/dev/null
  fi
  if ! pid_alive "$BROKER_PID"; then
    say "starting the Kafka broker (nisshi, storage in Postgres database $BROKER_DB)"
    setsid nohup "$NISSHI_BIN" broker \
      --storage-engine "$BROKER_URL" \
      --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
      >>"$LOG_DIR/broker.log" 2>&1 </dev/null &
    echo $! >"$BROKER_PID"
  fi
  wait_until 60 "broker" broker_ready || { tail -n 20 "$LOG_DIR/broker.log" >&2; die "the Kafka broker did not become ready (log: $LOG_DIR/broker.log)"; }
  say "Kafka broker ready on 127.0.0.1:$KAFKA_PORT"
}

ensure_mongo_venv() {
  [[ -x "$NX_VENV/bin/nx-27017" ]] && return
  say "installing nx-27017 $NX_VERSION into $NX_VENV"
  rm -rf "$NX_VENV"
  python3 -m venv "$NX_VENV" || die "cannot create a virtualenv (is python3-venv installed?)"
  "$NX_VENV/bin/pip" install -q --disable-pip-version-check "nx-27017==$NX_VERSION" \
    || { rm -rf "$NX_VENV"; die "pip could not install nx-27017==$NX_VERSION"; }
}

mongo_ready() {
  "$NX_VENV/bin/python" - "$MONGO_PORT" <<'PY' >/dev/null 2>&1
import sys, pymongo
pymongo.MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}", serverSelectionTimeoutMS=2000).admin.command("ping")
PY
}

start_mongo() {
  ensure_mongo_venv
  if pid_alive "$MONGO_PID" && mongo_ready; then
    say "MongoDB-wire server already running on 127.0.0.1:$MONGO_PORT"; return
  fi
  if ! pid_alive "$MONGO_PID" && port_open "$MONGO_PORT"; then
    die "port $MONGO_PORT is taken by $(who_listens "$MONGO_PORT"); stop it or set MONGO_PORT"
  fi
  if ! pid_alive "$MONGO_PID"; then
    say "starting the MongoDB-wire server (nx-27017, data in $MONGO_DATA)"
    mkdir -p "$MONGO_DATA"
    rm -f "$MONGO_PID"
    "$NX_VENV/bin/nx-27017" --daemon --data-dir "$MONGO_DATA" --host 127.0.0.1 --port "$MONGO_PORT" \
      --log-file "$LOG_DIR/mongo.log" --pid-file "$MONGO_PID" >>"$LOG_DIR/mongo.log" 2>&1
  fi
  wait_until 30 "mongo" mongo_ready || { tail -n 20 "$LOG_DIR/mongo.log" >&2; die "the MongoDB-wire server did not become ready (log: $LOG_DIR/mongo.log)"; }
  say "MongoDB-wire server ready on 127.0.0.1:$MONGO_PORT"
}

status() {
  local rc=0
  if pg_ready; then echo "postgres  up    127.0.0.1:$PG_PORT"; else echo "postgres  down"; rc=1; fi
  if pid_alive "$BROKER_PID" && port_open "$KAFKA_PORT"; then echo "kafka     up    127.0.0.1:$KAFKA_PORT (pid $(cat "$BROKER_PID"))"; else echo "kafka     down"; rc=1; fi
  if pid_alive "$MONGO_PID" && port_open "$MONGO_PORT"; then echo "mongodb   up    127.0.0.1:$MONGO_PORT (pid $(cat "$MONGO_PID"))"; else echo "mongodb   down"; rc=1; fi
  return $rc
}

case "${1:-}" in
  up)
    ensure_tools
    ensure_postgres
    start_mongo
    start_broker
    ;;
  down)
    stop_pidfile "Kafka broker" "$BROKER_PID"
    stop_pidfile "MongoDB-wire server" "$MONGO_PID"
    say "PostgreSQL is a system service and keeps running"
    ;;
  status) status ;;
  *) echo "usage: $0 up | down | status" >&2; exit 2 ;;
esac
