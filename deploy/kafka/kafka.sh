#!/usr/bin/env bash
# Local Apache Kafka in KRaft mode for development, tests and CI, without Docker: one node by default,
# or a cluster of KAFKA_BROKERS nodes (each broker + controller in one JVM, all three voters of the
# metadata quorum). The jars come from Maven Central through deploy/kafka/pom.xml.
#
#   deploy/kafka/kafka.sh up       start the broker(s) (idempotent: starts only the nodes not running, so
#                                  it also restarts a killed node); returns once each answers Metadata
#   deploy/kafka/kafka.sh down     stop them (SIGTERM, then SIGKILL after $KAFKA_STOP_TIMEOUT s); no-op when stopped
#   deploy/kafka/kafka.sh pids     one line per running node: NODE_ID PID HOST:PORT
#   deploy/kafka/kafka.sh leader   node id of the active controller (the KRaft quorum leader)
#   deploy/kafka/kafka.sh status   exit 0: a broker answers on HOST:PORT (ours, or one started elsewhere)
#                                  exit 1: our broker process runs (or its pid file is left) but does not answer
#                                  exit 3: not running
#   deploy/kafka/kafka.sh logs [-f] [LINES]   last LINES (default 100) lines of the broker log; -f follows it
#
# Settings (environment):
#   KAFKA_HOME_DIR        state folder (default <repo>/.kafka, git-ignored): libs/ jars, data/ log dirs,
#                         server.properties, kafka.pid, kafka.log; a cluster's node N keeps these in broker-N/
#   KAFKA_BROKERS         1              number of nodes; more than 1 is a cluster on its own ports (below)
#                                        whose topics default to 3 copies (fewer nodes: one per node) and
#                                        min.insync.replicas 2, __consumer_offsets included
#   KAFKA_HOST            127.0.0.1      listener host (also advertised)
#   KAFKA_PORT            9092           client (PLAINTEXT) port; a cluster: first of consecutive ports (9192)
#   KAFKA_CONTROLLER_PORT 9093           KRaft controller port; a cluster: first of consecutive ports (9292)
#   KAFKA_PORTS, KAFKA_CONTROLLER_PORTS  a cluster's ports as comma-separated lists instead (e.g. free ports)
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
KAFKA_BROKERS="${KAFKA_BROKERS:-1}"
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
# A cluster never takes the single broker's default ports: that broker may be running (and shared).
if [[ "$KAFKA_BROKERS" == 1 ]]; then
    KAFKA_PORT="${KAFKA_PORT:-9092}"
    KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
else
    KAFKA_PORT="${KAFKA_PORT:-9192}"
    KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9292}"
fi
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_WAIT_TIMEOUT="${KAFKA_WAIT_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
PYTHON="${PYTHON:-$REPO_ROOT/.venv/bin/python}"
MVN="${MVN:-mvn}"

LIBS_DIR="$KAFKA_HOME_DIR/libs"
POM="$SCRIPT_DIR/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/log4j2.yaml"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ "$KAFKA_BROKERS" =~ ^[1-9][0-9]*$ ]] || die "KAFKA_BROKERS must be a positive number, not '$KAFKA_BROKERS'"

# --- nodes ---------------------------------------------------------------------------------------

CLIENT_PORTS=() CONTROLLER_PORTS=()
if [[ -n "${KAFKA_PORTS:-}" ]]; then IFS=, read -r -a CLIENT_PORTS <<<"$KAFKA_PORTS"; fi
if [[ -n "${KAFKA_CONTROLLER_PORTS:-}" ]]; then IFS=, read -r -a CONTROLLER_PORTS <<<"$KAFKA_CONTROLLER_PORTS"; fi
for (( i = 0; i < KAFKA_BROKERS; i++ )); do
    [[ -n "${CLIENT_PORTS[i]:-}" ]] || CLIENT_PORTS[i]=$((KAFKA_PORT + i))
    [[ -n "${CONTROLLER_PORTS[i]:-}" ]] || CONTROLLER_PORTS[i]=$((KAFKA_CONTROLLER_PORT + i))
