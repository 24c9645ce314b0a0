/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.keyd.KeyBroker1.VideoDecoder on
 * /org/keyd/KeyBroker1/session/<id>/decoder/<n>, and the session's
 * CreateVideoDecoder. As for sessions: one fallback vtable, a find callback,
 * a node enumerator; properties readable by anyone, every method checks
 * the caller owns the decoder first. Methods that need the helper do not
 * reply here: daemon/decode/video-decoder.c replies when the helper
 * answered (or failed). */

#include <inttypes.h>

#include "bus-error.h"
#include "bus-guid.h"
#include "bus-objects.h"
#include "decode/video-decoder.h"
#include "manager.h"
#include "memfd.h"
#include "secure-memory.h"
#include "session/session.h"

#define KEYD_DECODER_INTERFACE "org.keyd.KeyBroker1.VideoDecoder"
#define FRAMES_SIGNATURE "a(huuua(tu)x)"

int method_create_video_decoder(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        const char *profile;
        uint32_t width, height;
        const void *config;
        size_t config_size;
        int r;

        r = sd_bus_message_read(message, "suu", &profile, &width, &height);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &config, &config_size);
        if (r < 0)
                return r;
        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        return video_decoder_create(s, message, profile, width, height, config, config_size, error);
}

/* The subsample pairs, in a malloc'd array of 2n uint32_t. */
static int read_subsamples(sd_bus_message *message, uint32_t **ret, size_t *ret_n) {
        _cleanup_free_ uint32_t *pairs = NULL;
        size_t n = 0, allocated = 0;
        uint32_t clear, encrypted;
        int r;

        r = sd_bus_message_enter_container(message, 'a', "(uu)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(message, "(uu)", &clear, &encrypted)) > 0) {
                if (n == allocated) {
                        uint32_t *p;

                        allocated = allocated ? allocated * 2 : 16;
                        if (allocated > 1u << 20)
                                return -E2BIG;
                        p = reallocarray(pairs, allocated, 2 * sizeof(uint32_t));
                        if (!p)
                                return -ENOMEM;
                        pairs = p;
                }
                pairs[2 * n] = clear;
                pairs[2 * n + 1] = encrypted;
                n++;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pairs);
        *ret_n = n;
        return 0;
}

/* What both DecodeSample forms take after the data: the subsamples (kept in
 * *ret_subsamples, which args->subsamples points into), the IV, the wrapped
 * content key and the pts. */
static int read_sample_args(sd_bus_message *message, DecodeSampleArgs *args, uint32_t **ret_subsamples) {
        const void *p;
        int r;

        r = read_subsamples(message, ret_subsamples, &args->n_subsamples);
        if (r < 0)
                return r;
        args->subsamples = *ret_subsamples;
        r = sd_bus_message_read_array(message, 'y', &p, &args->iv_size);
        if (r < 0)
                return r;
        args->iv = p;
        r = sd_bus_message_read_array(message, 'y', &p, &args->content_key_size);
        if (r < 0)
                return r;
        args->content_key = p;
        return sd_bus_message_read(message, "x", &args->pts);
}

static int method_decode_sample(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        DecodeSampleArgs args = {};
        _cleanup_free_ uint32_t *subsamples = NULL;
        const void *data;
        int r;

        r = sd_bus_message_read_array(message, 'y', &data, &args.size);
        if (r < 0)
                return r;
        args.data = data;
        r = read_sample_args(message, &args, &subsamples);
        if (r < 0)
                return r;

        r = video_decoder_check_owner(d, message, error);
        if (r < 0)
                return r;
        if (args.size > KEYD_AY_MAX)
                return bus_error_setf(error, -EINVAL,
                                      "data is %zu bytes; an ay argument takes at most %u, use DecodeSampleFd "
                                      "with a sealed memfd",
                                      args.size, KEYD_AY_MAX);
        return video_decoder_decode(d, message, &args, error);
}

static int method_decode_sample_fd(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        DecodeSampleArgs args = {};
        _cleanup_free_ uint32_t *subsamples = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int fd, r;

        r = sd_bus_message_read(message, "h", &fd);
        if (r < 0)
                return r;
        r = read_sample_args(message, &args, &subsamples);
        if (r < 0)
                return r;

        r = video_decoder_check_owner(d, message, error);
        if (r < 0)
                return r;
        r = memfd_check_sealed(fd, d->session->manager->config.max_sample_size, "data", &size, error);
        if (r < 0)
                return r;
        /* Read, not mapped: see memfd.h. The sample is still encrypted here
         * (what is in the clear of it is the client's own business). */
        data = malloc(size ?: 1);
        if (!data)
                return bus_error_setf(error, -ENOMEM, "out of memory for a %zu-byte sample", size);
        r = memfd_read_at(fd, data, size, 0);
        if (r < 0)
                return bus_error_setf(error, r, "cannot read the sample's memfd: %s", strerror(-r));
        args.data = data;
        args.size = size;
        return video_decoder_decode(d, message, &args, error);
}

static int method_drain(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        int r;

        r = video_decoder_check_owner(d, message, error);
        if (r < 0)
                return r;
        return video_decoder_drain(d, message, error);
}

static int method_flush(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        int r;

        r = video_decoder_check_owner(d, message, error);
        if (r < 0)
                return r;
        return video_decoder_flush(d, message, error);
}

