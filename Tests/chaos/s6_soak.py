"""s6: soak at half the drain rate (a third in a quick run), a burst above it, and a transaction left idle.

First the drain rate D is measured in the same run: N requests committed, then one worker
started; D is the rate of arrivals between the 10th and the 90th percentile. Then, with
that worker running, four application sessions offer D/2 for the soak's length, and 1.5 D
for a tenth of it in the middle (the burst: arrivals above what can be delivered, so a
backlog builds). From a tenth of the way in, before the burst, a session holds a
transaction idle (REPEATABLE READ, with an xid), which keeps vacuum from removing any row
version the queue leaves behind.

Every second the suite samples the live table, httpq.request: its requests (the backlog,
and those waiting longer than 2 s), n_live_tup and n_dead_tup, and the size of the heap
and its indexes (written to soak.csv beside the logs). Checks: nothing lost, no duplicate
(there is no crash); the backlog returns to zero after the burst, before the soak ends; the
idle transaction did hold back xmin (dead row versions piled up while it was open); and
after it ended the table came back to bounded: autovacuum removed the dead row versions
again (n_dead_tup back to the most seen before the idle transaction) and the table stopped
growing (heap and indexes at the end no larger than when the idle transaction ended, plus
the room the burst's backlog needs). autovacuum_naptime is 5 s, as the README recommends
for a busy queue, so that "bounded again" comes within seconds.
"""
import threading
import time

import psycopg

from accounting import account, settle
from harness import Ledger, SetupError, batches, wait_until

SESSIONS = 4
NAPTIME = 5   # autovacuum_naptime, seconds: the setting the README recommends for a busy queue


def sizes(quick: bool) -> dict:
    if quick:
        # A third of D, not half: D is measured with nothing else running, and during the
        # soak the four sessions enqueueing share the two cores with the worker and Postgres,
        # so at D/2 the drain after the burst has little to spare. The full run keeps D/2 and
        # the ten minutes that give that drain its time; a quick run has 150 s.
        # The burst lasts a twentieth of the run, not a tenth: its backlog then clears in
        # about half the time left after it, as in the full run.
        return dict(drain_n=20_000, seconds=150, idle=30, base=1 / 3, burst=0.05)
    return dict(drain_n=100_000, seconds=600, idle=120, base=1 / 2, burst=0.1)


def TITLE(quick: bool) -> str:
    s = sizes(quick)
    return (f"soak {s['seconds']} s at {'half' if s['base'] == 1 / 2 else 'a third of'} the drain rate, "
            f"a 1.5x burst in the middle, "
            f"a transaction idle for {s['idle']} s")


class Pacer:
    """Hands out transactions of `per_transaction` keys on a schedule that follows rate(t),
    t seconds since start, to any number of sessions."""

    def __init__(self, rate, per_transaction: int, seconds: float):
        self.rate, self.per_transaction, self.seconds = rate, per_transaction, seconds
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.due = 0.0
        self.seq = 0

    def take(self):
        with self.lock:
            due = self.due
            if due >= self.seconds:
                return None
            self.due += self.per_transaction / self.rate(due)
            first = self.seq
            self.seq += self.per_transaction
        time.sleep(max(0.0, self.start + due - time.monotonic()))
        return [f"s6.1.{i:07d}" for i in range(first, first + self.per_transaction)]


