#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The man pages say what the programs do: every option and command of
# `keyd --help` and `keydctl --help` is documented, libkeyd(3) lists every
# function, HRESULT and GUID of keyd.h with its real value, and every example
# is run: the busctl lines of org.keyd.KeyBroker1(5) with their documented
# output, the C program of libkeyd(3) and the keydctl lines of keydctl(1),
# against a fresh keyd on a private bus.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

: "${KEYD_MAN_DIR:?}" "${KEYDCTL_BINARY:?}" "${KEYD_LIBKEYD:?}" "${KEYD_BINARY:?}"
header=$KEYD_SOURCE_ROOT/include/keyd/keyd.h

# Plain text of man(7) source: escapes for hyphen, backslash, font and
# zero-width characters undone.
unroff() {
        sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' -e 's/\\f[BIRP]//g' -e "s/\\\\(aq/'/g" \
                -e 's/\\(dq/"/g' "$@"
}

for page in keyd.8 keydctl.1 libkeyd.3 org.keyd.KeyBroker1.5; do
        [[ -s $KEYD_MAN_DIR/$page ]] || fail "$KEYD_MAN_DIR/$page is missing"
        unroff "$KEYD_MAN_DIR/$page" >"$tmp/$page.txt"
done

# ---- options ----
# documented_options PROGRAM PAGE: each --option of PROGRAM --help is in PAGE.
documented_options() {
        local help opts opt n=0
        help=$("$1" --help) || fail "$1 --help failed"
        opts=$(grep -o -E -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u)
        [[ -n $opts ]] || fail "no options found in $1 --help"
        for opt in $opts; do
                grep -q -E -- "(^|[^a-z-])$opt([^a-z0-9-]|\$)" "$tmp/$2.txt" ||
                        fail "$(basename "$1") --help has $opt, $2 does not document it"
                n=$((n + 1))
        done
        ok "$2 documents all $n options of $(basename "$1") --help"
}
documented_options "$KEYD_BINARY" keyd.8
documented_options "$KEYDCTL_BINARY" keydctl.1

commands=$("$KEYDCTL_BINARY" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }')
[[ -n $commands ]] || fail "no commands found in keydctl --help"
for c in $commands; do
        grep -q -E "^\.BR? $c( |\$)" "$KEYD_MAN_DIR/keydctl.1" || fail "keydctl command '$c' has no entry in keydctl.1"
done
ok "keydctl.1 documents every command: $(echo "$commands" | tr '\n' ' ')"

# Each command's own --help: its options are documented too.
for c in $commands; do
        for opt in $("$KEYDCTL_BINARY" "$c" --help | grep -o -E -- '--[a-z][a-z0-9-]*' | sort -u); do
                grep -q -E -- "(^|[^a-z-])$opt([^a-z0-9-]|\$)" "$tmp/keydctl.1.txt" ||
                        fail "keydctl $c --help has $opt, keydctl.1 does not document it"
        done
done
ok "keydctl.1 documents the options of every keydctl COMMAND --help"

# ---- libkeyd(3): functions, HRESULTs, GUIDs ----
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$KEYD_MAN_DIR/libkeyd.3" | unroff)
description=$(sed -n '/^\.SH DESCRIPTION/,/^\.SH RETURN VALUE/p' "$KEYD_MAN_DIR/libkeyd.3")
functions=$(grep -o -E '\bkeyd_[a-z0-9_]+ *\(' "$header" | tr -d ' (' | sort -u)
n=0
for fn in $functions; do
        grep -q -E "\b$fn\(" <<<"$synopsis" || fail "libkeyd.3's SYNOPSIS lacks $fn()"
        grep -q -F "\\fB$fn\\fR()" <<<"$description" || fail "libkeyd.3's DESCRIPTION does not describe $fn()"
        n=$((n + 1))
done
ok "libkeyd.3 has all $n functions of keyd.h in SYNOPSIS and DESCRIPTION"

n=0
while read -r name value; do
        value=${value%u}
        grep -q -i -E "^$name $value\$" "$tmp/libkeyd.3.txt" ||
                fail "libkeyd.3 lacks the line '$name $value'"
        n=$((n + 1))
done < <(sed -n -E 's/^#define (KEYD_[A-Z0-9_]+) +KEYD_HRESULT\((0x[0-9A-Fa-f]+u?)\).*/\1 \2/p' "$header")
((n >= 12)) || fail "found only $n HRESULTs in keyd.h"
ok "libkeyd.3 lists all $n HRESULTs with their values"

