/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd_wrap_session_key, through libkeyd.so: wrap a key to a certificate
 * made here with GnuTLS, unwrap it with the private key and
 * common/rsa-oaep.c's decoder (the daemon's half), and check every way the
 * arguments can be wrong. */

#include <check.h>
#include <gmp.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/bignum.h>
#include <nettle/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "keyd/keyd.h"
#include "macro.h"
#include "rsa-oaep.h"

#define KEY_SIZE 16U

/* For the set-up in main(), outside any Check test: fail loudly. */
#define must(expr)                                                                          \
        do {                                                                                \
                if (!(expr)) {                                                              \
                        fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #expr);  \
                        abort();                                                            \
                }                                                                           \
        } while (0)

/* An RSA device identity as keyd's software backend would have one. */
typedef struct TestIdentity {
        gnutls_datum_t der;              /* DER certificate */
        struct rsa_public_key pub;
        struct rsa_private_key priv;
        unsigned bits;
} TestIdentity;

/* Made once in main(), before Check forks the tests. */
static TestIdentity rsa2048, rsa1024, rsa3072;
static gnutls_datum_t ecdsa_der;

static const struct {
        const keyd_guid *guid;
        OaepHash hash;
} key_exchanges[] = {
        { &KEYD_KEY_EXCHANGE_RSAES_OAEP, OAEP_HASH_SHA512 },
        { &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, OAEP_HASH_SHA256 },
        { &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1, OAEP_HASH_SHA1 },
};

static void random_gnutls(void *ctx, size_t length, uint8_t *dst) {
        ck_assert_int_eq(gnutls_rnd(GNUTLS_RND_NONCE, dst, length), 0);
}

static void datum_to_mpz(mpz_t x, const gnutls_datum_t *d) {
        nettle_mpz_set_str_256_u(x, d->size, d->data);
}

/* A self-signed certificate for key, in DER. */
static void make_certificate(gnutls_x509_privkey_t key, gnutls_datum_t *ret_der) {
        gnutls_x509_crt_t crt;
        const unsigned char serial[] = { 0x01, 0x02, 0x03 };
        const char *err;

        must(gnutls_x509_crt_init(&crt) == 0);
        must(gnutls_x509_crt_set_version(crt, 3) == 0);
        must(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) == 0);
        must(gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60) == 0);
        must(gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 3600) == 0);
        must(gnutls_x509_crt_set_dn(crt, "CN=keyd test device", &err) == 0);
        must(gnutls_x509_crt_set_issuer_dn(crt, "CN=keyd test device", &err) == 0);
        must(gnutls_x509_crt_set_key(crt, key) == 0);
        must(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) == 0);
        must(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, ret_der) == 0);
        gnutls_x509_crt_deinit(crt);
}

static void make_rsa_identity(unsigned bits, TestIdentity *id) {
        gnutls_datum_t m, e, d, p, q, u, e1, e2;
        gnutls_x509_privkey_t key;

        must(gnutls_x509_privkey_init(&key) == 0);
        must(gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, bits, 0) == 0);
        make_certificate(key, &id->der);

        must(gnutls_x509_privkey_export_rsa_raw2(key, &m, &e, &d, &p, &q, &u, &e1, &e2) == 0);
        rsa_public_key_init(&id->pub);
        rsa_private_key_init(&id->priv);
        datum_to_mpz(id->pub.n, &m);
        datum_to_mpz(id->pub.e, &e);
        datum_to_mpz(id->priv.d, &d);
        datum_to_mpz(id->priv.p, &p);
        datum_to_mpz(id->priv.q, &q);
        /* The CRT values nettle wants, computed here rather than trusting the
         * coefficient's convention: a = d mod (p-1), b = d mod (q-1), c = q^-1 mod p. */
        mpz_sub_ui(id->priv.a, id->priv.p, 1);
        mpz_mod(id->priv.a, id->priv.d, id->priv.a);
        mpz_sub_ui(id->priv.b, id->priv.q, 1);
        mpz_mod(id->priv.b, id->priv.d, id->priv.b);
        must(mpz_invert(id->priv.c, id->priv.q, id->priv.p));
        must(rsa_public_key_prepare(&id->pub));
        must(rsa_private_key_prepare(&id->priv));
        id->bits = bits;
        must(id->pub.size == bits / 8);

        gnutls_free(m.data);
        gnutls_free(e.data);
        gnutls_free(d.data);
        gnutls_free(p.data);
        gnutls_free(q.data);
        gnutls_free(u.data);
        gnutls_free(e1.data);
        gnutls_free(e2.data);
        gnutls_x509_privkey_deinit(key);
}