class Sampler(threading.Thread):
    """Samples the live table every second into `path` (CSV), and prints a line a minute."""

    COLUMNS = "t backlog waiting_over_2s n_live_tup n_dead_tup heap_bytes index_bytes"

    def __init__(self, cluster, start: float, path):
        super().__init__(name="s6-sampler", daemon=True)
        self.cluster, self.origin, self.path = cluster, start, path
        self.samples: list[tuple] = []
        self.stop_event = threading.Event()

    def run(self):
        conn = None
        while not self.stop_event.wait(1.0):
            try:
                conn = conn or self.cluster.connect("chaos-s6-sampler")
                row = conn.execute("""
                    SELECT (SELECT count(*) FROM httpq.request),
                           (SELECT count(*) FROM httpq.request WHERE created_at < now() - interval '2 seconds'),
                           s.n_live_tup, s.n_dead_tup,
                           pg_relation_size('httpq.request'), pg_indexes_size('httpq.request')
                    FROM pg_stat_user_tables s WHERE s.relid = 'httpq.request'::regclass""").fetchone()
                sample = (round(time.monotonic() - self.origin, 1), *row)
            except psycopg.Error:
                conn = None
                continue
            self.samples.append(sample)
            with open(self.path, "a") as f:
                if len(self.samples) == 1:
                    f.write(self.COLUMNS.replace(" ", ",") + "\n")
                f.write(",".join(map(str, sample)) + "\n")
            if len(self.samples) % 60 == 0:
                print(f"{time.strftime('%H:%M:%S')} chaos: s6 at {sample[0]:.0f} s: {sample[1]:,} requests in the "
                      f"live table, {sample[4]:,} dead row versions", flush=True)

    def after(self, t: float) -> list[tuple]:
        return [s for s in self.samples if s[0] >= t]

    def between(self, t0: float, t1: float) -> list[tuple]:
        return [s for s in self.samples if t0 <= s[0] < t1]


