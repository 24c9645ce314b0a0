#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# keyd's log lines: with "<N>" syslog priority prefixes when its stderr is
# the journal stream systemd named in JOURNAL_STREAM (device:inode), lines
# for people otherwise, even when the variable was inherited by a process
# whose stderr goes elsewhere; --log-level filters them.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_BINARY:?}"

start_open_bus

# run_keyd LOG JOURNAL_STREAM-VALUE [ARGS...]: keyd until it owns its name,
# then SIGTERM; its stderr in LOG. The value "self" stands for LOG's own
# device:inode, as systemd would set it for its stream.
run_keyd() {
        local log=$1 js=$2
        shift 2
        : >"$log"
        [[ $js == self ]] && js=$(stat -c '%d:%i' "$log")
        mkdir -p "$tmp/state"
        chmod 0700 "$tmp/state"
        JOURNAL_STREAM=$js DBUS_SYSTEM_BUS_ADDRESS=$address "$KEYD_BINARY" --bus=system --backend=software \
                --state-dir="$tmp/state" "$@" </dev/null 2>>"$log" &
        keyd_pid=$!
        _pids+=("$keyd_pid")
        wait_for_name
        bctl call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" CreateCryptoSession sss \
                9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f "" c1949895-d72a-4a1d-8e5d-ed857d171520 >/dev/null ||
                fail "CreateCryptoSession failed"
        kill -TERM "$keyd_pid"
        wait "$keyd_pid" || fail "keyd exited with status $? on SIGTERM: $(cat "$log")"
}

# ---- journal: every line "<N>text", N the syslog priority ----
run_keyd "$tmp/journal.log" self --log-level=debug
bad=$(grep -v -E '^<[0-7]>[^<]' "$tmp/journal.log" || true)
[[ -z $bad ]] || fail "lines without a <N> prefix under JOURNAL_STREAM: $bad"
grep -q -E "^<6>keyd [0-9.]+ serving $KEYD_BUS_NAME" "$tmp/journal.log" || fail "no <6> start line: $(cat "$tmp/journal.log")"
grep -q -E '^<6>Session 1 created for :[0-9.]+ \(uid [0-9]+, pid [0-9]+\)' "$tmp/journal.log" ||
        fail "no <6> session line: $(cat "$tmp/journal.log")"
grep -q -E '^keyd:' "$tmp/journal.log" && fail "the journal gets people's 'keyd:' prefixes"
ok "JOURNAL_STREAM naming stderr: <N> prefixes ($(wc -l <"$tmp/journal.log") lines)"

# Errors carry <3>, and a bad command line is logged before anything else.
status=0
: >"$tmp/error.log"
js=$(stat -c '%d:%i' "$tmp/error.log")
JOURNAL_STREAM=$js "$KEYD_BINARY" --log-level=loud 2>>"$tmp/error.log" || status=$?
expect_eq "bad --log-level exit status" "$status" 1
grep -q -E '^<3>Invalid --log-level=loud' "$tmp/error.log" || fail "no <3> error line: $(cat "$tmp/error.log")"
ok "errors are <3> in the journal"

# ---- --log-level=warning: no <6> lines left ----
run_keyd "$tmp/warning.log" self --log-level=warning
if grep -q -E '^<[4-7]>' "$tmp/warning.log"; then
        fail "--log-level=warning let through: $(grep -E '^<[4-7]>' "$tmp/warning.log")"
fi
ok "--log-level=warning drops info and debug"

# ---- people: no JOURNAL_STREAM, or one that is not our stderr ----
for js in "" "1:2" "garbage"; do
        run_keyd "$tmp/plain.log" "$js"
        if grep -q -E '^<[0-7]>' "$tmp/plain.log"; then
                fail "JOURNAL_STREAM='$js' (not stderr): journal prefixes: $(cat "$tmp/plain.log")"
        fi
        grep -q -E "^keyd: keyd [0-9.]+ serving $KEYD_BUS_NAME" "$tmp/plain.log" ||
                fail "JOURNAL_STREAM='$js': no readable start line: $(cat "$tmp/plain.log")"
        grep -q -E '^keyd: Session 1 created for' "$tmp/plain.log" ||
                fail "JOURNAL_STREAM='$js': no readable session line: $(cat "$tmp/plain.log")"
        ok "JOURNAL_STREAM='$js': readable lines"
done
"$KEYD_BINARY" --log-level=loud 2>"$tmp/plain.log" && fail "bad --log-level accepted"
grep -q -E '^keyd: error: Invalid --log-level=loud' "$tmp/plain.log" || fail "no readable error: $(cat "$tmp/plain.log")"
ok "errors read 'keyd: error: ...' for people"

echo "PASS: journal and log levels"
