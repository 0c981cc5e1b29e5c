"""s3: no fault at all, so exactly once.

Four workers run while twenty application sessions each enqueue their requests one per
transaction (httpq.enqueue, then COMMIT). With nothing failing, the receiver must see
exactly the committed requests, each once, every one delivered at its first attempt,
and every worker must have delivered some (httpq.attempts names the worker).
"""
import time

from accounting import account
from harness import Ledger, batches

SESSIONS, WORKERS = 20, 4


def per_session(quick: bool) -> int:
    return 50 if quick else 500


def TITLE(quick: bool) -> str:
    return f"no fault: {SESSIONS} sessions x {per_session(quick)} requests, {WORKERS} workers, exactly once"


def run(scope, result, quick):
    channel = "chaos-s3"
    receiver = scope.run.receiver
    cluster = scope.cluster()
    ledger = Ledger()
    workers = [scope.worker(cluster, f"s3-w{i}") for i in range(1, WORKERS + 1)]
    n = per_session(quick)
    sessions = [scope.producer(cluster, ledger, channel, lambda _: (receiver.base_url(), "?hold=u0-10"),
                               batches([f"s3.{p:02d}.{i:05d}" for i in range(n)], 1), f"s3-app{p}",
                               deadline=time.monotonic() + 300)
                for p in range(SESSIONS)]
    for s in sessions:
        s.start()
    for s in sessions:
        s.join(310)
    result.check(len(ledger.committed) == SESSIONS * n and not ledger.aborted and not ledger.in_doubt
                 and not ledger.errors,
                 f"every transaction committed: {len(ledger.committed):,} of {SESSIONS * n:,}"
                 + (f"; errors: {ledger.errors[:3]}" if ledger.errors else ""))
    t = account(scope, cluster, channel, ledger, timeout=120)
    result.standard_checks(t, duplicates="none")
    retried = cluster.scalar("SELECT count(*) FROM httpq.requests WHERE channel = %s AND attempts <> 1", (channel,))
    result.check(retried == 0, f"every request delivered at its first attempt: {retried} took more")
    by_worker = dict(cluster.query(
        "SELECT worker, count(*) FROM httpq.attempts WHERE status BETWEEN 200 AND 299 GROUP BY worker"))
    share = ", ".join(f"{w.name} {by_worker.get(w.name, 0):,}" for w in workers)
    result.check(all(by_worker.get(w.name, 0) > 0 for w in workers), f"every worker delivered some: {share}")
    result.check(all(w.alive() for w in workers), "every worker still running")
