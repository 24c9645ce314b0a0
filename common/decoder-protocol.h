/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What keyd and its decoder helper (keyd-decoder, decoder/) say to each
 * other over their SOCK_SEQPACKET socketpair: one fixed-size record per
 * datagram, plus at most one file descriptor (SCM_RIGHTS). keyd sends one
 * request at a time and waits for the helper's DONE before it sends the
 * next; the helper answers each request with any number of FRAME records,
 * then one DONE. Both sides are the same build, so the records are plain
 * C structures.
 *
 * The decrypted sample never travels in a datagram: keyd writes it into a
 * memfd of its own (mapped only in keyd, where it is locked and excluded
 * from core dumps, and in the helper), passes that memfd once (and again
 * whenever it grows), and wipes the bytes when the helper said DONE. */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* The helper's end of the socket, set up by keyd before execve(). */
#define DECODER_SOCKET_FD 3

/* The codec configuration (avcC / hvcC) travels in the INIT datagram, after
 * the request record. */
#define DECODER_MAX_CONFIG_SIZE (64u * 1024u)
/* At most this many frames in one DONE-terminated answer, so that a reply
 * on the bus carries no more file descriptors than dbus-daemon allows. */
#define DECODER_MAX_FRAMES_PER_ANSWER 8u
/* Room for the helper's sentence about a failure. */
#define DECODER_MESSAGE_SIZE 256u
/* The most frames of a frame pool (VideoDecoder.SetFramePool): each is a
 * bit of DecoderRequest.released_slots. */
#define DECODER_MAX_POOL_SLOTS 16u

typedef enum DecoderCodec {
        DECODER_CODEC_H264 = 1,
        DECODER_CODEC_HEVC = 2,
} DecoderCodec;

typedef enum DecoderRequestType {
        DECODER_REQUEST_INIT = 1,     /* + config bytes; answered by DONE */
        DECODER_REQUEST_SAMPLE = 2,   /* sample_size bytes at the start of the sample memfd */
        DECODER_REQUEST_DRAIN = 3,    /* end of stream: DONE.more says whether to ask again */
        DECODER_REQUEST_FLUSH = 4,    /* drop everything buffered */
} DecoderRequestType;

typedef struct DecoderRequest {
        uint32_t type;                /* DecoderRequestType */
        uint32_t codec;               /* INIT: DecoderCodec */
        uint32_t width, height;       /* INIT: coded size */
        uint32_t threads;             /* INIT: decoding threads */
        uint32_t config_size;         /* INIT: bytes after this record */
        uint64_t buffer_size;         /* SAMPLE with an fd: the size of the new sample memfd */
        uint64_t sample_size;         /* SAMPLE */
        int64_t pts;                  /* SAMPLE */
        /* Every request: the frame pool's size (0: no pool, every frame in
         * a memfd of its own), and the pool frames the client gave back
         * since the last request, one bit per slot. The helper writes a
         * slot again only after keyd said here that the client gave it
         * back. */
        uint32_t pool_size;
        uint32_t released_slots;
} DecoderRequest;

typedef enum DecoderAnswerType {
        DECODER_ANSWER_FRAME = 1,     /* + a sealed memfd holding the frame (slot: below) */
        DECODER_ANSWER_DONE = 2,
} DecoderAnswerType;

typedef struct DecoderAnswer {
        uint32_t type;                /* DecoderAnswerType */
        int32_t error;                /* DONE: 0 or a negative errno, with message */
        uint32_t more;                /* DONE after DRAIN: 1 when more frames may follow */
        uint32_t format;              /* FRAME: KEYD_FORMAT_NV12 / _P010 */
        uint32_t width, height;       /* FRAME: display size */
        uint32_t plane_count;
        uint32_t plane_pitch[4];
        uint64_t plane_offset[4];
        uint64_t size;                /* FRAME: bytes of the memfd */
        int64_t pts;
        /* FRAME: -1 for a memfd of its own, sealed against writing for good
         * (F_SEAL_WRITE); else the pool slot, a memfd the helper keeps
         * mapped and that it alone can write (F_SEAL_FUTURE_WRITE). */
        int32_t slot;
        char message[DECODER_MESSAGE_SIZE];   /* DONE with an error: NUL-terminated */
} DecoderAnswer;

/* Send one datagram: the record (and what follows it) in iov, and fd, when
 * not negative, as its one SCM_RIGHTS descriptor. Returns 0 or a negative
 * errno. keyd and the helper both send with it. */
static inline int decoder_send(int sock, const struct iovec *iov, size_t n_iov, int fd) {
        union {
                struct cmsghdr header;
                uint8_t buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = n_iov };

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
        if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

#ifdef KEYD_TEST_HOOKS
/* Test builds only: a sample that begins with this prefix and one of
 * "open", "crash", "hang" or "fds" makes the helper do that instead of
 * decoding (decoder/keyd-decoder.c). */
#define DECODER_TEST_HOOK_PREFIX "KEYD-TEST-HOOK:"
#endif
