/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame-convert.h"
#include "keyd/keyd.h"

/* Rows start on 64-byte boundaries, as GPUs lay out their surfaces. */
#define PITCH_ALIGN 64u

static uint32_t align_up(uint32_t v, uint32_t a) {
        return (v + a - 1) / a * a;
}

static void copy_nv12(const AVFrame *f, uint8_t *y, uint8_t *uv, uint32_t pitch) {
        uint32_t w = (uint32_t) f->width, h = (uint32_t) f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;

        for (uint32_t row = 0; row < h; row++) {
                memcpy(y + (size_t) row * pitch, f->data[0] + (size_t) row * f->linesize[0], w);
                memset(y + (size_t) row * pitch + w, 0, pitch - w);
        }
        for (uint32_t row = 0; row < ch; row++) {
                const uint8_t *u = f->data[1] + (size_t) row * f->linesize[1];
                const uint8_t *v = f->data[2] + (size_t) row * f->linesize[2];
                uint8_t *d = uv + (size_t) row * pitch;

                for (uint32_t x = 0; x < cw; x++) {
                        d[2 * x] = u[x];
                        d[2 * x + 1] = v[x];
                }
                memset(d + 2 * cw, 0, pitch - 2 * cw);
        }
}

/* libavcodec's yuv420p10le keeps 10 bits in the low bits of each uint16;
 * P010 wants them in the high bits. */
static void copy_p010(const AVFrame *f, uint8_t *y, uint8_t *uv, uint32_t pitch) {
        uint32_t w = (uint32_t) f->width, h = (uint32_t) f->height, cw = (w + 1) / 2, ch = (h + 1) / 2;

        for (uint32_t row = 0; row < h; row++) {
                const uint16_t *s = (const uint16_t *) (f->data[0] + (size_t) row * f->linesize[0]);
                uint16_t *d = (uint16_t *) (y + (size_t) row * pitch);

                for (uint32_t x = 0; x < w; x++)
                        d[x] = (uint16_t) (s[x] << 6);
                memset(d + w, 0, pitch - 2 * w);
        }
        for (uint32_t row = 0; row < ch; row++) {
                const uint16_t *u = (const uint16_t *) (f->data[1] + (size_t) row * f->linesize[1]);
                const uint16_t *v = (const uint16_t *) (f->data[2] + (size_t) row * f->linesize[2]);
                uint16_t *d = (uint16_t *) (uv + (size_t) row * pitch);

                for (uint32_t x = 0; x < cw; x++) {
                        d[2 * x] = (uint16_t) (u[x] << 6);
                        d[2 * x + 1] = (uint16_t) (v[x] << 6);
                }
                memset(d + 2 * cw, 0, pitch - 4 * cw);
        }
}

static uint8_t *staging;
static uint64_t staging_size;

int frame_to_memfd(const AVFrame *frame, DecoderAnswer *answer) {
        uint32_t bytes_per_sample, pitch, w = (uint32_t) frame->width, h = (uint32_t) frame->height;
        uint64_t y_size, size;
        bool p010;
        int fd, r;

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
        y_size = (uint64_t) pitch * h;
        size = y_size + (uint64_t) pitch * ((h + 1) / 2);

        /* The frame is laid out in a staging buffer of ours and written into
         * the memfd with pwrite(): mapping each memfd and unmapping it again
         * costs a TLB shootdown across libavcodec's threads per frame, which
         * in a VM took more CPU than the decoding. Only the decoding thread
         * calls this. */
        if (size > staging_size) {
                free(staging);
                staging = malloc(size);
                staging_size = staging ? size : 0;
                if (!staging)
                        return -ENOMEM;
        }
        /* Every byte is written below, the padding at the end of each row too. */
        if (p010)
                copy_p010(frame, staging, staging + y_size, pitch);
        else
                copy_nv12(frame, staging, staging + y_size, pitch);

        fd = memfd_create("keyd-frame", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0) {
                r = -errno;
                goto fail;
        }
        for (uint64_t done = 0; done < size;) {
                ssize_t k = pwrite(fd, staging + done, size - done, (off_t) done);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : -EIO;
                        goto fail;
                }
                done += (uint64_t) k;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
                r = -errno;
                goto fail;
        }

        answer->type = DECODER_ANSWER_FRAME;
        answer->format = p010 ? KEYD_FORMAT_P010 : KEYD_FORMAT_NV12;
        answer->width = w;
        answer->height = h;
        answer->plane_count = 2;
        answer->plane_offset[0] = 0;
        answer->plane_offset[1] = y_size;
        answer->plane_pitch[0] = pitch;
        answer->plane_pitch[1] = pitch;
        answer->size = size;
        answer->pts = frame->pts;
        return fd;

fail:
        close(fd);
        return r;
}
