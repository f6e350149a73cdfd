#!/usr/bin/env bash
# Redis (the Celery broker) and PostgreSQL (Optuna studies, Dagster runs) for a Celery run on one
# machine, each on a free local port, owned by this script's directory.
#
#   deploy/local-services.sh start DIR [--listen ADDR] [--install]
#                                        start both; writes DIR/services.env (source it) and DIR/dagster/dagster.yaml
#   deploy/local-services.sh stop DIR    stop both and remove their data
#   deploy/local-services.sh restart-redis|restart-postgres DIR [--down SECONDS]
#                                        stop one service, wait SECONDS (default 0), start it again on
#                                        the same address and port with its data (a fault drill)
#
# Redis keeps its data in an append-only file written before each command returns (--appendonly yes
# --appendfsync always), so the queued and unacknowledged step messages and the step results survive a
# restart; PostgreSQL is restarted with `pg_ctl -m fast` (open sessions are ended, clients reconnect).
#
# --listen ADDR: the address both services listen on and services.env names (default 127.0.0.1); a
# services host of deploy/several-hosts.sh gives its own, so that other hosts reach it.  --allow CIDR:
# PostgreSQL also trusts clients from that network and Redis leaves protected mode (by default both
# answer only this machine); for a private network such as several-hosts.sh makes, never a public one.
#
# Needs Debian's redis-server and postgresql packages (`apt-get install redis-server postgresql`;
# with --install and root, this script installs them).  PostgreSQL refuses to run as root: as root
# the database cluster belongs to the unprivileged `postgres` user that the Debian package creates,
# in a directory of its own under /tmp (DIR may sit where that user cannot read).
# Exit codes: 0 done, 2 bad use, 3 a package is missing (install it, or use --install as root).
set -euo pipefail

usage() { echo "usage: $0 start|stop|restart-redis|restart-postgres DIR [--listen ADDR] [--allow CIDR] [--install] [--down SECONDS]" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1
dir=$(realpath -m "$2")
shift 2
install=
listen=127.0.0.1
allow=
down=0
while [ $# -gt 0 ]; do
    case $1 in
        --install) install=--install; shift ;;
        --listen) [ $# -ge 2 ] || usage; listen=$2; shift 2 ;;
        --allow) [ $# -ge 2 ] || usage; allow=$2; shift 2 ;;
        --down) [ $# -ge 2 ] || usage; down=$2; shift 2 ;;
        *) usage ;;
    esac
done
here=$(cd "$(dirname "$0")" && pwd)

