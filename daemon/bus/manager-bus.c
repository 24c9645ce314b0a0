/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* org.keyd.KeyBroker1.Manager on /org/keyd/KeyBroker1: the D3D11
 * ID3D11VideoDevice side (capabilities, key exchanges, CreateCryptoSession). */

#include "bus-error.h"
#include "bus-guid.h"
#include "bus-objects.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "session/client.h"
#include "session/session.h"

/* The GUIDs that name a crypto type, a decoder profile and (optionally) a key
 * exchange, checked against the contract's rules. */
typedef struct GuidArgs {
        const KnownGuid *crypto_type;
        const KnownGuid *profile;
        const KnownGuid *key_exchange;
} GuidArgs;

static int parse_crypto_and_profile(const char *crypto_type, const char *profile, bool crypto_optional,
                                    GuidArgs *args, sd_bus_error *error) {
        int r;

        r = bus_parse_guid_arg("crypto_type", crypto_type, GUID_KIND_CRYPTO_TYPE, crypto_optional,
                               &args->crypto_type, error);
        if (r < 0)
                return r;
        return bus_parse_guid_arg("decoder_profile", profile, GUID_KIND_DECODER_PROFILE, true,
                                  &args->profile, error);
}

static const keyd_guid *guid_or_null(const KnownGuid *k) {
        return k ? k->guid : NULL;
}

static int method_get_content_protection_caps(sd_bus_message *message, void *userdata,
                                              sd_bus_error *error) {
        Manager *m = userdata;
        const char *crypto_type, *profile;
        GuidArgs args = {};
        BackendCaps caps = {};
        int r;

        r = sd_bus_message_read(message, "ss", &crypto_type, &profile);
        if (r < 0)
                return r;

        r = parse_crypto_and_profile(crypto_type, profile, true, &args, error);
        if (r < 0)
                return r;

        r = m->backend->ops->get_caps(m->backend, guid_or_null(args.crypto_type), guid_or_null(args.profile),
                                      &caps, error);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(message, "uuut", caps.caps, caps.key_exchange_type_count,
                                          caps.block_alignment_size, caps.protected_memory_size);
}

static int method_check_crypto_key_exchange(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *crypto_type, *profile;
        char key_exchange[KEYD_GUID_STRING_SIZE];
        GuidArgs args = {};
        KeyExchange k;
        uint32_t index;
        int r;

        r = sd_bus_message_read(message, "ssu", &crypto_type, &profile, &index);
        if (r < 0)
                return r;

        r = parse_crypto_and_profile(crypto_type, profile, false, &args, error);
        if (r < 0)
                return r;

        r = m->backend->ops->get_key_exchange(m->backend, args.crypto_type->guid, guid_or_null(args.profile),
                                              index, &k, error);
        if (r < 0)
                return r;

        guid_format(known_guid_by_key_exchange(k)->guid, key_exchange);
        return sd_bus_reply_method_return(message, "s", key_exchange);
}

static int parse_session_args(Manager *m, sd_bus_message *message, GuidArgs *args, sd_bus_error *error) {
        const char *crypto_type, *profile, *key_exchange;
        int r;

        r = sd_bus_message_read(message, "sss", &crypto_type, &profile, &key_exchange);
        if (r < 0)
                return r;

        r = parse_crypto_and_profile(crypto_type, profile, false, args, error);
        if (r < 0)
                return r;
        r = bus_parse_guid_arg("key_exchange_type", key_exchange, GUID_KIND_KEY_EXCHANGE, false,
                               &args->key_exchange, error);
        if (r < 0)
                return r;

        /* Known, but can this backend serve it? (Unsupported if not.) */
        return m->backend->ops->check_support(m->backend, args->crypto_type->guid, guid_or_null(args->profile),
                                              (KeyExchange) args->key_exchange->value, error);
}

static int method_get_crypto_session_private_data_size(sd_bus_message *message, void *userdata,
                                                       sd_bus_error *error) {
        Manager *m = userdata;
        GuidArgs args = {};
        uint32_t in_size, out_size;
        int r;

        r = parse_session_args(m, message, &args, error);
        if (r < 0)
                return r;

        r = m->backend->ops->get_private_data_size(m->backend, (KeyExchange) args.key_exchange->value, &in_size,
                                                   &out_size, error);
        if (r < 0)
                return r;

        return sd_bus_reply_method_return(message, "uu", in_size, out_size);
}

static int method_create_crypto_session(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        GuidArgs args = {};
        SessionParams params = {};
        char path[SESSION_PATH_MAX];
        Session *s;
        int r;

        r = parse_session_args(m, message, &args, error);
        if (r < 0)
                return r;

        params.crypto_type = *args.crypto_type->guid;
        if (args.profile) {
                params.decoder_profile = *args.profile->guid;
                params.has_decoder_profile = true;
        }
        params.key_exchange = (KeyExchange) args.key_exchange->value;

        r = session_new(m, message, &params, &s, error);
        if (r < 0)
                return r;

        session_path(s, path);
        r = sd_bus_reply_method_return(message, "o", path);
        if (r < 0) {
                /* The caller never learns of it: do not leave it behind. */
                Client *c = s->client;
                session_free(s);
                client_free_if_unused(c);
        }
        return r;
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", KEYD_VERSION);
}

static int property_get_backend(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->backend->ops->name);
}

static int property_get_session_count(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) m->sessions.count);
}

static int property_get_max_sessions_per_client(sd_bus *bus, const char *path, const char *interface,
                                                const char *property, sd_bus_message *reply, void *userdata,
                                                sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "u", (uint32_t) m->config.max_sessions_per_client);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Backend", "s", property_get_backend, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("SessionCount", "u", property_get_session_count, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MaxSessionsPerClient", "u", property_get_max_sessions_per_client, 0,
                        SD_BUS_VTABLE_PROPERTY_CONST),

        SD_BUS_METHOD_WITH_ARGS("GetContentProtectionCaps",
                                SD_BUS_ARGS("s", crypto_type, "s", decoder_profile),
                                SD_BUS_RESULT("u", caps, "u", key_exchange_type_count, "u",
                                              block_alignment_size, "t", protected_memory_size),
                                method_get_content_protection_caps, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CheckCryptoKeyExchange",
                                SD_BUS_ARGS("s", crypto_type, "s", decoder_profile, "u", index),
                                SD_BUS_RESULT("s", key_exchange_type),
                                method_check_crypto_key_exchange, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetCryptoSessionPrivateDataSize",
                                SD_BUS_ARGS("s", crypto_type, "s", decoder_profile, "s", key_exchange_type),
                                SD_BUS_RESULT("u", private_input_size, "u", private_output_size),
                                method_get_crypto_session_private_data_size, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateCryptoSession",
                                SD_BUS_ARGS("s", crypto_type, "s", decoder_profile, "s", key_exchange_type),
                                SD_BUS_RESULT("o", session),
                                method_create_crypto_session, SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_VTABLE_END
};

int manager_bus_register(Manager *m) {
        return sd_bus_add_object_vtable(m->bus, &m->manager_vtable_slot, KEYD_MANAGER_PATH,
                                        KEYD_MANAGER_INTERFACE, manager_vtable, m);
}

void manager_bus_emit_session_count(Manager *m) {
        int r;

        /* A monitor (keydctl, a desktop applet) follows SessionCount without
         * polling. A lost signal only costs it a refresh: never fail the
         * session operation over it. */
        r = sd_bus_emit_properties_changed(m->bus, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "SessionCount",
                                           NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged for SessionCount: %m");
}
