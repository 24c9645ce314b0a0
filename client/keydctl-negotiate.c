/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl negotiate: one whole key exchange, as a player would do it. The
 * random session key lives in locked memory and is never printed. Its steps
 * that keydctl roundtrip takes too (the certificate, the wrapped key) are
 * here as well. */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "client-internal.h"
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

/* "SHA-256", "sha_256" and "Sha256" all say sha256. */
static bool hash_name_eq(const char *s, const char *name) {
        for (;; s++) {
                if (*s == '-' || *s == '_')
                        continue;
                if (tolower((unsigned char) *s) != *name)
                        return false;
                if (*s == '\0')
                        return true;
                name++;
        }
}

int keydctl_parse_key_exchange(const char *s, const keyd_guid **ret) {
        if (!s) {
                *ret = &KEYD_KEY_EXCHANGE_RSAES_OAEP;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(key_exchange_names); i++)
                if (hash_name_eq(s, key_exchange_names[i].name)) {
                        *ret = key_exchange_names[i].guid;
                        return 0;
                }
        return keydctl_usage("--key-exchange=%s: expected sha512, sha256 or sha1 (any case, SHA-256 too)\n", s);
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
                keydctl_error("the certificate keyd sent is not DER X.509: %s\n", gnutls_strerror(r));
                return -1;
        }
        if (r != GNUTLS_PK_RSA) {
                keydctl_error("the certificate keyd sent holds a %s key, not RSA\n",
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
                return -KEYDCTL_EXIT_FAILURE;

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

/* The data for NegotiateCryptoSessionKeyExchange: a random session key
 * (in locked memory, never shown) wrapped to the certificate. */
static int make_wrapped_key(keyd_crypto_session *session, const keyd_guid *key_exchange, uint8_t **ret_data,
                            uint32_t *ret_data_size) {
        _cleanup_(keydctl_certificate_done) KeydctlCertificate certificate = {};
        _cleanup_(secure_freep) uint8_t *key = NULL;
        int r;

        r = keydctl_get_certificate(session, &certificate);
        if (r < 0)
                return r;
        printf("Certificate:           %" PRIu32 " bytes, RSA %u-bit modulus\n", certificate.size,
               certificate.rsa_bits);

        key = secure_alloc(SESSION_KEY_SIZE);
        if (!key) {
                keydctl_error("cannot allocate locked memory for the session key: %m\n");
                return -KEYDCTL_EXIT_FAILURE;
        }
        r = gnutls_rnd(GNUTLS_RND_KEY, key, SESSION_KEY_SIZE);
        if (r < 0) {
                keydctl_error("cannot make a random session key: %s\n", gnutls_strerror(r));
                return -KEYDCTL_EXIT_FAILURE;
        }

        r = keydctl_wrap_key(&certificate, key_exchange, key, SESSION_KEY_SIZE, ret_data, ret_data_size);
        if (r < 0)
                return r;
        printf("Key wrapped:           a random 16-byte AES-128 key, RSAES-OAEP with %s, %" PRIu32
               " bytes of ciphertext\n",
               oaep_variant_name(key_exchange), *ret_data_size);
        return 0;
}

/* --data=FILE: the bytes as they are, at most what one bus call carries. */
static int read_data_file(const char *path, uint8_t **ret_data, uint32_t *ret_data_size) {
        _cleanup_free_ uint8_t *data = NULL;
        FILE *f;
        size_t n;

        f = streq(path, "-") ? stdin : fopen(path, "re");
        if (!f) {
                keydctl_error("--data=%s: cannot open it: %m\n", path);
                return -KEYDCTL_EXIT_FAILURE;
        }
        data = malloc(KEYD_MAX_ARRAY_SIZE + 1);
        if (!data) {
                if (f != stdin)
                        fclose(f);
                return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot allocate the key exchange data");
        }
        n = fread(data, 1, KEYD_MAX_ARRAY_SIZE + 1, f);
        if (ferror(f)) {
                keydctl_error("--data=%s: cannot read it: %m\n", path);
                if (f != stdin)
                        fclose(f);
                return -KEYDCTL_EXIT_FAILURE;
        }
        if (f != stdin)
                fclose(f);
        if (n > KEYD_MAX_ARRAY_SIZE) {
                keydctl_error("--data=%s: more than %u bytes; an RSAES-OAEP ciphertext is the size of the "
                              "certificate's RSA modulus (256 bytes for 2048 bits)\n", path, KEYD_MAX_ARRAY_SIZE);
                return -KEYDCTL_EXIT_FAILURE;
        }
        *ret_data = TAKE_PTR(data);
        *ret_data_size = (uint32_t) n;
        return 0;
}

/* Everything after the session exists; the caller releases it. */
static int negotiate(keyd_crypto_session *session, const keyd_guid *key_exchange, const char *data_path) {
        _cleanup_(freep) uint8_t *data = NULL;
        keyd_crypto_session_status status;
        uint32_t data_size = 0;
        uint64_t handle;
        HRESULT hr;
        int r;

        printf("Session:               %s\n", keyd_crypto_session_get_object_path(session));
        hr = keyd_crypto_session_get_handle(session, &handle);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "GetCryptoSessionHandle failed");
        printf("Handle:                0x%016" PRIx64 "\n", handle);

        if (data_path) {
                r = read_data_file(data_path, &data, &data_size);
                if (r < 0)
                        return r;
                printf("Data:                  %" PRIu32 " bytes from %s\n", data_size,
                       streq(data_path, "-") ? "standard input" : data_path);
        } else {
                r = make_wrapped_key(session, key_exchange, &data, &data_size);
                if (r < 0)
                        return r;
        }

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
        const keyd_guid *key_exchange, *profile = NULL;
        keyd_crypto_session *session = NULL;
        char s[KEYD_GUID_STRING_SIZE];
        keyd_client *client;
        keyd_guid profile_buf;
        HRESULT hr;
        int r;

        r = keydctl_parse_key_exchange(ctl->key_exchange, &key_exchange);
        if (r < 0)
                return r;
        if (ctl->profile) {
                r = keydctl_parse_profile(ctl->profile, &profile_buf, &profile);
                if (r < 0)
                        return r;
        }

        r = keydctl_open_client(ctl, &client);
        if (r < 0)
                return r;

        printf("Key exchange:          %s\n", keydctl_guid_name(key_exchange, s));
        printf("Decoder profile:       %s\n", profile ? keydctl_guid_name(profile, s) : "none");
        hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, profile, key_exchange, &session);
        if (KEYD_FAILED(hr))
                r = keydctl_fail(hr, "CreateCryptoSession failed");
        else {
                r = negotiate(session, key_exchange, ctl->data);
                keyd_crypto_session_release(session);
        }

        keyd_client_close(client);
        return r;
}
