#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# keydctl as a developer uses it, against a private dbus-daemon and the real
# keyd: why keyd cannot be reached (no bus, no activation file, a start that
# failed), status and --json on every read command (checked against what
# busctl reads), options before and after the command, per-command --help,
# the exit codes, and a certificate plus a ciphertext made by openssl that
# keyd must accept. Needs KEYD_BINARY, KEYDCTL_BINARY, HOLD_SESSION_BINARY,
# OPENSSL, PYTHON and what tests/service/lib.sh needs (meson sets them).

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/../service/lib.sh"

: "${KEYDCTL_BINARY:?}" "${HOLD_SESSION_BINARY:?}" "${OPENSSL:?}" "${PYTHON:?}"

# run COMMAND...: sets $out, $err and $status.
run() {
        status=0
        "$@" >"$tmp/out" 2>"$tmp/err" || status=$?
        out=$(cat "$tmp/out")
        err=$(cat "$tmp/err")
}

kctl() {
        "$KEYDCTL_BINARY" --address="$address" --timeout=20 "$@"
}

# expect_exit WHAT STATUS: the last run() exited STATUS.
expect_exit() {
        [[ $status == "$2" ]] || fail "$1: exit status $status, expected $2
---- stdout ----
$out
---- stderr ----
$err"
        ok "$1 (exit $2)"
}

# json_check WHAT PYTHON-EXPRESSIONS...: $out is one JSON document (d), and
# each expression holds.
json_check() {
        local what=$1
        shift
        "$PYTHON" -c '
import json, sys
d = json.loads(sys.stdin.read())
for e in sys.argv[1:]:
    if not eval(e):
        sys.exit("failed: " + e)
' "$@" <<<"$out" || fail "$what: not valid JSON or a check failed: $out"
        ok "$what"
}

# ---- not reachable: three different reasons ----
run "$KEYDCTL_BINARY" --address="unix:path=$tmp/no-such-socket" status
expect_exit "status with no bus at the address" 7
expect_contains "no bus: says so and what to do" "$err" "0x80070426" "no D-Bus bus answers at unix:path=$tmp/no-such-socket" \
        "No such file or directory" "check --address"

# A socket nobody listens on: connection refused.
"$PYTHON" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$tmp/dead-socket"
run "$KEYDCTL_BINARY" --address="unix:path=$tmp/dead-socket" caps
expect_exit "caps with a refused connection" 7
expect_contains "refused: says so" "$err" "Connection refused" "check --address"

# The system bus (as DBUS_SYSTEM_BUS_ADDRESS says, never the host's) is down.
run env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/no-such-socket" "$KEYDCTL_BINARY" negotiate
expect_exit "negotiate with the system bus down" 7
expect_contains "system bus down: what to do" "$err" "the system bus is not running" "systemctl start dbus"

# A bus with a service directory, without keyd's activation file yet.
mkdir "$tmp/services"
start_open_bus "  <servicedir>$tmp/services</servicedir>"
reload_bus() {
        bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null ||
                fail "dbus-daemon did not reload its configuration"
}

for verb in status caps negotiate roundtrip sessions "certificate --pem" "status --json" "caps --json" \
        "sessions --json" "certificate --json"; do
        # shellcheck disable=SC2086 # "certificate --pem" is two words
        run kctl $verb
        expect_exit "$verb without keyd and no activation file" 7
        expect_contains "$verb: no activation file, what to do" "$err" "0x80070426" \
                "keyd is not running on $address, and the bus cannot start it: it has no D-Bus activation file"
        if [[ $verb == *--json ]]; then
                [[ -z $out ]] || fail "$verb printed half a document without keyd: $out"
        fi
done

# An activation file whose keyd cannot start.
cat >"$tmp/services/$KEYD_BUS_NAME.service" <<EOF2
[D-BUS Service]
Name=$KEYD_BUS_NAME
Exec=/bin/false
User=root
EOF2
reload_bus
run kctl status
expect_exit "status when the bus cannot start keyd" 7
expect_contains "failed start: says so and where to look" "$err" "0x80070426" \
        "the bus has an activation file for keyd but could not start it" "journalctl -u keyd" \
        "exited with status 1"
