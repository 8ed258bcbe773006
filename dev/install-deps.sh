#!/usr/bin/env bash
# Installs the Debian packages Segments needs to build, run and test, if any is missing.
set -euo pipefail
# With --test: also what only the tests use (Chromium drives the web console's pages; openssl makes the TLS tests'
# certificates; iproute2 makes their network namespaces; the store's tests also run on a throwaway PostgreSQL server,
# see dev/postgres-server.sh).
packages=(libsqlite3-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler systemd)
if [ "${1:-}" = "--test" ]; then
    packages+=(chromium openssl iproute2 postgresql)
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
