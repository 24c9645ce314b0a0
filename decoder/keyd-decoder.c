/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-decoder: one video decoder, in a process of its own. keyd starts it
 * with the socket to keyd as fd 3 (DECODER_SOCKET_FD) and the address-space
 * limit as its only argument; it shuts itself in (sandbox.c) before it
 * reads anything, then answers keyd's requests (common/decoder-protocol.h)
 * with libavcodec. It writes nothing anywhere but the socket: no log, no
 * stderr (closed), and libavcodec's own log is silenced, as it may quote
 * the bitstream. When keyd closes the socket, it exits. */

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "decoder-protocol.h"
#include "frame-convert.h"
#include "macro.h"
#include "sandbox.h"

/* Packets waiting for the decoding thread: enough to keep libavcodec's
 * threads busy while the answer to keyd travels, few enough that a sample's
 * failure is reported soon after it. */
#define PACKET_QUEUE_MAX 2u
/* Frames out of libavcodec waiting for the output thread: enough that a
 * frame thread that finishes never waits for the memfd of the frame before. */
#define OUTPUT_QUEUE_MAX 4u
/* Frames decoded and written into memfds, not yet handed to keyd: each
 * holds an fd (a pool slot's is the slot's own), within the sandbox's
 * RLIMIT_NOFILE with the pool's DECODER_MAX_POOL_SLOTS. */
#define READY_MAX 32u

typedef struct ReadyFrame {
        int fd;
        DecoderAnswer answer;         /* answer.slot >= 0: fd is that slot's */
} ReadyFrame;

/* A frame pool slot (VideoDecoder.SetFramePool): a memfd this process keeps
 * mapped for writing and that nobody else can write (F_SEAL_FUTURE_WRITE).
 * It is written only while SLOT_HELPER: taken when free, it goes to the
 * client with its frame and comes back free when keyd says the client gave
 * it back (DecoderRequest.released_slots) or the frame is dropped unsent. */
typedef enum SlotState {
        SLOT_FREE,
        SLOT_HELPER,                  /* being written, or in the ready list */
        SLOT_CLIENT,                  /* sent; the client reads it */
} SlotState;

typedef struct PoolSlot {
        int fd;                       /* -1: not made yet */
        uint8_t *map;
        uint64_t size;
        SlotState state;
} PoolSlot;

/* The main thread talks to keyd; the decoding thread feeds libavcodec
 * (avcodec_send_packet() waits for a frame thread to finish, which is not a
 * reason to keep keyd waiting); the output thread turns its frames into
 * memfds. Writing a frame's memfd takes about a quarter of a frame's
 * decoding: done by the decoding thread, it left a frame thread that
 * finished meanwhile without its next packet. Everything below lock is
 * shared between them. */
typedef struct Decoder {
        int fd;
        AVCodecContext *ctx;
        AVFrame *frame;
        const uint8_t *sample;       /* keyd's sample memfd, mapped read-only */
        size_t sample_capacity;

        pthread_t thread, output_thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;         /* any change of the state below */
        AVPacket *queue[PACKET_QUEUE_MAX];
        unsigned queue_head, queue_len;
        bool busy;                   /* the decoding thread is inside libavcodec */
        AVFrame *output[OUTPUT_QUEUE_MAX];  /* decoded, for the output thread */
        unsigned output_head, output_len;
        bool converting;             /* the output thread is writing a frame */
        bool drain_requested;        /* end of stream asked for... */
        bool eof;                    /* ...every frame is out of libavcodec... */
        bool drained;                /* ...and in the ready list */
        ReadyFrame ready[READY_MAX];
        unsigned ready_head, ready_len;
        PoolSlot slots[DECODER_MAX_POOL_SLOTS];
        unsigned pool_size;          /* slots at and above it are not taken, and go when free */
        int error;                   /* the first failure not yet reported, with its text */
        char error_message[DECODER_MESSAGE_SIZE];
} Decoder;

static void *decode_thread(void *userdata);
static void *output_thread(void *userdata);

static void silent_log(void *avcl, int level, const char *fmt, va_list vl) {
}

static int send_answer(Decoder *d, const DecoderAnswer *a, int fd) {
        struct iovec iov = { .iov_base = (void *) a, .iov_len = sizeof(*a) };

        return decoder_send(d->fd, &iov, 1, fd);
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
        if (!d->ctx || !d->frame)
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
        r = pthread_create(&d->output_thread, NULL, output_thread, d);
        if (r != 0)
                return send_done(d, -ENOMEM, false, "cannot start the output thread: %s", strerror(r));
        r = pthread_create(&d->thread, NULL, decode_thread, d);
        if (r != 0)
                return send_done(d, -ENOMEM, false, "cannot start the decoding thread: %s", strerror(r));
        d->thread_started = true;
        return send_done(d, 0, false, NULL);
}

_Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"")
/* Remember a failure for the next answer to keyd; with the lock held. */
static void record_error(Decoder *d, int error, const char *fmt, ...) {
        va_list ap;

        if (d->error < 0)
                return;  /* the first one tells */
        d->error = error;
        va_start(ap, fmt);
        vsnprintf(d->error_message, sizeof(d->error_message), fmt, ap);
        va_end(ap);
}
_Pragma("GCC diagnostic pop")

/* Hand every frame libavcodec has ready to the output thread. Returns
 * AVERROR_EOF once a drain is complete, else 0. Called by the decoding
 * thread without the lock. */
static int collect_frames(Decoder *d) {
        char errbuf[AV_ERROR_MAX_STRING_SIZE];
        int r;

        for (;;) {
                AVFrame *f;

                r = avcodec_receive_frame(d->ctx, d->frame);
                if (r == AVERROR(EAGAIN))
                        return 0;
                if (r == AVERROR_EOF)
                        return AVERROR_EOF;
                if (r < 0) {
                        pthread_mutex_lock(&d->lock);
                        record_error(d, -EINVAL, "libavcodec could not decode the sample: %s",
                                     av_error_text(r, errbuf));
                        pthread_mutex_unlock(&d->lock);
                        return 0;
                }
                d->frame->pts = d->frame->best_effort_timestamp != AV_NOPTS_VALUE ? d->frame->best_effort_timestamp
                                                                                : d->frame->pts;
                f = av_frame_alloc();
                pthread_mutex_lock(&d->lock);
                if (!f)
                        record_error(d, -ENOMEM, "out of memory for a decoded frame");
                else {
                        /* The output thread takes them in order; a full queue waits for it. */
                        while (d->output_len == OUTPUT_QUEUE_MAX)
                                pthread_cond_wait(&d->cond, &d->lock);
                        av_frame_move_ref(f, d->frame);
                        d->output[(d->output_head + d->output_len) % OUTPUT_QUEUE_MAX] = f;
                        d->output_len++;
                        pthread_cond_broadcast(&d->cond);
                }
                pthread_mutex_unlock(&d->lock);
                av_frame_unref(d->frame);
        }
}

/* ---- the frame pool ---- */

static void slot_destroy(PoolSlot *slot) {
        if (slot->map)
                munmap(slot->map, slot->size);
        if (slot->fd >= 0)
                close(slot->fd);
        *slot = (PoolSlot) { .fd = -1 };
}

/* A slot is free again; one above the pool's size goes. With the lock held. */
static void slot_put(Decoder *d, unsigned i) {
        d->slots[i].state = SLOT_FREE;
        if (i >= d->pool_size)
                slot_destroy(&d->slots[i]);
}

/* keyd's word on every request: the pool's size, and the slots the client
 * gave back. Only a slot the client holds can come back. With the lock held. */
static void pool_update(Decoder *d, const DecoderRequest *req) {
        d->pool_size = MIN(req->pool_size, DECODER_MAX_POOL_SLOTS);
        for (unsigned i = 0; i < DECODER_MAX_POOL_SLOTS; i++) {
                if ((req->released_slots & (1u << i)) && d->slots[i].state == SLOT_CLIENT)
                        slot_put(d, i);
                else if (i >= d->pool_size && d->slots[i].state == SLOT_FREE && d->slots[i].fd >= 0)
                        slot_destroy(&d->slots[i]);
        }
}

/* A memfd of size bytes for a slot: mapped for writing here, then sealed so
 * that no one else can write it (no new writable mapping, no write()) nor
 * change its size. */
static int slot_make(PoolSlot *slot, uint64_t size) {
        int fd;
        void *p;

        fd = memfd_create("keyd-frame-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0)
                goto fail;
        /* MAP_POPULATE: its pages in one go, not one fault per 4 KiB. */
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED)
                goto fail;
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
                munmap(p, size);
                goto fail;
        }
        slot->fd = fd;
        slot->map = p;
        slot->size = size;
        return 0;

fail:
        close(fd);
        return -ENOMEM;
}

/* Write f (laid out in a) into a free pool slot, or, with none free (the
 * client keeps them, or there is no pool) or none to be made (the address
 * space limit), into a memfd of its own. Returns the fd and sets a->slot.
 * Called by the output thread without the lock. */
