/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ID3D11VideoDecoder over keyd's VideoDecoder objects (LIBKEYD_0.2).
 * BeginFrame / SubmitDecoderBuffers1 only gather, in the library; EndFrame
 * sends each submitted sample to keyd (DecodeSample, or DecodeSampleFd
 * above KEYD_BLT_MEMFD_THRESHOLD) and queues the frames each reply
 * carries, so that a sample costs one round trip. GetFrame hands them out
 * in the order keyd sent them, which is output order.
 *
 * Frames come from a pool of KEYD_DECODER_DEFAULT_FRAME_POOL reusable
 * memfds unless the caller asks otherwise (keyd_decoder_set_frame_pool):
 * a frame in a memfd of its own costs its pages' allocation and freeing,
 * which for 1080p was a quarter of the decoding. Releasing a pool frame
 * gives its memfd back to keyd (ReleaseFrames, sent without waiting). */

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-internal.h"
#include "secure-memory.h"
#include "session-data.h"

#define KEYD_DECODER_INTERFACE "org.keyd.KeyBroker1.VideoDecoder"
#define KEYD_DECODER_DEFAULT_FRAME_POOL 8u

/* What keyd_video_frame_release() needs besides the caller's view: for a
 * pool frame, where to give it back. */
typedef struct Frame {
        keyd_video_frame pub;     /* first: the caller's pointer is to it */
        keyd_client *client;      /* pool frames only: holds a reference */
        char *owner, *path;
} Frame;

typedef struct SubmittedSample {
        uint8_t *data;
        size_t size;
        uint8_t iv[16];
        size_t iv_size;
        keyd_subsample_mapping_block *subsamples;
        uint32_t n_subsamples;
        int64_t pts;
} SubmittedSample;

struct keyd_video_decoder {
        keyd_client *client;      /* holds a reference */
        char *owner;
        char *path;
        uint8_t content_key[16];  /* as the caller wrapped it */
        uint32_t content_key_size;
        bool in_frame;            /* between BeginFrame and EndFrame */
        SubmittedSample *samples;
        size_t n_samples;
        keyd_video_frame **queue; /* ring of ready frames */
        size_t queue_head, queue_len, queue_size;
};

/* ---- frames ---- */

/* Give a pool frame's memfd back to keyd, without waiting for an answer:
 * keyd checks it is one of the decoder's pool frames this connection holds
 * and reuses it from the next sample on. */
static void frame_give_back(Frame *f) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!f->client->bus)
                return;  /* closed: keyd closed the decoder with the connection */
        r = keyd_client_new_call(f->client, &m, f->owner, f->path, KEYD_DECODER_INTERFACE, "ReleaseFrames");
        if (r >= 0)
                r = sd_bus_message_append(m, "ah", 1, f->pub.Fd);
        if (r >= 0)
                r = sd_bus_message_set_expect_reply(m, 0);
        if (r >= 0)
                r = sd_bus_send(f->client->bus, m, NULL);
        /* Not given back, the memfd is only lost to the pool: keyd falls back
         * to a memfd per frame. */
        (void) r;
}

/* locked: the caller holds the client's lock (the library's own frees). */
static void frame_free(keyd_video_frame *frame, bool locked) {
        Frame *f = (Frame *) frame;

        if (!frame)
                return;
        /* Unmapped before it is given back: keyd writes the next frame into it. */
        if (frame->pData)
                munmap((void *) frame->pData, frame->DataSize);
        if (f->client && frame->Fd >= 0) {
                if (locked)
                        frame_give_back(f);
                else {
                        KEYD_CLIENT_LOCK_GUARD(f->client);
                        frame_give_back(f);
                }
        }
        if (frame->Fd >= 0)
                close(frame->Fd);
        if (f->client)
                keyd_client_unref(f->client);
        free(f->owner);
        free(f->path);
        free(f);
}

_public_ keyd_video_frame *keyd_video_frame_release(keyd_video_frame *frame) {
        frame_free(frame, false);
        return NULL;
}

