/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Open a crypto session with keyd and negotiate a random AES-128 session key.
 * Build: cc negotiate.c $(pkg-config --cflags --libs keyd) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <keyd/keyd.h>

int main(void) {
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        uint8_t key[16], *cert = NULL, *data = NULL;
        uint32_t cert_size = 0, data_size = 0;
        HRESULT hr;

        hr = keyd_client_open(&client);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                &KEYD_KEY_EXCHANGE_RSAES_OAEP, &session);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_crypto_session_get_certificate_size(session, &cert_size);
        if (KEYD_SUCCEEDED(hr) && !(cert = malloc(cert_size)))
                hr = KEYD_E_OUTOFMEMORY;
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_crypto_session_get_certificate(session, cert_size, cert);
        /* The ciphertext is as long as the certificate's RSA modulus. */
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_get_key_exchange_data_size(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                     &data_size);
        if (KEYD_SUCCEEDED(hr) && !(data = malloc(data_size)))
                hr = KEYD_E_OUTOFMEMORY;
        if (KEYD_SUCCEEDED(hr) && getrandom(key, sizeof(key), 0) != sizeof(key))
                hr = KEYD_E_FAIL;
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                           key, sizeof(key), data_size, data);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_negotiate_crypto_session_key_exchange(session, data_size, data);

        if (KEYD_SUCCEEDED(hr))
                printf("0x%08X: negotiated a session key (%u bytes of RSAES-OAEP)\n",
                       (unsigned) hr, (unsigned) data_size);
        else
                fprintf(stderr, "0x%08X: %s (%s)\n", (unsigned) hr,
                        keyd_last_error_message(), keyd_hresult_to_string(hr));

        /* The key is yours to use with keyd now; wipe it when done. */
        explicit_bzero(key, sizeof(key));
        free(data);
        free(cert);
        keyd_crypto_session_release(session);
        keyd_client_close(client);
        return KEYD_SUCCEEDED(hr) ? EXIT_SUCCESS : EXIT_FAILURE;
}
