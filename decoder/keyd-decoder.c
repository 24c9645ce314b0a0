/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-decoder: one video decoder, in a process of its own. keyd starts it
 * with the socket to keyd as fd 3 (DECODER_SOCKET_FD) and the address-space
 * limit as its only argument; it shuts itself in (sandbox.c) before it
 * reads anything, then answers keyd's requests (common/decoder-protocol.h)
 * with libavcodec. It writes nothing anywhere but the socket: no log, no
 * stderr (closed), and libavcodec's own log is silenced, as it may quote
 * the bitstream. When keyd closes the socket, it exits. */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/pixdesc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "decoder-protocol.h"
#include "frame-convert.h"
#include "sandbox.h"

typedef struct Decoder {
        int fd;
        AVCodecContext *ctx;
        AVFrame *frame;
        AVPacket *packet;
        const uint8_t *sample;       /* keyd's sample memfd, mapped read-only */
        size_t sample_capacity;
        bool draining;
} Decoder;

static void silent_log(void *avcl, int level, const char *fmt, va_list vl) {
}

static int send_answer(Decoder *d, const DecoderAnswer *a, int fd) {
        union {
                struct cmsghdr header;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) a, .iov_len = sizeof(*a) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (fd >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control.buf);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &fd, sizeof(int));
        }
        if (sendmsg(d->fd, &mh, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

_Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"")
static int send_done(Decoder *d, int error, bool more, const char *fmt, ...) {
        DecoderAnswer a = { .type = DECODER_ANSWER_DONE, .error = error, .more = more };
        va_list ap;

        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(a.message, sizeof(a.message), fmt, ap);
                va_end(ap);
        }
        return send_answer(d, &a, -1);
}
_Pragma("GCC diagnostic pop")

static const char *av_error_text(int err, char buf[static AV_ERROR_MAX_STRING_SIZE]) {
        return av_make_error_string(buf, AV_ERROR_MAX_STRING_SIZE, err);
}

static int handle_init(Decoder *d, const DecoderRequest *req, const uint8_t *config) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        const AVCodec *codec;
        int r;

        if (d->ctx)
                return send_done(d, -EINVAL, false, "the decoder is initialised already");
        codec = avcodec_find_decoder(req->codec == DECODER_CODEC_HEVC ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264);
        if (!codec)
                return send_done(d, -EPROTONOSUPPORT, false, "this libavcodec has no %s decoder",
                                 req->codec == DECODER_CODEC_HEVC ? "HEVC" : "H.264");
        d->ctx = avcodec_alloc_context3(codec);
        d->frame = av_frame_alloc();
        d->packet = av_packet_alloc();
        if (!d->ctx || !d->frame || !d->packet)
                return send_done(d, -ENOMEM, false, "out of memory for the decoder");
        d->ctx->coded_width = (int) req->width;
        d->ctx->coded_height = (int) req->height;
        d->ctx->thread_count = (int) req->threads;
        d->ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
        if (req->config_size > 0) {
                d->ctx->extradata = av_mallocz(req->config_size + AV_INPUT_BUFFER_PADDING_SIZE);
                if (!d->ctx->extradata)
                        return send_done(d, -ENOMEM, false, "out of memory for the codec configuration");
                memcpy(d->ctx->extradata, config, req->config_size);
                d->ctx->extradata_size = (int) req->config_size;
        }
        r = avcodec_open2(d->ctx, codec, NULL);
        if (r < 0)
                return send_done(d, -EINVAL, false, "libavcodec refused the codec configuration: %s",
                                 av_error_text(r, errbuf));
        return send_done(d, 0, false, NULL);
}

/* Hand every frame libavcodec has ready to keyd, at most max of them.
 * Returns how many, or AVERROR_EOF once a drain is complete, or a negative
 * errno with the DONE already sent. */
