/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A crypto session: the daemon-side ID3D11CryptoSession. It belongs to the
 * client (bus connection) that created it; its secrets belong to the
 * backend (Session.backend_data) and are wiped when the session goes. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "guid.h"
#include "keyd/keyd.h"
#include "list.h"

typedef struct Manager Manager;
typedef struct Client Client;

typedef struct Session {
        Manager *manager;
        Client *client;
        LIST_FIELDS(struct Session, client);

        uint64_t id;               /* object path suffix */
        uint64_t handle;           /* GetCryptoSessionHandle */

        keyd_guid crypto_type;
        keyd_guid decoder_profile;
        bool has_decoder_profile;
        KeyExchange key_exchange;

        keyd_crypto_session_status status;
        bool negotiated;           /* a key exchange has succeeded */
        uint64_t negotiations_started;   /* sequence numbers of key exchanges */
        uint64_t negotiation_installed;  /* the latest one whose key is in place */

        struct Surface *surfaces;  /* list via Surface.surface_next/prev */
        uint32_t next_surface_id;

        sd_event_source *refresh_timer;  /* armed between Start and FinishSessionKeyRefresh */

        struct VideoDecoder *decoders;   /* list via VideoDecoder.decoder_next/prev */
        uint32_t next_decoder_id;

        void *backend_data;
} Session;

typedef struct SessionParams {
        keyd_guid crypto_type;
        keyd_guid decoder_profile;
        bool has_decoder_profile;
        KeyExchange key_exchange;
} SessionParams;

/* Creates a session for the sender of message, enforcing the limits. */
int session_new(Manager *m, sd_bus_message *message, const SessionParams *params,
                Session **ret, sd_bus_error *error);
/* Closes it in the backend (secrets wiped), unlinks it, frees it. Returns NULL. */
Session *session_free(Session *s);

/* 0 when the sender of message owns s; else AccessDenied in error. */
int session_check_owner(Session *s, sd_bus_message *message, sd_bus_error *error);

/* "/org/keyd/KeyBroker1/session/<id>" into buf. */
#define SESSION_PATH_MAX 64
void session_path(const Session *s, char buf[static SESSION_PATH_MAX]);
/* The session at path, or NULL. */
Session *session_from_path(Manager *m, const char *path);
