/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Bad input against the real keyd: wrong sizes, ciphertexts that do not
 * decrypt, malformed and unknown GUIDs sent raw over the bus, other
 * connections' sessions, closed sessions, NULL pointers into libkeyd and the
 * session limits. After each test keyd must still serve and hold no
 * sessions once the clients are gone. */

#include <check.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test-util.h"

#define ERROR_INVALID_ARG "org.keyd.KeyBroker1.Error.InvalidArg"
#define ERROR_ACCESS_DENIED "org.keyd.KeyBroker1.Error.AccessDenied"
#define ERROR_INVALID_CALL "org.keyd.KeyBroker1.Error.InvalidCall"

#define AES128_CTR "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f"
#define H264 "1b81be68-a0c7-11d3-b984-00c04f2e73c5"
#define RSAES_OAEP "c1949895-d72a-4a1d-8e5d-ed857d171520"
#define HW_PROTECTION "b1170d8a-628d-4da3-ad3b-82ddb08b4970"

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

/* keyd still answers, and holds no session once every client is gone. */
static void assert_keyd_healthy(void) {
        keyd_content_protection_caps caps;
        keyd_crypto_session *s;
        keyd_client *c;
        uint32_t last = UINT32_MAX;
        int r;

        r = harness_wait_session_count(0, 10 * USEC_PER_SEC, &last);
        ck_assert_msg(r == 0, "SessionCount stays at %u after every client left", last);

        c = open_client();
        ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps), KEYD_S_OK);
        ck_assert_uint_eq(caps.BlockAlignmentSize, 16);
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, &last), 0);
        ck_assert_int_gt(harness_keyd_pid(), 0);
}

/* Whether text holds the number n as a whole word (not as part of another number). */
static bool contains_number(const char *text, unsigned long long n) {
        char s[32];
        size_t len;

        snprintf(s, sizeof(s), "%llu", n);
        len = strlen(s);
        for (const char *p = text; p && (p = strstr(p, s)); p++)
                if ((p == text || !isdigit((unsigned char) p[-1])) && !isdigit((unsigned char) p[len]))
                        return true;
        return false;
}

/* ---- NegotiateCryptoSessionKeyExchange ---- */

START_TEST(test_wrong_data_size) {
        static const uint32_t sizes[] = { 0, 1, 255, 257, 512, 1024 * 1024 };
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t *data = calloc(1, 1024 * 1024);

        ck_assert_ptr_nonnull(data);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                const char *msg;

                random_bytes(data, sizes[i] > 4096 ? 4096 : sizes[i]);
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizes[i], sizes[i] ? data : NULL),
                             KEYD_E_INVALIDARG);
                msg = keyd_last_error_message();
                ck_assert_msg(strncmp(msg, "NegotiateCryptoSessionKeyExchange: ", 35) == 0, "message: %s", msg);
                ck_assert_msg(contains_number(msg + 35, sizes[i]) && contains_number(msg, MODULUS_SIZE),
                              "the message for %u bytes does not name both lengths: %s", sizes[i], msg);
                ck_assert_msg(!str_contains(msg, "0x8007"), "the HRESULT prefix leaked into: %s", msg);
        }

        /* Beyond the 16 MiB bound of an "ay" argument libkeyd refuses by itself. */
        {
                const uint32_t huge = 16u * 1024u * 1024u + 1u;
                uint8_t *big = calloc(1, huge);

                ck_assert_ptr_nonnull(big);
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, huge, big), KEYD_E_INVALIDARG);
                ck_assert_msg(contains_number(keyd_last_error_message(), huge), "message: %s",
                              keyd_last_error_message());
                free(big);
        }

        /* None of it hurt the session. */
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        free(data);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        assert_keyd_healthy();
}
END_TEST

