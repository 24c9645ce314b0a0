/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers shared by the integration tests' Check binaries. */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "harness.h"
#include "keyd/keyd.h"
#include "macro.h"

#define KEYD_BUS_NAME "org.keyd.KeyBroker1"
#define KEYD_MANAGER_PATH "/org/keyd/KeyBroker1"
#define KEYD_MANAGER_INTERFACE "org.keyd.KeyBroker1.Manager"
#define KEYD_SESSION_INTERFACE "org.keyd.KeyBroker1.CryptoSession"

/* RSA-2048, keyd's default device key. */
#define MODULUS_SIZE 256u
#define SESSION_KEY_SIZE 16u

#define USEC_PER_SEC 1000000ULL

/* The three RSAES-OAEP key exchanges and the hash each one uses, in
 * OpenSSL's spelling. */
typedef struct OaepExchange {
        const char *name;
        const keyd_guid *guid;
        const char *md;
} OaepExchange;

static const OaepExchange oaep_exchanges[] = {
        { "D3D11_KEY_EXCHANGE_RSAES_OAEP", &KEYD_KEY_EXCHANGE_RSAES_OAEP, "sha512" },
        { "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256", &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, "sha256" },
        { "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1", &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1, "sha1" },
};

/* Fail the test with libkeyd's message when hr is not what we expect. */
#define ck_assert_hr(hr, expected)                                                                  \
        do {                                                                                       \
                HRESULT _hr = (hr), _ex = (expected);                                              \
                ck_assert_msg(_hr == _ex, "%s returned 0x%08X (%s), expected 0x%08X (%s): \"%s\"", #hr, \
                              (unsigned) _hr, keyd_hresult_to_string(_hr), (unsigned) _ex,          \
                              keyd_hresult_to_string(_ex), keyd_last_error_message());             \
        } while (0)

static inline void random_bytes(void *p, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = getrandom((char *) p + done, n - done, 0);
                ck_assert_int_gt(k, 0);
                done += (size_t) k;
        }
}

static inline keyd_client *open_client(void) {
        keyd_client *c = NULL;

        ck_assert_ptr_nonnull(harness_bus_address());
        ck_assert_hr(keyd_client_open_address(harness_bus_address(), &c), KEYD_S_OK);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* A call that fails because keyd is gone must say so well before any
 * timeout: patient clients wait up to CLIENT_TIMEOUT_USEC for an answer,
 * and a gone keyd must be reported within PROMPT_USEC. */
#define CLIENT_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define PROMPT_USEC (5 * USEC_PER_SEC)

static inline keyd_client *open_patient_client(void) {
        keyd_client *c = open_client();

        ck_assert_hr(keyd_client_set_timeout(c, CLIENT_TIMEOUT_USEC), KEYD_S_OK);
        return c;
}

static inline keyd_crypto_session *create_session(keyd_client *c, const keyd_guid *key_exchange) {
        keyd_crypto_session *s = NULL;

        ck_assert_hr(keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT,
                                                key_exchange, &s),
                     KEYD_S_OK);
        ck_assert_ptr_nonnull(s);
        return s;
}

/* The session's certificate, read the D3D11 way (size first). */
static inline uint8_t *get_certificate(keyd_crypto_session *s, uint32_t *ret_size) {
        uint32_t size = 0;
        uint8_t *cert;

        ck_assert_hr(keyd_crypto_session_get_certificate_size(s, &size), KEYD_S_OK);
        /* A DER certificate with a 2048-bit key is several hundred bytes. */
        ck_assert_uint_gt(size, MODULUS_SIZE);
        ck_assert_uint_lt(size, 16384);
        cert = malloc(size);
        ck_assert_ptr_nonnull(cert);
        ck_assert_hr(keyd_crypto_session_get_certificate(s, size, cert), KEYD_S_OK);
        /* DER SEQUENCE with a long-form length */
        ck_assert_uint_eq(cert[0], 0x30);
        *ret_size = size;
        return cert;
}

/* Wrap a fresh random session key for s with libkeyd and negotiate it; the
 * key is returned in key, for tests that check keyd's crypto against it. */
static inline void negotiate_known_key(keyd_crypto_session *s, const keyd_guid *key_exchange,
                                       uint8_t key[SESSION_KEY_SIZE]) {
        uint8_t data[MODULUS_SIZE], sent[MODULUS_SIZE];
        uint32_t cert_size;
        uint8_t *cert = get_certificate(s, &cert_size);

        random_bytes(key, SESSION_KEY_SIZE);
        ck_assert_hr(keyd_wrap_session_key(cert, cert_size, key_exchange, key, SESSION_KEY_SIZE, sizeof(data),
                                           data),
                     KEYD_S_OK);
        memcpy(sent, data, sizeof(data));
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), data), KEYD_S_OK);
        /* D3D11's exchange is in place: the buffer comes back unchanged. */
        ck_assert_mem_eq(data, sent, sizeof(data));
        free(cert);
}

/* The same, for tests that need not know the key. */
static inline void negotiate_fresh_key(keyd_crypto_session *s, const keyd_guid *key_exchange) {
        uint8_t key[SESSION_KEY_SIZE];

        negotiate_known_key(s, key_exchange, key);
}

static inline bool str_contains(const char *haystack, const char *needle) {
        return haystack && strstr(haystack, needle);
}

static inline void start_bus_and_keyd(const char *const *extra_args) {
        harness_start_bus();
        ck_assert_int_eq(harness_start_keyd(extra_args), 0);
}

/* Run the suite; the harness's directory lives as long as the runner. */
static inline int run_suite(Suite *s) {
        SRunner *sr;
        int failed;

        harness_init();
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        harness_cleanup();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
