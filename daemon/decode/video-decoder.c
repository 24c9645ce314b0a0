/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/bus-error.h"
#include "bus/bus-guid.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "secure-memory.h"
#include "session/client.h"
#include "session/session.h"
#include "video-decoder.h"

#define FRAME_SIGNATURE "(huuua(tu)x)"

static Manager *manager_of(VideoDecoder *d) {
        return d->session->manager;
}

void video_decoder_path(const VideoDecoder *d, char buf[static VIDEO_DECODER_PATH_MAX]) {
        snprintf(buf, VIDEO_DECODER_PATH_MAX, "%s/%" PRIu64 "/decoder/%" PRIu32, KEYD_SESSION_PATH_PREFIX,
                 d->session->id, d->id);
}

VideoDecoder *video_decoder_from_path(Manager *m, const char *path) {
        static const char prefix[] = KEYD_SESSION_PATH_PREFIX "/";
        char session_path[SESSION_PATH_MAX];
        const char *p, *slash;
        Session *s;
        char *end;
        unsigned long id;

        if (strncmp(path, prefix, strlen(prefix)) != 0)
                return NULL;
        p = path + strlen(prefix);
        slash = strchr(p, '/');
        if (!slash || (size_t) (slash - path) >= sizeof(session_path))
                return NULL;
        memcpy(session_path, path, (size_t) (slash - path));
        session_path[slash - path] = '\0';
        s = session_from_path(m, session_path);
        if (!s || strncmp(slash, "/decoder/", 9) != 0)
                return NULL;
        p = slash + 9;
        if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '\0'))
                return NULL;
        errno = 0;
        id = strtoul(p, &end, 10);
        if (errno != 0 || *end != '\0' || id > UINT32_MAX)
                return NULL;
        LIST_FOREACH(decoder, d, s->decoders)
                if (d->id == id)
                        return d;
        return NULL;
}

int video_decoder_check_owner(VideoDecoder *d, sd_bus_message *message, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(message);
        char path[VIDEO_DECODER_PATH_MAX];

        if (sender && d->session->client && streq(sender, d->session->client->name))
                return 0;
        video_decoder_path(d, path);
        return bus_error_setf(error, -EACCES,
                              "%s belongs to another connection; only the connection that created its crypto "
                              "session may use it",
                              path);
}

/* ---- the sample hand-over buffer ---- */

static void sample_wipe(VideoDecoder *d) {
        if (d->sample && d->sample_used > 0)
                secure_wipe(d->sample, d->sample_used);
        d->sample_used = 0;
}

static void sample_buffer_free(VideoDecoder *d) {
        sample_wipe(d);
        if (d->sample) {
                secure_unlock_mapping(d->sample, d->sample_capacity);
                munmap(d->sample, d->sample_capacity);
                if (d->session->client)
                        client_uncharge(d->session->client, d->sample_capacity);
        }
        d->sample = NULL;
        d->sample_capacity = 0;
        if (d->sample_fd >= 0)
                close(d->sample_fd);
        d->sample_fd = -1;
        d->sample_fd_sent = false;
}

/* Room for size bytes of plaintext: a memfd whose pages keyd locks (no
 * swap) and leaves out of core dumps, counted like a protected surface
 * against the connection's and the user's memory and keyd's locked-memory
 * limit. Grows in powers of two. */
