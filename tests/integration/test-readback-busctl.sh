#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Read-back as the bus carries it (contract sections 4 and 7), watched with
# `busctl monitor` while keyd-readback-client drives libkeyd: the replies of
# EncryptionBlt (ay data, ay iv) and EncryptionBltToFd (ay iv) carry IV
# members that go up by one with Count 0; two GetEncryptionBltKey replies
# carry different keys; each read-back on the wire decrypts, with the
# openssl command, to the plaintext under the newest key; and libkeyd wrote
# the IVs on the wire to pIV. A session belongs to the connection that made
# it, so busctl cannot call these methods itself: it watches.
# Needs KEYD_BINARY, READBACK_CLIENT_BINARY, OPENSSL, PYTHON and what
# tests/service/lib.sh needs (meson sets them).

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/../service/lib.sh"

: "${READBACK_CLIENT_BINARY:?}" "${OPENSSL:?}" "${PYTHON:?}"

start_open_bus
start_keyd

# busctl monitor needs BecomeMonitor: root, or the bus's own user (us).
bctl monitor --json=short >"$tmp/monitor.json" 2>"$tmp/monitor.err" &
monitor_pid=$!
_pids+=("$monitor_pid")
for _ in $(seq 100); do
        grep -q "Monitoring" "$tmp/monitor.err" 2>/dev/null && break
        kill -0 "$monitor_pid" 2>/dev/null || fail "busctl monitor exited: $(cat "$tmp/monitor.err")"
        sleep 0.05
done
grep -q "Monitoring" "$tmp/monitor.err" || fail "busctl monitor did not start: $(cat "$tmp/monitor.err")"

# The client's stdin and stdout through fifos of ours: they outlive it.
mkfifo "$tmp/client.in" "$tmp/client.out"
"$READBACK_CLIENT_BINARY" "$address" <"$tmp/client.in" >"$tmp/client.out" 2>"$tmp/client.err" &
client_pid=$!
_pids+=("$client_pid")
exec {client_in}>"$tmp/client.in" {client_out}<"$tmp/client.out"
read -r -t 30 -u "$client_out" label session_key && [[ $label == session_key ]] ||
        fail "keyd-readback-client printed no session key: $(cat "$tmp/client.err")"
read -r -t 30 -u "$client_out" label plaintext && [[ $label == plaintext ]] || fail "no plaintext"

# The ciphertext DecryptionBlt gets: openssl's AES-128-CTR, IV 0.
ct=$("$PYTHON" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$plaintext" |
        "$OPENSSL" enc -aes-128-ctr -nopad -K "$session_key" -iv 00000000000000000000000000000000 |
        "$PYTHON" -c 'import sys; print(sys.stdin.buffer.read().hex())')
echo "$ct" >&"$client_in"
exec {client_in}>&-
pivs=()
while read -r -t 60 -u "$client_out" label value; do
        [[ $label == iv ]] && pivs+=("$value")
