#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A misbehaving player against keyd's protected decode, with real CENC
# content: a wrong content key, a subsample map that does not add up, a
# truncated sample, another client reaching for the decoder, a client that
# dies mid-stream, and a bounded fuzz run of mutated samples. Each gets a
# clear error (or, where nothing is detectable, exactly what is); keyd stays
# up and decodes the next client's clip frame for frame as ffmpeg does.

# shellcheck source=tests/service/lib.sh
source "$(dirname "$0")/../service/lib.sh"
# shellcheck source=tests/decode/lib-decode.sh
source "$(dirname "$0")/lib-decode.sh"

: "${DECODE_ABUSE_BINARY:?}"

make_clip clip 176x144 12 libx264 -bf 2
reference_framemd5 clip
samples=12

start_open_bus
start_decoding_keyd

# still_decodes WHAT: keyd is up, and a fresh client plays the clip exactly
# as ffmpeg decodes it.
still_decodes() {
        keyd_alive "$1"
        "$KEYDCTL_BINARY" --address="$address" play "$tmp/clip.mp4" --key="$content_key" >"$tmp/again.keyd" \
                2>"$tmp/again.err" || fail "after $1, keydctl play failed: $(cat "$tmp/again.err")"
        [[ $(md5_column "$tmp/again.keyd") == "$(md5_column "$tmp/clip.ffmpeg")" ]] ||
                fail "after $1, the frames differ from ffmpeg's"
        ok "after $1: keyd is up and decodes the clip as ffmpeg does"
}

abuse() {
        "$DECODE_ABUSE_BINARY" "$address" "$@"
}

# ---- a wrong content key ----
wrong_key=ffeeddccbbaa99887766554433221100
status=0
"$KEYDCTL_BINARY" --address="$address" play "$tmp/clip.mp4" --key="$wrong_key" >"$tmp/wrong.keyd" \
        2>"$tmp/wrong.err" || status=$?
# CENC has no integrity check: keyd cannot tell a wrong key from a right one.
# What is detectable: the decrypted bitstream is noise (ffmpeg's muxer
# encrypts the slice headers too), so no frame decodes: libavcodec refuses
# the samples, keydctl play fails with keyd's error and prints no frame line.
# keyd answers the decoder's failure as InvalidArg with libavcodec's reason.
((status == 1)) || fail "a wrong key: exit status $status, expected 1: $(cat "$tmp/wrong.err")"
[[ -z $(md5_column "$tmp/wrong.keyd") ]] || fail "a wrong key: frames came out: $(cat "$tmp/wrong.keyd")"
if ! grep -q -E "^keydctl: DecoderEndFrame failed at sample [0-9]+: 0x80070057 E_INVALIDARG" "$tmp/wrong.err" ||
        ! grep -q "libavcodec could not decode the sample" "$tmp/wrong.err"; then
        fail "a wrong key: not the decoder's InvalidArg: $(cat "$tmp/wrong.err")"
fi
ok "a wrong key: no frame, $(grep -m1 '^keydctl: ' "$tmp/wrong.err")"
still_decodes "a wrong content key"

# ---- a subsample map one byte longer than the sample ----
abuse bad-map "$tmp/clip.mp4" "$content_key" >"$tmp/bad-map.out" 2>&1 ||
        fail "keyd-decode-abuse bad-map: $(cat "$tmp/bad-map.out")"
grep -q -E "^(SubmitDecoderBuffers|DecoderEndFrame) 0x80070057 E_INVALIDARG: .*subsample" "$tmp/bad-map.out" ||
        fail "a map past the end of the sample: no InvalidArg about the subsamples: $(cat "$tmp/bad-map.out")"
expect_eq "after the refused sample, the same decoder decodes the whole clip" \
        "$(grep '^frames ' "$tmp/bad-map.out")" "frames $samples"
ok "a map past the sample's end: $(grep -m1 0x80070057 "$tmp/bad-map.out")"
still_decodes "a subsample map that does not add up"

# ---- a truncated sample (its map cut to match) ----
abuse truncate "$tmp/clip.mp4" "$content_key" >"$tmp/truncate.out" 2>&1 ||
        fail "keyd-decode-abuse truncate: $(cat "$tmp/truncate.out")"
