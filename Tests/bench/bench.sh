#!/usr/bin/env bash
# `make bench`: httpq measured against this machine's own limits, in one run.
#
#   bench.sh [--quick] [--large] [--soak] [--profile] [--only PART]
#
#   --quick    shorter and smaller, about 7 minutes: 15 s of steady arrivals, a 60 s long
#              transaction, a 20,000 backlog to drain, 100,000 waiting for the claim, two
#              20 s runs of the isolation part
#   --large    also a claim with 10,000,000 waiting
#   --soak     also 30 minutes (3 with --quick) of arrivals at half the drain rate
#   --profile  load pg_stat_statements (track = all) and write the top statements of the
#              drain and of the backlog claims next to latest.json; it costs a few per
#              cent, so the default run leaves it off
#   --only     run one part: ceilings, enqueue, drain, scale, metrics, signing, hooks, fanout, overload, steady,
#              longtx, footprint, fairness, isolation, backlog, maintenance or soak (the figures
#              of the others are then "not run"; overload and soak need the drain's rate)
#
# Everything runs on this machine, on loopback: a durable Postgres cluster of its own
# (fsync and synchronous_commit on) with httpq installed as a plain script, nginx as the
# fast sink, receiver.py recording when each request arrives (a second one answering 429),
# a small asyncio sink that answers after 1 s, a black hole that never answers, and the
# worker built in release mode, started with its defaults.
# Prints the targets (met or SHORT) and a table of every figure, and writes
# .build/bench/latest.json. Every figure comes from this run; a part that cannot run is
# reported as missing (null in the JSON), never estimated. Tests/bench/README.md says what
# each figure measures and how.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bench=$root/Tests/bench