/* Negotiate data on s; must fail with E_INVALIDARG. Returns the message. */
static char *negotiate_expect_invalid(keyd_crypto_session *s, const uint8_t data[static MODULUS_SIZE]) {
        uint8_t buf[MODULUS_SIZE];
        char *msg;

        memcpy(buf, data, sizeof(buf));
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(buf), buf), KEYD_E_INVALIDARG);
        msg = strdup(keyd_last_error_message());
        ck_assert_ptr_nonnull(msg);
        ck_assert_msg(strlen(msg) > 40, "too terse to act on: %s", msg);
        return msg;
}

static size_t openssl_encrypt(keyd_crypto_session *s, const char *md, const uint8_t *message, size_t size,
                              uint8_t out[static MODULUS_SIZE]) {
        uint32_t cert_size;
        _cleanup_free_ uint8_t *cert = get_certificate(s, &cert_size);
        _cleanup_free_ char *der = harness_write_file("cert.der", cert, cert_size);
        _cleanup_free_ char *msg_path = harness_write_file("msg.bin", message, size);
        _cleanup_free_ char *pem = NULL, *ct_path = NULL;
        _cleanup_free_ void *ct = NULL;
        char oaep_md[64], mgf1_md[64];
        size_t ct_size = 0;
        HarnessRun run;

        const char *x509[] = { "openssl", "x509", "-inform", "DER", "-in", der, "-noout", "-pubkey", NULL };
        ck_assert_int_eq(harness_run(x509, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 0, "openssl x509: %s", run.err);
        pem = harness_write_file("pub.pem", run.out, strlen(run.out));
        harness_run_done(&run);

        ck_assert_int_gt(asprintf(&ct_path, "%s/ct.bin", harness_tmpdir()), 0);
        snprintf(oaep_md, sizeof(oaep_md), "rsa_oaep_md:%s", md);
        snprintf(mgf1_md, sizeof(mgf1_md), "rsa_mgf1_md:%s", md);
        const char *enc[] = { "openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-in", msg_path,
                              "-out", ct_path, "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", oaep_md,
                              "-pkeyopt", mgf1_md, NULL };
        ck_assert_int_eq(harness_run(enc, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 0, "openssl pkeyutl: %s", run.err);
        harness_run_done(&run);

        ct = harness_read_file(ct_path, &ct_size);
        ck_assert_ptr_nonnull(ct);
        ck_assert_uint_eq(ct_size, MODULUS_SIZE);
        memcpy(out, ct, MODULUS_SIZE);
        return ct_size;
}

START_TEST(test_bad_ciphertexts_one_message) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t data[MODULUS_SIZE], key[32];
        uint32_t cert_size;
        uint8_t *cert = get_certificate(s, &cert_size);
        _cleanup_free_ char *random_msg = NULL;

        /* Random bytes: (almost surely) bad padding. */
        random_bytes(data, sizeof(data));
        random_msg = negotiate_expect_invalid(s, data);
        ck_assert_msg(strncmp(random_msg, "NegotiateCryptoSessionKeyExchange: ", 35) == 0, "%s", random_msg);

        struct {
                const char *what;
                uint8_t data[MODULUS_SIZE];
        } cases[6];
        size_t n = 0;

        /* An integer not below the modulus. */
        cases[n].what = "all 0xff (>= modulus)";
        memset(cases[n++].data, 0xff, MODULUS_SIZE);
        /* Zero decrypts to zero: no OAEP structure at all. */
        cases[n].what = "all zero";
        memset(cases[n++].data, 0, MODULUS_SIZE);
        /* A good ciphertext with one bit flipped. */
        random_bytes(key, SESSION_KEY_SIZE);
        ck_assert_hr(keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, SESSION_KEY_SIZE,
                                           MODULUS_SIZE, cases[n].data),
                     KEYD_S_OK);
        cases[n].data[MODULUS_SIZE - 1] ^= 0x01;
        cases[n++].what = "a good ciphertext, last bit flipped";
        /* Well-formed OAEP with the wrong hash. */
        ck_assert_hr(keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, key,
                                           SESSION_KEY_SIZE, MODULUS_SIZE, cases[n].data),
                     KEYD_S_OK);
        cases[n++].what = "OAEP-SHA256 to a SHA-512 session";
        /* Well-formed OAEP-SHA512 (by OpenSSL) of a key of the wrong length. */
        random_bytes(key, sizeof(key));
        openssl_encrypt(s, "sha512", key, 32, cases[n].data);
        cases[n++].what = "OAEP-SHA512 of a 32-byte message";
        openssl_encrypt(s, "sha512", key, 15, cases[n].data);
        cases[n++].what = "OAEP-SHA512 of a 15-byte message";

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *msg = negotiate_expect_invalid(s, cases[i].data);
                /* Manger: nothing tells one failure from another. */
                ck_assert_msg(streq(msg, random_msg), "%s gives \"%s\", random bytes \"%s\"", cases[i].what, msg,
                              random_msg);
        }

        /* The right thing still works on the same session. */
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        free(cert);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        assert_keyd_healthy();
}
END_TEST

