/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-decode-abuse: a misbehaving player, for tests/decode. It reads a real
 * CENC MP4 (made by the test with ffmpeg) with libavformat, negotiates a
 * session with keyd through libkeyd as keydctl play does, and then sends
 * what a broken or hostile client would:
 *
 *   bad-map  FILE KEY          sample 0 with a subsample map one byte longer
 *                              than the sample, then the file as it is
 *   truncate FILE KEY          sample 0 cut to half (map cut to match), then
 *                              the rest of the file
 *   hold     FILE KEY N        N samples, then prints "holding SESSION_PATH"
 *                              and waits to be killed
 *   fuzz     FILE KEY SEED N   N mutated samples (a fixed xorshift seed):
 *                              bytes flipped, maps and IV sizes made up,
 *                              samples cut; a decoder that died is replaced
 *
 * Every call's HRESULT is printed as "CALL 0xHRESULT NAME: message"; at the
 * end "frames N" and, for fuzz, a count per HRESULT. Exit status 0 unless a
 * step outside the abuse failed (or a failed call came without a message). */

#include <inttypes.h>
#include <nettle/aes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/encryption_info.h>

#include "keyd/keyd.h"
#include "macro.h"

typedef struct Sample {
        uint8_t *data;
        uint32_t size;
        uint8_t iv[16];
        uint32_t iv_size;
        keyd_subsample_mapping_block *blocks;
        uint32_t block_count;
        int64_t pts;
} Sample;

typedef struct Abuse {
        keyd_client *client;
        keyd_crypto_session *session;
        keyd_video_decoder *decoder;
        const keyd_guid *profile;
        AVCodecParameters *par;
        uint8_t wrapped_key[16];
        Sample *samples;
        size_t n_samples;
        uint64_t frames;
        unsigned silent_failures;   /* failed calls without a message */
} Abuse;

static _Noreturn void die(const char *what, HRESULT hr) {
        fprintf(stderr, "keyd-decode-abuse: %s: 0x%08X %s: %s\n", what, (unsigned) hr, keyd_hresult_to_string(hr),
                keyd_last_error_message());
        exit(EXIT_FAILURE);
}

static HRESULT report(Abuse *a, const char *call, HRESULT hr) {
        if (KEYD_FAILED(hr)) {
                const char *m = keyd_last_error_message();
                printf("%s 0x%08X %s: %s\n", call, (unsigned) hr, keyd_hresult_to_string(hr), m);
                if (!m || !*m)
                        a->silent_failures++;
        }
        return hr;
}