parts="ceilings enqueue drain scale metrics signing hooks fanout overload steady longtx footprint fairness isolation backlog maintenance soak"
mode=default large=0 soak=0 profile=0 only=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) mode=quick ;;
    --large) large=1 ;;
    --soak) soak=1 ;;
    --profile) profile=1 ;;
    --only) only=${2:-}; shift ;;
    --only=*) only=${1#--only=} ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "bench: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$only" ] && [[ " $parts " != *" $only "* ]]; then
    echo "bench: --only takes one of: $parts" >&2
    exit 2
fi
[ "$only" = soak ] && soak=1
# part: whether this run includes it (overload offers 1.25 x the drain rate: it needs drain)
runs() { [ -z "$only" ] || [ "$only" = "$1" ] || [ "$only $1" = "overload drain" ]; }

if [ $mode = quick ]; then
    floor_rows=100000 wrk_s=2 enqueue_s=3 drain_n=20000 overload_s=15 tail_s=15 steady_s=15 hold_s=60
    soak_min=3 slow_n=2000 big_n=20000 limited_n=200 claim_reps=100 backlogs=(10000 100000)
    maint_rows=100000 isolation_s=20
else
    floor_rows=300000 wrk_s=5 enqueue_s=8 drain_n=100000 overload_s=60 tail_s=30 steady_s=60 hold_s=300
    soak_min=30 slow_n=5000 big_n=100000 limited_n=500 claim_reps=300 backlogs=(10000 1000000)
    maint_rows=1000000 isolation_s=60
fi
[ $large = 1 ] && backlogs+=(10000000)
concurrency=100               # wrk's connections to nginx: the worker's default concurrency
steady_rate=1000 steady_sessions=4
limited_rate=50
# The isolation part: healthy channels, their rate in all and its sessions; the black hole's
# time-out and backlog rate (40/s × 5 s = 200 attempts wanted at once, twice the slots);
# the 429 channel's limit.
isolation_channels=50 isolation_rate=2000 isolation_sessions=8
hole_timeout_ms=5000 hole_rate=40 throttled_rate=10

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

# psycopg 3 for the paced driver (drive.py), kept under .build: the binary build where
# PyPI has a wheel for this machine (less of the driver's CPU on the cores it shares),
# else the pure-Python build over the system's libpq.
pylib=$out/python
if ! PYTHONPATH=$pylib python3 -c 'import psycopg' 2>/dev/null; then
    say "installing psycopg into $pylib"
    pip_install() { python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$pylib" "$@"; }
    pip_install 'psycopg[binary]==3.3.9' || pip_install 'psycopg==3.3.9'
fi

work=$(mktemp -d /tmp/httpq-bench.XXXXXX)
chmod 755 "$work"   # the postgres user must reach the cluster directory inside
pgdir=$work/pg
worker_pids=() background_pids=() nginx_started=

cleanup() {
    set +e
    local pid
    for pid in "${worker_pids[@]}"; do kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    for pid in "${background_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    [ -n "$nginx_started" ] && [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null
    bash "$root/Tests/support/cluster.sh" stop "$pgdir"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports on loopback that nothing listens on now.
read -r http_port slow_port recv_port hole_port throttled_port metrics_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
url=http://127.0.0.1:$http_port/hook
slow_url=http://127.0.0.1:$slow_port/slow
receiver=http://127.0.0.1:$recv_port
hole=http://127.0.0.1:$hole_port
throttled=http://127.0.0.1:$throttled_port

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
loopback_channels="'default', 'enqueue', 'drain', 'overload', 'steady', 'longtx', 'slow', 'big', 'small', 'limited', 'soak'"
for db in bench backlog; do
    psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
    psql -qX -v ON_ERROR_STOP=1 -d $db -f "$script" >/dev/null
    psql -qX -v ON_ERROR_STOP=1 -d $db -f "$bench/setup.sql"
    # Every channel of the benchmark delivers to a sink on 127.0.0.1 (the channels of the
    # isolation part are opened there).
    psql -qXAt -v ON_ERROR_STOP=1 -d $db -c "SELECT bench.loopback($loopback_channels)" >/dev/null
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
background_pids+=($!)
python3 "$bench/receiver.py" "$recv_port" "$work/arrivals" &
receiver_pid=$!
background_pids+=("$receiver_pid")
python3 "$bench/black_hole.py" "$hole_port" &
background_pids+=($!)
# Retry-After: 1 makes every attempt it answers due again a second later, so the retries
# crowd the rate limit as well as the backlog does.
python3 "$bench/receiver.py" "$throttled_port" "$work/arrivals-429" 429 1 &
background_pids+=($!)

httpq=
if [ -n "$only" ] && [[ " enqueue hooks fanout " == *" $only "* ]]; then
    say "no worker to build: part $only runs none"
elif say "building the worker (release)" && swift build -c release --product httpq >"$out/build.log" 2>&1; then
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
workers_ticks() { local pid sum=0; for pid in "${worker_pids[@]}"; do sum=$((sum + $(ticks "$pid"))); done; echo "$sum"; }
machine_ticks() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }   # busy total
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
secs() { awk -v t="$1" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'; }
us_per() { awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }'; }   # ticks, count
db_now() { q -c 'SELECT clock_timestamp()'; }

# Starts a worker with its defaults (plus any options given) and waits until it is
# connected; returns 1 if it is not. Every worker started is stopped by stop_workers.
start_worker() {
    local name=$1 pid; shift
    [ -n "$httpq" ] || return 1
    "$httpq" work --worker-id "bench-$name" "$@" >"$out/worker-$name.log" 2>&1 &
    pid=$!
    worker_pids+=("$pid")
    for _ in $(seq 100); do
        grep -q 'connected' "$out/worker-$name.log" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    note "worker $name did not start: $(tail -1 "$out/worker-$name.log")"
    stop_workers
    return 1
}
stop_workers() {
    local pid
    for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    worker_pids=()
}
workers_alive() { local pid; for pid in "${worker_pids[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done; }

# Waits until the channels have nothing unfinished; returns 1 after the timeout (with a
# note, unless a third argument says the timeout is expected).
wait_drained() {
    local channels=$1 timeout=$2 quiet=${3:-} deadline
    deadline=$(($(date +%s) + timeout))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        [ "$(q -c "SELECT count(*) FROM (SELECT 1 FROM httpq.request WHERE channel = ANY ('{$channels}') LIMIT 1) s")" = 0 ] && return 0
        workers_alive || { note "a worker exited while channels $channels were draining"; return 1; }
        sleep 0.25
    done
    [ -n "$quiet" ] || note "channels $channels did not drain within ${timeout}s"
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
    q -c 'TRUNCATE httpq.request, httpq.history, bench.plain' -c 'VACUUM ANALYZE httpq.request' -c 'VACUUM ANALYZE httpq.history'
}

pgbench_tps() { awk '/^tps = / { print $3 }'; }
pgbench_done() { awk '/^number of transactions actually processed:/ { split($NF, a, "/"); print a[1] }'; }

# Paced arrivals, one row per transaction from $steady_sessions sessions (drive.py):
# mode (enqueue or plain), tag (channel and key prefix), seconds, and how long to wait
# for the last deliveries, then any other drive.py options (a later one wins).
# Appends its TAG_* figures and notes to the results.
drive() {
    local mode=$1 tag=$2 seconds=$3 wait=$4
    shift 4
    timeout $((seconds + wait + 120)) env PYTHONPATH="$pylib" python3 "$bench/drive.py" \
        --mode "$mode" --tag "$tag" --rate $steady_rate --sessions $steady_sessions --seconds "$seconds" \
        --receiver "$receiver" --receiver-pid "$receiver_pid" --arrivals "$work/arrivals" \
        --postmaster "$postmaster_pid" --wait "$wait" "$@" \
        >>"$results" 2>"$out/drive-$tag.log" || note "the $tag driver failed (see .build/bench/drive-$tag.log)"
}

# tag ticks: the worker's CPU per request the driver saw arrive.
worker_cpu() {
    local n
    n=$(val "$1_delivered")
    [ -n "$n" ] && [ "$n" -gt 0 ] && record "$1_worker_cpu_us_per_req" "$(us_per "$2" "$n")"
    return 0
}

profile_dump() {   # name db: the top statements since the last reset
    [ $profile = 1 ] || return 0
    psql -X -d "$2" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
                               round(mean_exec_time::numeric, 3) AS mean_ms, rows,
                               left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query
                        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" >"$out/profile-$1.txt"
}
profile_reset() { [ $profile = 1 ] && q -d "$1" -c 'SELECT pg_stat_statements_reset()' >/dev/null; return 0; }

# The rows a plain INSERT writes for comparison: the columns httpq.enqueue fills, filled the
# same way (report.py's ratios compare httpq with these). $1: the expression of the
# payload's number, $2: what to select from.
plain_insert() {
    cat <<SQL
INSERT INTO bench.plain (channel, state, priority, run_at, method, url, headers, body, idempotency_key)
SELECT 'plain', 'waiting', 0, now(), 'POST', '$url',
       jsonb_build_object('Content-Type', 'application/json', 'Idempotency-Key', k.key),
       convert_to(bench.payload($1)::text, 'UTF8'), k.key
FROM $2 CROSS JOIN LATERAL (SELECT gen_random_uuid()::text) AS k(key);
SQL
}

# ---------------------------------------------------------------------------------------
# 1. Ceilings.

q -c 'SELECT bench.payload(1)' >"$work/body.json"
record payload_bytes "$(wc -c <"$work/body.json")"
if runs ceilings; then
    say "1. ceilings: wrk against nginx, pgbench claim+delete of 100"
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
fi

# ---------------------------------------------------------------------------------------
# 2. Enqueue against a plain INSERT of the same rows: one per transaction from 8 clients,
#    and 1,000 per transaction from 2. Prepared statements; each pair plain first, then
#    httpq, each after a checkpoint.

if runs enqueue; then
    say "2. enqueue: httpq.enqueue and a plain INSERT, 1 per transaction; enqueue_many and INSERT of 1,000"
    cat >"$work/enqueue.sql" <<SQL
\set i random(1, 1000000000)
SELECT httpq.enqueue('$url', bench.payload(:i), channel => 'enqueue');
SQL
    { echo '\set i random(1, 1000000000)'; plain_insert ':i' '(VALUES (1)) AS one(x)'; } >"$work/plain.sql"
    cat >"$work/enqueue_many.sql" <<SQL
\set b random(1, 1000000)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(:b * 1000 + i), channel => 'enqueue')
    FROM generate_series(1, 1000) AS i));
SQL
    { echo '\set b random(1, 1000000)'; plain_insert ':b * 1000 + i' 'generate_series(1, 1000) AS i'; } >"$work/plain_many.sql"

    # name script clients per_tx key
    enqueue_run() {
        local tps
        reset_queue >/dev/null
        q -c 'CHECKPOINT'
        pgbench -n -M prepared -c "$3" -j 2 -T $enqueue_s -f "$work/$2" >"$out/pgbench-$1.txt" 2>&1 || true
        tps=$(pgbench_tps <"$out/pgbench-$1.txt")
        if [ -n "$tps" ]; then
            record "$5" "$(awk -v t="$tps" -v k="$4" 'BEGIN { printf "%.0f", t * k }')"
        else
            note "pgbench $1 failed (see .build/bench/pgbench-$1.txt)"
        fi
    }
    enqueue_run plain plain.sql 8 1 plain_insert_rps
    enqueue_run enqueue enqueue.sql 8 1 enqueue_rps
    enqueue_run plain-many plain_many.sql 2 1000 plain_insert_batch_rps
    enqueue_run enqueue-many enqueue_many.sql 2 1000 enqueue_batch_rps
    reset_queue
fi

# ---------------------------------------------------------------------------------------
# 3. Drain: a backlog in a paused channel, delivered by one worker with its defaults
#    (then, for the scale, by 2 and by 4), timed from the resume that wakes it.

# key workers: fills the backlog, starts the workers, resumes, waits, records KEY_*.
drain() {
    local key=$1 n=$2 k w0 p0 n0 busy0 total0 w1 p1 n1 busy1 total1 t0 delivered span rss
    reset_queue >/dev/null
    pause drain
    q -c "SELECT bench.fill('drain', $drain_n, '$url')" -c 'VACUUM ANALYZE httpq.request' -c 'CHECKPOINT' >/dev/null
    for k in $(seq "$n"); do start_worker "$key-$k" || return 1; done
    profile_reset bench
    read -r busy0 total0 < <(machine_ticks)
    w0=$(workers_ticks) p0=$(pg_ticks) n0=$(nginx_ticks)
    t0=$(resume drain)
    if wait_drained drain $((60 + drain_n / 500)); then
        w1=$(workers_ticks) p1=$(pg_ticks) n1=$(nginx_ticks)
        read -r busy1 total1 < <(machine_ticks)
        rss=0
        for k in "${worker_pids[@]}"; do rss=$(awk -v a="$rss" -v b="$(status_kib "$k" VmHWM)" 'BEGIN { print (b > a) ? b : a }'); done
        read -r delivered span < <(q -F ' ' -c "SELECT count(*), extract(epoch FROM max(finished_at) - '$t0')
                                               FROM httpq.history WHERE channel = 'drain' AND state = 'delivered'")
        if [ "$delivered" = "$drain_n" ]; then
            record "${key}_rps" "$(awk -v n="$delivered" -v s="$span" 'BEGIN { printf "%.0f", n / s }')"
            record "${key}_s" "$(printf '%.2f' "$span")"
            record "${key}_pg_cpu_us_per_req" "$(us_per $((p1 - p0)) "$delivered")"
            record "${key}_worker_cpu_us_per_req" "$(us_per $((w1 - w0)) "$delivered")"
            record "${key}_cpu_worker_s" "$(secs $((w1 - w0)))"
            record "${key}_cpu_postgres_s" "$(secs $((p1 - p0)))"
            record "${key}_cpu_nginx_s" "$(secs $((n1 - n0)))"
            record "${key}_machine_busy_pct" "$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.0f", 100 * b / t }')"
            record "${key}_worker_rss_mib" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
        else
            note "$key: $delivered of $drain_n delivered"
        fi
        [ "$n" = 1 ] && record worker_db_connections "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'httpq'")"
        [ "$n" = 1 ] && profile_dump drain bench
    fi
    stop_workers
}