# A cut sample decrypts fine (the map adds up); what the decoder makes of
# half an IDR picture is libavcodec's business: an error with a message, or
# frames with concealment. Either way every call answered, with a message
# when it failed (keyd-decode-abuse checks), and keyd goes on.
grep -q '^frames [0-9]' "$tmp/truncate.out" || fail "a truncated sample: $(cat "$tmp/truncate.out")"
# The helper did not die of it: no E_FAIL, no DXGI_ERROR_DEVICE_REMOVED.
if grep -E ' 0x(80004005|887A0005) ' "$tmp/truncate.out"; then
        fail "a truncated sample killed the decoder: $(cat "$tmp/truncate.out")"
fi
ok "a truncated sample: $(grep -v '^then' "$tmp/truncate.out" | head -n 3 | tr '\n' ';')"
still_decodes "a truncated sample"

# ---- a client that dies mid-stream ----
sessions_before=$(session_count)
# The binary itself in the background (not the abuse function, whose
# subshell would be what $! names and what the kill ends).
"$DECODE_ABUSE_BINARY" "$address" hold "$tmp/clip.mp4" "$content_key" 5 >"$tmp/hold.out" 2>&1 &
holder=$!
_pids+=("$holder")
for ((i = 0; i < 200; i++)); do
        grep -q '^holding ' "$tmp/hold.out" && break
        kill -0 "$holder" 2>/dev/null || fail "keyd-decode-abuse hold: $(cat "$tmp/hold.out")"
        sleep 0.05
done
grep -q '^holding ' "$tmp/hold.out" || fail "keyd-decode-abuse hold did not start decoding"
helpers=$(helper_pids)
[[ -n $helpers ]] || fail "a decoding client, but keyd has no helper process"
expect_eq "SessionCount while the client decodes" "$(session_count)" "$((sessions_before + 1))"

# ---- another client reaching for that decoder: AccessDenied ----
session_path=$(awk '/^holding / { print $2 }' "$tmp/hold.out")
decoder_path=$(bctl tree --list "$KEYD_BUS_NAME" | grep -E "^$session_path/decoder/[0-9]+$" | head -n1)
[[ -n $decoder_path ]] || fail "no decoder object under $session_path: $(bctl tree --list "$KEYD_BUS_NAME")"
helper_pid=$(bctl get-property "$KEYD_BUS_NAME" "$decoder_path" org.keyd.KeyBroker1.VideoDecoder HelperPID |
        awk '{ print $2 }')
for method in Drain Flush Close; do
        if bctl call "$KEYD_BUS_NAME" "$decoder_path" org.keyd.KeyBroker1.VideoDecoder "$method" \
                >"$tmp/other.out" 2>&1; then
                fail "another client's $method on $decoder_path succeeded"
        fi
        grep -q "0x80070005: .*belongs to another connection" "$tmp/other.out" ||
                fail "another client's $method: not AccessDenied with its reason: $(cat "$tmp/other.out")"
done
kill -0 "$helper_pid" 2>/dev/null || fail "the owner's helper $helper_pid died of another client's calls"
expect_eq "the owner's decoder after another client's calls" \
        "$(bctl get-property "$KEYD_BUS_NAME" "$decoder_path" org.keyd.KeyBroker1.VideoDecoder Failure)" 's ""'
ok "another client's Drain, Flush and Close on the decoder: AccessDenied ($(head -n1 "$tmp/other.out"))"
kill -KILL "$holder"
wait "$holder" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
        [[ -z $(helper_pids) && $(session_count) == "$sessions_before" ]] && break
        sleep 0.05
done
[[ -z $(helper_pids) ]] || fail "the dead client's helper is still there: $(helper_pids)"
expect_eq "SessionCount after the client died" "$(session_count)" "$sessions_before"
ok "a client killed mid-stream: its helper ($helpers) is gone, its session too"
still_decodes "a client that died mid-stream"

# ---- bounded fuzz: 300 mutated samples, a fixed seed ----
abuse fuzz "$tmp/clip.mp4" "$content_key" 0x5eed 300 >"$tmp/fuzz.out" 2>&1 ||
        fail "keyd-decode-abuse fuzz: $(cat "$tmp/fuzz.out")"
grep -q '^tally ' "$tmp/fuzz.out" || fail "the fuzz run counted nothing: $(cat "$tmp/fuzz.out")"
ok "300 mutated samples, every call answered with an HRESULT and a message: $(grep -E '^(tally|decoders)' \
        "$tmp/fuzz.out" | tr '\n' ';')"
still_decodes "the fuzz run"

echo "PASS: decode bad input"
