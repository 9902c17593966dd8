#!/usr/bin/env bash
# A local PostgreSQL server for `make run DB=postgres` and the tests, from Debian's `postgresql`
# package (installed when missing, as root, like scripts/install_test_tools.sh does).
#
#   scripts/postgres.sh install  install Debian's postgresql when no server binaries are there
#   scripts/postgres.sh up       (install,) initdb on first use, start, create the role and the databases
#   scripts/postgres.sh down     stop it (fast shutdown)
#   scripts/postgres.sh status   exit 0 when it answers, 3 when it is not running
#   scripts/postgres.sh url NAME print the SQLAlchemy URL of database NAME (query, ingest, ...)
#
# The cluster lives in PG_DATA_DIR (default <repo>/.run/postgres), listens on 127.0.0.1:PG_PORT
# only (default 5433, not the system's 5432) and has no Unix socket. PostgreSQL refuses to run as
# root, so as root the server runs as the `postgres` account the package creates (PG_OS_USER).
# The services connect as PG_USER/PG_PASSWORD (claimstream/claimstream, scram-sha-256 over TCP), a
# role that may create databases: the test fixtures give each test a database of its own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_DATA_DIR="${PG_DATA_DIR:-$ROOT/.run/postgres}"
PG_HOST=127.0.0.1
PG_PORT="${PG_PORT:-5433}"
PG_USER="${PG_USER:-claimstream}"
PG_PASSWORD="${PG_PASSWORD:-claimstream}"
PG_OS_USER="${PG_OS_USER:-postgres}"
PG_DATABASES="${PG_DATABASES:-claimstream_query claimstream_ingest}"
PG_WAIT_TIMEOUT="${PG_WAIT_TIMEOUT:-60}"
LOG="$PG_DATA_DIR.log"

log() { echo "postgres.sh: $*" >&2; }

bindir() {
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$found" && -x "$found/initdb" ]] && echo "$found"
}

install_server() {
    [[ -n "$(bindir)" ]] && return 0
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "PostgreSQL is not installed (needs root and apt-get: apt-get install -y postgresql)"
        exit 1
    fi
    # The package would create and start a system cluster on 5432: a temporary policy-rc.d keeps
    # it from starting (this script runs its own cluster).
    local policy=/usr/sbin/policy-rc.d made=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# written by claimstream scripts/postgres.sh; removed when it ends\nexit 101\n' > $policy
        chmod 755 $policy
        made=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "installing Debian's postgresql"
    apt-get install -y -q --no-install-recommends postgresql >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends postgresql >&2; }
    [[ $made == 1 ]] && rm -f $policy
    [[ -n "$(bindir)" ]] || { log "error: initdb still missing after installing postgresql"; exit 1; }
}

# Run a command as the server's OS user (itself when not root).
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        id "$PG_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
        runuser -u "$PG_OS_USER" -- "$@"
    else
        "$@"
    fi
}

answers() { "$(bindir)/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }

psql_admin() {
    # The superuser over TCP with the password initdb was given (peer auth needs a socket).
    PGPASSWORD="$PG_PASSWORD" "$(bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres \
        -d postgres "$@"
}

init_cluster() {
    [[ -f "$PG_DATA_DIR/PG_VERSION" ]] && return 0
    mkdir -p "$PG_DATA_DIR"
    if [[ "$(id -u)" == 0 ]]; then
        # The server's account must reach its data directory through every parent folder.
        chown "$PG_OS_USER" "$PG_DATA_DIR"
        as_owner test -x "$PG_DATA_DIR" || { log "error: $PG_OS_USER cannot reach $PG_DATA_DIR"; exit 1; }
    fi
    chmod 700 "$PG_DATA_DIR"
    local pwfile
    pwfile="$(mktemp)"
    printf '%s\n' "$PG_PASSWORD" > "$pwfile"
    chmod 644 "$pwfile"
    as_owner "$(bindir)/initdb" -D "$PG_DATA_DIR" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >&2
    rm -f "$pwfile"
    cat >> "$PG_DATA_DIR/postgresql.conf" <<EOF
# claimstream scripts/postgres.sh
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
fsync = on
EOF
}

up() {
    install_server
    init_cluster
    if ! answers; then
        touch "$LOG" && { [[ "$(id -u)" != 0 ]] || chown "$PG_OS_USER" "$LOG"; }
        as_owner "$(bindir)/pg_ctl" -D "$PG_DATA_DIR" -l "$LOG" -o "-p $PG_PORT" -t "$PG_WAIT_TIMEOUT" -w start >&2 \
            || { log "error: the server did not start; see $LOG"; tail -n 20 "$LOG" >&2; exit 1; }
    fi
    psql_admin <<SQL
SELECT 'CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD ''$PG_PASSWORD'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') \gexec
SQL
    for db in $PG_DATABASES; do
        psql_admin <<SQL
SELECT 'CREATE DATABASE $db OWNER $PG_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db') \gexec
SQL
    done
    log "up on $PG_HOST:$PG_PORT (data $PG_DATA_DIR, databases: $PG_DATABASES)"
}

down() {
    [[ -n "$(bindir)" && -f "$PG_DATA_DIR/postmaster.pid" ]] || { log "not running"; return 0; }
    as_owner "$(bindir)/pg_ctl" -D "$PG_DATA_DIR" -m fast -w stop >&2 || true
}

case "${1:-}" in
    install) install_server ;;
    up) up ;;
    down) down ;;
    status)
        if [[ -n "$(bindir)" ]] && answers; then echo "postgres: up on $PG_HOST:$PG_PORT"; exit 0; fi
        echo "postgres: not running on $PG_HOST:$PG_PORT"; exit 3 ;;
    url) echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@$PG_HOST:$PG_PORT/${2:?database name}" ;;
    *) echo "usage: $0 install|up|down|status|url NAME" >&2; exit 2 ;;
esac
