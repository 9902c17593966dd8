#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft: broker + controller in one JVM) for development,
# tests and CI, without Docker. The jars come from Maven Central through deploy/kafka/pom.xml.
#
#   deploy/kafka/kafka.sh up       start the broker (idempotent); returns once it answers a Metadata request
#   deploy/kafka/kafka.sh down     stop it (SIGTERM, then SIGKILL after $KAFKA_STOP_TIMEOUT s); no-op when stopped
#   deploy/kafka/kafka.sh status   exit 0: a broker answers on HOST:PORT (ours, or one started elsewhere)
#                                  exit 1: our broker process runs (or its pid file is left) but does not answer
#                                  exit 3: not running
#   deploy/kafka/kafka.sh logs [-f] [LINES]   last LINES (default 100) lines of the broker log; -f follows it
#
# Settings (environment):
#   KAFKA_HOME_DIR        state folder (default <repo>/.kafka, git-ignored): libs/ jars, data/ log dirs,
#                         server.properties, kafka.pid, kafka.log
#   KAFKA_HOST            127.0.0.1      listener host (also advertised)
#   KAFKA_PORT            9092           client (PLAINTEXT) port
#   KAFKA_CONTROLLER_PORT 9093           KRaft controller port
#   KAFKA_HEAP            512m           JVM -Xmx/-Xms
#   KAFKA_VERSION         4.1.1          org.apache.kafka:kafka_2.13 version resolved by Maven
#   KAFKA_WAIT_TIMEOUT    60             seconds `up` waits for the broker to answer
#   KAFKA_STOP_TIMEOUT    30             seconds `down` waits after SIGTERM before SIGKILL
#   KAFKA_JVM_OPTS        (empty)        extra JVM options
#   PYTHON                <repo>/.venv/bin/python   used for `-m services.common.kafka_wait` when present
#   MVN                   mvn
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

KAFKA_HOME_DIR="${KAFKA_HOME_DIR:-$REPO_ROOT/.kafka}"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_WAIT_TIMEOUT="${KAFKA_WAIT_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
MVN="${MVN:-mvn}"

LIBS_DIR="$KAFKA_HOME_DIR/libs"
DATA_DIR="$KAFKA_HOME_DIR/data"
PID_FILE="$KAFKA_HOME_DIR/kafka.pid"
LOG_FILE="$KAFKA_HOME_DIR/kafka.log"
CONFIG_FILE="$KAFKA_HOME_DIR/server.properties"
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.yaml"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- process helpers -----------------------------------------------------------------------------

# Pid recorded in the pid file, or nothing.
recorded_pid() {
    [[ -f "$PID_FILE" ]] || return 0
    local pid
    pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
    printf '%s' "$pid"
}

