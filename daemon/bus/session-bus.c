/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.keyd.KeyBroker1.CryptoSession on /org/keyd/KeyBroker1/session/<id>:
 * one fallback vtable serves every session; the find callback maps a path
 * to its Session and the node enumerator lists them for introspection.
 * Properties are readable by anyone (inspection); every method checks that
 * the caller owns the session before it does anything. */

#include <inttypes.h>

#include "bus-error.h"
#include "bus-guid.h"
#include "bus-objects.h"
#include "bus-reply.h"
#include "session-data-bus.h"
#include "manager.h"
#include "session/client.h"
#include "session/session-negotiate.h"
#include "session/session.h"

/* Look up the session and check the caller owns it: the preamble of every method. */
static int session_for_call(sd_bus_message *message, Session *s, sd_bus_error *error) {
        return session_check_owner(s, message, error);
}

static int require_rsa_key_exchange(Session *s, const char *method, sd_bus_error *error) {
        if (key_exchange_is_rsaes_oaep(s->key_exchange))
                return 0;
        return bus_error_setf(error, -EBADRQC,
                              "%s is not allowed on a session created with "
                              "D3D11_KEY_EXCHANGE_HW_PROTECTION; use ExecuteHWProtectionFunction",
                              method);
}

static int method_get_certificate(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        Backend *b = s->manager->backend;
        const uint8_t *cert;
        size_t size;
        int r;

        r = session_for_call(message, s, error);
        if (r < 0)
                return r;
        r = require_rsa_key_exchange(s, "GetCertificate", error);
        if (r < 0)
                return r;

        r = b->ops->get_certificate(b, s, &cert, &size, error);
        if (r < 0)
                return r;

        return bus_reply_bytes(message, cert, size);
}

static int method_negotiate(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        const void *data;
        size_t size;
        int r;

        r = sd_bus_message_read_array(message, 'y', &data, &size);
        if (r < 0)
                return r;

        r = session_for_call(message, s, error);
        if (r < 0)
                return r;
        r = require_rsa_key_exchange(s, "NegotiateCryptoSessionKeyExchange", error);
        if (r < 0)
                return r;
        if (size > KEYD_AY_MAX)
                return bus_error_setf(error, -EINVAL, "data is %zu bytes; an ay argument takes at most %u",
                                      size, KEYD_AY_MAX);

        /* Replies by itself, now or when a worker has unwrapped the key. */
        r = session_negotiate(s, message, data, size, error);
        if (r < 0)
                return r;
        return 1;
}

static int method_check_status(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        int r;

        r = session_for_call(message, s, error);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(message, "u", (uint32_t) s->status);
}

static int method_close(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        Client *c = s->client;
        int r;

        r = session_for_call(message, s, error);
        if (r < 0)
                return r;

        session_free(s);
        client_free_if_unused(c);

        return sd_bus_reply_method_return(message, NULL);
}

static int property_get_guid(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Session *s = userdata;

        if (streq(property, "CryptoType"))
                return bus_append_guid(reply, &s->crypto_type);
        if (streq(property, "DecoderProfile"))
                return bus_append_guid(reply, s->has_decoder_profile ? &s->decoder_profile : NULL);
        return bus_append_guid(reply, known_guid_by_key_exchange(s->key_exchange)->guid);
}

static int property_get_certificate_size(sd_bus *bus, const char *path, const char *interface,
                                         const char *property, sd_bus_message *reply, void *userdata,
                                         sd_bus_error *error) {
        Session *s = userdata;
        Backend *b = s->manager->backend;
        const uint8_t *cert;
        size_t size = 0;

        /* HW_PROTECTION sessions have no certificate to read: report 0. */
        if (key_exchange_is_rsaes_oaep(s->key_exchange) &&
            b->ops->get_certificate(b, s, &cert, &size, NULL) < 0)
                size = 0;
        return sd_bus_message_append(reply, "u", (uint32_t) size);
}

static int property_get_handle(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        return sd_bus_message_append(reply, "t", s->handle);
}

static int property_get_owner(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        return sd_bus_message_append(reply, "s", s->client->name);
}

static int property_get_owner_uid(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) s->client->uid);
}

static int property_get_status(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) s->status);
}