static void read_samples(Abuse *a, const char *path) {
        AVFormatContext *fmt = NULL;
        AVPacket *pkt = av_packet_alloc();
        int index;

        av_log_set_level(AV_LOG_FATAL);
        if (avformat_open_input(&fmt, path, NULL, NULL) < 0)
                die("cannot open the file", KEYD_E_FAIL);
        index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (index < 0)
                die("no video stream", KEYD_E_FAIL);
        a->par = avcodec_parameters_alloc();
        avcodec_parameters_copy(a->par, fmt->streams[index]->codecpar);
        if (a->par->codec_id == AV_CODEC_ID_H264)
                a->profile = &KEYD_DECODER_PROFILE_H264_VLD_NOFGT;
        else if (a->par->extradata_size > 1 && (a->par->extradata[1] & 0x1f) == 2)
                a->profile = &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10;
        else
                a->profile = &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN;

        while (av_read_frame(fmt, pkt) >= 0) {
                if (pkt->stream_index == index) {
                        size_t side_size;
                        const uint8_t *side = av_packet_get_side_data(pkt, AV_PKT_DATA_ENCRYPTION_INFO, &side_size);
                        AVEncryptionInfo *info = side ? av_encryption_info_get_side_data(side, side_size) : NULL;
                        Sample *s;

                        a->samples = realloc(a->samples, (a->n_samples + 1) * sizeof(Sample));
                        s = &a->samples[a->n_samples++];
                        *s = (Sample) { .size = (uint32_t) pkt->size, .pts = pkt->pts };
                        s->data = malloc((size_t) pkt->size + 1);
                        memcpy(s->data, pkt->data, (size_t) pkt->size);
                        if (info) {
                                s->iv_size = MIN(info->iv_size, 16U);
                                memcpy(s->iv, info->iv, s->iv_size);
                                s->block_count = info->subsample_count;
                                s->blocks = calloc(s->block_count + 2, sizeof(*s->blocks));
                                for (uint32_t i = 0; i < s->block_count; i++)
                                        s->blocks[i] = (keyd_subsample_mapping_block) {
                                                info->subsamples[i].bytes_of_clear_data,
                                                info->subsamples[i].bytes_of_protected_data };
                                av_encryption_info_free(info);
                        }
                }
                av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
        avformat_close_input(&fmt);
        if (a->n_samples == 0)
                die("no samples", KEYD_E_FAIL);
}

static void negotiate(Abuse *a, const char *address, const char *key_hex) {
        uint8_t session_key[16], content_key[16], *cert, *data;
        uint32_t cert_size, data_size;
        struct aes128_ctx ecb;
        HRESULT hr;

        for (int i = 0; i < 16; i++) {
                unsigned v;
                if (sscanf(key_hex + 2 * i, "%2x", &v) != 1)
                        die("KEY: expected 32 hex digits", KEYD_E_INVALIDARG);
                content_key[i] = (uint8_t) v;
        }
        hr = keyd_client_open_address(address, &a->client);
        if (KEYD_FAILED(hr))
                die("cannot connect", hr);
        hr = keyd_create_crypto_session(a->client, &KEYD_CRYPTO_TYPE_AES128_CTR, a->profile,
                                        &KEYD_KEY_EXCHANGE_RSAES_OAEP, &a->session);
        if (KEYD_FAILED(hr))
                die("CreateCryptoSession", hr);
        hr = keyd_crypto_session_get_certificate_size(a->session, &cert_size);
        if (KEYD_FAILED(hr))
                die("GetCertificateSize", hr);
        cert = malloc(cert_size);
        hr = keyd_crypto_session_get_certificate(a->session, cert_size, cert);
        if (KEYD_FAILED(hr))
                die("GetCertificate", hr);
        hr = keyd_get_key_exchange_data_size(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, &data_size);
        if (KEYD_FAILED(hr))
                die("GetKeyExchangeDataSize", hr);
        data = malloc(data_size);
        if (getrandom(session_key, sizeof(session_key), 0) != sizeof(session_key))
                die("getrandom", KEYD_E_FAIL);
        hr = keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, session_key, 16, data_size, data);
        if (KEYD_FAILED(hr))
                die("wrap the session key", hr);
        hr = keyd_negotiate_crypto_session_key_exchange(a->session, data_size, data);
        if (KEYD_FAILED(hr))
                die("NegotiateCryptoSessionKeyExchange", hr);
        aes128_set_encrypt_key(&ecb, session_key);
        aes128_encrypt(&ecb, 16, a->wrapped_key, content_key);
        explicit_bzero(session_key, sizeof(session_key));
        explicit_bzero(content_key, sizeof(content_key));
        free(cert);
        free(data);
}

static void create_decoder(Abuse *a) {
        HRESULT hr = keyd_create_video_decoder(a->session, a->profile, (uint32_t) a->par->width,
                                               (uint32_t) a->par->height, (uint32_t) a->par->extradata_size,
                                               a->par->extradata, &a->decoder);
        if (KEYD_FAILED(hr))
                die("CreateVideoDecoder", hr);
}

static void take_frames(Abuse *a) {
        for (;;) {
                keyd_video_frame *f = NULL;
                HRESULT hr = report(a, "GetFrame", keyd_decoder_get_frame(a->decoder, &f));

                if (hr != KEYD_S_OK || !f)
                        return;
                a->frames++;
                keyd_video_frame_release(f);
        }
}

