# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# shellcheck disable=SC2154 # tmp, keyd_pid, address: set by tests/service/lib.sh
#
# For the tests/decode scripts, after tests/service/lib.sh: CENC test content
# made with the ffmpeg CLI, and ffmpeg's own decryption and decoding of it as
# the reference.

: "${FFMPEG:=ffmpeg}" "${KEYDCTL_BINARY:?set by meson}" "${KEYD_DECODER_BINARY:?set by meson}"

# start_decoding_keyd [ARGS...]: keyd with the build tree's decoder helper.
start_decoding_keyd() {
        start_keyd --decoder-helper="$KEYD_DECODER_BINARY" "$@"
}

# The content key and key ID of every clip (the key's value does not matter;
# the reference decodes with it too).
content_key=00112233445566778899aabbccddeeff
content_kid=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf

ff() {
        "$FFMPEG" -nostdin -hide_banner -loglevel error -y "$@"
}

# make_clip NAME SIZE FRAMES ENCODER [ENCODER-OPTIONS...]: $tmp/NAME.mp4, a
# testsrc2 clip encoded with ENCODER, then encrypted with 'cenc' (every
# sample, AES-128-CTR, subsamples over the NAL units) by ffmpeg's MP4 muxer.
make_clip() {
        local name=$1 size=$2 frames=$3 encoder=$4
        shift 4
        ff -f lavfi -i "testsrc2=size=$size:rate=25" -frames:v "$frames" -c:v "$encoder" "$@" \
                "$tmp/$name-clear.mp4" 2>"$tmp/ffmpeg.log" ||
                fail "ffmpeg cannot make the $name clip ($size, $encoder $*): $(cat "$tmp/ffmpeg.log")"
        ff -i "$tmp/$name-clear.mp4" -c copy -encryption_scheme cenc-aes-ctr -encryption_key "$content_key" \
                -encryption_kid "$content_kid" "$tmp/$name.mp4" 2>"$tmp/ffmpeg.log" ||
                fail "ffmpeg cannot encrypt the $name clip: $(cat "$tmp/ffmpeg.log")"
}

# reference_framemd5 NAME: ffmpeg's own decryption and decoding, as framemd5.
reference_framemd5() {
        ff -decryption_key "$content_key" -i "$tmp/$1.mp4" -fflags +bitexact -f framemd5 - \
                2>"$tmp/ffmpeg.log" >"$tmp/$1.ffmpeg" ||
                fail "ffmpeg cannot decode the $1 clip: $(cat "$tmp/ffmpeg.log")"
}

# md5_column FILE: the hash column of a framemd5, in order.
md5_column() {
        awk -F', *' '!/^#/ { print $6 }' "$1"
}

# helper_pids: the processes keyd started (its decoder helpers).
helper_pids() {
        pgrep -P "$keyd_pid" || true
}

session_count() {
        bctl get-property "$KEYD_BUS_NAME" "$KEYD_MANAGER_PATH" "$KEYD_MANAGER_IFACE" SessionCount | awk '{ print $2 }'
}

keyd_alive() {
        kill -0 "$keyd_pid" 2>/dev/null || fail "keyd died: $1"
        session_count >/dev/null || fail "keyd does not answer: $1"
}
