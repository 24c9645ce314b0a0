/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl negotiate: one whole key exchange, as a player would do it. The
 * random session key lives in locked memory and is never printed. Its steps
 * that keydctl roundtrip takes too (the certificate, the wrapped key) are
 * here as well. */

#include <getopt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "keydctl.h"
#include "macro.h"
#include "secure-memory.h"

#define SESSION_KEY_SIZE 16U

static const struct {
        const char *name;
        const keyd_guid *guid;
} key_exchange_names[] = {
        { "sha512", &KEYD_KEY_EXCHANGE_RSAES_OAEP },
        { "sha256", &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256 },
        { "sha1", &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1 },
};

int keydctl_parse_key_exchange(const char *s, const keyd_guid **ret) {
        for (size_t i = 0; i < ELEMENTSOF(key_exchange_names); i++)
                if (streq(s, key_exchange_names[i].name)) {
                        *ret = key_exchange_names[i].guid;
                        return 0;
                }
        fprintf(stderr, "keydctl: --key-exchange=%s: expected sha512, sha256 or sha1\n", s);
        return -1;
}

/* The RSA modulus size of a DER certificate, in bits; -1 if unreadable. */
static int certificate_rsa_bits(const uint8_t *der, uint32_t size, unsigned *ret_bits) {
        gnutls_x509_crt_t crt;
        const gnutls_datum_t d = { .data = (unsigned char *) der, .size = size };
        unsigned bits = 0;
        int r;

        if (gnutls_x509_crt_init(&crt) < 0)
                return -1;
        r = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
        if (r >= 0)
                r = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
        gnutls_x509_crt_deinit(crt);
        if (r < 0) {
                fprintf(stderr, "keydctl: the certificate keyd sent is not DER X.509: %s\n", gnutls_strerror(r));
                return -1;
        }
        if (r != GNUTLS_PK_RSA) {
                fprintf(stderr, "keydctl: the certificate keyd sent holds a %s key, not RSA\n",
                        gnutls_pk_algorithm_get_name(r));
                return -1;
        }
        *ret_bits = bits;
        return 0;
}

void keydctl_certificate_done(KeydctlCertificate *c) {
        free(c->der);
        c->der = NULL;
}

int keydctl_get_certificate(keyd_crypto_session *session, KeydctlCertificate *ret) {
        _cleanup_(freep) uint8_t *certificate = NULL;
        uint32_t certificate_size;
        unsigned bits;
        HRESULT hr;

        hr = keyd_crypto_session_get_certificate_size(session, &certificate_size);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "GetCertificateSize failed");
        certificate = malloc(MAX(certificate_size, 1U));
        if (!certificate)
                return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot allocate the certificate");
        hr = keyd_crypto_session_get_certificate(session, certificate_size, certificate);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "GetCertificate failed");
        if (certificate_rsa_bits(certificate, certificate_size, &bits) < 0)
                return -1;

        *ret = (KeydctlCertificate) {
                .der = TAKE_PTR(certificate),
                .size = certificate_size,
                .rsa_bits = bits,
        };
        return 0;
}

int keydctl_wrap_key(const KeydctlCertificate *certificate, const keyd_guid *key_exchange, const uint8_t *key,
                     uint32_t key_size, uint8_t **ret_data, uint32_t *ret_data_size) {
        _cleanup_(freep) uint8_t *data = NULL;
        uint32_t data_size;
        HRESULT hr;

        data_size = (certificate->rsa_bits + 7) / 8;
        data = malloc(data_size);
        if (!data)
                return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot allocate the key exchange data");
        hr = keyd_wrap_session_key(certificate->der, certificate->size, key_exchange, key, key_size, data_size,
                                   data);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "cannot wrap the session key");

        *ret_data = TAKE_PTR(data);
        *ret_data_size = data_size;
        return 0;
}

static const char *oaep_variant_name(const keyd_guid *key_exchange) {
        if (keyd_guid_equal(key_exchange, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256))
                return "SHA-256 (MGF1-SHA-256)";
        if (keyd_guid_equal(key_exchange, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1))
                return "SHA-1 (MGF1-SHA-1)";
        return "SHA-512 (MGF1-SHA-512)";
}

