#!/usr/bin/env bash
# Proves in a real browser (headless Chromium, its DOM after rendering) what README
# "httpq dashboard" promises, against a live cluster, worker and receiver:
#   1 overview   every channel with its state and counts: delivered, dead, a paused channel
#                with its waiting requests; the page reloads itself
#   2 channel    a channel's dead requests, newest first, with attempts and last error, 50 a
#                page; the older page holds the rest; every dead request shown once
#   3 request    a retried request: both attempts (503, then 200) and the response body
#   4 escaped    markup from a destination (response body, header, error) and in an ordering
#                key shows as text: the page holds no element made of it
#   5 headers    every page forbids scripts and sniffing; unknown paths, channels and requests
#                are 404 pages
#   6 tenancy    connected as a tenant's role it shows that tenant's channels and requests
#                only; as an ops role every channel, without response headers and bodies
#   7 database   a lost connection is replaced unseen; while the database is down a page is a
#                503 that says so; pages come back with the database
#   8 stop       SIGTERM ends the dashboard with status 0
# Every request is accounted for by id.
#
#   dashboard.sh HTTPQ_BINARY
#   DASHBOARD_DEADLINE=S   seconds any one wait may take (30)
#   DASHBOARD_KEEP=1       keep the work directory and the cluster, to look at afterwards
#   DASHBOARD_SCREENSHOT=F also save the overview, with more traffic under way, as the PNG F
#                          (the README's Tests/dashboard/screenshot.png)
#
# Starts its own cluster and installs httpq in it as plain SQL. Needs python3 and chromium
# (Tests/support/packages.sh installs them). Traffic goes only to 127.0.0.1. Prints
# `dashboard: N passed, N failed`; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/Tests/dashboard
httpq=$(realpath "${1:?usage: dashboard.sh HTTPQ_BINARY}")
checks=8
deadline=${DASHBOARD_DEADLINE:-30}
umask 077

unset DATABASE_URL PGSERVICE PGSERVICEFILE PGPASSWORD PGOPTIONS
for v in $(compgen -e | grep '^HTTPQ_' || true); do unset "$v"; done

work=$(mktemp -d /tmp/httpq-dashboard.XXXXXX)
cluster=$(mktemp -d /tmp/httpq-dashboard-pg.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash "$root/Tests/support/cluster.sh" stop "$cluster" || true
    if [ -n "${DASHBOARD_KEEP:-}" ]; then echo "dashboard: kept $work and $cluster" >&2; else rm -rf "$work" "$cluster"; fi
}
trap cleanup EXIT

