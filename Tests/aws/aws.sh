#!/usr/bin/env bash
# Proves, end to end with a real cluster, worker and a local AWS-compatible server (moto in
# server mode, its SigV4 signature checks on), what README "AWS destinations" promises:
#   1 sqs        enqueue_sqs: the message arrives in the queue with its body and attributes
#                (String, Number, Binary); the request is delivered with SQS's MessageId
#   2 fifo       three messages of one ordering key reach a FIFO queue in order, in the
#                group of the ordering key, deduplicated by each request's idempotency key
#   3 sns        enqueue_sns: the message reaches the topic's SQS subscriber with its
#                subject and attributes
#   4 refused    a channel whose secret holds a wrong secret key: moto refuses the
#                signature, and the request is dead after one attempt with AWS's code and
#                message; nothing reaches the queue
#   5 throttled  answered ThrottlingException twice (a proxy in front of moto), the request
#                is retried and delivered on its third attempt, each refusal recorded
# Every request is accounted for by id. The credentials reach the CLI only on standard input.
#
#   aws.sh HTTPQ_BINARY
#   AWS_DEADLINE=S   seconds any one wait may take (30)
#   AWS_KEEP=1       keep the work directory and the cluster, to look at afterwards
#
# Starts its own cluster and installs httpq in it as plain SQL. Needs python3 with venv, and
# installs moto (server mode) and boto3 from PyPI into a venv of its own. Traffic goes only
# to 127.0.0.1. Prints `aws: N passed, N failed`; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/Tests/aws
httpq=$(realpath "${1:?usage: aws.sh HTTPQ_BINARY}")
checks=5
deadline=${AWS_DEADLINE:-30}
umask 077

unset DATABASE_URL PGSERVICE PGSERVICEFILE PGPASSWORD PGOPTIONS
for v in $(compgen -e | grep '^HTTPQ_\|^AWS_' | grep -v '^AWS_DEADLINE$\|^AWS_KEEP$' || true); do unset "$v"; done

work=$(mktemp -d /tmp/httpq-aws.XXXXXX)
cluster=$(mktemp -d /tmp/httpq-aws-pg.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash "$root/Tests/support/cluster.sh" stop "$cluster" || true
    if [ -n "${AWS_KEEP:-}" ]; then echo "aws: kept $work and $cluster" >&2; else rm -rf "$work" "$cluster"; fi
}
trap cleanup EXIT

