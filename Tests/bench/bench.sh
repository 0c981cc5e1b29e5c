#!/usr/bin/env bash
# `make bench`: httpq measured against this machine's own limits, in one run.
#
#   bench.sh [--quick] [--large] [--profile]
#
#   --quick    smaller sizes, under a minute (10,000 end to end, 100,000 backlog, 100,000
#              finished requests for maintenance to remove)
#   --large    also a claim with 10,000,000 waiting
#   --profile  load pg_stat_statements (track = all) and write the top statements of the
#              end-to-end drain and of the backlog claims next to latest.json; it costs a
#              few per cent, so the default run leaves it off
#
# Everything runs on this machine, on loopback: a durable Postgres cluster of its own
# (fsync and synchronous_commit on), nginx as the fast sink, a small asyncio sink that
# answers after 1 s, and the worker built in release mode with one database connection.
# Prints a table and writes .build/bench/latest.json. Every figure comes from this run;
# a part that cannot run is reported as missing (null in the JSON), never estimated.
# Tests/bench/README.md says what each figure measures and how.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bench=$root/Tests/bench

mode=default large=0 profile=0
for arg in "$@"; do
    case $arg in
    --quick) mode=quick ;;
    --large) large=1 ;;
    --profile) profile=1 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

if [ $mode = quick ]; then
    e2e_n=10000 floor_rows=100000 wrk_s=2 enqueue_s=3 steady_s=4 idle_n=50 half_s=4
    slow_n=2000 big_n=20000 limited_n=200 claim_reps=100 backlogs=(10000 100000)
    maint_rows=100000
else
    e2e_n=100000 floor_rows=300000 wrk_s=5 enqueue_s=8 steady_s=10 idle_n=200 half_s=10
    slow_n=5000 big_n=100000 limited_n=500 claim_reps=300 backlogs=(10000 1000000)
    maint_rows=1000000
fi
[ $large = 1 ] && backlogs+=(10000000)
concurrency=100 batch=100   # the worker's defaults, for every part but the footprint
limited_rate=50

out=$root/.build/bench
mkdir -p "$out"
results=$out/results.txt
: >"$results"
started=$(date +%s)

say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
record() { echo "$1 $2" >>"$results"; }   # key value: one measured figure
val() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$results"; }
note() { echo "note $*" >>"$results"; }   # a line for the report: why something is missing
record load_avg_at_start "$(cut -d' ' -f1 /proc/loadavg)"   # other work on the machine skews every figure

# ---------------------------------------------------------------------------------------
# Set-up: packages, a private cluster, the sinks, the worker. All stopped by the trap.

bash Tests/support/packages.sh bench
command -v python3 >/dev/null || { echo "bench: python3 is needed (apt-get install python3)" >&2; exit 1; }

work=$(mktemp -d /tmp/httpq-bench.XXXXXX)
chmod 755 "$work"   # the postgres user must reach the cluster directory inside
pgdir=$work/pg
worker_pid= nginx_started= slow_pid=