/* ---- raw GUID strings ---- */

/* Call a Manager method raw; expect the error name and the HRESULT prefix. */
static void expect_error(sd_bus *bus, const char *path, const char *interface, const char *member,
                         const char *error_name, const char *prefix, const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(bus, KEYD_BUS_NAME, path, interface, member, &error, &reply, types, ap);
        va_end(ap);

        ck_assert_msg(r < 0, "%s on %s succeeded; expected %s", member, path, error_name);
        ck_assert_msg(streq_ptr(error.name, error_name), "%s: got %s (%s), expected %s", member, error.name,
                      error.message, error_name);
        ck_assert_msg(error.message && strncmp(error.message, prefix, strlen(prefix)) == 0,
                      "%s: message \"%s\" does not begin with \"%s\"", member, error.message, prefix);
        /* Then a sentence, kept short even for huge input. */
        ck_assert_uint_gt(strlen(error.message), strlen(prefix) + 10);
        ck_assert_uint_lt(strlen(error.message), 2048);
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
}

#define expect_invalid_arg(bus, member, types, ...)                                                   \
        expect_error(bus, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, member, ERROR_INVALID_ARG, "0x80070057: ", \
                     types, __VA_ARGS__)

START_TEST(test_malformed_guids_raw) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        char huge[10001];
        const char *bad[] = {
                "not-a-guid",
                "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4",       /* one digit short */
                "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f0",     /* one digit long */
                "9b6bd711x4f74-41c9-9e7b-0be2d7d93b4f",      /* wrong separator */
                "9g6bd711-4f74-41c9-9e7b-0be2d7d93b4f",      /* not hex */
                "{9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f",     /* unbalanced brace */
                "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f}",
                " 9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f",
                "9b6bd7114f7441c99e7b0be2d7d93b4f",          /* no dashes */
                "12345678-1234-1234-1234-123456789abc",      /* well-formed, unknown */
                "00000000-0000-0000-0000-000000000000",
                huge,
        };

        memset(huge, 'a', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = 0;
        ck_assert_int_eq(harness_open_bus(&bus), 0);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                expect_invalid_arg(bus, "CreateCryptoSession", "sss", bad[i], H264, RSAES_OAEP);
                expect_invalid_arg(bus, "CreateCryptoSession", "sss", AES128_CTR, bad[i], RSAES_OAEP);
                expect_invalid_arg(bus, "CreateCryptoSession", "sss", AES128_CTR, H264, bad[i]);
                expect_invalid_arg(bus, "GetContentProtectionCaps", "ss", bad[i], "");
                expect_invalid_arg(bus, "GetContentProtectionCaps", "ss", AES128_CTR, bad[i]);
                expect_invalid_arg(bus, "CheckCryptoKeyExchange", "ssu", bad[i], "", 0);
                expect_invalid_arg(bus, "GetCryptoSessionPrivateDataSize", "sss", AES128_CTR, "", bad[i]);
        }

        /* Known GUIDs of the wrong kind. */
        expect_invalid_arg(bus, "CreateCryptoSession", "sss", RSAES_OAEP, H264, RSAES_OAEP);
        expect_invalid_arg(bus, "CreateCryptoSession", "sss", AES128_CTR, AES128_CTR, RSAES_OAEP);
        expect_invalid_arg(bus, "CreateCryptoSession", "sss", AES128_CTR, H264, H264);
        /* The crypto type may be empty only in GetContentProtectionCaps; the key exchange never. */
        expect_invalid_arg(bus, "CreateCryptoSession", "sss", "", H264, RSAES_OAEP);
        expect_invalid_arg(bus, "CreateCryptoSession", "sss", AES128_CTR, H264, "");
        expect_invalid_arg(bus, "CheckCryptoKeyExchange", "ssu", "", "", 0);
        expect_invalid_arg(bus, "GetCryptoSessionPrivateDataSize", "sss", "", "", RSAES_OAEP);

        /* Braces and any case are accepted; GUIDs come back lowercase. */
        {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *reply = NULL;
                _cleanup_free_ char *crypto_type = NULL, *key_exchange = NULL, *profile = NULL;
                const char *path;
                int r;

                r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                       "CreateCryptoSession", &error, &reply, "sss",
                                       "{9B6BD711-4F74-41C9-9E7B-0BE2D7D93B4F}", "", "C1949895-d72a-4A1D-8e5d-ED857D171520");
                ck_assert_msg(r >= 0, "CreateCryptoSession with braces/uppercase: %s", error.message);
                ck_assert_int_gt(sd_bus_message_read(reply, "o", &path), 0);
                ck_assert_int_ge(sd_bus_get_property_string(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                            "CryptoType", NULL, &crypto_type),
                                 0);
                ck_assert_str_eq(crypto_type, AES128_CTR);
                ck_assert_int_ge(sd_bus_get_property_string(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                            "KeyExchangeType", NULL, &key_exchange),
                                 0);
                ck_assert_str_eq(key_exchange, RSAES_OAEP);
                ck_assert_int_ge(sd_bus_get_property_string(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                            "DecoderProfile", NULL, &profile),
                                 0);
                ck_assert_str_eq(profile, "");
                ck_assert_int_ge(sd_bus_call_method(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "Close",
                                                    NULL, NULL, ""),
                                 0);
                sd_bus_message_unref(reply);
                sd_bus_error_free(&error);
        }

        /* A message with the wrong signature is refused by sd-bus itself. */
        {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                           "CreateCryptoSession", &error, NULL, "s", AES128_CTR);
                ck_assert_int_lt(r, 0);
                ck_assert_msg(error.name && strstr(error.name, "InvalidArgs"), "%s", error.name);
                sd_bus_error_free(&error);
        }

        assert_keyd_healthy();
}
END_TEST

