#!/usr/bin/env bash
# A private Postgres cluster in a directory: data in DIR/data, Unix socket in DIR, no TCP.
#   cluster.sh start DIR [durable]   create (once) and start; "durable" keeps fsync on
#   cluster.sh stop DIR              stop it (fast shutdown); the data stays
#   cluster.sh env DIR               print the PG* exports that reach it
# initdb refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail

cmd=${1:?usage: cluster.sh start|stop|env DIR}
dir=$(realpath -m "${2:?usage: cluster.sh $cmd DIR}")
bin=$(pg_config --bindir)
port=5432   # only names the socket file inside DIR, so it never collides with another cluster

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if ! as_owner test -w "$dir"; then
        echo "cluster: the postgres user cannot write $dir (a parent directory is not traversable); use a directory under /tmp" >&2
        exit 1
    fi
    if [ ${#dir} -gt 90 ]; then
        echo "cluster: $dir is too long for a Unix socket path; use a shorter directory" >&2
        exit 1
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then exit 0; fi
    settings=(-p "$port" -k "$dir" -c listen_addresses= -c max_connections=200)
    if [ "${3:-}" != durable ]; then
        settings+=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -o "${settings[*]}" start >/dev/null
    ;;
stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
env)
    echo "export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres"
    ;;
*)
    echo "usage: cluster.sh start|stop|env DIR" >&2
    exit 2
    ;;
esac
