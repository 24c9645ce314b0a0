/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The key exchange end to end: libkeyd -> private dbus-daemon -> keyd (software
 * backend), for every RSAES-OAEP variant, with keys wrapped by libkeyd and by
 * an independent implementation (OpenSSL); the Manager's capability calls. */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test-util.h"

/* A per-client surface quota of our own, so that the caps test can tell
 * that ProtectedMemorySize comes from keyd's configuration. */
#define SURFACE_QUOTA "3145728"
#define SURFACE_QUOTA_BYTES 3145728ULL

static const char *const keyd_args[] = { "--max-surface-bytes-per-client=" SURFACE_QUOTA, NULL };

static void setup(void) {
        start_bus_and_keyd(keyd_args);
}

static void teardown(void) {
        harness_stop();
}

/* ---- Manager ---- */

START_TEST(test_caps_aes128_ctr) {
        const keyd_guid *profiles[] = { NULL, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10,
                                        &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0 };
        keyd_client *c = open_client();

        for (size_t i = 0; i < ELEMENTSOF(profiles); i++) {
                keyd_content_protection_caps caps;

                memset(&caps, 0xa5, sizeof(caps));
                ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, profiles[i], &caps),
                             KEYD_S_OK);
                /* Contract section 7, exactly: with HARDWARE_DRM_COMMUNICATION 0x4000,
                 * since the list offers HW_PROTECTION (test_caps_agree_with_key_exchanges). */
                ck_assert_uint_eq(caps.Caps, (0x1u | 0x8u | 0x10u | 0x20u | 0x40u | 0x80u | 0x400u | 0x4000u));
                ck_assert_uint_eq(caps.Caps, 17657u);
                ck_assert_uint_eq(caps.BlockAlignmentSize, 16u);
                ck_assert_uint_eq(caps.KeyExchangeTypeCount, 4u);
                ck_assert_uint_eq(caps.ProtectedMemorySize, SURFACE_QUOTA_BYTES);
        }
        keyd_client_close(c);
}
END_TEST

/* Contract section 7: on every backend, CheckCryptoKeyExchange lists
 * D3D11_KEY_EXCHANGE_HW_PROTECTION exactly when the caps have
 * HARDWARE_DRM_COMMUNICATION (0x4000). Here the software backend, for every
 * profile; tests/gpu checks the vpl backend. */