rm "$tmp/services/$KEYD_BUS_NAME.service"
reload_bus

# ---- keyd ----
start_keyd
version=$("$KEYDCTL_BINARY" --version)
version=${version#keydctl }
max_sessions=$(bctl get-property "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" MaxSessionsPerClient)
max_sessions=${max_sessions#u }
read -r _ caps n_kx align memory < <(bctl call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" \
        GetContentProtectionCaps ss 9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f "")
kx_guids=()
for ((i = 0; i < n_kx; i++)); do
        g=$(bctl call "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" CheckCryptoKeyExchange ssu \
                9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f "" "$i")
        g=${g#s \"}
        kx_guids+=("${g%\"}")
done
kx_list=$(printf "'%s'," "${kx_guids[@]}")

# ---- status ----
run kctl status
expect_exit "status" 0
expect_contains "status text" "$out" "Version:               $version" "Backend:               software" \
        "software reference" "no hardware protection" "Sessions:              0 open" \
        "Sessions per client:   at most $max_sessions" "at most $memory bytes per client" "DECRYPTION_BLT"

for args in "status --json" "--json status"; do
        # shellcheck disable=SC2086
        run kctl $args
        expect_exit "$args" 0
        json_check "$args is what busctl reads" "d['version'] == '$version'" "d['backend'] == 'software'" \
                "d['hardware'] is False" "d['session_count'] == 0" "d['max_sessions_per_client'] == $max_sessions" \
                "d['content_protection']['caps'] == $caps" \
                "d['content_protection']['block_alignment_size'] == $align" \
                "d['content_protection']['protected_memory_size'] == $memory" \
                "[k['guid'] for k in d['content_protection']['key_exchange_types']] == [$kx_list]"
done

# ---- caps ----
run kctl caps --json
expect_exit "caps --json" 0
json_check "caps --json is what busctl reads" "d['crypto_type'] == 'D3D11_CRYPTO_TYPE_AES128_CTR'" \
        "d['decoder_profile'] is None" "d['content_protection']['caps'] == $caps" \
        "d['content_protection']['key_exchange_type_count'] == $n_kx" \
        "'DECRYPTION_BLT' in d['content_protection']['caps_names']" \
        "[k['guid'] for k in d['content_protection']['key_exchange_types']] == [$kx_list]" \
        "d['content_protection']['key_exchange_types'][0]['name'] == 'D3D11_KEY_EXCHANGE_RSAES_OAEP'"
run kctl --profile=HEVC caps --json
expect_exit "--profile=HEVC before caps" 0
json_check "caps --profile=HEVC" "d['decoder_profile'] == 'D3D11_DECODER_PROFILE_HEVC_VLD_MAIN'"

# ---- sessions ----
run kctl sessions --json
expect_exit "sessions --json without sessions" 0
json_check "sessions --json: an empty list" "d == []"

coproc HOLD { exec "$HOLD_SESSION_BINARY" "$address"; }
hold_pid=$HOLD_PID
_pids+=("$hold_pid")
hold_in=${HOLD[1]}
read -r -t 30 -u "${HOLD[0]}" session_path handle || fail "keyd-hold-session printed no session"
run kctl --json sessions
expect_exit "sessions --json with a held session" 0
owner=$(bctl get-property "$KEYD_BUS_NAME" "$session_path" org.keyd.KeyBroker1.CryptoSession Owner)
owner=${owner#s \"}
owner=${owner%\"}
json_check "sessions --json: the held session as busctl sees it" "len(d) == 1" "d[0]['path'] == '$session_path'" \
        "int(d[0]['handle'], 16) == $handle" "d[0]['owner'] == '$owner'" "d[0]['owner_uid'] == $(id -u)" \
        "d[0]['status_name'] == 'OK'" "d[0]['key_exchange_name'] == 'D3D11_KEY_EXCHANGE_RSAES_OAEP'"
run kctl status --json
json_check "status --json counts the held session" "d['session_count'] == 1"
exec {hold_in}>&-
wait "$hold_pid" || fail "keyd-hold-session failed"

# ---- certificate ----
status=0
kctl certificate >"$tmp/cert.der" 2>"$tmp/err" || status=$?
out="(DER in $tmp/cert.der)" err=$(cat "$tmp/err")
expect_exit "certificate (DER) to a file" 0
"$OPENSSL" x509 -inform DER -in "$tmp/cert.der" -noout || fail "keydctl certificate did not write DER X.509"
"$OPENSSL" x509 -inform DER -in "$tmp/cert.der" -out "$tmp/cert-openssl.pem"
kctl certificate --pem >"$tmp/cert.pem"
cmp -s "$tmp/cert.pem" "$tmp/cert-openssl.pem" || fail "keydctl certificate --pem differs from openssl's PEM of the DER"
ok "certificate --pem is the PEM of certificate --der"
kctl certificate --der | cmp -s - "$tmp/cert.der" || fail "certificate --der differs from certificate"
ok "certificate --der is the default"

fingerprint=$("$OPENSSL" x509 -inform DER -in "$tmp/cert.der" -noout -fingerprint -sha256)
fingerprint=${fingerprint#*=}
fingerprint=${fingerprint//:/}
fingerprint=${fingerprint,,}
bits=$("$OPENSSL" x509 -inform DER -in "$tmp/cert.der" -noout -text | sed -n -E 's/.*Public-Key: \(([0-9]+) bit\).*/\1/p')
run kctl certificate --json
expect_exit "certificate --json" 0
json_check "certificate --json is what openssl reads" "d['size'] == $(stat -c %s "$tmp/cert.der")" \
        "d['rsa_bits'] == $bits" "d['sha256_fingerprint'] == '$fingerprint'" \
        "d['pem'] == open('$tmp/cert.pem').read()" "d['subject'] and d['issuer']" \
        "d['not_before'] < d['not_after']"

run script -q -e -c "$KEYDCTL_BINARY --address=$address certificate" /dev/null
expect_exit "certificate refuses DER to a terminal" 2
expect_contains "DER to a terminal: what to do instead" "$out" "standard output is a terminal" "--pem"

run kctl certificate --pem --der
expect_exit "certificate --pem --der" 2

# ---- negotiate --data: a ciphertext made by openssl ----
head -c 16 /dev/urandom >"$tmp/key.bin"
wrap() { # wrap HASH OUT
        "$OPENSSL" pkeyutl -encrypt -certin -inkey "$tmp/cert.pem" -in "$tmp/key.bin" -out "$2" \
                -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$1" -pkeyopt "rsa_mgf1_md:$1" ||
                fail "openssl could not wrap a key with $1"
}
wrap sha512 "$tmp/wrapped-sha512.bin"
wrap sha256 "$tmp/wrapped-sha256.bin"

run kctl negotiate --data="$tmp/wrapped-sha512.bin"
expect_exit "negotiate --data with openssl's SHA-512 ciphertext" 0
expect_contains "negotiate --data: S_OK" "$out" "Data:                  $((bits / 8)) bytes from $tmp/wrapped-sha512.bin" \
        "Negotiate:             0x00000000 S_OK" "Status:                0 OK"

run kctl --data=- negotiate --key-exchange=SHA-256 <"$tmp/wrapped-sha256.bin"
expect_exit "negotiate --data=- --key-exchange=SHA-256, options on both sides" 0
expect_contains "negotiate SHA-256 from stdin: S_OK" "$out" "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256" \
        "bytes from standard input" "0x00000000 S_OK"

# The SHA-512 ciphertext to a SHA-256 session, and a flipped byte: InvalidArg.
run kctl negotiate --key-exchange=sha256 --data="$tmp/wrapped-sha512.bin"
expect_exit "negotiate with a ciphertext of the other hash" 1
expect_contains "other hash: InvalidArg" "$err" "0x80070057"
cp "$tmp/wrapped-sha512.bin" "$tmp/bad.bin"
printf '\x55' | dd of="$tmp/bad.bin" bs=1 seek=100 conv=notrunc status=none
cmp -s "$tmp/bad.bin" "$tmp/wrapped-sha512.bin" && printf '\xaa' | dd of="$tmp/bad.bin" bs=1 seek=100 conv=notrunc status=none
run kctl negotiate --data="$tmp/bad.bin"
expect_exit "negotiate --data with a corrupted ciphertext" 1
expect_contains "corrupted ciphertext: InvalidArg" "$err" "NegotiateCryptoSessionKeyExchange failed: 0x80070057"
head -c 255 "$tmp/wrapped-sha512.bin" >"$tmp/short.bin"
run kctl negotiate --data="$tmp/short.bin"
expect_exit "negotiate --data with 255 bytes" 1
expect_contains "255 bytes: InvalidArg naming both lengths" "$err" "0x80070057" "255" "256"
run kctl negotiate --data="$tmp/no-such-file"
expect_exit "negotiate --data with a missing file" 1
expect_contains "missing file: says which" "$err" "--data=$tmp/no-such-file: cannot open it: No such file or directory"

# stdout first: the lines keydctl printed come before its error, even when
# both go to one file (stdout fully buffered).
"$KEYDCTL_BINARY" --address="$address" negotiate --data="$tmp/bad.bin" >"$tmp/both" 2>&1 || true
negotiate_line=$(grep -n '^Negotiate:' "$tmp/both" | cut -d: -f1)
error_line=$(grep -n '^keydctl: NegotiateCryptoSessionKeyExchange failed' "$tmp/both" | cut -d: -f1)
[[ -n $negotiate_line && -n $error_line ]] || fail "stdout/stderr order: lines missing from: $(cat "$tmp/both")"
((negotiate_line < error_line)) || fail "the error came before the output printed ahead of it: $(cat "$tmp/both")"
ok "stdout is flushed before an error"

# ---- hash names and the command line ----
for h in sha512 SHA512 Sha-512 sha_512 SHA-256 sha256 SHA1 sha-1; do
        run kctl negotiate --key-exchange="$h"
        expect_exit "negotiate --key-exchange=$h" 0
done
run kctl --key-exchange=sha1 negotiate
expect_exit "--key-exchange before the command" 0
expect_contains "--key-exchange before the command is used" "$out" "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1"
run kctl negotiate --hash=sha256
expect_exit "negotiate --hash=sha256" 0
expect_contains "--hash is --key-exchange" "$out" "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256"
run kctl --hash=SHA1 negotiate
expect_exit "--hash=SHA1 before the command" 0
expect_contains "--hash before the command is used" "$out" "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1"

for args in "negotiate --key-exchange=md5" "negotiate --key-exchange=sha384" "caps --profile=mpeg2" "bogus" "" \
        "caps --size=16" "status --pem" "sessions extra" "negotiate --no-such-option" "--timeout=0 status" \
        "status --timeout=abc"; do
        # shellcheck disable=SC2086
        run kctl $args
        expect_exit "usage error: keydctl $args" 2
        expect_contains "usage error says what: keydctl $args" "$err" "keydctl: "
        [[ -z $out ]] || fail "usage error printed to stdout: $out"
done

for verb in status caps negotiate roundtrip sessions certificate; do
        run kctl "$verb" --help
        expect_exit "$verb --help" 0
        expect_contains "$verb --help" "$out" "keydctl [OPTIONS...] $verb" "Exit status:"
        run kctl --help "$verb"
        expect_exit "--help $verb" 0
        expect_contains "--help $verb is the same help" "$out" "keydctl [OPTIONS...] $verb"
done
run kctl negotiate --help
expect_contains "negotiate --help lists its options" "$out" "--key-exchange=H" "--profile=P" "--data=FILE"

# ---- keyd gone ----
stop_keyd
run kctl status --json
expect_exit "status --json after keyd stopped" 7
[[ -z $out ]] || fail "status --json printed something without keyd: $out"
expect_contains "keyd stopped: not running, no activation file" "$err" "keyd is not running on $address"

echo "PASS: keydctl"