/* Everything after the session exists; the caller releases it. */
static int negotiate(keyd_crypto_session *session, const keyd_guid *key_exchange) {
        _cleanup_(keydctl_certificate_done) KeydctlCertificate certificate = {};
        _cleanup_(secure_freep) uint8_t *key = NULL;
        _cleanup_(freep) uint8_t *data = NULL;
        keyd_crypto_session_status status;
        uint32_t data_size;
        uint64_t handle;
        HRESULT hr;
        int r;

        printf("Session:               %s\n", keyd_crypto_session_get_object_path(session));
        hr = keyd_crypto_session_get_handle(session, &handle);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "GetCryptoSessionHandle failed");
        printf("Handle:                0x%016" PRIx64 "\n", handle);

        if (keydctl_get_certificate(session, &certificate) < 0)
                return -1;
        printf("Certificate:           %" PRIu32 " bytes, RSA %u-bit modulus\n", certificate.size,
               certificate.rsa_bits);

        /* The session key: random, in locked memory, never shown. */
        key = secure_alloc(SESSION_KEY_SIZE);
        if (!key) {
                fprintf(stderr, "keydctl: cannot allocate locked memory for the session key: %m\n");
                return -1;
        }
        r = gnutls_rnd(GNUTLS_RND_KEY, key, SESSION_KEY_SIZE);
        if (r < 0) {
                fprintf(stderr, "keydctl: cannot make a random session key: %s\n", gnutls_strerror(r));
                return -1;
        }

        if (keydctl_wrap_key(&certificate, key_exchange, key, SESSION_KEY_SIZE, &data, &data_size) < 0)
                return -1;
        printf("Key wrapped:           a random 16-byte AES-128 key, RSAES-OAEP with %s, %" PRIu32
               " bytes of ciphertext\n",
               oaep_variant_name(key_exchange), data_size);

        hr = keyd_negotiate_crypto_session_key_exchange(session, data_size, data);
        printf("Negotiate:             0x%08" PRIX32 " %s\n", (uint32_t) hr, keyd_hresult_to_string(hr));
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "NegotiateCryptoSessionKeyExchange failed");

        hr = keyd_check_crypto_session_status(session, &status);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "CheckCryptoSessionStatus failed");
        printf("Status:                %u %s\n", (unsigned) status, keydctl_status_name(status));
        return 0;
}

int verb_negotiate(const Keydctl *ctl, int argc, char *argv[]) {
        static const struct option options[] = {
                { "key-exchange", required_argument, NULL, 'k' },
                { "profile", required_argument, NULL, 'p' },
                {},
        };
        const keyd_guid *key_exchange = &KEYD_KEY_EXCHANGE_RSAES_OAEP, *profile = NULL;
        keyd_crypto_session *session = NULL;
        char s[KEYD_GUID_STRING_SIZE];
        keyd_client *client;
        keyd_guid profile_buf;
        HRESULT hr;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        if (keydctl_parse_key_exchange(optarg, &key_exchange) < 0)
                                return -1;
                        break;
                case 'p':
                        if (keydctl_parse_profile(optarg, &profile_buf, &profile) < 0)
                                return -1;
                        break;
                default:
                        return -1;
                }
        if (optind < argc) {
                fprintf(stderr, "keydctl: negotiate takes no arguments, got \"%s\"\n", argv[optind]);
                return -1;
        }

        if (keydctl_open_client(ctl, &client) < 0)
                return -1;

        printf("Key exchange:          %s\n", keydctl_guid_name(key_exchange, s));
        printf("Decoder profile:       %s\n", profile ? keydctl_guid_name(profile, s) : "none");
        hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, profile, key_exchange, &session);
        if (KEYD_FAILED(hr))
                r = keydctl_fail(hr, "CreateCryptoSession failed");
        else {
                r = negotiate(session, key_exchange);
                keyd_crypto_session_release(session);
        }

        keyd_client_close(client);
        return r;
}
