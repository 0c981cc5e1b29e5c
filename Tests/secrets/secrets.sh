#!/usr/bin/env bash
# Proves, end to end with a real cluster, worker and HTTP server, what README "Secrets" and
# "Signing (Standard Webhooks)" promise:
#   1 bearer     a secret header is sent as `Authorization: Bearer <value>`
#   2 signed     a channel's signing key signs each attempt; the standardwebhooks package
#                verifies it, and webhook-id is the request's idempotency key
#   3 rotation   two keys: two signatures, each verifying alone; then the new key alone
#   4 closed     a worker with the wrong key sends nothing, says why in the attempt, and
#                burns no attempt; a worker with the right key then delivers
#   6 rekey      `httpq secret rekey` under a new first key; a worker with only the new key
#                still delivers and signs
#   5 no leak    (run last, over everything the others did) neither the secret header's value
#                nor the signing keys appear in the data directory (heap and WAL), the server
#                log (log_statement = all), pg_dump (plain and custom), any httpq view, the
#                CLI's output or the worker logs (trace level)
# The secret values reach the CLI only on standard input and the receiver only in a file;
# never on a command line.
#
#   secrets.sh HTTPQ_BINARY
#   SECRETS_DEADLINE=S   seconds any one wait may take (20)
#   SECRETS_KEEP=1       keep the work directory and the cluster, to look at afterwards
#
# Starts its own cluster (Tests/support/cluster.sh) and installs httpq in it as plain SQL
# (`httpq install --plain`). Needs python3, and the standardwebhooks package, which it
# installs from PyPI into a venv of its own when python3 lacks it. Traffic goes only to
# 127.0.0.1. Prints `secrets: N passed, N failed`; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/Tests/secrets
httpq=$(realpath "${1:?usage: secrets.sh HTTPQ_BINARY}")
checks=6
deadline=${SECRETS_DEADLINE:-20}      # seconds any one wait may take
umask 077

# Nothing from the caller's environment chooses the database, keys or worker settings.
unset DATABASE_URL PGSERVICE PGSERVICEFILE PGPASSWORD PGOPTIONS
for v in $(compgen -e | grep '^HTTPQ_' || true); do unset "$v"; done

work=$(mktemp -d /tmp/httpq-secrets.XXXXXX)
cluster=$(mktemp -d /tmp/httpq-secrets-pg.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash "$root/Tests/support/cluster.sh" stop "$cluster" || true
    if [ -n "${SECRETS_KEEP:-}" ]; then echo "secrets: kept $work and $cluster" >&2; else rm -rf "$work" "$cluster"; fi
}
trap cleanup EXIT

