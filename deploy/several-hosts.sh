#!/usr/bin/env bash
# Several hosts on one Linux machine, for a Celery study across hosts (issue 34): each host is a
# network namespace with its own address on a private bridge, its own hostname, and a private mount
# namespace whose /tmp is its own (a tmpfs); the only directories the hosts have in common are the
# SHARED ones named at `up` (what NFS or a shared volume gives real hosts), at the same path on each.
# Needs root (as CI runs), iproute2 and util-linux (unshare, nsenter).
#
#   deploy/several-hosts.sh up DIR HOST... [--shared PATH]...   make the hosts; DIR/hosts.env names them
#   deploy/several-hosts.sh run DIR HOST -- COMMAND...          run COMMAND on HOST (environment kept)
#   deploy/several-hosts.sh address DIR HOST                    print HOST's address
#   deploy/several-hosts.sh lose DIR HOST                       the host vanishes: its link is cut first
#                                                                (no peer hears a goodbye), then every
#                                                                process on it is killed
#   deploy/several-hosts.sh down DIR                            kill every process on every host, remove
#                                                                the namespaces, links and mounts
#
# Addresses are 10.X.Y.k/24 on a bridge that lives in a namespace of its own (DIR/hosts.env says
# which), so no traffic touches the machine's own interfaces.  The machine's own paths outside /tmp
# (the code, the Python environment) stay visible on every host, read and write, as on a host that was
# installed the same way; a SHARED path under /tmp is mounted back over the host's private /tmp.
# Exit codes: 0 done, 2 bad use, 3 not root or a tool is missing, 4 a host did not come up in time.
set -euo pipefail