START_TEST(test_caps_agree_with_key_exchanges) {
        const keyd_guid *profiles[] = { NULL,
                                        &KEYD_DECODER_PROFILE_H264_VLD_NOFGT,
                                        &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN,
                                        &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10,
                                        &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0,
                                        &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0 };
        keyd_client *c = open_client();

        for (size_t i = 0; i < ELEMENTSOF(profiles); i++) {
                keyd_content_protection_caps caps;
                bool listed = false;

                ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, profiles[i], &caps),
                             KEYD_S_OK);
                for (uint32_t k = 0; k < caps.KeyExchangeTypeCount; k++) {
                        keyd_guid kx;

                        ck_assert_hr(keyd_check_crypto_key_exchange(c, &KEYD_CRYPTO_TYPE_AES128_CTR, profiles[i], k,
                                                                    &kx),
                                     KEYD_S_OK);
                        listed = listed || keyd_guid_equal(&kx, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
                }
                ck_assert_msg(listed == !!(caps.Caps & KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_DRM_COMMUNICATION),
                              "profile %zu: caps 0x%x, HW_PROTECTION %slisted", i, caps.Caps, listed ? "" : "not ");
                /* The software backend's TEE serves HW_PROTECTION sessions. */
                ck_assert(listed);
        }

        /* No crypto type: nothing to exchange keys for, and no DRM communication. */
        keyd_content_protection_caps caps;
        ck_assert_hr(keyd_get_content_protection_caps(c, NULL, NULL, &caps), KEYD_S_OK);
        ck_assert_uint_eq(caps.KeyExchangeTypeCount, 0);
        ck_assert_uint_eq(caps.Caps & KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_DRM_COMMUNICATION, 0);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_caps_null_crypto_type) {
        keyd_client *c = open_client();
        keyd_content_protection_caps caps;

        memset(&caps, 0xa5, sizeof(caps));
        ck_assert_hr(keyd_get_content_protection_caps(c, NULL, NULL, &caps), KEYD_S_OK);
        /* No encryption: still the software device, nothing to exchange keys for. */
        ck_assert_uint_eq(caps.Caps & KEYD_CONTENT_PROTECTION_CAPS_SOFTWARE, KEYD_CONTENT_PROTECTION_CAPS_SOFTWARE);
        ck_assert_uint_eq(caps.Caps & KEYD_CONTENT_PROTECTION_CAPS_HARDWARE, 0);
        ck_assert_uint_eq(caps.KeyExchangeTypeCount, 0);
        ck_assert_uint_eq(caps.ProtectedMemorySize, SURFACE_QUOTA_BYTES);

        memset(&caps, 0xa5, sizeof(caps));
        ck_assert_hr(keyd_get_content_protection_caps(c, NULL, &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0, &caps),
                     KEYD_S_OK);
        ck_assert_uint_eq(caps.KeyExchangeTypeCount, 0);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_check_crypto_key_exchange) {
        const keyd_guid *expected[] = { &KEYD_KEY_EXCHANGE_RSAES_OAEP, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256,
                                        &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1, &KEYD_KEY_EXCHANGE_HW_PROTECTION };
        bool seen[ELEMENTSOF(expected)] = {};
        keyd_client *c = open_client();
        keyd_content_protection_caps caps;
        keyd_guid g;

        ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps), KEYD_S_OK);
        ck_assert_uint_eq(caps.KeyExchangeTypeCount, ELEMENTSOF(expected));

        for (uint32_t i = 0; i < caps.KeyExchangeTypeCount; i++) {
                bool known = false;

                memset(&g, 0, sizeof(g));
                ck_assert_hr(keyd_check_crypto_key_exchange(c, &KEYD_CRYPTO_TYPE_AES128_CTR,
                                                            &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN, i, &g),
                             KEYD_S_OK);
                for (size_t j = 0; j < ELEMENTSOF(expected); j++)
                        if (keyd_guid_equal(&g, expected[j])) {
                                ck_assert_msg(!seen[j], "index %u repeats a key exchange type", i);
                                seen[j] = known = true;
                        }
                ck_assert_msg(known, "index %u names a key exchange type keyd does not document", i);
        }
        /* D3D11's own exchange is the preferred one. */
        ck_assert_hr(keyd_check_crypto_key_exchange(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, 0, &g), KEYD_S_OK);
        ck_assert(keyd_guid_equal(&g, &KEYD_KEY_EXCHANGE_RSAES_OAEP));

        /* Out of range: E_INVALIDARG, naming the index and the range. */
        ck_assert_hr(keyd_check_crypto_key_exchange(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, caps.KeyExchangeTypeCount,
                                                    &g),
                     KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "index 4"), "message: %s", keyd_last_error_message());
        ck_assert_hr(keyd_check_crypto_key_exchange(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, UINT32_MAX, &g),
                     KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "4294967295"), "message: %s",
                      keyd_last_error_message());
        keyd_client_close(c);
}
END_TEST

START_TEST(test_private_data_size) {
        keyd_client *c = open_client();
        static const keyd_guid unknown = { 0x12345678, 0x1234, 0x5678, { 1, 2, 3, 4, 5, 6, 7, 8 } };

        for (size_t i = 0; i < ELEMENTSOF(oaep_exchanges); i++) {
                uint32_t in = 0xdeadbeef, out = 0xdeadbeef;

                ck_assert_hr(keyd_get_crypto_session_private_data_size(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                                       oaep_exchanges[i].guid, &in, &out),
                             KEYD_S_OK);
                /* RSAES-OAEP: the data is the bare ciphertext, no private header. */
                ck_assert_uint_eq(in, 0);
                ck_assert_uint_eq(out, 0);
        }

        uint32_t in = 0xdeadbeef, out = 0xdeadbeef;
        ck_assert_hr(keyd_get_crypto_session_private_data_size(c, &KEYD_CRYPTO_TYPE_AES128_CTR,
                                                               &KEYD_DECODER_PROFILE_H264_VLD_NOFGT,
                                                               &KEYD_KEY_EXCHANGE_HW_PROTECTION, &in, &out),
                     KEYD_S_OK);
        ck_assert_uint_ne(in, 0xdeadbeef);
        ck_assert_uint_ne(out, 0xdeadbeef);

        ck_assert_hr(keyd_get_crypto_session_private_data_size(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &unknown, &in,
                                                               &out),
                     KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "12345678-1234-5678-0102-030405060708"),
                      "message: %s", keyd_last_error_message());
        keyd_client_close(c);
}
END_TEST

