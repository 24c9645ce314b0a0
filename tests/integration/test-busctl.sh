#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# keyd as busctl and keydctl users see it: a private dbus-daemon and the real
# keyd, started here and killed on every way out. Needs KEYD_BINARY,
# KEYDCTL_BINARY, HOLD_SESSION_BINARY and DBUS_DAEMON (meson sets them).

set -euo pipefail

: "${KEYD_BINARY:?}" "${KEYDCTL_BINARY:?}" "${HOLD_SESSION_BINARY:?}"
DBUS_DAEMON=${DBUS_DAEMON:-/usr/bin/dbus-daemon}
BUSCTL=${BUSCTL:-busctl}

NAME=org.keyd.KeyBroker1
MANAGER_PATH=/org/keyd/KeyBroker1
MANAGER_IFACE=org.keyd.KeyBroker1.Manager
SESSION_IFACE=org.keyd.KeyBroker1.CryptoSession
AES128_CTR=9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f
QUOTA=1048576

# Never the host's buses.
unset DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS JOURNAL_STREAM NOTIFY_SOCKET

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyd-busctl-XXXXXX")
pids=()
cleanup() {
        local p
        for p in "${pids[@]}"; do
                kill -KILL "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() {
        echo "FAIL: $*" >&2
        if [[ -s $tmp/keyd.log ]]; then
                echo "---- keyd log ----" >&2
                cat "$tmp/keyd.log" >&2
        fi
        exit 1
}