static int frame_write(Decoder *d, const AVFrame *f, DecoderAnswer *a) {
        PoolSlot *slot = NULL;
        unsigned i;

        pthread_mutex_lock(&d->lock);
        for (i = 0; i < d->pool_size; i++)
                if (d->slots[i].state == SLOT_FREE) {
                        slot = &d->slots[i];
                        slot->state = SLOT_HELPER;
                        break;
                }
        pthread_mutex_unlock(&d->lock);
        if (!slot)
                return frame_to_memfd(f, a);

        /* Ours alone while SLOT_HELPER: (re)made without the lock. */
        if (slot->fd >= 0 && slot->size != a->size)
                slot_destroy(slot);
        if (slot->fd < 0 && slot_make(slot, a->size) < 0) {
                pthread_mutex_lock(&d->lock);
                slot_put(d, i);
                pthread_mutex_unlock(&d->lock);
                return frame_to_memfd(f, a);
        }
        frame_to_mapping(f, a, slot->map);
        a->slot = (int32_t) i;
        return slot->fd;
}

/* The output thread: each decoded frame into a memfd, in order, into the
 * ready list; a drain is complete when libavcodec's last frame is there. */
static void *output_thread(void *userdata) {
        Decoder *d = userdata;

        pthread_mutex_lock(&d->lock);
        for (;;) {
                DecoderAnswer a = {};
                AVFrame *f;
                int fd;

                while (d->output_len == 0 && !d->eof)
                        pthread_cond_wait(&d->cond, &d->lock);
                if (d->output_len == 0) {
                        /* eof: everything libavcodec gave is in the ready list.
                         * Unless a sample came since: that drain was given up
                         * and a new stream has begun. */
                        d->eof = false;
                        d->drained = d->drain_requested;
                        pthread_cond_broadcast(&d->cond);
                        continue;
                }
                f = d->output[d->output_head];
                d->output_head = (d->output_head + 1) % OUTPUT_QUEUE_MAX;
                d->output_len--;
                d->converting = true;
                pthread_cond_broadcast(&d->cond);
                pthread_mutex_unlock(&d->lock);

                fd = frame_layout(f, &a);
                if (fd >= 0)
                        fd = frame_write(d, f, &a);

                pthread_mutex_lock(&d->lock);
                if (fd == -EPROTONOSUPPORT)
                        record_error(d, -EPROTONOSUPPORT,
                                     "the stream decodes to %s; keyd outputs only 4:2:0 8-bit (NV12) and 10-bit (P010)",
                                     av_get_pix_fmt_name(f->format) ?: "an unknown pixel format");
                else if (fd < 0)
                        record_error(d, -ENOMEM, "cannot write the frame into a memfd: %s", strerror(-fd));
                else {
                        /* keyd takes them out at every answer; a full list waits for it. */
                        while (d->ready_len == READY_MAX)
                                pthread_cond_wait(&d->cond, &d->lock);
                        d->ready[(d->ready_head + d->ready_len) % READY_MAX] = (ReadyFrame) { .fd = fd, .answer = a };
                        d->ready_len++;
                }
                d->converting = false;
                pthread_cond_broadcast(&d->cond);
                av_frame_free(&f);
        }
        return NULL;
}

/* The decoding thread: packets in order, then a drain when one is asked for. */
static void *decode_thread(void *userdata) {
        Decoder *d = userdata;
        char errbuf[AV_ERROR_MAX_STRING_SIZE];

        pthread_mutex_lock(&d->lock);
        for (;;) {
                AVPacket *pkt = NULL;
                bool drain = false;
                int r;

                while (d->queue_len == 0 && !(d->drain_requested && !d->drained && !d->eof))
                        pthread_cond_wait(&d->cond, &d->lock);
                if (d->queue_len > 0) {
                        pkt = d->queue[d->queue_head];
                        d->queue_head = (d->queue_head + 1) % PACKET_QUEUE_MAX;
                        d->queue_len--;
                } else
                        drain = true;
                d->busy = true;
                pthread_cond_broadcast(&d->cond);
                pthread_mutex_unlock(&d->lock);

                for (;;) {
                        r = avcodec_send_packet(d->ctx, pkt);
                        if (r != AVERROR(EAGAIN))
                                break;
                        /* Frames first (more than keyd takes at once were ready). */
                        if (collect_frames(d) == AVERROR_EOF)
                                break;
                }
                if (r < 0 && r != AVERROR_EOF && r != AVERROR(EAGAIN)) {
                        pthread_mutex_lock(&d->lock);
                        record_error(d, -EINVAL, "libavcodec could not decode the sample: %s",
                                     av_error_text(r, errbuf));
                        pthread_mutex_unlock(&d->lock);
                }
                r = collect_frames(d);
                av_packet_free(&pkt);

                pthread_mutex_lock(&d->lock);
                if (drain && r == AVERROR_EOF) {
                        /* Everything is out of libavcodec (the output thread
                         * says when it is in the ready list): ready for a new
                         * stream. The frames still queued hold their own
                         * references. */
                        avcodec_flush_buffers(d->ctx);
                        d->eof = true;
                } else if (drain)
                        record_error(d, -EIO, "libavcodec did not finish the stream");
                d->busy = false;
                pthread_cond_broadcast(&d->cond);
        }
        return NULL;
}