passed=0 failed=0
problems=()
problem() { problems+=("$*"); }
# Ends a check: ok when nothing went wrong in it, else FAILED with each problem.
finish() {
    local n=$1 what=$2
    if [ ${#problems[@]} = 0 ]; then
        passed=$((passed + 1))
        echo "secrets: ok $n $what"
    else
        failed=$((failed + 1))
        echo "secrets: FAILED $n $what"
        for p in "${problems[@]}"; do echo "secrets:     $p"; done
    fi
    problems=()
}
# A failure before the checks can run: every check fails.
die() {
    echo "secrets: $*" >&2
    echo "secrets: 0 passed, $checks failed"
    exit 1
}

# --- The cluster: its own, logging every statement ------------------------------------------
bin=$(pg_config --bindir)
bash Tests/support/cluster.sh start "$cluster" || die "the cluster did not start"
eval "$(bash Tests/support/cluster.sh env "$cluster")"
pglog=$cluster/postgres.log
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
sql -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null || die "cannot set log_statement"
for _ in $(seq 50); do [ "$(sql -c 'SHOW log_statement')" = all ] && break; sleep 0.1; done
[ "$(sql -c 'SHOW log_statement')" = all ] || die "log_statement did not become 'all'"
sql -c 'CREATE DATABASE httpq_secrets' || die "cannot create the database"
export PGDATABASE=httpq_secrets
"$httpq" install --plain > "$work/install.txt" 2>&1 || { cat "$work/install.txt"; die "httpq install --plain failed"; }
# A role in httpq.roles, so that view has a row to show.
sql -c 'CREATE ROLE httpq_secrets_worker' -c "SELECT httpq.grant_role('worker', 'httpq_secrets_worker')" >/dev/null

# --- Python with standardwebhooks, and the receiver ------------------------------------------
command -v python3 >/dev/null || die "needs python3"
py=python3
if ! python3 -c 'import standardwebhooks.webhooks' 2>/dev/null; then
    python3 -m venv "$work/venv" > "$work/venv.txt" 2>&1 ||
        { cat "$work/venv.txt"; die "python3 -m venv failed (Debian: apt-get install python3-venv)"; }
    "$work/venv/bin/pip" install -q --disable-pip-version-check standardwebhooks==1.1.0 > "$work/pip.txt" 2>&1 ||
        { cat "$work/pip.txt"; die "pip could not install standardwebhooks"; }
    py=$work/venv/bin/python
fi
"$py" -c 'from standardwebhooks.webhooks import Webhook' || die "standardwebhooks does not import"

# The values under test: made here, kept in shell variables and files, handed to processes
# only on standard input, in the environment or in a file.
hex() { od -An -v -tx1 | tr -d ' \n'; }
marker=plain-$(head -c 16 /dev/urandom | hex)
sign1=whsec_$(head -c 32 /dev/urandom | base64 -w0)
sign2=whsec_$(head -c 32 /dev/urandom | base64 -w0)
printf '{"sign-1": "%s", "sign-2": "%s"}\n' "$sign1" "$sign2" > "$work/keys.json"

received=$work/received.jsonl
"$py" "$here/receiver.py" serve "$work/port" "$received" "$work/keys.json" 600 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || die "the receiver did not start"
url=http://127.0.0.1:$(cat "$work/port")
got() { "$py" "$here/receiver.py" get "$received" "$@" 2>/dev/null || true; }
count() { "$py" "$here/receiver.py" count "$received" "$1"; }

# --- Keys and secrets -----------------------------------------------------------------------
mkdir "$work/cli"
new_key() {   # new_key VAR: a generated key in VAR, its id in VAR_id
    local text
    text=$("$httpq" secret generate-key 2> "$work/keyid") || die "httpq secret generate-key failed"
    printf -v "$1" '%s' "$text"
    printf -v "${1}_id" '%s' "$(sed -n 's/^key id //p' "$work/keyid")"
}
new_key key1; new_key key2; new_key wrong
# set_secret NAME VALUE: `httpq secret set` under key1, the value on standard input.
set_secret() {
    printf '%s' "$2" | HTTPQ_SECRET_KEY=$key1 "$httpq" secret set "$1" \
        > "$work/cli/set-$1.out" 2> "$work/cli/set-$1.err" ||
        { cat "$work/cli/set-$1.out" "$work/cli/set-$1.err"; die "httpq secret set $1 failed"; }
}
set_secret api-token "$marker"
set_secret sign-1 "$sign1"
set_secret sign-2 "$sign2"

loopback="allowed_networks => '{127.0.0.0/8}', backoff_base => '1 second', backoff_max => '1 second'"
sql -c "SELECT httpq.set_channel('secrets-plain', $loopback)" \
    -c "SELECT httpq.set_channel('secrets-signed', $loopback, signing_keys => '{sign-1}')" >/dev/null ||
    die "cannot set up the channels"
bearer='{"Authorization": {"secret": "api-token", "prefix": "Bearer "}}'

# --- Helpers --------------------------------------------------------------------------------
# start_worker NAME KEY: a worker holding KEY (in its environment), logging at trace level.
declare -A worker=()
start_worker() {
    HTTPQ_SECRET_KEY=$2 "$httpq" work --worker-id "secrets-$1" --lease 10 --poll-interval 0.2 \
        --log-level trace >> "$work/worker-$1.log" 2>&1 &
    worker[$1]=$!
    pids+=($!)
}
stop_worker() {
    local status=0
    kill -TERM "${worker[$1]}" 2>/dev/null || true
    wait "${worker[$1]}" || status=$?
    [ "$status" = 0 ] || problem "worker $1 exited with status $status (log: $(tail -3 "$work/worker-$1.log"))"
}
enqueue() {   # enqueue PATH CHANNEL HEADERS [MORE ARGUMENTS]: the new request's id
    sql -c "SELECT httpq.enqueue('$url$1', '{\"path\": \"$1\"}', headers => '$3', channel => '$2'${4:+, $4})"
}
# wait_until WHAT SQL: until SQL says t, within the deadline; else a problem naming WHAT.
wait_until() {
    for _ in $(seq $((deadline * 5))); do
        [ "$(sql -c "$2" 2>/dev/null)" = t ] && return 0
        sleep 0.2
    done
    problem "after ${deadline}s: not yet $1"
    return 1
}
delivered() {   # delivered ID PATH: the request ends delivered and the receiver has it
    [ -n "$1" ] || return 1
    if ! wait_until "request $1 delivered" "SELECT state = 'delivered' FROM httpq.requests WHERE id = $1"; then
        problem "request $1: $(sql -c "SELECT format('%s after %s attempts, last error: %s', state, attempts, last_error)
                                       FROM httpq.requests WHERE id = $1")"
        return 1
    fi
    [ "$(count "$2")" -ge 1 ] || { problem "request $1 is delivered but the receiver has nothing at $2"; return 1; }
}
bearer_sent() {   # bearer_sent ID PATH: the receiver got the secret as the Authorization header
    [ "$(got "$2" authorization)" = "Bearer $marker" ] ||
        problem "request $1 came without Authorization: Bearer <the secret's value> (got $(got "$2" authorization | sed 's/./x/g'))"
}
verified() {   # verified PATH KEY true|false
    local v
    v=$(got "$1" verified "$2")
    [ "$v" = "$3" ] || problem "$1: verification with $2 alone is '${v:-missing}', expected $3 ($(got "$1" errors "$2"))"
}
signatures() {   # signatures PATH N
    local n
    n=$(got "$1" signatures)
    [ "$n" = "$2" ] || problem "$1 carries ${n:-no} signatures, expected $2"
}

start_worker a "$key1"

# --- 1 bearer -------------------------------------------------------------------------------
id1=$(enqueue /c1 secrets-plain "$bearer") || problem "enqueue failed"
delivered "$id1" /c1 && bearer_sent "$id1" /c1
finish 1 "a secret header is sent as Authorization: Bearer <value> and the request is delivered"

# --- 2 signed -------------------------------------------------------------------------------
id2=$(enqueue /c2 secrets-signed '{}') || problem "enqueue failed"
if delivered "$id2" /c2; then
    signatures /c2 1
    verified /c2 sign-1 true
    idem=$(sql -c "SELECT idempotency_key FROM httpq.requests WHERE id = $id2" || true)
    [ -n "$idem" ] && [ "$(got /c2 webhook_id)" = "$idem" ] ||
        problem "webhook-id '$(got /c2 webhook_id)' is not the request's idempotency_key '$idem'"
fi
finish 2 "a signing channel's delivery verifies with standardwebhooks; webhook-id = idempotency_key"

# --- 3 rotation -----------------------------------------------------------------------------
sql -c "SELECT httpq.set_channel('secrets-signed', signing_keys => '{sign-1, sign-2}')" >/dev/null || problem "set_channel failed"
id3a=$(enqueue /c3-both secrets-signed '{}') || problem "enqueue failed"
if delivered "$id3a" /c3-both; then
    signatures /c3-both 2
    verified /c3-both sign-1 true
    verified /c3-both sign-2 true
fi
sql -c "SELECT httpq.set_channel('secrets-signed', signing_keys => '{sign-2}')" >/dev/null || problem "set_channel failed"
id3b=$(enqueue /c3-new secrets-signed '{}') || problem "enqueue failed"
if delivered "$id3b" /c3-new; then
    signatures /c3-new 1
    verified /c3-new sign-2 true
    verified /c3-new sign-1 false
fi
finish 3 "rotation: {sign-1, sign-2} verifies with each alone; {sign-2} verifies with sign-2 only"

# --- 4 closed -------------------------------------------------------------------------------
# One attempt allowed: an unsent attempt that counted would make the request dead.
stop_worker a
start_worker wrong "$wrong"
id4=$(enqueue /c4 secrets-plain "$bearer" 'max_attempts => 1') || problem "enqueue failed"
# (Repeats of one unsent reason share one log entry, so count attempts, not entries.)
if wait_until "two unsent attempts of request $id4 by the worker with the wrong key" \
    "SELECT attempts >= 2 FROM httpq.requests WHERE id = $id4 AND last_error IS NOT NULL"; then
    stop_worker wrong
    [ "$(count /c4)" = 0 ] || problem "the worker with the wrong key sent request $id4 anyway"
    error=$(sql -c "SELECT error FROM httpq.attempts WHERE id = $id4 ORDER BY attempt LIMIT 1")
    case $error in
        *api-token*"$key1_id"*) ;;
        *) problem "the attempt's error does not name the secret and its key $key1_id: $error" ;;
    esac
    [ "$(sql -c "SELECT count(*) FROM httpq.attempts WHERE id = $id4 AND (status IS NOT NULL OR error IS NULL)")" = 0 ] ||
        problem "an attempt of request $id4 has a status or no error"
    state=$(sql -c "SELECT state || ' ' || attempts FROM httpq.requests WHERE id = $id4")
    [ "${state%% *}" = waiting ] || problem "request $id4 (max_attempts 1) is '$state' after unsent attempts, not waiting"
    [ "$(sql -c "SELECT attempt_floor = attempt FROM httpq.request WHERE id = $id4")" = t ] ||
        problem "request $id4: the unsent attempts counted ($(sql -c "SELECT attempt, attempt_floor FROM httpq.request WHERE id = $id4"))"
    start_worker a "$key1"
    delivered "$id4" /c4 && bearer_sent "$id4" /c4