static int queue_push(keyd_video_decoder *d, keyd_video_frame *f) {
        if (d->queue_len == d->queue_size) {
                size_t k = d->queue_size ? d->queue_size * 2 : 16;
                keyd_video_frame **q = calloc(k, sizeof(*q));

                if (!q)
                        return -ENOMEM;
                for (size_t i = 0; i < d->queue_len; i++)
                        q[i] = d->queue[(d->queue_head + i) % d->queue_size];
                free(d->queue);
                d->queue = q;
                d->queue_head = 0;
                d->queue_size = k;
        }
        d->queue[(d->queue_head + d->queue_len) % d->queue_size] = f;
        d->queue_len++;
        return 0;
}

static keyd_video_frame *queue_pop(keyd_video_decoder *d) {
        keyd_video_frame *f;

        if (d->queue_len == 0)
                return NULL;
        f = d->queue[d->queue_head];
        d->queue_head = (d->queue_head + 1) % d->queue_size;
        d->queue_len--;
        return f;
}

static void queue_clear(keyd_video_decoder *d) {
        keyd_video_frame *f;

        while ((f = queue_pop(d)))
                frame_free(f, true);
}

static void samples_clear(keyd_video_decoder *d) {
        for (size_t i = 0; i < d->n_samples; i++) {
                free(d->samples[i].data);
                free(d->samples[i].subsamples);
        }
        free(d->samples);
        d->samples = NULL;
        d->n_samples = 0;
}

/* One "(huuua(tu)x)" of a reply into a mapped frame. */
static HRESULT read_frame(keyd_video_decoder *d, sd_bus_message *reply, const char *method,
                          keyd_video_frame **ret) {
        keyd_video_frame *f;
        Frame *frame;
        uint32_t pitch;
        uint64_t offset;
        struct stat st;
        void *p;
        int fd, r, seals;

        frame = calloc(1, sizeof(*frame));
        if (!frame)
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: out of memory for a frame", method);
        f = &frame->pub;
        f->Fd = -1;
        r = sd_bus_message_read(reply, "huuu", &fd, &f->Format, &f->Width, &f->Height);
        if (r <= 0)
                goto bad;
        r = sd_bus_message_enter_container(reply, 'a', "(tu)");
        if (r <= 0)
                goto bad;
        while ((r = sd_bus_message_read(reply, "(tu)", &offset, &pitch)) > 0) {
                if (f->PlaneCount >= 4) {
                        r = -EBADMSG;
                        goto bad;
                }
                f->PlaneOffset[f->PlaneCount] = offset;
                f->PlanePitch[f->PlaneCount] = pitch;
                f->PlaneCount++;
        }
        if (r < 0)
                goto bad;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                goto bad;
        r = sd_bus_message_read(reply, "x", &f->Pts);
        if (r <= 0)
                goto bad;

        /* The message keeps its own fd; the frame gets one of its own. */
        f->Fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (f->Fd < 0 || fstat(f->Fd, &st) < 0) {
                frame_free(f, true);
                return keyd_set_last_error(KEYD_E_FAIL, "%s: cannot take the frame's memfd: %m", method);
        }
        f->DataSize = (uint64_t) st.st_size;
        /* A frame sealed for good is the caller's; one that keyd can still
         * write (F_SEAL_FUTURE_WRITE) is a pool frame, given back on release. */
        seals = fcntl(f->Fd, F_GET_SEALS);
        if (seals >= 0 && !(seals & F_SEAL_WRITE) && (seals & F_SEAL_FUTURE_WRITE)) {
                frame->owner = strdup(d->owner);
                frame->path = strdup(d->path);
                if (!frame->owner || !frame->path) {
                        frame_free(f, true);
                        return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: out of memory for a frame", method);
                }
                frame->client = keyd_client_ref(d->client);
        }
        p = mmap(NULL, f->DataSize, PROT_READ, MAP_SHARED, f->Fd, 0);
        if (p == MAP_FAILED) {
                frame_free(f, true);
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: cannot map the frame's memfd: %m", method);
        }
        f->pData = p;
        *ret = f;
        return KEYD_S_OK;

bad:
        frame_free(f, true);
        return keyd_fail_reply(method, r ?: -EBADMSG);
}

