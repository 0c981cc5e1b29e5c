"""s2: Postgres stopped with -m immediate while applications enqueue and a worker delivers.

A durable cluster (fsync and synchronous_commit on), so "COMMIT returned" means the
requests are on disk. Eight application sessions enqueue in transactions of five
statements, pausing between statements so that most of them have a transaction open at
any moment; one worker delivers. Then the server is stopped as a crash would stop it,
left down, and started again (crash recovery); the sessions reconnect and go on.

After the restart the database settles what was in doubt: a key whose COMMIT was sent but
not answered must be delivered if its row exists, and never arrive if it does not; a key
from a transaction that failed before COMMIT must never arrive. The same worker process
must still be running, must have reconnected once the server was back (not exited and
restarted), and must deliver what was enqueued after the restart. Claims commit
asynchronously, so a crash may resend what the worker held: duplicates are allowed only
for requests first sent before the restart, at most twice its concurrency (transfers in
flight plus outcomes awaiting their report), each with the first Idempotency-Key.
"""
import random
import threading
import time

from accounting import account
from harness import Ledger, wait_until

SESSIONS, PER_TRANSACTION, CONCURRENCY = 8, 5, 100


def phases(quick: bool) -> tuple[float, float, float]:
    """Seconds of enqueueing before the crash, down, and of enqueueing after the restart."""
    return (4, 2, 4) if quick else (15, 5, 15)


def TITLE(quick: bool) -> str:
    before, down, after = phases(quick)
    return (f"Postgres stopped with -m immediate under {SESSIONS} enqueueing sessions and a worker; "
            f"down {down:.0f} s")


def run(scope, result, quick):
    before, down, after = phases(quick)
    channel = "chaos-s2"
    receiver = scope.run.receiver
    cluster = scope.cluster(durable=True)
    settings = dict(cluster.query(
        "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes')"))
    if not result.check(all(v == "on" for v in settings.values()) and len(settings) == 3,
                        f"the cluster is durable: {settings}"):
        return
    worker = scope.worker(cluster, "s2-w", concurrency=CONCURRENCY, lease=10)
    ledger = Ledger()

    def session_keys(p: int):
        lock, seq = threading.Lock(), [0]

        def take():
            with lock:
                start = seq[0]
                seq[0] += PER_TRANSACTION
            return [f"s2.{p}.{i:06d}" for i in range(start, start + PER_TRANSACTION)]
        return take

    deadline = time.monotonic() + before + down + after + 120
    sessions = [scope.producer(cluster, ledger, channel, lambda _: (receiver.base_url(), "?hold=u0-20"),
                               session_keys(p), f"s2-app{p}", deadline=deadline, per_statement=1,
                               between_statements=lambda: random.uniform(0.005, 0.04))
                for p in range(SESSIONS)]
    for s in sessions:
        s.start()
    time.sleep(before)
    open_at_crash = cluster.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s AND xact_start IS NOT NULL",
        ("chaos-s2-app%",))
    committed_before = len(ledger.committed)
    cluster.crash()
    time.sleep(down)
    cluster.start()
    restarted = time.time()
    result.note(f"at the crash: {committed_before:,} committed, about {open_at_crash} of {SESSIONS} sessions "
                "in a transaction")
    wait_until("the sessions to commit again after the restart",
               lambda: len(ledger.committed) > committed_before + SESSIONS * PER_TRANSACTION, 60)
    time.sleep(after)
    for s in sessions:
        s.stop()
    for s in sessions:
        s.join(30)
    result.check(not ledger.errors, f"the sessions met only connection errors: {ledger.errors[:3]}")

    t = account(scope, cluster, channel, ledger, timeout=120)
    result.standard_checks(t, duplicates=2 * CONCURRENCY)
    # A duplicate can only come from what the worker held at the crash: its first arrival
    # came before the server was back (no claim could be made while it was down).
    late = sorted(k for k in t.duplicated_keys if t.arrivals_by_key[k][0].at > restarted)
    result.check(not late, f"every duplicate was first sent before the restart: {len(late)} were not"
                           + (f" (e.g. {', '.join(late[:5])})" if late else ""))
    rows_of_aborted = cluster.scalar(
        "SELECT count(*) FROM httpq.requests WHERE channel = %s AND split_part(split_part(url, '/', 4), '?', 1) = ANY(%s)",
        (channel, list(ledger.aborted)))
    result.check(rows_of_aborted == 0,
                 f"no request of a transaction that failed before COMMIT exists: {rows_of_aborted} of "
                 f"{len(ledger.aborted)} do")
    result.note(f"transactions cut by the crash: {len(ledger.aborted) // PER_TRANSACTION} failed before COMMIT "
                f"({len(ledger.aborted)} requests); {len(ledger.in_doubt)} requests in doubt at COMMIT, of which "
                f"{t.in_doubt_held} committed and {t.in_doubt_absent} did not")
    # Open transactions are cut either before their COMMIT was sent or while it was in flight
    # (in doubt); which one a crash meets depends on where each session was at that instant.
    result.check(len(ledger.aborted) + len(ledger.in_doubt) > 0,
                 f"the crash cut open transactions (the scenario hit what it aims at): "
                 f"{len(ledger.aborted)} requests before COMMIT, {len(ledger.in_doubt)} at COMMIT")
    after_restart = [a for a in scope.arrivals() if a.at > restarted]
    log = worker.log()
    result.check(worker.alive() and log.count(" started ") == 1 and "reconnected" in log and after_restart,
                 f"the same worker process (pid {worker.pid}) kept running, reconnected and delivered "
                 f"{len(after_restart):,} after the restart (alive: {worker.alive()}, "
                 f"reconnected: {'reconnected' in log})")
    attempts_to_connect = log.count("cannot reconnect")
    result.note(f"worker: {log.count('lost the database connection')} lost connection(s), "
                f"{attempts_to_connect} failed reconnect attempt(s) while the server was down")