START_TEST(test_manager_properties) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *const argv[] = { harness_binary("KEYD_BINARY"), "--version", NULL };
        _cleanup_free_ char *version = NULL, *backend = NULL, *expected = NULL;
        HarnessRun run;
        uint32_t v;

        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_int_ge(sd_bus_get_property_string(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                                    "Backend", NULL, &backend),
                         0);
        ck_assert_str_eq(backend, "software");
        ck_assert_int_ge(sd_bus_get_property_string(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                                    "Version", NULL, &version),
                         0);
        ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
        ck_assert_int_eq(run.status, 0);
        ck_assert_int_gt(asprintf(&expected, "keyd %s\n", version), 0);
        ck_assert_str_eq(run.out, expected);
        harness_run_done(&run);

        ck_assert_int_ge(harness_get_property_u32(KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "MaxSessionsPerClient",
                                                  &v),
                         0);
        ck_assert_uint_eq(v, 256u);  /* keyd's documented default */
        ck_assert_int_ge(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 0);
}
END_TEST

/* ---- the exchange, with libkeyd's wrapping ---- */

START_TEST(test_negotiate_each_exchange) {
        keyd_client *c = open_client();
        uint8_t *first_cert = NULL;
        uint32_t first_cert_size = 0;
        uint64_t handles[ELEMENTSOF(oaep_exchanges)] = {};
        keyd_crypto_session *sessions[ELEMENTSOF(oaep_exchanges)] = {};
        uint32_t count;

        for (size_t i = 0; i < ELEMENTSOF(oaep_exchanges); i++) {
                const OaepExchange *x = &oaep_exchanges[i];
                keyd_crypto_session_status status = 99;
                keyd_guid g;
                uint32_t cert_size;
                uint8_t *cert;

                sessions[i] = create_session(c, x->guid);

                ck_assert_hr(keyd_crypto_session_get_crypto_type(sessions[i], &g), KEYD_S_OK);
                ck_assert(keyd_guid_equal(&g, &KEYD_CRYPTO_TYPE_AES128_CTR));
                ck_assert_hr(keyd_crypto_session_get_decoder_profile(sessions[i], &g), KEYD_S_OK);
                ck_assert(keyd_guid_equal(&g, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT));

                /* One device key: every session has the same certificate. */
                cert = get_certificate(sessions[i], &cert_size);
                if (!first_cert) {
                        first_cert = cert;
                        first_cert_size = cert_size;
                } else {
                        ck_assert_uint_eq(cert_size, first_cert_size);
                        ck_assert_mem_eq(cert, first_cert, cert_size);
                        free(cert);
                }

                /* A wrong CertificateSize is refused, as in D3D11. */
                uint8_t small[8];
                ck_assert_hr(keyd_crypto_session_get_certificate(sessions[i], sizeof(small), small),
                             KEYD_E_INVALIDARG);

                /* The first exchange, then a second one replacing the key. */
                negotiate_fresh_key(sessions[i], x->guid);
                negotiate_fresh_key(sessions[i], x->guid);

                ck_assert_hr(keyd_check_crypto_session_status(sessions[i], &status), KEYD_S_OK);
                ck_assert_int_eq(status, KEYD_CRYPTO_SESSION_STATUS_OK);

                ck_assert_hr(keyd_crypto_session_get_handle(sessions[i], &handles[i]), KEYD_S_OK);
                ck_assert_uint_ne(handles[i], 0);
                for (size_t j = 0; j < i; j++)
                        ck_assert_msg(handles[i] != handles[j], "sessions %zu and %zu share handle %llu", i, j,
                                      (unsigned long long) handles[i]);
                ck_assert_ptr_nonnull(keyd_crypto_session_get_object_path(sessions[i]));
                ck_assert_msg(strncmp(keyd_crypto_session_get_object_path(sessions[i]),
                                      "/org/keyd/KeyBroker1/session/", 29) == 0,
                              "object path %s", keyd_crypto_session_get_object_path(sessions[i]));
        }

        ck_assert_int_eq(harness_session_count(&count), 0);
        ck_assert_uint_eq(count, ELEMENTSOF(oaep_exchanges));

        /* A key wrapped for one variant does not open a session of another. */
        {
                uint8_t key[SESSION_KEY_SIZE], data[MODULUS_SIZE];

                random_bytes(key, sizeof(key));
                ck_assert_hr(keyd_wrap_session_key(first_cert, first_cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1, key,
                                                   sizeof(key), sizeof(data), data),
                             KEYD_S_OK);
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(sessions[0], sizeof(data), data),
                             KEYD_E_INVALIDARG);
        }

        for (size_t i = 0; i < ELEMENTSOF(oaep_exchanges); i++)
                ck_assert_ptr_null(keyd_crypto_session_release(sessions[i]));
        /* Release closes the session in keyd synchronously. */
        ck_assert_int_eq(harness_session_count(&count), 0);
        ck_assert_uint_eq(count, 0);

        free(first_cert);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_handles_distinct_across_clients) {
        keyd_client *a = open_client(), *b = open_client();
        keyd_crypto_session *sa = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *sb = create_session(b, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *sa2;
        uint64_t ha, hb, ha2;

        ck_assert_hr(keyd_crypto_session_get_handle(sa, &ha), KEYD_S_OK);
        ck_assert_hr(keyd_crypto_session_get_handle(sb, &hb), KEYD_S_OK);
        ck_assert_uint_ne(ha, 0);
        ck_assert_uint_ne(hb, 0);
        ck_assert_uint_ne(ha, hb);
        ck_assert_str_ne(keyd_crypto_session_get_object_path(sa), keyd_crypto_session_get_object_path(sb));

        /* A closed session's handle is not handed out again. */
        keyd_crypto_session_release(sa);
        sa2 = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_hr(keyd_crypto_session_get_handle(sa2, &ha2), KEYD_S_OK);
        ck_assert_uint_ne(ha2, ha);
        ck_assert_uint_ne(ha2, hb);

        keyd_crypto_session_release(sa2);
        keyd_crypto_session_release(sb);
        keyd_client_close(a);
        keyd_client_close(b);
}
END_TEST

START_TEST(test_certificate_survives_restart) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256);
        uint32_t before_size, after_size;
        uint8_t *before = get_certificate(s, &before_size), *after;

        keyd_crypto_session_release(s);
        keyd_client_close(c);

        ck_assert_int_eq(harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC), 0);
        ck_assert_int_eq(harness_start_keyd(keyd_args), 0);

        c = open_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        after = get_certificate(s, &after_size);
        ck_assert_uint_eq(after_size, before_size);
        ck_assert_mem_eq(after, before, before_size);
        /* ... and the key behind it still decrypts. */
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
        free(before);
        free(after);
}
END_TEST