free_port() { python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$listen"; }
postgres_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_packages() {
    if [ "$install" != "--install" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "error: $1 is not installed" >&2
        echo "  -> apt-get install redis-server postgresql (or run this script as root with --install)" >&2
        exit 3
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q redis-server postgresql >/dev/null \
        || { apt-get update -q >/dev/null && apt-get install -y -q redis-server postgresql >/dev/null; }
}

as_postgres() {
    # from /, which the postgres user can always read (the caller's directory may be closed to it)
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start() {
    command -v redis-server >/dev/null || install_packages redis-server
    [ -x "$(postgres_bin)/initdb" ] || install_packages postgresql
    local bin; bin=$(postgres_bin)
    if [ -e "$dir/services.env" ]; then
        echo "error: $dir/services.env exists: services are already started there" >&2
        echo "  -> $0 stop $dir first, or choose another directory" >&2
        exit 2
    fi
    mkdir -p "$dir/redis" "$dir/dagster"
    local redis_port pg_port pgdata
    redis_port=$(free_port)
    local open_redis=()   # Redis answers only its own machine unless protected mode is off (--allow)
    [ -z "$allow" ] || open_redis=(--protected-mode no)
    # the command line, kept for restart-redis (one argument per line)
    printf '%s\n' --port "$redis_port" --bind "$listen" "${open_redis[@]}" --daemonize yes --dir "$dir/redis" \
        --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" --save "" \
        --appendonly yes --appendfsync always > "$dir/redis/arguments"
    start_redis
    if [ "$(id -u)" = 0 ]; then
        pgdata=$(mktemp -d /tmp/hanrock-postgres.XXXXXX)
        chown postgres: "$pgdata"
    else
        pgdata="$dir/postgres"
        mkdir -p "$pgdata"
    fi
    echo "$pgdata" > "$dir/postgres.dir"
    as_postgres "$bin/initdb" -D "$pgdata/data" -U hanrock -A trust -E UTF8 >/dev/null
    if [ -n "$allow" ]; then
        echo "host all all $allow trust" | as_postgres tee -a "$pgdata/data/pg_hba.conf" >/dev/null
    fi
    pg_port=$(free_port)
    # a client host that vanishes (power, network) leaves its session open on the server, and an open
    # transaction of it holds row locks every other worker then waits on; TCP keepalives end such a
    # session within about 11 s (5 s idle, then 3 probes 2 s apart), which releases its locks
    keepalive="-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"
    echo "-p $pg_port -h $listen -k $pgdata $keepalive" > "$dir/postgres.options"
    start_postgres
    for db in hanrock_optuna hanrock_dagster; do
        "$bin/psql" -q -h "$listen" -p "$pg_port" -U hanrock -d postgres -c "CREATE DATABASE $db" >/dev/null
    done
    cp "$here/celery/dagster.yaml" "$dir/dagster/dagster.yaml"
    local tmp="$dir/.services.env.tmp"
    cat > "$tmp" <<EOF
# written by deploy/local-services.sh start $dir
export HANROCK_EXECUTOR=celery
export HANROCK_CELERY_BROKER=redis://$listen:$redis_port/0
export HANROCK_OPTUNA_STORAGE=postgresql+psycopg2://hanrock@$listen:$pg_port/hanrock_optuna
export HANROCK_DAGSTER_STORAGE=postgresql+psycopg2://hanrock@$listen:$pg_port/hanrock_dagster
export DAGSTER_HOME=$dir/dagster
export HANROCK_STAGED_RESULTS=1
EOF
    mv "$tmp" "$dir/services.env"
    echo "redis on $listen:$redis_port, postgresql on $listen:$pg_port; environment in $dir/services.env"
}

start_redis() {
    local arguments=()
    mapfile -t arguments < "$dir/redis/arguments"
    redis-server "${arguments[@]}"
}

start_postgres() {
    local pgdata; pgdata=$(cat "$dir/postgres.dir")
    as_postgres "$(postgres_bin)/pg_ctl" -D "$pgdata/data" -l "$pgdata/postgres.log" -w \
        -o "$(cat "$dir/postgres.options")" start >/dev/null \
        || { echo "error: postgresql did not start; the end of $pgdata/postgres.log:" >&2
             tail -n 20 "$pgdata/postgres.log" >&2; exit 1; }
}

stop_redis() {
    [ -f "$dir/redis/redis.pid" ] || return 0
    local pid; pid=$(cat "$dir/redis/redis.pid")
    kill -TERM "$pid" 2>/dev/null || return 0   # Redis finishes the append-only file, then exits
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    return 1
}

restart_redis() {
    [ -f "$dir/redis/arguments" ] || { echo "error: no services started in $dir" >&2; exit 2; }
    stop_redis || { echo "error: redis did not stop within 10 s" >&2; exit 1; }
    sleep "$down"
    start_redis
    echo "redis restarted after ${down} s down"
}

restart_postgres() {
    [ -f "$dir/postgres.options" ] || { echo "error: no services started in $dir" >&2; exit 2; }
    local pgdata; pgdata=$(cat "$dir/postgres.dir")
    as_postgres "$(postgres_bin)/pg_ctl" -D "$pgdata/data" -m fast -w stop >/dev/null \
        || { echo "error: postgresql did not stop; the end of $pgdata/postgres.log:" >&2
             tail -n 20 "$pgdata/postgres.log" >&2; exit 1; }
    sleep "$down"
    start_postgres
    echo "postgresql restarted after ${down} s down"
}

stop() {
    local bin; bin=$(postgres_bin)
    stop_redis || kill -KILL "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    if [ -f "$dir/postgres.dir" ]; then
        local pgdata; pgdata=$(cat "$dir/postgres.dir")
        if [ -d "$pgdata/data" ]; then
            as_postgres "$bin/pg_ctl" -D "$pgdata/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$pgdata"
        rm -f "$dir/postgres.dir"
    fi
    rm -rf "$dir/redis"   # its append-only file
    rm -f "$dir/services.env" "$dir/postgres.options"
}

case $command in
    start) start ;;
    stop) stop ;;
    restart-redis) restart_redis ;;
    restart-postgres) restart_postgres ;;
    *) usage ;;
esac
