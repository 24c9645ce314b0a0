/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A VideoDecoder: the daemon side of ID3D11VideoDecoder on a crypto
 * session. keyd decrypts each sample into a memfd of its own (locked, not
 * dumped) and hands it to the decoder's keyd-decoder process; the frames
 * come back as sealed memfds and go to the client in the reply to the call
 * that fed the sample. A call never waits on the helper: it is stored, and
 * answered from the socket's event source, or failed by the per-request
 * deadline, which kills the helper. A decoder whose helper died or was
 * killed is dead: every later call fails with DeviceRemoved. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "decoder-process.h"
#include "decoder-protocol.h"
#include "guid.h"
#include "list.h"

typedef struct Session Session;

/* Starting a helper (execve, sandbox, libavcodec's threads) may take
 * longer than decoding one frame: CreateVideoDecoder waits at least this. */
#define DECODER_STARTUP_DEADLINE_USEC (10ull * 1000 * 1000)

typedef struct DecoderFrame {
        int fd;
        DecoderAnswer answer;
} DecoderFrame;

typedef struct VideoDecoder {
        Session *session;
        LIST_FIELDS(struct VideoDecoder, decoder);
        uint32_t id;                  /* .../session/<id>/decoder/<id> */
        keyd_guid profile;
        DecoderCodec codec;
        uint32_t width, height;

        DecoderProcess process;
        sd_event_source *socket_source;
        sd_event_source *pidfd_source;
        sd_event_source *deadline;

        /* The frame pool (SetFramePool): its size, the identity of each
         * slot's memfd while its frame is with the client, and the slots the
         * client gave back (ReleaseFrames), told to the helper with the next
         * request. */
        uint32_t pool_size;
        struct {
                dev_t dev;
                ino_t ino;
                bool with_client;
        } slots[DECODER_MAX_POOL_SLOTS];
        uint32_t released_slots;

        /* The bus call waiting for the helper's DONE, and what it asked. */
        sd_bus_message *pending;
        DecoderRequestType pending_type;
        DecoderFrame frames[DECODER_MAX_FRAMES_PER_ANSWER];
        unsigned n_frames;

        /* Plaintext hand-over: mapped here (locked, MADV_DONTDUMP) and in
         * the helper; wiped as soon as the helper said DONE. */
        int sample_fd;
        uint8_t *sample;
        size_t sample_capacity;
        size_t sample_used;
        bool sample_fd_sent;

        bool dead;
        bool death_unreported;        /* died with no call waiting: the next one gets E_FAIL */
        char dead_reason[256];
} VideoDecoder;

/* What DecodeSample carries, checked by video_decoder_decode(). */
typedef struct DecodeSampleArgs {
        const uint8_t *data;
        size_t size;
        const uint32_t *subsamples;   /* (clear, encrypted) pairs, n_subsamples of them */
        size_t n_subsamples;
        const uint8_t *iv;
        size_t iv_size;               /* 0 (clear), 8 or 16 */
        const uint8_t *content_key;
        size_t content_key_size;      /* 0 (session key) or 16 */
        int64_t pts;
} DecodeSampleArgs;

/* Create a decoder on s for the caller of message (the owner, checked) and
 * start its helper; replies to message itself once the helper accepted the
 * configuration (returns 1 then), or fails with a negative errno and error. */
int video_decoder_create(Session *s, sd_bus_message *message, const char *profile, uint32_t width,
                         uint32_t height, const uint8_t *config, size_t config_size, sd_bus_error *error);
/* Decrypt and hand over one sample; replies to message later with the
 * frames that became ready. Returns 1, or a negative errno with error. */
int video_decoder_decode(VideoDecoder *d, sd_bus_message *message, const DecodeSampleArgs *args,
                         sd_bus_error *error);
int video_decoder_drain(VideoDecoder *d, sd_bus_message *message, sd_bus_error *error);
int video_decoder_flush(VideoDecoder *d, sd_bus_message *message, sd_bus_error *error);
/* SetFramePool: from the next request on, frames go to a pool of size
 * reusable memfds (0: every frame in a memfd of its own). Returns 0 or a
 * negative errno with error. */
int video_decoder_set_frame_pool(VideoDecoder *d, uint32_t size, sd_bus_error *error);
/* ReleaseFrames: the client gives back the pool frames whose memfds are
 * fds (the bus handler takes at most DECODER_MAX_POOL_SLOTS); all of them
 * must be pool frames it holds, each once, else nothing is released.
 * Returns 0 or a negative errno with error. */
int video_decoder_release_frames(VideoDecoder *d, const int *fds, size_t n_fds, sd_bus_error *error);
/* Kills the helper, answers a waiting call, unlinks and frees. Returns NULL. */
VideoDecoder *video_decoder_free(VideoDecoder *d);

int video_decoder_check_owner(VideoDecoder *d, sd_bus_message *message, sd_bus_error *error);

#define VIDEO_DECODER_PATH_MAX 96
void video_decoder_path(const VideoDecoder *d, char buf[static VIDEO_DECODER_PATH_MAX]);
VideoDecoder *video_decoder_from_path(Manager *m, const char *path);
