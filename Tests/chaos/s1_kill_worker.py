"""s1: kill -9 of a worker with its concurrency in flight, then a new worker.

All requests are committed first. Worker A runs with --concurrency C (and --channel-share C,
so its one channel may use every slot) against a receiver that answers after 50 to 500 ms;
once C requests are held at the receiver and a fifth of the requests have arrived, A is
killed with SIGKILL. The requests A had claimed and not reported (running under A's name,
read once A's session is gone) are the ones that may arrive twice: worker B takes them after
their lease. Every duplicate must be one of them, so duplicates are at most what was in
flight. (That set is the transfers in flight, at most --concurrency, plus outcomes not yet
reported: a slot is free again before its outcome's report commits.)
"""
import signal
import time

from accounting import account
from harness import Ledger, batches, wait_until


def sizes(quick: bool) -> tuple[int, int]:
    return (1_000, 100) if quick else (10_000, 1_000)


def TITLE(quick: bool) -> str:
    n, inflight = sizes(quick)
    return f"kill -9 of a worker with {inflight:,} in flight of {n:,}, receiver 50-500 ms; restart"


LEASE = 5  # seconds: how long the killed worker's claims keep others away


def run(scope, result, quick):
    n, inflight = sizes(quick)
    channel = "chaos-s1"
    receiver = scope.run.receiver
    cluster = scope.cluster()
    ledger = Ledger()
    keys = [f"s1.0.{i:06d}" for i in range(n)]
    app = scope.producer(cluster, ledger, channel, lambda _: (receiver.base_url(), "?hold=u50-500"),
                         batches(keys, 1000), "s1-app", deadline=time.monotonic() + 120)
    app.start()
    app.join(130)
    if len(ledger.committed) != n:
        result.error = f"only {len(ledger.committed)} of {n} committed: {ledger.errors[:3]}"
        return

    a = scope.worker(cluster, "s1-a", concurrency=inflight, channel_share=inflight, lease=LEASE)
    stats = wait_until(f"{inflight} held at the receiver and a fifth arrived",
                       lambda: (s := receiver.stats("s1"))["held"] >= inflight * 0.95 and s["arrivals"] >= n // 5
                       and s, 120, interval=0.02)
    a.signal(signal.SIGKILL)
    a.wait_exit(10)
    # Once A's session is gone no statement of A's can still commit: what is running under
    # its name now is exactly what it had claimed and not reported.
    wait_until("the killed worker's session to end",
               lambda: cluster.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'httpq'") == 0,
               30)
    at_risk = {url.split("/", 3)[3].split("?")[0] for (url,) in cluster.query(
        "SELECT url FROM httpq.requests WHERE channel = %s AND state = 'running' AND worker = 's1-a'", (channel,))}
    arrived_before = receiver.stats("s1")["arrivals"]
    result.note(f"at the kill: {stats['held']} held at the receiver, {stats['arrivals']:,} arrived; "
                f"{len(at_risk)} claimed by A and not reported")

    scope.worker(cluster, "s1-b", concurrency=inflight, channel_share=inflight, lease=LEASE)
    t = account(scope, cluster, channel, ledger, timeout=120 + n / 50)
    result.standard_checks(t, duplicates="any")
    outside = t.duplicated_keys - at_risk
    result.check(t.duplicates <= len(at_risk) and not outside,
                 f"duplicates {t.duplicates} <= {len(at_risk)} in flight at the kill, each one of them"
                 + (f" ({len(outside)} are not, e.g. {', '.join(sorted(outside)[:5])})" if outside else ""))
    result.note(f"arrivals after the restart: {receiver.stats('s1')['arrivals'] - arrived_before:,}")