/* ---- calls not allowed for the session's key exchange type ---- */

static char *create_session_raw(sd_bus *bus, const char *key_exchange) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        char *copy;
        int r;

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "CreateCryptoSession",
                               &error, &reply, "sss", AES128_CTR, "", key_exchange);
        ck_assert_msg(r >= 0, "CreateCryptoSession: %s", error.message);
        ck_assert_int_gt(sd_bus_message_read(reply, "o", &path), 0);
        copy = strdup(path);
        ck_assert_ptr_nonnull(copy);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        return copy;
}

START_TEST(test_wrong_key_exchange_type_raw) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *hw = NULL, *oaep = NULL;
        uint8_t data[MODULUS_SIZE];
        sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;

        ck_assert_int_eq(harness_open_bus(&bus), 0);
        hw = create_session_raw(bus, HW_PROTECTION);
        oaep = create_session_raw(bus, RSAES_OAEP);

        /* Contract section 4: InvalidCall, not InvalidArg. */
        random_bytes(data, sizeof(data));
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, hw, KEYD_SESSION_INTERFACE,
                                                        "NegotiateCryptoSessionKeyExchange"),
                         0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, sizeof(data)), 0);
        ck_assert_int_lt(sd_bus_call(bus, m, 0, &error, NULL), 0);
        ck_assert_str_eq(error.name, ERROR_INVALID_CALL);
        ck_assert_msg(strncmp(error.message, "0x887A0001: ", 12) == 0, "%s", error.message);
        sd_bus_error_free(&error);
        m = sd_bus_message_unref(m);

        expect_error(bus, hw, KEYD_SESSION_INTERFACE, "GetCertificate", ERROR_INVALID_CALL, "0x887A0001: ", "");
        expect_error(bus, oaep, KEYD_SESSION_INTERFACE, "ExecuteHWProtectionFunction", ERROR_INVALID_CALL,
                     "0x887A0001: ", "uuayu", 1, 0, 4, 'a', 'b', 'c', 'd', 64);

        /* Both sessions still answer their own calls. */
        ck_assert_int_ge(sd_bus_call_method(bus, KEYD_BUS_NAME, hw, KEYD_SESSION_INTERFACE,
                                            "CheckCryptoSessionStatus", NULL, NULL, ""),
                         0);
        ck_assert_int_ge(sd_bus_call_method(bus, KEYD_BUS_NAME, oaep, KEYD_SESSION_INTERFACE, "GetCertificate", NULL,
                                            NULL, ""),
                         0);
        /* Leaving with both open: keyd drops them. */
        bus = sd_bus_flush_close_unref(bus);
        assert_keyd_healthy();
}
END_TEST

