#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# keydctl play decrypts and decodes CENC clips through keyd, frame for frame
# as ffmpeg does: for H.264 (B-frames, 4 slices per picture, odd sizes not a
# multiple of 16, 1280x720) and HEVC Main and Main 10, every frame's MD5 and
# the frame count equal those of `ffmpeg -decryption_key K -i enc.mp4 -f
# framemd5 -`, the whole framemd5 is the same, and --png writes the frame.
# The expected MD5s are ffmpeg's, computed here from the same file.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/../service/lib.sh"
# shellcheck source=tests/decode/lib-decode.sh
source "$(dirname "$0")/lib-decode.sh"

# NAME SIZE FRAMES ENCODER OPTIONS: short clips, so that the suite is quick.
clips=(
        "h264-qcif 176x144 12 libx264 -bf 2"
        "h264-odd-slices 642x362 12 libx264 -bf 3 -x264-params slices=4"
        "h264-odd-small 98x66 8 libx264 -bf 0"
        "h264-720p 1280x720 10 libx264 -bf 2 -preset ultrafast"
        "hevc-main 322x182 12 libx265 -x265-params log-level=error:bframes=3"
        "hevc-main10 322x182 12 libx265 -pix_fmt yuv420p10le -x265-params log-level=error:bframes=2"
)

start_open_bus
start_decoding_keyd

for clip in "${clips[@]}"; do
        read -r -a words <<<"$clip"
        name=${words[0]}
        make_clip "${words[@]}"
        reference_framemd5 "$name"

        status=0
        "$KEYDCTL_BINARY" --address="$address" play "$tmp/$name.mp4" --key="$content_key" \
                >"$tmp/$name.keyd" 2>"$tmp/$name.err" || status=$?
        ((status == 0)) || fail "$name: keydctl play exit status $status: $(cat "$tmp/$name.err")"

        want=$(md5_column "$tmp/$name.ffmpeg")
        got=$(md5_column "$tmp/$name.keyd")
        frames=$(wc -l <<<"$want")
        ((frames == words[2])) || fail "$name: ffmpeg decoded $frames frames, the clip has ${words[2]}"
        [[ $got == "$want" ]] || fail "$name: the frames through keyd differ from ffmpeg's:
$(diff <(echo "$want") <(echo "$got"))"
        diff -u "$tmp/$name.ffmpeg" "$tmp/$name.keyd" >"$tmp/diff" ||
                fail "$name: the framemd5 lines differ from ffmpeg's: $(cat "$tmp/diff")"
        grep -q -E "^Played: .* $frames frames \((NV12|P010)\)" "$tmp/$name.err" ||
                fail "$name: no summary: $(cat "$tmp/$name.err")"
        grep -q "bytes decrypted inside keyd" "$tmp/$name.err" || fail "$name: no summary of what keyd decrypted"
        grep -q "every frame came back as a sealed memfd" "$tmp/$name.err" ||
                fail "$name: $(cat "$tmp/$name.err")"
        ok "$name (${words[1]}, ${words[3]}): $frames frames through keyd, MD5 for MD5 those of ffmpeg"
done

# 10-bit frames came back as P010, 8-bit as NV12.
grep -q "(P010)" "$tmp/hevc-main10.err" || fail "HEVC Main 10 did not come back as P010"
grep -q "HEVC Main 10" "$tmp/hevc-main10.err" || fail "HEVC Main 10 was not decoded as Main 10"
grep -q "(NV12)" "$tmp/hevc-main.err" || fail "HEVC Main did not come back as NV12"
ok "Main 10 as P010, 8-bit as NV12"

# --png: a picture of frame 3, the size of the clip, whose pixels are those
# of ffmpeg's own conversion of that frame to RGB (BT.601, chroma repeated
# rather than interpolated, exact rounding: what keydctl does), within 1 for
# rounding.
"$KEYDCTL_BINARY" --address="$address" play "$tmp/h264-qcif.mp4" --key="$content_key" --png="$tmp/f3.png" \
        --frame=3 >/dev/null 2>"$tmp/png.err" || fail "play --png: $(cat "$tmp/png.err")"
grep -q "Picture: *frame 3 as 176x144 PNG" "$tmp/png.err" || fail "play --png: $(cat "$tmp/png.err")"
ff -i "$tmp/f3.png" -f rawvideo -pix_fmt rgb24 "$tmp/keyd.rgb" 2>"$tmp/ffmpeg.log" ||
        fail "ffmpeg cannot read the PNG keydctl wrote: $(cat "$tmp/ffmpeg.log")"
