#!/usr/bin/env python3
"""Paced arrivals for the benchmark: one row per transaction, from several sessions.

    drive.py --mode enqueue|plain --tag TAG --rate R --sessions S --seconds T
             --receiver URL --arrivals FILE --postmaster PID [--wait SECONDS] [--channels N]

Each session is a process of its own with one psycopg connection (the PG* variables),
so no session waits for another's interpreter lock. Request g (0, 1, 2, ...) is due
at t0 + g / R; session s sends g = s, s + S, s + 2S, ... so each session offers R / S per
second on a fixed schedule. A session that is late sends at once, and stops at t0 + T
whatever it has sent: the run lasts T, so arrivals the database cannot take at R are not
sent, and the achieved arrival rate (committed / time to the last COMMIT) is reported next
to the offered one, with how late each send was.

Each request is one transaction: BEGIN, the statement, COMMIT (psycopg's default
transaction), and the time COMMIT returned is read from the wall clock (time.time()).
  enqueue  SELECT httpq.enqueue(URL/TAG/KEY, bench.payload(g), channel => TAG)
           (with --channels N, channel => TAG-i for i = g mod N: the rate spread evenly)
  plain    INSERT INTO bench.plain (...) one row filled as httpq.enqueue fills httpq.request
           (same columns, headers with Content-Type and Idempotency-Key, the same body)

In enqueue mode the worker delivers to receiver.py, which appends the arrival time of
each /TAG/KEY to FILE; latency is arrival - COMMIT returned, per request, matched by KEY.
The backlog (committed and not yet arrived) is sampled every half second.

Postgres CPU is utime + stime of every process of the cluster (the postmaster's own and
its reaped children's, and each live child's), from /proc, sampled at t0 and at the end:
when the last COMMIT returned (plain), or when the last request arrived (enqueue, bounded
by --wait after the last COMMIT).

The driver's own CPU (its processes, from getrusage) and the receiver's (--receiver-pid)
per request are reported too: they share the machine with what is measured.

Prints `TAG_key value` lines (the results format of bench.sh) and `note ...` lines.
"""
import argparse
import json
import multiprocessing
import os
import resource
import time
import urllib.request

import psycopg

p = argparse.ArgumentParser()
p.add_argument("--mode", choices=["enqueue", "plain"], required=True)
p.add_argument("--tag", required=True)
p.add_argument("--rate", type=float, required=True)
p.add_argument("--sessions", type=int, default=4)
p.add_argument("--seconds", type=float, required=True)
p.add_argument("--receiver", required=True)
p.add_argument("--receiver-pid", type=int)
p.add_argument("--arrivals", required=True)
p.add_argument("--postmaster", type=int, required=True)
p.add_argument("--wait", type=float, default=60.0)
p.add_argument("--channels", type=int, default=1)
args = p.parse_args()
tag, rate, sessions = args.tag, args.rate, args.sessions
total = int(rate * args.seconds)
hz = os.sysconf("SC_CLK_TCK")

ENQUEUE = "SELECT httpq.enqueue(%s, bench.payload(%s::bigint), channel => %s)"
PLAIN = """INSERT INTO bench.plain (channel, state, priority, run_at, method, url, headers, body, idempotency_key)
SELECT %s, 'waiting', 0, now(), 'POST', %s,
       jsonb_build_object('Content-Type', 'application/json', 'Idempotency-Key', k.key),
       convert_to(bench.payload(%s::bigint)::text, 'UTF8'), k.key
FROM (SELECT gen_random_uuid()::text) AS k(key)"""


def out(key, value):
    print(f"{tag}_{key} {value}", flush=True)


def note(text):
    print(f"note {tag}: {text}", flush=True)


def pg_ticks():
    """utime + stime of the postmaster and its reaped children, plus every live child."""
    total_ticks = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(name) == args.postmaster:
            total_ticks += sum(int(v) for v in fields[11:15])
        elif int(fields[1]) == args.postmaster:
            total_ticks += int(fields[11]) + int(fields[12])
    return total_ticks