/* BeginFrame, the sample, EndFrame; the first failure. */
static HRESULT send_sample(Abuse *a, const uint8_t *data, uint32_t size, const uint8_t *iv, uint32_t iv_size,
                           const keyd_subsample_mapping_block *blocks, uint32_t block_count, int64_t pts) {
        HRESULT hr = report(a, "DecoderBeginFrame", keyd_decoder_begin_frame(a->decoder, 16, a->wrapped_key));

        if (KEYD_SUCCEEDED(hr))
                hr = report(a, "SubmitDecoderBuffers",
                            keyd_decoder_submit_buffer(a->decoder, size, data, iv_size, iv, block_count, blocks, pts));
        if (KEYD_SUCCEEDED(hr))
                hr = report(a, "DecoderEndFrame", keyd_decoder_end_frame(a->decoder));
        if (KEYD_SUCCEEDED(hr))
                take_frames(a);
        return hr;
}

static HRESULT send_as_is(Abuse *a, const Sample *s) {
        return send_sample(a, s->data, s->size, s->iv, s->iv_size, s->blocks, s->block_count, s->pts);
}

static void finish(Abuse *a) {
        if (a->decoder) {
                if (KEYD_SUCCEEDED(report(a, "Drain", keyd_decoder_drain(a->decoder))))
                        take_frames(a);
        }
        printf("frames %" PRIu64 "\n", a->frames);
}

static void abuse_bad_map(Abuse *a) {
        Sample *s = &a->samples[0];
        keyd_subsample_mapping_block blocks[64];
        uint32_t n = MIN(s->block_count, 63U);

        memcpy(blocks, s->blocks, n * sizeof(*blocks));
        if (n == 0)
                blocks[n++] = (keyd_subsample_mapping_block) { 0, s->size };
        blocks[n - 1].EncryptedSize += 1;   /* one byte past the sample */
        send_sample(a, s->data, s->size, s->iv, s->iv_size, blocks, n, s->pts);
        printf("then the file as it is\n");
        for (size_t i = 0; i < a->n_samples; i++)
                send_as_is(a, &a->samples[i]);
}

static void abuse_truncate(Abuse *a) {
        Sample *s = &a->samples[0];
        keyd_subsample_mapping_block blocks[64];
        uint32_t n = 0, left = s->size / 2;

        /* The map cut at the same place, so that it adds up. */
        for (uint32_t i = 0; i < MIN(s->block_count, 64U) && left > 0; i++) {
                uint32_t clear = MIN(s->blocks[i].ClearSize, left);
                uint32_t enc = MIN(s->blocks[i].EncryptedSize, left - clear);
                blocks[n++] = (keyd_subsample_mapping_block) { clear, enc };
                left -= clear + enc;
        }
        send_sample(a, s->data, s->size / 2, s->iv, s->iv_size, blocks, n, s->pts);
        printf("then the rest of the file\n");
        for (size_t i = 1; i < a->n_samples; i++)
                send_as_is(a, &a->samples[i]);
}

static void abuse_hold(Abuse *a, unsigned long n) {
        for (size_t i = 0; i < a->n_samples && i < n; i++)
                if (KEYD_FAILED(send_as_is(a, &a->samples[i])))
                        die("a sample as it is", KEYD_E_FAIL);
        printf("holding %s frames %" PRIu64 "\n", keyd_crypto_session_get_object_path(a->session), a->frames);
        fflush(stdout);
        for (;;)
                pause();
}

static uint64_t rng_state;