/* ---- the exchange, with OpenSSL wrapping the key ---- */

static char *export_public_key(keyd_crypto_session *s) {
        _cleanup_free_ char *der_path = NULL;
        uint32_t cert_size;
        _cleanup_free_ uint8_t *cert = get_certificate(s, &cert_size);
        const char *argv[] = { "openssl", "x509", "-inform", "DER", "-in", NULL, "-noout", "-pubkey", NULL };
        const char *text_argv[] = { "openssl", "x509", "-inform", "DER", "-in", NULL, "-noout", "-text", NULL };
        HarnessRun run;
        char *pem_path;

        der_path = harness_write_file("cert.der", cert, cert_size);
        argv[5] = der_path;
        ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 0, "openssl x509 failed (%d): %s", run.status, run.err);
        ck_assert_msg(str_contains(run.out, "-----BEGIN PUBLIC KEY-----"), "openssl x509 printed: %s", run.out);
        pem_path = harness_write_file("pubkey.pem", run.out, strlen(run.out));
        harness_run_done(&run);

        /* An independent parser agrees it is an X.509 certificate with a 2048-bit RSA key. */
        text_argv[5] = der_path;
        ck_assert_int_eq(harness_run(text_argv, NULL, 0, &run), 0);
        ck_assert_int_eq(run.status, 0);
        ck_assert_msg(str_contains(run.out, "rsaEncryption"), "%s", run.out);
        ck_assert_msg(str_contains(run.out, "Public-Key: (2048 bit)"), "%s", run.out);
        harness_run_done(&run);
        return pem_path;
}

/* RSAES-OAEP-encrypt message with OpenSSL; returns the ciphertext size. */
static size_t openssl_wrap(const char *pem_path, const char *md, const uint8_t *message, size_t message_size,
                           uint8_t out[static MODULUS_SIZE]) {
        _cleanup_free_ char *in_path = harness_write_file("key.bin", message, message_size);
        _cleanup_free_ char *out_path = NULL;
        _cleanup_free_ void *ct = NULL;
        char oaep_md[64], mgf1_md[64];
        size_t ct_size = 0;
        HarnessRun run;

        out_path = strdup(in_path);
        ck_assert_ptr_nonnull(out_path);
        strcpy(out_path + strlen(out_path) - strlen("key.bin"), "ct.bin");
        snprintf(oaep_md, sizeof(oaep_md), "rsa_oaep_md:%s", md);
        snprintf(mgf1_md, sizeof(mgf1_md), "rsa_mgf1_md:%s", md);

        const char *argv[] = { "openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", pem_path,
                               "-in", in_path, "-out", out_path,
                               "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", oaep_md, "-pkeyopt", mgf1_md,
                               NULL };
        ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 0, "openssl pkeyutl failed (%d): %s", run.status, run.err);
        harness_run_done(&run);

        ct = harness_read_file(out_path, &ct_size);
        ck_assert_ptr_nonnull(ct);
        ck_assert_uint_eq(ct_size, MODULUS_SIZE);
        memcpy(out, ct, MODULUS_SIZE);
        return ct_size;
}