else
    stop_worker wrong
    start_worker a "$key1"
fi
finish 4 "fail closed: a worker with the wrong key sends nothing, says why, burns no attempt; the right key delivers"

# --- 6 rekey (before 5, so the leak check covers it too) ------------------------------------
HTTPQ_SECRET_KEY="$key2,$key1" "$httpq" secret rekey > "$work/cli/rekey.out" 2> "$work/cli/rekey.err" ||
    problem "httpq secret rekey failed: $(cat "$work/cli/rekey.out" "$work/cli/rekey.err")"
grep -q "^resealed 3 secrets under key $key2_id" "$work/cli/rekey.out" ||
    problem "rekey said: $(cat "$work/cli/rekey.out" "$work/cli/rekey.err")"
"$httpq" secret list > "$work/cli/list.out" 2>&1 || problem "httpq secret list failed"
[ "$(grep -c " $key2_id " "$work/cli/list.out")" = 3 ] && ! grep -q "$key1_id" "$work/cli/list.out" ||
    problem "httpq secret list does not show the three secrets under key $key2_id: $(cat "$work/cli/list.out")"
stop_worker a
start_worker new "$key2"
id6=$(enqueue /c6 secrets-plain "$bearer") || problem "enqueue failed"
delivered "$id6" /c6 && bearer_sent "$id6" /c6
id6s=$(enqueue /c6-signed secrets-signed '{}') || problem "enqueue failed"
delivered "$id6s" /c6-signed && verified /c6-signed sign-2 true
stop_worker new
finish 6 "rekey reseals under the new first key; a worker with only the new key delivers and signs"

