/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the decode tests share: CENC test content made with the ffmpeg CLI
 * at test time, its samples read with libavformat (with their IVs and
 * subsample maps, AV_PKT_DATA_ENCRYPTION_INFO), the per-frame MD5s that
 * ffmpeg itself computes for the same content, and the D3D11-style key
 * plumbing (session key, wrapped content key). */

#include <libavformat/avformat.h>
#include <libavutil/encryption_info.h>
#include <nettle/aes.h>
#include <nettle/md5.h>

#include "test-util.h"

/* The content key and key id every test file is encrypted with. */
#define CONTENT_KEY_HEX "00112233445566778899aabbccddeeff"
#define CONTENT_KID_HEX "0123456789abcdef0123456789abcdef"

typedef struct TestSample {
        uint8_t *data;
        size_t size;
        uint8_t iv[16];
        uint32_t iv_size;
        keyd_subsample_mapping_block *subsamples;
        uint32_t n_subsamples;
        int64_t pts;
} TestSample;

typedef struct TestStream {
        uint8_t *config;
        uint32_t config_size;
        uint32_t width, height;
        TestSample *samples;
        size_t n_samples;
} TestStream;

static inline void hex_to_bytes(const char *hex, uint8_t *out, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
                out[i] = (uint8_t) v;
        }
}

/* Outside a test (in main(), making the clips): no ck_assert there. */
#define must(cond)                                                                         \
        do {                                                                               \
                if (!(cond)) {                                                             \
                        fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #cond); \
                        exit(EXIT_FAILURE);                                                \
                }                                                                          \
        } while (0)

/* ffmpeg ARGS...; exits the program when it fails. */
static inline void run_ffmpeg(const char *const *argv) {
        HarnessRun run;

        must(harness_run(argv, NULL, 0, &run) == 0);
        if (run.status != 0) {
                fprintf(stderr, "%s failed (%d): %s\n", argv[0], run.status, run.err);
                exit(EXIT_FAILURE);
        }
        harness_run_done(&run);
}

/* A clear clip (lavfi testsrc2) of n frames and its CENC-encrypted copy
 * in the harness's directory: returns the encrypted file's path. */
static inline char *make_encrypted_clip(const char *name, const char *codec_args, const char *size, unsigned frames) {
        char *clear, *enc, *src, *count;
        const char *dir = harness_tmpdir();

        must(asprintf(&clear, "%s/%s-clear.mp4", dir, name) > 0);
        must(asprintf(&enc, "%s/%s-enc.mp4", dir, name) > 0);
        must(asprintf(&src, "testsrc2=size=%s:rate=25", size) > 0);
        must(asprintf(&count, "%u", frames) > 0);
        {
                char *args = strdup(codec_args), *save = NULL;
                const char *argv[40] = { "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", src, "-frames:v", count };
                size_t n = 10;

                for (char *t = strtok_r(args, " ", &save); t; t = strtok_r(NULL, " ", &save))
                        argv[n++] = t;
                argv[n++] = clear;
                argv[n] = NULL;
                run_ffmpeg(argv);
                free(args);
        }
        {
                const char *argv[] = { "ffmpeg", "-v", "error", "-y", "-i", clear, "-c", "copy",
                                       "-encryption_scheme", "cenc-aes-ctr", "-encryption_key", CONTENT_KEY_HEX,
                                       "-encryption_kid", CONTENT_KID_HEX, enc, NULL };
                run_ffmpeg(argv);
        }
        free(clear);
        free(src);
        free(count);
        return enc;
}

/* ffmpeg's own MD5 of each decoded frame (yuv420p / yuv420p10le), in
 * output order, decrypting in its demuxer: n_ret of them. */
static inline char **ffmpeg_frame_md5s(const char *path, size_t *n_ret) {
        const char *argv[] = { "ffmpeg", "-v", "error", "-decryption_key", CONTENT_KEY_HEX, "-i", path,
                               "-f", "framemd5", "-", NULL };
        char **md5s = NULL, *save = NULL;
        size_t n = 0;
        HarnessRun run;

        ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 0, "ffmpeg framemd5 failed: %s", run.err);
        for (char *line = strtok_r(run.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *last;

                if (line[0] == '#')
                        continue;
                last = strrchr(line, ',');
                ck_assert_ptr_nonnull(last);
                md5s = reallocarray(md5s, n + 1, sizeof(char *));
                ck_assert_ptr_nonnull(md5s);
                md5s[n] = strdup(last + 1 + strspn(last + 1, " "));
                n++;
        }
        harness_run_done(&run);
        *n_ret = n;
        return md5s;
}

