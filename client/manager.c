/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The ID3D11VideoDevice side: calls on keyd's manager object. */

#include <stdlib.h>

#include "client-internal.h"
#include "guid.h"

/* The reply had another shape than the contract says: keyd and libkeyd
 * disagree, which the caller can only report. */
static HRESULT fail_reply(const char *method, int r) {
        return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd's reply does not match the contract: %s",
                                   method, strerror(abs(r)));
}

static HRESULT fail_local(const char *method, int r) {
        return keyd_fail_call(KEYD_CALL_MANAGER, r, NULL, method);
}

static HRESULT fail_null(const char *function, const char *what) {
        return keyd_set_last_error(KEYD_E_POINTER, "%s: %s is NULL", function, what);
}

_public_ HRESULT keyd_get_content_protection_caps(keyd_client *client,
                                                  const keyd_guid *pCryptoType,
                                                  const keyd_guid *pDecoderProfile,
                                                  keyd_content_protection_caps *pCaps) {
        static const char method[] = "GetContentProtectionCaps";
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE];
        keyd_content_protection_caps caps;
        int r;

        keyd_clear_last_error();
        if (!client)
                return fail_null(method, "the client");
        if (!pCaps)
                return fail_null(method, "pCaps");

        keyd_guid_to_wire(pCryptoType, crypto_type);
        keyd_guid_to_wire(pDecoderProfile, profile);

        KEYD_CLIENT_LOCK_GUARD(client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = keyd_client_new_call(client, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, method);
        if (r < 0)
                return fail_local(method, r);
        r = sd_bus_message_append(m, "ss", crypto_type, profile);
        if (r < 0)
                return fail_local(method, r);
        r = keyd_client_call(client, m, &reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_MANAGER, r, &error, method);
        r = sd_bus_message_read(reply, "uuut", &caps.Caps, &caps.KeyExchangeTypeCount,
                                &caps.BlockAlignmentSize, &caps.ProtectedMemorySize);
        if (r <= 0)
                return fail_reply(method, r ?: -EBADMSG);

        *pCaps = caps;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_check_crypto_key_exchange(keyd_client *client,
                                                const keyd_guid *pCryptoType,
                                                const keyd_guid *pDecoderProfile,
                                                uint32_t Index,
                                                keyd_guid *pKeyExchangeType) {
        static const char method[] = "CheckCryptoKeyExchange";
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE];
        const char *key_exchange;
        keyd_guid g;
        int r;

        keyd_clear_last_error();
        if (!client)
                return fail_null(method, "the client");
        if (!pCryptoType)
                return fail_null(method, "pCryptoType");
        if (!pKeyExchangeType)
                return fail_null(method, "pKeyExchangeType");

        keyd_guid_to_wire(pCryptoType, crypto_type);
        keyd_guid_to_wire(pDecoderProfile, profile);

        KEYD_CLIENT_LOCK_GUARD(client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = keyd_client_new_call(client, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, method);
        if (r < 0)
                return fail_local(method, r);
        r = sd_bus_message_append(m, "ssu", crypto_type, profile, Index);
        if (r < 0)
                return fail_local(method, r);
        r = keyd_client_call(client, m, &reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_MANAGER, r, &error, method);
        r = sd_bus_message_read(reply, "s", &key_exchange);
        if (r <= 0)
                return fail_reply(method, r ?: -EBADMSG);
        if (guid_parse(key_exchange, &g) < 0)
                return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd answered \"%.64s\", which is not a GUID",
                                           method, key_exchange);

        *pKeyExchangeType = g;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_get_crypto_session_private_data_size(keyd_client *client,
                                                           const keyd_guid *pCryptoType,
                                                           const keyd_guid *pDecoderProfile,
                                                           const keyd_guid *pKeyExchangeType,
                                                           uint32_t *pPrivateInputSize,
                                                           uint32_t *pPrivateOutputSize) {
        static const char method[] = "GetCryptoSessionPrivateDataSize";
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE],
                key_exchange[KEYD_GUID_STRING_SIZE];
        uint32_t input_size, output_size;
        int r;

        keyd_clear_last_error();
        if (!client)
                return fail_null(method, "the client");
        if (!pCryptoType)
                return fail_null(method, "pCryptoType");
        if (!pKeyExchangeType)
                return fail_null(method, "pKeyExchangeType");
        if (!pPrivateInputSize || !pPrivateOutputSize)
                return fail_null(method, !pPrivateInputSize ? "pPrivateInputSize" : "pPrivateOutputSize");

        keyd_guid_to_wire(pCryptoType, crypto_type);
        keyd_guid_to_wire(pDecoderProfile, profile);
        keyd_guid_to_wire(pKeyExchangeType, key_exchange);

        KEYD_CLIENT_LOCK_GUARD(client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = keyd_client_new_call(client, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, method);
        if (r < 0)
                return fail_local(method, r);
        r = sd_bus_message_append(m, "sss", crypto_type, profile, key_exchange);
        if (r < 0)
                return fail_local(method, r);
        r = keyd_client_call(client, m, &reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_MANAGER, r, &error, method);
        r = sd_bus_message_read(reply, "uu", &input_size, &output_size);
        if (r <= 0)
                return fail_reply(method, r ?: -EBADMSG);

        *pPrivateInputSize = input_size;
        *pPrivateOutputSize = output_size;
        return KEYD_S_OK;
}

static keyd_crypto_session *session_free(keyd_crypto_session *s) {
        if (!s)
                return NULL;
        free(s->path);
        free(s->owner);
        free(s);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(keyd_crypto_session *, session_free);

_public_ HRESULT keyd_create_crypto_session(keyd_client *client,
                                            const keyd_guid *pCryptoType,
                                            const keyd_guid *pDecoderProfile,
                                            const keyd_guid *pKeyExchangeType,
                                            keyd_crypto_session **ppCryptoSession) {
        static const char method[] = "CreateCryptoSession";
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(session_freep) keyd_crypto_session *s = NULL;
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE],
                key_exchange[KEYD_GUID_STRING_SIZE];
        const char *path, *owner;
        int r;

        keyd_clear_last_error();
        if (!client)
                return fail_null(method, "the client");
        if (!pCryptoType)
                return fail_null(method, "pCryptoType");
        if (!pKeyExchangeType)
                return fail_null(method, "pKeyExchangeType");
        if (!ppCryptoSession)
                return fail_null(method, "ppCryptoSession");

        s = calloc(1, sizeof(*s));
        if (!s)
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: cannot allocate the session", method);
        s->crypto_type = *pCryptoType;
        s->key_exchange_type = *pKeyExchangeType;
        if (pDecoderProfile) {
                s->decoder_profile = *pDecoderProfile;
                s->has_decoder_profile = true;
        }

        keyd_guid_to_wire(pCryptoType, crypto_type);
        keyd_guid_to_wire(pDecoderProfile, profile);
        keyd_guid_to_wire(pKeyExchangeType, key_exchange);

        KEYD_CLIENT_LOCK_GUARD(client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = keyd_client_new_call(client, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, method);
        if (r < 0)
                return fail_local(method, r);
        r = sd_bus_message_append(m, "sss", crypto_type, profile, key_exchange);
        if (r < 0)
                return fail_local(method, r);
        r = keyd_client_call(client, m, &reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_MANAGER, r, &error, method);
        r = sd_bus_message_read(reply, "o", &path);
        if (r <= 0)
                return fail_reply(method, r ?: -EBADMSG);

        /* Later calls go to the keyd that answered, by its unique name. On a
         * direct connection there is no sender; the well-known name will do. */
        owner = sd_bus_message_get_sender(reply);
        s->path = strdup(path);
        s->owner = strdup(owner ?: KEYD_BUS_NAME);
        if (!s->path || !s->owner) {
                /* keyd has the session; give it back before we fail. */
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *close_call = NULL;
                if (keyd_client_new_call(client, &close_call, owner ?: KEYD_BUS_NAME, path,
                                         KEYD_SESSION_INTERFACE, "Close") >= 0)
                        (void) keyd_client_call(client, close_call, NULL, NULL);
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: cannot allocate the session", method);
        }

        s->client = keyd_client_ref(client);
        *ppCryptoSession = TAKE_PTR(s);
        return KEYD_S_OK;
}