done
(( ${#CLIENT_PORTS[@]} == KAFKA_BROKERS && ${#CONTROLLER_PORTS[@]} == KAFKA_BROKERS )) \
    || die "KAFKA_PORTS / KAFKA_CONTROLLER_PORTS must list $KAFKA_BROKERS ports each"
ALL_BOOTSTRAP="$(for p in "${CLIENT_PORTS[@]}"; do printf '%s:%s,' "$KAFKA_HOST" "$p"; done)"
ALL_BOOTSTRAP="${ALL_BOOTSTRAP%,}"

# Point the per-node variables at node N (1-based). One node lives in KAFKA_HOME_DIR itself, as before
# clusters existed; a cluster's node N in KAFKA_HOME_DIR/broker-N.
use_node() {
    NODE_ID="$1"
    if (( KAFKA_BROKERS == 1 )); then NODE_DIR="$KAFKA_HOME_DIR"; else NODE_DIR="$KAFKA_HOME_DIR/broker-$NODE_ID"; fi
    NODE_PORT="${CLIENT_PORTS[NODE_ID - 1]}"
    NODE_CONTROLLER_PORT="${CONTROLLER_PORTS[NODE_ID - 1]}"
    DATA_DIR="$NODE_DIR/data"
    PID_FILE="$NODE_DIR/kafka.pid"
    LOG_FILE="$NODE_DIR/kafka.log"
    CONFIG_FILE="$NODE_DIR/server.properties"
    BOOTSTRAP="$KAFKA_HOST:$NODE_PORT"
}
use_node 1

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

# Copies of each topic and of the internal ones: three (fewer nodes: one per node), so that with
# min.insync.replicas 2 an acks=all write survives one node down.
cluster_replication() { (( KAFKA_BROKERS >= 3 )) && echo 3 || echo "$KAFKA_BROKERS"; }
cluster_min_isr() { (( KAFKA_BROKERS >= 3 )) && echo 2 || echo 1; }

write_config() {
    local voters="" i rf min_isr
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        voters+="$i@$KAFKA_HOST:${CONTROLLER_PORTS[i - 1]},"
    done
    rf="$(cluster_replication)" min_isr="$(cluster_min_isr)"
    mkdir -p "$NODE_DIR"
    cat >"$CONFIG_FILE" <<CONF
# Generated by deploy/kafka/kafka.sh on every 'up' -- edit the script, not this file.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=${voters%,}
listeners=PLAINTEXT://$KAFKA_HOST:$NODE_PORT,CONTROLLER://$KAFKA_HOST:$NODE_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$NODE_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
auto.create.topics.enable=true
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
log.retention.hours=168
$(cluster_failover)
CONF
}

# A cluster fences a node that stops heartbeating after 5 s instead of 9 s (Kafka's default), so
# the partitions it led get new leaders sooner after a kill -9 or a freeze. One node: nothing to fence.
cluster_failover() {
    (( KAFKA_BROKERS > 1 )) || return 0
    printf '%s\n' "broker.heartbeat.interval.ms=1000" "broker.session.timeout.ms=5000"
}

java_cmd() {
    # shellcheck disable=SC2206
    local extra=($KAFKA_JVM_OPTS)
    printf '%s\0' java "-Xmx$KAFKA_HEAP" "-Xms$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG" "-Dkafka.logs.dir=$NODE_DIR/logs" \
        ${extra[@]+"${extra[@]}"} -cp "$LIBS_DIR/*"
}

# One cluster id for every node of the cluster, made once and kept next to the nodes.
cluster_id() {
    local id_file="$KAFKA_HOME_DIR/cluster-$KAFKA_BROKERS.id" cmd=() id
    if [[ -n "${KAFKA_CLUSTER_ID:-}" ]]; then printf '%s' "$KAFKA_CLUSTER_ID"; return 0; fi
    if (( KAFKA_BROKERS > 1 )) && [[ -s "$id_file" ]]; then cat "$id_file"; return 0; fi
    mapfile -d '' cmd < <(java_cmd)
    id="$("${cmd[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    [[ -n "$id" ]] || die "could not generate a cluster id (kafka.tools.StorageTool random-uuid)"
    if (( KAFKA_BROKERS > 1 )); then printf '%s\n' "$id" >"$id_file"; fi
    printf '%s' "$id"
}

ensure_formatted() {
    if [[ -f "$DATA_DIR/meta.properties" ]]; then return 0; fi
    local cmd=() id
    mapfile -d '' cmd < <(java_cmd)
    id="$(cluster_id)"
    log "formatting $DATA_DIR (cluster id $id, node $NODE_ID)"
    mkdir -p "$DATA_DIR"
    "${cmd[@]}" kafka.tools.StorageTool format -t "$id" -c "$CONFIG_FILE" >>"$LOG_FILE" 2>&1 \
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

# Wait until the current node's broker (PID) answers on its port, or fail after KAFKA_WAIT_TIMEOUT seconds.
wait_ready() {
    local pid="$1" start=$SECONDS
    if python_wait_available; then
        log "waiting for a Metadata answer on $BOOTSTRAP ($PYTHON -m services.common.kafka_wait, up to ${KAFKA_WAIT_TIMEOUT}s)"
        (cd "$REPO_ROOT" && exec "$PYTHON" -m services.common.kafka_wait \
            --bootstrap "$BOOTSTRAP" --timeout "$KAFKA_WAIT_TIMEOUT") >>"$NODE_DIR/kafka_wait.log" 2>&1 &
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
        fail_start "$pid" "the broker did not answer on $BOOTSTRAP within ${KAFKA_WAIT_TIMEOUT}s (kafka_wait exit $rc, see $NODE_DIR/kafka_wait.log)"
    fi
    log "waiting for $BOOTSTRAP to accept connections and log 'Kafka Server started' (up to ${KAFKA_WAIT_TIMEOUT}s)"
    while (( SECONDS - start < KAFKA_WAIT_TIMEOUT )); do
        kill -0 "$pid" 2>/dev/null || fail_start "" "the broker process $pid exited during startup"
        if grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null && port_open "$KAFKA_HOST" "$NODE_PORT" \
                && kafka_metadata_probe "$KAFKA_HOST" "$NODE_PORT"; then
            log "broker ready on $BOOTSTRAP (pid $pid, $((SECONDS - start))s)"
            return 0
        fi
        sleep 0.5
    done
    fail_start "$pid" "the broker did not become ready on $BOOTSTRAP within ${KAFKA_WAIT_TIMEOUT}s"
}

# --- commands ------------------------------------------------------------------------------------

# Start the current node unless it runs; prints the pid to wait for, or nothing when there is none
# (a foreign single broker already serving the port is used as it is).
start_node() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        if kafka_metadata_probe "$KAFKA_HOST" "$NODE_PORT"; then
            log "already running (pid $pid) and answering on $BOOTSTRAP: nothing to do"
            return 0
        fi
        log "already running (pid $pid) but not answering yet on $BOOTSTRAP: waiting"
        printf '%s' "$pid"
        return 0
    fi
    if [[ -f "$PID_FILE" ]]; then
        log "removing stale pid file $PID_FILE (pid '$(recorded_pid)' is not a running broker of ours)"
        rm -f "$PID_FILE"
    fi
    if port_open "$KAFKA_HOST" "$NODE_PORT"; then
        if (( KAFKA_BROKERS == 1 )) && kafka_metadata_probe "$KAFKA_HOST" "$NODE_PORT"; then
            log "$BOOTSTRAP is already served by a Kafka broker not started by this script ($KAFKA_HOME_DIR): using it, nothing to do"
            return 0
        fi
        if (( KAFKA_BROKERS == 1 )); then
            die "$BOOTSTRAP is taken by a process that does not answer Kafka requests; free it or set KAFKA_PORT"
        fi
        die "$BOOTSTRAP is taken by another process; free it or set KAFKA_PORT / KAFKA_PORTS"
    fi
    if port_open "$KAFKA_HOST" "$NODE_CONTROLLER_PORT"; then
        die "controller port $KAFKA_HOST:$NODE_CONTROLLER_PORT is taken; free it or set KAFKA_CONTROLLER_PORT"
    fi
    command -v java >/dev/null 2>&1 || die "java (17+) is needed to run the broker (apt-get install openjdk-17-jre-headless)"

    ensure_libs
    write_config
    ensure_formatted

    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
    rm -f "$NODE_DIR/kafka_wait.log"
    local cmd=() launcher=()
    mapfile -d '' cmd < <(java_cmd)
    # Detach: own session (setsid) and immune to SIGHUP (nohup), so the broker outlives the calling shell.
    # A background job of a non-interactive shell is no process-group leader, so setsid execs without
    # forking and $! is the JVM's pid.
    launcher=(nohup)
    if command -v setsid >/dev/null 2>&1; then launcher+=(setsid); fi
    log "starting Kafka $KAFKA_VERSION node $NODE_ID on $BOOTSTRAP (controller $NODE_CONTROLLER_PORT, heap $KAFKA_HEAP), log $LOG_FILE"
    "${launcher[@]}" "${cmd[@]}" kafka.Kafka "$CONFIG_FILE" >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    printf '%s' "$pid"
}

cmd_up() {
    mkdir -p "$KAFKA_HOME_DIR"
    # Every node first, then the waits: a cluster's node answers only once a quorum of its voters runs.
    local i pids=()
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        use_node "$i"
        pids[i]="$(start_node)" || exit 1
    done
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        use_node "$i"
        [[ -z "${pids[i]}" ]] || wait_ready "${pids[i]}"
    done
    (( KAFKA_BROKERS == 1 )) || log "cluster of $KAFKA_BROKERS ready: $ALL_BOOTSTRAP"
}

cmd_down() {
    # Signal every node at once: nodes stopped one by one would each wait for a controller quorum
    # that the earlier stops have taken away.
    local i pid pids=() waited=0
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        use_node "$i"
        pid="$(running_pid)"
        if [[ -z "$pid" ]]; then
            if [[ -f "$PID_FILE" ]]; then
                log "node $i not running; removing stale pid file $PID_FILE"
                rm -f "$PID_FILE"
            elif (( KAFKA_BROKERS == 1 )); then
                log "not running"
            fi
            continue
        fi
        log "stopping node $i (pid $pid, SIGTERM)"
        kill -CONT "$pid" 2>/dev/null || true  # a frozen (SIGSTOPped) node would never see the TERM
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
    done
    (( ${#pids[@]} )) || return 0
    for pid in "${pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null && (( waited < KAFKA_STOP_TIMEOUT * 2 )); do
            sleep 0.5
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid still running after ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
        fi
    done
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        use_node "$i"
        [[ -n "$(running_pid)" ]] || rm -f "$PID_FILE"
    done
    log "stopped"
}

cmd_status() {
    local i pid rc=0 running=0
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        use_node "$i"
        pid="$(running_pid)"
        local who="" ; (( KAFKA_BROKERS == 1 )) || who="node $i "
        if [[ -n "$pid" ]]; then
            running=1
            if kafka_metadata_probe "$KAFKA_HOST" "$NODE_PORT"; then
                echo "${who}running (pid $pid) and answering on $BOOTSTRAP"
            else
                echo "${who}running (pid $pid) but not answering on $BOOTSTRAP"
                rc=1
            fi
        elif (( KAFKA_BROKERS == 1 )) && kafka_metadata_probe "$KAFKA_HOST" "$NODE_PORT"; then
            echo "a Kafka broker not started by this script answers on $BOOTSTRAP"
            return 0
        elif [[ -f "$PID_FILE" ]]; then
            echo "${who}not running (stale pid file $PID_FILE)"
            rc=1
        else
            echo "${who}not running"
            (( rc == 1 )) || rc=3
        fi
    done
    # A cluster with a node down is degraded (1), not stopped (3).
    if (( running && rc == 3 )); then rc=1; fi
    return "$rc"
}

cmd_pids() {
    local i pid
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        use_node "$i"
        pid="$(running_pid)"
        [[ -z "$pid" ]] || echo "$i $pid $BOOTSTRAP"
    done
}

# The active controller: the KRaft quorum state each running node persists (leaderId, leaderEpoch in
# __cluster_metadata-0/quorum-state, rewritten on every election); the highest epoch is the latest.
# (The official MetadataQuorumCommand lives in kafka-tools, which the broker's jars do not include.)
cmd_leader() {
    local i state epoch leader best_epoch=-1 best_leader=""
    for (( i = 1; i <= KAFKA_BROKERS; i++ )); do
        use_node "$i"
        [[ -n "$(running_pid)" && -r "$DATA_DIR/__cluster_metadata-0/quorum-state" ]] || continue
        state="$(cat "$DATA_DIR/__cluster_metadata-0/quorum-state")"
        [[ "$state" =~ \"leaderId\":(-?[0-9]+) ]] || continue
        leader="${BASH_REMATCH[1]}"
        [[ "$state" =~ \"leaderEpoch\":([0-9]+) ]] || continue
        epoch="${BASH_REMATCH[1]}"
        if (( leader >= 1 && epoch > best_epoch )); then best_epoch=$epoch best_leader=$leader; fi
    done
    [[ -n "$best_leader" ]] || die "no running node knows a quorum leader yet"
    echo "$best_leader"
}

cmd_logs() {
    local follow=0 lines=100 arg
    for arg in "$@"; do
        case "$arg" in
            -f|--follow) follow=1 ;;
            ''|*[!0-9]*) die "usage: kafka.sh logs [-f] [LINES]  (KAFKA_NODE=N picks a cluster's node)" ;;
            *) lines="$arg" ;;
        esac
    done
    use_node "${KAFKA_NODE:-1}"
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
        pids) cmd_pids "$@" ;;
        leader) cmd_leader "$@" ;;
        logs) cmd_logs "$@" ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