static int sample_buffer_reserve(VideoDecoder *d, size_t size, sd_bus_error *error) {
        size_t capacity = 64u * 1024u;
        uint8_t *p;
        int fd, r;

        if (size <= d->sample_capacity)
                return 0;
        while (capacity < size)
                capacity *= 2;

        sample_buffer_free(d);
        r = client_charge(d->session->client, capacity, "the decoder's sample buffer", error);
        if (r < 0)
                return r;
        fd = memfd_create("keyd-sample", MFD_CLOEXEC);
        if (fd < 0) {
                r = bus_error_setf(error, -errno, "cannot make the sample memfd: %m");
                goto fail;
        }
        if (ftruncate(fd, (off_t) capacity) < 0) {
                close(fd);
                r = bus_error_setf(error, -ENOMEM, "cannot size the sample memfd to %zu bytes: %m", capacity);
                goto fail;
        }
        p = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                close(fd);
                r = bus_error_setf(error, -ENOMEM, "cannot map the sample memfd: %m");
                goto fail;
        }
        if (secure_lock_mapping(p, capacity) < 0) {
                munmap(p, capacity);
                close(fd);
                r = bus_error_setf(error, -ENOMEM,
                                   "cannot lock %zu bytes for the decrypted sample (--max-locked-memory or "
                                   "RLIMIT_MEMLOCK reached); the plaintext may not reach swap",
                                   capacity);
                goto fail;
        }
        d->sample_fd = fd;
        d->sample = p;
        d->sample_capacity = capacity;
        d->sample_fd_sent = false;
        return 0;

fail:
        client_uncharge(d->session->client, capacity);
        return r;
}

/* ---- talking to the helper ---- */

/* Every request carries the pool's size and the slots given back since the
 * last one. */
static int send_request(VideoDecoder *d, const DecoderRequest *req, const void *extra, size_t extra_size, int fd) {
        DecoderRequest full = *req;
        struct iovec iov[2] = {
                { .iov_base = &full, .iov_len = sizeof(full) },
                { .iov_base = (void *) extra, .iov_len = extra_size },
        };
        int r;

        full.pool_size = d->pool_size;
        full.released_slots = d->released_slots;
        r = decoder_send(d->process.sock, iov, extra_size > 0 ? 2 : 1, fd);
        if (r >= 0)
                d->released_slots = 0;
        return r;
}

/* Close the frames of an answer; the pool frames among them that did not
 * reach the client (sent false) go back to the helper with the next
 * request. */
static void frames_close(VideoDecoder *d, bool sent) {
        for (unsigned i = 0; i < d->n_frames; i++) {
                int32_t slot = d->frames[i].answer.slot;

                if (slot >= 0 && !sent) {
                        d->slots[slot].with_client = false;
                        d->released_slots |= 1u << slot;
                }
                close(d->frames[i].fd);
        }
        d->n_frames = 0;
}

static void reply_error(sd_bus_message *message, int r, const char *text) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        bus_error_setf(&error, r, "%s", text);
        (void) sd_bus_reply_method_error(message, &error);
}

static void stop_watching(VideoDecoder *d) {
        d->socket_source = sd_event_source_disable_unref(d->socket_source);
        d->pidfd_source = sd_event_source_disable_unref(d->pidfd_source);
        d->deadline = sd_event_source_disable_unref(d->deadline);
}

/* The helper is gone or is killed now: this decoder is dead. Answers the
 * waiting call with E_FAIL and why; a decoder still being created is freed. */
_printf_(2, 3) static void decoder_die(VideoDecoder *d, const char *fmt, ...) {
        char path[VIDEO_DECODER_PATH_MAX];
        sd_bus_message *pending;
        char why[200];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);

        video_decoder_path(d, path);
        snprintf(d->dead_reason, sizeof(d->dead_reason), "the decoder process (pid %i) %s", (int) d->process.pid,
                 why);
        log_notice("Decoder %s of %s: %s; the decoder is closed, others go on.", path,
                   d->session->client ? d->session->client->name : "?", d->dead_reason);
        d->dead = true;
        stop_watching(d);
        decoder_process_kill(manager_of(d), &d->process);
        frames_close(d, false);
        sample_buffer_free(d);

        pending = TAKE_PTR(d->pending);
        if (!pending) {
                /* It died between calls (it decodes while answers travel):
                 * the next call is the one that fails with the reason. */
                d->death_unreported = true;
                return;
        }
        if (d->pending_type == DECODER_REQUEST_INIT) {
                char text[400];

                snprintf(text, sizeof(text), "%s before it accepted the codec configuration", d->dead_reason);
                reply_error(pending, -EIO, text);
                sd_bus_message_unref(pending);
                video_decoder_free(d);
                return;
        }
        {
                char text[400];

                snprintf(text, sizeof(text), "%s while decoding; this decoder is closed, create a new one",
                         d->dead_reason);
                reply_error(pending, -EIO, text);
        }
        sd_bus_message_unref(pending);
}

