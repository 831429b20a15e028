#!/usr/bin/env bash
# README command 1: install what is missing, start the local servers, build and start the three
# services in the background, and print where everything listens. Safe to run again: what runs
# is left alone, and a service whose binary was rebuilt is restarted.
#
# usage: scripts/run.sh            stop with: scripts/stop.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/infra.sh" up

# Settings a user keeps in .env override the defaults (which match the servers started above).
if [[ -f "$ROOT/.env" ]]; then set -a; source "$ROOT/.env"; set +a; fi

say "building the services (first build takes about 10 minutes on 2 cores)"
cargo build --locked --bins -p command-service -p query-service -p gateway
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# start_service NAME PORT: start target/debug/NAME unless the same binary already serves.
start_service() {
  local name="$1" port="$2" bin="$TARGET_DIR/debug/$1" pidfile="$RUN_DIR/$1.pid"
  if pid_alive "$pidfile"; then
    if [[ "$bin" -nt "$pidfile" ]]; then
      say "restarting $name (binary rebuilt)"
      stop_pidfile "$name" "$pidfile"
    else
      say "$name already running (pid $(cat "$pidfile"))"; return
    fi
  fi
  if port_open "$port"; then
    die "port $port is taken by $(who_listens "$port"); stop it or change the service's address in .env"
  fi
  say "starting $name"
  setsid nohup "$bin" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  if ! wait_until 60 "$name" port_open "$port"; then
    tail -n 20 "$LOG_DIR/$name.log" >&2
    die "$name did not start listening on port $port (log: $LOG_DIR/$name.log)"
  fi
}

port_of() { local addr="$1"; echo "${addr##*:}"; }
COMMAND_PORT="$(port_of "${COMMAND_GRPC_ADDR:-127.0.0.1:50051}")"
QUERY_PORT="$(port_of "${QUERY_GRPC_ADDR:-127.0.0.1:50052}")"
GATEWAY_PORT="$(port_of "${GATEWAY_HTTP_ADDR:-127.0.0.1:8080}")"

start_service command-service "$COMMAND_PORT"
start_service query-service "$QUERY_PORT"
start_service gateway "$GATEWAY_PORT"

if ! wait_until 30 "readiness" curl -fsS "http://127.0.0.1:$GATEWAY_PORT/readyz"; then
  curl -sS "http://127.0.0.1:$GATEWAY_PORT/readyz" >&2 || true
  die "the services started but are not ready; logs are in $LOG_DIR"
fi

cat <<TXT

CQRS Plus is running:
  web UI and REST API   http://127.0.0.1:$GATEWAY_PORT/
  command-service gRPC  127.0.0.1:$COMMAND_PORT   (health, reflection)
  query-service gRPC    127.0.0.1:$QUERY_PORT   (health, reflection)
  PostgreSQL            127.0.0.1:$PG_PORT       read database "cqrsplus"
  Kafka (nisshi)        127.0.0.1:$KAFKA_PORT
  MongoDB (nx-27017)    127.0.0.1:$MONGO_PORT
logs: $LOG_DIR    stop: scripts/stop.sh
TXT