cleanup() {
    set +e
    [ -n "$worker_pid" ] && kill -KILL "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
    [ -n "$slow_pid" ] && kill "$slow_pid" 2>/dev/null && wait "$slow_pid" 2>/dev/null
    [ -n "$nginx_started" ] && [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null
    bash "$root/Tests/support/cluster.sh" stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports on loopback that nothing listens on now.
read -r http_port slow_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
url=http://127.0.0.1:$http_port/hook
slow_url=http://127.0.0.1:$slow_port/slow

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

say "starting a durable Postgres cluster in $pgdir"
bash Tests/support/cluster.sh start "$pgdir" durable
eval "$(bash Tests/support/cluster.sh env "$pgdir")"
if [ $profile = 1 ]; then
    psql -qX -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
    bash Tests/support/cluster.sh stop "$pgdir"
    bash Tests/support/cluster.sh start "$pgdir" durable
    psql -qX -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c 'SELECT pg_reload_conf()' >/dev/null
fi
# httpq goes into each benchmark database as a plain script (the install path of managed
# Postgres), never into the server's extension directory: other work on this machine may
# be testing the installed extension.
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" extension/httpq.control)
script=$root/extension/httpq--$version.sql
make -s "extension/httpq--$version.sql" >/dev/null
for db in bench backlog; do
    psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
    psql -qX -v ON_ERROR_STOP=1 -d $db -f "$script" >/dev/null
    psql -qX -v ON_ERROR_STOP=1 -d $db -f "$bench/setup.sql"
    [ $profile = 1 ] && psql -qX -d $db -c 'CREATE EXTENSION pg_stat_statements'
done
export PGDATABASE=bench
postmaster_pid=$(head -1 "$pgdir/data/postmaster.pid")

q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }   # one statement, unaligned, no header

mkdir -p "$work/nginx"
sed -e "s|@DIR@|$work/nginx|g" -e "s|@PORT@|$http_port|g" "$bench/nginx.conf" >"$work/nginx/nginx.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
nginx_started=1
python3 "$bench/slow_sink.py" "$slow_port" 1.0 &
slow_pid=$!

say "building the worker (release)"
httpq=
if swift build -c release --product httpq >"$out/build.log" 2>&1; then
    httpq=$(swift build -c release --show-bin-path)/httpq
else
    note "the worker did not build (see .build/bench/build.log): worker parts are missing"
fi

# ---------------------------------------------------------------------------------------
# Helpers: processes, CPU, waiting.

hz=$(getconf CLK_TCK)
# utime+stime of a process, in clock ticks ($3 = children too: cutime+cstime).
ticks() { awk -v kids="${2:-}" '{ sub(/^.*\) /, ""); t = $12 + $13; if (kids) t += $14 + $15; print t }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Every Postgres process, the exited ones included (the postmaster reaps them).
pg_ticks() {
    local t sum
    sum=$(ticks "$postmaster_pid" kids)
    for t in $(pgrep -P "$postmaster_pid"); do sum=$((sum + $(ticks "$t"))); done
    echo "$sum"
}
nginx_ticks() {
    local master sum t
    master=$(cat "$work/nginx/nginx.pid")
    sum=$(ticks "$master" kids)
    for t in $(pgrep -P "$master"); do sum=$((sum + $(ticks "$t"))); done
    echo "$sum"
}
machine_ticks() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }   # busy total
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }
db_now() { q -c 'SELECT clock_timestamp()'; }

# Starts a worker and waits until it is connected; returns 1 if it is not.
start_worker() {
    local name=$1; shift
    [ -n "$httpq" ] || return 1
    "$httpq" work --worker-id "bench-$name" "$@" >"$out/worker-$name.log" 2>&1 &
    worker_pid=$!
    for _ in $(seq 100); do
        grep -q 'connected' "$out/worker-$name.log" && return 0
        kill -0 "$worker_pid" 2>/dev/null || break
        sleep 0.1
    done
    note "worker $name did not start: $(tail -1 "$out/worker-$name.log")"
    stop_worker
    return 1
}
stop_worker() {
    [ -n "$worker_pid" ] || return 0
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
    worker_pid=
}

# Waits until the channels have nothing unfinished; returns 1 after the timeout.
wait_drained() {
    local channels=$1 timeout=$2 deadline
    deadline=$(($(date +%s) + timeout))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        [ "$(q -c "SELECT count(*) FROM (SELECT 1 FROM httpq.request WHERE channel = ANY ('{$channels}') LIMIT 1) s")" = 0 ] && return 0
        kill -0 "${worker_pid:-0}" 2>/dev/null || { note "the worker exited while channels $channels were draining"; return 1; }
        sleep 0.25
    done
    note "channels $channels did not drain within ${timeout}s"
    return 1
}

# Resumes paused channels in one transaction (which wakes the worker) and prints the
# database clock just before the commit: the moment the work became claimable.
resume() {
    local ch sql="BEGIN;"
    for ch in "$@"; do sql+=" SELECT httpq.resume('$ch');"; done
    q -c "$sql SELECT clock_timestamp(); COMMIT;" | tail -1
}
pause() { local ch; for ch in "$@"; do q -c "SELECT httpq.pause('$ch')" >/dev/null; done; }

reset_queue() {
    q -c 'TRUNCATE httpq.request, httpq.history' -c 'VACUUM ANALYZE httpq.request' -c 'VACUUM ANALYZE httpq.history'
}

