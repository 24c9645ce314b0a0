#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A real Windows D3D11 program under Wine negotiates a crypto session through
# keyd. In a temporary directory: a private dbus-daemon and the real keyd on
# it, Xvfb (Wine's D3D11CreateDevice needs an X display: wined3d on Mesa's
# llvmpipe), a fresh WINEPREFIX, keyd's d3d11.dll proxy beside the program.
# The program checks its own results (exit 0 = all passed); this script
# checks that keyd saw the session, the key exchange and the surfaces, and
# that without the proxy Wine's own d3d11 has no ID3D11VideoDevice.
# Every process it started is killed and the directory removed on every
# way out. meson sets the variables below; an empty one means the Wine
# tooling was not found at configure time (skip, exit 77).

set -euo pipefail

: "${KEYD_BINARY:?}" "${DBUS_DAEMON:?}"

skip() {
        echo "SKIP: $*"
        exit 77
}

[[ -n ${WINE:-} && -x ${WINE:-} ]] ||
        skip "wine64 not found at configure time; scripts/install-deps installs Wine (wine64, libwine-dev, wine64-tools, mingw-w64, xvfb), then reconfigure with -Dwine=enabled"
[[ -n ${KEYD_D3D11_PROXY:-} && -n ${KEYDWINE:-} && -n ${TEST_EXE:-} ]] ||
        skip "the keyd Wine bridge was not built (needs x86_64-w64-mingw32-gcc and winegcc-stable; -Dwine=enabled)"
[[ -n ${XVFB:-} && -x ${XVFB:-} ]] || skip "Xvfb not found at configure time (package xvfb)"
WINESERVER=${WINESERVER:-wineserver}

# Never the host's buses, display or Wine prefix.
unset DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS JOURNAL_STREAM NOTIFY_SOCKET DISPLAY WAYLAND_DISPLAY

