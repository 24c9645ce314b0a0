/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The ID3D11CryptoSession side: calls on one session object, addressed to
 * the unique name of the keyd that created it. */

#include <inttypes.h>
#include <stdlib.h>

#include "client-internal.h"
#include "session-data.h"

_public_ HRESULT keyd_crypto_session_get_certificate_size(keyd_crypto_session *session,
                                                          uint32_t *pCertificateSize) {
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null("GetCertificateSize", "the session");
        if (!pCertificateSize)
                return keyd_fail_null("GetCertificateSize", "pCertificateSize");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = keyd_session_check_open(session, "GetCertificateSize");
        if (KEYD_FAILED(hr))
                return hr;
        /* The device certificate does not change under a session: ask once. */
        if (!session->has_certificate_size) {
                hr = keyd_session_get_property(session, "GetCertificateSize", "CertificateSize", 'u',
                                               &session->certificate_size);
                if (KEYD_FAILED(hr))
                        return hr;
                session->has_certificate_size = true;
        }
        *pCertificateSize = session->certificate_size;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_crypto_session_get_certificate(keyd_crypto_session *session,
                                                     uint32_t CertificateSize,
                                                     uint8_t *pCertificate) {
        static const char method[] = "GetCertificate";
        const void *certificate;
        size_t size;
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pCertificate)
                return keyd_fail_null(method, "pCertificate");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_session_call(session, method, &reply, NULL);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read_bytes(reply, method, &certificate, &size);
        if (KEYD_FAILED(hr))
                return hr;

        /* As in D3D11: the buffer must be exactly the certificate. */
        if (size != CertificateSize)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: CertificateSize is %" PRIu32 " bytes; the certificate is %zu "
                                           "(ask GetCertificateSize)",
                                           method, CertificateSize, size);

        memcpy(pCertificate, certificate, size);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_crypto_session_get_crypto_type(keyd_crypto_session *session, keyd_guid *pCryptoType) {
        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null("GetCryptoType", "the session");
        if (!pCryptoType)
                return keyd_fail_null("GetCryptoType", "pCryptoType");

        *pCryptoType = session->crypto_type;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_crypto_session_get_decoder_profile(keyd_crypto_session *session,
                                                         keyd_guid *pDecoderProfile) {
        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null("GetDecoderProfile", "the session");
        if (!pDecoderProfile)
                return keyd_fail_null("GetDecoderProfile", "pDecoderProfile");

        /* A session made without a decoder profile has the all-zero GUID. */
        *pDecoderProfile = session->decoder_profile;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_crypto_session_get_handle(keyd_crypto_session *session, uint64_t *pCryptoSessionHandle) {
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null("GetCryptoSessionHandle", "the session");
        if (!pCryptoSessionHandle)
                return keyd_fail_null("GetCryptoSessionHandle", "pCryptoSessionHandle");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = keyd_session_check_open(session, "GetCryptoSessionHandle");
        if (KEYD_FAILED(hr))
                return hr;
        if (!session->has_handle) {
                hr = keyd_session_get_property(session, "GetCryptoSessionHandle", "Handle", 't',
                                               &session->handle);
                if (KEYD_FAILED(hr))
                        return hr;
                session->has_handle = true;
        }
        *pCryptoSessionHandle = session->handle;
        return KEYD_S_OK;
}

_public_ const char *keyd_crypto_session_get_object_path(keyd_crypto_session *session) {
        return session ? session->path : NULL;
}

_public_ HRESULT keyd_negotiate_crypto_session_key_exchange(keyd_crypto_session *session,
                                                            uint32_t DataSize,
                                                            void *pData) {
        static const char method[] = "NegotiateCryptoSessionKeyExchange";
        const void *data;
        size_t size;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (keyd_guid_equal(&session->key_exchange_type, &KEYD_KEY_EXCHANGE_HW_PROTECTION))
                return keyd_hw_protection_negotiate(session, DataSize, pData);
        if (!pData && DataSize > 0)
                return keyd_fail_null(method, "pData");
        if (DataSize > KEYD_MAX_ARRAY_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: DataSize is %" PRIu32 " bytes; keyd takes at most %u per call",
                                           method, DataSize, KEYD_MAX_ARRAY_SIZE);

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = keyd_session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = keyd_session_new_call(session, &m, method);
        if (r >= 0)
                /* DataSize 0 goes out as it is: keyd says what it expected. */
                r = sd_bus_message_append_array(m, 'y', pData, DataSize);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        hr = keyd_session_send(session, m, &reply, method);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read_bytes(reply, method, &data, &size);
        if (KEYD_FAILED(hr))
                return hr;
        if (size != DataSize)
                return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd answered %zu bytes to %" PRIu32 "; "
                                           "the contract says the same length", method, size, DataSize);

        if (size > 0)
                memcpy(pData, data, size);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_check_crypto_session_status(keyd_crypto_session *session,
                                                  keyd_crypto_session_status *pStatus) {
        static const char method[] = "CheckCryptoSessionStatus";
        uint32_t status;
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pStatus)
                return keyd_fail_null(method, "pStatus");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_session_call(session, method, &reply, NULL);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read(reply, method, "u", &status);
        if (KEYD_FAILED(hr))
                return hr;
        if (status > KEYD_CRYPTO_SESSION_STATUS_KEY_AND_CONTENT_LOST)
                return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd answered status %" PRIu32
                                           "; the contract knows 0, 1 and 2", method, status);

        *pStatus = (keyd_crypto_session_status) status;
        return KEYD_S_OK;
}

_public_ keyd_crypto_session *keyd_crypto_session_release(keyd_crypto_session *session) {
        keyd_client *client;

        if (!session)
                return NULL;

        client = session->client;
        pthread_mutex_lock(&client->lock);
        keyd_close_session_object(client, session->owner, session->path);
        pthread_mutex_unlock(&client->lock);

        free(session->surfaces);
        free(session->path);
        free(session->owner);
        free(session);
        keyd_client_unref(client);
        return NULL;
}