pgbench_tps() { awk '/^tps = / { print $3 }'; }

profile_dump() {   # name db: the top statements since the last reset
    [ $profile = 1 ] || return 0
    psql -X -d "$2" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
                               round(mean_exec_time::numeric, 3) AS mean_ms, rows,
                               left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query
                        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" >"$out/profile-$1.txt"
}
profile_reset() { [ $profile = 1 ] && q -d "$1" -c 'SELECT pg_stat_statements_reset()' >/dev/null; return 0; }

# ---------------------------------------------------------------------------------------
# 1. Ceilings.

say "1. ceilings: wrk against nginx, pgbench claim+delete of 100"
q -c 'SELECT bench.payload(1)' >"$work/body.json"
record payload_bytes "$(wc -c <"$work/body.json")"
wrk -t1 -c$concurrency -d${wrk_s}s -s "$bench/post.lua" "$url" -- "$work/body.json" >"$out/wrk.txt" 2>&1 || true
http_rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out/wrk.txt")
if [ -n "$http_rps" ] && ! grep -q 'Non-2xx' "$out/wrk.txt"; then
    record ceiling_http_rps "$http_rps"
else
    note "wrk failed or saw non-2xx answers (see .build/bench/wrk.txt)"
fi

q -c 'CREATE TABLE bench_floor (LIKE httpq.request INCLUDING ALL)' \
  -c "INSERT INTO bench_floor (id, channel, state, priority, run_at, method, url, headers, body, idempotency_key)
      SELECT g, 'default', 'waiting', 0, now(), 'POST', '$url',
             jsonb_build_object('Content-Type', 'application/json', 'Idempotency-Key', k.key),
             convert_to(bench.payload(g)::text, 'UTF8'), k.key
      FROM generate_series(1, $floor_rows) g CROSS JOIN LATERAL (SELECT gen_random_uuid()::text) k(key)" \
  -c 'VACUUM ANALYZE bench_floor' -c 'CHECKPOINT'
floor_tx=$((floor_rows / 100 - 1))   # never runs dry: every transaction claims a full 100
pgbench -n -c 1 -t $floor_tx -f "$bench/floor.sql" >"$out/pgbench-floor.txt" 2>&1 || true
floor_tps=$(pgbench_tps <"$out/pgbench-floor.txt")
if [ -n "$floor_tps" ]; then
    record ceiling_db_rows_per_s "$(awk -v t="$floor_tps" 'BEGIN { printf "%.0f", t * 100 }')"
else
    note "pgbench floor failed (see .build/bench/pgbench-floor.txt)"
fi
q -c 'DROP TABLE bench_floor'

# ---------------------------------------------------------------------------------------
# 2. Enqueue: one per transaction from 4 clients; the batch path (enqueue_many of 1,000)
#    from 2 clients, which also fills the end-to-end backlog.

say "2. enqueue: httpq.enqueue one per transaction, httpq.enqueue_many of 1,000"
cat >"$work/enqueue.sql" <<SQL
\set i random(1, 1000000000)
SELECT httpq.enqueue('$url', bench.payload(:i), channel => 'enqueue');
SQL
pgbench -n -c 4 -j 2 -T $enqueue_s -f "$work/enqueue.sql" >"$out/pgbench-enqueue.txt" 2>&1 || true
tps=$(pgbench_tps <"$out/pgbench-enqueue.txt")
[ -n "$tps" ] && record enqueue_rps "$(printf '%.0f' "$tps")" || note "pgbench enqueue failed (see .build/bench/pgbench-enqueue.txt)"
reset_queue

pause e2e
cat >"$work/enqueue_many.sql" <<SQL
\set b random(1, 1000000)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(:b * 1000 + i), channel => 'e2e')
    FROM generate_series(1, 1000) AS i));
SQL
pgbench -n -c 2 -j 2 -t $((e2e_n / 2000)) -f "$work/enqueue_many.sql" >"$out/pgbench-enqueue-many.txt" 2>&1 || true
tps=$(pgbench_tps <"$out/pgbench-enqueue-many.txt")
[ -n "$tps" ] && record enqueue_batch_rps "$(awk -v t="$tps" 'BEGIN { printf "%.0f", t * 1000 }')" \
    || note "pgbench enqueue_many failed (see .build/bench/pgbench-enqueue-many.txt)"