# The GUIDs' values as the library itself prints them.
guids=$(sed -n -E 's/^extern KEYD_EXPORT const keyd_guid (KEYD_[A-Z0-9_]+);.*/\1/p' "$header")
{
        echo '#include <stdio.h>'
        echo '#include <keyd/keyd.h>'
        echo 'int main(void) { char s[KEYD_GUID_STRING_SIZE];'
        for g in $guids; do
                printf 'if (KEYD_FAILED(keyd_guid_to_string(&%s, s, sizeof(s)))) return 1;\n' "$g"
                printf 'printf("%s %%s\\n", s);\n' "$g"
        done
        echo 'return 0; }'
} >"$tmp/guids.c"
libdir=$(dirname "$KEYD_LIBKEYD")
cc -o "$tmp/guids" "$tmp/guids.c" -I"$KEYD_SOURCE_ROOT/include" -L"$libdir" -lkeyd -Wl,-rpath,"$libdir" ||
        fail "cannot build the GUID printer"
n=0
while read -r name value; do
        grep -A2 -x -F "$name" "$tmp/libkeyd.3.txt" | grep -q -x -F "$value" ||
                fail "libkeyd.3 does not give $name as $value"
        n=$((n + 1))
done < <("$tmp/guids")
((n >= 10)) || fail "found only $n GUIDs in keyd.h"
ok "libkeyd.3 gives all $n GUIDs with their values"

# ---- org.keyd.KeyBroker1(5): the complete bus reference ----
# Every method with its full signature and every property with its type, as
# the interface XML (which test-interface-xml holds to the live keyd) says.
: "${PYTHON:?}"
n=0
while IFS= read -r line; do
        grep -q -F -- "$line" "$tmp/org.keyd.KeyBroker1.5.txt" ||
                fail "org.keyd.KeyBroker1.5 lacks: $line"
        n=$((n + 1))
done < <("$PYTHON" - "$KEYD_SOURCE_ROOT/dbus/org.keyd.KeyBroker1.xml" <<'EOF_PY'
import sys
import xml.etree.ElementTree as ET
for iface in ET.parse(sys.argv[1]).getroot().iter("interface"):
    for m in iface.iter("method"):
        args = lambda d: ", ".join("%s %s" % (a.get("type"), a.get("name"))
                                   for a in m.iter("arg") if a.get("direction", "in") == d)
        line = "%s(%s)" % (m.get("name"), args("in"))
        if args("out"):
            line += " \\(-> (%s)" % args("out")
        print(line)
    for p in iface.iter("property"):
        print("%s %s" % (p.get("name"), p.get("type")))
EOF_PY
)
((n >= 25)) || fail "found only $n methods and properties in the interface XML"
ok "org.keyd.KeyBroker1.5 gives all $n methods and properties with their signatures"

# Every error of the one table, with its HRESULT and symbol.
n=0
while read -r name value symbol; do
        grep -q -i -F "$name ($value, $symbol)" "$tmp/org.keyd.KeyBroker1.5.txt" ||
                fail "org.keyd.KeyBroker1.5 lacks the error '$name ($value, $symbol)'"
        n=$((n + 1))
done < <(sed -n -E 's/.*X\([A-Z_]+, "([A-Za-z]+)", "([A-Z_]+)", (0x[0-9A-Fa-f]+)u,.*/\1 \3 \2/p' \
        "$KEYD_SOURCE_ROOT/common/keyd-error.h")
((n >= 8)) || fail "found only $n errors in common/keyd-error.h"
ok "org.keyd.KeyBroker1.5 lists all $n errors with their HRESULTs"