if runs drain; then
    say "3. drain: one worker with its defaults delivers $drain_n"
    drain drain 1 || true
    drain_rps=$(val drain_rps)
fi
if runs scale; then
    say "4. scale: the same backlog, 2 workers, then 4"
    drain scale2 2 || true
    drain scale4 4 || true
fi

# ---------------------------------------------------------------------------------------
# 4a. Metrics: the drain's backlog delivered by one worker without --listen, then by one
#     serving /metrics with a scraper polling it every second (scraper.py, not in the
#     figures), twice each, interleaved: the drain rate and the worker's CPU per request of
#     each, and the ratios of the two, measured in this run.

if runs metrics; then
    say "4a. metrics: the drain's $drain_n without --listen, then with it and a scraper every second, twice each"
    rm -f "$work"/scrapes-*
    for round in 1 2; do
        drain "metrics_off_$round" 1 || true
        python3 "$bench/scraper.py" "$metrics_port" "$work/scrapes-$round" &
        scraper_pid=$!
        background_pids+=("$scraper_pid")
        HTTPQ_LISTEN=127.0.0.1:$metrics_port drain "metrics_on_$round" 1 || true
        kill "$scraper_pid" 2>/dev/null || true
    done
    for side in off on; do
        rps1=$(val "metrics_${side}_1_rps") rps2=$(val "metrics_${side}_2_rps")
        cpu1=$(val "metrics_${side}_1_worker_cpu_us_per_req") cpu2=$(val "metrics_${side}_2_worker_cpu_us_per_req")
        if [ -n "$rps1" ] && [ -n "$rps2" ]; then
            record "metrics_${side}_rps" "$(awk -v a="$rps1" -v b="$rps2" 'BEGIN { printf "%.0f", (a + b) / 2 }')"
            record "metrics_${side}_worker_cpu_us_per_req" "$(awk -v a="$cpu1" -v b="$cpu2" 'BEGIN { printf "%.1f", (a + b) / 2 }')"
        else
            note "metrics: a drain ${side} --listen did not finish"
        fi
    done
    record metrics_scrapes_ok "$(cat "$work"/scrapes-* 2>/dev/null | grep -c '^200 ' || true)"