# --- 5 no leak ------------------------------------------------------------------------------
# What to look for, per secret: its text, hex and base64 (and a signing key's bytes in hex
# and its base64 without the prefix).
mkdir "$work/needles" "$work/hay"
{ printf '%s\n' "$marker"; printf '%s' "$marker" | hex; echo; printf '%s' "$marker" | base64 -w0; echo; } \
    > "$work/needles/api-token"
for name in sign-1 sign-2; do
    text=$sign1; [ $name = sign-2 ] && text=$sign2
    { printf '%s\n' "${text#whsec_}"; printf '%s' "$text" | hex; echo
      printf '%s' "$text" | base64 -w0; echo; printf '%s' "${text#whsec_}" | base64 -d | hex; echo; } \
        > "$work/needles/$name"
done

sql -c CHECKPOINT || problem "CHECKPOINT failed"
hay=$work/hay
"$bin/pg_dump" > "$hay/pg_dump.sql" 2>&1 || problem "pg_dump failed"
"$bin/pg_dump" -Fc -Z0 > "$hay/pg_dump.custom" 2>&1 || problem "pg_dump -Fc failed"
"$bin/pg_restore" -f - "$hay/pg_dump.custom" > "$hay/pg_restore.sql" 2>&1 || problem "pg_restore failed"
for view in requests attempts responses channels stats secrets roles; do
    psql -X -c "SELECT * FROM httpq.$view" > "$hay/view-$view.txt" 2>&1 || problem "SELECT * FROM httpq.$view failed"
    [ "$(sql -c "SELECT count(*) > 0 FROM httpq.$view")" = t ] || problem "httpq.$view is empty: nothing to search"