static void identity_clear(TestIdentity *id) {
        gnutls_free(id->der.data);
        rsa_public_key_clear(&id->pub);
        rsa_private_key_clear(&id->priv);
}

static void make_ecdsa_certificate(gnutls_datum_t *ret_der) {
        gnutls_x509_privkey_t key;

        must(gnutls_x509_privkey_init(&key) == 0);
        must(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                          0) == 0);
        make_certificate(key, ret_der);
        gnutls_x509_privkey_deinit(key);
}

/* Unwrap ct as the daemon does; the decoded length, or -1 if it does not decode. */
static ssize_t unwrap(const TestIdentity *id, OaepHash hash, const uint8_t *ct, size_t ct_size,
                      uint8_t *msg, size_t msg_max) {
        const OaepParams params = { .hash = hash, .mgf1_hash = hash };
        size_t size = 0;
        int r;

        r = rsa_oaep_decrypt(&id->pub, &id->priv, &params, NULL, random_gnutls, ct, ct_size, msg, msg_max,
                             &size);
        if (r < 0) {
                ck_assert_int_eq(r, -EBADMSG);
                return -1;
        }
        return (ssize_t) size;
}

static void random_key(uint8_t key[static KEY_SIZE]) {
        ck_assert_int_eq(gnutls_rnd(GNUTLS_RND_RANDOM, key, KEY_SIZE), 0);
}

static void check_round_trip(const TestIdentity *id) {
        for (size_t i = 0; i < ELEMENTSOF(key_exchanges); i++) {
                uint8_t key[KEY_SIZE], out[KEY_SIZE + 8];
                uint8_t *ct = malloc(id->pub.size);
                ssize_t n;

                ck_assert_ptr_nonnull(ct);
                random_key(key);
                ck_assert_int_eq(keyd_wrap_session_key(id->der.data, id->der.size, key_exchanges[i].guid, key,
                                                       KEY_SIZE, id->pub.size, ct),
                                 KEYD_S_OK);
                ck_assert_str_eq(keyd_last_error_message(), "");

                n = unwrap(id, key_exchanges[i].hash, ct, id->pub.size, out, sizeof(out));
                ck_assert_int_eq(n, KEY_SIZE);
                ck_assert_mem_eq(out, key, KEY_SIZE);

                /* The GUID chose the hash: the other two do not decode it. */
                for (size_t j = 0; j < ELEMENTSOF(key_exchanges); j++)
                        if (j != i)
                                ck_assert_int_eq(unwrap(id, key_exchanges[j].hash, ct, id->pub.size, out,
                                                        sizeof(out)),
                                                 -1);
                free(ct);
        }
}

START_TEST(test_round_trip_2048) {
        check_round_trip(&rsa2048);
}
END_TEST

START_TEST(test_round_trip_3072) {
        check_round_trip(&rsa3072);
}
END_TEST

START_TEST(test_randomised) {
        uint8_t key[KEY_SIZE], a[256], b[256];

        random_key(key);
        ck_assert_int_eq(keyd_wrap_session_key(rsa2048.der.data, rsa2048.der.size, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                               key, KEY_SIZE, sizeof(a), a),
                         KEYD_S_OK);
        ck_assert_int_eq(keyd_wrap_session_key(rsa2048.der.data, rsa2048.der.size, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                               key, KEY_SIZE, sizeof(b), b),
                         KEYD_S_OK);
        /* OAEP's seed is random: the same key never wraps the same way twice. */
        ck_assert(memcmp(a, b, sizeof(a)) != 0);
}
END_TEST