# expect_eq WHAT GOT EXPECTED
expect_eq() {
        [[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
        echo "ok: $1"
}

# expect_contains WHAT TEXT NEEDLE...
expect_contains() {
        local what=$1 text=$2 needle
        shift 2
        for needle in "$@"; do
                [[ $text == *"$needle"* ]] || fail "$what: '$needle' missing from: $text"
        done
        echo "ok: $what"
}

bctl() {
        "$BUSCTL" --address="$address" "$@"
}

# ---- the bus ----
cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="false"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF

"$DBUS_DAEMON" --nofork --print-address=3 --config-file="$tmp/bus.conf" 3>"$tmp/address" &
pids+=($!)
for _ in $(seq 100); do
        [[ -s $tmp/address ]] && break
        sleep 0.1
done
address=$(head -n1 "$tmp/address")
[[ $address == unix:* ]] || fail "dbus-daemon printed no address"
echo "bus: $address"

# ---- keyd ----
mkdir -m 0700 "$tmp/state"
start_keyd() {
        DBUS_SYSTEM_BUS_ADDRESS=$address "$KEYD_BINARY" --bus=system --backend=software \
                --state-dir="$tmp/state" --max-surface-bytes-per-client=$QUOTA 2>>"$tmp/keyd.log" &
        keyd_pid=$!
        pids+=("$keyd_pid")
        # keyd takes its name after its objects are registered: once the
        # name has an owner, keyd serves.
        for _ in $(seq 300); do
                kill -0 "$keyd_pid" 2>/dev/null || fail "keyd exited during start-up"
                if [[ $(bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                                NameHasOwner s "$NAME" 2>/dev/null) == "b true" ]]; then
                        return 0
                fi
                sleep 0.1
        done
        fail "keyd did not take $NAME within 30 s"
}
start_keyd

# ---- the manager, with busctl ----
out=$(bctl introspect "$NAME" "$MANAGER_PATH")
expect_contains "introspect manager" "$out" "$MANAGER_IFACE" \
        ".GetContentProtectionCaps" ".CheckCryptoKeyExchange" ".GetCryptoSessionPrivateDataSize" \
        ".CreateCryptoSession" ".SessionCount" ".MaxSessionsPerClient" ".Backend" ".Version"

out=$(bctl call "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" GetContentProtectionCaps ss "$AES128_CTR" "")
expect_eq "GetContentProtectionCaps" "$out" "uuut 17657 4 16 $QUOTA"

# braces and upper case are accepted in
out=$(bctl call "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" GetContentProtectionCaps ss \
        "{9B6BD711-4F74-41C9-9E7B-0BE2D7D93B4F}" "")
expect_eq "GetContentProtectionCaps with a braced GUID" "$out" "uuut 17657 4 16 $QUOTA"

out=$(bctl call "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" CheckCryptoKeyExchange ssu "$AES128_CTR" "" 0)
expect_eq "CheckCryptoKeyExchange 0" "$out" 's "c1949895-d72a-4a1d-8e5d-ed857d171520"'

# Caps and the key-exchange list agree (contract section 7): HW_PROTECTION is
# listed exactly when HARDWARE_DRM_COMMUNICATION (0x4000) is set, for every
# decoder profile.
HW_PROTECTION=b1170d8a-628d-4da3-ad3b-82ddb08b4970
for profile in "" 1b81be68-a0c7-11d3-b984-00c04f2e73c5 5b11d51b-2f4c-4452-bcc3-09f2a1160cc0 \
        107af0e0-ef1a-4d19-aba8-67a163073d13 463707f8-a1d0-4585-876d-83aa6d60b89e \
        b8be4ccb-cf53-46ba-8d59-d6b8a6da5d2a; do
        read -r _ caps count _ < <(bctl call "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" GetContentProtectionCaps ss \
                "$AES128_CTR" "$profile")
        listed=no
        for ((i = 0; i < count; i++)); do
                out=$(bctl call "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" CheckCryptoKeyExchange ssu "$AES128_CTR" \
                        "$profile" "$i")
                [[ $out == "s \"$HW_PROTECTION\"" ]] && listed=yes
        done
        drm=no
        (( caps & 0x4000 )) && drm=yes
        [[ $listed == "$drm" ]] ||
                fail "profile '$profile': caps $caps has HARDWARE_DRM_COMMUNICATION: $drm; HW_PROTECTION listed: $listed"
        [[ $drm == yes ]] || fail "profile '$profile': the software backend offers HW_PROTECTION (its TEE), caps $caps"
done
echo "ok - caps and key exchanges agree on HARDWARE_DRM_COMMUNICATION / HW_PROTECTION"

out=$(bctl get-property "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" SessionCount)
expect_eq "SessionCount" "$out" "u 0"
out=$(bctl get-property "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" Backend)
expect_eq "Backend" "$out" 's "software"'

if out=$(bctl call "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" GetContentProtectionCaps ss "not-a-guid" "" 2>&1); then
        fail "GetContentProtectionCaps with a malformed GUID succeeded: $out"
fi
expect_contains "malformed GUID" "$out" "0x80070057: " "not-a-guid"

# ---- a session held open by a libkeyd client ----
coproc HOLD { exec "$HOLD_SESSION_BINARY" "$address"; }
# bash forgets HOLD_PID and HOLD once the coprocess ends: keep copies.
hold_pid=$HOLD_PID
pids+=("$hold_pid")
hold_in=${HOLD[1]}
read -r -t 30 -u "${HOLD[0]}" session_path handle || fail "keyd-hold-session printed no session"
[[ $session_path == /org/keyd/KeyBroker1/session/* ]] || fail "odd session path '$session_path'"
echo "held: $session_path handle $handle"

out=$(bctl get-property "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" SessionCount)
expect_eq "SessionCount with a held session" "$out" "u 1"

out=$(bctl introspect "$NAME" "$session_path")
expect_contains "introspect session" "$out" "$SESSION_IFACE" \
        ".GetCertificate" ".NegotiateCryptoSessionKeyExchange" ".CheckCryptoSessionStatus" ".Close" \
        ".Handle" ".Owner" ".KeyExchangeType"
# The read-back methods as busctl shows them: keyd returns the IV it chose.
out=$(bctl introspect "$NAME" "$session_path" "$SESSION_IFACE")
grep -Eq '^\.EncryptionBlt +method +u +ayay ' <<<"$out" || fail "EncryptionBlt is not (u) -> (ay ay): $out"
grep -Eq '^\.EncryptionBltToFd +method +uh +ay ' <<<"$out" || fail "EncryptionBltToFd is not (uh) -> (ay): $out"
grep -q '^\.EncryptionBltFd ' <<<"$out" && fail "the keyd-allocated EncryptionBltFd is still there: $out"
echo "ok - EncryptionBlt (u) -> (ay data, ay iv), EncryptionBltToFd (u h) -> (ay iv)"

out=$(bctl tree "$NAME")
expect_contains "tree lists the session" "$out" "$session_path"

out=$(bctl get-property "$NAME" "$session_path" "$SESSION_IFACE" Handle)
expect_eq "session Handle" "$out" "t $handle"
out=$(bctl get-property "$NAME" "$session_path" "$SESSION_IFACE" DecoderProfile)
expect_eq "session DecoderProfile" "$out" 's "5b11d51b-2f4c-4452-bcc3-09f2a1160cc0"'
out=$(bctl get-property "$NAME" "$session_path" "$SESSION_IFACE" Status)
expect_eq "session Status" "$out" "u 0"

# busctl is another connection: the session's methods are not its to call.
if out=$(bctl call "$NAME" "$session_path" "$SESSION_IFACE" CheckCryptoSessionStatus 2>&1); then
        fail "another connection called CheckCryptoSessionStatus: $out"
fi
expect_contains "another connection is refused" "$out" "0x80070005: "
if out=$(bctl call "$NAME" "$session_path" "$SESSION_IFACE" Close 2>&1); then
        fail "another connection closed the session: $out"
fi
out=$(bctl get-property "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" SessionCount)
expect_eq "the refused Close closed nothing" "$out" "u 1"

out=$("$KEYDCTL_BINARY" --address="$address" sessions) || fail "keydctl sessions failed: $out"
expect_contains "keydctl sessions" "$out" "$session_path"

# Closing its stdin releases the session.
exec {hold_in}>&-
wait "$hold_pid" || fail "keyd-hold-session failed"
for _ in $(seq 100); do
        out=$(bctl get-property "$NAME" "$MANAGER_PATH" "$MANAGER_IFACE" SessionCount)
        [[ $out == "u 0" ]] && break
        sleep 0.1
done
expect_eq "SessionCount after release" "$out" "u 0"

# ---- keydctl ----
out=$("$KEYDCTL_BINARY" --address="$address" caps) || fail "keydctl caps failed: $out"
expect_contains "keydctl caps" "$out" "0x000044f9" "DECRYPTION_BLT" "Key exchange types:    4" \
        "c1949895-d72a-4a1d-8e5d-ed857d171520" "Block alignment size:  16" "$QUOTA bytes"

for kx in sha512 sha256 sha1; do
        out=$("$KEYDCTL_BINARY" --address="$address" negotiate --key-exchange=$kx --profile=h264) ||
                fail "keydctl negotiate --key-exchange=$kx failed: $out"
        expect_contains "keydctl negotiate --key-exchange=$kx" "$out" "0x00000000 S_OK" "RSA 2048-bit" "Status:"
done

# ---- no keyd ----
kill -TERM "$keyd_pid"
status=0
wait "$keyd_pid" || status=$?
expect_eq "keyd exit status after SIGTERM" "$status" "0"

status=0
out=$("$KEYDCTL_BINARY" --address="$address" --timeout=5 caps 2>&1) || status=$?
[[ $status -ne 0 ]] || fail "keydctl caps without keyd exited 0: $out"
expect_contains "keydctl caps without keyd" "$out" "0x80070426"

status=0
out=$("$KEYDCTL_BINARY" --address="$address" --timeout=5 negotiate 2>&1) || status=$?
[[ $status -ne 0 ]] || fail "keydctl negotiate without keyd exited 0: $out"
expect_contains "keydctl negotiate without keyd" "$out" "0x80070426"

echo "all busctl/keydctl checks passed"