# True when PID is alive and is a java kafka.Kafka process running our config file.
is_our_broker() {
    local pid="$1" cmdline
    [[ -n "$pid" ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    else
        cmdline="$(ps -o args= -p "$pid" 2>/dev/null || true)"
    fi
    [[ "$cmdline" == *java* && "$cmdline" == *kafka.Kafka* && "$cmdline" == *"$CONFIG_FILE"* ]]
}

# Pid of our running broker, or nothing (stale pid files are left for the caller to handle).
running_pid() {
    local pid
    pid="$(recorded_pid)"
    if is_our_broker "$pid"; then printf '%s' "$pid"; fi
}

# --- network probes ------------------------------------------------------------------------------

# True when HOST PORT accepts a TCP connection.
port_open() {
    # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# True when HOST PORT answers a Kafka Metadata (v4, all topics) request listing at least one broker.
# Pure bash: sends the request over /dev/tcp and checks correlation id and broker count.
kafka_metadata_probe() {
    # shellcheck disable=SC2016  # $1/$2 expand in the inner bash
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        # size=17 | api_key=3 (Metadata) | api_version=4 | correlation_id=1 | client_id="sh"
        # | topics=null (-1: all) | allow_auto_topic_creation=false
        printf "\x00\x00\x00\x11\x00\x03\x00\x04\x00\x00\x00\x01\x00\x02sh\xff\xff\xff\xff\x00" >&3
        # size(4) correlation_id(4) throttle_time_ms(4) brokers_count(4)
        hex="$(head -c 16 <&3 | od -An -v -tx1 | tr -d " \n")"
        [[ ${#hex} -eq 32 && ${hex:8:8} == 00000001 ]] || exit 1
        (( 16#${hex:24:8} >= 1 && 16#${hex:24:8} < 16#80000000 ))
    ' _ "$1" "$2" 2>/dev/null
}

# True when $PYTHON exists and imports services.common.kafka_wait (and so aiokafka and the rest).
python_wait_available() {
    [[ -x "$PYTHON" && -f "$REPO_ROOT/services/common/kafka_wait.py" ]] || return 1
    (cd "$REPO_ROOT" && "$PYTHON" -c 'import services.common.kafka_wait') >/dev/null 2>&1
}

# --- setup ---------------------------------------------------------------------------------------

libs_complete() {
    [[ -f "$LIBS_DIR/.kafka-version" && "$(cat "$LIBS_DIR/.kafka-version")" == "$KAFKA_VERSION" ]] || return 1
    compgen -G "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || return 1
    compgen -G "$LIBS_DIR/log4j-slf4j-impl-*.jar" >/dev/null
}

ensure_libs() {
    if libs_complete; then return 0; fi
    command -v "$MVN" >/dev/null 2>&1 || die "Maven ('$MVN') is needed to fetch the Kafka $KAFKA_VERSION jars (apt-get install maven)"
    log "resolving Kafka $KAFKA_VERSION jars with Maven into $LIBS_DIR ..."
    local tmp="$KAFKA_HOME_DIR/libs.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$KAFKA_HOME_DIR"
    if ! "$MVN" -q -B -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
            >"$KAFKA_HOME_DIR/mvn.log" 2>&1; then
        cat "$KAFKA_HOME_DIR/mvn.log" >&2 || true
        rm -rf "$tmp"
        die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (log: $KAFKA_HOME_DIR/mvn.log)"
    fi
    printf '%s\n' "$KAFKA_VERSION" >"$tmp/.kafka-version"
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
}

write_config() {
    cat >"$CONFIG_FILE" <<EOF
# Generated by deploy/kafka/kafka.sh on every 'up' -- edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
EOF
}

java_cmd() {
    # shellcheck disable=SC2206
    local extra=($KAFKA_JVM_OPTS)
    printf '%s\0' java "-Xmx$KAFKA_HEAP" "-Xms$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG" "-Dkafka.logs.dir=$KAFKA_HOME_DIR/logs" \
        ${extra[@]+"${extra[@]}"} -cp "$LIBS_DIR/*"
}

ensure_formatted() {
    if [[ -f "$DATA_DIR/meta.properties" ]]; then return 0; fi
    local cmd=() cluster_id
    mapfile -d '' cmd < <(java_cmd)
    cluster_id="${KAFKA_CLUSTER_ID:-$("${cmd[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)}"
    [[ -n "$cluster_id" ]] || die "could not generate a cluster id (kafka.tools.StorageTool random-uuid)"
    log "formatting $DATA_DIR (cluster id $cluster_id)"
    mkdir -p "$DATA_DIR"
    "${cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG_FILE" >>"$LOG_FILE" 2>&1 \
        || { tail -n 30 "$LOG_FILE" >&2 || true; die "formatting the storage failed"; }
}

# --- waiting -------------------------------------------------------------------------------------

fail_start() {
    local pid="$1" why="$2"
    log "error: $why; last 30 lines of $LOG_FILE:"
    tail -n 30 "$LOG_FILE" >&2 || true
    if [[ -n "$pid" ]] && is_our_broker "$pid"; then
        log "the broker process $pid is still running: 'deploy/kafka/kafka.sh down' stops it"
    else
        rm -f "$PID_FILE"
    fi
    exit 1
}

# Wait until our broker (PID) answers on HOST:PORT, or fail after KAFKA_WAIT_TIMEOUT seconds.
wait_ready() {
    local pid="$1" start=$SECONDS
    if python_wait_available; then
        log "waiting for a Metadata answer ($PYTHON -m services.common.kafka_wait, up to ${KAFKA_WAIT_TIMEOUT}s)"
        (cd "$REPO_ROOT" && exec "$PYTHON" -m services.common.kafka_wait \
            --bootstrap "$BOOTSTRAP" --timeout "$KAFKA_WAIT_TIMEOUT") >>"$KAFKA_HOME_DIR/kafka_wait.log" 2>&1 &
        local waiter=$! rc
        while kill -0 "$waiter" 2>/dev/null; do
            if ! kill -0 "$pid" 2>/dev/null; then
                kill "$waiter" 2>/dev/null || true
                wait "$waiter" 2>/dev/null || true
                fail_start "" "the broker process $pid exited during startup"
            fi
            sleep 0.5
        done
        rc=0; wait "$waiter" || rc=$?
        if (( rc == 0 )); then
            log "broker ready on $BOOTSTRAP (pid $pid, $((SECONDS - start))s)"
            return 0
        fi
        fail_start "$pid" "the broker did not answer on $BOOTSTRAP within ${KAFKA_WAIT_TIMEOUT}s (kafka_wait exit $rc, see $KAFKA_HOME_DIR/kafka_wait.log)"
    fi
    log "waiting for $BOOTSTRAP to accept connections and log 'Kafka Server started' (up to ${KAFKA_WAIT_TIMEOUT}s)"
    while (( SECONDS - start < KAFKA_WAIT_TIMEOUT )); do
        kill -0 "$pid" 2>/dev/null || fail_start "" "the broker process $pid exited during startup"
        if grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null && port_open "$KAFKA_HOST" "$KAFKA_PORT" \
                && kafka_metadata_probe "$KAFKA_HOST" "$KAFKA_PORT"; then
            log "broker ready on $BOOTSTRAP (pid $pid, $((SECONDS - start))s)"
            return 0
        fi
        sleep 0.5
    done
    fail_start "$pid" "the broker did not become ready on $BOOTSTRAP within ${KAFKA_WAIT_TIMEOUT}s"
}

# --- commands ------------------------------------------------------------------------------------

cmd_up() {
    mkdir -p "$KAFKA_HOME_DIR"
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        if kafka_metadata_probe "$KAFKA_HOST" "$KAFKA_PORT"; then
            log "already running (pid $pid) and answering on $BOOTSTRAP: nothing to do"
            return 0
        fi
        log "already running (pid $pid) but not answering yet on $BOOTSTRAP: waiting"
        wait_ready "$pid"
        return 0
    fi
    if [[ -f "$PID_FILE" ]]; then
        log "removing stale pid file $PID_FILE (pid '$(recorded_pid)' is not a running broker of ours)"
        rm -f "$PID_FILE"
    fi
    if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
        if kafka_metadata_probe "$KAFKA_HOST" "$KAFKA_PORT"; then
            log "$BOOTSTRAP is already served by a Kafka broker not started by this script ($KAFKA_HOME_DIR): using it, nothing to do"
            return 0
        fi
        die "$BOOTSTRAP is taken by a process that does not answer Kafka requests; free it or set KAFKA_PORT"
    fi
    if port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; then
        die "controller port $KAFKA_HOST:$KAFKA_CONTROLLER_PORT is taken; free it or set KAFKA_CONTROLLER_PORT"
    fi
    command -v java >/dev/null 2>&1 || die "java (17+) is needed to run the broker (apt-get install openjdk-17-jre-headless)"

    ensure_libs
    write_config
    ensure_formatted

    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
    rm -f "$KAFKA_HOME_DIR/kafka_wait.log"
    local cmd=() launcher=()
    mapfile -d '' cmd < <(java_cmd)
    # Detach: own session (setsid) and immune to SIGHUP (nohup), so the broker outlives the calling shell.
    # A background job of a non-interactive shell is no process-group leader, so setsid execs without
    # forking and $! is the JVM's pid.
    launcher=(nohup)
    if command -v setsid >/dev/null 2>&1; then launcher+=(setsid); fi
    log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (controller $KAFKA_CONTROLLER_PORT, heap $KAFKA_HEAP), log $LOG_FILE"
    "${launcher[@]}" "${cmd[@]}" kafka.Kafka "$CONFIG_FILE" >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    wait_ready "$pid"
}

cmd_down() {
    local pid
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        if [[ -f "$PID_FILE" ]]; then
            log "not running; removing stale pid file $PID_FILE"
            rm -f "$PID_FILE"
        else
            log "not running"
        fi
        return 0
    fi
    log "stopping the broker (pid $pid, SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && (( waited < KAFKA_STOP_TIMEOUT * 2 )); do
        sleep 0.5
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still running after ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        if kafka_metadata_probe "$KAFKA_HOST" "$KAFKA_PORT"; then
            echo "running (pid $pid) and answering on $BOOTSTRAP"
            return 0
        fi
        echo "running (pid $pid) but not answering on $BOOTSTRAP"
        return 1
    fi
    if kafka_metadata_probe "$KAFKA_HOST" "$KAFKA_PORT"; then
        echo "a Kafka broker not started by this script answers on $BOOTSTRAP"
        return 0
    fi
    if [[ -f "$PID_FILE" ]]; then
        echo "not running (stale pid file $PID_FILE)"
        return 1
    fi
    echo "not running"
    return 3
}

cmd_logs() {
    local follow=0 lines=100 arg
    for arg in "$@"; do
        case "$arg" in
            -f|--follow) follow=1 ;;
            ''|*[!0-9]*) die "usage: kafka.sh logs [-f] [LINES]" ;;
            *) lines="$arg" ;;
        esac
    done
    [[ -f "$LOG_FILE" ]] || die "no log yet ($LOG_FILE)"
    if (( follow )); then exec tail -n "$lines" -F "$LOG_FILE"; fi
    tail -n "$lines" "$LOG_FILE"
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
    local sub="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$sub" in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        logs) cmd_logs "$@" ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