started=$(date +%s%N)
# elapsed: seconds since the start, one decimal
elapsed() {
        local ms=$((($(date +%s%N) - started) / 1000000))
        printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyd-wine-XXXXXX")
export WINEPREFIX=$tmp/prefix
pids=()
cleanup() {
        local p
        # wineserver -k ends every Wine process of this prefix (and itself).
        if [[ -d $WINEPREFIX ]]; then
                timeout 20 "$WINESERVER" -k 2>/dev/null || true
        fi
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
        local f
        for f in program.log keyd.log wineboot.log; do
                if [[ -s $tmp/$f ]]; then
                        echo "---- $f ----" >&2
                        cat "$tmp/$f" >&2
                fi
        done
        exit 1
}

ok() {
        echo "ok: $*"
}

# ---- the bus and keyd ----
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
"$DBUS_DAEMON" --nofork --nosyslog --config-file="$tmp/bus.conf" --print-address=3 3>"$tmp/bus.address" \
        2>"$tmp/bus.log" &
pids+=("$!")
for ((i = 0; i < 100; i++)); do
        [[ -s $tmp/bus.address ]] && break
        sleep 0.05
done
[[ -s $tmp/bus.address ]] || fail "dbus-daemon did not start: $(cat "$tmp/bus.log")"
address=$(head -n1 "$tmp/bus.address")

mkdir -m 0700 "$tmp/state"
DBUS_SYSTEM_BUS_ADDRESS=$address "$KEYD_BINARY" --bus=system --backend=software --log-level=debug \
        --state-dir="$tmp/state" </dev/null >"$tmp/keyd.log" 2>&1 &
keyd_pid=$!
pids+=("$keyd_pid")

# ---- Xvfb: -displayfd picks a free display and says which ----
"$XVFB" -displayfd 3 -nolisten tcp -screen 0 640x480x24 3>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
pids+=("$!")

# ---- a fresh prefix (no Mono or Gecko: they would prompt) ----
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
"$WINE" wineboot -i >"$tmp/wineboot.log" 2>&1 || fail "wineboot -i failed"
"$WINESERVER" -w
ok "wineboot in a temporary prefix ($(elapsed) s since start)"

for ((i = 0; i < 100; i++)); do
        [[ -s $tmp/display ]] && break
        sleep 0.05
done
[[ -s $tmp/display ]] || fail "Xvfb did not start: $(cat "$tmp/xvfb.log")"
DISPLAY=:$(head -n1 "$tmp/display")
export DISPLAY
grep -q "Session .* created" "$tmp/keyd.log" && fail "keyd has a session before the program ran"

# ---- the program, with keyd's proxy beside it ----
mkdir "$tmp/app"
cp "$KEYD_D3D11_PROXY" "$tmp/app/d3d11.dll"
cp "$TEST_EXE" "$tmp/app/d3d11-crypto-session.exe"

# In the background and waited for, so that a signal (meson's timeout)
# reaches the traps at once and cleanup ends the Wine processes.
run_program() {
        (cd "$tmp/app" &&
                DBUS_SYSTEM_BUS_ADDRESS=$address KEYD_WINE_HELPER=$KEYDWINE \
                        LD_LIBRARY_PATH=${KEYD_LIBDIR:-}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
                        timeout 120 "$WINE" d3d11-crypto-session.exe) &
        wait $!
}

status=0
# winedbg disabled: a crash ends the program at once instead of waiting
# in the debugger for the timeout.
WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d;d3d11=n,b" run_program >"$tmp/program.log" 2>&1 || status=$?
cat "$tmp/program.log"
[[ $status -eq 0 ]] || fail "the Windows program exited with $status"
grep -q '^PASS: 0 check(s) failed' "$tmp/program.log" || fail "the program did not report PASS"
ok "the Windows program passed every check under Wine ($(elapsed) s since start)"
for message in \
        "0x80070057: DecryptionBlt: pCryptoSession is NULL, expected a session" \
        "0x80070057: DecryptionBlt: pSrcSurface is NULL, expected a texture" \
        "0x80070057: DecryptionBlt: IVSize is 8 bytes; a D3D11_AES_CTR_IV is 16" \
        "0x80070057: EncryptionBlt: pDstSurface holds 64 bytes, the protected surface 256" \
        "0x80070057: CheckCryptoSessionStatus: an earlier DecryptionBlt on this session failed" \
        "0x80070057: DecryptionBlt: pSrcSurface: the texture is 16385x16384; expected 1 to 16384" \
        "0x80070057: EncryptionBlt: pDstSurface: the texture is 16385x16384; expected 1 to 16384" \
        "0x80070057: GetVideoDecoderCaps: the keyd bridge has no video decoder profiles" \
        "0x80004001: GetDataForNewHardwareKey: keyd has no hardware keys"; do
        grep -qF "keyd-d3d11: $message" "$tmp/program.log" || fail "no message '$message' from the proxy"
done
ok "the proxy said what was wrong with each bad call, and CheckCryptoSessionStatus reported the failed void calls"

# ---- what keyd saw ----
for ((i = 0; i < 100; i++)); do
        grep -q "Session .* destroyed" "$tmp/keyd.log" && break
        sleep 0.05
done
session=$(sed -n 's/.*Session \([0-9]*\) created for .*key exchange \([A-Z0-9_]*\)\.$/\1 \2/p' "$tmp/keyd.log" | tail -n1)
[[ -n $session ]] || fail "keyd's log has no session created with a key exchange"
id=${session%% *}
grep -q "Session $id: key exchange succeeded" "$tmp/keyd.log" ||
        fail "keyd did not log a successful key exchange for session $id"
ok "keyd saw session $id (key exchange ${session#* }) and its successful negotiation"
surfaces=$(grep -c "Session $id: surface .* created" "$tmp/keyd.log" || true)
# One per protected texture: the one of the bad DecryptionBlt whose IV keyd
# refused (the texture had its surface by then), five R8G8B8A8 round trips
# and the double read-back, two each in NV12 and YUY2 (Wine 8.0 creates
# those, not P010). None for the oversized texture: refused before keyd.
[[ $surfaces -eq 12 ]] || fail "keyd logged $surfaces surface(s) for session $id, expected 12 (one per protected texture)"
# The byte sizes of the 16x4 video-format textures, from the formats' definitions.
nv12=$((16 * 4 + 16 * 4 / 2)) # luma 16x4, then 2 rows of 16 bytes of interleaved U, V
yuy2=$((16 * 2 * 4))          # 2 bytes a pixel
n=$(grep -c "Session $id: surface [0-9]* of $nv12 bytes created" "$tmp/keyd.log" || true)
[[ $n -eq 2 ]] || fail "keyd logged $n surface(s) of $nv12 bytes (NV12 16x4), expected 2"
n=$(grep -c "Session $id: surface [0-9]* of $yuy2 bytes created" "$tmp/keyd.log" || true)
[[ $n -eq 2 ]] || fail "keyd logged $n surface(s) of $yuy2 bytes (YUY2 16x4), expected 2"
ok "keyd created the twelve protected surfaces the textures stand for, NV12 and YUY2 at their real sizes"
grep -q "Session $id: session key refreshed" "$tmp/keyd.log" ||
        fail "keyd did not log the session key refresh of session $id"
ok "keyd refreshed session $id's key"
grep -q "Session $id of .* destroyed" "$tmp/keyd.log" ||
        fail "session $id was not destroyed in keyd after the program released it"
ok "the last Release closed session $id in keyd"

# ---- control: Wine's own d3d11, without the proxy ----
status=0
run_program >"$tmp/program.log" 2>&1 || status=$?
grep -q 'QueryInterface(ID3D11VideoDevice): hr 0x80004002, expected 0x00000000' "$tmp/program.log" ||
        fail "without keyd's proxy, expected Wine's d3d11 to answer E_NOINTERFACE for ID3D11VideoDevice"
[[ $status -ne 0 ]] || fail "without keyd's proxy the program should fail"
ok "control: without the proxy, Wine's own d3d11 has no ID3D11VideoDevice (E_NOINTERFACE)"

echo "wall time: $(elapsed) s"