q -c 'VACUUM ANALYZE httpq.request' -c 'CHECKPOINT'

# ---------------------------------------------------------------------------------------
# 3. End to end: drain the backlog with one worker (one connection), then requests
#    arriving steadily while it runs.

e2e_rps=
say "3. end to end: one worker drains $e2e_n"
if start_worker e2e --concurrency $concurrency --batch $batch; then
    profile_reset bench
    read -r busy0 total0 < <(machine_ticks)
    w0=$(ticks "$worker_pid") p0=$(pg_ticks) n0=$(nginx_ticks)
    t0=$(resume e2e)
    if wait_drained e2e $((60 + e2e_n / 500)); then
        w1=$(ticks "$worker_pid") p1=$(pg_ticks) n1=$(nginx_ticks)
        read -r busy1 total1 < <(machine_ticks)
        read -r delivered span < <(q -F ' ' -c "SELECT count(*), extract(epoch FROM max(finished_at) - '$t0')
                                               FROM httpq.history WHERE channel = 'e2e' AND state = 'delivered'")
        if [ "$delivered" = "$e2e_n" ]; then
            e2e_rps=$(awk -v n="$delivered" -v s="$span" 'BEGIN { printf "%.0f", n / s }')
            record e2e_delivered_rps "$e2e_rps"
            record e2e_drain_s "$(printf '%.2f' "$span")"
            record e2e_worker_cpu_s_per_1000 "$(awk -v t=$((w1 - w0)) -v hz="$hz" -v n="$delivered" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')"
            record e2e_cpu_worker_s "$(secs $((w1 - w0)))"
            record e2e_cpu_postgres_s "$(secs $((p1 - p0)))"
            record e2e_cpu_nginx_s "$(secs $((n1 - n0)))"
            record e2e_machine_busy_pct "$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.0f", 100 * b / t }')"
            record worker_rss_mib_e2e "$(awk -v k="$(status_kib "$worker_pid" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
        else
            note "end to end: $delivered of $e2e_n delivered"
        fi
        record worker_db_connections "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'httpq'")"
        profile_dump e2e bench
    fi

    if [ -n "$e2e_rps" ]; then
        # Offered a quarter more than the drain rate, in batches of 100 per transaction: the
        # worker delivers what it can while arrivals compete for the same cores.
        offer=$((e2e_rps * 5 / 4))
        say "3b. end to end with arrivals: $offer/s offered for ${steady_s}s"
        cat >"$work/steady.sql" <<SQL
\set b random(1, 10000000)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(:b * 100 + i), channel => 'steady')
    FROM generate_series(1, 100) AS i));
