/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/bus-error.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "session.h"
#include "surface.h"
#include "decode/video-decoder.h"

void session_path(const Session *s, char buf[static SESSION_PATH_MAX]) {
        snprintf(buf, SESSION_PATH_MAX, KEYD_SESSION_PATH_PREFIX "/%" PRIu64, s->id);
}

Session *session_from_path(Manager *m, const char *path) {
        const char *p;
        char *end;
        uint64_t id;

        if (strncmp(path, KEYD_SESSION_PATH_PREFIX "/", strlen(KEYD_SESSION_PATH_PREFIX "/")) != 0)
                return NULL;
        p = path + strlen(KEYD_SESSION_PATH_PREFIX "/");
        if (*p < '1' || *p > '9')   /* no sign, no leading zero, no empty id */
                return NULL;

        errno = 0;
        id = strtoull(p, &end, 10);
        if (errno != 0 || *end != 0)
                return NULL;

        return session_table_get(&m->sessions, id);
}

static int session_check_limits(Manager *m, Client *c, sd_bus_error *error) {
        int r;

        if (c->n_sessions >= m->config.max_sessions_per_client)
                return bus_error_setf(error, -EUSERS,
                                      "this connection already has %u open crypto sessions, the most "
                                      "keyd allows per client (MaxSessionsPerClient); close one first",
                                      c->n_sessions);
        r = user_account_check_session(c->account, error);
        if (r < 0)
                return r;
        if (m->sessions.count >= m->config.max_sessions)
                return bus_error_setf(error, -EUSERS,
                                      "keyd already has %zu open crypto sessions, the most it allows in "
                                      "all; try again when others have closed",
                                      m->sessions.count);
        return 0;
}

int session_new(Manager *m, sd_bus_message *message, const SessionParams *params,
                Session **ret, sd_bus_error *error) {
        Client *c;
        Session *s;
        int r;

        r = client_get_or_create(m, message, &c);
        if (r < 0)
                return bus_error_setf(error, r, "cannot register the calling connection: %s",
                                      strerror(-r));

        r = session_check_limits(m, c, error);
        if (r < 0)
                goto fail_client;

        s = calloc(1, sizeof(*s));
        if (!s) {
                r = bus_error_setf(error, -ENOMEM, "out of memory creating a crypto session");
                goto fail_client;
        }
        s->manager = m;
        s->id = session_table_next_id(&m->sessions);
        /* Ids are never reused, so the id itself is a unique, non-zero handle. */
        s->handle = s->id;
        s->crypto_type = params->crypto_type;
        s->decoder_profile = params->decoder_profile;
        s->has_decoder_profile = params->has_decoder_profile;
        s->key_exchange = params->key_exchange;
        s->status = KEYD_CRYPTO_SESSION_STATUS_OK;

        r = session_table_add(&m->sessions, s);
        if (r < 0) {
                free(s);
                r = bus_error_setf(error, r, "cannot add the session to keyd's table: %s", strerror(-r));
                goto fail_client;
        }
        s->client = c;
        LIST_PREPEND(client, c->sessions, s);
        c->n_sessions++;
        c->account->n_sessions++;

        r = m->backend->ops->session_open(m->backend, s, error);
        if (r < 0) {
                session_free(s);
                goto fail_client;
        }

        log_info("Session %" PRIu64 " created for %s (uid %u, pid %i), key exchange %s.", s->id, c->name,
                 (unsigned) c->uid, (int) c->pid, known_guid_by_key_exchange(s->key_exchange)->name);
        manager_update_status(m);
        *ret = s;
        return 0;

fail_client:
        client_free_if_unused(c);
        return r;
}

Session *session_free(Session *s) {
        Manager *m;

        if (!s)
                return NULL;
        m = s->manager;

        while (s->surfaces)
                surface_free(s->surfaces);
        while (s->decoders)
                video_decoder_free(s->decoders);  /* helpers killed, plaintext wiped */
        s->refresh_timer = sd_event_source_disable_unref(s->refresh_timer);
        if (s->backend_data)
                m->backend->ops->session_close(m->backend, s);

        session_table_remove(&m->sessions, s);
        if (s->client) {
                LIST_REMOVE(client, s->client->sessions, s);
                s->client->n_sessions--;
                s->client->account->n_sessions--;
                log_info("Session %" PRIu64 " of %s (uid %u, pid %i) destroyed; its keys are wiped.", s->id,
                         s->client->name, (unsigned) s->client->uid, (int) s->client->pid);
        }
        free(s);
        manager_update_status(m);
        return NULL;
}

int session_check_owner(Session *s, sd_bus_message *message, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(message);
        char path[SESSION_PATH_MAX];

        if (sender && s->client && streq(sender, s->client->name))
                return 0;

        session_path(s, path);
        /* Root gets no exception: keys belong to the connection that made them. */
        return bus_error_setf(error, -EACCES,
                              "%s belongs to another connection; only the connection that created a "
                              "crypto session may use it",
                              path);
}
