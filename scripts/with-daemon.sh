#!/bin/bash
# Runs a command with `tsrunc daemon` (issue 17) serving at the default socket, which bin/tsrunc
# looks at: .ci/run's second pass of the container tests, every command the server runs
# (create, run and exec, with their process started by the front on the worker's SPAWN; state,
# list, kill, delete, ps, pause, resume, features, events, update, spec, start) going through it.
# TSRUNC_DAEMON_WAIT_MS keeps a front on a busy host waiting for a worker instead of
# taking the direct path. The server refuses to start where one already listens (not this
# script's to stop), and so does the script then.
# At the end the server's log (how many commands it served) goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
sock=/run/tsrunc-daemon/tsrunc.sock
log=$(mktemp)
bin/tsrunc daemon --socket "$sock" --spares 4 2>"$log" &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  sed 's/^/with-daemon: /' "$log" >&2
  rm -f "$log"
}
trap stop EXIT
until [ -S "$sock" ]; do
  kill -0 "$pid" 2>/dev/null || { echo "with-daemon: the server did not start" >&2; exit 1; }
  sleep 0.05
done
export TSRUNC_DAEMON_WAIT_MS=60000
"$@"