static int method_set_frame_pool(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        uint32_t size;
        int r;

        r = sd_bus_message_read(message, "u", &size);
        if (r < 0)
                return r;
        r = video_decoder_check_owner(d, message, error);
        if (r < 0)
                return r;
        r = video_decoder_set_frame_pool(d, size, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_release_frames(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        int fds[DECODER_MAX_POOL_SLOTS], fd;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(message, 'a', "h");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(message, "h", &fd)) > 0) {
                if (n == DECODER_MAX_POOL_SLOTS)
                        return bus_error_setf(error, -EINVAL,
                                              "more than %u frames given back; a decoder's pool holds at most %u",
                                              DECODER_MAX_POOL_SLOTS, DECODER_MAX_POOL_SLOTS);
                fds[n++] = fd;
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(message);
        if (r < 0)
                return r;
        r = video_decoder_check_owner(d, message, error);
        if (r < 0)
                return r;
        r = video_decoder_release_frames(d, fds, n, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_close(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        int r;

        r = video_decoder_check_owner(d, message, error);
        if (r < 0)
                return r;
        video_decoder_free(d);
        return sd_bus_reply_method_return(message, NULL);
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        VideoDecoder *d = userdata;
        char spath[SESSION_PATH_MAX];

        if (streq(property, "Profile"))
                return bus_append_guid(reply, &d->profile);
        if (streq(property, "Width"))
                return sd_bus_message_append(reply, "u", d->width);
        if (streq(property, "Height"))
                return sd_bus_message_append(reply, "u", d->height);
        if (streq(property, "HelperPID"))
                return sd_bus_message_append(reply, "u", (uint32_t) (d->dead ? 0 : d->process.pid));
        if (streq(property, "Failure"))
                return sd_bus_message_append(reply, "s", d->dead ? d->dead_reason : "");
        session_path(d->session, spath);
        return sd_bus_message_append(reply, "o", spath);
}

static const sd_bus_vtable decoder_vtable[] = {
        SD_BUS_VTABLE_START(SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_PROPERTY("Profile", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Width", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Height", "u", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Session", "o", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("HelperPID", "u", property_get, 0, 0),
        SD_BUS_PROPERTY("Failure", "s", property_get, 0, 0),

        /* SENSITIVE: sd-bus wipes these messages (the wrapped content key,
         * and for DecodeSample the ciphertext) when it frees them. */
        SD_BUS_METHOD_WITH_ARGS("DecodeSample",
                                SD_BUS_ARGS("ay", data, "a(uu)", subsamples, "ay", iv, "ay", content_key, "x", pts),
                                SD_BUS_RESULT(FRAMES_SIGNATURE, frames), method_decode_sample,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("DecodeSampleFd",
                                SD_BUS_ARGS("h", data, "a(uu)", subsamples, "ay", iv, "ay", content_key, "x", pts),
                                SD_BUS_RESULT(FRAMES_SIGNATURE, frames), method_decode_sample_fd,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("Drain", SD_BUS_NO_ARGS, SD_BUS_RESULT(FRAMES_SIGNATURE, frames, "b", done),
                                method_drain, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Flush", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_flush, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetFramePool", SD_BUS_ARGS("u", frames), SD_BUS_NO_RESULT, method_set_frame_pool,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseFrames", SD_BUS_ARGS("ah", frames), SD_BUS_NO_RESULT,
                                method_release_frames, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Close", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_close, SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_VTABLE_END
};

static int decoder_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                               void **found, sd_bus_error *error) {
        VideoDecoder *d = video_decoder_from_path(userdata, path);

        if (!d)
                return 0;
        *found = d;
        return 1;
}

typedef struct DecoderNodes {
        char **nodes;
        size_t n, allocated;
        int error;
} DecoderNodes;

static void add_decoder_nodes(Session *s, void *userdata) {
        DecoderNodes *l = userdata;

        LIST_FOREACH(decoder, d, s->decoders) {
                char path[VIDEO_DECODER_PATH_MAX];

                if (l->error < 0)
                        return;
                if (l->n + 1 >= l->allocated) {
                        size_t k = l->allocated ? l->allocated * 2 : 16;
                        char **p = reallocarray(l->nodes, k, sizeof(char *));

                        if (!p) {
                                l->error = -ENOMEM;
                                return;
                        }
                        l->nodes = p;
                        l->allocated = k;
                }
                video_decoder_path(d, path);
                l->nodes[l->n] = strdup(path);
                if (!l->nodes[l->n]) {
                        l->error = -ENOMEM;
                        return;
                }
                l->nodes[++l->n] = NULL;
        }
}

static int decoder_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                   sd_bus_error *error) {
        Manager *m = userdata;
        DecoderNodes l = {};

        session_table_foreach(&m->sessions, add_decoder_nodes, &l);
        if (l.error < 0) {
                for (size_t i = 0; i < l.n; i++)
                        free(l.nodes[i]);
                free(l.nodes);
                return l.error;
        }
        if (!l.nodes) {
                l.nodes = calloc(1, sizeof(char *));
                if (!l.nodes)
                        return -ENOMEM;
        }
        *nodes = l.nodes;
        return 0;
}

int decoder_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, &m->decoder_vtable_slot, KEYD_SESSION_PATH_PREFIX,
                                       KEYD_DECODER_INTERFACE, decoder_vtable, decoder_object_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, &m->decoder_enumerator_slot, KEYD_SESSION_PATH_PREFIX,
                                          decoder_node_enumerator, m);
}
