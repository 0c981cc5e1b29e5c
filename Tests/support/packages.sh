#!/usr/bin/env bash
# Installs the Debian packages httpq needs, when they are missing.
#   packages.sh            build and test: Postgres server and headers, libpq, libcurl, python3
#                          (the test HTTP servers of the upgrade check and the chaos suite),
#                          python3-venv (the secrets check installs standardwebhooks in a venv)
#                          and chromium (the dashboard check loads its pages in a real browser)
#   packages.sh bench      the same plus the benchmark's HTTP sink and load tools
set -euo pipefail

wanted=(postgresql-15 postgresql-server-dev-15 libpq-dev libcurl4-openssl-dev pkg-config make python3 python3-venv chromium)
[ "${1:-}" = bench ] && wanted+=(nginx-light wrk)

missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "httpq: installing Debian packages: ${missing[*]}"
sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "httpq: run as root or install: apt-get install ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
