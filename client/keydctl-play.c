/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl play: play a CENC-encrypted MP4 through keyd, as a protected player
 * does. libavformat demuxes and hands over each sample still encrypted, with
 * its IV and subsample map; keyd decrypts and decodes it (in its sandboxed
 * decoder helper) and sends back frames as sealed memfds. We negotiate a
 * random session key, wrap the content key with it (D3D11's pContentKey), and
 * never hold the plaintext bitstream: only the decoded pictures come back.
 *
 * Standard output is ffmpeg's framemd5 (the lines of `ffmpeg -decryption_key
 * K -i FILE -fflags +bitexact -f framemd5 -`), so that the two can be diffed; what was played and what stayed inside keyd goes to stderr. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "keydctl.h"

#if !HAVE_LIBAVFORMAT

int verb_play(const Keydctl *ctl, int argc, char *argv[]) {
        keydctl_error("play: this keydctl was built without libavformat, which it needs to read MP4 files; "
                      "rebuild with libavformat-dev, libavcodec-dev and libavutil-dev installed\n");
        return -KEYDCTL_EXIT_FAILURE;
}

#else

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/encryption_info.h>
#include <libavutil/md5.h>

#include "aes-ctr.h"
#include "macro.h"
#include "secure-memory.h"

#define KEY_SIZE 16U

/* Key material, in one locked allocation, wiped when freed. */
typedef struct PlayKeys {
        uint8_t session_key[KEY_SIZE];
        uint8_t content_key[KEY_SIZE];
        uint8_t wrapped_content_key[KEY_SIZE]; /* AES-128-ECB-Encrypt(session key, CK) */
} PlayKeys;

typedef struct Player {
        const char *path;
        AVFormatContext *format;
        AVStream *stream;
        const keyd_guid *profile;
        const char *codec_name;
        bool have_key;
        PlayKeys *keys;

        keyd_client *client;
        keyd_crypto_session *session;
        keyd_video_decoder *decoder;

        AVRational out_time_base;   /* framemd5's "#tb" */
        int64_t start_time;         /* subtracted from every pts, as ffmpeg does */
        bool bt709;

        /* --png, --frame */
        const char *png_path;
        uint64_t png_frame;
        bool png_written;

        /* What went through keyd. */
        uint64_t samples, sample_bytes, encrypted_samples, encrypted_bytes;
        uint64_t frames, unsealed_frames, pool_frames;
        uint32_t frame_format, frame_width, frame_height;

        uint8_t *planar;            /* one frame in ffmpeg's yuv420p / yuv420p10le layout */
        size_t planar_size;
} Player;

static void player_done(Player *p) {
        p->decoder = keyd_video_decoder_release(p->decoder);
        keyd_crypto_session_release(p->session);
        p->session = NULL;
        if (p->client)
                keyd_client_close(p->client);
        p->client = NULL;
        avformat_close_input(&p->format);
        p->keys = secure_free(p->keys);
        free(p->planar);
        p->planar = NULL;
}

static double now_sec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* --key: 32 hex digits, straight into locked memory. The value is never
 * echoed, not even in the error. */
static int parse_key(const char *s, uint8_t key[static KEY_SIZE]) {
        if (strlen(s) != 2 * KEY_SIZE)
                return keydctl_usage("--key: expected 32 hex digits (a 16-byte AES-128 content key), got %zu "
                                     "characters\n", strlen(s));
        for (size_t i = 0; i < KEY_SIZE; i++) {
                int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);

                if (hi < 0 || lo < 0) {
                        explicit_bzero(key, KEY_SIZE);
                        return keydctl_usage("--key: expected 32 hex digits (a 16-byte AES-128 content key); "
                                             "character %zu is not one\n", hi < 0 ? 2 * i + 1 : 2 * i + 2);
                }
                key[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

/* --key=-: the hex digits from standard input (one line), so that the key
 * is not in the process list. Read into the locked key memory. */
static int read_key_from_stdin(PlayKeys *keys) {
        _cleanup_(secure_freep) char *buf = secure_alloc(2 * KEY_SIZE + 3);
        size_t n = 0;
        int c, r;

        if (!buf) {
                keydctl_error("cannot allocate locked memory for the key: %m\n");
                return -KEYDCTL_EXIT_FAILURE;
        }
        /* One character more than a key has: too long says so. */
        while ((c = getchar()) != EOF && c != '\n')
                if (n < 2 * KEY_SIZE + 1)
                        buf[n++] = (char) c;
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        buf[n] = '\0';
        r = parse_key(buf, keys->content_key);
        explicit_bzero(buf, 2 * KEY_SIZE + 3);
        return r;
}

static int parse_frame_number(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
                return keydctl_usage("--frame=%s: expected a frame number, 0 for the first frame\n", s);
        *ret = v;
        return 0;
}

/* The decoder profile for the stream, from its codec and the avcC / hvcC
 * box (libavformat leaves codecpar's profile and format unset for MP4
 * without decoding, and decoding the encrypted samples here is what we must
 * not do). */
static int pick_profile(Player *p) {
        const AVCodecParameters *par = p->stream->codecpar;
        const uint8_t *x = par->extradata;
        int size = par->extradata_size;

        switch (par->codec_id) {
        case AV_CODEC_ID_H264:
                /* avcC: configurationVersion 1, then AVCProfileIndication. */
                if (size >= 4 && x[0] == 1 && x[1] != 66 && x[1] != 77 && x[1] != 88 && x[1] != 100)
                        goto unsupported_h264;
                p->profile = &KEYD_DECODER_PROFILE_H264_VLD_NOFGT;
                p->codec_name = "H.264";
                return 0;
        case AV_CODEC_ID_HEVC: {
                unsigned profile_idc = 0, bit_depth = 8;

                /* hvcC: general_profile_idc in byte 1, bitDepthLumaMinus8 in byte 17. */
                if (size >= 23 && x[0] == 1) {
                        profile_idc = x[1] & 0x1f;
                        bit_depth = (x[17] & 7) + 8;
                }
                if ((profile_idc == 0 || profile_idc == 1) && bit_depth == 8) {
                        p->profile = &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN;
                        p->codec_name = "HEVC Main";
                        return 0;
                }
                if ((profile_idc == 0 || profile_idc == 2) && bit_depth == 10) {
                        p->profile = &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10;
                        p->codec_name = "HEVC Main 10";
                        return 0;
                }
                keydctl_error("%s: HEVC profile %u with %u-bit samples; keyd decodes HEVC Main (8-bit 4:2:0) and "
                              "Main 10 (10-bit 4:2:0)\n", p->path, profile_idc, bit_depth);
                return -KEYDCTL_EXIT_FAILURE;
        }
        default:
                keydctl_error("%s: the video is %s; keyd decodes H.264 and HEVC (Main, Main 10)\n", p->path,
                              avcodec_get_name(par->codec_id));
                return -KEYDCTL_EXIT_FAILURE;
        }

unsupported_h264:
        keydctl_error("%s: H.264 profile_idc %u; keyd's H264_VLD_NOFGT decodes 8-bit 4:2:0 (Baseline, Main, "
                      "Extended, High)\n", p->path, x[1]);
        return -KEYDCTL_EXIT_FAILURE;
}

static int open_input(Player *p) {
        int r, index;

        r = avformat_open_input(&p->format, p->path, NULL, NULL);
        if (r < 0) {
                keydctl_error("%s: cannot open it as a media file: %s\n", p->path, av_err2str(r));
                return -KEYDCTL_EXIT_FAILURE;
        }
        index = av_find_best_stream(p->format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (index < 0) {
                keydctl_error("%s: holds no video stream\n", p->path);
                return -KEYDCTL_EXIT_FAILURE;
        }
        p->stream = p->format->streams[index];
        for (unsigned i = 0; i < p->format->nb_streams; i++)
                if ((int) i != index)
                        p->format->streams[i]->discard = AVDISCARD_ALL;
        r = pick_profile(p);
        if (r < 0)
                return r;
        if (p->stream->codecpar->width <= 0 || p->stream->codecpar->height <= 0) {
                keydctl_error("%s: the video stream has no size\n", p->path);
                return -KEYDCTL_EXIT_FAILURE;
        }

        /* What ffmpeg's framemd5 shows: the frame rate's inverse as time base,
         * timestamps from the file's start. */
        AVRational rate = av_guess_frame_rate(p->format, p->stream, NULL);
        p->out_time_base = rate.num > 0 && rate.den > 0 ? av_inv_q(rate) : p->stream->time_base;
        p->start_time = p->format->start_time != AV_NOPTS_VALUE
                                ? av_rescale_q(p->format->start_time, AV_TIME_BASE_Q, p->stream->time_base)
                                : 0;
        p->bt709 = p->stream->codecpar->color_space == AVCOL_SPC_BT709;
        return 0;
}

static int open_decoder(Player *p, const Keydctl *ctl) {
        _cleanup_(keydctl_certificate_done) KeydctlCertificate certificate = {};
        _cleanup_free_ uint8_t *data = NULL;
        const keyd_guid *key_exchange;
        const AVCodecParameters *par = p->stream->codecpar;
        uint32_t data_size;
        HRESULT hr;
        int r;

        r = keydctl_parse_key_exchange(ctl->key_exchange, &key_exchange);
        if (r < 0)
                return r;
        r = keydctl_open_client(ctl, &p->client);
        if (r < 0)
                return r;
        hr = keyd_create_crypto_session(p->client, &KEYD_CRYPTO_TYPE_AES128_CTR, p->profile, key_exchange,
                                        &p->session);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "CreateCryptoSession failed");

        /* A random session key, wrapped to keyd's certificate. */
        r = gnutls_rnd(GNUTLS_RND_KEY, p->keys->session_key, KEY_SIZE);
        if (r < 0) {
                keydctl_error("cannot make a random session key: %s\n", gnutls_strerror(r));
                return -KEYDCTL_EXIT_FAILURE;
        }
        r = keydctl_get_certificate(p->session, &certificate);
        if (r < 0)
                return r;
        r = keydctl_wrap_key(&certificate, key_exchange, p->keys->session_key, KEY_SIZE, &data, &data_size);
        if (r < 0)
                return r;
        hr = keyd_negotiate_crypto_session_key_exchange(p->session, data_size, data);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "NegotiateCryptoSessionKeyExchange failed");

        /* The content key travels as D3D11's pContentKey: encrypted with the
         * session key. */
        if (p->have_key)
                aes128_ecb_encrypt_block(p->keys->session_key, p->keys->content_key, p->keys->wrapped_content_key);

        hr = keyd_create_video_decoder(p->session, p->profile, (uint32_t) par->width, (uint32_t) par->height,
                                       (uint32_t) MAX(par->extradata_size, 0), par->extradata, &p->decoder);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "CreateVideoDecoder failed");
        return 0;
}

/* The frame in ffmpeg's layout: yuv420p from NV12, yuv420p10le from P010
 * (10 bits in the high bits of each 16-bit sample), planes without
 * padding. Checks the layout keyd sent against the memfd's size first. */
static int unpack_frame(Player *p, const keyd_video_frame *f, size_t *ret_size) {
        size_t w = f->Width, h = f->Height, cw = (w + 1) / 2, ch = (h + 1) / 2;
        size_t bytes = f->Format == KEYD_FORMAT_P010 ? 2 : 1, size = (w * h + 2 * cw * ch) * bytes;
        uint8_t *y, *u, *v;

        if (f->Format != KEYD_FORMAT_NV12 && f->Format != KEYD_FORMAT_P010) {
                keydctl_error("keyd sent a frame in format 0x%08" PRIx32 "; expected NV12 or P010\n", f->Format);
                return -KEYDCTL_EXIT_FAILURE;
        }
        if (f->PlaneCount < 2 || w == 0 || h == 0 || f->PlanePitch[0] < w * bytes ||
            f->PlanePitch[1] < cw * 2 * bytes || f->PlaneOffset[0] > f->DataSize ||
            f->PlaneOffset[1] > f->DataSize ||
            (f->DataSize - f->PlaneOffset[0]) / f->PlanePitch[0] < h - 1 ||
            f->DataSize - f->PlaneOffset[0] - (uint64_t) f->PlanePitch[0] * (h - 1) < w * bytes ||
            (f->DataSize - f->PlaneOffset[1]) / f->PlanePitch[1] < ch - 1 ||
            f->DataSize - f->PlaneOffset[1] - (uint64_t) f->PlanePitch[1] * (ch - 1) < cw * 2 * bytes) {
                keydctl_error("keyd sent a %" PRIu32 "x%" PRIu32 " frame whose planes do not fit its %" PRIu64
                              " bytes\n", f->Width, f->Height, f->DataSize);
                return -KEYDCTL_EXIT_FAILURE;
        }

        if (size > p->planar_size) {
                uint8_t *n = realloc(p->planar, size);
                if (!n)
                        return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot allocate a frame");
                p->planar = n;
                p->planar_size = size;
        }
        y = p->planar;
        u = y + w * h * bytes;
        v = u + cw * ch * bytes;

        for (size_t row = 0; row < h; row++) {
                const uint8_t *src = f->pData + f->PlaneOffset[0] + (size_t) f->PlanePitch[0] * row;

                if (bytes == 1)
                        memcpy(y + row * w, src, w);
                else
                        for (size_t x = 0; x < w; x++) {
                                uint16_t s = (uint16_t) (src[2 * x] | src[2 * x + 1] << 8) >> 6;
                                y[2 * (row * w + x)] = (uint8_t) s;
                                y[2 * (row * w + x) + 1] = (uint8_t) (s >> 8);
                        }
        }
        for (size_t row = 0; row < ch; row++) {
                const uint8_t *src = f->pData + f->PlaneOffset[1] + (size_t) f->PlanePitch[1] * row;

                for (size_t x = 0; x < cw; x++) {
                        size_t o = row * cw + x;

                        if (bytes == 1) {
                                u[o] = src[2 * x];
                                v[o] = src[2 * x + 1];
                        } else {
                                uint16_t su = (uint16_t) (src[4 * x] | src[4 * x + 1] << 8) >> 6;
                                uint16_t sv = (uint16_t) (src[4 * x + 2] | src[4 * x + 3] << 8) >> 6;
                                u[2 * o] = (uint8_t) su;
                                u[2 * o + 1] = (uint8_t) (su >> 8);
                                v[2 * o] = (uint8_t) sv;
                                v[2 * o + 1] = (uint8_t) (sv >> 8);
                        }
                }
        }
        *ret_size = size;
        return 0;
}

static uint8_t clamp_u8(double x) {
        return x <= 0 ? 0 : x >= 255 ? 255 : (uint8_t) (x + 0.5);
}

/* Limited-range Y'CbCr to full-range RGB24, BT.709 or BT.601 (what ffmpeg
 * assumes when the stream does not say). */
static void planar_to_rgb(const Player *p, uint32_t width, uint32_t height, bool ten_bit, uint8_t *rgb) {
        const double kr = p->bt709 ? 0.2126 : 0.299, kb = p->bt709 ? 0.0722 : 0.114, kg = 1.0 - kr - kb;
        size_t w = width, h = height, cw = (w + 1) / 2, ch = (h + 1) / 2;
        const uint8_t *y = p->planar, *u = y + w * h * (ten_bit ? 2 : 1), *v = u + cw * ch * (ten_bit ? 2 : 1);

        for (size_t row = 0; row < h; row++)
                for (size_t x = 0; x < w; x++) {
                        size_t i = row * w + x, c = (row / 2) * cw + x / 2;
                        double Y, U, V;

                        if (ten_bit) {
                                Y = (y[2 * i] | y[2 * i + 1] << 8) / 4.0;
                                U = (u[2 * c] | u[2 * c + 1] << 8) / 4.0;
                                V = (v[2 * c] | v[2 * c + 1] << 8) / 4.0;
                        } else {
                                Y = y[i];
                                U = u[c];
                                V = v[c];
                        }
                        Y = (Y - 16.0) * 255.0 / 219.0;
                        U = (U - 128.0) * 255.0 / 224.0;
                        V = (V - 128.0) * 255.0 / 224.0;
                        rgb[3 * i] = clamp_u8(Y + 2.0 * (1.0 - kr) * V);
                        rgb[3 * i + 1] = clamp_u8(Y - 2.0 * kb * (1.0 - kb) / kg * U - 2.0 * kr * (1.0 - kr) / kg * V);
                        rgb[3 * i + 2] = clamp_u8(Y + 2.0 * (1.0 - kb) * U);
                }
        (void) ch;
}

/* --png: libavcodec's PNG encoder on our RGB24 picture. */
static int write_png(Player *p, uint32_t width, uint32_t height, bool ten_bit) {
        const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
        AVCodecContext *c = NULL;
        AVFrame *frame = NULL;
        AVPacket *packet = NULL;
        FILE *f = NULL;
        int r, ret = -KEYDCTL_EXIT_FAILURE;

        if (!codec) {
                keydctl_error("--png: this libavcodec has no PNG encoder\n");
                return ret;
        }
        c = avcodec_alloc_context3(codec);
        frame = av_frame_alloc();
        packet = av_packet_alloc();
        if (!c || !frame || !packet) {
                keydctl_error("--png: out of memory\n");
                goto finish;
        }
        c->width = (int) width;
        c->height = (int) height;
        c->pix_fmt = AV_PIX_FMT_RGB24;
        c->time_base = (AVRational) { 1, 1 };
        r = avcodec_open2(c, codec, NULL);
        if (r < 0) {
                keydctl_error("--png: cannot open the PNG encoder: %s\n", av_err2str(r));
                goto finish;
        }
        frame->width = (int) width;
        frame->height = (int) height;
        frame->format = AV_PIX_FMT_RGB24;
        r = av_frame_get_buffer(frame, 0);
        if (r < 0) {
                keydctl_error("--png: cannot allocate the picture: %s\n", av_err2str(r));
                goto finish;
        }
        {
                _cleanup_free_ uint8_t *rgb = malloc((size_t) width * height * 3);
                if (!rgb) {
                        keydctl_error("--png: out of memory\n");
                        goto finish;
                }
                planar_to_rgb(p, width, height, ten_bit, rgb);
                for (uint32_t row = 0; row < height; row++)
                        memcpy(frame->data[0] + (size_t) frame->linesize[0] * row, rgb + (size_t) row * width * 3,
                               (size_t) width * 3);
        }
        r = avcodec_send_frame(c, frame);
        if (r >= 0)
                r = avcodec_send_frame(c, NULL);
        if (r >= 0)
                r = avcodec_receive_packet(c, packet);
        if (r < 0) {
                keydctl_error("--png: the PNG encoder failed: %s\n", av_err2str(r));
                goto finish;
        }
        f = fopen(p->png_path, "we");
        if (!f) {
                keydctl_error("--png=%s: cannot create it: %m\n", p->png_path);
                goto finish;
        }
        if (fwrite(packet->data, 1, (size_t) packet->size, f) != (size_t) packet->size || fflush(f) != 0) {
                keydctl_error("--png=%s: cannot write it: %m\n", p->png_path);
                goto finish;
        }
        p->png_written = true;
        ret = 0;
finish:
        if (f && fclose(f) != 0 && ret == 0) {
                keydctl_error("--png=%s: cannot write it: %m\n", p->png_path);
                ret = -KEYDCTL_EXIT_FAILURE;
        }
        av_packet_free(&packet);
        av_frame_free(&frame);
        avcodec_free_context(&c);
        return ret;
}

static void print_header(const Player *p) {
        const AVCodecParameters *par = p->stream->codecpar;
        AVRational sar = par->sample_aspect_ratio;

        if (sar.num <= 0 || sar.den <= 0)
                sar = (AVRational) { 1, 1 };
        printf("#format: frame checksums\n"
               "#version: 2\n"
               "#hash: MD5\n"
               "#tb 0: %d/%d\n"
               "#media_type 0: video\n"
               "#codec_id 0: rawvideo\n"
               "#dimensions 0: %dx%d\n"
               "#sar 0: %d/%d\n"
               "#stream#, dts,        pts, duration,     size, hash\n",
               p->out_time_base.num, p->out_time_base.den, par->width, par->height, sar.num, sar.den);
}

/* One frame: its framemd5 line, and the picture if --frame says this one. */
static int take_frame(Player *p, const keyd_video_frame *f) {
        uint8_t digest[16];
        size_t size = 0;
        int64_t pts, duration;
        int seals, r;

        r = unpack_frame(p, f, &size);
        if (r < 0)
                return r;
        /* Sealed for good, or a pool frame that only keyd's decoder process
         * can write (and only once we gave it back). */
        seals = fcntl(f->Fd, F_GET_SEALS);
        if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW) ||
            !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
                p->unsealed_frames++;
        else if (!(seals & F_SEAL_WRITE))
                p->pool_frames++;

        av_md5_sum(digest, p->planar, size);
        pts = f->Pts == AV_NOPTS_VALUE ? (int64_t) p->frames
                                       : av_rescale_q(f->Pts - p->start_time, p->stream->time_base, p->out_time_base);
        /* One frame: the time base is the frame rate's inverse. */
        duration = 1;
        printf("0, %10" PRId64 ", %10" PRId64 ", %8" PRId64 ", %8zu, ", pts, pts, duration, size);
        for (size_t i = 0; i < sizeof(digest); i++)
                printf("%02x", digest[i]);
        putchar('\n');

        if (p->frames == 0) {
                p->frame_format = f->Format;
                p->frame_width = f->Width;
                p->frame_height = f->Height;
        }
        if (p->png_path && p->frames == p->png_frame) {
                r = write_png(p, f->Width, f->Height, f->Format == KEYD_FORMAT_P010);
                if (r < 0)
                        return r;
        }
        p->frames++;
        return 0;
}

/* Every frame keyd has ready. */
static int take_frames(Player *p) {
        for (;;) {
                keyd_video_frame *f = NULL;
                HRESULT hr;
                int r;

                hr = keyd_decoder_get_frame(p->decoder, &f);
                if (KEYD_FAILED(hr))
                        return keydctl_fail(hr, "GetFrame failed");
                if (hr != KEYD_S_OK || !f)   /* S_FALSE: none ready */
                        return 0;
                r = take_frame(p, f);
                keyd_video_frame_release(f);
                if (r < 0)
                        return r;
        }
}

/* One sample to keyd: BeginFrame with the wrapped content key, the sample
 * with its IV and subsample map, EndFrame. */
static int submit_sample(Player *p, const AVPacket *pkt) {
        _cleanup_free_ keyd_subsample_mapping_block *blocks = NULL;
        AVEncryptionInfo *info = NULL;
        const uint8_t *side;
        size_t side_size;
        uint32_t iv_size = 0, count = 0;
        const uint8_t *iv = NULL;
        char what[64];
        HRESULT hr;
        int r = 0;

        side = av_packet_get_side_data(pkt, AV_PKT_DATA_ENCRYPTION_INFO, &side_size);
        if (side) {
                info = av_encryption_info_get_side_data(side, side_size);
                if (!info) {
                        keydctl_error("%s: sample %" PRIu64 ": unreadable encryption info\n", p->path, p->samples);
                        return -KEYDCTL_EXIT_FAILURE;
                }
                if (info->scheme != MKBETAG('c', 'e', 'n', 'c') || info->crypt_byte_block != 0 ||
                    info->skip_byte_block != 0) {
                        keydctl_error("%s: sample %" PRIu64 " is encrypted with scheme '%c%c%c%c' (pattern %" PRIu32
                                      ":%" PRIu32 "); keyd decrypts 'cenc' (AES-128-CTR, no pattern)\n",
                                      p->path, p->samples, (char) (info->scheme >> 24), (char) (info->scheme >> 16),
                                      (char) (info->scheme >> 8), (char) info->scheme, info->crypt_byte_block,
                                      info->skip_byte_block);
                        r = -KEYDCTL_EXIT_FAILURE;
                        goto finish;
                }
                if (!p->have_key) {
                        keydctl_error("%s is encrypted: give its content key with --key=HEX\n", p->path);
                        r = -KEYDCTL_EXIT_USAGE;
                        goto finish;
                }
                iv = info->iv;
                iv_size = info->iv_size;
                count = info->subsample_count;
                if (count > 0) {
                        blocks = calloc(count, sizeof(*blocks));
                        if (!blocks) {
                                r = keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot allocate the subsample map");
                                goto finish;
                        }
                        for (uint32_t i = 0; i < count; i++) {
                                blocks[i].ClearSize = info->subsamples[i].bytes_of_clear_data;
                                blocks[i].EncryptedSize = info->subsamples[i].bytes_of_protected_data;
                                p->encrypted_bytes += info->subsamples[i].bytes_of_protected_data;
                        }
                } else
                        p->encrypted_bytes += (uint64_t) pkt->size;
                p->encrypted_samples++;
        }

        snprintf(what, sizeof(what), "DecoderBeginFrame failed at sample %" PRIu64, p->samples);
        hr = keyd_decoder_begin_frame(p->decoder, p->have_key ? KEY_SIZE : 0,
                                      p->have_key ? p->keys->wrapped_content_key : NULL);
        if (KEYD_SUCCEEDED(hr)) {
                snprintf(what, sizeof(what), "SubmitDecoderBuffers failed at sample %" PRIu64, p->samples);
                hr = keyd_decoder_submit_buffer(p->decoder, (uint32_t) pkt->size, pkt->data, iv_size, iv, count,
                                                blocks, pkt->pts);
        }
        if (KEYD_SUCCEEDED(hr)) {
                snprintf(what, sizeof(what), "DecoderEndFrame failed at sample %" PRIu64, p->samples);
                hr = keyd_decoder_end_frame(p->decoder);
        }
        if (KEYD_FAILED(hr)) {
                r = keydctl_fail(hr, what);
                goto finish;
        }
        p->samples++;
        p->sample_bytes += (uint64_t) pkt->size;
        r = take_frames(p);
finish:
        av_encryption_info_free(info);
        return r;
}

static int play(Player *p) {
        AVPacket *pkt = av_packet_alloc();
        HRESULT hr;
        int r = 0, e;

        if (!pkt)
                return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot allocate a packet");
        while (r >= 0) {
                e = av_read_frame(p->format, pkt);
                if (e == AVERROR_EOF)
                        break;
                if (e < 0) {
                        keydctl_error("%s: cannot read sample %" PRIu64 ": %s\n", p->path, p->samples,
                                      av_err2str(e));
                        r = -KEYDCTL_EXIT_FAILURE;
                        break;
                }
                if (pkt->stream_index == p->stream->index)
                        r = submit_sample(p, pkt);
                av_packet_unref(pkt);
        }
        av_packet_free(&pkt);
        if (r < 0)
                return r;

        hr = keyd_decoder_drain(p->decoder);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "draining the decoder failed");
        return take_frames(p);
}

static const char *format_name(uint32_t format) {
        return format == KEYD_FORMAT_NV12 ? "NV12" : format == KEYD_FORMAT_P010 ? "P010" : "none";
}

int verb_play(const Keydctl *ctl, int argc, char *argv[]) {
        _cleanup_(player_done) Player p = {};
        double t;
        int r;

        if (argc < 2)
                return keydctl_usage("play: which file? (keydctl play FILE.mp4 --key=HEX)\n");
        p.path = argv[1];
        p.png_path = ctl->png;
        if (ctl->frame) {
                if (!ctl->png)
                        return keydctl_usage("play: --frame=N says which frame --png=FILE shows; give --png too\n");
                r = parse_frame_number(ctl->frame, &p.png_frame);
                if (r < 0)
                        return r;
        }

        p.keys = secure_alloc(sizeof(PlayKeys));
        if (!p.keys) {
                keydctl_error("cannot allocate locked memory for the keys: %m\n");
                return -KEYDCTL_EXIT_FAILURE;
        }
        if (ctl->key && streq(ctl->key, "-")) {
                r = read_key_from_stdin(p.keys);
                if (r < 0)
                        return r;
                p.have_key = true;
        } else if (ctl->key) {
                r = parse_key(ctl->key, p.keys->content_key);
                if (r < 0)
                        return r;
                p.have_key = true;
        }

        /* libavformat's H.264 / HEVC header parser looks into the samples,
         * which are encrypted, and complains of what it finds there; every
         * failure that matters comes back as an error code we report. */
        av_log_set_level(AV_LOG_FATAL);
        r = open_input(&p);
        if (r < 0)
                return r;
        r = open_decoder(&p, ctl);
        if (r < 0)
                return r;

        print_header(&p);
        t = now_sec();
        r = play(&p);
        t = now_sec() - t;
        if (r < 0)
                return r;
        /* Before the summary: it goes to another stream. */
        fflush(stdout);

        fprintf(stderr, "Played:       %s, %s %dx%d: %" PRIu64 " frames (%s) in %.3f s, %.1f fps\n", p.path,
                p.codec_name, p.stream->codecpar->width, p.stream->codecpar->height, p.frames,
                format_name(p.frame_format), t, t > 0 ? (double) p.frames / t : 0.0);
        fprintf(stderr, "Inside keyd:  %" PRIu64 " samples (%" PRIu64 " bytes), %" PRIu64
                " encrypted, %" PRIu64 " bytes decrypted inside keyd\n",
                p.samples, p.sample_bytes, p.encrypted_samples, p.encrypted_bytes);
        if (p.encrypted_samples > 0)
                fprintf(stderr, "Kept in keyd: the content key (sent wrapped with the negotiated session key) and the "
                        "plaintext bitstream never left keyd; %s",
                        p.unsealed_frames == 0 ? "every frame came back as a sealed memfd"
                                               : "SOME FRAMES WERE NOT SEALED");
        else
                fprintf(stderr, "Kept in keyd: nothing to keep, the file is in the clear; %s",
                        p.unsealed_frames == 0 ? "every frame came back as a sealed memfd"
                                               : "SOME FRAMES WERE NOT SEALED");
        fprintf(stderr, " (%" PRIu64 " of %" PRIu64 " from the decoder's frame pool, writable by its process "
                "alone)\n", p.pool_frames, p.frames);
        if (p.png_path) {
                if (!p.png_written) {
                        keydctl_error("--frame=%" PRIu64 ": the file has %" PRIu64 " frames (0 to %" PRIu64
                                      "); no picture written\n",
                                      p.png_frame, p.frames, p.frames > 0 ? p.frames - 1 : 0);
                        return -KEYDCTL_EXIT_FAILURE;
                }
                fprintf(stderr, "Picture:      frame %" PRIu64 " as %" PRIu32 "x%" PRIu32 " PNG (%s) in %s\n",
                        p.png_frame, p.frame_width, p.frame_height, p.bt709 ? "BT.709" : "BT.601", p.png_path);
        }
        if (p.frames == 0) {
                keydctl_error("%s: keyd returned no frames\n", p.path);
                return -KEYDCTL_EXIT_FAILURE;
        }
        if (p.unsealed_frames > 0) {
                keydctl_error("%" PRIu64 " of %" PRIu64 " frames came back in memfds without write (or future "
                              "write), shrink and grow seals\n", p.unsealed_frames, p.frames);
                return -KEYDCTL_EXIT_FAILURE;
        }
        return 0;
}

#endif