usage() {
    sed -n '8,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
fail() { echo "error: $1" >&2; [ -z "${2:-}" ] || echo "  -> $2" >&2; exit "${3:-2}"; }

[ $# -ge 2 ] || usage
command=$1
dir=$(realpath -m "$2")
shift 2

need_root() {
    [ "$(id -u)" = 0 ] || fail "network namespaces need root" "run as root (CI does)" 3
    for tool in ip unshare nsenter; do
        command -v $tool >/dev/null || fail "$tool is missing" "apt-get install iproute2 util-linux" 3
    done
}

# shellcheck disable=SC1091
load() { [ -f "$dir/hosts.env" ] || fail "$dir/hosts.env is missing: no hosts were made there" "$0 up $dir HOST... first"; . "$dir/hosts.env"; }

index_of() {  # the position of host $1 in HOSTS (1-based)
    local i=1 h
    for h in $HOSTS; do
        [ "$h" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    fail "no host $1 in $dir (hosts: $HOSTS)"
}

keeper_of() { cat "$dir/$1.pid"; }

up() {
    need_root
    local hosts=() shared=()
    while [ $# -gt 0 ]; do
        case $1 in
            --shared) [ $# -ge 2 ] || usage; shared+=("$(realpath -m "$2")"); shift 2 ;;
            -*) usage ;;
            *) [[ $1 =~ ^[a-z][a-z0-9-]{0,11}$ ]] || fail "host name $1: use a-z, 0-9 and -, at most 12 characters"
               hosts+=("$1"); shift ;;
        esac
    done
    [ ${#hosts[@]} -ge 1 ] || usage
    [ ! -e "$dir/hosts.env" ] || fail "$dir/hosts.env exists: hosts are already up there" "$0 down $dir first"
    mkdir -p "$dir"
    local tag net x y
    tag=$(printf '%04x' $(( $$ % 65536 )))   # names of this set's namespaces and links
    x=$(( 16 + RANDOM % 200 )); y=$(( RANDOM % 250 ))
    net="10.$x.$y"
    cat > "$dir/hosts.env" <<EOF
# written by deploy/several-hosts.sh up $dir
TAG=$tag
HOSTS="${hosts[*]}"
NETWORK=$net.0/24
SWITCH=hr$tag-sw
SHARED="${shared[*]}"
EOF
    ip netns add "hr$tag-sw"
    ip -n "hr$tag-sw" link add br0 type bridge
    ip -n "hr$tag-sw" link set br0 up
    local i=1 h ns stash
    for h in "${hosts[@]}"; do
        ns=hr$tag-$h
        ip netns add "$ns"
        ip link add "hr${tag}h$i" type veth peer name "hr${tag}s$i"
        ip link set "hr${tag}h$i" netns "$ns"
        ip link set "hr${tag}s$i" netns "hr$tag-sw"
        ip -n "hr$tag-sw" link set "hr${tag}s$i" master br0 up
        ip -n "$ns" link set "hr${tag}h$i" name eth0
        ip -n "$ns" addr add "$net.$i/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        echo "$net.$i" > "$dir/$h.address"
        # the host's mount namespace: a private /tmp, the shared paths under /tmp mounted back over it
        stash=/run/hanrock-hosts/$tag/$h
        mkdir -p "$stash"
        ip netns exec "$ns" unshare --mount --uts --propagation private bash -c '
            set -e
            stash=$1 host=$2; shift 2
            k=0
            for p in "$@"; do mkdir -p "$stash/$k" "$p"; mount --bind "$p" "$stash/$k"; k=$((k + 1)); done
            mount -t tmpfs -o mode=1777 "tmp-$host" /tmp
            k=0
            for p in "$@"; do mkdir -p "$p"; mount --bind "$stash/$k" "$p"; k=$((k + 1)); done
            hostname "$host"
            echo up > "$stash/ready"
            exec sleep infinity' keeper "$stash" "$h" "${shared[@]}" </dev/null >"$dir/$h.keeper.log" 2>&1 &
        echo $! > "$dir/$h.pid"
        i=$((i + 1))
    done
    for h in "${hosts[@]}"; do
        local waited=0
        until [ -f "/run/hanrock-hosts/$tag/$h/ready" ]; do
            waited=$((waited + 1))
            [ $waited -le 100 ] || fail "host $h did not come up in 10 s: $(cat "$dir/$h.keeper.log")" "$0 down $dir" 4
            sleep 0.1
        done
    done
    echo "hosts ${hosts[*]} up on $net.0/24 (namespaces hr$tag-*); environment in $dir/hosts.env"
}

run() {
    need_root
    load
    local host=${1:-}
    [ -n "$host" ] && [ "${2:-}" = "--" ] && [ $# -ge 3 ] || usage
    shift 2
    index_of "$host" >/dev/null
    # the keeper's mount and hostname namespaces, the host's network namespace; environment, fds and the
    # working directory kept (a directory under /tmp must be a shared one)
    exec nsenter --target "$(keeper_of "$host")" --mount --uts --net --wd="$PWD" -- "$@"
}

address() {
    load
    index_of "${1:?}" >/dev/null
    cat "$dir/$1.address"
}

kill_host() {  # every process in the host's network namespace, until none is left (bounded)
    local ns=hr$TAG-$1 tries=0 pids
    while pids=$(ip netns pids "$ns" 2>/dev/null) && [ -n "$pids" ]; do
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        tries=$((tries + 1))
        [ $tries -le 50 ] || fail "processes $pids on host $1 survive SIGKILL" "" 4
        sleep 0.1
    done
}

lose() {
    need_root
    load
    local host=${1:?} i
    i=$(index_of "$host")
    ip -n "$SWITCH" link del "hr${TAG}s$i" 2>/dev/null || true   # the cable first: peers get no FIN or RST
    kill_host "$host"
    echo "host $host lost"
}

down() {
    [ -f "$dir/hosts.env" ] || return 0
    need_root
    load
    local h
    for h in $HOSTS; do
        kill_host "$h"
        ip netns del "hr$TAG-$h" 2>/dev/null || true
        rm -f "$dir/$h.pid"
    done
    ip netns del "$SWITCH" 2>/dev/null || true
    rm -rf "/run/hanrock-hosts/$TAG"
    rm -f "$dir/hosts.env"
}

case $command in
    up) up "$@" ;;
    run) run "$@" ;;
    address) address "$@" ;;
    lose) lose "$@" ;;
    down) down ;;
    *) usage ;;
esac
