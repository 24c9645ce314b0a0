#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# examples/decode.c, the libkeyd decode loop that README.md and libkeyd(3)
# point to: both name it, it builds with -Wall -Wextra -Werror against the
# built libkeyd and libavformat, and it runs: it decodes an H.264 and an
# HEVC CENC clip through keyd, as many frames as ffmpeg decodes, and without
# keyd it ends with a clean 0x80070426 error instead of a crash.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/../service/lib.sh"
# shellcheck source=tests/decode/lib-decode.sh
source "$(dirname "$0")/lib-decode.sh"

: "${KEYD_LIBKEYD:?}"
example=$KEYD_SOURCE_ROOT/examples/decode.c
[[ -s $example ]] || fail "$example is missing"

grep -q '(examples/decode\.c)' "$KEYD_SOURCE_ROOT/README.md" || fail "README.md does not link examples/decode.c"
grep -q -E 'examples/decode(\\&)?\.c' "$KEYD_BUILD_ROOT/man/libkeyd.3" || fail "libkeyd(3) does not name examples/decode.c"
ok "README.md and libkeyd(3) point to examples/decode.c"

libdir=$(dirname "$KEYD_LIBKEYD")
# shellcheck disable=SC2046 # pkg-config's words
cc -std=gnu11 -Wall -Wextra -Werror -o "$tmp/decode" "$example" -I"$KEYD_SOURCE_ROOT/include" \
        $(pkg-config --cflags --libs libavformat libavcodec libavutil) -L"$libdir" -lkeyd -Wl,-rpath,"$libdir" \
        2>"$tmp/cc.log" || fail "examples/decode.c does not build: $(cat "$tmp/cc.log")"
ok "examples/decode.c builds with -Wall -Wextra -Werror"

# The example negotiates the key itself as the session key (no content key).
make_clip h264 176x144 10 libx264 -bf 2
make_clip hevc 160x96 10 libx265 -x265-params log-level=error

address=unix:path=$tmp/no-such-bus
status=0
DBUS_SYSTEM_BUS_ADDRESS=$address "$tmp/decode" "$tmp/h264.mp4" "$content_key" >"$tmp/out" 2>"$tmp/err" || status=$?
if ((status != 1)) || ! grep -q -E '^0x80070426: ' "$tmp/err"; then
        fail "without a bus: exit status $status: $(cat "$tmp/out" "$tmp/err")"
fi
ok "without a bus: $(cat "$tmp/err")"

start_open_bus
start_decoding_keyd
for clip in h264 hevc; do
        reference_framemd5 "$clip"
        frames=$(md5_column "$tmp/$clip.ffmpeg" | wc -l)
        status=0
        DBUS_SYSTEM_BUS_ADDRESS=$address "$tmp/decode" "$tmp/$clip.mp4" "$content_key" >"$tmp/out" 2>"$tmp/err" ||
                status=$?
        ((status == 0)) || fail "$clip: exit status $status: $(cat "$tmp/out" "$tmp/err")"
        expect_eq "$clip: the example's last line" "$(tail -n1 "$tmp/out")" \
                "0x00000000: $frames frames decoded inside keyd"
        expect_eq "$clip: frame lines" "$(grep -c '^frame ' "$tmp/out")" "$frames"
done

echo "PASS: decode example"