passed=0 failed=0
problems=()
problem() { problems+=("$*"); }
finish() {
    local n=$1 what=$2
    if [ ${#problems[@]} = 0 ]; then
        passed=$((passed + 1))
        echo "dashboard: ok $n $what"
    else
        failed=$((failed + 1))
        echo "dashboard: FAILED $n $what"
        for p in "${problems[@]}"; do echo "dashboard:     $p"; done
    fi
    problems=()
}
die() {
    echo "dashboard: $*" >&2
    echo "dashboard: 0 passed, $checks failed"
    exit 1
}

command -v python3 >/dev/null || die "needs python3"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || die "needs chromium (Debian: apt-get install chromium)"

# --- The cluster, the receiver and the worker -----------------------------------------------
bash Tests/support/cluster.sh start "$cluster" || die "the cluster did not start"
eval "$(bash Tests/support/cluster.sh env "$cluster")"
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
sql -c 'CREATE DATABASE httpq_dashboard' || die "cannot create the database"
export PGDATABASE=httpq_dashboard
"$httpq" install --plain > "$work/install.txt" 2>&1 || { cat "$work/install.txt"; die "httpq install --plain failed"; }

python3 "$here/receiver.py" "$work/port" > "$work/receiver.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/receiver.log"; die "the receiver did not start"; }
base="http://127.0.0.1:$(cat "$work/port")"

hostile="<script>document.title='owned'</script><img src=x onerror=alert(1)>"
common="allowed_networks => '{127.0.0.0/8}', backoff_base => '1 second', backoff_max => '1 second'"
sql -c "SELECT httpq.set_channel('orders', $common)" \
    -c "SELECT httpq.set_channel('billing', $common)" \
    -c "SELECT httpq.set_channel('audit-log', $common)" \
    -c "SELECT httpq.set_channel('partner.acme', $common)" \
    -c "SELECT httpq.set_channel('partner.beta', $common, max_concurrency => 1, breaker_failures => 3, breaker_cooldown => '1 hour', breaker_cooldown_max => '1 hour')" \
    -c "SELECT httpq.pause('partner.acme')" > /dev/null || die "cannot set up the channels"

# ids NAME SQL: the ids SQL enqueues (one a line), kept in $work/NAME.
ids() { sql -c "$2" > "$work/$1" || die "cannot enqueue the $1 requests"; }
ids delivered "SELECT httpq.enqueue('$base/ok/orders/' || n, channel => 'orders', body => jsonb_build_object('order', n))
               FROM generate_series(1, 3) AS n"
ids flaky "SELECT httpq.enqueue('$base/flaky/orders/4', channel => 'orders', body => '{\"order\": 4}')"
ids declined "SELECT httpq.enqueue('$base/decline/billing/' || n, channel => 'billing') FROM generate_series(1, 52) AS n"
ids hostile "SELECT httpq.enqueue('$base/hostile/1', channel => 'audit-log', ordering_key => \$k\$$hostile\$k\$)"
ids waiting "SELECT httpq.enqueue('$base/ok/acme/' || n, channel => 'partner.acme') FROM generate_series(1, 2) AS n"
ids down "SELECT httpq.enqueue('$base/down/beta/' || n, channel => 'partner.beta') FROM generate_series(1, 2) AS n"

"$httpq" work --worker-id dashboard-check --poll-interval 0.2 > "$work/worker.log" 2>&1 &
pids+=($!)

# wait_until WHAT SQL: until SQL says t, within the deadline; else a problem naming WHAT.
wait_until() {
    for _ in $(seq $((deadline * 5))); do
        [ "$(sql -c "$2" 2>/dev/null)" = t ] && return 0
        sleep 0.2
    done
    problem "after ${deadline}s: not yet $1"
    return 1
}
in_list() { paste -sd, "$work/$1"; }
wait_until "every request finished" "
    SELECT count(*) FILTER (WHERE state = 'delivered' AND id IN ($(in_list delivered), $(in_list flaky))) = 4
       AND count(*) FILTER (WHERE state = 'dead' AND id IN ($(in_list declined), $(in_list hostile))) = 53
    FROM httpq.requests" || die "the requests did not finish: $(tail -5 "$work/worker.log")"
wait_until "the breaker of partner.beta open" "SELECT breaker_state = 'open' FROM httpq.stats WHERE channel = 'partner.beta'" ||
    die "the breaker did not open: $(tail -5 "$work/worker.log")"

# --- The dashboard and the browser ----------------------------------------------------------
"$httpq" dashboard --listen 127.0.0.1:0 --refresh 7 > "$work/dashboard.log" 2>&1 &
dashboard_pid=$!
pids+=($dashboard_pid)
for _ in $(seq 100); do grep -q '^httpq dashboard: serving ' "$work/dashboard.log" && break; sleep 0.1; done
site=$(sed -n 's|^httpq dashboard: serving \(http://[^ ]*\)/$|\1|p' "$work/dashboard.log")
[ -n "$site" ] || { cat "$work/dashboard.log"; die "the dashboard did not start"; }

# load NAME PATH: the DOM Chromium rendered from PATH, read by page.py into $work/NAME.txt.
load() {
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$work/chrome" \
        --dump-dom "$site$2" > "$work/$1.html" 2>> "$work/chromium.log" || problem "chromium could not load $2"
    python3 "$here/page.py" show "$work/$1.html" > "$work/$1.txt"
}
# shows NAME LINE: the page read into $work/NAME.txt has exactly this line.
shows() { grep -qxF -- "$2" "$work/$1.txt" || problem "$1 does not show: $2"; }
# fetch NAME PATH: the HTTP status and headers of PATH, into $work/NAME.head.
fetch() { python3 "$here/page.py" fetch "$site$1" > "$work/$2.head" 2>&1 || problem "cannot fetch $1"; }
status_is() { grep -qxF "status: $2" "$work/$1.head" || problem "$1: $(head -1 "$work/$1.head"), expected $2"; }

# --- 1 overview -----------------------------------------------------------------------------
load overview /
shows overview "h1: Channels"
shows overview "refresh: 7"
# channel|state|waiting|running|oldest|5 minutes: delivered|retried|dead|success|latency|last hour: the same|dead|last error
ms='([0-9]+|<1) / ([0-9]+|<1) / ([0-9]+|<1) ms'
grep -qE "^row: orders\|active\|0\|0\|\|4\|1\|0\|80\.0%\|$ms\|4\|1\|0\|80\.0%\|$ms\|0\|$" "$work/overview.txt" ||
    problem "overview does not show orders: 4 delivered, 1 retried, 80%: $(grep 'row: orders' "$work/overview.txt")"
shows overview "row: audit-log|active|0|0||0|0|1|0.0%||0|0|1|0.0%||1|HTTP 400"
shows overview "row: billing|active|0|0||0|0|52|0.0%||0|0|52|0.0%||52|HTTP 422"
grep -qE '^row: partner\.acme\|paused paused by role [a-z_]+\|2\|0\|[0-9]+s\|0\|0\|0\|\|\|0\|0\|0\|\|\|0\|$' "$work/overview.txt" ||
    problem "overview does not show partner.acme paused with 2 waiting: $(grep 'partner.acme' "$work/overview.txt")"
grep -qE '^row: partner\.beta\|breaker open, probe in [0-9]+m [0-9]+s 3 consecutive failures, last: HTTP 503 from request [0-9]+\|2\|0\|[0-9]+s\|0\|3\|0\|0\.0%\|\|0\|3\|0\|0\.0%\|\|0\|$' "$work/overview.txt" ||
    problem "overview does not show partner.beta's open breaker: $(grep 'partner.beta' "$work/overview.txt")"
shows overview "link: billing -> /channels/billing"
finish 1 "overview: every channel, its state (paused, breaker open, and why), counts now, the last 5 minutes and hour; reloads itself"

# --- 2 channel ------------------------------------------------------------------------------
sql -c "SELECT id FROM httpq.requests WHERE channel = 'billing' AND state = 'dead' ORDER BY finished_at DESC, id DESC" \
    > "$work/newest-first"
load billing /channels/billing
shows billing "h1: billing active"
shows billing "refresh: 7"
shows billing "field: max_attempts = $(sql -c "SELECT max_attempts FROM httpq.channels WHERE channel = 'billing'")"
grep -oE '^row: [0-9]+\|[0-9-]+ [0-9:]+ [A-Z]+\|1\|422\|HTTP 422\|POST http://127\.0\.0\.1:[0-9]+/decline/billing/[0-9]+$' \
    "$work/billing.txt" | cut -d' ' -f2 | cut -d'|' -f1 > "$work/page1"
last=$(sed -n 50p "$work/newest-first")
shows billing "link: older -> /channels/billing?before=$last"
load billing2 "/channels/billing?before=$last"
grep -oE '^row: [0-9]+\|.*\|HTTP 422\|POST ' "$work/billing2.txt" | cut -d' ' -f2 | cut -d'|' -f1 > "$work/page2"
shows billing2 "link: newest -> /channels/billing"
grep -q '^link: older' "$work/billing2.txt" && problem "the last page links to an older one"
[ "$(cat "$work/page1" "$work/page2")" = "$(cat "$work/newest-first")" ] ||
    problem "pages 1 and 2 do not hold the dead requests newest first: $(wc -l < "$work/page1") + $(wc -l < "$work/page2") rows"
[ "$(sort -n "$work/page1" "$work/page2")" = "$(sort -n "$work/declined")" ] ||
    problem "the pages do not hold each declined request once"
load beta /channels/partner.beta
grep -qE '^h1: partner\.beta breaker open, probe in [0-9]+m [0-9]+s 3 consecutive failures, last: HTTP 503 from request [0-9]+$' \
    "$work/beta.txt" || problem "partner.beta's page does not show its open breaker: $(grep '^h1' "$work/beta.txt")"
grep -qE "^row: last 5 minutes\|0\|3\|0\|0\.0%\|\|$ms$" "$work/beta.txt" ||
    problem "partner.beta's page does not show 3 retried, none delivered: $(grep '^row: last' "$work/beta.txt")"
load orders /channels/orders
grep -qE "^row: last 5 minutes\|4\|1\|0\|80\.0%\|$ms\|$ms$" "$work/orders.txt" ||
    problem "orders' page does not show its outcomes: $(grep '^row: last' "$work/orders.txt")"
finish 2 "channel: state and why, outcomes by period, dead requests newest first with attempts and last error, 50 a page; settings"

# --- 3 request ------------------------------------------------------------------------------
flaky=$(cat "$work/flaky")
load request "/requests/$flaky"
shows request "h1: Request $flaky delivered"
shows request "link: orders -> /channels/orders"
grep -qE '^row: 1\|[0-9-]+ [0-9:]+ [A-Z]+\|dashboard-check\|503\|\|[0-9]+$' "$work/request.txt" ||
    problem "request does not show attempt 1 with 503"
grep -qE '^row: 2\|[0-9-]+ [0-9:]+ [A-Z]+\|dashboard-check\|200\|\|[0-9]+$' "$work/request.txt" ||
    problem "request does not show attempt 2 with 200"
shows request "field: status = 200"
shows request "field: content-type = application/json"
shows request 'pre: {"received": "/flaky/orders/4"}'
shows request "field: url = $base/flaky/orders/4"
finish 3 "request: both attempts (503, then 200) and the response's status, headers and body"

# --- 4 escaped ------------------------------------------------------------------------------
id=$(cat "$work/hostile")
load hostile "/requests/$id"
shows hostile "h1: Request $id dead"
shows hostile "pre: $hostile"
shows hostile "field: x-note = $hostile"
shows hostile "field: ordering_key = $hostile"
shows hostile "title: request $id · httpq"
load audit /channels/audit-log
shows audit "title: audit-log · httpq"
for page in hostile audit overview billing request; do
    grep -q '^element: ' "$work/$page.txt" && problem "$page holds elements: $(grep '^element: ' "$work/$page.txt" | sort -u | paste -sd' ')"
done
finish 4 "escaped: markup from a destination and in an ordering key shows as text, makes no element"

# --- 5 headers ------------------------------------------------------------------------------
for path in / /channels/billing "/requests/$flaky"; do
    fetch "$path" page
    status_is page 200
    grep -qxF "header: content-security-policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" \
        "$work/page.head" || problem "$path: no Content-Security-Policy"
    grep -qxF "header: x-content-type-options: nosniff" "$work/page.head" || problem "$path: no nosniff"
    grep -qxF "header: content-type: text/html; charset=utf-8" "$work/page.head" || problem "$path: not text/html"
done
fetch /nothing/here nopath; status_is nopath 404
fetch /channels/no-such-channel nochannel; status_is nochannel 404
fetch /requests/999999999 norequest; status_is norequest 404
fetch /requests/abc badrequest; status_is badrequest 404
fetch "/channels/billing?before=x" badpage; status_is badpage 400
load missing /channels/no-such-channel
shows missing "h1: no such channel"
finish 5 "headers: Content-Security-Policy and nosniff on every page; 404 for unknown paths, channels, requests"

# --- 6 tenancy ------------------------------------------------------------------------------
# The same pages through a tenant's role and through an ops role: what the views let each see.
sql -c "CREATE ROLE billing_app LOGIN" -c "CREATE ROLE oncall LOGIN" \
    -c "SELECT httpq.grant_role('app', 'billing_app')" -c "SELECT httpq.grant_role('ops', 'oncall')" \
    -c "SELECT httpq.set_channel('billing', owner => 'billing_app')" > /dev/null || die "cannot create the roles"
owner_site=$site
# serve_as ROLE: another dashboard, connected as ROLE; its pages become $site. stop_serving
# ends it, so that check 7 finds the first dashboard's connection alone.
serve_as() {
    PGUSER=$1 "$httpq" dashboard --listen 127.0.0.1:0 > "$work/dashboard-$1.log" 2>&1 &
    served_pid=$!
    pids+=($served_pid)
    for _ in $(seq 100); do grep -q '^httpq dashboard: serving ' "$work/dashboard-$1.log" && break; sleep 0.1; done
    site=$(sed -n 's|^httpq dashboard: serving \(http://[^ ]*\)/$|\1|p' "$work/dashboard-$1.log")
    [ -n "$site" ] || { cat "$work/dashboard-$1.log"; die "the dashboard as $1 did not start"; }
}
stop_serving() { kill "$served_pid" 2>/dev/null || true; wait "$served_pid" 2>/dev/null || true; }
declined_id=$(head -1 "$work/declined")
serve_as billing_app
# channels NAME: the channels the overview read into $work/NAME.txt lists, one line.
channels() { grep -E '^row: [^|]+\|(active|paused|breaker)' "$work/$1.txt" | cut -d'|' -f1 | cut -c6- | paste -sd' '; }
load tenant /
[ "$(channels tenant)" = "billing" ] || problem "as billing_app the overview lists: $(channels tenant)"
shows tenant "row: billing|active|0|0||0|0|52|0.0%||0|0|52|0.0%||52|HTTP 422"
load tenant-request "/requests/$declined_id"
shows tenant-request "field: content-type = application/json"
shows tenant-request "pre: {\"error\": \"card declined\", \"path\": \"/decline/billing/1\"}"
fetch /channels/orders tenant-orders; status_is tenant-orders 404
fetch "/requests/$flaky" tenant-flaky; status_is tenant-flaky 404
stop_serving
serve_as oncall
load ops /
[ "$(channels ops)" = "$(channels overview)" ] || problem "as oncall the overview lists: $(channels ops)"
[ "$(channels overview | wc -w)" = 5 ] || problem "the overview lists: $(channels overview)"
load ops-request "/requests/$declined_id"
shows ops-request "h1: Request $declined_id dead"
shows ops-request "pre: —"
grep -q '^field: content-type' "$work/ops-request.txt" && problem "as oncall a tenant's response headers show"
stop_serving
site=$owner_site
finish 6 "tenancy: a tenant's role sees its own channels and requests only; an ops role every channel, no response headers or bodies"

# --- The README's screenshot, when asked ----------------------------------------------------
# More channels with traffic under way: slow answers for latencies, a few retries and deaths,
# requests still waiting behind a concurrency limit when the browser takes the picture.
if [ -n "${DASHBOARD_SCREENSHOT:-}" ]; then
    sql -c "SELECT httpq.set_channel(c, $common, max_concurrency => 2)
            FROM unnest('{crm-sync,notifications,search-index}'::text[]) AS c" \
        -c "SELECT httpq.enqueue('$base/' || p || '/' || c || '/' || n, channel => c)
            FROM unnest('{crm-sync,notifications,search-index}'::text[]) AS c,
                 generate_series(1, 60) AS n,
                 LATERAL (SELECT CASE WHEN n % 13 = 0 THEN 'decline' WHEN n % 7 = 0 THEN 'flaky'
                                      ELSE 'slow' END) AS k(p)" > /dev/null ||
        die "cannot enqueue the screenshot's requests"
    sleep 4
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/chrome" \
        --window-size=1760,640 --screenshot="$(realpath -m "$DASHBOARD_SCREENSHOT")" "$site/" \
        2>> "$work/chromium.log" || die "chromium could not take the screenshot"
    echo "dashboard: screenshot in $DASHBOARD_SCREENSHOT"
fi

# --- 7 database -----------------------------------------------------------------------------
# The first dashboard's connection, as the owner (those of check 6 may linger a moment).
mine="application_name = 'httpq dashboard' AND usename = current_user"
[ "$(sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE $mine")" = 1 ] ||
    problem "the dashboard does not hold one connection named 'httpq dashboard'"
fetch / reconnected; status_is reconnected 200
[ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE $mine")" = 1 ] ||
    problem "the dashboard did not connect again"
bash Tests/support/cluster.sh stop "$cluster"
fetch / down; status_is down 503
load down /
shows down "h1: database unavailable"
bash Tests/support/cluster.sh start "$cluster" || die "the cluster did not start again"
fetch / back; status_is back 200
kill -0 "$dashboard_pid" 2>/dev/null || problem "the dashboard exited"
finish 7 "database: a lost connection is replaced unseen; a database that is down is a 503 page; then pages come back"

# --- 8 stop ---------------------------------------------------------------------------------
kill -TERM "$dashboard_pid"
code=
for _ in $(seq $((deadline * 5))); do
    kill -0 "$dashboard_pid" 2>/dev/null || { wait "$dashboard_pid" && code=0 || code=$?; break; }
    sleep 0.2
done
[ "$code" = 0 ] || problem "after SIGTERM the dashboard ${code:+exited with status $code}${code:-still runs}"
finish 8 "stop: SIGTERM ends the dashboard with status 0"

echo "dashboard: $passed passed, $failed failed"
[ "$failed" = 0 ]
