/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * keydwine.dll.so: the Winelib half of keyd's Direct3D 11 bridge for Wine.
 *
 * Windows (PE) code cannot reach D-Bus: Wine 8.0's ws2_32 has no AF_UNIX and
 * PE code cannot pass file descriptors. This module is an ELF shared object
 * that Wine loads as a DLL; its exports use the Windows x64 calling
 * convention, so the PE d3d11.dll proxy calls them like any DLL function,
 * and their bodies are ordinary Linux code that calls libkeyd.
 *
 * Every export is a thin pass-through to the libkeyd call of the same name:
 * keyd_guid has the Windows GUID layout and keyd's structures mirror
 * D3D11's, so the PE side hands its D3D11 arguments over unchanged. One
 * libkeyd client (one bus connection) serves the whole process, opened on
 * first use; keyd ties every session to it, so they all end when the
 * process does.
 *
 * No key passes through here in the clear: the session key travels
 * RSA-encrypted, content and read-back keys wrapped under the session key.
 */

#include <pthread.h>
#include <stdint.h>

#include <keyd/keyd.h>

#define KW_EXPORT __attribute__((ms_abi, visibility("default")))

static pthread_mutex_t client_lock = PTHREAD_MUTEX_INITIALIZER;
static keyd_client *client;

/* The process's connection to keyd, opened by the first call that needs
 * one. A failed open is not remembered: keyd may be started later. */
static HRESULT get_client(keyd_client **ret) {
        HRESULT hr = KEYD_S_OK;

        pthread_mutex_lock(&client_lock);
        if (!client)
                hr = keyd_client_open(&client);
        *ret = client;
        pthread_mutex_unlock(&client_lock);
        return hr;
}

KW_EXPORT HRESULT kw_get_content_protection_caps(const keyd_guid *crypto_type, const keyd_guid *decoder_profile,
                                                 keyd_content_protection_caps *caps) {
        keyd_client *c;
        HRESULT hr = get_client(&c);

        if (KEYD_FAILED(hr))
                return hr;
        return keyd_get_content_protection_caps(c, crypto_type, decoder_profile, caps);
}

KW_EXPORT HRESULT kw_check_crypto_key_exchange(const keyd_guid *crypto_type, const keyd_guid *decoder_profile,
                                               uint32_t index, keyd_guid *key_exchange_type) {
        keyd_client *c;
        HRESULT hr = get_client(&c);

        if (KEYD_FAILED(hr))
                return hr;
        return keyd_check_crypto_key_exchange(c, crypto_type, decoder_profile, index, key_exchange_type);
}

KW_EXPORT HRESULT kw_create_crypto_session(const keyd_guid *crypto_type, const keyd_guid *decoder_profile,
                                           const keyd_guid *key_exchange_type, keyd_crypto_session **ret) {
        keyd_client *c;
        HRESULT hr = get_client(&c);

        if (KEYD_FAILED(hr))
                return hr;
        return keyd_create_crypto_session(c, crypto_type, decoder_profile, key_exchange_type, ret);
}

KW_EXPORT HRESULT kw_get_certificate_size(keyd_crypto_session *s, uint32_t *size) {
        return keyd_crypto_session_get_certificate_size(s, size);
}

KW_EXPORT HRESULT kw_get_certificate(keyd_crypto_session *s, uint32_t size, uint8_t *certificate) {
        return keyd_crypto_session_get_certificate(s, size, certificate);
}

KW_EXPORT HRESULT kw_get_handle(keyd_crypto_session *s, uint64_t *handle) {
        return keyd_crypto_session_get_handle(s, handle);
}

KW_EXPORT HRESULT kw_negotiate(keyd_crypto_session *s, uint32_t size, void *data) {
        return keyd_negotiate_crypto_session_key_exchange(s, size, data);
}

KW_EXPORT HRESULT kw_start_session_key_refresh(keyd_crypto_session *s, uint32_t size, void *random_number) {
        return keyd_start_session_key_refresh(s, size, random_number);
}

KW_EXPORT HRESULT kw_finish_session_key_refresh(keyd_crypto_session *s) {
        return keyd_finish_session_key_refresh(s);
}

KW_EXPORT HRESULT kw_get_encryption_blt_key(keyd_crypto_session *s, uint32_t size, void *key) {
        return keyd_get_encryption_blt_key(s, size, key);
}

KW_EXPORT HRESULT kw_create_surface(keyd_crypto_session *s, uint32_t size, uint32_t *surface) {
        return keyd_create_surface(s, size, surface);
}

KW_EXPORT HRESULT kw_destroy_surface(keyd_crypto_session *s, uint32_t surface) {
        return keyd_destroy_surface(s, surface);
}

KW_EXPORT HRESULT kw_decryption_blt(keyd_crypto_session *s, uint32_t surface, const keyd_encrypted_block_info *block_info,
                                    uint32_t content_key_size, const void *content_key, uint32_t iv_size,
                                    const void *iv, uint32_t data_size, const void *data) {
        return keyd_decryption_blt(s, surface, block_info, content_key_size, content_key, iv_size, iv, data_size,
                                   data);
}

/* keyd chooses the IV and writes it to iv. */
KW_EXPORT HRESULT kw_encryption_blt(keyd_crypto_session *s, uint32_t surface, uint32_t iv_size, void *iv,
                                    uint32_t data_size, void *data) {
        return keyd_encryption_blt(s, surface, iv_size, iv, data_size, data);
}

KW_EXPORT HRESULT kw_get_crypto_session_private_data_size(const keyd_guid *crypto_type,
                                                          const keyd_guid *decoder_profile,
                                                          const keyd_guid *key_exchange_type, uint32_t *input_size,
                                                          uint32_t *output_size) {
        keyd_client *c;
        HRESULT hr = get_client(&c);

        if (KEYD_FAILED(hr))
                return hr;
        return keyd_get_crypto_session_private_data_size(c, crypto_type, decoder_profile, key_exchange_type,
                                                         input_size, output_size);
}

/* D3D11_CRYPTO_SESSION_STATUS is a 32-bit enum, as keyd's. */
KW_EXPORT HRESULT kw_check_crypto_session_status(keyd_crypto_session *s, uint32_t *status) {
        keyd_crypto_session_status st = KEYD_CRYPTO_SESSION_STATUS_OK;
        HRESULT hr = keyd_check_crypto_session_status(s, &st);

        if (status)
                *status = st;
        return hr;
}

KW_EXPORT void kw_release_session(keyd_crypto_session *s) {
        keyd_crypto_session_release(s);
}

/* keyd's sentence for the calling thread's last failure ("" after a
 * success): the PE side prints it where D3D11 has no HRESULT to return. */
KW_EXPORT const char *kw_last_error_message(void) {
        return keyd_last_error_message();
}
