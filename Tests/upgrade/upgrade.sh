#!/usr/bin/env bash
# Proves the upgrade from 0.1.0, on both install paths:
#   extension  CREATE EXTENSION httpq VERSION '0.1.0', then `httpq install` (ALTER EXTENSION httpq UPDATE)
#   plain      psql -f extension/httpq--0.1.0.sql, then `httpq install --plain` (the upgrade scripts)
# Before each upgrade, requests are put in every state with 0.1.0's own functions
# (states.sql). Two checks per path:
#   catalog    the upgraded catalog equals a fresh install's (catalog.sql, compared with diff)
#   requests   every request is kept (kept.sql), and a worker of the new version then
#              delivers each live one to a server on 127.0.0.1 (finished.sql)
#
#   upgrade.sh [HTTPQ_BINARY]    default: the debug build, `swift build --show-bin-path`/httpq
#
# Needs a running server reached through PG* as a superuser, with the current extension files
# installed (make install). Prints `upgrade: N passed, N failed`; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=Tests/upgrade
httpq=${1:-$(swift build --show-bin-path)/httpq}
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" extension/httpq.control)

lease='3 seconds'          # of the claim left running under 0.1.0: the new worker takes it over after this
scheduled_in='5 seconds'   # how far ahead the scheduled request is due
deadline=30                # seconds the workers get to finish every live request

work=$(mktemp -d /tmp/httpq-upgrade.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "upgrade: ok $1"; }
fail() { failed=$((failed + 1)); echo "upgrade: FAILED $1"; }

sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
recreate() { sql -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"; }

command -v python3 >/dev/null || { echo "upgrade: needs python3 for its HTTP server" >&2; exit 1; }

# The HTTP server every worker delivers to.
python3 "$here/sink.py" "$work/port" "$work/sink.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "upgrade: the HTTP sink did not start" >&2; exit 1; }
sink=http://127.0.0.1:$(cat "$work/port")

declare -A database=([extension]=httpq_upgrade_ext [plain]=httpq_upgrade_plain)
declare -A membership=([extension]=on [plain]=off)

# In database[$1], a 0.1.0 install of that kind with requests in every state, and their
# snapshot; in a second database, a fresh install of the same kind. (Each step is checked
# here: errexit does not apply in a function called as a condition.)
set_up() {
    local kind=$1 db=${database[$1]} fresh=${database[$1]}_fresh
    recreate "$db" && recreate "$fresh" || return 1
    if [ "$kind" = extension ]; then
        sql -d "$db" -c "CREATE EXTENSION httpq VERSION '0.1.0'" || return 1
        sql -d "$fresh" -c "CREATE EXTENSION httpq" || return 1
    else
        sql -d "$db" -1 -f extension/httpq--0.1.0.sql >/dev/null || return 1
        "$httpq" install --plain --database "dbname=$fresh" >/dev/null || return 1
    fi
    sql -d "$db" -o /dev/null -v sink="$sink/$kind" -v lease="$lease" -v scheduled_in="$scheduled_in" \
        -f "$here/states.sql" || return 1
    sql -d "$db" -v table=upgrade_before -f "$here/snapshot.sql"
}

# `httpq install` upgrades the 0.1.0 install, and says so.
upgrade() {
    local kind=$1 said expect="updated httpq 0.1.0 -> $version" flags=()
    if [ "$kind" = plain ]; then
        expect+=" as plain SQL"
        flags=(--plain)
    fi
    said=$("$httpq" install "${flags[@]}" --database "dbname=${database[$kind]}" 2>&1)
    echo "upgrade: httpq install${flags[*]:+ ${flags[*]}}: $said"
    [ "$said" = "$expect" ] || { echo "upgrade: expected: $expect"; return 1; }
}

# The upgraded catalog equals the fresh install's.
compare_catalogs() {
    local kind=$1 db=${database[$1]}
    sql -d "${db}_fresh" -v membership="${membership[$kind]}" -f "$here/catalog.sql" > "$work/$kind-fresh.txt" &&
        sql -d "$db" -v membership="${membership[$kind]}" -f "$here/catalog.sql" > "$work/$kind-upgraded.txt" ||
        return 1
    # Two empty dumps would compare equal: a dump without httpq.claim is a broken dump.
    grep -q '^function httpq.claim(' "$work/$kind-fresh.txt" ||
        { echo "upgrade: the catalog dump of the fresh install lists no httpq.claim"; return 1; }
    diff -u --label "fresh $version ($kind)" --label "0.1.0 upgraded ($kind)" \
        "$work/$kind-fresh.txt" "$work/$kind-upgraded.txt"
}

# Every request is still there as it was; then an operator retries the dead request that
# holds its key, with this version's function. Problems go to $work/$kind-kept.txt.
check_kept() {
    local kind=$1 db=${database[$1]}
    { sql -d "$db" -v table=upgrade_after -f "$here/snapshot.sql" && sql -d "$db" -f "$here/kept.sql"; } \
        > "$work/$kind-kept.txt" 2>&1
    [ "$(sql -d "$db" -c 'SELECT bool_and(httpq.retry(id)) FROM public.upgrade_case WHERE revive' 2>&1)" = t ] ||
        echo "the retry of the dead request holding its key was refused" >> "$work/$kind-kept.txt"
}

upgraded=()
for kind in extension plain; do
    if ! set_up "$kind"; then
        echo "upgrade: setting up 0.1.0 ($kind) failed"
        fail "$kind catalog"; fail "$kind requests"
    elif ! upgrade "$kind"; then
        fail "$kind catalog"; fail "$kind requests"
    else
        if compare_catalogs "$kind"; then pass "$kind catalog"; else fail "$kind catalog"; fi
        check_kept "$kind"
        upgraded+=("$kind")
    fi
done

# Requests of the database that are not yet where they must end.
pending() {
    sql -d "$1" -c "SELECT count(*) FROM public.upgrade_case u LEFT JOIN httpq.requests r USING (id)
                    WHERE r.state IS DISTINCT FROM u.final"
}

# This version's worker connects to public addresses only unless a channel allows more
# (README, Security): the operator's step after the upgrade, here for the loopback server.
for kind in "${upgraded[@]}"; do
    sql -d "${database[$kind]}" -c "SELECT httpq.set_channel(channel, allowed_networks => '{127.0.0.0/8}') FROM httpq.channels" \
        > /dev/null
done

# One worker per upgraded database, both at once, until nothing is left to do.
declare -A worker=()
for kind in "${upgraded[@]}"; do
    "$httpq" work --database "dbname=${database[$kind]}" --worker-id "upgrade-$kind" --lease 10 \
        --poll-interval 0.2 --log-level warning > "$work/$kind-worker.log" 2>&1 &
    worker[$kind]=$!
    pids+=($!)
done
for _ in $(seq $((deadline * 5))); do
    left=0
    for kind in "${upgraded[@]}"; do
        kill -0 "${worker[$kind]}" 2>/dev/null || continue   # a worker that exited finishes nothing more
        left=$((left + $(pending "${database[$kind]}" || echo 1)))
    done
    [ "$left" = 0 ] && break
    sleep 0.2
done
for kind in "${upgraded[@]}"; do
    kill -TERM "${worker[$kind]}" 2>/dev/null || true
    status=0
    wait "${worker[$kind]}" || status=$?
    [ "$status" = 0 ] || echo "the worker exited with status $status" >> "$work/$kind-worker.log"
done

for kind in "${upgraded[@]}"; do
    db=${database[$kind]}
    sql -d "$db" -f "$here/finished.sql" > "$work/$kind-finished.txt" 2>&1 || true
    # Each request the worker delivered reached the server.
    for label in $(sql -d "$db" -c "SELECT u.label FROM public.upgrade_case u JOIN public.upgrade_before b USING (id)
                                    JOIN httpq.requests r USING (id) WHERE r.state = 'delivered'
                                    AND b.state <> 'delivered'" 2>/dev/null); do
        grep -qx "POST /$kind/$label" "$work/sink.log" ||
            echo "request $label: delivered, but the server never received it" >> "$work/$kind-finished.txt"
    done
    if [ ! -s "$work/$kind-kept.txt" ] && [ ! -s "$work/$kind-finished.txt" ]; then
        pass "$kind requests ($(sql -d "$db" -c 'SELECT count(*) FROM public.upgrade_case') accounted for)"
    else
        sed 's/^/kept: /' "$work/$kind-kept.txt"
        sed 's/^/after the worker: /' "$work/$kind-finished.txt"
        sed 's/^/worker: /' "$work/$kind-worker.log"
        fail "$kind requests"
    fi
done

echo "upgrade: $passed passed, $failed failed"
[ "$failed" = 0 ]
