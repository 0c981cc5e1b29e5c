#!/usr/bin/env bash
# Part of `make bench`: what history maintenance costs delivery. A worker's heartbeat and
# report statements, timed one by one on their own connection, first alone and then while
# httpq.maintain removes a large expired history on another connection (called in a loop
# while it says "more", as the worker's maintenance connection does), in one run.
#
#   maintenance.sh ROWS RESULTS URL SCRIPT
#
# ROWS finished requests are expired: half in three day partitions past the default 7-day
# retention (dropped whole), half today in a channel keeping 1 minute (trimmed in slices of
# 10,000). Each loop turn of the delivery side enqueues 10 requests, claims them, extends
# their leases (heartbeat) and reports them delivered. Runs in a database of its own on
# the cluster PG* names, with httpq installed from SCRIPT (the generated
# extension/httpq--<version>.sql, run as a plain script); appends `key value` lines to
# RESULTS (see report.py).
set -euo pipefail
usage="usage: maintenance.sh ROWS RESULTS URL SCRIPT"
rows=${1:?$usage}
results=${2:?$usage}
url=${3:?$usage}
script=${4:?$usage}
here=$(cd "$(dirname "$0")" && pwd)
db=maintenance
work=$(mktemp -d /tmp/httpq-maintenance.XXXXXX)
loop_pid=
cleanup() {
    [ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null && wait "$loop_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
record() { echo "$1 $2" >>"$results"; }
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

psql -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q -f "$script" >/dev/null
q -f "$here/setup.sql" >/dev/null

# The days ahead, and three days past the retention, then the expired rows, shaped as
# reports leave them (a JSON body, headers, a one-attempt log).
say "maintenance: $rows expired finished requests"
q -c "SELECT httpq.maintain()" -c "SELECT httpq.maintain()" >/dev/null
q -c "SELECT httpq._history_add_day(date_trunc('day', now(), 'UTC') - d * interval '24 hours', 0)
      FROM generate_series(8, 10) AS d" >/dev/null
q -c "SELECT httpq.set_channel('short', retention => '1 minute')" >/dev/null
q -c "SELECT httpq.set_channel('old')" >/dev/null
q -c "INSERT INTO httpq.history (id, channel, state, priority, run_at, attempt, attempt_floor, method, url, headers,
                                 body, idempotency_key, created_at, finished_at, last_status, log)
      SELECT 1000000000000 + g, c.channel, 'delivered', 0, f.at, 1, 0, 'POST', '$url',
             jsonb_build_object('Content-Type', 'application/json', 'Idempotency-Key', k.key),
             convert_to(bench.payload(g)::text, 'UTF8'), k.key, f.at, f.at, 200,
             jsonb_build_array(jsonb_build_object('attempt', 1, 'at', f.at, 'worker', 'bench', 'status', 200))
      FROM generate_series(1, $rows) AS g
      CROSS JOIN LATERAL (SELECT CASE WHEN g % 2 = 0 THEN 'old' ELSE 'short' END AS channel) AS c
      CROSS JOIN LATERAL (SELECT CASE WHEN g % 2 = 0
                                      THEN date_trunc('day', now(), 'UTC') - (8 + g % 3) * interval '24 hours'
                                           + (g % 86400) * interval '1 second'
                                      ELSE now() - interval '1 hour' END AS at) AS f
      CROSS JOIN LATERAL (SELECT gen_random_uuid()::text) AS k(key)" \
  -c 'VACUUM ANALYZE httpq.history' -c 'CHECKPOINT'

# One turn of the delivery side, tagged so each "Time:" line can be told apart.
turn() {
    cat <<SQL
\\echo enqueue
SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request('$url', bench.payload(i), channel => 'hot') FROM generate_series(1, 10) AS i));
\\echo claim
SELECT array_agg(id) AS ids, array_agg(attempt) AS attempts FROM httpq.claim('bench', 10, '{hot}') \\gset
\\echo heartbeat
SELECT httpq.heartbeat('bench', :'ids', :'attempts');
\\echo report
SELECT httpq.report('bench', (SELECT jsonb_agg(jsonb_build_object('id', i, 'attempt', a, 'status', 200))
                              FROM unnest(:'ids'::bigint[], :'attempts'::integer[]) AS u(i, a)));
SQL
}
# Runs turns in batches of 50 until the file $1 exists (or, with $2, for $2 batches),
# appending the tagged timings to $3.
delivery() {
    local stop=$1 batches=$2 out=$3 n=0
    { echo '\timing on'; for _ in $(seq 50); do turn; done; } >"$work/turns.sql"
    while [ ! -e "$stop" ]; do
        q -f "$work/turns.sql" >>"$out"
        n=$((n + 1))
        [ -n "$batches" ] && [ "$n" -ge "$batches" ] && break
    done
}
# p50, p99 and max in ms of one statement's timings.
stats() {
    awk -v tag="$1" '/^(enqueue|claim|heartbeat|report)$/ { t = $1 } /^Time: / && t == tag { print $2 }' "$2" |
        sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%d %.3f %.3f %.3f\n", NR, a[int(NR * 0.50 + 0.5)], a[int(NR * 0.99 + 0.5)], a[NR] }'
}

say "maintenance: heartbeat and report alone"
delivery "$work/never" 20 "$work/alone.txt"

say "maintenance: heartbeat and report while maintain removes the history"
delivery "$work/stop" "" "$work/during.txt" &
loop_pid=$!
sleep 1
calls=0 deleted=0 dropped=0 slowest=0
started=$(date +%s%N)
while :; do
    t0=$(date +%s%N)
    out=$(q -c "SELECT httpq.maintain()")
    t1=$(date +%s%N)
    calls=$((calls + 1))
    ms=$(((t1 - t0) / 1000000))
    [ "$ms" -gt "$slowest" ] && slowest=$ms
    read -r d p more < <(python3 -c 'import json, sys; m = json.loads(sys.argv[1])
print(m.get("rows_deleted", 0), m.get("partitions_dropped", 0), str(m.get("more", False)).lower())' "$out")
    deleted=$((deleted + d)) dropped=$((dropped + p))
    if [ "$more" != true ] || [ "$calls" -ge 10000 ]; then break; fi
done
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
sleep 1
touch "$work/stop"
wait "$loop_pid" || true
loop_pid=

left=$(q -c "SELECT count(*) FROM httpq.history WHERE channel IN ('old', 'short')")
record maint_rows "$rows"
record maint_calls "$calls"
record maint_seconds "$(awk -v ms="$elapsed_ms" 'BEGIN { printf "%.2f", ms / 1000 }')"
record maint_call_max_ms "$slowest"
record maint_rows_deleted "$deleted"
record maint_partitions_dropped "$dropped"
record maint_rows_left "$left"
for phase in alone during; do
    for stmt in heartbeat report; do
        read -r n p50 p99 max < <(stats "$stmt" "$work/$phase.txt")
        record "maint_${stmt}_${phase}_n" "$n"
        record "maint_${stmt}_${phase}_p50_ms" "$p50"
        record "maint_${stmt}_${phase}_p99_ms" "$p99"
        record "maint_${stmt}_${phase}_max_ms" "$max"
    done
done
psql -qX -c "DROP DATABASE $db"
