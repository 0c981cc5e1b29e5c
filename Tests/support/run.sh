#!/usr/bin/env bash
# `make run`: from a fresh clone to a running worker. Installs missing packages; unless
# DATABASE_URL or PG* names a database, starts (or reuses) a private cluster in .httpq/;
# installs the extension; builds the worker in release mode and runs it in the foreground.
# Ctrl-C stops the worker and the private cluster; `make stop` stops a cluster left behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

bash Tests/support/packages.sh

private=
if [ -z "${DATABASE_URL:-}" ] && [ -z "${PGHOST:-}${PGPORT:-}${PGDATABASE:-}${PGSERVICE:-}" ]; then
    private=$root/.httpq
    echo "httpq: starting the private Postgres cluster in $private"
    bash Tests/support/cluster.sh start "$private" durable
    eval "$(bash Tests/support/cluster.sh env "$private")"
    trap 'echo "httpq: stopping the private cluster"; bash "$root/Tests/support/cluster.sh" stop "$private"' EXIT
fi

sudo=()
[ -w "$(pg_config --sharedir)/extension" ] || sudo=(sudo)
"${sudo[@]}" make -s install >/dev/null
swift build -c release --product httpq 2>&1 | grep -vE '^(\[|Building|Compiling|Write|Planning)' || true
httpq=$(swift build -c release --show-bin-path)/httpq
"$httpq" install ${DATABASE_URL:+--database "$DATABASE_URL"}

where=${DATABASE_URL:-"host=${PGHOST:-} port=${PGPORT:-} dbname=${PGDATABASE:-} user=${PGUSER:-}"}
cat <<MSG

httpq is running against: $where
Enqueue a request from another terminal:

    psql "$where" -c "SELECT httpq.enqueue('https://httpbin.org/post', '{\"hello\": \"world\"}')"
    $httpq status ${DATABASE_URL:+--database "$DATABASE_URL"}

Stop with Ctrl-C.

MSG
status=0
"$httpq" work ${DATABASE_URL:+--database "$DATABASE_URL"} || status=$?
exit $status
