"""s4: a slow but live worker loses its lease; its late report, heartbeat and release
must change nothing.

Two requests, R and L, and two workers under the same --worker-id, so that only the
attempt number tells their claims apart:

1. Worker A (lease 3 s) claims both (attempt 1) and sends them. The receiver answers R's
   first arrival after 1 s and holds L's first for a minute.
2. As soon as both have arrived, A is stopped (SIGSTOP), before its first heartbeat at
   half the lease; its leases run out.
3. Worker B (same name, lease 30 s, so it sends no heartbeat of its own in this scenario)
   claims both again (attempt 2). The receiver holds both second arrivals for 8 s.
4. While B's transfers are held, A is continued (SIGCONT). It finds R's answer waiting and
   its leases due: it sends a heartbeat of R and L with its 3 s lease and reports R's
   attempt 1, all stale. Then A gets SIGTERM with a 0.3 s grace: it aborts L's transfer
   and releases L, stale as well.
5. B's answers come back and B reports attempt 2 of both.

Unfenced, the stale heartbeat would cut B's lease to 3 s (R claimed a third time) and the
stale release would hand L back under B (L sent a third time, attempt 2 reused). Fenced by
(id, attempt), nothing of A's lands. The checks read only the end state: each request
arrived exactly twice (A's attempt and B's) with one Idempotency-Key, is delivered at
attempt 2, its recorded response is B's (`arrival 2`), and its attempts are attempt 1
(lease expired) and attempt 2 (200, after B's 8 s hold). What A sent is read from the
server log (log_min_duration_statement = 0) for the report.
"""
import re
import signal
import time

from accounting import account, key_of
from harness import Ledger, SetupError, batches, wait_until

NAME = "s4-shared"
A_LEASE, B_LEASE, B_HOLD_MS = 3, 30, 8000
HOLDS = {"s4.0.R": f"a1000,{B_HOLD_MS},0", "s4.0.L": f"a60000,{B_HOLD_MS},0"}


def TITLE(quick: bool) -> str:
    return "a stopped worker's transfer outlives its lease; its late report, heartbeat and release change nothing"


def arrived(scope, number: int) -> bool:
    got = {(a.key, a.number) for a in scope.arrivals()}
    return all((key, number) in got for key in HOLDS)