static int append_frames(VideoDecoder *d, sd_bus_message *reply) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', FRAME_SIGNATURE);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < d->n_frames; i++) {
                const DecoderAnswer *a = &d->frames[i].answer;

                r = sd_bus_message_open_container(reply, 'r', "huuua(tu)x");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "huuu", d->frames[i].fd, a->format, a->width, a->height);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'a', "(tu)");
                if (r < 0)
                        return r;
                for (unsigned p = 0; p < a->plane_count; p++) {
                        r = sd_bus_message_append(reply, "(tu)", a->plane_offset[p], a->plane_pitch[p]);
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "x", a->pts);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* The helper said DONE: answer the waiting call. */
static void decoder_complete(VideoDecoder *d, const DecoderAnswer *done) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *pending = TAKE_PTR(d->pending), *reply = NULL;
        char path[VIDEO_DECODER_PATH_MAX];
        int r;

        (void) sd_event_source_set_enabled(d->deadline, SD_EVENT_OFF);
        /* The helper has its copy: ours goes now. */
        sample_wipe(d);
        if (!pending) {
                frames_close(d, false);
                return;
        }

        if (done->error < 0) {
                char text[DECODER_MESSAGE_SIZE + 64];
                int err = done->error;

                /* The helper's errno says what kind of failure it is; only
                 * the table's errnos leave keyd. */
                if (err != -EINVAL && err != -ENOMEM && err != -EPROTONOSUPPORT && err != -EBADRQC)
                        err = -EIO;
                frames_close(d, false);
                snprintf(text, sizeof(text), "the decoder: %.*s", (int) DECODER_MESSAGE_SIZE - 1, done->message);
                reply_error(pending, err, text);
                if (d->pending_type == DECODER_REQUEST_INIT)
                        video_decoder_free(d);
                return;
        }

        r = sd_bus_message_new_method_return(pending, &reply);
        if (r < 0)
                goto fail;
        switch (d->pending_type) {
        case DECODER_REQUEST_INIT:
                video_decoder_path(d, path);
                r = sd_bus_message_append(reply, "o", path);
                break;
        case DECODER_REQUEST_SAMPLE:
                r = append_frames(d, reply);
#ifdef KEYD_TEST_HOOKS
                /* A test hook's answer (e.g. the helper's open fds) rides in
                 * the log, never in a reply. */
                if (done->message[0])
                        log_info("Decoder test hook: %.*s", (int) DECODER_MESSAGE_SIZE - 1, done->message);
#endif
                break;
        case DECODER_REQUEST_DRAIN:
                r = append_frames(d, reply);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "b", (int) !done->more);
                break;
        case DECODER_REQUEST_FLUSH:
                r = 0;
                break;
        }
        if (r < 0)
                goto fail;
        r = sd_bus_send(NULL, reply, NULL);
        /* The reply holds its own fds now. When it could not be sent, its
         * pool frames go back to the helper. */
        frames_close(d, r >= 0);
        if (r < 0)
                log_debug_errno(r, "Failed to send a decoder reply: %m");
        return;

fail:
        frames_close(d, false);
        reply_error(pending, -EIO, "cannot build the reply with the decoded frames");
}

/* A FRAME from the helper: the helper is not trusted, so its memfd must be
 * as large as the layout it claims and sealed: for good (F_SEAL_WRITE), or,
 * for a pool slot, so that only the helper can write it
 * (F_SEAL_FUTURE_WRITE) and only a slot that is not with the client. */
