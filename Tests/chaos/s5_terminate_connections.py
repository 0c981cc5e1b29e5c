"""s5: the workers' database sessions terminated five times a second.

Two workers deliver while four application sessions enqueue steadily; a separate session
runs `pg_terminate_backend` on every session named `httpq` (the workers') every 200 ms.
A cut-off claim leaves its requests to the lease (they are sent later, once); a cut-off
report is sent again on the next connection, and only if its claims' leases passed
meanwhile can a request be sent twice. So nothing may be lost, both workers must still
be running, and duplicates are bounded by what the cut-off statements could have carried:
terminations x batch size, each with the first Idempotency-Key.
"""
import threading
import time

import psycopg

from accounting import account
from harness import Ledger

WORKERS, SESSIONS, PER_TRANSACTION, BATCH, LEASE = 2, 4, 5, 100, 5
INTERVAL = 0.2   # seconds between terminations: five a second


def duration(quick: bool) -> float:
    return 10 if quick else 30


def TITLE(quick: bool) -> str:
    return f"pg_terminate_backend of the workers' sessions 5 times a second for {duration(quick):.0f} s"


class Terminator(threading.Thread):
    """Terminates every worker session each INTERVAL until stopped; counts what it ended."""

    def __init__(self, cluster):
        super().__init__(name="s5-terminator", daemon=True)
        self.cluster = cluster
        self.stop_event = threading.Event()
        self.rounds = 0
        self.terminated = 0
        self.errors: list[str] = []

    def run(self):
        conn = None
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            try:
                if conn is None:
                    conn = self.cluster.connect("chaos-s5-terminator")
                ended = conn.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE application_name = 'httpq'").fetchone()[0]
                self.terminated += ended
                self.rounds += 1
            except psycopg.Error as error:
                self.errors.append(str(error).strip())
                conn = None
            next_at += INTERVAL
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))
        if conn is not None:
            conn.close()


def run(scope, result, quick):
    channel = "chaos-s5"
    receiver = scope.run.receiver
    cluster = scope.cluster()
    workers = [scope.worker(cluster, f"s5-w{i}", batch=BATCH, lease=LEASE) for i in range(1, WORKERS + 1)]
    ledger = Ledger()
    seconds = duration(quick)

    def steady(p: int):
        """Transactions of PER_TRANSACTION keys, one every 50 ms: 100 requests a second per session."""
        state = {"seq": 0, "next": time.monotonic()}

        def take():
            time.sleep(max(0.0, state["next"] - time.monotonic()))
            state["next"] += 0.05
            start = state["seq"]
            state["seq"] += PER_TRANSACTION
            return [f"s5.{p}.{i:06d}" for i in range(start, start + PER_TRANSACTION)]
        return take

    sessions = [scope.producer(cluster, ledger, channel, lambda _: (receiver.base_url(), "?hold=u0-20"),
                               steady(p), f"s5-app{p}", deadline=time.monotonic() + seconds)
                for p in range(SESSIONS)]
    terminator = Terminator(cluster)
    for s in sessions:
        s.start()
    terminator.start()
    time.sleep(seconds)
    terminator.stop_event.set()
    terminator.join(10)
    for s in sessions:
        s.join(30)
    result.check(not ledger.errors and not ledger.aborted and not ledger.in_doubt,
                 f"every application transaction committed ({len(ledger.committed):,} requests)"
                 + (f"; errors: {ledger.errors[:3]}" if ledger.errors else ""))
    result.note(f"{terminator.terminated} worker sessions terminated in {terminator.rounds} rounds"
                + (f"; terminator errors: {terminator.errors[:3]}" if terminator.errors else ""))
    if not result.check(terminator.rounds >= seconds / INTERVAL * 0.8 and terminator.terminated > 0,
                        f"terminations ran about 5 times a second: {terminator.rounds} rounds in {seconds:.0f} s"):
        return

    t = account(scope, cluster, channel, ledger, timeout=120)
    result.standard_checks(t, duplicates=terminator.terminated * BATCH)
    alive = [w.name for w in workers if w.alive()]
    result.check(len(alive) == WORKERS, f"both workers still running: {', '.join(alive) or 'none'}")
    lost_lines = sum(w.log().count("lost the database connection") for w in workers)
    result.note(f"the workers logged {lost_lines} lost connections; duplicates {t.duplicates} "
                f"of at most {terminator.terminated} x {BATCH}")