static HRESULT queue_frames(keyd_video_decoder *d, sd_bus_message *reply, const char *method) {
        HRESULT hr;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(huuua(tu)x)");
        if (r <= 0)
                return keyd_fail_reply(method, r ?: -EBADMSG);
        for (;;) {
                keyd_video_frame *f = NULL;

                r = sd_bus_message_enter_container(reply, 'r', "huuua(tu)x");
                if (r < 0)
                        return keyd_fail_reply(method, r);
                if (r == 0)
                        break;
                hr = read_frame(d, reply, method, &f);
                if (KEYD_FAILED(hr))
                        return hr;
                if (queue_push(d, f) < 0) {
                        frame_free(f, true);
                        return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: out of memory for the frame queue",
                                                   method);
                }
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return keyd_fail_reply(method, r);
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return keyd_fail_reply(method, r);
        return KEYD_S_OK;
}

/* ---- calls on the decoder object ---- */

static HRESULT decoder_check(keyd_video_decoder *d, const char *method) {
        if (!d)
                return keyd_fail_null(method, "the decoder");
        if (!d->client->bus)
                return keyd_set_last_error(KEYD_DXGI_ERROR_DEVICE_REMOVED,
                                           "%s: the decoder's keyd_client was closed, and keyd closed the decoder "
                                           "with its connection",
                                           method);
        return KEYD_S_OK;
}

static int decoder_new_call(keyd_video_decoder *d, sd_bus_message **ret, const char *member) {
        return keyd_client_new_call(d->client, ret, d->owner, d->path, KEYD_DECODER_INTERFACE, member);
}