ff -decryption_key "$content_key" -i "$tmp/h264-qcif.mp4" -vf "select=eq(n\,3)" -frames:v 1 \
        -sws_flags neighbor+accurate_rnd+full_chroma_int -f rawvideo -pix_fmt rgb24 "$tmp/ffmpeg.rgb" \
        2>"$tmp/ffmpeg.log" || fail "ffmpeg cannot make the reference picture: $(cat "$tmp/ffmpeg.log")"
"$PYTHON" - "$tmp/keyd.rgb" "$tmp/ffmpeg.rgb" <<'PY' || fail "the PNG's pixels are not frame 3's"
import sys
a, b = (open(p, "rb").read() for p in sys.argv[1:3])
assert len(a) == len(b) == 176 * 144 * 3, (len(a), len(b))
worst = max(abs(x - y) for x, y in zip(a, b))
print(f"PNG vs ffmpeg's rgb24 of frame 3: largest difference {worst}")
assert worst <= 1, worst
PY
ok "play --png=FILE --frame=3 writes frame 3 as a 176x144 PNG"

# A frame past the end is a clear error, and --frame needs --png.
status=0
"$KEYDCTL_BINARY" --address="$address" play "$tmp/h264-qcif.mp4" --key="$content_key" --png="$tmp/x.png" \
        --frame=99 >/dev/null 2>"$tmp/err" || status=$?
if ((status != 1)) || ! grep -q -- "--frame=99: the file has 12 frames" "$tmp/err"; then
        fail "--frame past the end: status $status: $(cat "$tmp/err")"
fi
status=0
"$KEYDCTL_BINARY" --address="$address" play "$tmp/h264-qcif.mp4" --frame=1 >/dev/null 2>"$tmp/err" || status=$?
((status == 2)) || fail "--frame without --png: status $status: $(cat "$tmp/err")"
expect_refused_play() {
        local what=$1 want=$2 pattern=$3 status=0
        shift 3
        "$KEYDCTL_BINARY" --address="$address" play "$@" >/dev/null 2>"$tmp/err" || status=$?
        if ((status != want)) || ! grep -q -E -- "$pattern" "$tmp/err"; then
                fail "$what: status $status, expected $want and '$pattern': $(cat "$tmp/err")"
        fi
}
expect_refused_play "--frame not a number" 2 "^keydctl: --frame=x: expected a frame number" \
        "$tmp/h264-qcif.mp4" --key="$content_key" --png="$tmp/x.png" --frame=x
expect_refused_play "--png in a directory that is not there" 1 "^keydctl: --png=$tmp/no/x.png: cannot create it" \
        "$tmp/h264-qcif.mp4" --key="$content_key" --png="$tmp/no/x.png"
ok "--frame past the end or not a number, --frame without --png, --png where it cannot be written: refused"

# ---- what keydctl play refuses, before keyd sees anything ----
# expect_refused WHAT STATUS PATTERN ARGS...: keydctl play ARGS exits STATUS
# with a stderr line matching PATTERN (extended regex) and no frame line.
expect_refused() {
        local what=$1 want=$2 pattern=$3 status=0
        shift 3
        "$KEYDCTL_BINARY" --address="$address" play "$@" >"$tmp/refused.out" 2>"$tmp/refused.err" || status=$?
        ((status == want)) || fail "$what: exit status $status, expected $want: $(cat "$tmp/refused.err")"
        grep -q -E "$pattern" "$tmp/refused.err" || fail "$what: stderr does not match '$pattern': $(cat "$tmp/refused.err")"
        [[ -z $(md5_column "$tmp/refused.out") ]] || fail "$what: frame lines came out"
        ok "$what: $(grep -m1 "^keydctl: " "$tmp/refused.err")"
}
enc=$tmp/h264-qcif.mp4
expect_refused "an encrypted file without --key" 2 "is encrypted: give its content key with --key=HEX" "$enc"
expect_refused "--key too short" 2 "^keydctl: --key: expected 32 hex digits .* got 4 characters" "$enc" --key=0011
expect_refused "--key not hex" 2 "^keydctl: --key: expected 32 hex digits.*character 32 is not one" "$enc" \
        --key=0011223344556677889900112233445z
expect_refused "no FILE" 2 "^keydctl: play takes a FILE argument" --key="$content_key"
expect_refused "two FILEs" 2 "^keydctl: play takes one FILE, got \"$enc\" too" "$enc" "$enc"
expect_refused "a file that is not there" 1 "no-such\.mp4: cannot open it as a media file: No such file" \
        "$tmp/no-such.mp4"