/* Send up to DECODER_MAX_FRAMES_PER_ANSWER ready frames to keyd; with the lock held. */
static int send_ready_frames(Decoder *d) {
        for (unsigned n = 0; n < DECODER_MAX_FRAMES_PER_ANSWER && d->ready_len > 0; n++) {
                ReadyFrame *f = &d->ready[d->ready_head];
                int r;

                d->ready_head = (d->ready_head + 1) % READY_MAX;
                d->ready_len--;
                r = send_answer(d, &f->answer, f->fd);
                if (f->answer.slot < 0)
                        close(f->fd);
                else
                        d->slots[f->answer.slot].state = SLOT_CLIENT;
                if (r < 0)
                        return r;
        }
        pthread_cond_broadcast(&d->cond);
        return 0;
}

/* DONE for a request: the pending failure if there is one (frames stay for
 * the next answer), else the ready frames and DONE. With the lock held. */
static int answer_request(Decoder *d, bool more) {
        int r;

        if (d->error < 0) {
                DecoderAnswer a = { .type = DECODER_ANSWER_DONE, .error = d->error };

                memcpy(a.message, d->error_message, sizeof(a.message));
                d->error = 0;
                return send_answer(d, &a, -1);
        }
        r = send_ready_frames(d);
        if (r < 0)
                return r;
        return send_done(d, 0, more, NULL);
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
                snprintf(list + len, sizeof(list) - len, "; dumpable %d", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
                return send_done(d, 0, false, "%s", list) ?: 1;
        }
        return 0;
}
#endif

/* The free function of a sample's buffer: the decrypted bitstream is wiped
 * before the memory goes back to the allocator. libavcodec's frame threads
 * hold their own reference to the buffer after avcodec_send_packet()
 * returns, so it is wiped when the last reference goes, not before.
 * (libavcodec's working copies of what it parses, the NAL units it
 * unescapes, stay in its own buffers until the helper exits.) */
static void sample_buffer_free(void *opaque, uint8_t *data) {
        explicit_bzero(data, (size_t) (uintptr_t) opaque);
        av_free(data);
}

/* A packet holding a copy of size bytes of sample, in a buffer that
 * sample_buffer_free() wipes. */