fi

# ---------------------------------------------------------------------------------------
# 4b. Signing and secrets: the drain's backlog (half of it) delivered by one worker from a
#     plain channel, a channel that signs every request (one whsec_ key, Standard Webhooks)
#     and one whose requests carry a secret header, each twice, interleaved; the worker's
#     and Postgres's CPU per request of each, and the ratios to plain.

# variant: fills the paused channel sign-VARIANT, drains it with one worker, and appends
# the worker's and Postgres's CPU ticks and the count to $work/signing-VARIANT.
sign_drain() {
    local variant=$1 ch=sign-$1 n=$((drain_n / 2)) w0 p0 w1 p1 delivered
    q -c 'TRUNCATE httpq.request, httpq.history' >/dev/null
    pause "$ch"
    q -c "SELECT bench.fill('$ch', $n, '$url')" >/dev/null
    if [ "$variant" = header ]; then
        # The fixture, written directly: every request names the secret, as an enqueue with
        # headers => '{"Authorization": {"secret": "bench-token", "prefix": "Bearer "}}' would.
        q -c "UPDATE httpq.request SET headers = headers || '{\"Authorization\": {\"secret\": \"bench-token\", \"prefix\": \"Bearer \"}}',
                                       secrets = '{bench-token}' WHERE channel = '$ch'" >/dev/null
    fi
    q -c 'VACUUM ANALYZE httpq.request' -c 'CHECKPOINT' >/dev/null
    start_worker "sign-$variant" --channels "$ch" || return 1
    w0=$(workers_ticks) p0=$(pg_ticks)
    resume "$ch" >/dev/null
    if wait_drained "$ch" $((60 + n / 500)); then
        w1=$(workers_ticks) p1=$(pg_ticks)
        delivered=$(q -c "SELECT count(*) FROM httpq.history WHERE channel = '$ch' AND state = 'delivered'")
        echo "$((w1 - w0)) $((p1 - p0)) $delivered" >>"$work/signing-$variant"
    fi
    stop_workers
}

if runs signing; then
    say "4b. signing: $((drain_n / 2)) delivered plain, signed and with a secret header, twice each"
    export HTTPQ_SECRET_KEY
    HTTPQ_SECRET_KEY=$("$httpq" secret generate-key 2>/dev/null)
    printf 'whsec_%s' "$(head -c 32 /dev/urandom | base64)" | "$httpq" secret set bench-signing >/dev/null
    printf 'bench-token-%s' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" | "$httpq" secret set bench-token >/dev/null
    q -c "SELECT bench.loopback('sign-plain', 'sign-signed', 'sign-header')" \
      -c "SELECT httpq.set_channel('sign-signed', signing_keys => '{bench-signing}')" >/dev/null
    rm -f "$work"/signing-*
    for round in 1 2; do
        for variant in plain signed header; do sign_drain $variant || true; done
    done
    for variant in plain signed header; do
        if [ "$(wc -l <"$work/signing-$variant" 2>/dev/null || echo 0)" = 2 ]; then
            read -r wt pt n < <(awk '{ w += $1; p += $2; n += $3 } END { print w, p, n }' "$work/signing-$variant")
            record "signing_${variant}_worker_cpu_us_per_req" "$(us_per "$wt" "$n")"
            record "signing_${variant}_pg_cpu_us_per_req" "$(us_per "$pt" "$n")"
        else
            note "signing: the $variant drains did not both finish"
        fi
    done
    unset HTTPQ_SECRET_KEY
    q -c "SELECT httpq.set_channel('sign-signed', signing_keys => '{}')" -c 'DELETE FROM httpq.secret' >/dev/null
    reset_queue >/dev/null
fi

# ---------------------------------------------------------------------------------------
# 4c. Completion hooks: claims of 100 reported at once as delivered (one statement, no
#     worker), from a channel without a hook and one whose on_finish does nothing, each
#     twice, interleaved: Postgres CPU per request and the time of a claim and report of 100.