static const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_PROPERTY("CryptoType", "s", property_get_guid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DecoderProfile", "s", property_get_guid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KeyExchangeType", "s", property_get_guid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CertificateSize", "u", property_get_certificate_size, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Handle", "t", property_get_handle, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Owner", "s", property_get_owner, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("OwnerUID", "u", property_get_owner_uid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Status", "u", property_get_status, 0, 0),

        SD_BUS_METHOD_WITH_ARGS("GetCertificate", SD_BUS_NO_ARGS, SD_BUS_RESULT("ay", certificate),
                                method_get_certificate, SD_BUS_VTABLE_UNPRIVILEGED),
        /* SENSITIVE: sd-bus wipes these messages when it frees them. */
        SD_BUS_METHOD_WITH_ARGS("NegotiateCryptoSessionKeyExchange", SD_BUS_ARGS("ay", data),
                                SD_BUS_RESULT("ay", data), method_negotiate,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("ExecuteHWProtectionFunction",
                                SD_BUS_ARGS("u", function_id, "u", private_data_size, "ay", input, "u",
                                            max_output_size),
                                SD_BUS_RESULT("u", private_data_size, "u", hw_protection_data_size, "t",
                                              execution_time_100ns, "ay", output, "i", status),
                                method_execute_hw_protection_function,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("StartSessionKeyRefresh", SD_BUS_ARGS("u", random_number_size),
                                SD_BUS_RESULT("ay", random_number), method_start_session_key_refresh,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("FinishSessionKeyRefresh", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                                method_finish_session_key_refresh, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetEncryptionBltKey", SD_BUS_ARGS("u", key_size), SD_BUS_RESULT("ay", key),
                                method_get_encryption_blt_key,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("CreateSurface", SD_BUS_ARGS("u", size), SD_BUS_RESULT("u", surface),
                                method_create_surface, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DestroySurface", SD_BUS_ARGS("u", surface), SD_BUS_NO_RESULT,
                                method_destroy_surface, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DecryptionBlt",
                                SD_BUS_ARGS("u", surface, "ay", data, "(uuu)", block_info, "ay", content_key,
                                            "ay", iv),
                                SD_BUS_NO_RESULT, method_decryption_blt,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("DecryptionBltFd",
                                SD_BUS_ARGS("u", surface, "h", data, "(uuu)", block_info, "ay", content_key,
                                            "ay", iv),
                                SD_BUS_NO_RESULT, method_decryption_blt_fd,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("EncryptionBlt", SD_BUS_ARGS("u", surface, "ay", iv), SD_BUS_RESULT("ay", data),
                                method_encryption_blt, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("EncryptionBltFd", SD_BUS_ARGS("u", surface, "ay", iv), SD_BUS_RESULT("h", data),
                                method_encryption_blt_fd, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateVideoDecoder",
                                SD_BUS_ARGS("s", decoder_profile, "u", width, "u", height, "ay", config),
                                SD_BUS_RESULT("o", decoder), method_create_video_decoder,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CheckCryptoSessionStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", status),
                                method_check_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Close", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_close,
                                SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_VTABLE_END
};

static int session_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                               void **found, sd_bus_error *error) {
        Manager *m = userdata;
        Session *s = session_from_path(m, path);

        if (!s)
                return 0;
        *found = s;
        return 1;
}

typedef struct NodeList {
        char **nodes;
        size_t n;
        int error;
} NodeList;

static void add_node(Session *s, void *userdata) {
        NodeList *l = userdata;
        char path[SESSION_PATH_MAX];

        if (l->error < 0)
                return;
        session_path(s, path);
        l->nodes[l->n] = strdup(path);
        if (!l->nodes[l->n]) {
                l->error = -ENOMEM;
                return;
        }
        l->n++;
}

static int session_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                   sd_bus_error *error) {
        Manager *m = userdata;
        NodeList l = {};

        l.nodes = calloc(m->sessions.count + 1, sizeof(char *));
        if (!l.nodes)
                return -ENOMEM;

        session_table_foreach(&m->sessions, add_node, &l);
        if (l.error < 0) {
                for (size_t i = 0; i < l.n; i++)
                        free(l.nodes[i]);
                free(l.nodes);
                return l.error;
        }

        *nodes = l.nodes;
        return 0;
}

int session_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, &m->session_vtable_slot, KEYD_SESSION_PATH_PREFIX,
                                       KEYD_SESSION_INTERFACE, session_vtable, session_object_find, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, &m->session_enumerator_slot, KEYD_SESSION_PATH_PREFIX,
                                          session_node_enumerator, m);
}
