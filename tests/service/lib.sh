# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Shared by the tests/service scripts: a temporary directory removed on every
# way out, children killed with it, `meson install --destdir` of the build
# under test, a private dbus-daemon and the real keyd on it. Never the host's
# buses: the environment's bus addresses are dropped.
#
# meson sets: KEYD_BUILD_ROOT, KEYD_SOURCE_ROOT, KEYD_BINARY, DBUS_DAEMON,
# BUSCTL and the install directories KEYD_*DIR (absolute, without DESTDIR).

set -euo pipefail

: "${KEYD_BUILD_ROOT:?set by meson}" "${KEYD_SOURCE_ROOT:?set by meson}"
DBUS_DAEMON=${DBUS_DAEMON:-/usr/bin/dbus-daemon}
BUSCTL=${BUSCTL:-busctl}

unset DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS JOURNAL_STREAM NOTIFY_SOCKET

# For the scripts that source this file.
# shellcheck disable=SC2034
{
        KEYD_BUS_NAME=org.keyd.KeyBroker1
        KEYD_MANAGER_PATH=/org/keyd/KeyBroker1
        KEYD_MANAGER_IFACE=org.keyd.KeyBroker1.Manager
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyd-service-XXXXXX")
_pids=()

_cleanup() {
        local p
        for p in "${_pids[@]}"; do
                kill -KILL "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        rm -rf "$tmp"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
        echo "FAIL: $*" >&2
        if [[ -s $tmp/keyd.log ]]; then
                echo "---- keyd log ----" >&2
                cat "$tmp/keyd.log" >&2
        fi
        exit 1
}

ok() {
        echo "ok: $*"
}

# expect_eq WHAT GOT EXPECTED
expect_eq() {
        [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
        ok "$1"
}

# expect_contains WHAT TEXT NEEDLE...
expect_contains() {
        local what=$1 text=$2 needle
        shift 2
        for needle in "$@"; do
                [[ $text == *"$needle"* ]] || fail "$what: '$needle' missing from: $text"
        done
        ok "$what"
}

# install_tree DESTDIR: what `meson install` of this build puts there.
install_tree() {
        meson install -C "$KEYD_BUILD_ROOT" --no-rebuild --quiet --destdir "$1" >"$tmp/install.log" 2>&1 ||
                fail "meson install --destdir $1 failed: $(cat "$tmp/install.log")"
}

# start_bus CONFIG_BODY: a private dbus-daemon whose configuration is
# <busconfig> CONFIG_BODY </busconfig> plus the listen address; sets $address.
# The socket's directory is world-searchable: other users' clients may connect.
start_bus() {
        local body=$1 i
        mkdir -p "$tmp/run"
        chmod 0755 "$tmp" "$tmp/run"
        cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$tmp/run/bus</listen>
$body
</busconfig>
EOF
        "$DBUS_DAEMON" --nofork --nosyslog --config-file="$tmp/bus.conf" --print-address=3 \
                3>"$tmp/bus.address" 2>"$tmp/bus.log" &
        _pids+=("$!")
        for ((i = 0; i < 100; i++)); do
                if [[ -s $tmp/bus.address ]]; then
                        address=$(head -n1 "$tmp/bus.address")
                        return 0
                fi
                sleep 0.05
        done
        fail "dbus-daemon did not start: $(cat "$tmp/bus.log")"
}

# start_open_bus [CONFIG_LINES]: a bus that lets everyone do everything,
# like the integration tests', with CONFIG_LINES (a <servicedir>...) added.
start_open_bus() {
        start_bus "  <type>system</type>
  <auth>EXTERNAL</auth>
${1:-}
"'  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="false"/>
    <allow receive_sender="*"/>
  </policy>'
}

bctl() {
        "$BUSCTL" --address="$address" "$@"
}

# wait_for_name: until keyd owns its name (or exited: fail).
wait_for_name() {
        local i
        for ((i = 0; i < 600; i++)); do
                if bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                        GetNameOwner s "$KEYD_BUS_NAME" >/dev/null 2>&1; then
                        return 0
                fi
                kill -0 "$keyd_pid" 2>/dev/null || fail "keyd exited before it owned $KEYD_BUS_NAME"
                sleep 0.05
        done
        fail "keyd did not own $KEYD_BUS_NAME within 30 s"
}

# shellcheck disable=SC2120 # callers may pass no arguments
# start_keyd [ARGS...]: keyd (the binary in $KEYD_BINARY) on the bus,
# --backend=software, a state directory of its own; log in $tmp/keyd.log.
start_keyd() {
        mkdir -p "$tmp/state"
        chmod 0700 "$tmp/state"
        # The build tree's keyd-decoder, when the build has one.
        DBUS_SYSTEM_BUS_ADDRESS=$address "$KEYD_BINARY" --bus=system --backend=software \
                --state-dir="$tmp/state" ${KEYD_DECODER_BINARY:+--decoder-helper="$KEYD_DECODER_BINARY"} "$@" \
                </dev/null >>"$tmp/keyd.log" 2>&1 &
        keyd_pid=$!
        _pids+=("$keyd_pid")
        wait_for_name
}

stop_keyd() {
        kill -TERM "$keyd_pid" 2>/dev/null || true
        wait "$keyd_pid" 2>/dev/null || true
}