def run(scope, result, quick):
    s = sizes(quick)
    channel = "chaos-s6"
    receiver = scope.run.receiver
    cluster = scope.cluster(settings={"autovacuum_naptime": f"{NAPTIME}s"})
    url = lambda _: (receiver.base_url(), "?hold=0")  # noqa: E731
    ledger = Ledger()

    # The drain rate, measured: commit N, then start the worker and time the arrivals.
    keys = [f"s6.0.{i:07d}" for i in range(s["drain_n"])]
    fill = scope.producer(cluster, ledger, channel, url, batches(keys, 1000), "s6-fill",
                          deadline=time.monotonic() + 120)
    fill.start()
    fill.join(130)
    if len(ledger.committed) != len(keys):
        raise SetupError(f"the drain's requests did not commit: {ledger.errors[:3]}")
    worker = scope.worker(cluster, "s6-w")
    settle(cluster, channel, 60 + len(keys) / 100)
    # From the 10th to the 90th percentile arrival: the steady part, without start and tail.
    drain = sorted(a.at for a in scope.arrivals())
    low, high = drain[len(drain) // 10], drain[len(drain) * 9 // 10]
    rate = (len(drain) * 8 // 10) / (high - low)
    result.note(f"drain rate D = {rate:,.0f} requests/s (one worker; {len(keys):,} drained in "
                f"{drain[-1] - drain[0]:.1f} s)")
    cluster.query("VACUUM httpq.request")

    seconds, idle = s["seconds"], s["idle"]
    burst = (seconds * (0.5 - s["burst"] / 2), seconds * (0.5 + s["burst"] / 2))
    idle_from = seconds * 0.1
    base = s["base"]
    planned = lambda t: rate * (1.5 if burst[0] <= t < burst[1] else base)  # noqa: E731
    per_transaction = max(1, round(rate * base / 100))   # about 100 transactions a second at the base rate
    pacer = Pacer(planned, per_transaction, seconds)
    sampler = Sampler(cluster, pacer.start, scope.log_dir / "soak.csv")
    sessions = [scope.producer(cluster, ledger, channel, url, pacer.take, f"s6-app{p}",
                               deadline=pacer.start + seconds + 30)
                for p in range(SESSIONS)]
    sampler.start()
    for p in sessions:
        p.start()

    # The idle transaction: a snapshot and an xid, held, so that vacuum can remove nothing newer.
    time.sleep(max(0.0, pacer.start + idle_from - time.monotonic()))
    holder = cluster.connect("chaos-s6-idle", autocommit=False)
    holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    holder.execute("SELECT txid_current(), count(*) FROM httpq.channel")
    held_xmin = cluster.scalar("SELECT backend_xmin IS NOT NULL FROM pg_stat_activity "
                               "WHERE application_name = 'chaos-s6-idle'")
    time.sleep(max(0.0, pacer.start + idle_from + idle - time.monotonic()))
    holder.rollback()
    holder.close()
    idle_to = time.monotonic() - pacer.start

    for p in sessions:
        p.join(seconds + 60)
    soak_end = time.monotonic() - pacer.start
    drained = settle(cluster, channel, 120)
    drained_at = time.monotonic() - pacer.start
    # Bounded again: autovacuum (every NAPTIME s) removes what the soak left behind.
    steady = max([1000] + [x[4] for x in sampler.between(0, idle_from)])
    try:
        wait_until("autovacuum to catch up", lambda: sampler.samples[-1][4] <= steady, 6 * NAPTIME, 1)
    except SetupError:
        pass  # the check below reports it
    sampler.stop_event.set()
    sampler.join(5)

    t = account(scope, cluster, channel, ledger, timeout=30)
    result.standard_checks(t, duplicates="none")
    result.check(not ledger.errors and not ledger.aborted and not ledger.in_doubt,
                 "every application transaction committed" + (f": {ledger.errors[:3]}" if ledger.errors else ""))

    commits = sorted(ledger.commit_times)
    offered = lambda t0, t1: sum(per_transaction for c in commits if t0 <= c - pacer.start < t1) / (t1 - t0)  # noqa
    result.note(f"offered: {offered(0, burst[0]):,.0f}/s before the burst (planned {rate * base:,.0f}), "
                f"{offered(*burst):,.0f}/s in it (planned {rate * 1.5:,.0f}), "
                f"{offered(burst[1], seconds):,.0f}/s after; {per_transaction} per transaction")

    samples = sampler.samples
    peak_backlog = max((x[1] for x in sampler.between(*burst)), default=0)
    # Back to zero: no request older than 2 s, and no more queued than a second's arrivals.
    zero = next((x for x in sampler.after(burst[1]) if x[2] == 0 and x[1] <= rate * base), None)
    result.check(zero is not None and zero[0] <= soak_end,
                 f"the backlog returned to zero after the burst: peak {peak_backlog:,} requests, "
                 + (f"back to {zero[1]:,} (none older than 2 s) {zero[0] - burst[1]:.0f} s after the burst's end"
                    if zero else f"not back before the soak ended (drained {drained_at - soak_end:.0f} s after it: "
                                 f"{drained})"))

    before = sampler.between(0, idle_from)
    during = sampler.between(idle_from, idle_to)
    steady_dead = max(1000, max((x[4] for x in before), default=0))
    dead_peak = max((x[4] for x in during), default=0)
    result.check(held_xmin and dead_peak >= 2 * steady_dead,
                 f"the idle transaction held back xmin for {idle} s: dead row versions {steady_dead:,} at most "
                 f"before it, {dead_peak:,} when it ended")
    size_at_idle_end = size(min(sampler.after(idle_to), key=lambda x: x[0], default=samples[-1]))
    size_end = size(samples[-1])
    room = peak_backlog * bytes_per_request(samples)
    result.check(samples[-1][4] <= steady_dead and size_end <= size_at_idle_end + room,
                 f"after the idle transaction the table came back to bounded: {samples[-1][4]:,} dead row versions "
                 f"at the end (at most {steady_dead:,} before the idle transaction); heap+indexes "
                 f"{mib(size_at_idle_end)} when it ended, {mib(size_end)} at the end (allowed: + {mib(room)} "
                 "for the burst's backlog)")
    result.note(f"live table: heap+indexes {mib(size(samples[0]))} at the start, "
                f"{mib(max(size(x) for x in samples))} at most; samples in {scope.log_dir / 'soak.csv'}")
    result.check(worker.alive(), "the worker still running")


def size(sample) -> int:
    return sample[5] + sample[6]


def bytes_per_request(samples) -> float:
    """The live table's bytes per request at its fullest, for the room a backlog needs."""
    fullest = max(samples, key=lambda x: x[1])
    return size(fullest) / max(1, fullest[1] + fullest[4])


def mib(n: float) -> str:
    return f"{n / 1048576:.1f} MiB"
