#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# keyd lives with the unit's SystemCallFilter=: run it under strace while
# clients exercise everything (a new device key and a loaded one, caps, key
# exchanges of every kind, the data path, clients vanishing, SIGTERM) and check that every system call it made is in the set the
# installed unit allows, as systemd-analyze expands its groups.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_UNITDIR:?}" "${KEYDCTL_BINARY:?}" "${KEYD_BINARY:?}"
command -v strace >/dev/null || fail "strace is needed"

dest=$tmp/dest
install_tree "$dest"
unit=$dest$KEYD_UNITDIR/keyd.service

# expand GROUP-OR-CALL: the system calls it stands for.
expand() {
        if [[ $1 != @* ]]; then
                echo "$1"
                return
        fi
        local x
        systemd-analyze syscall-filter "$1" | sed 1d | grep -v -E '^\s*(#|$)' | awk '{ print $1 }' |
                while read -r x; do expand "$x"; done
}

# The unit's SystemCallFilter= lines, in order: the first without "~" is the
# allow list, "~" lines take away, others add.
: >"$tmp/allowed"
while read -r value; do
        if [[ $value == "~"* ]]; then
                for item in ${value#\~}; do expand "$item"; done | sort -u >"$tmp/remove"
                comm -23 "$tmp/allowed" "$tmp/remove" >"$tmp/allowed.new"
        else
                { cat "$tmp/allowed"; for item in $value; do expand "$item"; done; } | sort -u >"$tmp/allowed.new"
        fi
        mv "$tmp/allowed.new" "$tmp/allowed"
done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
(($(wc -l <"$tmp/allowed") > 100)) || fail "the unit's SystemCallFilter= allows almost nothing: $(cat "$tmp/allowed")"
grep -q -x mlock "$tmp/allowed" || fail "the unit's filter does not allow mlock"
ok "the unit allows $(wc -l <"$tmp/allowed") system calls"

start_open_bus
export DBUS_SYSTEM_BUS_ADDRESS=$address
mkdir -p "$tmp/state"
chmod 0700 "$tmp/state"

# traced_keyd N: keyd under strace (all threads); trace in $tmp/trace.N.
traced_keyd() {
        strace -f -qq -o "$tmp/trace.$1" "$KEYD_BINARY" --bus=system --backend=software --state-dir="$tmp/state" \
                ${KEYD_DECODER_BINARY:+--decoder-helper="$KEYD_DECODER_BINARY"} </dev/null >>"$tmp/keyd.log" 2>&1 &
        keyd_pid=$!
        _pids+=("$keyd_pid")
        wait_for_name
}

# stop_traced_keyd: SIGTERM to keyd itself (strace's child), then strace ends.
stop_traced_keyd() {
        local child
        child=$(pgrep -P "$keyd_pid" | head -n1)
        [[ -n $child ]] || fail "keyd is not running under strace"
        kill -TERM "$child"
        wait "$keyd_pid" || fail "keyd under strace ended with status $?"
}

exercise() {
        local kx
        "$KEYDCTL_BINARY" caps --profile=hevc >/dev/null || fail "keydctl caps failed"
        for kx in sha512 sha256 sha1; do
                "$KEYDCTL_BINARY" negotiate --key-exchange=$kx >/dev/null || fail "keydctl negotiate $kx failed"
        done
        if "$KEYDCTL_BINARY" --help | grep -q roundtrip; then
                "$KEYDCTL_BINARY" roundtrip --size=65536 >/dev/null || fail "keydctl roundtrip failed"
                "$KEYDCTL_BINARY" roundtrip --size=1048576 --pattern=16:144:16 --content-key >/dev/null ||
                        fail "keydctl roundtrip (memfd, pattern, content key) failed"
        fi
        "$KEYDCTL_BINARY" sessions >/dev/null || fail "keydctl sessions failed"
        bctl introspect "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" >/dev/null
        bctl call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" CreateCryptoSession sss \
                9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f "" b1170d8a-628d-4da3-ad3b-82ddb08b4970 >/dev/null
        bctl call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" CreateCryptoSession sss \
                nonsense "" "" >/dev/null 2>&1 || true
        # A client that goes away with a negotiated session open.
        if [[ -n ${HOLD_SESSION_BINARY:-} ]]; then
                sleep 2 | "$HOLD_SESSION_BINARY" "$address" >/dev/null
                # A video decoder: keyd-decoder runs under the unit's filter
                # too (strace -f follows it), its own on top.
                if [[ -n ${KEYD_DECODER_BINARY:-} ]]; then
                        sleep 2 | "$HOLD_SESSION_BINARY" "$address" --decoder >/dev/null ||
                                fail "keyd-hold-session --decoder failed"
                fi
        fi
}

traced_keyd 1      # makes the device key
exercise
stop_traced_keyd
traced_keyd 2      # loads it
exercise
stop_traced_keyd

# keyd-decoder links libavcodec, which links libnuma (through libx265), whose
# constructor probes set_mempolicy(2) before main(): under the unit it gets
# EPERM, which libnuma takes as "no NUMA". Only that call of the helpers is
# let through here.
helpers=$(sed -n -E 's/^([0-9]+) +execve\("[^"]*keyd-decoder".*/\1/p' "$tmp"/trace.* | sort -u)
for pid in $helpers; do
        sed -i -E "/^$pid +set_mempolicy\(/d" "$tmp"/trace.*
done
if [[ -n ${KEYD_DECODER_BINARY:-} ]]; then
        [[ -n $helpers ]] || fail "strace saw no keyd-decoder start"
        ok "keyd-decoder ran under strace ($(wc -w <<<"$helpers") of them)"
fi
sed -n -E 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$tmp"/trace.* | sort -u >"$tmp/used"
(($(wc -l <"$tmp/used") > 20)) || fail "strace saw almost nothing: $(cat "$tmp/used")"
# execve is keyd's own start, before systemd applies the filter.
outside=$(comm -23 "$tmp/used" "$tmp/allowed" | grep -v -x execve || true)
[[ -z $outside ]] || fail "keyd made system calls the unit's SystemCallFilter= denies: $(echo "$outside" | tr '\n' ' ')"
ok "all $(wc -l <"$tmp/used") system calls keyd made are allowed by the unit"

# RestrictAddressFamilies=AF_UNIX and PrivateNetwork=: only unix sockets.
families=$(sed -n -E 's/^[0-9]+ +socket\(([A-Z0-9_]+),.*/\1/p' "$tmp"/trace.* | sort -u)
[[ $families == AF_UNIX ]] || fail "keyd opened sockets of families: $families"
ok "keyd opens AF_UNIX sockets only"

# ProtectSystem=strict: what keyd opens for writing by absolute path is in
# its state directory (the device key is written relative to it, by fd).
writes=$(sed -n -E 's/^[0-9]+ +open(at)?\((AT_FDCWD, )?"(\/[^"]*)", [^)]*(O_WRONLY|O_RDWR|O_CREAT).*/\3/p' "$tmp"/trace.* |
        grep -v -E "^$tmp/state(/|\$)|^/dev/null\$" || true)
[[ -z $writes ]] || fail "keyd opened for writing outside its state directory: $writes"
grep -q -E 'openat\([0-9]+, "\.#device-key' "$tmp/trace.1" || fail "the first keyd did not write its device key"
ok "keyd writes only in its state directory"

echo "PASS: system call filter"