static inline void read_stream(const char *path, TestStream *ret) {
        AVFormatContext *fmt = NULL;
        AVPacket *pkt = av_packet_alloc();
        int vi;

        *ret = (TestStream) {};
        must(avformat_open_input(&fmt, path, NULL, NULL) == 0);
        must(avformat_find_stream_info(fmt, NULL) >= 0);
        vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        must(vi >= 0);
        {
                AVCodecParameters *par = fmt->streams[vi]->codecpar;

                ret->width = (uint32_t) par->width;
                ret->height = (uint32_t) par->height;
                ret->config_size = (uint32_t) par->extradata_size;
                ret->config = malloc(ret->config_size ?: 1);
                memcpy(ret->config, par->extradata, ret->config_size);
        }
        while (av_read_frame(fmt, pkt) >= 0) {
                size_t sd_size = 0;
                const uint8_t *sd;
                TestSample *s;

                if (pkt->stream_index != vi) {
                        av_packet_unref(pkt);
                        continue;
                }
                ret->samples = reallocarray(ret->samples, ret->n_samples + 1, sizeof(TestSample));
                s = &ret->samples[ret->n_samples++];
                *s = (TestSample) { .size = (size_t) pkt->size, .pts = pkt->pts };
                s->data = malloc(s->size);
                memcpy(s->data, pkt->data, s->size);
                sd = av_packet_get_side_data(pkt, AV_PKT_DATA_ENCRYPTION_INFO, &sd_size);
                if (sd) {
                        AVEncryptionInfo *info = av_encryption_info_get_side_data(sd, sd_size);

                        must(info);
                        must(info->iv_size <= 16);
                        memcpy(s->iv, info->iv, info->iv_size);
                        s->iv_size = info->iv_size;
                        s->n_subsamples = info->subsample_count;
                        s->subsamples = calloc(info->subsample_count ?: 1, sizeof(keyd_subsample_mapping_block));
                        for (uint32_t i = 0; i < info->subsample_count; i++) {
                                s->subsamples[i].ClearSize = info->subsamples[i].bytes_of_clear_data;
                                s->subsamples[i].EncryptedSize = info->subsamples[i].bytes_of_protected_data;
                        }
                        av_encryption_info_free(info);
                }
                av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
        avformat_close_input(&fmt);
        must(ret->n_samples > 0);
}

static inline void stream_free(TestStream *s) {
        for (size_t i = 0; i < s->n_samples; i++) {
                free(s->samples[i].data);
                free(s->samples[i].subsamples);
        }
        free(s->samples);
        free(s->config);
        *s = (TestStream) {};
}

/* A session with a known session key, and the content key wrapped with it
 * as DecoderBeginFrame takes it: AES-128-ECB-Encrypt(session key, CK). */
static inline keyd_crypto_session *session_with_content_key(keyd_client *c, uint8_t wrapped[16]) {
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t session_key[16], content_key[16];
        struct aes128_ctx aes;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, session_key);
        hex_to_bytes(CONTENT_KEY_HEX, content_key, 16);
        aes128_set_encrypt_key(&aes, session_key);
        aes128_encrypt(&aes, 16, wrapped, content_key);
        return s;
}

/* The MD5 ffmpeg's framemd5 gives the frame: NV12 / P010 back to planar
 * yuv420p / yuv420p10le, without the pitch padding. */
static inline void frame_md5(const keyd_video_frame *f, char out[33]) {
        struct md5_ctx md5;
        uint8_t digest[16];
        bool p010 = f->Format == KEYD_FORMAT_P010;
        uint32_t bps = p010 ? 2 : 1, cw = (f->Width + 1) / 2, ch = (f->Height + 1) / 2;
        uint8_t *row = malloc((size_t) f->Width * 2);

        md5_init(&md5);
        for (uint32_t y = 0; y < f->Height; y++) {
                const uint8_t *src = f->pData + f->PlaneOffset[0] + (size_t) y * f->PlanePitch[0];

                if (!p010)
                        md5_update(&md5, f->Width, src);
                else {
                        for (uint32_t x = 0; x < f->Width; x++) {
                                uint16_t v = (uint16_t) (src[2 * x] | src[2 * x + 1] << 8) >> 6;
                                row[2 * x] = (uint8_t) v;
                                row[2 * x + 1] = (uint8_t) (v >> 8);
                        }
                        md5_update(&md5, (size_t) f->Width * 2, row);
                }
        }
        for (unsigned plane = 0; plane < 2; plane++)
                for (uint32_t y = 0; y < ch; y++) {
                        const uint8_t *src = f->pData + f->PlaneOffset[1] + (size_t) y * f->PlanePitch[1];

                        for (uint32_t x = 0; x < cw; x++) {
                                if (!p010)
                                        row[x] = src[2 * x + plane];
                                else {
                                        const uint8_t *p = src + 4 * x + 2 * plane;
                                        uint16_t v = (uint16_t) (p[0] | p[1] << 8) >> 6;
                                        row[2 * x] = (uint8_t) v;
                                        row[2 * x + 1] = (uint8_t) (v >> 8);
                                }
                        }
                        md5_update(&md5, (size_t) cw * bps, row);
                }
        md5_digest(&md5, sizeof(digest), digest);
        for (unsigned i = 0; i < 16; i++)
                sprintf(out + 2 * i, "%02x", digest[i]);
        free(row);
}

/* Submit sample s (one DecoderBeginFrame..EndFrame) and return EndFrame's HRESULT. */
static inline HRESULT decode_sample(keyd_video_decoder *d, const uint8_t wrapped_key[16], const TestSample *s) {
        HRESULT hr;

        hr = keyd_decoder_begin_frame(d, wrapped_key ? 16 : 0, wrapped_key);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_decoder_submit_buffer(d, (uint32_t) s->size, s->data, s->iv_size, s->iv, s->n_subsamples,
                                        s->subsamples, s->pts);
        if (KEYD_FAILED(hr))
                return hr;
        return keyd_decoder_end_frame(d);
}
