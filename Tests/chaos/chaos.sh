#!/usr/bin/env bash
# `make chaos`: the worker against a real Postgres and a real HTTP receiver on loopback,
# with faults injected, and every request accounted for.
#
#   chaos.sh [--quick] [--only s1,s4]
#
#   --quick   every scenario at reduced size, a few minutes in all (CI runs this)
#   --only    run only the named scenarios (s1 … s6; make chaos ONLY=s1,s4)
#
# Installs what it needs (Debian packages, psycopg into .build/chaos/python), installs the
# extension, builds the worker, then runs Tests/chaos/chaos.py, which starts and stops its
# own clusters, workers and receiver. The worker is the debug build: it is the one `make
# test` already built (no second compile on a small machine), and it keeps Swift's runtime
# checks on, which a fault should trip rather than pass by. No figure depends on its speed:
# the soak measures its drain rate in the same run. Logs stay in .build/chaos/logs.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

args=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) args+=(--quick) ;;
    --only) args+=(--only "${2:?--only needs a list such as s1,s4}"); shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

bash Tests/support/packages.sh
command -v python3 >/dev/null || { echo "chaos: python3 with pip is needed" >&2; exit 1; }
command -v setpriv >/dev/null || { echo "chaos: setpriv (util-linux) is needed" >&2; exit 1; }

# psycopg 3, the pure-Python build over the system's libpq, kept under .build.
pylib=$root/.build/chaos/python
if ! PYTHONPATH=$pylib python3 -c 'import psycopg' 2>/dev/null; then
    echo "chaos: installing psycopg into $pylib"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --target "$pylib" 'psycopg==3.3.9'
fi

sudo=()
[ -w "$(pg_config --sharedir)/extension" ] || sudo=(sudo)
make -s >/dev/null
"${sudo[@]}" make -s install >/dev/null

echo "chaos: building the worker (debug)"
mkdir -p .build/chaos
if ! swift build --product httpq >.build/chaos/build.log 2>&1; then
    tail -30 .build/chaos/build.log
    echo "chaos: the worker did not build (.build/chaos/build.log)" >&2
    exit 1
fi
httpq=$(swift build --show-bin-path)/httpq

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PYTHONPATH=$pylib exec python3 -u Tests/chaos/chaos.py --httpq "$httpq" "${args[@]}"