/* ---- ownership ---- */

START_TEST(test_other_connection) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *other = NULL;
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        const char *path = keyd_crypto_session_get_object_path(s);
        _cleanup_free_ char *owner = NULL, *key_exchange = NULL;
        const char *other_name = NULL;
        uint8_t data[MODULUS_SIZE];
        uint64_t handle = 0, other_handle = 0;
        uint32_t v;
        keyd_crypto_session_status status;

        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_hr(keyd_crypto_session_get_handle(s, &handle), KEYD_S_OK);

        ck_assert_int_eq(harness_open_bus(&other), 0);
        ck_assert_int_ge(sd_bus_get_unique_name(other, &other_name), 0);

        /* Properties stay readable for inspection. */
        ck_assert_int_ge(sd_bus_get_property_trivial(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "Handle",
                                                     NULL, 't', &other_handle),
                         0);
        ck_assert_uint_eq(other_handle, handle);
        ck_assert_int_ge(sd_bus_get_property_string(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "Owner",
                                                    NULL, &owner),
                         0);
        ck_assert_msg(owner[0] == ':' && !streq(owner, other_name), "Owner is %s", owner);
        ck_assert_int_ge(sd_bus_get_property_trivial(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "OwnerUID",
                                                     NULL, 'u', &v),
                         0);
        ck_assert_uint_eq(v, getuid());
        ck_assert_int_ge(sd_bus_get_property_string(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                    "KeyExchangeType", NULL, &key_exchange),
                         0);
        ck_assert_str_eq(key_exchange, RSAES_OAEP);

        /* Methods are the owner's alone, even for root. */
        random_bytes(data, sizeof(data));
        expect_error(other, path, KEYD_SESSION_INTERFACE, "GetCertificate", ERROR_ACCESS_DENIED, "0x80070005: ",
                     "");
        expect_error(other, path, KEYD_SESSION_INTERFACE, "CheckCryptoSessionStatus", ERROR_ACCESS_DENIED,
                     "0x80070005: ", "");
        {
                sd_bus_message *m = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;

                ck_assert_int_ge(sd_bus_message_new_method_call(other, &m, KEYD_BUS_NAME, path,
                                                                KEYD_SESSION_INTERFACE,
                                                                "NegotiateCryptoSessionKeyExchange"),
                                 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, sizeof(data)), 0);
                ck_assert_int_lt(sd_bus_call(other, m, 0, &error, NULL), 0);
                ck_assert_str_eq(error.name, ERROR_ACCESS_DENIED);
                ck_assert_msg(strncmp(error.message, "0x80070005: ", 12) == 0, "%s", error.message);
                sd_bus_error_free(&error);
                sd_bus_message_unref(m);
        }
        expect_error(other, path, KEYD_SESSION_INTERFACE, "Close", ERROR_ACCESS_DENIED, "0x80070005: ", "");

        /* A session that does not exist. */
        expect_error(other, "/org/keyd/KeyBroker1/session/987654321", KEYD_SESSION_INTERFACE, "Close",
                     "org.freedesktop.DBus.Error.UnknownObject", "", "");

        /* The owner's session is untouched. */
        ck_assert_hr(keyd_check_crypto_session_status(s, &status), KEYD_S_OK);
        ck_assert_int_eq(status, KEYD_CRYPTO_SESSION_STATUS_OK);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 1);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
        assert_keyd_healthy();
}
END_TEST

