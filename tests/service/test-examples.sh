#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# examples/negotiate.c is the libkeyd example that README.md and libkeyd(3)
# quote: both quotes are the file word for word, it builds with -Werror
# against the built libkeyd, and it runs: against keyd with a 2048-, 3072-
# and 4096-bit device key it negotiates (S_OK, the ciphertext sized from the
# certificate), and with no keyd, or no bus at all, it ends with a clean
# 0x80070426 error instead of a crash.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_LIBKEYD:?}" "${KEYD_MAN_DIR:?}"
example=$KEYD_SOURCE_ROOT/examples/negotiate.c
[[ -s $example ]] || fail "$example is missing"

# ---- the quotes are the file ----
# README.md: the first ```c block after the line that links the file.
awk '/\(examples\/negotiate\.c\)/ { seen = 1 } seen && /^```c$/ { inblock = 1; next }
     inblock && /^```$/ { exit } inblock { print }' "$KEYD_SOURCE_ROOT/README.md" >"$tmp/readme.c"
[[ -s $tmp/readme.c ]] || fail "README.md has no \`\`\`c block after a link to examples/negotiate.c"
diff -u "$example" "$tmp/readme.c" >"$tmp/diff" ||
        fail "README.md's example differs from examples/negotiate.c (- file, + README):
$(cat "$tmp/diff")"
ok "README.md quotes examples/negotiate.c exactly"

# libkeyd(3): the .EX block of EXAMPLES, man(7) escapes undone.
sed -n '/^\.SH EXAMPLES/,/^\.SH SEE ALSO/p' "$KEYD_MAN_DIR/libkeyd.3" | sed -n '/^\.EX/,/^\.EE/p' | sed '1d;$d' |
        sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' >"$tmp/man.c"
diff -u "$example" "$tmp/man.c" >"$tmp/diff" ||
        fail "libkeyd(3)'s example differs from examples/negotiate.c (- file, + man page):
$(cat "$tmp/diff")"
ok "libkeyd(3) quotes examples/negotiate.c exactly"

# ---- it builds ----
libdir=$(dirname "$KEYD_LIBKEYD")
cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/negotiate" "$example" -I"$KEYD_SOURCE_ROOT/include" \
        -L"$libdir" -lkeyd -Wl,-rpath,"$libdir" 2>"$tmp/cc.log" ||
        fail "examples/negotiate.c does not build: $(cat "$tmp/cc.log")"
ok "examples/negotiate.c builds with -Wall -Wextra -Werror"

# run_example WHAT STATUS STREAM PATTERN: run it; expect the exit status and
# a line of stdout or stderr (STREAM) matching the extended regex PATTERN.
run_example() {
        local what=$1 want_status=$2 stream=$3 pattern=$4 status=0
        DBUS_SYSTEM_BUS_ADDRESS=$address "$tmp/negotiate" >"$tmp/out" 2>"$tmp/err" || status=$?
        ((status == want_status)) || fail "$what: exit status $status, expected $want_status
stdout: $(cat "$tmp/out")
stderr: $(cat "$tmp/err")"
        grep -q -E "$pattern" "$tmp/$stream" || fail "$what: $stream does not match '$pattern':
stdout: $(cat "$tmp/out")
stderr: $(cat "$tmp/err")"
        ok "$what: $(cat "$tmp/$stream")"
}

# ---- without keyd: a clean error, not a crash ----
address=unix:path=$tmp/no-such-bus
run_example "no bus at all" 1 err '^0x80070426: .*system bus'
start_open_bus
run_example "a bus without keyd" 1 err '^0x80070426: .*org\.keyd\.KeyBroker1'
[[ ! -s $tmp/out ]] || fail "a bus without keyd: stdout should be empty: $(cat "$tmp/out")"

# ---- with keyd: S_OK, whatever the size of the device key ----
start_keyd
run_example "keyd with its default 2048-bit key" 0 out '^0x00000000: negotiated .*\(256 bytes'
grep -q "Session .* created for .*key exchange D3D11_KEY_EXCHANGE_RSAES_OAEP" "$tmp/keyd.log" ||
        fail "the example did not reach keyd"

# Larger keys, made with openssl beforehand: keyd's own generation of a
# 4096-bit key takes far longer, and the key's origin does not matter here.
for bits in 3072 4096; do
        stop_keyd
        state=$tmp/state-$bits
        mkdir -m 0700 "$state"
        (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$bits" \
                -out "$state/device-key.pem" 2>"$tmp/openssl.log") ||
                fail "openssl cannot make a $bits-bit key: $(cat "$tmp/openssl.log")"
        start_keyd --state-dir="$state" --rsa-bits="$bits"
        run_example "keyd with a $bits-bit key" 0 out "^0x00000000: negotiated .*\\($((bits / 8)) bytes"
done

echo "PASS: examples"
