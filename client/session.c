/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The ID3D11CryptoSession side: calls on one session object, addressed to
 * the unique name of the keyd that created it. */

#include <inttypes.h>
#include <stdlib.h>

#include "client-internal.h"
#include "session-data.h"

static HRESULT fail_null(const char *function, const char *what) {
        return keyd_set_last_error(KEYD_E_POINTER, "%s: %s is NULL", function, what);
}

static HRESULT fail_reply(const char *method, int r) {
        return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd's reply does not match the contract: %s",
                                   method, strerror(abs(r)));
}

/* With the client's lock held: a session whose client was closed is gone
 * (keyd destroyed it when the connection went), whatever is asked of it. */
static HRESULT session_check_open(keyd_crypto_session *s, const char *method) {
        if (s->client->bus)
                return KEYD_S_OK;
        return keyd_set_last_error(KEYD_DXGI_ERROR_DEVICE_REMOVED,
                                   "%s: the session's keyd_client was closed, and keyd destroyed the session "
                                   "with its connection",
                                   method);
}

static int session_new_call(keyd_crypto_session *s, sd_bus_message **ret, const char *method) {
        return keyd_client_new_call(s->client, ret, s->owner, s->path, KEYD_SESSION_INTERFACE, method);
}

/* Read a trivial-typed session property for the call what, with the
 * client's lock held. */
static HRESULT session_get_property(keyd_crypto_session *s, const char *what, const char *property, char type,
                                    void *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = keyd_client_get_property(s->client, s->owner, s->path, KEYD_SESSION_INTERFACE, property,
                                     type, ret, &error);
        if (r == -EBADMSG && !sd_bus_error_is_set(&error))
                return fail_reply(what, r);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, &error, what);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_crypto_session_get_certificate_size(keyd_crypto_session *session,
                                                          uint32_t *pCertificateSize) {
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return fail_null("GetCertificateSize", "the session");
        if (!pCertificateSize)
                return fail_null("GetCertificateSize", "pCertificateSize");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = session_check_open(session, "GetCertificateSize");
        if (KEYD_FAILED(hr))
                return hr;
        /* The device certificate does not change under a session: ask once. */
        if (!session->has_certificate_size) {
                hr = session_get_property(session, "GetCertificateSize", "CertificateSize", 'u', &session->certificate_size);
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
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const void *certificate;
        size_t size;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!session)
                return fail_null(method, "the session");
        if (!pCertificate)
                return fail_null(method, "pCertificate");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = session_new_call(session, &m, method);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        r = keyd_client_call(session->client, m, &reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, &error, method);
        r = sd_bus_message_read_array(reply, 'y', &certificate, &size);
        if (r <= 0)
                return fail_reply(method, r ?: -EBADMSG);

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
                return fail_null("GetCryptoType", "the session");
        if (!pCryptoType)
                return fail_null("GetCryptoType", "pCryptoType");

        *pCryptoType = session->crypto_type;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_crypto_session_get_decoder_profile(keyd_crypto_session *session,
                                                         keyd_guid *pDecoderProfile) {
        keyd_clear_last_error();
        if (!session)
                return fail_null("GetDecoderProfile", "the session");
        if (!pDecoderProfile)
                return fail_null("GetDecoderProfile", "pDecoderProfile");

        /* A session made without a decoder profile has the all-zero GUID. */
        *pDecoderProfile = session->decoder_profile;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_crypto_session_get_handle(keyd_crypto_session *session, uint64_t *pCryptoSessionHandle) {
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return fail_null("GetCryptoSessionHandle", "the session");
        if (!pCryptoSessionHandle)
                return fail_null("GetCryptoSessionHandle", "pCryptoSessionHandle");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = session_check_open(session, "GetCryptoSessionHandle");
        if (KEYD_FAILED(hr))
                return hr;
        if (!session->has_handle) {
                hr = session_get_property(session, "GetCryptoSessionHandle", "Handle", 't', &session->handle);
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
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const void *data;
        size_t size;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!session)
                return fail_null(method, "the session");
        if (keyd_guid_equal(&session->key_exchange_type, &KEYD_KEY_EXCHANGE_HW_PROTECTION))
                return keyd_hw_protection_negotiate(session, DataSize, pData);
        if (!pData && DataSize > 0)
                return fail_null(method, "pData");
        if (DataSize > KEYD_MAX_ARRAY_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: DataSize is %" PRIu32 " bytes; keyd takes at most %u per call",
                                           method, DataSize, KEYD_MAX_ARRAY_SIZE);

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = session_new_call(session, &m, method);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        /* DataSize 0 goes out as it is: keyd says what it expected. */
        r = sd_bus_message_append_array(m, 'y', pData, DataSize);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        r = keyd_client_call(session->client, m, &reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, &error, method);
        r = sd_bus_message_read_array(reply, 'y', &data, &size);
        if (r <= 0)
                return fail_reply(method, r ?: -EBADMSG);
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
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t status;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!session)
                return fail_null(method, "the session");
        if (!pStatus)
                return fail_null(method, "pStatus");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = session_new_call(session, &m, method);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        r = keyd_client_call(session->client, m, &reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, &error, method);
        r = sd_bus_message_read(reply, "u", &status);
        if (r <= 0)
                return fail_reply(method, r ?: -EBADMSG);
        if (status > KEYD_CRYPTO_SESSION_STATUS_KEY_AND_CONTENT_LOST)
                return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd answered status %" PRIu32
                                           "; the contract knows 0, 1 and 2", method, status);

        *pStatus = (keyd_crypto_session_status) status;
        return KEYD_S_OK;
}

/* Close the session in keyd; with the client's lock held. Failures do not
 * matter: a session that keyd no longer has is closed already. */
static void session_close_locked(keyd_crypto_session *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        if (session_new_call(s, &m, "Close") < 0)
                return;
        (void) keyd_client_call(s->client, m, &reply, NULL);
}

_public_ keyd_crypto_session *keyd_crypto_session_release(keyd_crypto_session *session) {
        keyd_client *client;

        if (!session)
                return NULL;

        client = session->client;
        pthread_mutex_lock(&client->lock);
        session_close_locked(session);
        pthread_mutex_unlock(&client->lock);

        free(session->surfaces);
        free(session->path);
        free(session->owner);
        free(session);
        keyd_client_unref(client);
        return NULL;
}
