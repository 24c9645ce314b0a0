/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame-convert.h"
#include "keyd/keyd.h"
#include "macro.h"
#include "memfd-seal.h"

/* Rows start on 64-byte boundaries, as GPUs lay out their surfaces. */
#define PITCH_ALIGN 64u

static uint32_t align_up(uint32_t v, uint32_t a) {
        return (v + a - 1) / a * a;
}

/* Rows are converted this many bytes at a time into a band that stays in the
 * cache, then written into the memfd: a whole-frame staging buffer went
 * through memory twice more per frame (written, then read by pwrite()). */
#define BAND_BYTES (128u * 1024u)
/* pwritev() takes at most this many pieces (IOV_MAX). */
#define MAX_IOV 1024u

static const uint8_t zeros[2 * PITCH_ALIGN];

/* All of iov (n pieces) at offset, through short writes. */
static int pwritev_all(int fd, struct iovec *iov, unsigned n, uint64_t offset) {
        while (n > 0) {
                ssize_t k = pwritev(fd, iov, (int) MIN(n, MAX_IOV), (off_t) offset);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                offset += (uint64_t) k;
                while (n > 0 && (size_t) k >= iov->iov_len) {
                        k -= (ssize_t) iov->iov_len;
                        iov++, n--;
                }
                if (n > 0) {
                        iov->iov_base = (uint8_t *) iov->iov_base + k;
                        iov->iov_len -= (size_t) k;
                }
        }
        return 0;
}

/* An 8-bit plane whose rows need no change: written from libavcodec's
 * picture straight into the memfd, each row followed by its zero padding. */
static int write_plane_rows(int fd, const uint8_t *src, int linesize, uint32_t row_bytes, uint32_t rows,
                            uint32_t pitch, uint64_t offset) {
        struct iovec iov[MAX_IOV];
        uint32_t pad = pitch - row_bytes, per_call = pad > 0 ? MAX_IOV / 2 : MAX_IOV;

        for (uint32_t row = 0; row < rows;) {
                uint32_t n = MIN(rows - row, per_call);
                unsigned k = 0;
                int r;

                for (uint32_t i = 0; i < n; i++) {
                        iov[k++] = (struct iovec) { (void *) (src + (size_t) (row + i) * linesize), row_bytes };
                        if (pad > 0)
                                iov[k++] = (struct iovec) { (void *) zeros, pad };
                }
                r = pwritev_all(fd, iov, k, offset + (uint64_t) row * pitch);
                if (r < 0)
                        return r;
                row += n;
        }
        return 0;
}

typedef uint8_t Vec16 __attribute__((vector_size(16)));

/* The pairs of a and b's bytes 0-7 (low) or 8-15 (high), interleaved. */
#ifdef __clang__
#define INTERLEAVE_LOW(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define INTERLEAVE_HIGH(a, b) \
        __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#else
#define INTERLEAVE_LOW(a, b) \
        __builtin_shuffle(a, b, (Vec16) { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23 })
#define INTERLEAVE_HIGH(a, b) \
        __builtin_shuffle(a, b, (Vec16) { 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 })
#endif

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Sixteen bytes at d. stream: with a non-temporal store (SSE2; d 16-byte
 * aligned), for a frame pool slot, whose 3 MiB (1080p) are not in the
 * cache: a plain store first reads each line it writes. Otherwise, and
 * without SSE2, a plain one (a band stays in the cache for pwrite()). */
static inline void store16(uint8_t *d, Vec16 v, bool stream) {
#ifdef __SSE2__
        if (stream) {
                _mm_stream_si128((__m128i *) (void *) d, (__m128i) v);
                return;
        }
#endif
        memcpy(d, &v, 16);
}

/* One row of the interleaved chroma plane, padding included. Sixteen
 * pairs at a time (SSE2's unpack on x86-64): the byte loop was a twentieth
 * of the helper's CPU per 1080p frame (perf). */