static int send_frames(Decoder *d, unsigned max, unsigned *ret_count) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        unsigned n = 0;
        int r, fd;

        while (n < max) {
                DecoderAnswer a = {};

                r = avcodec_receive_frame(d->ctx, d->frame);
                if (r == AVERROR(EAGAIN))
                        break;
                if (r == AVERROR_EOF) {
                        *ret_count = n;
                        return AVERROR_EOF;
                }
                if (r < 0) {
                        send_done(d, -EINVAL, false, "libavcodec could not decode the sample: %s",
                                  av_error_text(r, errbuf));
                        return -EINVAL;
                }
                d->frame->pts = d->frame->best_effort_timestamp != AV_NOPTS_VALUE ? d->frame->best_effort_timestamp
                                                                                : d->frame->pts;
                fd = frame_to_memfd(d->frame, &a);
                if (fd == -EPROTONOSUPPORT) {
                        send_done(d, -EPROTONOSUPPORT, false,
                                  "the stream decodes to %s; keyd outputs only 4:2:0 8-bit (NV12) and "
                                  "10-bit (P010)",
                                  av_get_pix_fmt_name(d->frame->format) ?: "an unknown pixel format");
                        av_frame_unref(d->frame);
                        return -EPROTONOSUPPORT;
                }
                av_frame_unref(d->frame);
                if (fd < 0) {
                        send_done(d, fd, false, "cannot write the frame into a memfd: %s", strerror(-fd));
                        return fd;
                }
                r = send_answer(d, &a, fd);
                close(fd);
                if (r < 0)
                        return r;
                n++;
        }
        *ret_count = n;
        return 0;
}

#ifdef KEYD_TEST_HOOKS
/* Test builds only: prove the sandbox holds and that keyd survives a
 * decoder that crashes or hangs. Returns 1 when the sample was a hook. */
static int run_test_hook(Decoder *d, const uint8_t *data, size_t size) {
        size_t n = strlen(DECODER_TEST_HOOK_PREFIX);
        char what[16] = {};

        if (size < n || memcmp(data, DECODER_TEST_HOOK_PREFIX, n) != 0)
                return 0;
        memcpy(what, data + n, size - n < sizeof(what) - 1 ? size - n : sizeof(what) - 1);

        if (strncmp(what, "open", 4) == 0) {
                /* The filter kills the process here (SIGSYS). */
                int fd = (int) syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC);
                return send_done(d, 0, false, "test hook: openat() returned %d, the filter let it through", fd) ?: 1;
        }
        if (strncmp(what, "crash", 5) == 0) {
                /* A wild write, as a decoder bug would make. */
                volatile int *volatile wild = NULL;
                *wild = 1;
                return 1;
        }
        if (strncmp(what, "hang", 4) == 0)
                for (;;) {
                        struct timespec ts = { .tv_sec = 1 };
                        nanosleep(&ts, NULL);
                }
        if (strncmp(what, "fds", 3) == 0) {
                /* Which fds are open, as the helper itself sees them (its
                 * /proc/PID/fd is root's: it is not dumpable). */
                char list[DECODER_MESSAGE_SIZE] = "open fds:";
                size_t len = strlen(list);

                for (int fd = 0; fd < 1024 && len + 8 < sizeof(list); fd++)
                        if (fcntl(fd, F_GETFD) >= 0)
                                len += (size_t) snprintf(list + len, sizeof(list) - len, " %d", fd);
                return send_done(d, 0, false, "%s", list) ?: 1;
        }
        return 0;
}
#endif

static int handle_sample(Decoder *d, const DecoderRequest *req, int fd) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        unsigned n;
        int r;

        if (fd >= 0) {
                void *p;

                if (d->sample)
                        munmap((void *) d->sample, d->sample_capacity);
                d->sample = NULL;
                d->sample_capacity = 0;
                p = mmap(NULL, req->buffer_size, PROT_READ, MAP_SHARED, fd, 0);
                close(fd);
                if (p == MAP_FAILED)
                        return send_done(d, -ENOMEM, false, "cannot map the sample memfd: %s", strerror(errno));
                d->sample = p;
                d->sample_capacity = req->buffer_size;
        }
        if (!d->ctx)
                return send_done(d, -EBADRQC, false, "no INIT before the first sample");
        if (req->sample_size > d->sample_capacity || !d->sample)
                return send_done(d, -EINVAL, false, "the sample is larger than its memfd");

#ifdef KEYD_TEST_HOOKS
        r = run_test_hook(d, d->sample, req->sample_size);
        if (r != 0)
                return r < 0 ? r : 0;