def run(scope, result, quick):
    channel = "chaos-s4"
    receiver = scope.run.receiver
    cluster = scope.cluster(settings={"log_min_duration_statement": "0"})
    a = scope.worker(cluster, NAME, lease=A_LEASE, grace=0.3, log_level="debug")
    a_backend = cluster.scalar("SELECT pid FROM pg_stat_activity WHERE application_name = 'httpq'")

    ledger = Ledger()
    app = scope.producer(cluster, ledger, channel, lambda key: (receiver.base_url(), "?hold=" + HOLDS[key]),
                         batches(list(HOLDS), len(HOLDS)), "s4-app", deadline=time.monotonic() + 30, per_statement=1)
    app.start()
    app.join(40)
    if len(ledger.committed) != len(HOLDS):
        result.error = f"the requests did not commit: {ledger.errors[:3]}"
        return

    wait_until("A's first attempts to arrive", lambda: arrived(scope, 1), 30, interval=0.01)
    a.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    state = cluster.query("SELECT url, state, attempts FROM httpq.requests WHERE channel = %s", (channel,))
    if not all(s == "running" and n == 1 for _, s, n in state):
        raise SetupError(f"A should hold both at attempt 1 when stopped: {state}")
    wait_until("A's leases to expire",
               lambda: cluster.scalar("SELECT count(*) FROM httpq.request WHERE channel = %s AND state = 'running' "
                                      "AND lease_until < now()", (channel,)) == len(HOLDS), 30)
    result.note(f"A stopped {1000 * (time.monotonic() - stopped):.0f} ms before its leases were seen expired")

    b = scope.worker(cluster, NAME, lease=B_LEASE, log_level="debug")
    wait_until("B's attempts to arrive", lambda: arrived(scope, 2), 30, interval=0.01)
    state = cluster.query("SELECT url, state, attempts FROM httpq.requests WHERE channel = %s", (channel,))
    if not all(s == "running" and n == 2 for _, s, n in state):
        raise SetupError(f"B should hold both at attempt 2: {state}")
    b_arrived = time.monotonic()

    a.signal(signal.SIGCONT)
    time.sleep(1.5)
    a.signal(signal.SIGTERM)
    code = a.wait_exit(15)
    result.note(f"A was continued while B's attempts were held, then stopped with SIGTERM: exit status {code}")
    if time.monotonic() - b_arrived > B_HOLD_MS / 1000:
        raise SetupError("A's late calls came after B's transfers finished: the machine is too slow for this timing")

    account(scope, cluster, channel, ledger, timeout=60)
    time.sleep(1.0)  # a further arrival caused by A's late calls would come with B's next claim
    t = account(scope, cluster, channel, ledger, timeout=5)
    result.standard_checks(t, duplicates=len(HOLDS))
    counts = {key: len(t.arrivals_by_key.get(key, [])) for key in HOLDS}
    result.check(all(n == 2 for n in counts.values()),
                 f"each request arrived exactly twice, A's attempt and B's: {counts}")

    rows = {key_of(url): (id_, state, attempts) for url, id_, state, attempts in cluster.query(
        "SELECT url, id, state, attempts FROM httpq.requests WHERE channel = %s", (channel,))}
    result.check(all(r[1] == "delivered" and r[2] == 2 for r in rows.values()),
                 f"both delivered at attempt 2: {describe(rows)}")
    bodies = {key_of(url): bytes(body).decode(errors="replace").strip() if body is not None else None
              for url, body in cluster.query(
                  "SELECT q.url, r.body FROM httpq.responses r JOIN httpq.requests q USING (id) WHERE q.channel = %s",
                  (channel,))}
    result.check(all(bodies.get(key) == "arrival 2" for key in HOLDS),
                 f"the recorded response is the one B received ('arrival 2'): {bodies}")
    logs = {}
    for url, attempt, worker, status, error, duration in cluster.query(
            "SELECT q.url, a.attempt, a.worker, a.status, a.error, a.duration_ms FROM httpq.attempts a "
            "JOIN httpq.requests q USING (id) WHERE q.channel = %s ORDER BY a.id, a.at", (channel,)):
        logs.setdefault(key_of(url), []).append((attempt, status, float(duration) if duration is not None else None))
    expected_ok = all(
        len(entries) == 2 and entries[0][0] == 1 and entries[0][1] is None
        and entries[1][0] == 2 and entries[1][1] == 200 and (entries[1][2] or 0) >= 0.9 * B_HOLD_MS
        for entries in (logs.get(key, []) for key in HOLDS))
    result.check(expected_ok, "the attempts are 1 (lease expired) and 2 (200 after B's "
                              f"{B_HOLD_MS / 1000:.0f} s hold), nothing else: {logs}")
    result.check(b.alive(), "B still running")

    late = late_calls(cluster.log_text(), a_backend)
    result.note("what A sent after it was continued (server log): "
                + ("; ".join(f"{name}: {args}" for name, args in late) or "nothing"))


def late_calls(log: str, backend: int) -> list[tuple[str, str]]:
    """The heartbeat, report and release statements of A's session, with their parameters
    or the error they met."""
    calls = []
    lines = [line for line in log.splitlines() if f"[{backend}]" in line]
    for i, line in enumerate(lines):
        m = re.search(r"(?:execute <unnamed>|STATEMENT): .*httpq\.(heartbeat|report|release)\(", line)
        if not m:
            continue
        if "STATEMENT:" in line:
            error = next((p.split("ERROR:", 1)[1].strip() for p in reversed(lines[max(0, i - 3):i]) if "ERROR:" in p), "")
            calls.append((m.group(1), f"failed: {error[:120]}"))
            continue
        detail = lines[i + 1] if i + 1 < len(lines) and "parameters:" in lines[i + 1] else ""
        params = detail.split("parameters:", 1)[1].strip() if detail else ""
        params = re.sub(r'"(headers|body)": (\{[^}]*\}|"[^"]*"), ', "", params)
        calls.append((m.group(1), params[:240]))
    return calls


def describe(rows) -> str:
    return ", ".join(f"{key} id {r[0]} {r[1]} attempt {r[2]}" for key, r in sorted(rows.items()))