static inline void nv12_uv_row_to(const AVFrame *f, uint32_t row, uint32_t cw, uint32_t pitch, uint8_t *d,
                                  bool stream) {
        const uint8_t *u = f->data[1] + (size_t) row * f->linesize[1];
        const uint8_t *v = f->data[2] + (size_t) row * f->linesize[2];
        uint32_t x = 0;

        for (; x + 16 <= cw; x += 16) {
                Vec16 a, b;

                memcpy(&a, u + x, 16);
                memcpy(&b, v + x, 16);
                store16(d + 2 * x, INTERLEAVE_LOW(a, b), stream);
                store16(d + 2 * x + 16, INTERLEAVE_HIGH(a, b), stream);
        }
        for (; x < cw; x++) {
                d[2 * x] = u[x];
                d[2 * x + 1] = v[x];
        }
        memset(d + 2 * cw, 0, pitch - 2 * cw);
}

static void nv12_uv_row(const AVFrame *f, uint32_t row, uint32_t cw, uint32_t pitch, uint8_t *d) {
        nv12_uv_row_to(f, row, cw, pitch, d, false);
}

/* libavcodec's yuv420p10le keeps 10 bits in the low bits of each uint16;
 * P010 wants them in the high bits. */
static void p010_y_row(const AVFrame *f, uint32_t row, uint32_t w, uint32_t pitch, uint8_t *out) {
        const uint16_t *s = (const uint16_t *) (f->data[0] + (size_t) row * f->linesize[0]);
        uint16_t *d = (uint16_t *) out;

        for (uint32_t x = 0; x < w; x++)
                d[x] = (uint16_t) (s[x] << 6);
        memset(d + w, 0, pitch - 2 * w);
}

static void p010_uv_row(const AVFrame *f, uint32_t row, uint32_t cw, uint32_t pitch, uint8_t *out) {
        const uint16_t *u = (const uint16_t *) (f->data[1] + (size_t) row * f->linesize[1]);
        const uint16_t *v = (const uint16_t *) (f->data[2] + (size_t) row * f->linesize[2]);
        uint16_t *d = (uint16_t *) out;

        for (uint32_t x = 0; x < cw; x++) {
                d[2 * x] = (uint16_t) (u[x] << 6);
                d[2 * x + 1] = (uint16_t) (v[x] << 6);
        }
        memset(d + 2 * cw, 0, pitch - 4 * cw);
}

typedef void (*RowFunc)(const AVFrame *f, uint32_t row, uint32_t width, uint32_t pitch, uint8_t *out);

/* A plane that needs converting: a band of rows at a time through band,
 * written at offset. */
static int write_converted_rows(int fd, const AVFrame *f, RowFunc convert, uint32_t width, uint32_t rows,
                                uint32_t pitch, uint64_t offset, uint8_t *band) {
        uint32_t per_band = MAX(BAND_BYTES / pitch, 1u);

        for (uint32_t row = 0; row < rows;) {
                uint32_t n = MIN(rows - row, per_band);
                struct iovec iov = { band, (size_t) n * pitch };
                int r;

                for (uint32_t i = 0; i < n; i++)
                        convert(f, row + i, width, pitch, band + (size_t) i * pitch);
                r = pwritev_all(fd, &iov, 1, offset + (uint64_t) row * pitch);
                if (r < 0)
                        return r;
                row += n;
        }
        return 0;
}

int frame_layout(const AVFrame *frame, DecoderAnswer *answer) {
        uint32_t bytes_per_sample, pitch, w = (uint32_t) frame->width, h = (uint32_t) frame->height,
                                          ch = (h + 1) / 2;
        bool p010;

        switch (frame->format) {
        case AV_PIX_FMT_YUV420P:
        case AV_PIX_FMT_YUVJ420P:
                p010 = false;
                break;
        case AV_PIX_FMT_YUV420P10LE:
                p010 = true;
                break;
        default:
                return -EPROTONOSUPPORT;
        }
        if (w == 0 || h == 0)
                return -EBADMSG;

        bytes_per_sample = p010 ? 2 : 1;
        pitch = align_up(align_up(w, 2) * bytes_per_sample, PITCH_ALIGN);
        answer->type = DECODER_ANSWER_FRAME;
        answer->format = p010 ? KEYD_FORMAT_P010 : KEYD_FORMAT_NV12;
        answer->width = w;
        answer->height = h;
        answer->plane_count = 2;
        answer->plane_offset[0] = 0;
        answer->plane_offset[1] = (uint64_t) pitch * h;
        answer->plane_pitch[0] = pitch;
        answer->plane_pitch[1] = pitch;
        answer->size = answer->plane_offset[1] + (uint64_t) pitch * ch;
        answer->pts = frame->pts;
        answer->slot = -1;
        return 0;
}