START_TEST(test_openssl_wrapped_key) {
        keyd_client *c = open_client();

        for (size_t i = 0; i < ELEMENTSOF(oaep_exchanges); i++) {
                const OaepExchange *x = &oaep_exchanges[i];
                keyd_crypto_session *s = create_session(c, x->guid);
                _cleanup_free_ char *pem = export_public_key(s);
                uint8_t key[SESSION_KEY_SIZE], data[MODULUS_SIZE], sent[MODULUS_SIZE];
                keyd_crypto_session_status status = 99;

                random_bytes(key, sizeof(key));
                openssl_wrap(pem, x->md, key, sizeof(key), data);
                memcpy(sent, data, sizeof(data));
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), data), KEYD_S_OK);
                ck_assert_mem_eq(data, sent, sizeof(data));
                ck_assert_hr(keyd_check_crypto_session_status(s, &status), KEYD_S_OK);
                ck_assert_int_eq(status, KEYD_CRYPTO_SESSION_STATUS_OK);

                /* The same key wrapped with another variant's hash is refused:
                 * keyd really checks the hash the GUID selects. */
                const char *other_md = oaep_exchanges[(i + 1) % ELEMENTSOF(oaep_exchanges)].md;
                openssl_wrap(pem, other_md, key, sizeof(key), data);
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), data), KEYD_E_INVALIDARG);

                keyd_crypto_session_release(s);
        }
        keyd_client_close(c);
}
END_TEST

/* ---- HW_PROTECTION ---- */

START_TEST(test_hw_protection_session) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        keyd_crypto_session_status status = 99;
        uint8_t data[MODULUS_SIZE], cert[4096];
        uint64_t handle = 0;

        ck_assert_hr(keyd_crypto_session_get_handle(s, &handle), KEYD_S_OK);
        ck_assert_uint_ne(handle, 0);

        /* On HW_PROTECTION sessions pData is a keyd_key_exchange_hw_protection_data:
         * an RSA ciphertext has the wrong DataSize (tests/integration/test-data-path.c). */
        random_bytes(data, sizeof(data));
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), data), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "NegotiateCryptoSessionKeyExchange") &&
                              str_contains(keyd_last_error_message(), "HW_PROTECTION"),
                      "message: %s", keyd_last_error_message());

        /* No certificate on a HW_PROTECTION session (contract section 4). */
        ck_assert_hr(keyd_crypto_session_get_certificate(s, sizeof(cert), cert), KEYD_DXGI_ERROR_INVALID_CALL);

        /* The refused calls did not break the session. */
        ck_assert_hr(keyd_check_crypto_session_status(s, &status), KEYD_S_OK);
        ck_assert_int_eq(status, KEYD_CRYPTO_SESSION_STATUS_OK);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- libkeyd on the "system" bus ---- */

START_TEST(test_client_open_system_bus) {
        keyd_client *c = NULL;
        keyd_crypto_session *s;

        /* keyd_client_open() must honour DBUS_SYSTEM_BUS_ADDRESS, like keyd. */
        ck_assert_int_eq(setenv("DBUS_SYSTEM_BUS_ADDRESS", harness_bus_address(), 1), 0);
        ck_assert_hr(keyd_client_open(&c), KEYD_S_OK);
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

static Suite *key_exchange_suite(void) {
        Suite *s = suite_create("key-exchange");
        TCase *tc;

        tc = tcase_create("manager");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_caps_aes128_ctr);
        tcase_add_test(tc, test_caps_null_crypto_type);
        tcase_add_test(tc, test_caps_agree_with_key_exchanges);
        tcase_add_test(tc, test_check_crypto_key_exchange);
        tcase_add_test(tc, test_private_data_size);
        tcase_add_test(tc, test_manager_properties);
        suite_add_tcase(s, tc);

        tc = tcase_create("exchange");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_negotiate_each_exchange);
        tcase_add_test(tc, test_handles_distinct_across_clients);
        tcase_add_test(tc, test_certificate_survives_restart);
        tcase_add_test(tc, test_openssl_wrapped_key);
        tcase_add_test(tc, test_hw_protection_session);
        tcase_add_test(tc, test_client_open_system_bus);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(key_exchange_suite());
}