static HRESULT decoder_send(keyd_video_decoder *d, sd_bus_message *m, sd_bus_message **ret_reply,
                            const char *method) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = keyd_client_call(d->client, m, ret_reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, &error, method);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_create_video_decoder(keyd_crypto_session *session, const keyd_guid *pDecoderProfile,
                                           uint32_t SampleWidth, uint32_t SampleHeight, uint32_t ConfigSize,
                                           const void *pConfig, keyd_video_decoder **ppDecoder) {
        static const char method[] = "CreateVideoDecoder";
        char profile[KEYD_GUID_STRING_SIZE];
        keyd_video_decoder *d;
        const char *path;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (ppDecoder)
                *ppDecoder = NULL;
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pDecoderProfile)
                return keyd_fail_null(method, "pDecoderProfile");
        if (!ppDecoder)
                return keyd_fail_null(method, "ppDecoder");
        if (ConfigSize > 0 && !pConfig)
                return keyd_fail_null(method, "pConfig");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        hr = keyd_session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        keyd_guid_to_wire(pDecoderProfile, profile);
        r = keyd_session_new_call(session, &m, method);
        if (r >= 0)
                r = sd_bus_message_append(m, "suu", profile, SampleWidth, SampleHeight);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', pConfig, ConfigSize);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        hr = keyd_session_send(session, m, &reply, method);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read(reply, method, "o", &path);
        if (KEYD_FAILED(hr))
                return hr;

        d = calloc(1, sizeof(*d));
        if (!d || !(d->path = strdup(path)) || !(d->owner = strdup(session->owner))) {
                if (d) {
                        free(d->path);
                        free(d);
                }
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: out of memory", method);
        }
        d->client = keyd_client_ref(session->client);

        /* The default pool. A keyd without one (UnknownMethod) sends every
         * frame in a memfd of its own, which works the same, slower. */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *pm = NULL;

                r = decoder_new_call(d, &pm, "SetFramePool");
                if (r >= 0)
                        r = sd_bus_message_append(pm, "u", KEYD_DECODER_DEFAULT_FRAME_POOL);
                if (r >= 0)
                        (void) keyd_client_call(d->client, pm, NULL, NULL);
        }
        *ppDecoder = d;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_decoder_set_frame_pool(keyd_video_decoder *decoder, uint32_t FrameCount) {
        static const char method[] = "SetFramePool";
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        hr = decoder_check(decoder, method);
        if (KEYD_FAILED(hr))
                return hr;

        KEYD_CLIENT_LOCK_GUARD(decoder->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = decoder_new_call(decoder, &m, method);
        if (r >= 0)
                r = sd_bus_message_append(m, "u", FrameCount);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        return decoder_send(decoder, m, &reply, method);
}

_public_ HRESULT keyd_decoder_begin_frame(keyd_video_decoder *decoder, uint32_t ContentKeySize,
                                          const void *pContentKey) {
        static const char method[] = "DecoderBeginFrame";

        keyd_clear_last_error();
        if (!decoder)
                return keyd_fail_null(method, "the decoder");
        if (ContentKeySize != 0 && ContentKeySize != 16)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: ContentKeySize is %" PRIu32 "; expected 16 (the content key "
                                           "encrypted with the session key) or 0 for the session key",
                                           method, ContentKeySize);
        if (ContentKeySize > 0 && !pContentKey)
                return keyd_fail_null(method, "pContentKey");

        KEYD_CLIENT_LOCK_GUARD(decoder->client);
        samples_clear(decoder);
        secure_wipe(decoder->content_key, sizeof(decoder->content_key));
        if (ContentKeySize > 0)
                memcpy(decoder->content_key, pContentKey, ContentKeySize);
        decoder->content_key_size = ContentKeySize;
        decoder->in_frame = true;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_decoder_submit_buffer(keyd_video_decoder *decoder, uint32_t DataSize, const void *pData,
                                            uint32_t IVSize, const void *pIV, uint32_t SubSampleCount,
                                            const keyd_subsample_mapping_block *pSubSamples, int64_t Pts) {
        static const char method[] = "SubmitDecoderBuffers1";
        SubmittedSample *s, *samples;

        keyd_clear_last_error();
        if (!decoder)
                return keyd_fail_null(method, "the decoder");
        if (DataSize > 0 && !pData)
                return keyd_fail_null(method, "pData");
        if (IVSize > 0 && !pIV)
                return keyd_fail_null(method, "pIV");
        if (SubSampleCount > 0 && !pSubSamples)
                return keyd_fail_null(method, "pSubSamples");
        /* Sizes keyd checks too; said here before anything is copied. */
        if (IVSize != 0 && IVSize != 8 && IVSize != 16)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: IVSize is %" PRIu32 "; expected 8, 16 (D3D11_AES_CTR_IV) or 0 for "
                                           "a sample in the clear",
                                           method, IVSize);

        KEYD_CLIENT_LOCK_GUARD(decoder->client);
        if (!decoder->in_frame)
                return keyd_set_last_error(KEYD_DXGI_ERROR_INVALID_CALL,
                                           "%s outside DecoderBeginFrame/DecoderEndFrame; call "
                                           "keyd_decoder_begin_frame() first",
                                           method);
        samples = reallocarray(decoder->samples, decoder->n_samples + 1, sizeof(*samples));
        if (!samples)
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: out of memory", method);
        decoder->samples = samples;
        s = &samples[decoder->n_samples];
        *s = (SubmittedSample) { .size = DataSize, .iv_size = IVSize, .n_subsamples = SubSampleCount, .pts = Pts };
        s->data = malloc(DataSize ?: 1);
        s->subsamples = SubSampleCount ? calloc(SubSampleCount, sizeof(*pSubSamples)) : NULL;
        if (!s->data || (SubSampleCount && !s->subsamples)) {
                free(s->data);
                free(s->subsamples);
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: out of memory for a copy of the sample", method);
        }
        if (DataSize)
                memcpy(s->data, pData, DataSize);
        if (SubSampleCount)
                memcpy(s->subsamples, pSubSamples, SubSampleCount * sizeof(*pSubSamples));
        if (IVSize)
                memcpy(s->iv, pIV, IVSize);
        decoder->n_samples++;
        return KEYD_S_OK;
}

static HRESULT decode_one(keyd_video_decoder *d, const SubmittedSample *s) {
        static const char method[] = "DecoderEndFrame";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(closep) int fd = -1;
        bool via_memfd = s->size > KEYD_BLT_MEMFD_THRESHOLD && sd_bus_can_send(d->client->bus, SD_BUS_TYPE_UNIX_FD) > 0;
        HRESULT hr;
        int r;

        r = decoder_new_call(d, &m, via_memfd ? "DecodeSampleFd" : "DecodeSample");
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        if (via_memfd) {
                fd = memfd_new_sealed(s->data, s->size);
                if (fd < 0)
                        return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: cannot put %zu bytes into a sealed memfd: %s",
                                                   method, s->size, strerror(-fd));
                r = sd_bus_message_append(m, "h", fd);
        } else
                r = sd_bus_message_append_array(m, 'y', s->data, s->size);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(uu)");
        for (uint32_t i = 0; r >= 0 && i < s->n_subsamples; i++)
                r = sd_bus_message_append(m, "(uu)", s->subsamples[i].ClearSize, s->subsamples[i].EncryptedSize);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', s->iv, s->iv_size);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', d->content_key, d->content_key_size);
        if (r >= 0)
                r = sd_bus_message_append(m, "x", s->pts);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        (void) sd_bus_message_sensitive(m);

        hr = decoder_send(d, m, &reply, method);
        if (KEYD_FAILED(hr))
                return hr;
        return queue_frames(d, reply, method);
}

