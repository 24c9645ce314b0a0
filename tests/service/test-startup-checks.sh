#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What keyd checks before it makes a device key: that the bus is there and
# the name is free (else an RSA key would be made, and left behind, by a keyd
# that cannot serve), and that its state directory is its own and closed to
# everyone else (else others could read the private key).

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_BINARY:?}"

# run_keyd_to_exit NAME STATE-DIR [ARGS...]: keyd on $address, expected to
# exit by itself; its status in $status, its log in $tmp/NAME.log.
run_keyd_to_exit() {
        local name=$1 dir=$2
        shift 2
        status=0
        DBUS_SYSTEM_BUS_ADDRESS=$address timeout 60 "$KEYD_BINARY" --bus=system --backend=software \
                --state-dir="$dir" "$@" </dev/null >"$tmp/$name.log" 2>&1 || status=$?
}

# expect_no_key WHAT DIR: keyd made nothing in DIR.
expect_no_key() {
        local left
        left=$(ls -A "$2")
        [[ -z $left ]] || fail "$1: keyd left files in its state directory: $left"
        ok "$1: no device key made"
}

# ---- no bus at all ----
mkdir -m 0700 "$tmp/state-nobus"
address=unix:path=$tmp/no-such-bus
run_keyd_to_exit nobus "$tmp/state-nobus"
expect_eq "keyd without a bus: exit status" "$status" 1
expect_contains "keyd without a bus: message" "$(cat "$tmp/nobus.log")" "Failed to connect to the system bus"
expect_no_key "keyd without a bus" "$tmp/state-nobus"

# ---- the name is already owned ----
start_open_bus
start_keyd
mkdir -m 0700 "$tmp/state-second"
run_keyd_to_exit second "$tmp/state-second"
expect_eq "a second keyd: exit status" "$status" 1
expect_contains "a second keyd: message" "$(cat "$tmp/second.log")" \
        "Another process already owns $KEYD_BUS_NAME on this bus" "no device key made or loaded"
expect_no_key "a second keyd" "$tmp/state-second"
stop_keyd

# ---- a state directory that others can read ----
for mode in 0755 0750 0701; do
        dir=$tmp/state-$mode
        mkdir -m "$mode" "$dir"
        run_keyd_to_exit "mode-$mode" "$dir"
        expect_eq "state directory $mode: exit status" "$status" 1
        expect_contains "state directory $mode: message" "$(cat "$tmp/mode-$mode.log")" \
                "$dir: the state directory has mode $mode, so other users can reach the device key" \
                "expected 0700 (run chmod 0700 $dir"
        expect_no_key "state directory $mode" "$dir"
done

# ---- one that another user owns ----
mkdir -m 0700 "$tmp/state-nobody"
chown 65534 "$tmp/state-nobody"
run_keyd_to_exit owner "$tmp/state-nobody"
expect_eq "state directory of uid 65534: exit status" "$status" 1
expect_contains "state directory of uid 65534: message" "$(cat "$tmp/owner.log")" \
        "the state directory belongs to uid 65534, not to keyd's uid 0" "run chown 0 $tmp/state-nobody"
expect_no_key "state directory of uid 65534" "$tmp/state-nobody"

# ---- and 0700, its own: keyd starts and makes its key ----
mkdir -m 0700 "$tmp/state-good"
DBUS_SYSTEM_BUS_ADDRESS=$address "$KEYD_BINARY" --bus=system --backend=software \
        --state-dir="$tmp/state-good" </dev/null >>"$tmp/keyd.log" 2>&1 &
keyd_pid=$!
_pids+=("$keyd_pid")
wait_for_name
[[ -f $tmp/state-good/device-key.pem ]] || fail "keyd with a 0700 state directory made no device key"
ok "state directory 0700 of keyd's own: keyd serves, device key made"
stop_keyd