# variant: fills hook-VARIANT with the backlog and claims and reports it, 100 at a time;
# appends the Postgres CPU ticks, the requests and pgbench's mean latency to $work/hooks-VARIANT.
hook_round() {
    local variant=$1 ch=hook-$1 n=$((drain_n / 2)) p0 p1 done latency
    q -c 'TRUNCATE httpq.request, httpq.history' >/dev/null
    pause "$ch"
    q -c "SELECT bench.fill('$ch', $n, '$url')" >/dev/null
    q -c "SELECT httpq.resume('$ch')" -c 'VACUUM ANALYZE httpq.request' -c 'CHECKPOINT' >/dev/null
    cat >"$work/hooks-$variant.sql" <<SQL
SELECT httpq.report('bench-hooks', (SELECT jsonb_agg(jsonb_build_object('id', c.id, 'attempt', c.attempt, 'status', 200))
                                    FROM httpq.claim('bench-hooks', 100, '{$ch}') AS c));
SQL
    p0=$(pg_ticks)
    pgbench -n -M prepared -c 1 -t $((n / 100)) -f "$work/hooks-$variant.sql" >"$out/pgbench-hooks-$variant.txt" 2>&1 || true
    sleep 1   # pgbench's backend ends after pgbench: its CPU counts once the postmaster has reaped it
    p1=$(pg_ticks)
    done=$(q -c "SELECT count(*) FROM httpq.history WHERE channel = '$ch' AND state = 'delivered'")
    latency=$(awk '/^latency average = / { print $4 }' "$out/pgbench-hooks-$variant.txt")
    [ "$done" = "$n" ] && [ -n "$latency" ] && echo "$((p1 - p0)) $done $latency" >>"$work/hooks-$variant"
    return 0
}

if runs hooks; then
    say "4c. hooks: $((drain_n / 2)) claimed and reported 100 at a time, without a hook and with one that does nothing, twice each"
    q -c 'CREATE SCHEMA IF NOT EXISTS bench_hook' \
      -c 'CREATE OR REPLACE FUNCTION bench_hook.noop(f httpq.finished) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
          SET search_path = pg_catalog AS $$ BEGIN END $$' \
      -c "SELECT httpq.set_channel('hook-noop', on_finish => 'bench_hook.noop')" -c "SELECT bench.loopback('hook-plain')" >/dev/null
    rm -f "$work"/hooks-plain "$work"/hooks-noop
    for round in 1 2; do
        for variant in plain noop; do hook_round $variant; done
    done
    for variant in plain noop; do
        if [ "$(wc -l <"$work/hooks-$variant" 2>/dev/null || echo 0)" = 2 ]; then
            read -r pt n ms < <(awk '{ p += $1; n += $2; l += $3 } END { print p, n, l / 2 }' "$work/hooks-$variant")
            record "hooks_${variant}_pg_cpu_us_per_req" "$(us_per "$pt" "$n")"
            record "hooks_${variant}_claim_report_100_ms" "$(printf '%.2f' "$ms")"
        else
            note "hooks: the $variant rounds did not both finish"
        fi
    done
    q -c "SELECT httpq.unset_channel('hook-noop', '{on_finish}')" -c 'DROP SCHEMA bench_hook CASCADE' >/dev/null
    reset_queue >/dev/null
fi

# ---------------------------------------------------------------------------------------
# 4d. Fan-out: httpq.publish to a topic of 100 subscriptions (each with its channel of its
#     own, as subscribe makes them) against httpq.enqueue_many of the same 100 requests
#     into 100 channels, one call per transaction, each twice, interleaved: Postgres CPU
#     per request enqueued, and the time of a call.

# variant (publish or many): runs its script for half the drain's backlog in requests;
# appends the Postgres CPU ticks, the requests and pgbench's mean latency to $work/fanout-VARIANT.
fanout_round() {
    local variant=$1 n=$((drain_n / 2)) p0 p1 done latency
    reset_queue >/dev/null
    q -c 'CHECKPOINT' >/dev/null
    p0=$(pg_ticks)
    pgbench -n -M prepared -c 1 -t $((n / 100)) -f "$work/fanout-$variant.sql" >"$out/pgbench-fanout-$variant.txt" 2>&1 || true
    sleep 1   # pgbench's backend ends after pgbench: its CPU counts once the postmaster has reaped it
    p1=$(pg_ticks)
    done=$(q -c "SELECT count(*) FROM httpq.request WHERE channel LIKE 'fanout%'")
    latency=$(awk '/^latency average = / { print $4 }' "$out/pgbench-fanout-$variant.txt")
    [ "$done" = "$n" ] && [ -n "$latency" ] && echo "$((p1 - p0)) $done $latency" >>"$work/fanout-$variant"
    return 0
}

if runs fanout; then
    say "4d. fanout: $((drain_n / 2)) requests by publish to 100 subscriptions and by enqueue_many of 100, twice each"
    q -c "SELECT count(httpq.subscribe('fanout', '$url')) FROM generate_series(1, 100)" \
      -c "SELECT httpq.set_channel('fanout-many/' || i) FROM generate_series(1, 100) AS i" >/dev/null
    cat >"$work/fanout-publish.sql" <<SQL
\set i random(1, 1000000000)
SELECT count(*) FROM httpq.publish('fanout', bench.payload(:i), 'order.created');
SQL
    cat >"$work/fanout-many.sql" <<SQL
\set i random(1, 1000000000)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(:i), channel => 'fanout-many/' || k)
    FROM generate_series(1, 100) AS k));