/* Only the output thread writes frames. */
static uint8_t *band;
static size_t band_size;

int frame_to_memfd(const AVFrame *frame, const DecoderAnswer *layout) {
        uint32_t w = layout->width, h = layout->height, cw = (w + 1) / 2, ch = (h + 1) / 2,
                 pitch = layout->plane_pitch[0];
        uint64_t y_size = layout->plane_offset[1];
        int fd, r;

        /* One band holds at least one row. */
        if (MAX((size_t) pitch, (size_t) BAND_BYTES) > band_size) {
                free(band);
                band_size = MAX((size_t) pitch, (size_t) BAND_BYTES);
                band = malloc(band_size);
                if (!band) {
                        band_size = 0;
                        return -ENOMEM;
                }
        }

        /* Written with pwrite(), never mapped: mapping each memfd and
         * unmapping it again costs a TLB shootdown across libavcodec's
         * threads per frame, which in a VM took more CPU than the decoding.
         * Every byte is written, the padding at the end of each row too. */
        fd = memfd_create("keyd-frame", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) layout->size) < 0) {
                r = -errno;
                goto fail;
        }
        if (layout->format == KEYD_FORMAT_P010) {
                r = write_converted_rows(fd, frame, p010_y_row, w, h, pitch, 0, band);
                if (r >= 0)
                        r = write_converted_rows(fd, frame, p010_uv_row, cw, ch, pitch, y_size, band);
        } else {
                r = write_plane_rows(fd, frame->data[0], frame->linesize[0], w, h, pitch, 0);
                if (r >= 0)
                        r = write_converted_rows(fd, frame, nv12_uv_row, cw, ch, pitch, y_size, band);
        }
        if (r < 0)
                goto fail;
        r = memfd_add_seals(fd, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        if (r < 0)
                goto fail;
        return fd;

fail:
        close(fd);
        return r;
}

/* A row into a pool slot: streamed (store16()); dst is 16-byte aligned (rows
 * start at PITCH_ALIGN in a page-aligned mapping), src need not be. */
static void row_copy_stream(uint8_t *dst, const uint8_t *src, size_t n) {
        size_t x = 0;

        for (; x + 16 <= n; x += 16) {
                Vec16 v;

                memcpy(&v, src + x, 16);
                store16(dst + x, v, true);
        }
        memcpy(dst + x, src + x, n - x);
}

void frame_to_mapping(const AVFrame *frame, const DecoderAnswer *layout, uint8_t *map) {
        uint32_t w = layout->width, h = layout->height, cw = (w + 1) / 2, ch = (h + 1) / 2,
                 pitch = layout->plane_pitch[0];
        uint8_t *uv = map + layout->plane_offset[1];

        if (layout->format == KEYD_FORMAT_P010) {
                for (uint32_t row = 0; row < h; row++)
                        p010_y_row(frame, row, w, pitch, map + (size_t) row * pitch);
                for (uint32_t row = 0; row < ch; row++)
                        p010_uv_row(frame, row, cw, pitch, uv + (size_t) row * pitch);
                return;
        }
        for (uint32_t row = 0; row < h; row++) {
                uint8_t *d = map + (size_t) row * pitch;

                row_copy_stream(d, frame->data[0] + (size_t) row * frame->linesize[0], w);
                memset(d + w, 0, pitch - w);
        }
        for (uint32_t row = 0; row < ch; row++)
                nv12_uv_row_to(frame, row, cw, pitch, uv + (size_t) row * pitch, true);
#ifdef __SSE2__
        /* The streamed stores are weakly ordered: all of them before the
         * frame is handed on. */
        _mm_sfence();
#endif
}