#endif

        if (d->draining) {
                avcodec_flush_buffers(d->ctx);
                d->draining = false;
        }
        /* Not reference counted: libavcodec copies the bytes before
         * avcodec_send_packet() returns, and keyd wipes its memfd after DONE. */
        av_packet_unref(d->packet);
        d->packet->data = (uint8_t *) d->sample;
        d->packet->size = (int) req->sample_size;
        d->packet->pts = req->pts;
        d->packet->dts = AV_NOPTS_VALUE;
        r = avcodec_send_packet(d->ctx, d->packet);
        d->packet->data = NULL;
        d->packet->size = 0;
        if (r == AVERROR(EAGAIN)) {
                /* Frames were waiting (more than one answer can carry):
                 * take them, then the sample. */
                r = send_frames(d, DECODER_MAX_FRAMES_PER_ANSWER, &n);
                if (r < 0)
                        return r == AVERROR_EOF ? send_done(d, -EIO, false, "unexpected end of stream") : 0;
                d->packet->data = (uint8_t *) d->sample;
                d->packet->size = (int) req->sample_size;
                d->packet->pts = req->pts;
                r = avcodec_send_packet(d->ctx, d->packet);
                d->packet->data = NULL;
                d->packet->size = 0;
        }
        if (r < 0)
                return send_done(d, -EINVAL, false, "libavcodec could not decode the sample: %s",
                                 av_error_text(r, errbuf));

        r = send_frames(d, DECODER_MAX_FRAMES_PER_ANSWER, &n);
        if (r == AVERROR_EOF)
                return send_done(d, -EIO, false, "unexpected end of stream");
        if (r < 0)
                return 0;  /* DONE sent */
        return send_done(d, 0, false, NULL);
}

static int handle_drain(Decoder *d) {
        unsigned n = 0;
        int r;

        if (!d->ctx)
                return send_done(d, -EBADRQC, false, "no INIT before Drain");
        if (!d->draining) {
                r = avcodec_send_packet(d->ctx, NULL);
                if (r < 0 && r != AVERROR_EOF)
                        return send_done(d, -EIO, false, "libavcodec refused the end of stream");
                d->draining = true;
        }
        r = send_frames(d, DECODER_MAX_FRAMES_PER_ANSWER, &n);
        if (r == AVERROR_EOF) {
                /* All out: ready for a new stream. */
                avcodec_flush_buffers(d->ctx);
                d->draining = false;
                return send_done(d, 0, false, NULL);
        }
        if (r < 0)
                return 0;
        return send_done(d, 0, true, NULL);
}

static int handle_flush(Decoder *d) {
        if (d->ctx)
                avcodec_flush_buffers(d->ctx);
        d->draining = false;
        return send_done(d, 0, false, NULL);
}

int main(int argc, char *argv[]) {
        static uint8_t buf[sizeof(DecoderRequest) + DECODER_MAX_CONFIG_SIZE];
        Decoder d = { .fd = DECODER_SOCKET_FD };
        uint64_t max_memory;
        int r;

        if (argc != 2)
                return EXIT_FAILURE;
        max_memory = strtoull(argv[1], NULL, 10);
        if (max_memory < (64u << 20))
                return EXIT_FAILURE;

        /* Before anything is read. */
        r = sandbox_enter(DECODER_SOCKET_FD, max_memory);
        if (r < 0) {
                /* stderr is gone; keyd reads the exit status. */
                _exit(100 + (-r & 0x7f) % 100);
        }
        av_log_set_callback(silent_log);

        for (;;) {
                union {
                        struct cmsghdr header;
                        uint8_t buf[CMSG_SPACE(sizeof(int))];
                } control = {};
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof(control.buf) };
                DecoderRequest req;
                struct cmsghdr *c;
                ssize_t n;
                int fd = -1;

                n = recvmsg(d.fd, &mh, MSG_CMSG_CLOEXEC);
                if (n == 0)
                        break;  /* keyd closed the decoder */
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return EXIT_FAILURE;
                }
                for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                            c->cmsg_len == CMSG_LEN(sizeof(int)))
                                memcpy(&fd, CMSG_DATA(c), sizeof(int));
                if ((size_t) n < sizeof(req) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                        if (fd >= 0)
                                close(fd);
                        return EXIT_FAILURE;
                }
                memcpy(&req, buf, sizeof(req));

                switch (req.type) {
                case DECODER_REQUEST_INIT:
                        r = (size_t) n == sizeof(req) + req.config_size
                                    ? handle_init(&d, &req, buf + sizeof(req))
                                    : send_done(&d, -EINVAL, false, "the INIT record's size is wrong");
                        break;
                case DECODER_REQUEST_SAMPLE:
                        r = handle_sample(&d, &req, fd);
                        fd = -1;
                        break;
                case DECODER_REQUEST_DRAIN:
                        r = handle_drain(&d);
                        break;
                case DECODER_REQUEST_FLUSH:
                        r = handle_flush(&d);
                        break;
                default:
                        r = send_done(&d, -EINVAL, false, "unknown request %u", req.type);
                }
                if (fd >= 0)
                        close(fd);
                if (r < 0)
                        return EXIT_FAILURE;  /* keyd is gone, or the socket broke */
        }
        return EXIT_SUCCESS;
}