SQL
    rm -f "$work"/fanout-publish "$work"/fanout-many
    for round in 1 2; do
        for variant in many publish; do fanout_round $variant; done
    done
    for variant in many publish; do
        if [ "$(wc -l <"$work/fanout-$variant" 2>/dev/null || echo 0)" = 2 ]; then
            read -r pt n ms < <(awk '{ p += $1; n += $2; l += $3 } END { print p, n, l / 2 }' "$work/fanout-$variant")
            record "fanout_${variant}_pg_cpu_us_per_req" "$(us_per "$pt" "$n")"
            record "fanout_${variant}_100_ms" "$(printf '%.2f' "$ms")"
        else
            note "fanout: the $variant rounds did not both finish"
        fi
    done
    q -c "DELETE FROM httpq.subscription WHERE topic = 'fanout'" -c "DELETE FROM httpq.topic WHERE name = 'fanout'" >/dev/null
    reset_queue >/dev/null
fi

# ---------------------------------------------------------------------------------------
# 5. Overload: arrivals at 1.25 × the drain rate (100 per transaction) while a worker
#    delivers, then the backlog they leave drains with no arrivals.

if runs overload; then
    if [ -n "$drain_rps" ] && reset_queue >/dev/null && start_worker overload; then
        offer=$((drain_rps * 5 / 4))
        say "5. overload: $offer/s offered for ${overload_s}s, then the tail drains"
        cat >"$work/overload.sql" <<SQL
\set b random(1, 10000000)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(:b * 100 + i), channel => 'overload')
    FROM generate_series(1, 100) AS i));
