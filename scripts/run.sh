#!/usr/bin/env bash
# README command 1: install what is missing, start the local servers, build the web UI, build and
# start the three services in the background, and print where everything listens. Safe to run
# again: what runs is left alone, and a service whose binary or settings changed is restarted.
#
# usage: scripts/run.sh            stop with: scripts/stop.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/infra.sh" up

# Settings a user keeps in .env override the defaults (which match the servers started above).
if [[ -f "$ROOT/.env" ]]; then set -a; source "$ROOT/.env"; set +a; fi

# This command runs the app for trying it out on this machine: the gateway serves the built web UI
# and offers the password-less development sign-in, unless .env says otherwise.
export DEV_MODE="${DEV_MODE:-true}"
export WEB_DIR="${WEB_DIR:-$ROOT/web/dist}"

# build_web: install the web UI's packages when the lockfile changed (slow, and it needs the
# registry), and rebuild web/dist when a source is newer than the last build.
build_web() {
  command -v npm >/dev/null || die "npm not found: install Node.js 20 or newer (with npm) and re-run"
  local web="$ROOT/web"
  if [[ ! -d "$web/node_modules" || "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]]; then
    # `npm install` with the committed lockfile installs exactly its versions. Not `npm ci`: npm 11
    # refuses a lockfile that lacks other platforms' optional packages (rollup's), and the npm
    # config on these machines (omit-lockfile-registry-resolved) writes lockfiles that way.
    say "installing the web UI's packages (npm install, from package-lock.json)"
    (cd "$web" && npm install --no-audit --no-fund --loglevel=error)
  fi
  if [[ ! -f "$web/dist/index.html" ]] ||
     [[ -n "$(find "$web/src" "$web/index.html" "$web/package-lock.json" "$web/vite.config.ts" "$web/tsconfig.json" \
              -newer "$web/dist/index.html" -print -quit)" ]]; then
    say "building the web UI"
    (cd "$web" && npm run --silent build >"$LOG_DIR/web-build.log" 2>&1) ||
      { tail -n 30 "$LOG_DIR/web-build.log" >&2; die "the web UI did not build (log: $LOG_DIR/web-build.log)"; }
  fi
}
build_web

say "building the services (first build takes about 10 minutes on 2 cores)"
cargo build --locked --bins -p command-service -p query-service -p gateway
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# The settings the services run with (every variable .env.example names), as one hash: a service
# started with other settings is restarted, so e.g. turning DEV_MODE off in .env takes effect.
SETTINGS_HASH="$(
  for var in $(sed -nE 's/^#? *([A-Z][A-Z0-9_]*)=.*/\1/p' "$ROOT/.env.example" | sort -u); do
    printf '%s=%s\n' "$var" "${!var-}"
  done | sha256sum | cut -c1-16
)"

# start_service NAME PORT: start target/debug/NAME unless the same binary already serves with
# the same settings.
start_service() {
  local name="$1" port="$2" bin="$TARGET_DIR/debug/$1" pidfile="$RUN_DIR/$1.pid"
  local settings="$RUN_DIR/$1.settings"
  if pid_alive "$pidfile"; then
    if [[ "$bin" -nt "$pidfile" ]]; then
      say "restarting $name (binary rebuilt)"
      stop_pidfile "$name" "$pidfile"
    elif [[ "$(cat "$settings" 2>/dev/null)" != "$SETTINGS_HASH" ]]; then
      say "restarting $name (settings changed)"
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
  echo "$SETTINGS_HASH" >"$settings"
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
  web UI                http://127.0.0.1:$GATEWAY_PORT/   (sign in with any name$([[ "$DEV_MODE" == true ]] || echo ": off, DEV_MODE is not true"))
  REST API              http://127.0.0.1:$GATEWAY_PORT/api/v1   (docs: /api/v1/docs)
  command-service gRPC  127.0.0.1:$COMMAND_PORT   (health, reflection)
  query-service gRPC    127.0.0.1:$QUERY_PORT   (health, reflection)
  PostgreSQL            127.0.0.1:$PG_PORT       read database "cqrsplus"
  Kafka (nisshi)        127.0.0.1:$KAFKA_PORT
  MongoDB (nx-27017)    127.0.0.1:$MONGO_PORT
logs: $LOG_DIR    stop: scripts/stop.sh
TXT