# Every GUID, under its D3D11 name (keyd's own two under theirs).
n=0
while read -r name value; do
        [[ $name == *RSAES_OAEP_SHA* ]] || name=D3D11_${name#KEYD_}
        grep -A1 -x -F "$name" "$tmp/org.keyd.KeyBroker1.5.txt" | grep -q -x -F "$value" ||
                fail "org.keyd.KeyBroker1.5 does not give $name as $value"
        n=$((n + 1))
done < <("$tmp/guids")
ok "org.keyd.KeyBroker1.5 gives all $n GUIDs with their values"

# The crypto rules that interoperability hangs on, as the contract states them.
for rule in "W = AES-128-ECB-Encrypt(session key, CK)" "CK = AES-128-ECB-Decrypt(session key, W)" \
        "old session key XOR" "SHA-512 and MGF1-SHA-512" "8-byte IV, then the 8-byte block" \
        "AES-128-ECB(session key, K_blt)"; do
        tr -s ' \n' ' ' <"$tmp/org.keyd.KeyBroker1.5.txt" | grep -q -F -- "$rule" ||
                fail "org.keyd.KeyBroker1.5 does not state: $rule"
done
ok "org.keyd.KeyBroker1.5 states the crypto rules"

# ---- the examples, against a fresh keyd ----
# (with the build tree's decoder helper: keydctl play's example decodes)
start_open_bus
start_keyd ${KEYD_DECODER_BINARY:+--decoder-helper="$KEYD_DECODER_BINARY"}
export DBUS_SYSTEM_BUS_ADDRESS=$address

# run_example COMMAND EXPECTED: run a documented command; compare its output
# (runs of blanks squeezed) unless EXPECTED is "-".
run_example() {
        local cmd=$1 expected=$2 got status=0 must_fail=0
        [[ $expected == "Call failed:"* ]] && must_fail=1
        # Not the loop's input: ffmpeg, for one, reads its standard input.
        got=$(eval "$cmd" 2>&1 </dev/null) || status=$?
        if ((must_fail)); then
                ((status != 0)) || fail "documented to fail, but succeeded: $cmd"
        else
                ((status == 0)) || fail "documented example failed (status $status): $cmd
$got"
        fi
        [[ $expected == "-" ]] && return 0
        [[ $(tr -s ' ' <<<"$got") == "$(tr -s ' ' <<<"$expected")" ]] ||
                fail "documented example printed something else: $cmd
---- documented ----
$expected
---- printed ----
$got"
}

# examples PAGE PROGRAM: every "$ PROGRAM ..." command of PAGE's .EX blocks
# (every "$ ..." command for PROGRAM ""),
# with continuation lines joined, and the output lines after it. Prints
# records "COMMAND<TAB>OUTPUT" with the output's newlines as \n.
examples() {
        awk -v prog="$2" '
                function flush() {
                        if (cmd != "") { gsub(/\n$/, "", out); gsub(/\n/, "\\n", out); print cmd "\t" out }
                        cmd = ""; out = ""; cont = 0
                }
                /^\.EX/ { inex = 1; next }
                /^\.EE/ { flush(); inex = 0; next }
                !inex { next }
                cont { line = $0; sub(/^ +/, "", line); cmd = cmd " " line; cont = sub(/ *\\$/, "", cmd); next }
                /^\$ / { flush(); if (prog == "" || index($0, "$ " prog " ") == 1) { cmd = substr($0, 3); cont = sub(/ *\\$/, "", cmd) } next }
                cmd != "" { out = out $0 "\n" }
                END { flush() }
        ' "$1"
}

n=0
while IFS=$'\t' read -r cmd expected; do
        run_example "$cmd" "$(printf '%b' "$expected")"
        n=$((n + 1))
done < <(examples "$tmp/org.keyd.KeyBroker1.5.txt" busctl)
((n >= 6)) || fail "found only $n busctl examples in org.keyd.KeyBroker1.5"
ok "all $n busctl examples of org.keyd.KeyBroker1(5) print what the page says"

# keydctl(1)'s examples are steps of a developer's session (files made by
# one line and read by the next): all of them, in order, in a directory
# of their own.
PATH=$(dirname "$KEYDCTL_BINARY"):$PATH
mkdir "$tmp/keydctl-examples"
n=0
while IFS=$'\t' read -r cmd _; do
        (cd "$tmp/keydctl-examples" && run_example "$cmd" -)
        n=$((n + 1))
done < <(examples "$tmp/keydctl.1.txt" "")
((n >= 3)) || fail "found only $n keydctl examples in keydctl.1"
ok "all $n examples of keydctl(1) succeed"

sed -n '/^\.SH EXAMPLES/,/^\.SH SEE ALSO/p' "$tmp/libkeyd.3.txt" | sed -n '/^\.EX/,/^\.EE/p' | sed '1d;$d' >"$tmp/example.c"
grep -q 'int main' "$tmp/example.c" || fail "no example program in libkeyd.3"
cc -Wall -Werror -o "$tmp/example" "$tmp/example.c" -I"$KEYD_SOURCE_ROOT/include" -L"$libdir" -lkeyd \
        -Wl,-rpath,"$libdir" || fail "the example program of libkeyd.3 does not build"
"$tmp/example" || fail "the example program of libkeyd.3 failed against keyd"
grep -q "Session .* created for .*key exchange D3D11_KEY_EXCHANGE_RSAES_OAEP" "$tmp/keyd.log" ||
        fail "the example program did not reach keyd"
ok "the example program of libkeyd(3) builds and negotiates a key"

echo "PASS: man pages"
