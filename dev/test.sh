#!/usr/bin/env bash
# The test command: installs what it needs, checks the generated protobuf code and the formatting,
# builds everything, the client library's documentation and the example package (failing on any
# compiler warning in this repository's code) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
dev/install-deps.sh --test
dev/check-generated-code.sh

echo "== format (swift format lint --strict, the repository's .swift-format)" >&2
git ls-files -z '*.swift' ':!:*/Generated/*' | xargs -0 swift format lint --strict

echo "== build (debug, with tests)" >&2
log=$(mktemp)
if ! swift build --build-tests 2>&1 | tee "$log"; then
    echo "test: build failed" >&2
    exit 1
fi
repo=$(pwd)
if grep -E "^$repo/(Sources|Tests)/.*: warning:" "$log" | sort -u | grep .; then
    echo "test: compiler warnings in our code (listed above)" >&2
    exit 1
fi

echo "== client library documentation (DocC, warnings are errors)" >&2
dev/check-docs.sh

echo "== example package (Examples/quick-tour: the client library as another package uses it)" >&2
if ! swift build --package-path Examples/quick-tour 2>&1 | tee "$log"; then
    echo "test: the example package does not build" >&2
    exit 1
fi
if grep -E "^$repo/Examples/.*: warning:" "$log" | sort -u | grep .; then
    echo "test: compiler warnings in the example package (listed above)" >&2
    exit 1
fi

echo "== tests" >&2
# The store's tests (and those that choose it) also run on PostgreSQL: a throwaway server for this run only.
postgres_dir=$(mktemp -d /tmp/segments-test-postgres.XXXXXX)
trap 'dev/postgres-server.sh stop "$postgres_dir"' EXIT
SEGMENTS_TEST_POSTGRES=$(dev/postgres-server.sh start "$postgres_dir")
export SEGMENTS_TEST_POSTGRES
echo "test: PostgreSQL for the tests at $SEGMENTS_TEST_POSTGRES" >&2
# Serially: on 2 cores parallel tests gain little, and CPU-heavy tests would starve the ones
# that wait for real daemons.
swift test --skip-build --no-parallel