static uint64_t rnd(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

typedef struct Tally {
        HRESULT hr;
        unsigned count;
} Tally;

static void tally(Tally *t, size_t *n, HRESULT hr) {
        for (size_t i = 0; i < *n; i++)
                if (t[i].hr == hr) {
                        t[i].count++;
                        return;
                }
        if (*n < 64)
                t[(*n)++] = (Tally) { hr, 1 };
}

static void abuse_fuzz(Abuse *a, uint64_t seed, unsigned long count) {
        Tally tallies[64];
        size_t n_tallies = 0;
        unsigned replaced = 0;

        rng_state = seed ? seed : 1;
        for (unsigned long k = 0; k < count; k++) {
                const Sample *s = &a->samples[k % a->n_samples];
                _cleanup_free_ uint8_t *data = malloc(s->size + 1);
                keyd_subsample_mapping_block blocks[8];
                uint32_t size = s->size, iv_size = s->iv_size, n_blocks = 0;
                const keyd_subsample_mapping_block *map = s->blocks;
                uint8_t iv[16];
                HRESULT hr;

                memcpy(data, s->data, s->size);
                memcpy(iv, s->iv, sizeof(iv));
                n_blocks = s->block_count;
                switch (rnd() % 6) {
                case 0: /* a few bytes flipped, the map as it was */
                case 1:
                        for (unsigned i = 0, flips = 1 + rnd() % 8; i < flips && size > 0; i++)
                                data[rnd() % size] ^= (uint8_t) (1 + rnd() % 255);
                        break;
                case 2: /* a made-up map */
                        n_blocks = (uint32_t) (rnd() % ELEMENTSOF(blocks));
                        for (uint32_t i = 0; i < n_blocks; i++)
                                blocks[i] = (keyd_subsample_mapping_block) { (uint32_t) (rnd() % (size + 2)),
                                                                             (uint32_t) (rnd() % (size + 2)) };
                        map = blocks;
                        break;
                case 3: /* an IV of another size */
                        iv_size = (uint32_t) (rnd() % 18);
                        for (unsigned i = 0; i < sizeof(iv); i++)
                                iv[i] = (uint8_t) rnd();
                        break;
                case 4: /* cut, with a map that still adds up: encrypted whole */
                        size = size > 0 ? (uint32_t) (rnd() % size) : 0;
                        n_blocks = 0;
                        map = NULL;
                        break;
                default: /* random bytes in a valid-looking map */
                        for (uint32_t i = 0; i < size; i++)
                                data[i] = (uint8_t) rnd();
                        break;
                }
                hr = send_sample(a, data, size, iv, iv_size, map, n_blocks, s->pts);
                tally(tallies, &n_tallies, hr);
                if (hr == KEYD_E_FAIL || hr == KEYD_DXGI_ERROR_DEVICE_REMOVED) {
                        /* The helper died or missed its deadline: that decoder is gone. */
                        a->decoder = keyd_video_decoder_release(a->decoder);
                        create_decoder(a);
                        replaced++;
                }
        }
        for (size_t i = 0; i < n_tallies; i++)
                printf("tally 0x%08X %s %u\n", (unsigned) tallies[i].hr, keyd_hresult_to_string(tallies[i].hr),
                       tallies[i].count);
        printf("decoders replaced %u\n", replaced);
}

int main(int argc, char *argv[]) {
        Abuse a = {};

        if (argc < 5) {
                fprintf(stderr, "Usage: keyd-decode-abuse ADDRESS bad-map|truncate FILE KEY\n"
                                "       keyd-decode-abuse ADDRESS hold FILE KEY N\n"
                                "       keyd-decode-abuse ADDRESS fuzz FILE KEY SEED N\n");
                return EXIT_FAILURE;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        read_samples(&a, argv[3]);
        negotiate(&a, argv[1], argv[4]);
        create_decoder(&a);

        if (strcmp(argv[2], "bad-map") == 0)
                abuse_bad_map(&a);
        else if (strcmp(argv[2], "truncate") == 0)
                abuse_truncate(&a);
        else if (strcmp(argv[2], "hold") == 0 && argc == 6)
                abuse_hold(&a, strtoul(argv[5], NULL, 10));
        else if (strcmp(argv[2], "fuzz") == 0 && argc == 7)
                abuse_fuzz(&a, strtoull(argv[5], NULL, 0), strtoul(argv[6], NULL, 10));
        else {
                fprintf(stderr, "keyd-decode-abuse: unknown mode \"%s\" or wrong arguments\n", argv[2]);
                return EXIT_FAILURE;
        }
        finish(&a);
        if (a.silent_failures > 0) {
                printf("failed calls without a message: %u\n", a.silent_failures);
                return EXIT_FAILURE;
        }

        keyd_video_decoder_release(a.decoder);
        keyd_crypto_session_release(a.session);
        keyd_client_close(a.client);
        for (size_t i = 0; i < a.n_samples; i++) {
                free(a.samples[i].data);
                free(a.samples[i].blocks);
        }
        free(a.samples);
        avcodec_parameters_free(&a.par);
        return EXIT_SUCCESS;
}
