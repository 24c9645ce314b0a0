/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The ID3D11VideoDevice side: calls on keyd's manager object. */

#include <stdlib.h>

#include "client-internal.h"
#include "guid.h"

_public_ HRESULT keyd_get_content_protection_caps(keyd_client *client,
                                                  const keyd_guid *pCryptoType,
                                                  const keyd_guid *pDecoderProfile,
                                                  keyd_content_protection_caps *pCaps) {
        static const char method[] = "GetContentProtectionCaps";
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE];
        keyd_content_protection_caps caps;
        HRESULT hr;

        keyd_clear_last_error();
        if (!client)
                return keyd_fail_null(method, "the client");
        if (!pCaps)
                return keyd_fail_null(method, "pCaps");

        keyd_guid_to_wire(pCryptoType, crypto_type);
        keyd_guid_to_wire(pDecoderProfile, profile);

        KEYD_CLIENT_LOCK_GUARD(client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_manager_call(client, method, &reply, "ss", crypto_type, profile);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read(reply, method, "uuut", &caps.Caps, &caps.KeyExchangeTypeCount,
                             &caps.BlockAlignmentSize, &caps.ProtectedMemorySize);
        if (KEYD_FAILED(hr))
                return hr;

        *pCaps = caps;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_check_crypto_key_exchange(keyd_client *client,
                                                const keyd_guid *pCryptoType,
                                                const keyd_guid *pDecoderProfile,
                                                uint32_t Index,
                                                keyd_guid *pKeyExchangeType) {
        static const char method[] = "CheckCryptoKeyExchange";
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE];
        const char *key_exchange;
        keyd_guid g;
        HRESULT hr;

        keyd_clear_last_error();
        if (!client)
                return keyd_fail_null(method, "the client");
        if (!pCryptoType)
                return keyd_fail_null(method, "pCryptoType");
        if (!pKeyExchangeType)
                return keyd_fail_null(method, "pKeyExchangeType");

        keyd_guid_to_wire(pCryptoType, crypto_type);
        keyd_guid_to_wire(pDecoderProfile, profile);

        KEYD_CLIENT_LOCK_GUARD(client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_manager_call(client, method, &reply, "ssu", crypto_type, profile, Index);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read(reply, method, "s", &key_exchange);
        if (KEYD_FAILED(hr))
                return hr;
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
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE],
                key_exchange[KEYD_GUID_STRING_SIZE];
        uint32_t input_size, output_size;
        HRESULT hr;

        keyd_clear_last_error();
        if (!client)
                return keyd_fail_null(method, "the client");
        if (!pCryptoType)
                return keyd_fail_null(method, "pCryptoType");
        if (!pKeyExchangeType)
                return keyd_fail_null(method, "pKeyExchangeType");
        if (!pPrivateInputSize || !pPrivateOutputSize)
                return keyd_fail_null(method, !pPrivateInputSize ? "pPrivateInputSize" : "pPrivateOutputSize");

        keyd_guid_to_wire(pCryptoType, crypto_type);
        keyd_guid_to_wire(pDecoderProfile, profile);
        keyd_guid_to_wire(pKeyExchangeType, key_exchange);

        KEYD_CLIENT_LOCK_GUARD(client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_manager_call(client, method, &reply, "sss", crypto_type, profile, key_exchange);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read(reply, method, "uu", &input_size, &output_size);
        if (KEYD_FAILED(hr))
                return hr;

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
        _cleanup_(session_freep) keyd_crypto_session *s = NULL;
        char crypto_type[KEYD_GUID_STRING_SIZE], profile[KEYD_GUID_STRING_SIZE],
                key_exchange[KEYD_GUID_STRING_SIZE];
        const char *path, *owner;
        HRESULT hr;

        keyd_clear_last_error();
        if (!client)
                return keyd_fail_null(method, "the client");
        if (!pCryptoType)
                return keyd_fail_null(method, "pCryptoType");
        if (!pKeyExchangeType)
                return keyd_fail_null(method, "pKeyExchangeType");
        if (!ppCryptoSession)
                return keyd_fail_null(method, "ppCryptoSession");

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
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_manager_call(client, method, &reply, "sss", crypto_type, profile, key_exchange);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read(reply, method, "o", &path);
        if (KEYD_FAILED(hr))
                return hr;

        /* Later calls go to the keyd that answered, by its unique name. On a
         * direct connection there is no sender; the well-known name will do. */
        owner = sd_bus_message_get_sender(reply);
        s->path = strdup(path);
        s->owner = strdup(owner ?: KEYD_BUS_NAME);
        if (!s->path || !s->owner) {
                /* keyd has the session; give it back before we fail. */
                keyd_close_session_object(client, owner ?: KEYD_BUS_NAME, path);
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: cannot allocate the session", method);
        }

        s->client = keyd_client_ref(client);
        *ppCryptoSession = TAKE_PTR(s);
        return KEYD_S_OK;
}