SQL
        s0=$(db_now)
        pgbench -n -c 2 -j 2 -R $(((offer + 99) / 100)) -T $steady_s -f "$work/steady.sql" >"$out/pgbench-steady.txt" 2>&1 || true
        s1=$(db_now)
        read -r arrived delivered_in window backlog < <(q -F ' ' -c "
            SELECT (SELECT count(*) FROM httpq.requests WHERE channel = 'steady'),
                   (SELECT count(*) FROM httpq.history WHERE channel = 'steady' AND state = 'delivered'
                      AND finished_at > '$s0'::timestamptz + interval '1 second' AND finished_at <= '$s1'),
                   extract(epoch FROM '$s1'::timestamptz - '$s0'::timestamptz - interval '1 second'),
                   (SELECT count(*) FROM httpq.request WHERE channel = 'steady')")
        record e2e_steady_offered_rps "$(awk -v n="$arrived" -v w="$window" 'BEGIN { printf "%.0f", n / (w + 1) }')"
        record e2e_steady_delivered_rps "$(awk -v n="$delivered_in" -v w="$window" 'BEGIN { printf "%.0f", n / w }')"
        record e2e_steady_backlog_at_end "$backlog"
        wait_drained steady $((60 + e2e_n / 500)) || true
    fi
    stop_worker
else
    note "end to end, latency, footprint and fairness need a worker that starts"
fi

# ---------------------------------------------------------------------------------------
# 4. Latency, enqueue commit to delivered, from the rows' own timestamps.

if [ -n "$e2e_rps" ] && start_worker latency --concurrency $concurrency --batch $batch; then
    say "4. latency: $idle_n requests one by one at an idle queue"
    for _ in $(seq "$idle_n"); do
        echo "SELECT httpq.enqueue('$url', bench.payload(1), channel => 'idle');"
        echo "SELECT pg_sleep(0.02);"
    done | q >/dev/null
    if wait_drained idle 30; then
        read -r n p50 p99 max < <(q -F ' ' -c "SELECT * FROM bench.latency('idle')")
        record latency_idle_n "$n"
        record latency_idle_p50_ms "$p50"
        record latency_idle_p99_ms "$p99"
        record latency_idle_max_ms "$max"
    fi

    # One enqueue per transaction where that can reach the rate; otherwise the fewest
    # requests per transaction that can, judged by the enqueue rate measured above at
    # half its value (the worker now shares the machine).
    half=$((e2e_rps / 2))
    per_tx=1
    if [ -n "$(val enqueue_rps)" ]; then
        per_tx=$(awk -v h="$half" -v e="$(val enqueue_rps)" 'BEGIN { k = h / (e / 2); k = (k == int(k)) ? k : int(k) + 1; print (k < 1) ? 1 : k }')
    fi
    record latency_half_load_per_tx "$per_tx"
    say "4b. latency at half load: $half/s, $per_tx per transaction, for ${half_s}s"
    cat >"$work/half.sql" <<SQL
\set b random(1, 10000000)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(:b * 100 + i), channel => 'half')
    FROM generate_series(1, $per_tx) AS i));
SQL
    [ "$per_tx" = 1 ] && cat >"$work/half.sql" <<SQL
\set i random(1, 1000000000)
SELECT httpq.enqueue('$url', bench.payload(:i), channel => 'half');
SQL
    pgbench -n -c 4 -j 2 -R $(((half + per_tx - 1) / per_tx)) -T $half_s -f "$work/half.sql" >"$out/pgbench-half.txt" 2>&1 || true
    if wait_drained half 60; then
        read -r n p50 p99 max < <(q -F ' ' -c "SELECT * FROM bench.latency('half')")
        record latency_half_load_rps "$(awk -v n="$n" -v s="$half_s" 'BEGIN { printf "%.0f", n / s }')"
        record latency_half_load_p50_ms "$p50"
        record latency_half_load_p99_ms "$p99"
        record latency_half_load_max_ms "$max"
    fi
    stop_worker
fi

# ---------------------------------------------------------------------------------------
# 6. Footprint: 1,000 in flight against the sink that answers after 1 s.