START_TEST(test_null_pointers) {
        uint8_t key[KEY_SIZE] = {}, ct[256];
        const uint8_t *der = rsa2048.der.data;
        const uint32_t der_size = rsa2048.der.size;
        const keyd_guid *kx = &KEYD_KEY_EXCHANGE_RSAES_OAEP;

        ck_assert_int_eq(keyd_wrap_session_key(NULL, der_size, kx, key, KEY_SIZE, sizeof(ct), ct), KEYD_E_POINTER);
        ck_assert_int_eq(keyd_wrap_session_key(der, der_size, NULL, key, KEY_SIZE, sizeof(ct), ct), KEYD_E_POINTER);
        ck_assert_int_eq(keyd_wrap_session_key(der, der_size, kx, NULL, KEY_SIZE, sizeof(ct), ct), KEYD_E_POINTER);
        ck_assert_int_eq(keyd_wrap_session_key(der, der_size, kx, key, KEY_SIZE, sizeof(ct), NULL), KEYD_E_POINTER);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "pData"));
        ck_assert_uint_eq((uint32_t) KEYD_E_POINTER, 0x80004003u);
}
END_TEST

START_TEST(test_wrong_sizes) {
        static const uint32_t bad_key_sizes[] = { 0, 1, 15, 17, 24, 32 };
        static const uint32_t bad_data_sizes[] = { 0, 1, 128, 255, 257, 384, 512 };
        uint8_t key[64], ct[600];
        const uint8_t *der = rsa2048.der.data;
        const uint32_t der_size = rsa2048.der.size;

        random_key(key);
        for (size_t i = 0; i < ELEMENTSOF(bad_key_sizes); i++)
                ck_assert_int_eq(keyd_wrap_session_key(der, der_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key,
                                                       bad_key_sizes[i], 256, ct),
                                 KEYD_E_INVALIDARG);

        for (size_t i = 0; i < ELEMENTSOF(bad_data_sizes); i++) {
                memset(ct, 0xa5, sizeof(ct));
                ck_assert_int_eq(keyd_wrap_session_key(der, der_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, KEY_SIZE,
                                                       bad_data_sizes[i], ct),
                                 KEYD_E_INVALIDARG);
                /* The message names the length that was expected ... */
                ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "takes 256"));
                /* ... and nothing was written. */
                for (size_t j = 0; j < sizeof(ct); j++)
                        ck_assert_uint_eq(ct[j], 0xa5);
        }
}
END_TEST