static int check_frame(VideoDecoder *d, const DecoderAnswer *a, int fd, struct stat *ret_st) {
        uint64_t bps, rows_uv, end;
        struct stat st;
        int seals, want;

        if (fd < 0 || d->n_frames >= DECODER_MAX_FRAMES_PER_ANSWER || !d->pending)
                return -EBADMSG;
        /* A slot sent twice in one answer is caught here too: on_socket()
         * marks each one with the client as it arrives. */
        if (a->slot < -1 || a->slot >= (int32_t) DECODER_MAX_POOL_SLOTS ||
            (a->slot >= 0 && d->slots[a->slot].with_client))
                return -EBADMSG;
        if (a->format != KEYD_FORMAT_NV12 && a->format != KEYD_FORMAT_P010)
                return -EBADMSG;
        if (a->plane_count != 2 || a->width == 0 || a->height == 0 || a->width > d->width + 64 ||
            a->height > d->height + 64)
                return -EBADMSG;
        want = F_SEAL_SHRINK | F_SEAL_GROW | (a->slot < 0 ? F_SEAL_WRITE : F_SEAL_FUTURE_WRITE | F_SEAL_SEAL);
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || (seals & want) != want)
                return -EBADMSG;
        if (fstat(fd, &st) < 0 || (uint64_t) st.st_size != a->size)
                return -EBADMSG;
        *ret_st = st;
        bps = a->format == KEYD_FORMAT_P010 ? 2 : 1;
        rows_uv = (a->height + 1) / 2;
        if (a->plane_pitch[0] < a->width * bps || a->plane_pitch[1] < ((a->width + 1) / 2) * 2 * bps)
                return -EBADMSG;
        if (a->plane_offset[0] != 0 || a->plane_offset[1] < (uint64_t) a->plane_pitch[0] * a->height)
                return -EBADMSG;
        end = a->plane_offset[1] + (uint64_t) a->plane_pitch[1] * rows_uv;
        if (end > a->size)
                return -EBADMSG;
        return 0;
}

static int on_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VideoDecoder *d = userdata;

        for (;;) {
                union {
                        struct cmsghdr header;
                        uint8_t buf[CMSG_SPACE(sizeof(int) * 4)];
                } control = {};
                DecoderAnswer a;
                struct iovec iov = { .iov_base = &a, .iov_len = sizeof(a) };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof(control.buf) };
                int received_fd = -1, n_fds = 0;
                struct cmsghdr *c;
                ssize_t n;

                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return 0;
                if (n <= 0) {
                        /* The helper is going: its pidfd says how (on_pidfd). */
                        d->socket_source = sd_event_source_disable_unref(d->socket_source);
                        return 0;
                }
                for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                for (size_t i = 0; i < k; i++) {
                                        int f;
                                        memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                        if (n_fds++ == 0)
                                                received_fd = f;
                                        else
                                                close(f);
                                }
                        }
                if ((size_t) n != sizeof(a) || n_fds > 1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                        if (received_fd >= 0)
                                close(received_fd);
                        decoder_die(d, "sent keyd a malformed answer and was killed");
                        return 0;
                }

                if (a.type == DECODER_ANSWER_FRAME) {
                        struct stat st;

                        if (check_frame(d, &a, received_fd, &st) < 0) {
                                if (received_fd >= 0)
                                        close(received_fd);
                                decoder_die(d, "sent keyd a frame that is not a sealed memfd of the size it "
                                               "claims, or a pool frame the client still holds, and was killed");
                                return 0;
                        }
                        if (a.slot >= 0) {
                                d->slots[a.slot].dev = st.st_dev;
                                d->slots[a.slot].ino = st.st_ino;
                                d->slots[a.slot].with_client = true;
                        }
                        d->frames[d->n_frames++] = (DecoderFrame) { .fd = received_fd, .answer = a };
                } else if (a.type == DECODER_ANSWER_DONE && received_fd < 0 && d->pending) {
                        a.message[DECODER_MESSAGE_SIZE - 1] = '\0';
                        decoder_complete(d, &a);
                        return 0;  /* d may be gone (a failed INIT) */
                } else {
                        if (received_fd >= 0)
                                close(received_fd);
                        decoder_die(d, "answered what keyd did not ask, and was killed");
                        return 0;
                }
        }
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VideoDecoder *d = userdata;
        char how[160];

        if (decoder_process_reap(&d->process, how, sizeof(how)) < 0)
                snprintf(how, sizeof(how), "ended");
        decoder_die(d, "%s", how);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        VideoDecoder *d = userdata;
        uint64_t deadline = manager_of(d)->config.decoder_deadline_usec;

        if (d->pending_type == DECODER_REQUEST_INIT)
                deadline = MAX(deadline, DECODER_STARTUP_DEADLINE_USEC);
        decoder_die(d, "did not answer within its deadline of %" PRIu64 " ms and was killed", deadline / 1000u);
        return 0;
}

