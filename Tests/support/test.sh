#!/usr/bin/env bash
# `make test`: everything from nothing. Installs missing packages, starts a throwaway
# cluster, installs the extension, runs the SQL suites, the upgrade check, the secrets check,
# the AWS check, the dashboard check and the Swift tests, and cleans up.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

bash Tests/support/packages.sh

dir=$(mktemp -d /tmp/httpq-test.XXXXXX)
cleanup() { bash "$root/Tests/support/cluster.sh" stop "$dir"; rm -rf "$dir"; }
trap cleanup EXIT
bash Tests/support/cluster.sh start "$dir"
eval "$(bash Tests/support/cluster.sh env "$dir")"

make -s install
mkdir -p .build
sql_status=0
make -s installcheck 2>&1 | tee .build/installcheck.log || sql_status=$?
passed=$(grep -cE '(\.\.\. ok|^ok [0-9])' .build/installcheck.log || true)
failed=$(grep -cE '(\.\.\. FAILED|^not ok [0-9])' .build/installcheck.log || true)
if [ "$sql_status" != 0 ]; then
    for f in .build/regress/regression.diffs .build/isolation/regression.diffs; do
        [ -s "$f" ] && cat "$f"
    done
    [ "$failed" = 0 ] && failed=1
fi
echo "pg_regress: $passed passed, $failed failed"

# Package.swift lists sql/ and extension/ when SwiftPM evaluates it, and SwiftPM's shared
# cache keys an evaluation by the manifest's text alone: one made before a file was added
# would leave that file out of the build. Evaluate it afresh.
rm -rf "${HOME:-/root}/.cache/org.swift.swiftpm/manifests"

# The checks below run the httpq binary: built once for both.
built=0
swift build --product httpq && built=1
httpq_bin="$(swift build --show-bin-path)/httpq"

# The upgrade from the last release, on both install paths: the catalog equals a fresh
# install's, and every request is kept and then finished by a worker of this version.
upgrade_status=0
if [ "$built" = 1 ]; then
    bash Tests/upgrade/upgrade.sh "$httpq_bin" || upgrade_status=$?
else
    upgrade_status=1
    echo "upgrade: 0 passed, 4 failed (the httpq binary did not build)"
fi

# Secrets and signing end to end, on a cluster of its own: the values reach the receiver,
# signatures verify with the standardwebhooks package, a wrong key fails closed, rekey
# works, and no value is left in the data directory, logs, dumps, views or CLI output.
secrets_status=0
if [ "$built" = 1 ]; then
    bash Tests/secrets/secrets.sh "$httpq_bin" || secrets_status=$?
else
    secrets_status=1
    echo "secrets: 0 passed, 6 failed (the httpq binary did not build)"
fi

# AWS destinations end to end, on a cluster of its own, against moto in server mode with its
# signature checks on: SQS and SNS messages arrive with their attributes, a FIFO queue keeps
# the ordering key's order, a wrong secret key is dead with AWS's error, throttling is retried.
aws_status=0
if [ "$built" = 1 ]; then
    bash Tests/aws/aws.sh "$httpq_bin" || aws_status=$?
else
    aws_status=1
    echo "aws: 0 passed, 5 failed (the httpq binary did not build)"
fi

# The dashboard in headless Chromium, on a cluster of its own: the overview, a channel's dead
# requests page by page, a request's attempts and response, markup from a destination shown as
# text, the security headers, 404s, a 503 while the database is down, and a clean stop.
dashboard_status=0
if [ "$built" = 1 ]; then
    bash Tests/dashboard/dashboard.sh "$httpq_bin" || dashboard_status=$?
else
    dashboard_status=1
    echo "dashboard: 0 passed, 8 failed (the httpq binary did not build)"
fi

# The Swift tests share one database; each test isolates itself by channel name.
psql -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS httpq_test' -c 'CREATE DATABASE httpq_test'
psql -qX -v ON_ERROR_STOP=1 -d httpq_test -c 'CREATE EXTENSION httpq'
export HTTPQ_TEST_DATABASE_URL="dbname=httpq_test"

swift_status=0
swift build --build-tests && swift test || swift_status=$?

# The example application (Examples/Orders) builds against this package. In this package's
# build folder it reuses the dependencies just built: seconds instead of minutes.
example_status=0
swift build --package-path Examples/Orders --scratch-path .build || example_status=$?
echo "example: $([ "$example_status" = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed")"

[ "$sql_status" = 0 ] && [ "$upgrade_status" = 0 ] && [ "$secrets_status" = 0 ] && [ "$aws_status" = 0 ] && [ "$dashboard_status" = 0 ] && [ "$swift_status" = 0 ] && [ "$example_status" = 0 ]