done
"$httpq" secret list > "$hay/cli-secret-list.txt" 2>&1 || problem "httpq secret list failed"
"$httpq" secret list --json > "$hay/cli-secret-list-json.txt" 2>&1 || problem "httpq secret list --json failed"
"$httpq" status > "$hay/cli-status.txt" 2>&1 || problem "httpq status failed"
for id in $(sql -c "SELECT id FROM httpq.requests ORDER BY id"); do
    "$httpq" show "$id" >> "$hay/cli-show.txt" 2>&1 || problem "httpq show $id failed"
    "$httpq" show "$id" --json >> "$hay/cli-show-json.txt" 2>&1 || problem "httpq show $id --json failed"
done
cp "$work"/cli/* "$hay/"
for w in a wrong new; do cp "$work/worker-$w.log" "$hay/worker-$w.log"; done
cp "$pglog" "$hay/postgres.log"

# Each haystack holds what it must, so that finding nothing in it means something.
holds() {   # holds FILE TEXT
    grep -qaF -- "$2" "$1" || problem "$(basename "$1") does not contain '$2': nothing real to search"
}
holds "$hay/postgres.log" 'execute <unnamed>: SELECT httpq.set_secret('
holds "$hay/postgres.log" "parameters: \$1 = 'api-token'"
holds "$hay/postgres.log" 'execute <unnamed>: SELECT httpq.reseal_secret('
holds "$hay/postgres.log" 'statement: CHECKPOINT'
for f in pg_dump.sql pg_dump.custom pg_restore.sql; do holds "$hay/$f" secrets-signed; holds "$hay/$f" api-token; done
holds "$hay/view-requests.txt" delivered
holds "$hay/view-secrets.txt" api-token
holds "$hay/view-roles.txt" httpq_secrets_worker
holds "$hay/cli-secret-list.txt" "$key2_id"
holds "$hay/cli-status.txt" secrets-signed
holds "$hay/cli-show.txt" delivered
holds "$hay/set-api-token.out" 'stored secret api-token'
holds "$hay/rekey.out" resealed
for w in a wrong new; do holds "$hay/worker-$w.log" "request_id="; done
grep -rqaF api-token "$cluster/data/base" || problem "the data directory's heap does not contain 'api-token'"
grep -rqaF secrets-signed "$cluster/data/pg_wal" || problem "the WAL does not contain 'secrets-signed'"

# And the search finds the values where they are: the receiver got them all.
for name in api-token sign-1 sign-2; do
    file=$received; [ $name = api-token ] || file=$work/keys.json
    grep -qaF -f "$work/needles/$name" "$file" 2>/dev/null || problem "the search for $name does not even find it in $(basename "$file")"
done

# The search itself: every file of the data directory (heap, WAL, ...), and the rest.
for name in api-token sign-1 sign-2; do
    leaks=$(grep -rlaF -f "$work/needles/$name" "$cluster/data" "$hay" || true)
    [ -z "$leaks" ] || problem "the value of secret $name appears in: $(echo $leaks | sed "s|$cluster/||g; s|$hay/||g")"
done
files=$(find "$cluster/data" -type f | wc -l)
finish 5 "no value in $files data directory files, the server log, pg_dump (plain, custom), 7 views, the CLI output, 3 worker logs"

echo "secrets: $passed passed, $failed failed"
[ "$failed" = 0 ]
