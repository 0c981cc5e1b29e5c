"""The machinery every chaos scenario shares: clusters, workers, the receiver, application
sessions that enqueue, and waiting with a time limit.

Everything a scenario starts belongs to its Scope, which stops it when the scenario ends,
passes or fails; the Run stops whatever is left on exit. Child processes are started
under `setpriv --pdeathsig KILL`, so none outlives the suite even if it is killed.
Processes are started from the main thread only: the death signal follows the thread that
started the child.
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SH = ROOT / "Tests" / "support" / "cluster.sh"
RECEIVER_PY = Path(__file__).resolve().parent / "receiver.py"


class SetupError(Exception):
    """The scenario could not be set up or driven as designed (not a failed check)."""


def wait_until(what: str, predicate: Callable[[], object], timeout: float, interval: float = 0.1):
    """Returns the predicate's first truthy value; raises SetupError after `timeout` seconds.
    Database errors while waiting count as "not yet" (a cluster may be restarting)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except psycopg.Error as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last database error: {str(last_error).strip()})" if last_error else ""
            raise SetupError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Starts a child that is killed if the suite dies, its output appended to log_path."""
    assert threading.current_thread() is threading.main_thread(), "start processes from the main thread"
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(["setpriv", "--pdeathsig", "KILL", "--", *argv], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    finally:
        log.close()


# ---------------------------------------------------------------------------------------
# Postgres


class Cluster:
    """A throwaway Postgres cluster in a directory (Tests/support/cluster.sh), with httpq
    installed in its `postgres` database. `durable` keeps fsync and synchronous_commit on."""

    def __init__(self, directory: Path, durable: bool = False):
        self.directory = directory
        self.durable = durable
        self.env: dict[str, str] = {}
        self._conn: psycopg.Connection | None = None

    def start(self):
        command = ["bash", str(CLUSTER_SH), "start", str(self.directory)] + (["durable"] if self.durable else [])
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SetupError(f"cluster did not start: {done.stderr.strip() or done.stdout.strip()}")
        if not self.env:
            out = subprocess.run(["bash", str(CLUSTER_SH), "env", str(self.directory)],
                                 capture_output=True, text=True, check=True).stdout
            for word in out.replace("export", "").split():
                name, _, value = word.partition("=")
                self.env[name] = value

    def install(self, settings: dict[str, str] | None = None, script: Path | None = None):
        """Installs httpq (CREATE EXTENSION, or `script` as plain SQL) and applies server
        settings (ALTER SYSTEM, reloaded)."""
        with self.connect() as conn:
            if script is None:
                conn.execute("CREATE EXTENSION httpq")
        if script is not None:
            done = subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-f", str(script)],
                                  env={**os.environ, **self.env}, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise SetupError(f"installing {script} failed: {done.stderr.strip()[-2000:]}")
        # Each server log line names its session, so that an ERROR says whose it was.
        settings = {"log_line_prefix": "%m [%p] %a: ", **(settings or {})}
        with self.connect() as conn:
            for name, value in settings.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            conn.execute("SELECT pg_reload_conf()")

    def conninfo(self, application_name: str) -> dict:
        return dict(host=self.env["PGHOST"], port=self.env["PGPORT"], user=self.env["PGUSER"],
                    dbname=self.env["PGDATABASE"], application_name=application_name, connect_timeout=5)

    def connect(self, application_name: str = "chaos", autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(**self.conninfo(application_name), autocommit=autocommit)

    def query(self, sql: str, params=None) -> list[tuple]:
        """Runs one statement on the suite's own session (reconnecting once if it broke)."""
        for again in (True, False):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self.connect("chaos-monitor")
                cursor = self._conn.execute(sql, params)
                return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError:
                self._drop()
                if not again:
                    raise
        raise AssertionError("unreachable")

    def scalar(self, sql: str, params=None):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def _drop(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None

    def crash(self):
        """Stops the server as a crash would: no checkpoint, every session cut (-m immediate)."""
        self._drop()
        data = self.directory / "data"
        subprocess.run(["runuser", "-u", "postgres", "--", f"{pg_bindir()}/pg_ctl", "-D", str(data),
                        "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60, check=True)

    def stop(self):
        self._drop()
        subprocess.run(["bash", str(CLUSTER_SH), "stop", str(self.directory)], capture_output=True, timeout=120)

    def log_text(self) -> str:
        path = self.directory / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""


_bindir = None


def pg_bindir() -> str:
    global _bindir
    if _bindir is None:
        _bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    return _bindir


# ---------------------------------------------------------------------------------------
# Workers


class Worker:
    """One `httpq work` process, logging to its own file."""

    def __init__(self, httpq: Path, cluster: Cluster, name: str, log_path: Path, **options):
        self.httpq = httpq
        self.cluster = cluster
        self.name = name
        self.log_path = log_path
        self.options = options
        self.process: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> "Worker":
        argv = [str(self.httpq), "work", "--worker-id", self.name]
        for option, value in self.options.items():
            argv += ["--" + option.replace("_", "-"), str(value)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "HTTPQ_")) and k != "DATABASE_URL"}
        env.update(self.cluster.env)
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = spawn(argv, self.log_path, env)
        if wait:
            wait_until(f"worker {self.name} to connect",
                       lambda: " connected" in self.log() or not self.alive() and self._died(), 60)
        return self

    def _died(self):
        raise SetupError(f"worker {self.name} exited with status {self.process.returncode}: {self.log()[-2000:]}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int):
        if self.alive():
            os.kill(self.pid, sig)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log(self) -> str:
        """This start's log lines."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "log_offset", 0))
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self):
        if self.alive():
            os.kill(self.pid, signal.SIGCONT)  # a stopped process must run to die cleanly
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait(10)


# ---------------------------------------------------------------------------------------
# The receiver


class Arrival:
    __slots__ = ("at", "key", "number", "idempotency_key")

    def __init__(self, line: str):
        at, self.key, number, self.idempotency_key = line.split(" ")
        self.at, self.number = float(at), int(number)


class Receiver:
    """The HTTP receiver process (receiver.py) on 127.0.0.1, shared by every scenario: each
    scenario's keys start with its own name."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.path = log_dir / "arrivals.txt"
        self.path.write_text("")
        self.process = spawn(["python3", str(RECEIVER_PY), str(self.port), str(self.path)],
                             log_dir / "receiver.log")
        wait_until("the receiver to listen", self._listening, 30)

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise SetupError(f"the receiver exited with status {self.process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base_url() + path, timeout=10) as response:
            return response.read()

    def stats(self, scenario: str) -> dict:
        import json
        return json.loads(self._get("_stats")).get(scenario, {"arrivals": 0, "held": 0, "held_max": 0})

    def offset(self) -> int:
        """Where the arrivals file ends now: a scenario reads its own arrivals from here on."""
        self._get("_flush")
        return self.path.stat().st_size

    def arrivals(self, scenario: str, since: int = 0) -> list[Arrival]:
        self._get("_flush")
        prefix = scenario + "."
        with open(self.path) as f:
            f.seek(since)
            return [Arrival(line.rstrip("\n")) for line in f if line.split(" ", 2)[1].startswith(prefix)]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


# ---------------------------------------------------------------------------------------
# Application sessions


class Ledger:
    """What became of each request key an application tried to enqueue: committed (COMMIT
    returned success), aborted (the transaction failed before COMMIT was sent, so it cannot
    have committed) or in doubt (COMMIT was sent but no answer came back)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.committed: set[str] = set()
        self.aborted: set[str] = set()
        self.in_doubt: set[str] = set()
        self.commit_times: list[float] = []
        self.errors: list[str] = []   # errors that are not a lost connection: a broken test

    def record(self, kind: str, keys: Iterable[str]):
        with self.lock:
            getattr(self, kind).update(keys)
            if kind == "committed":
                self.commit_times.append(time.monotonic())


ENQUEUE_ONE = "SELECT httpq.enqueue(url => %s, body => jsonb_build_object('key', %s::text), channel => %s)"
ENQUEUE_MANY = """SELECT count(*) FROM httpq.enqueue_many(ARRAY(
    SELECT httpq.new_request(url => %s || k || %s, body => jsonb_build_object('key', k), channel => %s)
    FROM unnest(%s::text[]) AS k))"""


class Producer(threading.Thread):
    """One application session. Takes transactions from `next_transaction` (a list of keys
    per transaction, each list cut into statements of `per_statement` keys; None when there
    are no more), enqueues them, and records in the ledger what became of each. A lost
    connection is reconnected, without limit until `deadline` (monotonic)."""

    def __init__(self, cluster: Cluster, ledger: Ledger, channel: str, url: Callable[[str], tuple[str, str]],
                 next_transaction: Callable[[], list[str] | None], name: str, deadline: float,
                 per_statement: int = 1000, between_statements: Callable[[], float] = lambda: 0.0):
        super().__init__(name=name, daemon=True)
        self.cluster, self.ledger, self.channel, self.url = cluster, ledger, channel, url
        # The receiver listens on loopback, which a channel must allow (README, Security).
        cluster.query("SELECT httpq.set_channel(%s, allowed_networks => '{127.0.0.0/8}')", (channel,))
        self.next_transaction = next_transaction
        self.deadline = deadline
        self.per_statement = per_statement
        self.between_statements = between_statements
        self.stop_event = threading.Event()
        self.connection: psycopg.Connection | None = None

    def _connect(self) -> bool:
        while self.connection is None:
            if self.stop_event.is_set() or time.monotonic() > self.deadline:
                return False
            try:
                self.connection = self.cluster.connect(f"chaos-{self.name}", autocommit=False)
            except psycopg.OperationalError:
                time.sleep(0.2)
        return True

    def _drop(self):
        try:
            self.connection.close()
        except Exception:
            pass
        self.connection = None

    def run(self):
        try:
            while not self.stop_event.is_set() and time.monotonic() < self.deadline:
                keys = self.next_transaction()
                if keys is None:
                    break
                if not self._connect():
                    break
                try:
                    with self.connection.cursor() as cur:
                        for i in range(0, len(keys), self.per_statement):
                            if i:
                                time.sleep(self.between_statements())
                            part = keys[i:i + self.per_statement]
                            if len(part) == 1:
                                base, query = self.url(part[0])
                                cur.execute(ENQUEUE_ONE, (base + part[0] + query, part[0], self.channel))
                            else:
                                base, query = self.url("")
                                cur.execute(ENQUEUE_MANY, (base, query, self.channel, part))
                except psycopg.Error as error:
                    self.ledger.record("aborted", keys)
                    if not isinstance(error, psycopg.OperationalError):
                        self.ledger.errors.append(f"{self.name}: {error}".strip())
                    self._drop()
                    continue
                try:
                    self.connection.commit()
                    self.ledger.record("committed", keys)
                except psycopg.Error:
                    self.ledger.record("in_doubt", keys)
                    self._drop()
        except Exception as error:  # a harness bug: make it fail the scenario, not vanish
            self.ledger.errors.append(f"{self.name}: {type(error).__name__}: {error}")
        finally:
            if self.connection is not None:
                self._drop()

    def stop(self):
        self.stop_event.set()


def batches(keys: list[str], size: int) -> Callable[[], list[str] | None]:
    """A thread-safe source of transactions: `keys` in lists of `size`."""
    lock = threading.Lock()
    position = [0]

    def take():
        with lock:
            start = position[0]
            if start >= len(keys):
                return None
            position[0] = start + size
            return keys[start:start + size]

    return take


# ---------------------------------------------------------------------------------------
# Scope and run


class Scope:
    """What one scenario started; `close` stops all of it."""

    def __init__(self, run: "Run", name: str):
        self.run = run
        self.name = name
        self.log_dir = run.log_dir / name
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir = run.work_dir / name
        self.arrivals_from = run.receiver.offset()
        self.workers: list[Worker] = []
        self.clusters: list[Cluster] = []
        self.producers: list[Producer] = []

    def cluster(self, durable: bool = False, settings: dict[str, str] | None = None) -> Cluster:
        cluster = Cluster(self.work_dir / "pg", durable)
        self.clusters.append(cluster)
        cluster.start()
        cluster.install(settings, self.run.sql_script)
        return cluster

    def worker(self, cluster: Cluster, name: str, start: bool = True, **options) -> Worker:
        worker = Worker(self.run.httpq, cluster, name, self.log_dir / f"worker-{name}.log", **options)
        self.workers.append(worker)
        return worker.start() if start else worker

    def arrivals(self) -> list[Arrival]:
        """This scenario's arrivals so far."""
        return self.run.receiver.arrivals(self.name, self.arrivals_from)

    def database_errors(self) -> list[str]:
        """Statements that failed with an ERROR, from the server logs and the worker logs: a
        bug in the SQL or the worker that a fault brought out. A lost connection is FATAL or
        a closed socket, never ERROR, and no scenario sends a statement meant to fail."""
        found = []
        for cluster in self.clusters:
            found += [f"postgres.log: {line[:300]}" for line in cluster.log_text().splitlines() if " ERROR: " in line]
        for worker in self.workers:
            try:
                text = worker.log_path.read_text(errors="replace")
            except FileNotFoundError:
                continue
            found += [f"{worker.log_path.name}: {line[:300]}" for line in text.splitlines() if 'error="ERROR:' in line]
        return found

    def producer(self, *args, **kwargs) -> Producer:
        producer = Producer(*args, **kwargs)
        self.producers.append(producer)
        return producer

    def close(self):
        for producer in self.producers:
            producer.stop()
        for worker in self.workers:
            worker.kill()
        for producer in self.producers:
            if producer.ident is not None:
                producer.join(15)
        for cluster in self.clusters:
            cluster.stop()
            log = cluster.directory / "postgres.log"
            if log.exists():
                shutil.copy(log, self.log_dir / "postgres.log")


class Run:
    """One run of the suite: the built worker, the receiver, a work directory under /tmp
    (the postgres user must reach it) and the log directory kept after the run."""

    def __init__(self, httpq: Path, log_dir: Path, quick: bool, sql_script: Path | None = None):
        self.httpq = httpq
        self.sql_script = sql_script
        self.quick = quick
        self.log_dir = log_dir
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        import tempfile
        self.work_dir = Path(tempfile.mkdtemp(prefix="httpq-chaos."))
        os.chmod(self.work_dir, 0o755)
        self.scopes: list[Scope] = []
        self.receiver = Receiver(log_dir)

    def scope(self, name: str) -> Scope:
        scope = Scope(self, name)
        self.scopes.append(scope)
        return scope

    def close(self):
        for scope in self.scopes:
            try:
                scope.close()
            except Exception as error:
                print(f"chaos: cleaning up {scope.name}: {error}")
        self.receiver.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)
