"""Accounting for every request key of a scenario, and the scenario's result table.

Three sources are put side by side: the ledger (what the application sessions saw of their
own transactions), the receiver's arrivals (what was delivered, and how often), and the
database at the end (httpq.requests: state, idempotency_key). From them:

    committed        COMMIT returned success; plus keys in doubt that the database holds
    delivered        committed keys that arrived at least once
    duplicates       arrivals after a key's first
    dead / pending   committed keys the database ends with as dead / still waiting or running
    lost             committed keys that never arrived and the database neither holds as
                     pending or dead (a row delivered in the database but never received
                     counts as lost too)
    never committed  arrivals of keys that never committed: aborted transactions, keys in
                     doubt that the database does not hold, keys nobody enqueued
    unrecorded       committed keys that arrived but that the database does not hold
    key mismatch     keys whose arrivals do not all carry the Idempotency-Key of the first,
                     or whose first is not the one the database recorded
"""
import time
from dataclasses import dataclass, field

from harness import Arrival, Cluster, Ledger


def key_of(url: str) -> str:
    """The request key in a receiver URL: http://127.0.0.1:PORT/KEY?hold=..."""
    return url.split("/", 3)[3].split("?", 1)[0]


def database_rows(cluster: Cluster, channel: str) -> dict[str, tuple]:
    """key -> (id, state, idempotency_key, attempts) for every request of the channel."""
    rows = cluster.query("SELECT url, id, state, idempotency_key, attempts FROM httpq.requests WHERE channel = %s",
                         (channel,))
    return {key_of(url): (id_, state, ikey, attempts) for url, id_, state, ikey, attempts in rows}


@dataclass
class Tally:
    committed: int = 0
    delivered: int = 0
    duplicates: int = 0
    dead: int = 0
    pending: int = 0
    lost: int = 0
    never_committed: int = 0
    key_mismatch: int = 0
    unrecorded: int = 0
    aborted: int = 0
    in_doubt_held: int = 0
    in_doubt_absent: int = 0
    duplicated_keys: set = field(default_factory=set)
    examples: dict = field(default_factory=dict)   # category -> a few keys, for the report
    arrivals_by_key: dict = field(default_factory=dict)


def tally(ledger: Ledger, arrivals: list[Arrival], rows: dict[str, tuple]) -> Tally:
    t = Tally()
    by_key: dict[str, list[Arrival]] = {}
    for a in sorted(arrivals, key=lambda a: (a.key, a.number)):
        by_key.setdefault(a.key, []).append(a)
    t.arrivals_by_key = by_key

    held_in_doubt = {k for k in ledger.in_doubt if k in rows}
    committed = ledger.committed | held_in_doubt
    t.committed = len(committed)
    t.aborted = len(ledger.aborted)
    t.in_doubt_held = len(held_in_doubt)
    t.in_doubt_absent = len(ledger.in_doubt) - len(held_in_doubt)

    def example(category: str, key: str):
        t.examples.setdefault(category, [])
        if len(t.examples[category]) < 5:
            t.examples[category].append(key)

    for key in committed:
        got = by_key.get(key, [])
        row = rows.get(key)
        state = row[1] if row else None
        if got:
            t.delivered += 1
            if len(got) > 1:
                t.duplicates += len(got) - 1
                t.duplicated_keys.add(key)
            first = got[0].idempotency_key
            if any(a.idempotency_key != first for a in got) or (row and row[2] != first):
                t.key_mismatch += 1
                example("key mismatch", key)
            if state == "dead":
                t.dead += 1
                example("dead", key)
            elif state in ("waiting", "running"):
                t.pending += 1  # arrived, but the database has not recorded an outcome yet
                example("pending", key)
            elif row is None:
                t.unrecorded += 1  # arrived, but the database has no record of it
                example("unrecorded", key)
        elif state == "dead":
            t.dead += 1
            example("dead", key)
        elif state in ("waiting", "running"):
            t.pending += 1
            example("pending", key)
        else:
            t.lost += 1
            example("lost", key)
    for key in by_key:
        if key not in committed:
            t.never_committed += 1
            example("never committed", key)
    return t


@dataclass
class Check:
    ok: bool
    text: str


@dataclass
class Result:
    name: str
    title: str
    tally: Tally | None = None
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    error: str | None = None

    def check(self, ok: bool, text: str) -> bool:
        self.checks.append(Check(bool(ok), text))
        return bool(ok)

    def note(self, text: str):
        self.notes.append(text)

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)

    def standard_checks(self, t: Tally, duplicates: str | int):
        """The checks every scenario makes. `duplicates`: "none" (no crash, so no
        duplicate may arrive), "any" (a crash, bounded elsewhere), or a number, the most
        duplicates allowed."""
        self.tally = t
        ex = t.examples

        def eg(category):
            return f" (e.g. {', '.join(ex[category])})" if ex.get(category) else ""

        self.check(t.lost == 0, f"no committed request lost: {t.lost} lost{eg('lost')}")
        self.check(t.pending == 0, f"every committed request finished: {t.pending} still pending{eg('pending')}")
        self.check(t.dead == 0, f"none dead (the receiver always answers 200): {t.dead} dead{eg('dead')}")
        self.check(t.unrecorded == 0,
                   f"every delivered request is recorded in the database: {t.unrecorded} are not{eg('unrecorded')}")
        self.check(t.never_committed == 0,
                   f"no arrival of a request that never committed: {t.never_committed}{eg('never committed')}")
        self.check(t.key_mismatch == 0,
                   f"every arrival of a request carries its first Idempotency-Key, the one recorded: "
                   f"{t.key_mismatch} keys differ{eg('key mismatch')}")
        if duplicates == "none":
            self.check(t.duplicates == 0, f"no duplicate without a crash: {t.duplicates} duplicates")
        elif duplicates != "any":
            self.check(t.duplicates <= duplicates, f"duplicates {t.duplicates} <= {duplicates}")

    def render(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        head = f"── {self.name}: {self.title} "
        lines = [f"{head}{'─' * max(3, 78 - len(head))} {status} {self.seconds:.1f} s"]
        if self.tally is not None:
            t = self.tally
            columns = [("committed", t.committed), ("delivered", t.delivered), ("duplicates", t.duplicates),
                       ("dead", t.dead), ("pending", t.pending), ("lost", t.lost),
                       ("never committed", t.never_committed)]
            lines.append("   " + "  ".join(f"{name:>{max(len(name), 7)}}" for name, _ in columns))
            lines.append("   " + "  ".join(f"{value:>{max(len(name), 7)},}" for name, value in columns))
        for check in self.checks:
            lines.append(f"   {'ok  ' if check.ok else 'FAIL'}  {check.text}")
        for note in self.notes:
            lines.append(f"   info  {note}")
        if self.error:
            lines.append(f"   FAIL  {self.error}")
        return "\n".join(lines)


def settle(cluster: Cluster, channel: str, timeout: float) -> bool:
    """Waits until the channel has nothing waiting or running; False if it still has after
    `timeout` seconds (what is left is then counted as pending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cluster.scalar("SELECT count(*) FROM httpq.request WHERE channel = %s", (channel,)) == 0:
                return True
        except Exception:
            pass
        time.sleep(0.2)
    return False


def account(scope, cluster: Cluster, channel: str, ledger: Ledger, timeout: float) -> Tally:
    """Waits for the channel to settle, then tallies the ledger, the arrivals and the database."""
    settle(cluster, channel, timeout)
    time.sleep(0.3)  # an arrival is recorded before it is answered; let the last answers land
    return tally(ledger, scope.arrivals(), database_rows(cluster, channel))
