#!/usr/bin/env bash
# Stops the services started by scripts/run.sh, then the local servers started by
# scripts/infra.sh (PostgreSQL, a system service, keeps running). Leaves no process behind.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for name in gateway query-service command-service; do
  stop_pidfile "$name" "$RUN_DIR/$name.pid"
done
"$ROOT/scripts/infra.sh" down