def process_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (OSError, TypeError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def channel(g):
    return tag if args.channels == 1 else f"{tag}-{g % args.channels}"


def session(s, t0, committed, results):
    records, errors, first_error = [], 0, None
    try:
        conn = psycopg.connect(application_name=f"bench-{tag}")
    except psycopg.Error as e:
        results.put((s, records, 1, str(e).strip()))
        return
    cur = conn.cursor()
    stop = t0 + args.seconds
    for g in range(s, total, sessions):
        due = t0 + g / rate
        if time.time() >= stop:
            break   # behind schedule: the run lasts its time, what is not sent is not offered
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        late = time.time() - due
        key = f"{s}-{g}"
        try:
            if args.mode == "enqueue":
                cur.execute(ENQUEUE, (f"{args.receiver}/{tag}/{key}", g, channel(g)))
            else:
                cur.execute(PLAIN, (tag, f"{args.receiver}/{tag}/{key}", g))
            conn.commit()
        except psycopg.Error as e:
            errors += 1
            first_error = first_error or str(e).strip()
            try:
                conn.rollback()
            except psycopg.Error:
                break
            continue
        records.append((key, time.time(), late))
        committed[s] += 1
    conn.close()
    results.put((s, records, errors, first_error))


def received():
    try:
        with urllib.request.urlopen(f"{args.receiver}/_stats", timeout=5) as r:
            return json.load(r).get(tag, 0)
    except OSError:
        return None


def pct(sorted_values, q):
    """Nearest rank."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, int(q * len(sorted_values) + 0.5) - 1))]


def main():
    ctx = multiprocessing.get_context("fork")
    committed = ctx.Array("q", sessions, lock=False)
    results = ctx.Queue()
    already = received() if args.mode == "enqueue" else 0
    if already is None:
        note("the receiver does not answer")
        return
    t0 = time.time() + 1.5   # every session connects before its first request is due
    procs = [ctx.Process(target=session, args=(s, t0, committed, results)) for s in range(sessions)]
    for pr in procs:
        pr.start()
    time.sleep(max(0.0, t0 - time.time()))
    cpu0 = pg_ticks()
    receiver0 = process_ticks(args.receiver_pid)

    gathered, backlog_max, end_guard = [], 0, t0 + args.seconds + args.wait + 60
    while len(gathered) < sessions and time.time() < end_guard:
        try:
            gathered.append(results.get(timeout=0.5))
        except Exception:   # queue.Empty
            pass
        if args.mode == "enqueue" and len(gathered) < sessions:
            got = received()
            if got is not None:
                backlog_max = max(backlog_max, sum(committed) - (got - already))
    schedule_end = time.time()
    cpu_plain = pg_ticks()
    done = sum(committed)
    got = received() if args.mode == "enqueue" else None
    for pr in procs:
        pr.join(timeout=10)
        if pr.is_alive():
            pr.kill()
            pr.join()
    if len(gathered) < sessions:
        note(f"{sessions - len(gathered)} of {sessions} sessions did not finish")

    records = [r for _, recs, _, _ in gathered for r in recs]
    errors = sum(e for _, _, e, _ in gathered)
    for _, _, e, first in gathered:
        if e:
            note(f"{e} transactions failed, first: {first}")
            break
    if not records:
        note("no transaction committed")
        return
    last_commit = max(r[1] for r in records)
    late = sorted(r[2] * 1000 for r in records)
    out("offered_rps", f"{rate:.0f}")
    out("sessions", sessions)
    out("committed", len(records))
    out("arrival_rps", f"{len(records) / (last_commit - t0):.0f}")
    if len(records) + errors < total:
        note(f"{len(records)} of {total} requests sent in {args.seconds:.0f} s: the sessions fell behind "
             f"the schedule of {rate:.0f}/s (arrival_rps is what was achieved)")
    out("late_p50_ms", f"{pct(late, 0.50):.3f}")
    out("late_p99_ms", f"{pct(late, 0.99):.3f}")
    out("late_max_ms", f"{late[-1]:.3f}")
    if errors:
        out("errors", errors)

    driver = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                 for f in ("ru_utime", "ru_stime"))
    out("driver_cpu_us_per_req", f"{driver / len(records) * 1e6:.1f}")
    if args.mode == "plain":
        out("pg_cpu_us_per_row", f"{(cpu_plain - cpu0) / hz / len(records) * 1e6:.1f}")
        return

    if got is not None:
        out("backlog_at_end", max(0, done - (got - already)))
    out("backlog_max", max(0, backlog_max))
    deadline = schedule_end + args.wait
    while time.time() < deadline:
        got = received()
        if got is not None and got - already >= len(records):
            break
        time.sleep(0.05)
    cpu1 = pg_ticks()
    receiver1 = process_ticks(args.receiver_pid)
    urllib.request.urlopen(f"{args.receiver}/_flush", timeout=10).read()

    committed_at = {k: c for k, c, _ in records}
    arrived_at = {}
    duplicates = 0
    prefix = f"/{tag}/"
    with open(args.arrivals) as f:
        for line in f:
            at, _, path = line.rstrip("\n").partition(" ")
            if not path.startswith(prefix):
                continue
            key = path[len(prefix):]
            if key not in committed_at:
                continue
            if key in arrived_at:
                duplicates += 1
            else:
                arrived_at[key] = float(at)
    latency = sorted((arrived_at[k] - committed_at[k]) * 1000 for k in arrived_at)
    out("delivered", len(latency))
    if duplicates:
        out("duplicates", duplicates)
    if len(latency) < len(records):
        note(f"{len(records) - len(latency)} of {len(records)} committed requests had not arrived "
             f"{args.wait:.0f} s after the last commit; latency is of those that arrived")
    if latency:
        out("latency_p50_ms", f"{pct(latency, 0.50):.3f}")
        out("latency_p99_ms", f"{pct(latency, 0.99):.3f}")
        out("latency_max_ms", f"{latency[-1]:.3f}")
        out("latency_min_ms", f"{latency[0]:.3f}")
        out("pg_cpu_us_per_req", f"{(cpu1 - cpu0) / hz / len(latency) * 1e6:.1f}")
        if receiver0 is not None and receiver1 is not None:
            out("receiver_cpu_us_per_req", f"{(receiver1 - receiver0) / hz / len(latency) * 1e6:.1f}")


main()