START_TEST(test_closed_session) {
        keyd_client *c = open_client();
        keyd_crypto_session *s1 = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *s2 = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1);
        keyd_crypto_session_status status;
        uint8_t data[MODULUS_SIZE], cert[2048];
        uint64_t handle;
        uint32_t v;

        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 2);

        /* Closing the client ends its sessions in keyd; the objects live on
         * and fail with DEVICE_REMOVED. */
        ck_assert_ptr_null(keyd_client_close(c));
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v), 0);

        random_bytes(data, sizeof(data));
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s1, sizeof(data), data),
                     KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_msg(strlen(keyd_last_error_message()) > 0, "no message");
        ck_assert_hr(keyd_check_crypto_session_status(s1, &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_hr(keyd_crypto_session_get_certificate(s2, sizeof(cert), cert), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_hr(keyd_crypto_session_get_handle(s2, &handle), KEYD_DXGI_ERROR_DEVICE_REMOVED);

        ck_assert_ptr_null(keyd_crypto_session_release(s1));
        ck_assert_ptr_null(keyd_crypto_session_release(s2));
        assert_keyd_healthy();
}
END_TEST

/* ---- NULL pointers ---- */

START_TEST(test_null_pointers) {
        keyd_client *c = open_client(), *c2 = NULL;
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP), *s2 = NULL;
        const keyd_guid *aes = &KEYD_CRYPTO_TYPE_AES128_CTR, *oaep = &KEYD_KEY_EXCHANGE_RSAES_OAEP;
        keyd_content_protection_caps caps;
        keyd_crypto_session_status status;
        uint8_t data[MODULUS_SIZE], key[SESSION_KEY_SIZE] = {}, cert[16];
        uint32_t u32;
        uint64_t u64;
        keyd_guid g;
        char buf[KEYD_GUID_STRING_SIZE];
        uint32_t v;

#define CHECK_POINTER(call)                                                                       \
        do {                                                                                     \
                ck_assert_hr(call, KEYD_E_POINTER);                                              \
                ck_assert_msg(str_contains(keyd_last_error_message(), "NULL"), "%s: message \"%s\"", \
                              #call, keyd_last_error_message());                                 \
        } while (0)

        CHECK_POINTER(keyd_client_open(NULL));
        CHECK_POINTER(keyd_client_open_address(NULL, &c2));
        CHECK_POINTER(keyd_client_open_address(harness_bus_address(), NULL));
        CHECK_POINTER(keyd_client_set_timeout(NULL, 0));

        CHECK_POINTER(keyd_get_content_protection_caps(NULL, aes, NULL, &caps));
        CHECK_POINTER(keyd_get_content_protection_caps(c, aes, NULL, NULL));
        CHECK_POINTER(keyd_check_crypto_key_exchange(NULL, aes, NULL, 0, &g));
        CHECK_POINTER(keyd_check_crypto_key_exchange(c, NULL, NULL, 0, &g));
        CHECK_POINTER(keyd_check_crypto_key_exchange(c, aes, NULL, 0, NULL));
        CHECK_POINTER(keyd_get_crypto_session_private_data_size(NULL, aes, NULL, oaep, &u32, &u32));
        CHECK_POINTER(keyd_get_crypto_session_private_data_size(c, NULL, NULL, oaep, &u32, &u32));
        CHECK_POINTER(keyd_get_crypto_session_private_data_size(c, aes, NULL, NULL, &u32, &u32));
        CHECK_POINTER(keyd_get_crypto_session_private_data_size(c, aes, NULL, oaep, NULL, &u32));
        CHECK_POINTER(keyd_get_crypto_session_private_data_size(c, aes, NULL, oaep, &u32, NULL));
        CHECK_POINTER(keyd_create_crypto_session(NULL, aes, NULL, oaep, &s2));
        CHECK_POINTER(keyd_create_crypto_session(c, NULL, NULL, oaep, &s2));
        CHECK_POINTER(keyd_create_crypto_session(c, aes, NULL, NULL, &s2));
        CHECK_POINTER(keyd_create_crypto_session(c, aes, NULL, oaep, NULL));
        ck_assert_ptr_null(s2);

        CHECK_POINTER(keyd_crypto_session_get_certificate_size(NULL, &u32));
        CHECK_POINTER(keyd_crypto_session_get_certificate_size(s, NULL));
        CHECK_POINTER(keyd_crypto_session_get_certificate(NULL, sizeof(cert), cert));
        CHECK_POINTER(keyd_crypto_session_get_certificate(s, sizeof(cert), NULL));
        CHECK_POINTER(keyd_crypto_session_get_crypto_type(NULL, &g));
        CHECK_POINTER(keyd_crypto_session_get_crypto_type(s, NULL));
        CHECK_POINTER(keyd_crypto_session_get_decoder_profile(NULL, &g));
        CHECK_POINTER(keyd_crypto_session_get_decoder_profile(s, NULL));
        CHECK_POINTER(keyd_crypto_session_get_handle(NULL, &u64));
        CHECK_POINTER(keyd_crypto_session_get_handle(s, NULL));
        CHECK_POINTER(keyd_negotiate_crypto_session_key_exchange(NULL, sizeof(data), data));
        CHECK_POINTER(keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), NULL));
        CHECK_POINTER(keyd_check_crypto_session_status(NULL, &status));
        CHECK_POINTER(keyd_check_crypto_session_status(s, NULL));

        CHECK_POINTER(keyd_wrap_session_key(NULL, 500, oaep, key, sizeof(key), sizeof(data), data));
        CHECK_POINTER(keyd_wrap_session_key(cert, sizeof(cert), NULL, key, sizeof(key), sizeof(data), data));
        CHECK_POINTER(keyd_wrap_session_key(cert, sizeof(cert), oaep, NULL, sizeof(key), sizeof(data), data));
        CHECK_POINTER(keyd_wrap_session_key(cert, sizeof(cert), oaep, key, sizeof(key), sizeof(data), NULL));

        ck_assert_hr(keyd_guid_from_string(NULL, &g), KEYD_E_POINTER);
        ck_assert_hr(keyd_guid_from_string(AES128_CTR, NULL), KEYD_E_POINTER);
        ck_assert_hr(keyd_guid_to_string(NULL, buf, sizeof(buf)), KEYD_E_POINTER);
        ck_assert_hr(keyd_guid_to_string(aes, NULL, sizeof(buf)), KEYD_E_POINTER);
#undef CHECK_POINTER

        /* NULL is fine where D3D11 allows it. */
        ck_assert_ptr_null(keyd_client_close(NULL));
        ck_assert_ptr_null(keyd_crypto_session_release(NULL));
        ck_assert_ptr_null(keyd_crypto_session_get_object_path(NULL));

        /* After all that: one session, still working; no failed call left one behind. */
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 1);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        /* A success clears the last error. */
        ck_assert_str_eq(keyd_last_error_message(), "");

        keyd_crypto_session_release(s);
        keyd_client_close(c);
        assert_keyd_healthy();
}
END_TEST

