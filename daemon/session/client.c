/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <search.h>
#include <stdlib.h>

#include "bus/bus-error.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "session.h"

static int compare_client_name(const void *a, const void *b) {
        return strcmp(((const Client *) a)->name, ((const Client *) b)->name);
}

Client *client_find(Manager *m, const char *name) {
        Client key = { .name = (char *) name };
        Client **found = tfind(&key, &m->clients, compare_client_name);
        return found ? *found : NULL;
}

static int on_client_vanished(sd_bus_track *track, void *userdata) {
        Client *c = userdata;

        log_info("Client %s (uid %u, pid %i) disconnected; destroying its %u session(s).",
                 c->name, (unsigned) c->uid, (int) c->pid, c->n_sessions);
        client_free(c);
        return 0;
}

static int client_read_credentials(Client *c, sd_bus_message *message) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        /* From the bus daemon (not the message header), so they cannot be forged. */
        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &c->uid);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_pid(creds, &c->pid);
        if (r < 0)
                c->pid = 0;
        return 0;
}

int client_get_or_create(Manager *m, sd_bus_message *message, Client **ret) {
        _cleanup_free_client_ Client *c = NULL;
        const char *sender;
        int r;

        sender = sd_bus_message_get_sender(message);
        if (!sender)
                return -EBADMSG;

        c = client_find(m, sender);
        if (c) {
                *ret = TAKE_PTR(c);
                return 0;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->manager = m;
        c->uid = (uid_t) -1;
        worker_queue_init(&c->work_queue, m->config.max_queued_per_client);
        c->name = strdup(sender);
        if (!c->name)
                return -ENOMEM;

        r = client_read_credentials(c, message);
        if (r < 0)
                return r;
        r = user_account_ref(m, c->uid, &c->account);
        if (r < 0)
                return r;

        r = sd_bus_track_new(m->bus, &c->track, on_client_vanished, c);
        if (r < 0)
                return r;
        r = sd_bus_track_add_sender(c->track, message);
        if (r < 0)
                return r;

        if (!tsearch(c, &m->clients, compare_client_name))
                return -ENOMEM;
        m->n_clients++;

        *ret = TAKE_PTR(c);
        return 0;
}

Client *client_free(Client *c) {
        if (!c)
                return NULL;

        /* Waiting key exchanges are answered (as cancelled) before their sessions go. */
        if (c->manager && c->manager->workers)
                worker_queue_cancel(c->manager->workers, &c->work_queue);
        while (c->sessions)
                session_free(c->sessions);  /* unlinks itself from c->sessions */

        if (c->manager && tfind(c, &c->manager->clients, compare_client_name)) {
                tdelete(c, &c->manager->clients, compare_client_name);
                c->manager->n_clients--;
        }

        sd_bus_track_unref(c->track);
        user_account_unref(c->account);
        free(c->name);
        free(c);
        return NULL;
}

void client_free_if_unused(Client *c) {
        if (c && c->n_sessions == 0 && c->surface_bytes == 0)
                client_free(c);
}

int client_charge(Client *c, uint64_t bytes, const char *what, sd_bus_error *error) {
        uint64_t quota = c->manager->config.max_surface_bytes_per_client;
        int r;

        if (bytes > quota || c->surface_bytes > quota - bytes)
                return bus_error_setf(error, -EDQUOT,
                                      "%s would bring this connection to %" PRIu64 " bytes of protected "
                                      "memory; its quota is %" PRIu64 " (protected_memory_size); destroy "
                                      "surfaces first",
                                      what, c->surface_bytes + bytes, quota);
        r = user_account_charge(c->account, bytes, what, error);
        if (r < 0)
                return r;
        c->surface_bytes += bytes;
        return 0;
}

void client_uncharge(Client *c, uint64_t bytes) {
        c->surface_bytes -= bytes;
        user_account_uncharge(c->account, bytes);
}

void client_free_all(Manager *m) {
        while (m->clients)
                client_free(*(Client **) m->clients);
}
