#!/usr/bin/env bash
# README command 2: every test, against real servers. Starts (installing when missing) the local
# servers first, so it works on a fresh machine; running it again reuses them.
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

say "running the Rust test suites (workspace)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