/* ---- limits ---- */

static const char *const limit_args[] = { "--max-sessions-per-client=4", "--max-sessions=6", NULL };

static void setup_limits(void) {
        start_bus_and_keyd(limit_args);
}

START_TEST(test_session_limits) {
        keyd_client *a = open_client(), *b = open_client(), *d;
        keyd_crypto_session *sa[5] = {}, *sb[3] = {}, *sd = NULL, *extra = NULL;
        uint32_t v;

        ck_assert_int_ge(harness_get_property_u32(KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "MaxSessionsPerClient",
                                                  &v),
                         0);
        ck_assert_uint_eq(v, 4);

        for (size_t i = 0; i < 4; i++)
                sa[i] = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        /* The fifth of one client: E_OUTOFMEMORY, saying which limit. */
        ck_assert_hr(keyd_create_crypto_session(a, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                &sa[4]),
                     KEYD_E_OUTOFMEMORY);
        ck_assert_ptr_null(sa[4]);
        ck_assert_msg(contains_number(keyd_last_error_message(), 4) &&
                              str_contains(keyd_last_error_message(), "MaxSessionsPerClient"),
                      "message: %s", keyd_last_error_message());
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 4);

        /* Another connection still can, up to the total of 6. */
        sb[0] = create_session(b, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256);
        sb[1] = create_session(b, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        ck_assert_hr(keyd_create_crypto_session(b, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                &sb[2]),
                     KEYD_E_OUTOFMEMORY);
        ck_assert_ptr_null(sb[2]);
        ck_assert_msg(contains_number(keyd_last_error_message(), 6) &&
                              str_contains(keyd_last_error_message(), "in all"),
                      "message: %s", keyd_last_error_message());

        /* A brand-new connection hits the total limit too. */
        d = open_client();
        ck_assert_hr(keyd_create_crypto_session(d, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                &sd),
                     KEYD_E_OUTOFMEMORY);

        /* The sessions over the limits were never made; the others work. */
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 6);
        negotiate_fresh_key(sa[3], &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(sb[0], &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256);

        /* Room again once one is released. */
        sa[0] = keyd_crypto_session_release(sa[0]);
        sd = create_session(d, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_hr(keyd_create_crypto_session(a, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                &extra),
                     KEYD_E_OUTOFMEMORY);

        /* A client that goes away gives all its sessions back. */
        for (size_t i = 1; i < 4; i++)
                sa[i] = keyd_crypto_session_release(sa[i]);
        keyd_client_close(a);
        ck_assert_msg(harness_wait_session_count(3, 10 * USEC_PER_SEC, &v) == 0, "SessionCount is %u, expected 3", v);
        extra = create_session(d, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        keyd_client_close(b);  /* with its sessions still open */
        keyd_client_close(d);
        keyd_crypto_session_release(sb[0]);
        keyd_crypto_session_release(sb[1]);
        keyd_crypto_session_release(sd);
        keyd_crypto_session_release(extra);
        assert_keyd_healthy();
}
END_TEST

static Suite *bad_input_suite(void) {
        Suite *s = suite_create("bad-input");
        TCase *tc;

        tc = tcase_create("bad-input");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_wrong_data_size);
        tcase_add_test(tc, test_bad_ciphertexts_one_message);
        tcase_add_test(tc, test_malformed_guids_raw);
        tcase_add_test(tc, test_wrong_key_exchange_type_raw);
        tcase_add_test(tc, test_other_connection);
        tcase_add_test(tc, test_closed_session);
        tcase_add_test(tc, test_null_pointers);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup_limits, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_session_limits);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(bad_input_suite());
}
