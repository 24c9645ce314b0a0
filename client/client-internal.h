/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The objects behind keyd_client and keyd_crypto_session, and the one way
 * libkeyd talks to the bus. */

#include <pthread.h>
#include <systemd/sd-bus.h>

#include "error-map.h"
#include "keyd/keyd.h"
#include "macro.h"

#define KEYD_BUS_NAME "org.keyd.KeyBroker1"
#define KEYD_MANAGER_PATH "/org/keyd/KeyBroker1"
#define KEYD_MANAGER_INTERFACE "org.keyd.KeyBroker1.Manager"
#define KEYD_SESSION_PATH_PREFIX "/org/keyd/KeyBroker1/session"
#define KEYD_SESSION_INTERFACE "org.keyd.KeyBroker1.CryptoSession"

/* Contract section 4: "ay" arguments and results are at most 16 MiB. */
#define KEYD_MAX_ARRAY_SIZE (16U * 1024U * 1024U)

struct keyd_client {
        /* One reference for the caller (dropped by keyd_client_close) and one
         * per session, so that a session can still fail cleanly after the
         * caller closed its client. */
        unsigned n_ref;
        /* sd-bus is not thread safe: every use of bus (and of the messages
         * it created, which hold references on it) happens under lock. */
        pthread_mutex_t lock;
        sd_bus *bus;             /* NULL once keyd_client_close() ran */
        uint64_t timeout_usec;
};

struct keyd_crypto_session {
        keyd_client *client;     /* holds a reference */
        char *path;
        /* The unique name of the keyd that created the session: a keyd that
         * restarted in between must not get (and cannot know) our calls. */
        char *owner;
        keyd_guid crypto_type;
        keyd_guid decoder_profile;
        bool has_decoder_profile;
        keyd_guid key_exchange_type;
        /* Filled from the properties on first use, under client->lock. */
        uint64_t handle;
        uint32_t certificate_size;
        bool has_handle;
        bool has_certificate_size;
        /* Surfaces made through this object and their sizes, under
         * client->lock (client/session-data.c). */
        struct keyd_surface_size *surfaces;
        size_t n_surfaces;
};

keyd_client *keyd_client_ref(keyd_client *c);
keyd_client *keyd_client_unref(keyd_client *c);

/* Take the client's lock for the rest of the scope; declare the guard before
 * any message variable, so that the messages are released under the lock. */
keyd_client *keyd_client_lock(keyd_client *c);
void keyd_client_unlockp(keyd_client **c);
#define KEYD_CLIENT_LOCK_GUARD(c) \
        _cleanup_(keyd_client_unlockp) _unused_ keyd_client *_lock_guard_ = keyd_client_lock(c)

/* Start a method call to destination; with the lock held. */
int keyd_client_new_call(keyd_client *c, sd_bus_message **ret, const char *destination,
                         const char *path, const char *interface, const char *member);
/* Send m and wait for the reply within the client's timeout; with the lock
 * held. A failed call returns a negative errno and fills error. When keyd
 * does not answer, asks the bus whether destination still has an owner, so
 * that a keyd that died in the middle of the call is told from a slow one. */
int keyd_client_call(keyd_client *c, sd_bus_message *m, sd_bus_message **ret_reply,
                     sd_bus_error *error);
/* Read a property of trivial type (u, t, b...: nothing that points into the
 * reply) into ret; with the lock held. -EBADMSG when the reply has another
 * type. */
int keyd_client_get_property(keyd_client *c, const char *destination, const char *path,
                             const char *interface, const char *property, char type, void *ret,
                             sd_bus_error *error);

/* Format a GUID for the wire; NULL becomes "" (contract section 2). */
void keyd_guid_to_wire(const keyd_guid *g, char buf[static KEYD_GUID_STRING_SIZE]);

/* Calls on keyd's objects (client/object-call.c), with the lock held. Each
 * failure is recorded under method, the name of the D3D11 call the caller
 * made, and returned as its HRESULT. */

/* Call method on the manager with the arguments types says (as for
 * sd_bus_message_append()) and wait for the reply. */
HRESULT keyd_manager_call(keyd_client *c, const char *method, sd_bus_message **ret_reply, const char *types,
                          ...);

/* DXGI_ERROR_DEVICE_REMOVED once the session's client was closed: keyd
 * destroyed the session when the connection went, whatever is asked of it. */
HRESULT keyd_session_check_open(keyd_crypto_session *s, const char *method);
/* Start a call of member on the session object, addressed to the keyd that
 * made it; a negative errno on failure. For calls whose arguments
 * keyd_session_call() cannot append; send them with keyd_session_send(). */
int keyd_session_new_call(keyd_crypto_session *s, sd_bus_message **ret, const char *member);
HRESULT keyd_session_send(keyd_crypto_session *s, sd_bus_message *m, sd_bus_message **ret_reply,
                          const char *method);
/* The whole of a plain call on the session: check that it is open, call
 * method with the arguments types says (NULL for none), wait for the reply. */
HRESULT keyd_session_call(keyd_crypto_session *s, const char *method, sd_bus_message **ret_reply,
                          const char *types, ...);
/* Read a trivial-typed property of the session into ret. */
HRESULT keyd_session_get_property(keyd_crypto_session *s, const char *method, const char *property, char type,
                                  void *ret);
/* Close the session object at path of keyd owner. Failures do not matter:
 * a session that keyd no longer has is closed already. */
void keyd_close_session_object(keyd_client *c, const char *owner, const char *path);

/* Read the reply's next fields as types says (sd_bus_message_read()) or
 * its next "ay"; a reply of another shape fails with E_FAIL. */
HRESULT keyd_reply_read(sd_bus_message *reply, const char *method, const char *types, ...);
HRESULT keyd_reply_read_bytes(sd_bus_message *reply, const char *method, const void **ret, size_t *ret_size);