SQL
        q -c 'CHECKPOINT'
        s0=$(db_now)
        pgbench -n -M prepared -c 4 -j 2 -R $(((offer + 99) / 100)) -T $overload_s -f "$work/overload.sql" >"$out/pgbench-overload.txt" 2>&1 || true
        s1=$(db_now)
        backlog=$(q -c "SELECT count(*) FROM httpq.request WHERE channel = 'overload'")
        txs=$(pgbench_done <"$out/pgbench-overload.txt")
        record overload_offered_rps "$offer"
        [ -n "$txs" ] && record overload_arrival_rps "$(awk -v n="$txs" -v s="$overload_s" 'BEGIN { printf "%.0f", n * 100 / s }')"
        record overload_backlog_at_end "$backlog"
        # Delivered in the window after its first second (the worker meets the first arrivals).
        record overload_delivered_rps "$(q -c "
            SELECT round(count(*) / extract(epoch FROM '$s1'::timestamptz - '$s0'::timestamptz - interval '1 second'))
            FROM httpq.history WHERE channel = 'overload' AND state = 'delivered'
              AND finished_at > '$s0'::timestamptz + interval '1 second' AND finished_at <= '$s1'")"
        # The tail: what is delivered after arrivals stop, until the backlog is gone or for
        # ${tail_s}s at most (the rate of a longer tail is the same measurement, only longer).
        if [ "$backlog" -lt $((drain_rps / 2)) ]; then
            note "overload: only $backlog left waiting when arrivals stopped, under half a second of the drain rate: too few to time the tail drain"
        elif wait_drained overload $tail_s quiet || workers_alive; then
            s2=$(db_now)
            read -r tail_n tail_span left < <(q -F ' ' -c "
                SELECT count(*),
                       extract(epoch FROM CASE WHEN (SELECT count(*) FROM httpq.request WHERE channel = 'overload') = 0
                                               THEN max(finished_at) ELSE '$s2' END - '$s1'),
                       (SELECT count(*) FROM httpq.request WHERE channel = 'overload')
                FROM httpq.history WHERE channel = 'overload' AND state = 'delivered'
                  AND finished_at > '$s1' AND finished_at <= '$s2'")
            if [ "$tail_n" -gt 0 ]; then
                record overload_tail_n "$tail_n"
                record overload_tail_s "$(printf '%.2f' "$tail_span")"
                record overload_tail_rps "$(awk -v n="$tail_n" -v s="$tail_span" 'BEGIN { printf "%.0f", n / s }')"
                record overload_tail_left "$left"
            else
                note "overload: nothing was delivered in the ${tail_s}s after arrivals stopped"
            fi
        fi
        stop_workers
    elif [ -z "$drain_rps" ]; then
        note "overload: needs the drain rate of part 3, which is missing"
    fi
fi

# ---------------------------------------------------------------------------------------
# 6. Steady state: 1,000 requests/s, each httpq.enqueue its own transaction, from 4
#    sessions, delivered by one worker with its defaults to receiver.py; then the same
#    driver with a plain one-row INSERT, no worker.

if runs steady; then
    if reset_queue >/dev/null && start_worker steady; then
        say "6. steady: $steady_rate/s from $steady_sessions sessions for ${steady_s}s, enqueue to arrival"
        q -c 'CHECKPOINT'
        w0=$(workers_ticks)
        drive enqueue steady "$steady_s" 30
        worker_cpu steady $(($(workers_ticks) - w0))
        stop_workers
    fi
    say "6b. steady reference: a plain one-row INSERT per transaction, $steady_rate/s for ${steady_s}s"
    reset_queue >/dev/null
    q -c 'CHECKPOINT'
    drive plain steady_plain "$steady_s" 0
fi

# ---------------------------------------------------------------------------------------
# 7. The same steady arrivals while another session of the database holds a transaction
#    with an xid open.

if runs longtx; then
    if reset_queue >/dev/null && start_worker longtx; then
        say "7. long transaction: $steady_rate/s for ${hold_s}s while another session holds an xid"
        q -c 'CHECKPOINT'
        printf 'BEGIN;\nSELECT txid_current();\nSELECT pg_sleep(%s);\nCOMMIT;\n' $((hold_s + 180)) |
            PGAPPNAME=bench-holder psql -qXAt >/dev/null 2>&1 &
        holder_pid=$!
        background_pids+=("$holder_pid")
        held=
        for _ in $(seq 100); do
            held=$(q -c "SELECT backend_xid FROM pg_stat_activity WHERE application_name = 'bench-holder' AND backend_xid IS NOT NULL")
            [ -n "$held" ] && break
            sleep 0.1
        done
        if [ -n "$held" ]; then
            w0=$(workers_ticks)
            drive enqueue longtx "$hold_s" 60
            worker_cpu longtx $(($(workers_ticks) - w0))
            record longtx_held_s "$(q -c "SELECT round(extract(epoch FROM clock_timestamp() - xact_start)) FROM pg_stat_activity
                                           WHERE application_name = 'bench-holder' AND backend_xid IS NOT NULL")"
            q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench-holder'" >/dev/null
        else
            note "long transaction: the holding session did not start"
        fi
        wait "$holder_pid" 2>/dev/null || true
        stop_workers
    fi
fi

# ---------------------------------------------------------------------------------------
# 8. Footprint: 1,000 in flight against the sink that answers after 1 s.

if runs footprint; then
    if reset_queue >/dev/null && pause slow && q -c "SELECT bench.fill('slow', $slow_n, '$slow_url')" >/dev/null &&
        start_worker footprint --concurrency 1000 --channel-share 1000; then
        say "8. footprint: $slow_n requests, 1,000 in flight, each answered after 1 s"
        pid=${worker_pids[0]}
        record worker_rss_mib_idle "$(awk -v k="$(status_kib "$pid" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
        w0=$(ticks "$pid")
        resume slow >/dev/null
        if wait_drained slow $((60 + slow_n / 100)); then
            w1=$(ticks "$pid")
            delivered=$(q -c "SELECT count(*) FROM httpq.history WHERE channel = 'slow' AND state = 'delivered'")
            held=$(python3 -c "import json, urllib.request
print(json.load(urllib.request.urlopen('http://127.0.0.1:$slow_port/stats'))['held_max'])")
            record footprint_inflight_max "$held"
            record footprint_delivered "$delivered"
            record worker_rss_mib_1000_inflight "$(awk -v k="$(status_kib "$pid" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')"
            record worker_cpu_s_per_1000 "$(awk -v t=$((w1 - w0)) -v hz="$hz" -v n="$delivered" 'BEGIN { printf "%.3f", t / hz / n * 1000 }')"
        fi
        stop_workers
    fi
fi

# ---------------------------------------------------------------------------------------
# 9. Fairness and limits under load: 10 requests next to $big_n, and a channel limited
#    to 50 requests per second, all claimable at the same moment.

if runs fairness; then
    reset_queue >/dev/null
    pause big small limited
    q -c "SELECT httpq.set_channel('limited', rate_per_second => $limited_rate)" >/dev/null
    q -c "SELECT bench.fill('big', $big_n, '$url')" -c "SELECT bench.fill('limited', $limited_n, '$url')" \
      -c "SELECT bench.fill('small', 10, '$url')" -c 'VACUUM ANALYZE httpq.request' >/dev/null
    if start_worker fairness; then
        say "9. fairness: 10 next to $big_n; $limited_n at $limited_rate/s"
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
        stop_workers
    fi
    reset_queue >/dev/null
fi

# ---------------------------------------------------------------------------------------
# 10. Isolation: $isolation_channels healthy channels at $isolation_rate requests/s in all,
#    first alone, then beside a black-holed channel (every attempt times out) and a channel
#    limited to $throttled_rate/s whose destination answers 429: the healthy latency of both
#    runs and the limited channel's rate, measured in one run.

if runs isolation; then
    q -c "SELECT bench.loopback(VARIADIC ARRAY(
              SELECT tag || '-' || i FROM unnest('{isolation_base,isolation_bad}'::text[]) AS tag,
                                          generate_series(0, $isolation_channels - 1) AS i))" \
      -c "SELECT bench.loopback('black-hole', 'throttled')" \
      -c "SELECT httpq.set_channel('black-hole', timeout_ms => $hole_timeout_ms)" \
      -c "SELECT httpq.set_channel('throttled', rate_per_second => $throttled_rate)" >/dev/null
    if reset_queue >/dev/null && start_worker isolation-base; then
        say "10. isolation: $isolation_rate/s over $isolation_channels channels for ${isolation_s}s, alone"
        q -c 'CHECKPOINT'
        drive enqueue isolation_base "$isolation_s" 30 \
            --rate $isolation_rate --sessions $isolation_sessions --channels $isolation_channels
        stop_workers
    fi
    # Both bad channels have more waiting from the start than they can send in the run, so
    # they take what the worker gives them the whole time: the black hole its share of the
    # slots, the throttled channel its rate.
    reset_queue >/dev/null
    q -c "SELECT bench.fill('black-hole', $((hole_rate * isolation_s)), '$hole/black-hole')" \
      -c "SELECT bench.fill('throttled', $((throttled_rate * isolation_s * 2)), '$throttled/throttled')" \
      -c 'VACUUM ANALYZE httpq.request' -c 'CHECKPOINT' >/dev/null
    if start_worker isolation-bad; then
        say "10b. isolation: the same beside a black hole (${hole_timeout_ms} ms time-out) and a 429 channel at $throttled_rate/s"
        drive enqueue isolation_bad "$isolation_s" 30 \
            --rate $isolation_rate --sessions $isolation_sessions --channels $isolation_channels
        python3 -c "import json, urllib.request
s = json.load(urllib.request.urlopen('$hole/_stats'))
print('isolation_hole_attempts', s['accepted'])
print('isolation_hole_inflight_max', s['open_max'])" >>"$results" || note "isolation: the black hole did not answer /_stats"
        stop_workers
        python3 -c "import urllib.request; urllib.request.urlopen('$throttled/_flush').read()" ||
            note "isolation: the 429 sink did not answer /_flush"
        cp "$work/arrivals-429" "$out/isolation-429-arrivals.txt"
        # The throttled channel's attempts that reached its sink while the healthy requests
        # of this run arrived (first to last arrival), per second.
        lo= hi=
        read -r lo hi < <(awk '$2 ~ /^\/isolation_bad\// { if (!n++ || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
                               END { if (n > 1 && hi > lo) print lo, hi }' "$work/arrivals") || true
        if [ -n "$lo" ]; then
            read -r attempts rate < <(awk -v lo="$lo" -v hi="$hi" '$1 >= lo && $1 <= hi { n++ }
                                      END { printf "%d %.2f\n", n, n / (hi - lo) }' "$work/arrivals-429")
            record isolation_throttled_limit_rps $throttled_rate
            record isolation_throttled_attempts "$attempts"
            record isolation_throttled_window_s "$(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%.2f", b - a }')"
            record isolation_throttled_rps "$rate"
        else
            note "isolation: no healthy arrivals beside the bad channels, so no window for the throttled channel's rate"
        fi
    fi
    reset_queue >/dev/null
fi

# ---------------------------------------------------------------------------------------
# 11. Backlog: the cost of one claim of 100 as the backlog grows, no worker running.
#    Each claim is its own transaction, rolled back, so every claim meets the same
#    backlog; the figure is the median of the claim statement's round trip (psql \timing).

if runs backlog; then
    say "11. backlog: claim of 100 with ${backlogs[*]} waiting"
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
    psql -qX -c 'DROP DATABASE backlog'   # its millions of rows would only slow the checkpoints that follow
fi

# ---------------------------------------------------------------------------------------
# 12. History maintenance next to delivery: heartbeat and report latency alone, then while
#    httpq.maintain removes $maint_rows expired finished requests (maintenance.sh).

if runs maintenance; then
    say "12. maintenance: heartbeat and report latency while maintain removes $maint_rows finished requests"
    bash "$bench/maintenance.sh" "$maint_rows" "$results" "$url" "$script" ||
        note "the maintenance part failed (see the output above)"
fi

# ---------------------------------------------------------------------------------------
# 13. Soak (--soak): arrivals at half the drain rate, 10 per transaction, for $soak_min
#    minutes; each minute's deliveries and the size of the queue and history tables.

if [ $soak = 1 ] && runs soak; then
    soak_part_started=$(date +%s)
    if [ -n "$drain_rps" ] && reset_queue >/dev/null && start_worker soak; then
        rate=$((drain_rps / 2))
        say "13. soak: $rate/s for $soak_min minutes"
        cat >"$work/soak.sql" <<SQL
\set b random(1, 100000000)
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(:b * 10 + i), channel => 'soak')
    FROM generate_series(1, 10) AS i));