passed=0 failed=0
problems=()
problem() { problems+=("$*"); }
finish() {
    local n=$1 what=$2
    if [ ${#problems[@]} = 0 ]; then
        passed=$((passed + 1))
        echo "aws: ok $n $what"
    else
        failed=$((failed + 1))
        echo "aws: FAILED $n $what"
        for p in "${problems[@]}"; do echo "aws:     $p"; done
    fi
    problems=()
}
die() {
    echo "aws: $*" >&2
    echo "aws: 0 passed, $checks failed"
    exit 1
}

# --- The cluster ----------------------------------------------------------------------------
bash Tests/support/cluster.sh start "$cluster" || die "the cluster did not start"
eval "$(bash Tests/support/cluster.sh env "$cluster")"
sql() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
sql -c 'CREATE DATABASE httpq_aws' || die "cannot create the database"
export PGDATABASE=httpq_aws
"$httpq" install --plain > "$work/install.txt" 2>&1 || { cat "$work/install.txt"; die "httpq install --plain failed"; }

# --- moto and boto3 -------------------------------------------------------------------------
command -v python3 >/dev/null || die "needs python3"
python3 -m venv "$work/venv" > "$work/venv.txt" 2>&1 ||
    { cat "$work/venv.txt"; die "python3 -m venv failed (Debian: apt-get install python3-venv)"; }
"$work/venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.5' 'boto3==1.44.8' > "$work/pip.txt" 2>&1 ||
    { cat "$work/pip.txt"; die "pip could not install moto and boto3"; }
py=$work/venv/bin/python
"$py" "$here/aws.py" serve "$work" > "$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$work/aws.json" ] && break; sleep 0.1; done
[ -s "$work/aws.json" ] || { tail -20 "$work/moto.log"; die "moto did not start"; }
field() { "$py" -c "import json, sys; print(eval('x' + sys.argv[1], {'x': json.load(open('$work/aws.json'))}))" "$1"; }
endpoint=$(field "['endpoint']")
proxy=$(field "['proxy']")
orders=$(field "['queues']['orders']")
fifo=$(field "['queues']['fifo']")
topic=$(field "['topic']")
receive() { "$py" "$here/aws.py" receive "$work" "$@"; }

# --- Keys, secrets and channels -------------------------------------------------------------
key=$("$httpq" secret generate-key 2>/dev/null) || die "httpq secret generate-key failed"
set_secret() {   # set_secret NAME VALUE, the value on standard input
    printf '%s' "$2" | HTTPQ_SECRET_KEY=$key "$httpq" secret set "$1" > "$work/set-$1.txt" 2>&1 ||
        { cat "$work/set-$1.txt"; die "httpq secret set $1 failed"; }
}
set_secret aws-right "$(field "['access_key_id']"):$(field "['secret_access_key']")"
set_secret aws-wrong "$(field "['access_key_id']"):wrong$(field "['secret_access_key']")"
common="allowed_networks => '{127.0.0.0/8}', backoff_base => '1 second', backoff_max => '1 second'"
sql -c "SELECT httpq.set_channel('sqs', $common, aws_sigv4 => 'aws:amz:us-east-1:sqs', aws_credentials => 'aws-right')" \
    -c "SELECT httpq.set_channel('sns', $common, aws_sigv4 => 'aws:amz:us-east-1:sns', aws_credentials => 'aws-right')" \
    -c "SELECT httpq.set_channel('sqs-wrong', $common, aws_sigv4 => 'aws:amz:us-east-1:sqs', aws_credentials => 'aws-wrong')" \
    > /dev/null || die "cannot set up the channels"

HTTPQ_SECRET_KEY=$key "$httpq" work --worker-id aws --poll-interval 0.2 --log-level debug > "$work/worker.log" 2>&1 &
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
# ends ID STATE: the request ends in STATE; else a problem with where it is.
ends() {
    [ -n "$1" ] || { problem "no request id"; return 1; }
    wait_until "request $1 $2" "SELECT state = '$2' FROM httpq.requests WHERE id = $1" && return 0
    problem "request $1: $(sql -c "SELECT format('%s after %s attempts, last error: %s', state, attempts, last_error)
                                   FROM httpq.requests WHERE id = $1")"
    return 1
}
expect() {   # expect WHAT GOT WANTED
    [ "$2" = "$3" ] || problem "$1: got '$2', expected '$3'"
}

# --- 1 sqs ----------------------------------------------------------------------------------
id1=$(sql -c "SELECT httpq.enqueue_sqs('$orders', 'order 7 paid', channel => 'sqs',
                  attributes => '{\"event\": \"order.paid\", \"amount\": 12.5, \"raw\": {\"DataType\": \"Binary\", \"BinaryValue\": \"AAEC\"}}')") ||
    problem "enqueue_sqs failed"
if ends "$id1" delivered; then
    expect "request $1 response" "$(sql -c "SELECT convert_from(body, 'UTF8')::jsonb ? 'MessageId' FROM httpq.responses WHERE id = $id1")" t
    expect "queue orders" "$(receive orders 1)" \
        '{"attributes": {"amount": "12.5", "event": "order.paid", "raw": "binary"}, "body": "order 7 paid", "dedupe": null, "group": null}'
fi
finish 1 "enqueue_sqs: the message arrives with its body and attributes; the request is delivered"

# --- 2 fifo ---------------------------------------------------------------------------------
ids2=()
for n in 1 2 3; do
    ids2+=("$(sql -c "SELECT httpq.enqueue_sqs('$fifo', 'step $n', ordering_key => 'customer-7', channel => 'sqs')")")
done
for id in "${ids2[@]}"; do ends "$id" delivered || true; done
keys=$(sql -c "SELECT string_agg(idempotency_key, ' ' ORDER BY id) FROM httpq.requests WHERE id IN ($(IFS=,; echo "${ids2[*]}"))")
read -r k1 k2 k3 <<< "$keys"
expect "queue orders.fifo" "$(receive fifo 3)" "$(printf '%s\n' \
    "{\"attributes\": {}, \"body\": \"step 1\", \"dedupe\": \"$k1\", \"group\": \"customer-7\"}" \
    "{\"attributes\": {}, \"body\": \"step 2\", \"dedupe\": \"$k2\", \"group\": \"customer-7\"}" \
    "{\"attributes\": {}, \"body\": \"step 3\", \"dedupe\": \"$k3\", \"group\": \"customer-7\"}")"
finish 2 "a FIFO queue gets one ordering key's messages in order, grouped by it, deduplicated by idempotency key"

# --- 3 sns ----------------------------------------------------------------------------------
id3=$(sql -c "SELECT httpq.enqueue_sns('$topic', 'order 7 shipped', subject => 'Order 7', endpoint => '$endpoint/',
                  attributes => '{\"event\": \"order.shipped\"}', channel => 'sns')") || problem "enqueue_sns failed"
if ends "$id3" delivered; then
    envelope=$(receive events 1)
    expect "the SNS envelope in queue events" "$(printf '%s' "$envelope" | "$py" -c '
import json, sys
m = json.loads(json.loads(sys.stdin.read())["body"])
print(m["Type"], m["Message"], m["Subject"], m["MessageAttributes"]["event"]["Value"], sep="|")')" \
        "Notification|order 7 shipped|Order 7|order.shipped"
fi
finish 3 "enqueue_sns: the message reaches the topic's subscriber with its subject and attributes"

# --- 4 refused ------------------------------------------------------------------------------
id4=$(sql -c "SELECT httpq.enqueue_sqs('$orders', 'signed wrongly', channel => 'sqs-wrong')") || problem "enqueue_sqs failed"
if ends "$id4" dead; then
    expect "request $id4 attempts" "$(sql -c "SELECT attempts FROM httpq.requests WHERE id = $id4")" 1
    error=$(sql -c "SELECT last_error FROM httpq.requests WHERE id = $id4")
    case $error in
    "AWS SignatureDoesNotMatch: The request signature we calculated does not match"*"(HTTP 403)") ;;
    *) problem "request $id4: last_error is '$error', expected AWS's SignatureDoesNotMatch" ;;
    esac