_public_ HRESULT keyd_decoder_end_frame(keyd_video_decoder *decoder) {
        static const char method[] = "DecoderEndFrame";
        HRESULT hr = KEYD_S_OK;

        keyd_clear_last_error();
        hr = decoder_check(decoder, method);
        if (KEYD_FAILED(hr))
                return hr;

        KEYD_CLIENT_LOCK_GUARD(decoder->client);
        if (!decoder->in_frame)
                return keyd_set_last_error(KEYD_DXGI_ERROR_INVALID_CALL,
                                           "%s without DecoderBeginFrame; call keyd_decoder_begin_frame() first",
                                           method);
        for (size_t i = 0; i < decoder->n_samples && KEYD_SUCCEEDED(hr); i++)
                hr = decode_one(decoder, &decoder->samples[i]);
        samples_clear(decoder);
        secure_wipe(decoder->content_key, sizeof(decoder->content_key));
        decoder->content_key_size = 0;
        decoder->in_frame = false;
        return hr;
}

_public_ HRESULT keyd_decoder_drain(keyd_video_decoder *decoder) {
        static const char method[] = "Drain";
        HRESULT hr;

        keyd_clear_last_error();
        hr = decoder_check(decoder, method);
        if (KEYD_FAILED(hr))
                return hr;

        KEYD_CLIENT_LOCK_GUARD(decoder->client);
        /* keyd hands out a few frames per reply: ask until it says done. */
        for (;;) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
                int done, r;

                r = decoder_new_call(decoder, &m, method);
                if (r < 0)
                        return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
                hr = decoder_send(decoder, m, &reply, method);
                if (KEYD_FAILED(hr))
                        return hr;
                hr = queue_frames(decoder, reply, method);
                if (KEYD_FAILED(hr))
                        return hr;
                hr = keyd_reply_read(reply, method, "b", &done);
                if (KEYD_FAILED(hr))
                        return hr;
                if (done)
                        return KEYD_S_OK;
        }
}

_public_ HRESULT keyd_decoder_flush(keyd_video_decoder *decoder) {
        static const char method[] = "Flush";
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        hr = decoder_check(decoder, method);
        if (KEYD_FAILED(hr))
                return hr;

        KEYD_CLIENT_LOCK_GUARD(decoder->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        queue_clear(decoder);
        samples_clear(decoder);
        decoder->in_frame = false;
        r = decoder_new_call(decoder, &m, method);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        return decoder_send(decoder, m, &reply, method);
}

_public_ HRESULT keyd_decoder_get_frame(keyd_video_decoder *decoder, keyd_video_frame **ppFrame) {
        static const char method[] = "GetFrame";

        keyd_clear_last_error();
        if (ppFrame)
                *ppFrame = NULL;
        if (!decoder)
                return keyd_fail_null(method, "the decoder");
        if (!ppFrame)
                return keyd_fail_null(method, "ppFrame");

        KEYD_CLIENT_LOCK_GUARD(decoder->client);
        *ppFrame = queue_pop(decoder);
        return *ppFrame ? KEYD_S_OK : KEYD_S_FALSE;
}

_public_ keyd_video_decoder *keyd_video_decoder_release(keyd_video_decoder *decoder) {
        keyd_client *client;

        if (!decoder)
                return NULL;
        client = decoder->client;
        pthread_mutex_lock(&client->lock);
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                if (decoder_new_call(decoder, &m, "Close") >= 0)
                        (void) keyd_client_call(client, m, NULL, NULL);
        }
        queue_clear(decoder);
        samples_clear(decoder);
        pthread_mutex_unlock(&client->lock);

        secure_wipe(decoder->content_key, sizeof(decoder->content_key));
        free(decoder->queue);
        free(decoder->path);
        free(decoder->owner);
        free(decoder);
        keyd_client_unref(client);
        return NULL;
}