if [ -n "$e2e_rps" ]; then
    reset_queue
    pause slow
    q -c "SELECT bench.fill('slow', $slow_n, '$slow_url')" >/dev/null
    if start_worker footprint --concurrency 1000 --batch $batch; then
        say "6. footprint: $slow_n requests, 1,000 in flight, each answered after 1 s"
        record worker_rss_mib_idle "$(awk -v k="$(status_kib "$worker_pid" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
        w0=$(ticks "$worker_pid")
        resume slow >/dev/null
        if wait_drained slow $((60 + slow_n / 100)); then
            w1=$(ticks "$worker_pid")
            delivered=$(q -c "SELECT count(*) FROM httpq.history WHERE channel = 'slow' AND state = 'delivered'")
            held=$(python3 -c "import json, urllib.request
print(json.load(urllib.request.urlopen('http://127.0.0.1:$slow_port/stats'))['held_max'])")
            record footprint_inflight_max "$held"
            record footprint_delivered "$delivered"
            record worker_rss_mib_1000_inflight "$(awk -v k="$(status_kib "$worker_pid" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
            record worker_cpu_s_per_1000 "$(awk -v t=$((w1 - w0)) -v hz="$hz" -v n="$delivered" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')"
        fi
        stop_worker
    fi
fi

# ---------------------------------------------------------------------------------------
# 7. Fairness and limits under load: 10 requests next to $big_n, and a channel limited
#    to 50 requests per second, all claimable at the same moment.

if [ -n "$e2e_rps" ]; then
    reset_queue
    pause big small limited
    q -c "SELECT httpq.set_channel('limited', rate_per_second => $limited_rate)" >/dev/null
    q -c "SELECT bench.fill('big', $big_n, '$url')" -c "SELECT bench.fill('limited', $limited_n, '$url')" \
      -c "SELECT bench.fill('small', 10, '$url')" -c 'VACUUM ANALYZE httpq.request' >/dev/null
    if start_worker fairness --concurrency $concurrency --batch $batch; then
        say "7. fairness: 10 next to $big_n; $limited_n at $limited_rate/s"
        t0=$(resume big small limited)
        if wait_drained big,small,limited $((60 + big_n / 500 + limited_n / limited_rate)); then
            read -r small_ms big_s limited_rps limited_n_done < <(q -F ' ' -c "
                SELECT round((1000 * extract(epoch FROM max(finished_at) FILTER (WHERE channel = 'small') - '$t0'))::numeric, 1),
                       round(extract(epoch FROM max(finished_at) FILTER (WHERE channel = 'big') - '$t0')::numeric, 2),
                       round(((count(*) FILTER (WHERE channel = 'limited') - 1)
                              / extract(epoch FROM max(finished_at) FILTER (WHERE channel = 'limited')
                                                 - min(finished_at) FILTER (WHERE channel = 'limited')))::numeric, 1),
                       count(*) FILTER (WHERE channel = 'limited')
                FROM httpq.history WHERE state = 'delivered'")
            record fairness_small_drain_ms "$small_ms"
            record fairness_big_drain_s "$big_s"
            record rate_limited_delivered_rps "$limited_rps"
            record rate_limited_target_rps $limited_rate
            record rate_limited_n "$limited_n_done"
        fi
        stop_worker
    fi
fi
reset_queue

# ---------------------------------------------------------------------------------------
# 5. Backlog: the cost of one claim of 100 as the backlog grows, no worker running.
#    Each claim is its own transaction, rolled back, so every claim meets the same
#    backlog; the figure is the median of the claim statement's round trip (psql \timing).

say "5. backlog: claim of 100 with ${backlogs[*]} waiting"
profile_reset backlog
q -d backlog -c "SELECT bench.fill('default', 10000, '$url')" >/dev/null
for size in "${backlogs[@]}"; do
    q -d backlog -c "SELECT bench.grow_backlog('default', $size, '$url')" -c 'VACUUM ANALYZE httpq.request' -c 'CHECKPOINT' >/dev/null
    {
        echo '\timing on'
        for _ in $(seq $((claim_reps + 20))); do
            echo 'BEGIN;'
            echo "SELECT count(*) FROM httpq.claim('bench', max_count => 100);"
            echo 'ROLLBACK;'
        done
    } | q -d backlog >"$work/claims.txt"
    # The line after a claim's row count (100) is that claim's time; the first 20 warm up.
    ms=$(awk '/^100$/ { getline; if ($1 == "Time:") print $2 }' "$work/claims.txt" | tail -n +21 | sort -n |
        awk '{ a[NR] = $1 } END { if (NR) printf "%.3f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')
    if [ -n "$ms" ]; then
        case $size in
        10000) key=10k ;; 100000) key=100k ;; 1000000) key=1m ;; 10000000) key=10m ;; *) key=$size ;;
        esac
        record "claim_ms_$key" "$ms"
    else
        note "claim with $size waiting did not return 100 rows"
    fi
done
profile_dump backlog backlog

# ---------------------------------------------------------------------------------------
# 8. History maintenance next to delivery: heartbeat and report latency alone, then while
#    httpq.maintain removes $maint_rows expired finished requests (maintenance.sh).

say "8. maintenance: heartbeat and report latency while maintain removes $maint_rows finished requests"
bash "$bench/maintenance.sh" "$maint_rows" "$results" "$url" "$script" ||
    note "the maintenance part failed (see the output above)"

record bench_seconds $(($(date +%s) - started))

# ---------------------------------------------------------------------------------------
python3 "$bench/report.py" "$results" "$out/latest.json" "$mode" "$large"
