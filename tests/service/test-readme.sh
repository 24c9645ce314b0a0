#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# README.md sends people to real places: every file or directory it names
# (in `code` or as a link) exists in the source tree, or for build/... in the
# build under test. And scripts/demo does what README.md says: --help, a
# clear usage error, and a run that reuses an already configured build (no
# new meson setup) and shows a key exchange that returns S_OK and an
# encrypted clip played through keyd exactly as ffmpeg decodes it.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/lib.sh"

readme=$KEYD_SOURCE_ROOT/README.md

# ---- paths ----
top='(\./)?(\.ci|client|common|daemon|dbus|debian|docs|examples|include|man|scripts|systemd|tests)(/|$)'
n=0
while read -r path; do
        path=${path#./}
        # "scripts/demo --stop", "keyd-timing oaep|negotiate": the path is the first word.
        path=${path%% *}
        if [[ $path == build/* ]]; then
                [[ -e $KEYD_BUILD_ROOT/${path#build/} ]] ||
                        fail "README.md names $path, but the build has no ${path#build/}"
        else
                [[ -e $KEYD_SOURCE_ROOT/$path ]] || fail "README.md names $path, which does not exist"
        fi
        n=$((n + 1))
done < <({
        grep -o -E '`[^`]+`' "$readme" | tr -d '`'
        grep -o -E '\]\([^)#]+\)' "$readme" | sed -E 's/^\]\((.*)\)$/\1/' | grep -v -E '^[a-z]+://'
} | grep -E "^($top|build/)" | grep -v '[*$]' | sort -u)
((n >= 30)) || fail "found only $n paths in README.md"
# A clone stands alone: nothing outside it.
outside=$(grep -o -E '\]\((\.\./|/)[^)]*\)|`\.\./[^`]*`' "$readme" || true)
[[ -z $outside ]] || fail "README.md points outside the repository: $outside"
ok "all $n paths README.md names exist"

# ---- scripts/demo ----
demo=$KEYD_SOURCE_ROOT/scripts/demo
help=$("$demo" --help) || fail "scripts/demo --help failed"
expect_contains "scripts/demo --help" "$help" "Usage: scripts/demo" "--stop" "--build-dir=DIR"
status=0
"$demo" --no-such-option >/dev/null 2>"$tmp/demo.err" || status=$?
expect_eq "scripts/demo with an unknown option exits 2" "$status" 2
expect_contains "its message" "$(cat "$tmp/demo.err")" "unknown argument '--no-such-option'"

# A run on this very build: configured already, so reused. Its processes
# live in a directory of this test's own; --stop ends them.
export KEYD_DEMO_DIR=$tmp/demo
status=0
timeout 120 "$demo" --build-dir="$KEYD_BUILD_ROOT" >"$tmp/demo.out" 2>&1 || status=$?
"$demo" --stop >/dev/null 2>&1 || true
((status == 0)) || fail "scripts/demo failed (status $status): $(cat "$tmp/demo.out")"
out=$(cat "$tmp/demo.out")
expect_contains "scripts/demo reuses the configured build" "$out" "demo: reusing the build in $KEYD_BUILD_ROOT/"
grep -q "The Meson build system" "$tmp/demo.out" && fail "scripts/demo ran meson setup again: $out"
expect_contains "scripts/demo negotiates a key" "$out" "Negotiate:" "0x00000000 S_OK"
if [[ -x $KEYD_BUILD_ROOT/decoder/keyd-decoder ]] && command -v ffmpeg >/dev/null; then
        expect_contains "scripts/demo plays a CENC clip through keyd" "$out" \
                "every frame came back as a sealed memfd" "identical to ffmpeg's own decryption and decoding"
        [[ -s $KEYD_DEMO_DIR/frame.png ]] || fail "scripts/demo wrote no $KEYD_DEMO_DIR/frame.png: $out"
fi
[[ ! -e $KEYD_DEMO_DIR/keyd.pid && ! -e $KEYD_DEMO_DIR/dbus.pid ]] || fail "scripts/demo --stop left pid files"

echo "PASS: README"
