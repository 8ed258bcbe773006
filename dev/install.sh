#!/usr/bin/env bash
# Installs Segments as system services: release binaries to /usr/local/bin, units to
# /etc/systemd/system, a "segments" system user and group, then reloads systemd.
#
#   dev/install.sh            # build, install, reload (does not start anything)
#   sudo systemctl enable --now profile-store segment-evaluator@0
#
# Environment: PREFIX (default /usr/local), UNIT_DIR (default /etc/systemd/system),
# DESTDIR (staging root for packaging; skips user creation and systemctl), SKIP_BUILD=1 (install
# what is already built).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="${PREFIX:-/usr/local}"
unit_dir="${UNIT_DIR:-/etc/systemd/system}"
destdir="${DESTDIR:-}"

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd="sudo"
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    dev/install-deps.sh
    swift build -c release --product profile-store
    swift build -c release --product segclient
    swift build -c release --product segment-evaluator
fi
bin="$(swift build -c release --show-bin-path)"

binaries=(profile-store segment-evaluator segclient)
units=(profile-store.service segment-evaluator@.service)

$sudo_cmd install -d -m 0755 "$destdir$prefix/bin" "$destdir$unit_dir" "$destdir$prefix/share/doc/segments"
for binary in "${binaries[@]}"; do
    if [ -x "$bin/$binary" ]; then
        $sudo_cmd install -m 0755 "$bin/$binary" "$destdir$prefix/bin/$binary"
        echo "installed $destdir$prefix/bin/$binary"
    else
        echo "skipped $binary: not built" >&2
    fi
done
for unit in "${units[@]}"; do
    # Units name /usr/local/bin; follow PREFIX when it differs.
    sed "s#/usr/local/bin/#$prefix/bin/#g; s#/usr/local/share/doc/#$prefix/share/doc/#g" "Services/$unit" \
        | $sudo_cmd tee "$destdir$unit_dir/$unit" >/dev/null
    $sudo_cmd chmod 0644 "$destdir$unit_dir/$unit"
    echo "installed $destdir$unit_dir/$unit"
done
if [ -f README.md ]; then
    $sudo_cmd install -m 0644 README.md "$destdir$prefix/share/doc/segments/README.md"
fi

if [ -n "$destdir" ]; then
    echo "DESTDIR set: not creating the user or touching systemd"
    exit 0
fi

# The services run as "segments"; add people who use segclient to its group.
if ! getent group segments >/dev/null; then
    $sudo_cmd groupadd --system segments
    echo "created group segments"
fi
if ! getent passwd segments >/dev/null; then
    nologin="$(command -v nologin || echo /usr/sbin/nologin)"
    $sudo_cmd useradd --system --gid segments --home-dir /var/lib/segments --no-create-home \
        --shell "$nologin" --comment "Segments services" segments
    echo "created user segments"
fi

# systemd must be PID 1 and running (not in a container without it, not in a chroot).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    $sudo_cmd systemctl daemon-reload
    echo "systemd reloaded. Start with:"
    echo "  sudo systemctl enable --now profile-store.service segment-evaluator@0.service"
else
    echo "systemd is not running here: units installed but not loaded"
fi