START_TEST(test_key_exchange_types) {
        const keyd_guid unknown = { 0x01234567, 0x89ab, 0xcdef, { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef } };
        uint8_t key[KEY_SIZE], ct[256];

        random_key(key);
        /* HW_PROTECTION carries no session key to wrap. */
        ck_assert_int_eq(keyd_wrap_session_key(rsa2048.der.data, rsa2048.der.size, &KEYD_KEY_EXCHANGE_HW_PROTECTION,
                                               key, KEY_SIZE, sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "HW_PROTECTION"));
        /* A GUID that is no key exchange type, or one nobody knows. */
        ck_assert_int_eq(keyd_wrap_session_key(rsa2048.der.data, rsa2048.der.size, &KEYD_CRYPTO_TYPE_AES128_CTR,
                                               key, KEY_SIZE, sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_int_eq(keyd_wrap_session_key(rsa2048.der.data, rsa2048.der.size, &unknown, key, KEY_SIZE,
                                               sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "01234567-89ab-cdef-0123-456789abcdef"));
}
END_TEST

START_TEST(test_garbage_certificates) {
        uint8_t key[KEY_SIZE], ct[256], noise[700];
        const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        uint8_t *copy;

        random_key(key);
        ck_assert_int_eq(gnutls_rnd(GNUTLS_RND_NONCE, noise, sizeof(noise)), 0);
        noise[0] = 0x30; /* starts like a DER SEQUENCE */

        ck_assert_int_eq(keyd_wrap_session_key(noise, sizeof(noise), &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, KEY_SIZE,
                                               sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "not DER X.509"));
        ck_assert_int_eq(keyd_wrap_session_key((const uint8_t *) pem, sizeof(pem) - 1, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                               key, KEY_SIZE, sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_int_eq(keyd_wrap_session_key(rsa2048.der.data, 0, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, KEY_SIZE,
                                               sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(),
                                     "CertificateSize is 0; expected the size GetCertificate reported"));

        /* The real certificate, cut short at every tenth length. */
        for (uint32_t n = 1; n < rsa2048.der.size; n += 10)
                ck_assert_int_eq(keyd_wrap_session_key(rsa2048.der.data, n, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key,
                                                       KEY_SIZE, sizeof(ct), ct),
                                 KEYD_E_INVALIDARG);

        /* A bad outer length. */
        copy = malloc(rsa2048.der.size);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, rsa2048.der.data, rsa2048.der.size);
        copy[0] = 0x31; /* SET instead of SEQUENCE */
        ck_assert_int_eq(keyd_wrap_session_key(copy, rsa2048.der.size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, KEY_SIZE,
                                               sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        free(copy);
}
END_TEST

START_TEST(test_not_rsa) {
        uint8_t key[KEY_SIZE], ct[256];

        random_key(key);
        ck_assert_int_eq(keyd_wrap_session_key(ecdsa_der.data, ecdsa_der.size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key,
                                               KEY_SIZE, sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "RSA"));
}
END_TEST

START_TEST(test_key_too_small_for_hash) {
        uint8_t key[KEY_SIZE], ct[128], out[KEY_SIZE];

        random_key(key);
        /* 128 bytes < 2 * 64 + 2 + 16: no room for SHA-512 OAEP and a 16-byte key. */
        ck_assert_int_eq(keyd_wrap_session_key(rsa1024.der.data, rsa1024.der.size, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                               key, KEY_SIZE, sizeof(ct), ct),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "too small"));

        /* SHA-256 fits, and round-trips. */
        ck_assert_int_eq(keyd_wrap_session_key(rsa1024.der.data, rsa1024.der.size,
                                               &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, key, KEY_SIZE, sizeof(ct), ct),
                         KEYD_S_OK);
        ck_assert_int_eq(unwrap(&rsa1024, OAEP_HASH_SHA256, ct, sizeof(ct), out, sizeof(out)), KEY_SIZE);
        ck_assert_mem_eq(out, key, KEY_SIZE);
}
END_TEST

START_TEST(test_wrong_certificate) {
        uint8_t key[KEY_SIZE], ct[256], out[KEY_SIZE];
        TestIdentity other;

        /* Wrapped to one device, the other cannot unwrap it. */
        make_rsa_identity(2048, &other);
        random_key(key);
        ck_assert_int_eq(keyd_wrap_session_key(other.der.data, other.der.size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key,
                                               KEY_SIZE, sizeof(ct), ct),
                         KEYD_S_OK);
        ck_assert_int_eq(unwrap(&rsa2048, OAEP_HASH_SHA512, ct, sizeof(ct), out, sizeof(out)), -1);
        ck_assert_int_eq(unwrap(&other, OAEP_HASH_SHA512, ct, sizeof(ct), out, sizeof(out)), KEY_SIZE);
        ck_assert_mem_eq(out, key, KEY_SIZE);
        identity_clear(&other);
}
END_TEST

/* The size call answers the modulus length of the test's own key, and a
 * buffer of that size wraps. */
static void check_data_size(const TestIdentity *id) {
        for (size_t i = 0; i < ELEMENTSOF(key_exchanges); i++) {
                uint8_t key[KEY_SIZE], out[KEY_SIZE];
                uint32_t size = 1;
                uint8_t *ct;

                if (id->pub.size < 2 * oaep_hash_size(key_exchanges[i].hash) + 2 + KEY_SIZE) {
                        ck_assert_int_eq(keyd_get_key_exchange_data_size(id->der.data, id->der.size,
                                                                         key_exchanges[i].guid, &size),
                                         KEYD_E_INVALIDARG);
                        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "too small"));
                        ck_assert_uint_eq(size, 0);
                        continue;
                }
                ck_assert_int_eq(keyd_get_key_exchange_data_size(id->der.data, id->der.size, key_exchanges[i].guid,
                                                                 &size),
                                 KEYD_S_OK);
                ck_assert_str_eq(keyd_last_error_message(), "");
                ck_assert_uint_eq(size, (id->bits + 7) / 8);
                ck_assert_uint_eq(size, id->pub.size);

                ct = malloc(size);
                ck_assert_ptr_nonnull(ct);
                random_key(key);
                ck_assert_int_eq(keyd_wrap_session_key(id->der.data, id->der.size, key_exchanges[i].guid, key,
                                                       KEY_SIZE, size, ct),
                                 KEYD_S_OK);
                ck_assert_int_eq(unwrap(id, key_exchanges[i].hash, ct, size, out, sizeof(out)), KEY_SIZE);
                ck_assert_mem_eq(out, key, KEY_SIZE);
                free(ct);
        }
}

START_TEST(test_data_size) {
        check_data_size(&rsa1024);
        check_data_size(&rsa2048);
        check_data_size(&rsa3072);
}
END_TEST

START_TEST(test_data_size_bad_arguments) {
        uint8_t noise[300];
        uint32_t size = 1;

        ck_assert_int_eq(keyd_get_key_exchange_data_size(NULL, rsa2048.der.size, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                         &size),
                         KEYD_E_POINTER);
        ck_assert_int_eq(keyd_get_key_exchange_data_size(rsa2048.der.data, rsa2048.der.size, NULL, &size),
                         KEYD_E_POINTER);
        ck_assert_int_eq(keyd_get_key_exchange_data_size(rsa2048.der.data, rsa2048.der.size,
                                                         &KEYD_KEY_EXCHANGE_RSAES_OAEP, NULL),
                         KEYD_E_POINTER);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "pDataSize"));

        ck_assert_int_eq(keyd_get_key_exchange_data_size(rsa2048.der.data, 0, &KEYD_KEY_EXCHANGE_RSAES_OAEP, &size),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(),
                                     "CertificateSize is 0; expected the size GetCertificate reported"));
        ck_assert_uint_eq(size, 0);

        size = 1;
        ck_assert_int_eq(keyd_get_key_exchange_data_size(rsa2048.der.data, rsa2048.der.size,
                                                         &KEYD_KEY_EXCHANGE_HW_PROTECTION, &size),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "HW_PROTECTION"));
        ck_assert_uint_eq(size, 0);

        ck_assert_int_eq(gnutls_rnd(GNUTLS_RND_NONCE, noise, sizeof(noise)), 0);
        noise[0] = 0x30;
        ck_assert_int_eq(keyd_get_key_exchange_data_size(noise, sizeof(noise), &KEYD_KEY_EXCHANGE_RSAES_OAEP, &size),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "not DER X.509"));
        ck_assert_int_eq(keyd_get_key_exchange_data_size(ecdsa_der.data, ecdsa_der.size,
                                                         &KEYD_KEY_EXCHANGE_RSAES_OAEP, &size),
                         KEYD_E_INVALIDARG);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "RSA"));
}
END_TEST

static Suite *wrap_suite(void) {
        Suite *s = suite_create("wrap-session-key");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_round_trip_2048);
        tcase_add_test(tc, test_round_trip_3072);
        tcase_add_test(tc, test_randomised);
        tcase_add_test(tc, test_null_pointers);
        tcase_add_test(tc, test_wrong_sizes);
        tcase_add_test(tc, test_key_exchange_types);
        tcase_add_test(tc, test_garbage_certificates);
        tcase_add_test(tc, test_not_rsa);
        tcase_add_test(tc, test_key_too_small_for_hash);
        tcase_add_test(tc, test_wrong_certificate);
        tcase_add_test(tc, test_data_size);
        tcase_add_test(tc, test_data_size_bad_arguments);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        make_rsa_identity(2048, &rsa2048);
        make_rsa_identity(1024, &rsa1024);
        make_rsa_identity(3072, &rsa3072);
        make_ecdsa_certificate(&ecdsa_der);

        sr = srunner_create(wrap_suite());
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