SQL
        q -c 'CHECKPOINT'
        s0=$(db_now)
        soak_started=$(date +%s)
        pgbench -n -M prepared -c 2 -j 2 -R $(((rate + 9) / 10)) -T $((soak_min * 60)) -f "$work/soak.sql" >"$out/pgbench-soak.txt" 2>&1 &
        soak_pid=$!
        background_pids+=("$soak_pid")
        sizes=(
            "pg_total_relation_size('httpq.request')"
            "(SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('httpq.history'))"
        )
        for m in $(seq "$soak_min"); do
            left=$((soak_started + 60 * m - $(date +%s)))
            [ "$left" -gt 0 ] && sleep "$left"
            read -r req_b hist_b < <(q -F ' ' -c "SELECT ${sizes[0]}, ${sizes[1]}")
            record "soak_minute_${m}_request_bytes" "$req_b"
            record "soak_minute_${m}_history_bytes" "$hist_b"
            record "soak_minute_${m}_worker_rss_mib" "$(awk -v k="$(status_kib "${worker_pids[0]}" VmRSS)" 'BEGIN { printf "%.1f", k / 1024 }')"
        done
        wait "$soak_pid" 2>/dev/null || true
        txs=$(pgbench_done <"$out/pgbench-soak.txt")
        record soak_minutes "$soak_min"
        record soak_offered_rps "$rate"
        [ -n "$txs" ] && record soak_arrival_rps "$(awk -v n="$txs" -v s=$((soak_min * 60)) 'BEGIN { printf "%.0f", n * 10 / s }')"
        record soak_backlog_at_end "$(q -c "SELECT count(*) FROM httpq.request WHERE channel = 'soak'")"
        q -F ' ' -c "SELECT m + 1, round(count(*) / 60.0)
                     FROM (SELECT floor(extract(epoch FROM finished_at - '$s0') / 60)::int AS m
                           FROM httpq.history WHERE channel = 'soak' AND state = 'delivered') d
                     WHERE m < $soak_min GROUP BY m ORDER BY m" |
            while read -r m rps; do record "soak_minute_${m}_delivered_rps" "$rps"; done
        stop_workers
    elif [ -z "$drain_rps" ]; then
        note "soak: needs the drain rate of part 3, which is missing"
    fi
    record soak_part_seconds $(($(date +%s) - soak_part_started))
fi

record bench_seconds $(($(date +%s) - started))

# ---------------------------------------------------------------------------------------
python3 "$bench/report.py" "$results" "$out/latest.json" "$mode" "$large" "$soak" "$only"
