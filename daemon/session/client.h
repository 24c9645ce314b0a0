/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A client is one bus connection that owns sessions. Its sessions die with
 * it: one sd_bus_track per client (not per session, so 10,000 sessions of
 * one client cost dbus-daemon one match rule, not 10,000) fires when the
 * connection goes away and frees the client with everything it owns. */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "list.h"
#include "readback-memfd.h"
#include "user-account.h"
#include "work/worker-pool.h"

typedef struct Manager Manager;
typedef struct Session Session;

typedef struct Client {
        Manager *manager;
        char *name;               /* unique bus name, ":1.42" */
        uid_t uid;
        pid_t pid;
        UserAccount *account;     /* what uid holds over all its connections */
        sd_bus_track *track;

        Session *sessions;        /* list via Session.client_next/prev */
        unsigned n_sessions;
        unsigned n_decoders;      /* VideoDecoders of all its sessions */
        uint64_t surface_bytes;   /* surfaces, in the whole pages they lock */
        uint64_t readback_bytes;  /* EncryptionBltFd memfds not freed yet, whole pages */
        ReadbackMemfd *readbacks; /* EncryptionBltFd memfds still charged to this connection */
        WorkerQueue work_queue;   /* this client's key exchanges waiting for a worker */
} Client;

/* The client for the sender of m, created (and tracked) on first use. */
int client_get_or_create(Manager *m, sd_bus_message *message, Client **ret);
Client *client_find(Manager *m, const char *name);
/* Destroys the client's sessions (keys wiped) and the client. Returns NULL. */
Client *client_free(Client *c);
/* What a charge pays for. Each has its own quota per connection, both of
 * protected_memory_size: a surface of the whole quota can still be read
 * back through a memfd. The user's memory counts both. */
typedef enum ChargeKind {
        CHARGE_SURFACE,
        CHARGE_READBACK,
} ChargeKind;

/* Charge bytes for what to this connection and to its user, or OutOfMemory in error. */
int client_charge(Client *c, ChargeKind kind, uint64_t bytes, const char *what, sd_bus_error *error);
void client_uncharge(Client *c, ChargeKind kind, uint64_t bytes);
/* Frees the client if it owns nothing any more. */
void client_free_if_unused(Client *c);
/* Frees every client (shutdown). */
void client_free_all(Manager *m);

static inline void client_freep(Client **c) {
        client_free(*c);
}
#define _cleanup_free_client_ _cleanup_(client_freep)