printf 'not a movie\n' >"$tmp/text.mp4"
expect_refused "a file that is not a media file" 1 "text\.mp4: cannot open it as a media file" "$tmp/text.mp4"
ff -f lavfi -i sine=duration=0.2 "$tmp/audio.m4a" 2>"$tmp/ffmpeg.log" || fail "ffmpeg: $(cat "$tmp/ffmpeg.log")"
expect_refused "audio only" 1 "audio\.m4a: holds no video stream" "$tmp/audio.m4a"
ff -f lavfi -i testsrc2=size=64x64:rate=25 -frames:v 2 -c:v mpeg4 "$tmp/mpeg4.mp4" 2>"$tmp/ffmpeg.log" ||
        fail "ffmpeg: $(cat "$tmp/ffmpeg.log")"
expect_refused "MPEG-4 Part 2 video" 1 "the video is mpeg4; keyd decodes H.264 and HEVC" "$tmp/mpeg4.mp4"
ff -f lavfi -i testsrc2=size=64x64:rate=25 -frames:v 2 -c:v libx264 -pix_fmt yuv420p10le "$tmp/high10.mp4" \
        2>"$tmp/ffmpeg.log" || fail "ffmpeg: $(cat "$tmp/ffmpeg.log")"
expect_refused "H.264 High 10" 1 "H\.264 profile_idc 110; keyd's H264_VLD_NOFGT decodes 8-bit 4:2:0" "$tmp/high10.mp4"
ff -f lavfi -i testsrc2=size=64x64:rate=25 -frames:v 2 -c:v libx265 -pix_fmt yuv444p \
        -x265-params log-level=error "$tmp/rext.mp4" 2>"$tmp/ffmpeg.log" || fail "ffmpeg: $(cat "$tmp/ffmpeg.log")"
expect_refused "HEVC 4:4:4 (Range Extensions)" 1 "HEVC profile 4 with 8-bit samples; keyd decodes HEVC Main" \
        "$tmp/rext.mp4"

# --key=-: the key from standard input, not the command line.
printf '%s\n' "$content_key" | "$KEYDCTL_BINARY" --address="$address" play "$tmp/h264-qcif.mp4" --key=- \
        >"$tmp/stdin.keyd" 2>"$tmp/stdin.err" || fail "--key=-: $(cat "$tmp/stdin.err")"
[[ $(md5_column "$tmp/stdin.keyd") == "$(md5_column "$tmp/h264-qcif.ffmpeg")" ]] ||
        fail "--key=-: the frames differ from ffmpeg's"
status=0
printf '%s\n' "${content_key}00" | "$KEYDCTL_BINARY" --address="$address" play "$tmp/h264-qcif.mp4" --key=- \
        >/dev/null 2>"$tmp/stdin.err" || status=$?
if ((status != 2)) || ! grep -q "got 33 characters" "$tmp/stdin.err"; then
        fail "--key=- with a line too long: status $status: $(cat "$tmp/stdin.err")"
fi
ok "--key=- reads the key from standard input (and refuses a line too long)"

# The key is never printed: not by keydctl, not by keyd.
if grep -l -i -F "$content_key" "$tmp"/*.err "$tmp"/*.keyd "$tmp/keyd.log"; then
        fail "the content key appears in the files above"
fi
ok "the content key is in no output of keydctl or keyd"

# A clear file plays too (no key needed), as ffmpeg decodes it.
"$KEYDCTL_BINARY" --address="$address" play "$tmp/h264-qcif-clear.mp4" >"$tmp/clear.keyd" 2>"$tmp/clear.err" ||
        fail "a clear file: $(cat "$tmp/clear.err")"
ff -i "$tmp/h264-qcif-clear.mp4" -fflags +bitexact -f framemd5 - >"$tmp/clear.ffmpeg" 2>"$tmp/ffmpeg.log" ||
        fail "ffmpeg: $(cat "$tmp/ffmpeg.log")"
diff -u "$tmp/clear.ffmpeg" "$tmp/clear.keyd" >"$tmp/diff" || fail "a clear file: $(cat "$tmp/diff")"
grep -q "0 encrypted, 0 bytes decrypted inside keyd" "$tmp/clear.err" && grep -q "the file is in the clear" \
        "$tmp/clear.err" || fail "a clear file: the summary claims what did not happen: $(cat "$tmp/clear.err")"
ok "a clear file plays without --key, as ffmpeg decodes it, and the summary says it was clear"

echo "PASS: decode play"
