#!/usr/bin/env bash
# README command 2: every test, against real servers. Starts (installing when missing) the local
# servers first, so it works on a fresh machine; running it again reuses them. After the Rust
# suites it starts the whole stack (scripts/run.sh, left running) and tests the web UI: its unit
# tests, then browser tests in Debian's Chromium against the running gateway.
#
# usage: scripts/test.sh [extra arguments for cargo nextest / cargo test]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/infra.sh" up

# Tests create databases named t_<uuid>; drop what earlier runs left so the servers stay small.
say "dropping test databases left by earlier runs"
psql_admin -c "select datname from pg_database where datname like 't\_%'" | while read -r db; do
  [[ -n "$db" ]] && psql_admin -c "drop database if exists \"$db\" with (force)" >/dev/null
done
"$NX_VENV/bin/python" - "$MONGO_PORT" <<'PY'
import sys, pymongo
client = pymongo.MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}", serverSelectionTimeoutMS=5000)
for name in client.list_database_names():
    if name.startswith("t_"):
        client.drop_database(name)
PY

# Test processes and benchmarks publish to topics of their own (prefixes t_... and bench_...);
# the broker keeps them all, and an idle broker with hundreds of topics costs CPU. The stack's own
# topics have no such prefix.
delete_test_topics() {
  local listing topics topic deleted=0
  listing="$(timeout 30 "$NISSHI_BIN" topic list --broker "tcp://127.0.0.1:$KAFKA_PORT" 2>/dev/null)" &&
    topics="$(python3 -c 'import json, sys
for t in json.load(sys.stdin):
    if t["name"].startswith(("t_", "bench_")):
        print(t["name"])' <<<"$listing")" ||
    { say "could not list the broker's topics; leaving them"; return 0; }
  for topic in $topics; do
    if timeout 10 "$NISSHI_BIN" topic delete --broker "tcp://127.0.0.1:$KAFKA_PORT" "$topic" >/dev/null 2>&1; then
      deleted=$((deleted + 1))
    fi
  done
  say "deleted $deleted test topics left by earlier runs"
}
delete_test_topics

# The compose file is for machines with Docker; without an engine, Compose's own parser still
# validates it (schema, interpolation, dependencies) the way `docker compose up` would.
ensure_compose_parser
say "checking docker-compose.yml with Docker Compose's parser"
"$COMPOSE_BIN" -f "$ROOT/docker-compose.yml" config --quiet ||
  die "docker-compose.yml does not pass docker-compose config"

say "running the Rust test suites (workspace)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi

say "starting the whole stack for the web UI's tests"
"$ROOT/scripts/run.sh" >"$LOG_DIR/run-for-tests.log" 2>&1 ||
  { tail -n 30 "$LOG_DIR/run-for-tests.log" >&2; die "scripts/run.sh failed (log: $LOG_DIR/run-for-tests.log)"; }

say "running the web UI's unit tests (vitest)"
(cd "$ROOT/web" && npm run --silent test)

# Browser tests drive Debian's Chromium through playwright-core: no browser download is needed
# (nor possible on a closed network).
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  say "installing Chromium for the browser tests"
  apt_install chromium
fi

if [[ -f "$ROOT/.env" ]]; then set -a; source "$ROOT/.env"; set +a; fi
GATEWAY_ADDR="${GATEWAY_HTTP_ADDR:-127.0.0.1:8080}"
E2E_BASE_URL="http://127.0.0.1:${GATEWAY_ADDR##*:}"
E2E_SCREENSHOTS="$ROOT/web/test-results/screenshots"
# The browser tests sign in through the development sign-in, which .env may have turned off.
if [[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$E2E_BASE_URL/api/v1/dev/sign-in")" == 404 ]]; then
  die "the browser tests need the gateway's development sign-in: remove DEV_MODE=false from .env"
fi
say "running the browser tests against $E2E_BASE_URL"
(cd "$ROOT/web" && CHROMIUM="$CHROMIUM" E2E_BASE_URL="$E2E_BASE_URL" E2E_SCREENSHOTS="$E2E_SCREENSHOTS" npm run --silent e2e)
say "browser test screenshots: $E2E_SCREENSHOTS"
say "the stack is still running for a look around: $E2E_BASE_URL (stop it with scripts/stop.sh)"