static AVPacket *sample_packet(const uint8_t *sample, size_t size) {
        size_t total = size + AV_INPUT_BUFFER_PADDING_SIZE;
        AVPacket *pkt = av_packet_alloc();
        uint8_t *data = av_malloc(total);

        if (!pkt || !data) {
                av_free(data);
                av_packet_free(&pkt);
                return NULL;
        }
        memcpy(data, sample, size);
        memset(data + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
        pkt->buf = av_buffer_create(data, total, sample_buffer_free, (void *) (uintptr_t) total, 0);
        if (!pkt->buf) {
                explicit_bzero(data, total);
                av_free(data);
                av_packet_free(&pkt);
                return NULL;
        }
        pkt->data = data;
        pkt->size = (int) size;
        return pkt;
}

static int handle_sample(Decoder *d, const DecoderRequest *req, int fd) {
        AVPacket *pkt;
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
        if (!d->thread_started)
                return send_done(d, -EBADRQC, false, "no INIT before the first sample");
        if (req->sample_size > d->sample_capacity || !d->sample || req->sample_size > INT_MAX)
                return send_done(d, -EINVAL, false, "the sample is larger than its memfd");

#ifdef KEYD_TEST_HOOKS
        r = run_test_hook(d, d->sample, req->sample_size);
        if (r != 0)
                return r < 0 ? r : 0;
#endif

        /* Our own copy: keyd wipes its memfd once we answer. */
        pkt = sample_packet(d->sample, req->sample_size);
        if (!pkt)
                return send_done(d, -ENOMEM, false, "out of memory for the sample");
        pkt->pts = req->pts;

        pthread_mutex_lock(&d->lock);
        /* A new stream after a drain. */
        d->drain_requested = d->drained = false;
        while (d->queue_len == PACKET_QUEUE_MAX)
                pthread_cond_wait(&d->cond, &d->lock);
        d->queue[(d->queue_head + d->queue_len) % PACKET_QUEUE_MAX] = pkt;
        d->queue_len++;
        pthread_cond_broadcast(&d->cond);
        r = answer_request(d, false);
        pthread_mutex_unlock(&d->lock);
        return r;
}

static int handle_drain(Decoder *d) {
        bool more;
        int r;

        if (!d->thread_started)
                return send_done(d, -EBADRQC, false, "no INIT before Drain");

        pthread_mutex_lock(&d->lock);
        d->drain_requested = true;
        pthread_cond_broadcast(&d->cond);
        /* Until the stream is out of libavcodec, or there is an answer's worth. */
        while (!d->drained && d->ready_len < DECODER_MAX_FRAMES_PER_ANSWER && d->error == 0)
                pthread_cond_wait(&d->cond, &d->lock);
        more = !(d->drained && d->ready_len <= DECODER_MAX_FRAMES_PER_ANSWER);
        r = answer_request(d, more);
        if (!more && d->error == 0)
                d->drain_requested = d->drained = false;
        pthread_mutex_unlock(&d->lock);
        return r;
}

static int handle_flush(Decoder *d) {
        int r;

        if (!d->thread_started)
                return send_done(d, 0, false, NULL);

        pthread_mutex_lock(&d->lock);
        while (d->queue_len > 0) {
                av_packet_free(&d->queue[d->queue_head]);
                d->queue_head = (d->queue_head + 1) % PACKET_QUEUE_MAX;
                d->queue_len--;
        }
        /* Frames are dropped as they come, so that a thread waiting for room
         * in the ready list gets it and finishes its packet. */
        for (;;) {
                while (d->ready_len > 0) {
                        ReadyFrame *f = &d->ready[d->ready_head];

                        if (f->answer.slot < 0)
                                close(f->fd);
                        else
                                slot_put(d, (unsigned) f->answer.slot);
                        d->ready_head = (d->ready_head + 1) % READY_MAX;
                        d->ready_len--;
                }
                while (d->output_len > 0) {
                        av_frame_free(&d->output[d->output_head]);
                        d->output_head = (d->output_head + 1) % OUTPUT_QUEUE_MAX;
                        d->output_len--;
                }
                if (!d->busy && !d->converting)
                        break;
                pthread_cond_broadcast(&d->cond);
                pthread_cond_wait(&d->cond, &d->lock);
        }
        /* The thread waits for work and cannot start any while we hold the lock. */
        avcodec_flush_buffers(d->ctx);
        d->error = 0;
        d->drain_requested = d->drained = d->eof = false;
        pthread_cond_broadcast(&d->cond);
        r = send_done(d, 0, false, NULL);
        pthread_mutex_unlock(&d->lock);
        return r;
}

int main(int argc, char *argv[]) {
        static uint8_t buf[sizeof(DecoderRequest) + DECODER_MAX_CONFIG_SIZE];
        Decoder d = { .fd = DECODER_SOCKET_FD, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        uint64_t max_memory;
        int r;

        if (argc != 2)
                return EXIT_FAILURE;
        max_memory = strtoull(argv[1], NULL, 10);
        if (max_memory < (64u << 20))
                return EXIT_FAILURE;

        /* glibc's malloc asks how many CPUs there are (by opening
         * /sys/devices/system/cpu/online) the first time a thread needs an
         * arena of its own, unless it is told how many arenas it may make:
         * under the sandbox that open() is fatal. Four is plenty. (ASan's
         * malloc, which has no arenas, answers 0 here: that is fine.) */
        (void) mallopt(M_ARENA_MAX, 4);

        /* Before anything is read. */
        r = sandbox_enter(DECODER_SOCKET_FD, max_memory);
        if (r < 0) {
                /* stderr is gone; keyd reads the exit status. */
                _exit(100 + (-r & 0x7f) % 100);
        }
        av_log_set_callback(silent_log);
        for (unsigned i = 0; i < DECODER_MAX_POOL_SLOTS; i++)
                d.slots[i] = (PoolSlot) { .fd = -1 };

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
                pthread_mutex_lock(&d.lock);
                pool_update(&d, &req);
                pthread_mutex_unlock(&d.lock);

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
