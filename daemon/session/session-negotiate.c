/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <stdlib.h>

#include "bus/bus-error.h"
#include "bus/bus-reply.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "secure-memory.h"
#include "session-negotiate.h"
#include "session.h"
#include "work/worker-pool.h"

typedef struct NegotiateJob {
        WorkerJob job;
        Manager *manager;
        sd_bus_message *message;     /* holds data alive; wiped when freed (SENSITIVE) */
        const uint8_t *data;
        size_t size;
        uint64_t session_id;
        uint64_t seq;
        KeyExchange key_exchange;
        uint8_t *key;                /* secure memory */
        int result;
} NegotiateJob;

static const char *oaep_name(KeyExchange k) {
        switch (k) {
        case KEY_EXCHANGE_RSAES_OAEP_SHA256:
                return "SHA-256 (MGF1-SHA-256)";
        case KEY_EXCHANGE_RSAES_OAEP_SHA1:
                return "SHA-1 (MGF1-SHA-1)";
        default:
                return "SHA-512 (MGF1-SHA-512)";
        }
}

int session_key_exchange_failed(Session *s, int r, sd_bus_error *error) {
        if (r == -ENOMEM)
                return bus_error_setf(error, r,
                                      "keyd is out of locked memory for the RSA operation of the key exchange "
                                      "(--max-locked-memory is taken by surfaces); try again once surfaces "
                                      "are destroyed");

        return bus_error_setf(error, -EINVAL,
                              "the key exchange data does not decrypt to a 16-byte AES-128 session key; wrap "
                              "the key with RSAES-OAEP-%s to this session's certificate",
                              oaep_name(s->key_exchange));
}

static void negotiation_succeeded(Session *s, uint64_t seq) {
        /* A new key ends any refresh in flight and any earlier key loss. */
        s->refresh_timer = sd_event_source_disable_unref(s->refresh_timer);
        s->negotiated = true;
        s->status = KEYD_CRYPTO_SESSION_STATUS_OK;
        s->negotiation_installed = seq;
        log_debug("Session %" PRIu64 ": key exchange succeeded.", s->id);
}

static void negotiate_job_run(WorkerJob *job) {
        NegotiateJob *j = (NegotiateJob *) job;
        Backend *b = j->manager->backend;

        /* The bignum reserve first: an RSA operation must never find it empty. */
        j->result = secure_memory_refill();
        if (j->result < 0)
                return;
        j->result = b->ops->unwrap_key(b, j->key_exchange, j->data, j->size, j->key);
}

/* Reply to the caller once the worker is done; the session may be gone. */
static int negotiate_job_finish(NegotiateJob *j, bool cancelled, sd_bus_error *error) {
        Backend *b = j->manager->backend;
        Session *s;
        int r;

        s = session_table_get(&j->manager->sessions, j->session_id);
        if (cancelled || !s)
                return bus_error_setf(error, -ENODEV,
                                      "session %" PRIu64 " was closed while its key exchange was running",
                                      j->session_id);
        if (j->result < 0)
                return session_key_exchange_failed(s, j->result, error);

        /* Serial semantics: the key of the latest call wins, whatever order the workers finish in. */
        if (j->seq > s->negotiation_installed) {
                r = b->ops->install_key(b, s, j->key, error);
                if (r < 0)
                        return r;
                negotiation_succeeded(s, j->seq);
        }
        return 0;
}

static void negotiate_job_complete(WorkerJob *job, bool cancelled) {
        NegotiateJob *j = (NegotiateJob *) job;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = negotiate_job_finish(j, cancelled, &error);
        if (r < 0)
                r = sd_bus_reply_method_error(j->message, &error);
        else
                r = bus_reply_bytes(j->message, j->data, j->size);  /* the input, unchanged */
        if (r < 0)
                log_debug_errno(r, "Cannot reply to a key exchange of session %" PRIu64 ": %m", j->session_id);

        secure_free(j->key);
        sd_bus_message_unref(j->message);
        free(j);
}

int session_negotiate(Session *s, sd_bus_message *message, const uint8_t *data, size_t size,
                      sd_bus_error *error) {
        Manager *m = s->manager;
        Backend *b = m->backend;
        NegotiateJob *j;
        int r;

        if (!b->ops->unwrap_key || !m->workers) {
                r = secure_memory_refill();
                if (r < 0)
                        return session_key_exchange_failed(s, r, error);
                r = b->ops->negotiate(b, s, data, size, error);
                if (r < 0)
                        return r;
                negotiation_succeeded(s, ++s->negotiations_started);
                /* D3D11's exchange is in place: the reply returns the input bytes unchanged. */
                return bus_reply_bytes(message, data, size);
        }

        r = b->ops->negotiate_check(b, s, size, error);
        if (r < 0)
                return r;

        j = calloc(1, sizeof(*j));
        if (!j)
                return bus_error_setf(error, -ENOMEM, "out of memory queueing the key exchange");
        j->key = secure_alloc(AES_CTR_KEY_SIZE);
        if (!j->key) {
                free(j);
                return bus_error_setf(error, -ENOMEM, "out of locked memory for the session key");
        }
        j->job.run = negotiate_job_run;
        j->job.complete = negotiate_job_complete;
        j->manager = m;
        j->message = sd_bus_message_ref(message);
        j->data = data;
        j->size = size;
        j->session_id = s->id;
        j->seq = ++s->negotiations_started;
        j->key_exchange = s->key_exchange;

        r = worker_pool_submit(m->workers, &s->client->work_queue, &j->job);
        if (r < 0) {
                secure_free(j->key);
                sd_bus_message_unref(j->message);
                free(j);
                return bus_error_setf(error, r,
                                      "this connection already has %u key exchanges waiting, the most keyd "
                                      "queues per client; wait for their replies",
                                      s->client->work_queue.max_jobs);
        }
        return 1;
}