fi
expect "queue orders after the refused message" "$(receive orders 0)" ""
finish 4 "a wrong secret key: refused by the server's signature check, dead with AWS's error, nothing queued"

# --- 5 throttled ----------------------------------------------------------------------------
# The queue URL names the proxy, so the request goes (and is signed) there.
id5=$(sql -c "SELECT httpq.enqueue_sqs('$proxy/123456789012/orders', 'throttle-me once or twice', channel => 'sqs')") ||
    problem "enqueue_sqs failed"
if ends "$id5" delivered; then
    expect "request $id5 attempts" "$(sql -c "SELECT string_agg(coalesce(error, status::text), ' | ' ORDER BY attempt)
                                               FROM httpq.attempts WHERE id = $id5")" \
        "AWS ThrottlingException: Rate exceeded (HTTP 400) | AWS ThrottlingException: Rate exceeded (HTTP 400) | 200"
    expect "queue orders" "$(receive orders 1 | "$py" -c 'import json, sys; print(json.loads(sys.stdin.read())["body"])')" \
        "throttle-me once or twice"
fi
# Every request enqueued here is accounted for above, by id; none is left over.
expect "requests not finished" "$(sql -c "SELECT count(*) FROM httpq.requests WHERE state NOT IN ('delivered', 'dead')")" 0
finish 5 "throttled twice: retried, delivered on the third attempt, each refusal recorded"

echo "aws: $passed passed, $failed failed"
[ "$failed" = 0 ]
