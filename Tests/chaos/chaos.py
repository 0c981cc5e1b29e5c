#!/usr/bin/env python3
"""The chaos suite: the worker binary against a real Postgres and a real HTTP receiver on
loopback, with faults injected, and every request accounted for.

    chaos.py --httpq PATH [--quick] [--only s1,s4] [--sql SCRIPT] [--logs DIR]

Each scenario runs in its own throwaway cluster, prints its table and checks, and the run
ends with `chaos: N passed, N failed`; the exit status is 1 if any scenario failed. Besides
its own checks (accounting.py has those every scenario makes), each scenario fails if a
statement failed with a database ERROR (server log or worker log): a lost connection is
not one, so such a line is a bug in the SQL or the worker that the fault brought out. Logs (worker logs,
postgres.log, the receiver's arrivals, the soak's samples) stay in --logs after the run.
"""
import argparse
import importlib
import signal
import sys
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accounting import Result  # noqa: E402
from harness import Run, SetupError  # noqa: E402

SCENARIOS = [
    ("s1", "s1_kill_worker"),
    ("s2", "s2_database_crash"),
    ("s3", "s3_exactly_once"),
    ("s4", "s4_stale_worker"),
    ("s5", "s5_terminate_connections"),
    ("s6", "s6_soak"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--httpq", required=True, type=Path, help="the built httpq binary")
    parser.add_argument("--quick", action="store_true", help="every scenario at reduced size")
    parser.add_argument("--only", help="comma-separated scenario names (s1..s6)")
    parser.add_argument("--sql", type=Path,
                        help="install httpq from this script as plain SQL instead of CREATE EXTENSION")
    parser.add_argument("--logs", type=Path, default=Path(__file__).resolve().parents[2] / ".build" / "chaos" / "logs")
    args = parser.parse_args()
    chosen = [(name, module) for name, module in SCENARIOS if not args.only or name in args.only.split(",")]
    if not chosen:
        parser.error(f"--only names none of {', '.join(n for n, _ in SCENARIOS)}")

    # SIGTERM (CI's timeout, make's) unwinds like Ctrl-C, so the cleanup below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    mode = "quick" if args.quick else "full"
    print(f"chaos: {mode} run of {', '.join(n for n, _ in chosen)}; worker {args.httpq}; logs in {args.logs}",
          flush=True)
    results: list[Result] = []
    run = Run(args.httpq, args.logs, args.quick, args.sql)
    try:
        for name, module_name in chosen:
            module = importlib.import_module(module_name)
            result = Result(name, module.TITLE(args.quick))
            scope = run.scope(name)
            print(f"{time.strftime('%H:%M:%S')} chaos: {name} {result.title}", flush=True)
            try:
                module.run(scope, result, args.quick)
                errors = scope.database_errors()
                result.check(not errors, f"no statement failed with a database ERROR: {len(errors)} did"
                             + "".join(f"\n            {e}" for e in errors[:3]))
            except SetupError as error:
                result.error = f"could not run as designed: {error}"
            except Exception:
                result.error = "harness error:\n" + traceback.format_exc()
            finally:
                try:
                    scope.close()
                except Exception as error:
                    result.note(f"cleanup: {error}")
            result.seconds = time.monotonic() - result.started
            results.append(result)
            print(result.render(), flush=True)
    finally:
        run.close()
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    print(f"chaos: {mode} run took {time.monotonic() - started:.0f} s; logs in {args.logs}")
    print(f"chaos: {passed} passed, {failed} failed")
    return 0 if failed == 0 and len(results) == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
