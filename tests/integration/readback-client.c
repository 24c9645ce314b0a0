/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-readback-client ADDRESS: the read-back sequence of a D3D11
 * application through libkeyd, for test-readback-busctl.sh, which watches
 * the bus with `busctl monitor` and checks every reply on the wire with the
 * openssl command. It negotiates a random session key, decrypts random
 * bytes (encrypted by the script) into a 64-byte surface, then: EncryptionBlt before any read-back
 * key was asked for, GetEncryptionBltKey twice, EncryptionBlt twice, and an
 * EncryptionBlt of a surface above KEYD_BLT_MEMFD_THRESHOLD (which libkeyd
 * sends as EncryptionBltToFd). It prints what the checks need and no one
 * else knows: "session_key HEX" and "plaintext HEX" (test keys only), and
 * the IVs libkeyd wrote to pIV, "iv HEX" per read-back. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "keyd/keyd.h"

#define SMALL 64U
#define BIG (KEYD_BLT_MEMFD_THRESHOLD + 4096U)

static int fail(HRESULT hr, const char *what) {
        fprintf(stderr, "keyd-readback-client: %s: 0x%08X %s: %s\n", what, (unsigned) hr, keyd_hresult_to_string(hr),
                keyd_last_error_message());
        return EXIT_FAILURE;
}

static void print_hex(const char *label, const uint8_t *p, size_t n) {
        printf("%s ", label);
        for (size_t i = 0; i < n; i++)
                printf("%02x", p[i]);
        printf("\n");
}

/* EncryptionBlt of surface into out, printing the IV keyd chose. */
static HRESULT read_back(keyd_crypto_session *s, uint32_t surface, uint32_t size, uint8_t *out) {
        uint8_t iv[16];
        HRESULT hr;

        memset(iv, 0xa5, sizeof(iv));
        hr = keyd_encryption_blt(s, surface, sizeof(iv), iv, size, out);
        if (KEYD_SUCCEEDED(hr))
                print_hex("iv", iv, sizeof(iv));
        return hr;
}

int main(int argc, char *argv[]) {
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        uint8_t key[16], iv[16], wrapped[16], data[512], plain[SMALL], ct[SMALL], out[SMALL], *cert, *big;
        uint32_t cert_size = 0, surface, surface_big;
        HRESULT hr;

        if (argc != 2) {
                fprintf(stderr, "Usage: keyd-readback-client ADDRESS\n");
                return EXIT_FAILURE;
        }

        hr = keyd_client_open_address(argv[1], &client);
        if (KEYD_FAILED(hr))
                return fail(hr, "cannot connect");
        hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                        &session);
        if (KEYD_FAILED(hr))
                return fail(hr, "CreateCryptoSession");
        hr = keyd_crypto_session_get_certificate_size(session, &cert_size);
        if (KEYD_FAILED(hr))
                return fail(hr, "GetCertificateSize");
        cert = malloc(cert_size);
        big = calloc(1, BIG);
        if (!cert || !big)
                return fail(KEYD_E_OUTOFMEMORY, "malloc");
        hr = keyd_crypto_session_get_certificate(session, cert_size, cert);
        if (KEYD_FAILED(hr))
                return fail(hr, "GetCertificate");
        if (getrandom(key, sizeof(key), 0) != sizeof(key) || getrandom(plain, sizeof(plain), 0) != sizeof(plain))
                return fail(KEYD_E_FAIL, "getrandom");
        hr = keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, sizeof(key), 256, data);
        if (KEYD_FAILED(hr))
                return fail(hr, "wrap");
        hr = keyd_negotiate_crypto_session_key_exchange(session, 256, data);
        if (KEYD_FAILED(hr))
                return fail(hr, "NegotiateCryptoSessionKeyExchange");
        free(cert);
        print_hex("session_key", key, sizeof(key));
        print_hex("plaintext", plain, sizeof(plain));

        /* The script encrypts the plaintext with the openssl command
         * (AES-128-CTR, the session key, IV 0) and hands the ciphertext back
         * on stdin: what goes in owes nothing to keyd's code either. */
        fflush(stdout);
        memset(iv, 0, sizeof(iv));
        {
                char line[2 * SMALL + 8];
                if (!fgets(line, sizeof(line), stdin) || strlen(line) < 2 * SMALL)
                        return fail(KEYD_E_FAIL, "no ciphertext on stdin");
                for (size_t i = 0; i < SMALL; i++) {
                        unsigned v;
                        if (sscanf(line + 2 * i, "%2x", &v) != 1)
                                return fail(KEYD_E_FAIL, "bad ciphertext on stdin");
                        ct[i] = (uint8_t) v;
                }
        }

        hr = keyd_create_surface(session, SMALL, &surface);
        if (KEYD_FAILED(hr))
                return fail(hr, "CreateSurface");
        hr = keyd_create_surface(session, BIG, &surface_big);
        if (KEYD_FAILED(hr))
                return fail(hr, "CreateSurface (big)");
        hr = keyd_decryption_blt(session, surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(ct), ct);
        if (KEYD_FAILED(hr))
                return fail(hr, "DecryptionBlt");

        hr = read_back(session, surface, SMALL, out);
        if (KEYD_FAILED(hr))
                return fail(hr, "EncryptionBlt before GetEncryptionBltKey");
        for (unsigned i = 0; i < 2; i++) {
                hr = keyd_get_encryption_blt_key(session, sizeof(wrapped), wrapped);
                if (KEYD_FAILED(hr))
                        return fail(hr, "GetEncryptionBltKey");
        }
        for (unsigned i = 0; i < 2; i++) {
                hr = read_back(session, surface, SMALL, out);
                if (KEYD_FAILED(hr))
                        return fail(hr, "EncryptionBlt");
        }
        hr = read_back(session, surface_big, BIG, big);
        if (KEYD_FAILED(hr))
                return fail(hr, "EncryptionBlt of the big surface");

        free(big);
        keyd_crypto_session_release(session);
        keyd_client_close(client);
        return EXIT_SUCCESS;
}