/* Send req and wait (in the event loop) for its DONE. */
static int decoder_start_request(VideoDecoder *d, sd_bus_message *message, const DecoderRequest *req,
                                 const void *extra, size_t extra_size, int fd, sd_bus_error *error) {
        Manager *m = manager_of(d);
        uint64_t deadline = m->config.decoder_deadline_usec;
        int r;

        /* Starting up (exec, sandbox, libavcodec's threads) is not a frame:
         * it gets the longer of the deadline and DECODER_STARTUP_DEADLINE_USEC. */
        deadline = req->type == DECODER_REQUEST_INIT ? MAX(deadline, DECODER_STARTUP_DEADLINE_USEC) : deadline;

        r = send_request(d, req, extra, extra_size, fd);
        if (r < 0) {
                decoder_die(d, "cannot be reached (%s) and was killed", strerror(-r));
                return bus_error_setf(error, -EIO, "%s; this decoder is closed, create a new one", d->dead_reason);
        }
        if (!d->deadline)
                r = sd_event_add_time_relative(m->event, &d->deadline, CLOCK_MONOTONIC, deadline, 0, on_deadline, d);
        else {
                r = sd_event_source_set_time_relative(d->deadline, deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->deadline, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                decoder_die(d, "could not be given a deadline and was killed");
                return bus_error_setf(error, r, "cannot arm the decoder's deadline timer");
        }
        d->pending = sd_bus_message_ref(message);
        d->pending_type = req->type;
        return 1;
}

/* ---- creation ---- */

static unsigned decoder_threads(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        if (n < 1)
                n = 1;
        return (unsigned) MIN(n, 16);
}

static int check_profile(Session *s, const char *profile, keyd_guid *ret_guid, DecoderCodec *ret_codec,
                         sd_bus_error *error) {
        Backend *b = s->manager->backend;
        const KnownGuid *known = NULL;
        int r;

        r = bus_parse_guid_arg("decoder_profile", profile, GUID_KIND_DECODER_PROFILE, false, &known, error);
        if (r < 0)
                return r;
        if (guid_equal(known->guid, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT))
                *ret_codec = DECODER_CODEC_H264;
        else if (guid_equal(known->guid, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN) ||
                 guid_equal(known->guid, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10))
                *ret_codec = DECODER_CODEC_HEVC;
        else
                return bus_error_setf(error, -EPROTONOSUPPORT,
                                      "keyd decodes D3D11_DECODER_PROFILE_H264_VLD_NOFGT, _HEVC_VLD_MAIN and "
                                      "_HEVC_VLD_MAIN10; %s is known but not decoded",
                                      known->name);
        if (!HAVE_DECODER)
                return bus_error_setf(error, -EPROTONOSUPPORT,
                                      "this keyd was built without decoding (meson -Ddecoder=disabled, or "
                                      "libavcodec, libavutil or libseccomp missing at build time)");
        if (b->ops->no_decode_reason)
                return bus_error_setf(error, -EPROTONOSUPPORT, "the %s backend cannot decode: %s", b->ops->name,
                                      b->ops->no_decode_reason);
        *ret_guid = *known->guid;
        return 0;
}

int video_decoder_create(Session *s, sd_bus_message *message, const char *profile, uint32_t width,
                         uint32_t height, const uint8_t *config, size_t config_size, sd_bus_error *error) {
        Manager *m = s->manager;
        Client *c = s->client;
        DecoderRequest req = { .type = DECODER_REQUEST_INIT };
        keyd_guid guid = {};
        DecoderCodec codec = DECODER_CODEC_H264;
        VideoDecoder *d;
        int r;

        r = check_profile(s, profile, &guid, &codec, error);
        if (r < 0)
                return r;
        if (!key_exchange_is_rsaes_oaep(s->key_exchange))
                return bus_error_setf(error, -EBADRQC,
                                      "CreateVideoDecoder needs a session with an RSAES-OAEP key exchange; "
                                      "this one uses D3D11_KEY_EXCHANGE_HW_PROTECTION");
        if (width == 0 || height == 0 || width > m->config.max_decoder_width || height > m->config.max_decoder_height)
                return bus_error_setf(error, -EINVAL,
                                      "the coded size is %" PRIu32 "x%" PRIu32 "; keyd decodes from 1x1 up to "
                                      "%ux%u (--max-decoder-size)",
                                      width, height, m->config.max_decoder_width, m->config.max_decoder_height);
        if (config_size > DECODER_MAX_CONFIG_SIZE)
                return bus_error_setf(error, -EINVAL,
                                      "config is %zu bytes; a codec configuration (avcC/hvcC) takes at most %u",
                                      config_size, DECODER_MAX_CONFIG_SIZE);
        if (c->n_decoders >= m->config.max_decoders_per_client)
                return bus_error_setf(error, -EUSERS,
                                      "this connection already has %u video decoders, the most keyd allows per "
                                      "client (--max-decoders-per-client); release one first",
                                      c->n_decoders);

        d = calloc(1, sizeof(*d));
        if (!d)
                return bus_error_setf(error, -ENOMEM, "out of memory for the decoder");
        d->session = s;
        d->profile = guid;
        d->codec = codec;
        d->width = width;
        d->height = height;
        d->sample_fd = -1;
        d->process = (DecoderProcess) { .pid = 0, .pidfd = -1, .sock = -1 };
        d->id = s->next_decoder_id++;
        LIST_PREPEND(decoder, s->decoders, d);
        c->n_decoders++;

        r = decoder_process_spawn(m->config.decoder_helper, m->config.decoder_memory_limit, &d->process);
        if (r < 0) {
                video_decoder_free(d);
                return bus_error_setf(error, -EIO, "cannot start the decoder process %s: %s",
                                      m->config.decoder_helper, strerror(-r));
        }
        r = sd_event_add_io(m->event, &d->socket_source, d->process.sock, EPOLLIN, on_socket, d);
        if (r >= 0)
                r = sd_event_add_io(m->event, &d->pidfd_source, d->process.pidfd, EPOLLIN, on_pidfd, d);
        if (r < 0) {
                video_decoder_free(d);
                return bus_error_setf(error, r, "cannot watch the decoder process: %s", strerror(-r));
        }

        req.codec = codec;
        req.width = width;
        req.height = height;
        req.threads = m->config.decoder_threads ?: decoder_threads();
        req.config_size = (uint32_t) config_size;
        r = decoder_start_request(d, message, &req, config, config_size, -1, error);
        if (r < 0) {
                video_decoder_free(d);
                return r;
        }
        log_debug("Decoder %" PRIu32 " of session %" PRIu64 ": helper pid %i.", d->id, s->id, (int) d->process.pid);
        return 1;
}

/* ---- the calls ---- */

static int require_usable(VideoDecoder *d, const char *method, sd_bus_error *error) {
        if (d->dead && d->death_unreported) {
                d->death_unreported = false;
                return bus_error_setf(error, -EIO, "%s: %s after the last call; this decoder is closed, create a "
                                      "new one",
                                      method, d->dead_reason);
        }
        if (d->dead)
                return bus_error_setf(error, -ENODEV, "%s: %s; this decoder is closed, create a new one", method,
                                      d->dead_reason);
        if (d->pending)
                return bus_error_setf(error, -EBADRQC,
                                      "%s while this decoder's previous call is still running; a decoder "
                                      "takes one call at a time",
                                      method);
        return 0;
}

/* The subsample map must cover the sample exactly (contract section 9). */
static int check_subsamples(const DecodeSampleArgs *a, sd_bus_error *error) {
        uint64_t total = 0;

        for (size_t i = 0; i < a->n_subsamples; i++)
                total += (uint64_t) a->subsamples[2 * i] + a->subsamples[2 * i + 1];
        if (a->n_subsamples > 0 && total != a->size)
                return bus_error_setf(error, -EINVAL,
                                      "the subsample map covers %" PRIu64 " bytes in %zu (clear, encrypted) "
                                      "pairs; the sample is %zu bytes, and the map must cover it exactly",
                                      total, a->n_subsamples, a->size);
        return 0;
}

int video_decoder_decode(VideoDecoder *d, sd_bus_message *message, const DecodeSampleArgs *args,
                         sd_bus_error *error) {
        Session *s = d->session;
        Backend *b = s->manager->backend;
        DecoderRequest req = { .type = DECODER_REQUEST_SAMPLE };
        uint8_t counter_block[AES_CTR_IV_SIZE] = {};
        int r, fd = -1;

        r = require_usable(d, "DecodeSample", error);
        if (r < 0)
                return r;
        if (args->size == 0)
                return bus_error_setf(error, -EINVAL, "the sample is empty; submit one access unit");
        if (args->size > s->manager->config.max_sample_size)
                return bus_error_setf(error, -EINVAL, "the sample is %zu bytes; keyd takes at most %" PRIu64
                                      " per sample (--max-sample-size)",
                                      args->size, s->manager->config.max_sample_size);
        if (args->iv_size != 0 && args->iv_size != 8 && args->iv_size != 16)
                return bus_error_setf(error, -EINVAL,
                                      "iv is %zu bytes; expected 8 (CENC's 8-byte IV, counter 0), 16 (a whole "
                                      "D3D11_AES_CTR_IV) or 0 for a sample in the clear",
                                      args->iv_size);
        if (args->content_key_size != 0 && args->content_key_size != AES_CTR_KEY_SIZE)
                return bus_error_setf(error, -EINVAL,
                                      "content_key is %zu bytes; expected 16 (the content key encrypted with "
                                      "the session key) or 0 for the session key",
                                      args->content_key_size);
        if (args->iv_size == 0 && (args->n_subsamples > 0 || args->content_key_size > 0))
                return bus_error_setf(error, -EINVAL,
                                      "a sample in the clear (no iv) takes no subsample map and no content key");
        r = check_subsamples(args, error);
        if (r < 0)
                return r;
        if (args->iv_size > 0) {
                if (!s->negotiated)
                        return bus_error_setf(error, -EBADRQC, "DecodeSample of an encrypted sample needs a session "
                                              "key; call NegotiateCryptoSessionKeyExchange first");
                if (s->status != KEYD_CRYPTO_SESSION_STATUS_OK)
                        return bus_error_setf(error, -EBADRQC,
                                              "DecodeSample: this session's key was lost (CheckCryptoSessionStatus "
                                              "reports %u); negotiate a new key",
                                              (unsigned) s->status);
        }

        r = sample_buffer_reserve(d, args->size, error);
        if (r < 0)
                return r;
        d->sample_used = args->size;
        if (args->iv_size == 0)
                memcpy(d->sample, args->data, args->size);
        else {
                memcpy(counter_block, args->iv, args->iv_size);
                r = b->ops->decrypt_sample(b, s, args->content_key_size ? args->content_key : NULL, counter_block,
                                           args->subsamples, args->n_subsamples, args->data, args->size, d->sample,
                                           error);
                secure_wipe(counter_block, sizeof(counter_block));
                if (r < 0) {
                        sample_wipe(d);
                        return r;
                }
        }

        req.sample_size = args->size;
        req.pts = args->pts;
        if (!d->sample_fd_sent) {
                fd = d->sample_fd;
                req.buffer_size = d->sample_capacity;
        }
        r = decoder_start_request(d, message, &req, NULL, 0, fd, error);
        if (r < 0) {
                sample_wipe(d);
                return r;
        }
        d->sample_fd_sent = true;
        return 1;
}

int video_decoder_drain(VideoDecoder *d, sd_bus_message *message, sd_bus_error *error) {
        DecoderRequest req = { .type = DECODER_REQUEST_DRAIN };
        int r;

        r = require_usable(d, "Drain", error);
        if (r < 0)
                return r;
        return decoder_start_request(d, message, &req, NULL, 0, -1, error);
}

int video_decoder_flush(VideoDecoder *d, sd_bus_message *message, sd_bus_error *error) {
        DecoderRequest req = { .type = DECODER_REQUEST_FLUSH };
        int r;

        r = require_usable(d, "Flush", error);
        if (r < 0)
                return r;
        return decoder_start_request(d, message, &req, NULL, 0, -1, error);
}

int video_decoder_set_frame_pool(VideoDecoder *d, uint32_t size, sd_bus_error *error) {
        if (size > DECODER_MAX_POOL_SLOTS)
                return bus_error_setf(error, -EINVAL,
                                      "a frame pool of %" PRIu32 " frames; keyd pools 0 (no pool) to %u frames",
                                      size, DECODER_MAX_POOL_SLOTS);
        if (d->dead)
                return require_usable(d, "SetFramePool", error);
        /* The helper hears of it with the next request; frames the client
         * holds stay valid and may still be given back. */
        d->pool_size = size;
        return 0;
}

int video_decoder_release_frames(VideoDecoder *d, const int *fds, size_t n_fds, sd_bus_error *error) {
        uint32_t slots = 0;

        /* All of them are checked before any is given back. */
        for (size_t i = 0; i < n_fds; i++) {
                struct stat st;
                unsigned k;

                if (fstat(fds[i], &st) < 0)
                        return bus_error_setf(error, -EINVAL, "frame %zu of %zu: cannot stat its fd: %m", i + 1,
                                              n_fds);
                for (k = 0; k < DECODER_MAX_POOL_SLOTS; k++)
                        if (d->slots[k].with_client && d->slots[k].dev == st.st_dev && d->slots[k].ino == st.st_ino)
                                break;
                if (k == DECODER_MAX_POOL_SLOTS)
                        return bus_error_setf(error, -EINVAL,
                                              "frame %zu of %zu is not a pool frame of this decoder that the "
                                              "client holds; give back only the memfds of frames that came "
                                              "sealed with F_SEAL_FUTURE_WRITE, each once",
                                              i + 1, n_fds);
                if (slots & (1u << k))
                        return bus_error_setf(error, -EINVAL, "frame %zu of %zu: the same frame is given back twice",
                                              i + 1, n_fds);
                slots |= 1u << k;
        }
        for (unsigned k = 0; k < DECODER_MAX_POOL_SLOTS; k++)
                if (slots & (1u << k))
                        d->slots[k].with_client = false;
        d->released_slots |= slots;
        return 0;
}

VideoDecoder *video_decoder_free(VideoDecoder *d) {
        sd_bus_message *pending;

        if (!d)
                return NULL;

        stop_watching(d);
        decoder_process_kill(manager_of(d), &d->process);
        pending = TAKE_PTR(d->pending);
        if (pending) {
                /* Close, or the session or client going, while a call waits. */
                if (d->pending_type != DECODER_REQUEST_INIT || d->session->client)
                        reply_error(pending, -ENODEV, "the decoder was closed while this call was running");
                sd_bus_message_unref(pending);
        }
        frames_close(d, false);
        sample_buffer_free(d);

        LIST_REMOVE(decoder, d->session->decoders, d);
        if (d->session->client)
                d->session->client->n_decoders--;
        free(d);
        return NULL;
}