done
wait "$client_pid" || fail "keyd-readback-client failed: $(cat "$tmp/client.err")"
(( ${#pivs[@]} == 4 )) || fail "keyd-readback-client printed ${#pivs[@]} IVs, expected 4"

# Let the monitor see the last replies, then stop it.
sleep 0.3
kill -TERM "$monitor_pid" 2>/dev/null || true
wait "$monitor_pid" 2>/dev/null || true

"$PYTHON" - "$tmp/monitor.json" "$OPENSSL" "$session_key" "$plaintext" "${pivs[@]}" <<'PY' || fail "the read-backs on the wire are wrong (above)"
import json, subprocess, sys

monitor, openssl, session_key, plaintext = sys.argv[1:5]
libkeyd_ivs = sys.argv[5:]
plaintext = bytes.fromhex(plaintext)

def aes(mode, key, data, iv=None, decrypt=False):
    args = [openssl, "enc", "-" + mode, "-nopad", "-K", key.hex()]
    if iv is not None:
        args += ["-iv", iv.hex()]
    if decrypt:
        args.append("-d")
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout

calls, replies = {}, []
for line in open(monitor):
    m = json.loads(line)
    if m.get("type") == "method_call" and m.get("interface") == "org.keyd.KeyBroker1.CryptoSession":
        calls[(m["sender"], m["cookie"])] = m["member"]
    elif m.get("type") in ("method_return", "error") and "reply_cookie" in m:
        replies.append(m)

seq = []
for r in replies:
    member = calls.get((r.get("destination"), r["reply_cookie"]))
    if member in ("GetEncryptionBltKey", "EncryptionBlt", "EncryptionBltToFd"):
        if r["type"] == "error":
            sys.exit(f"FAIL: {member} failed on the wire: {r}")
        seq.append((member, r["payload"]["type"], [bytes(a) for a in r["payload"]["data"]]))

print("on the wire:", ", ".join(f"{m} -> ({t})" for m, t, _ in seq))
expected = ["EncryptionBlt", "GetEncryptionBltKey", "GetEncryptionBltKey", "EncryptionBlt", "EncryptionBlt",
            "EncryptionBltToFd"]
if [m for m, _, _ in seq] != expected:
    sys.exit(f"FAIL: calls {[m for m, _, _ in seq]}, expected {expected}")
if [t for _, t, _ in seq] != ["ayay", "ay", "ay", "ayay", "ayay", "ay"]:
    sys.exit(f"FAIL: reply signatures {[t for _, t, _ in seq]}")

ivs = [seq[0][2][1], seq[3][2][1], seq[4][2][1], seq[5][2][0]]
for iv in ivs:
    if len(iv) != 16 or iv[8:] != bytes(8):
        sys.exit(f"FAIL: IV {iv.hex()} is not an 8-byte IV member with Count 0")
members = [int.from_bytes(iv[:8], "big") for iv in ivs]
for a, b in zip(members, members[1:]):
    if b != (a + 1) % 2**64:
        sys.exit(f"FAIL: IV members {[hex(m) for m in members]} do not go up by one")
print("ok: IV members", " ".join(f"{m:#018x}" for m in members), "go up by one, Count 0")
if [iv.hex() for iv in ivs] != libkeyd_ivs:
    sys.exit(f"FAIL: libkeyd wrote {libkeyd_ivs} to pIV, the wire carried {[iv.hex() for iv in ivs]}")
print("ok: libkeyd wrote the IVs on the wire to pIV")

key = bytes.fromhex(session_key)
w1, w2 = seq[1][2][0], seq[2][2][0]
if w1 == w2:
    sys.exit("FAIL: two GetEncryptionBltKey calls returned the same wrapped key")
k1, k2 = aes("aes-128-ecb", key, w1, decrypt=True), aes("aes-128-ecb", key, w2, decrypt=True)
if k1 == k2:
    sys.exit("FAIL: two GetEncryptionBltKey calls gave the same K_blt")
print("ok: two GetEncryptionBltKey calls, two different read-back keys")

for i in (3, 4):
    data, iv = seq[i][2]
    if aes("aes-128-ctr", k2, plaintext, iv) != data:
        sys.exit(f"FAIL: read-back {i} is not AES-128-CTR(newest K_blt, its IV, plaintext)")
    if aes("aes-128-ctr", k1, plaintext, iv) == data:
        sys.exit(f"FAIL: read-back {i} is under the older K_blt")
# Before any GetEncryptionBltKey: the key of the key exchange, neither of the later ones.
data0, iv0 = seq[0][2]
if data0 == plaintext or data0 in (aes("aes-128-ctr", k, plaintext, iv0) for k in (k1, k2, key)):
    sys.exit("FAIL: the read-back before GetEncryptionBltKey is not under a key of its own")
print("ok: each read-back decrypts to the plaintext under the newest K_blt (openssl)")
PY
ok "read-backs on the wire: keyd's IVs, a new key per GetEncryptionBltKey, the right bytes"
