#!/usr/bin/env bash
# Start, stop and inspect the three ClaimStream services on this machine.
# Each runs detached with its pid in .run/<name>.pid and its log in .run/<name>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
RUN=.run
mkdir -p "$RUN"
# The services read these themselves (pydantic-settings); exported so health checks agree.
export INGEST_PORT=${INGEST_PORT:-8001} QUERY_PORT=${QUERY_PORT:-8000} PROCESSORS_WEB_PORT=${PROCESSORS_WEB_PORT:-6066}

# The processors run under services.common.supervise: the worker exits with code 1 when its
# watchdog (PROCESSORS_WATCHDOG_STALL_S) trips or records were skipped after a rebalance, and the
# supervisor starts a fresh one (compose and k8s restart it the same way). A clean exit ends it.
# The worker is restarted in place, so it is a static group member: the restarted worker takes
# its partitions back at once instead of after the 30 s session timeout.
export PROCESSORS_INSTANCE_ID=${PROCESSORS_INSTANCE_ID-processors-$PROCESSORS_WEB_PORT}
declare -A CMD=(
  [processors]="$PY -m services.processors worker -l info"
  [ingest]="$PY -m services.ingest"
  [query]="$PY -m services.query"
)
declare -A HEALTH=(
  [processors]="http://127.0.0.1:$PROCESSORS_WEB_PORT/healthz"
  [ingest]="http://127.0.0.1:$INGEST_PORT/healthz"
  [query]="http://127.0.0.1:$QUERY_PORT/healthz"
)
ORDER=(processors query ingest)

running() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_healthy() {
  local name=$1 url=${HEALTH[$1]} deadline=$((SECONDS + ${STACK_TIMEOUT:-120}))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if ! running "$name"; then echo "$name exited; last log lines:" >&2; tail -n 30 "$RUN/$name.log" >&2; return 1; fi
    if (( SECONDS > deadline )); then echo "$name not healthy at $url in time" >&2; tail -n 30 "$RUN/$name.log" >&2; return 1; fi
    sleep 0.5
  done
}

up() {
  for name in "${ORDER[@]}"; do
    if running "$name"; then echo "$name already running (pid $(cat "$RUN/$name.pid"))"; continue; fi
    rm -f "$RUN/$name.pid"
    # setsid: the service outlives the shell that started it (make returns, the stack stays up).
    if [[ $name == processors ]]; then
      setsid nohup $PY -m services.common.supervise ${CMD[$name]} >>"$RUN/$name.log" 2>&1 < /dev/null &
    else
      setsid nohup ${CMD[$name]} >>"$RUN/$name.log" 2>&1 < /dev/null &
    fi
    echo $! > "$RUN/$name.pid"
    echo "started $name (pid $!, log $RUN/$name.log)"
  done
  for name in "${ORDER[@]}"; do wait_healthy "$name"; echo "$name healthy: ${HEALTH[$name]}"; done
}

down() {
  for name in ingest query processors; do
    if running "$name"; then
      pid=$(cat "$RUN/$name.pid")
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      echo "stopped $name"
    fi
    rm -f "$RUN/$name.pid"
  done
}

status() {
  for name in "${ORDER[@]}"; do
    if running "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
