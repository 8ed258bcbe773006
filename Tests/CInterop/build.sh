#!/usr/bin/env bash
# Builds the C interop client from the project's .proto files with protoc-c and libprotobuf-c.
#
#   Tests/CInterop/build.sh [OUT_DIR]
#
# Generated C code and the binary go to OUT_DIR (default: .build/cinterop at the repository
# root; nothing here is committed). Prints the path of the built `store_client` as the last
# line of its output. Installs protobuf-c-compiler and libprotobuf-c-dev with apt-get when
# they are missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/.build/cinterop}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

have_headers() {
    printf '#include <protobuf-c/protobuf-c.h>\n' | ${CC:-cc} -E -x c - >/dev/null 2>&1
}

if ! command -v protoc-c >/dev/null 2>&1 || ! have_headers; then
    echo "installing protobuf-c-compiler and libprotobuf-c-dev" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq protobuf-c-compiler libprotobuf-c-dev >&2
fi

generated="$out/generated"
rm -rf "$generated"
mkdir -p "$generated"
protoc-c --c_out="$generated" -I "$root/Protos" "$root"/Protos/segments/v1/*.proto

cc="${CC:-cc}"
# Generated code is compiled as it comes; our own code must be warning-free.
objects=()
for source in "$generated"/segments/v1/*.pb-c.c; do
    object="$out/$(basename "$source" .c).o"
    "$cc" -std=c11 -O1 -g -I "$generated" -c "$source" -o "$object"
    objects+=("$object")
done
"$cc" -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -I "$generated" \
    -c "$here/store_client.c" -o "$out/store_client.o"
"$cc" -o "$out/store_client" "$out/store_client.o" "${objects[@]}" -lprotobuf-c

echo "$out/store_client"
