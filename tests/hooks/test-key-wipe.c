/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Keys are gone from keyd's memory once their session is closed, read
 * through the debug hook of a test build (daemon/test-hooks.h; built only
 * with -Dtest_hooks=true).
 *
 * The test knows every key keyd holds: it wraps the session key itself,
 * computes a refreshed key (old XOR R) and wraps a content key with the
 * openssl command as D3D11 says, and unwraps the read-back key GetEncryptionBltKey hands
 * out. It then asks keyd how often each 16-byte key occurs anywhere in its
 * writable memory (CountPattern), before and after. "Before" is the
 * control: a key the session holds must be found (so the scan reaches the
 * locked memory where keys live), a random pattern must not. And for each
 * closed session it asks the allocator whether the released secrets block
 * is still all zero (GetFreedSecrets). */

#include <check.h>
#include <nettle/aes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "openssl-aes.h"
#include "test-util.h"

#define TEST_INTERFACE "org.keyd.KeyBroker1.Test"
#define KEY_SIZE 16

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

/* How often key occurs in keyd's writable memory. It travels masked with a
 * random mask without a zero byte, so the message itself does not hold it. */
static uint32_t count_in_keyd(const uint8_t key[KEY_SIZE]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        uint8_t mask[KEY_SIZE], masked[KEY_SIZE];
        sd_bus *bus = NULL;
        uint64_t scanned;
        uint32_t count;

        random_bytes(mask, sizeof(mask));
        for (size_t i = 0; i < KEY_SIZE; i++) {
                mask[i] |= 1;
                masked[i] = key[i] ^ mask[i];
        }

        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH, TEST_INTERFACE,
                                                        "CountPattern"), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', masked, sizeof(masked)), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', mask, sizeof(mask)), 0);
        /* Scanning all of keyd (and ASan's heap, in the sanitizer build) takes a while. */
        ck_assert_msg(sd_bus_call(bus, m, 60 * USEC_PER_SEC, &error, &reply) >= 0,
                      "CountPattern failed: %s: %s (is keyd built with -Dtest_hooks=true?)", error.name,
                      error.message);
        ck_assert_int_ge(sd_bus_message_read(reply, "ut", &count, &scanned), 0);
        /* A scan that read almost nothing would prove nothing. */
        ck_assert_uint_gt(scanned, 1024 * 1024);
        sd_bus_flush_close_unref(bus);
        return count;
}

/* What the allocator says of the secrets block of the session with this id
 * (its Handle), and whether it held anything before it was released. */
static const char *freed_state(uint64_t session_id, bool *ret_held_data) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        static char state[32];
        const char *found = NULL;
        sd_bus *bus = NULL;
        uint64_t id;
        const char *s;
        int held, r;

        ck_assert_int_eq(harness_open_bus(&bus), 0);
        r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, TEST_INTERFACE, "GetFreedSecrets", &error,
                               &reply, NULL);
        ck_assert_msg(r >= 0, "GetFreedSecrets failed: %s: %s", error.name, error.message);
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "(tbs)"), 0);
        while ((r = sd_bus_message_read(reply, "(tbs)", &id, &held, &s)) > 0)
                if (id == session_id) {
                        snprintf(state, sizeof(state), "%s", s);
                        *ret_held_data = held;
                        found = state;
                }
        ck_assert_int_ge(r, 0);
        sd_bus_flush_close_unref(bus);
        ck_assert_msg(found, "keyd recorded no released secrets for session %llu", (unsigned long long) session_id);
        return found;
}

static void assert_wiped(uint64_t session_id) {
        bool held = false;
        const char *state = freed_state(session_id, &held);

        /* Not wiped if it never held anything: the check would be empty. */
        ck_assert_msg(held, "session %llu's secrets block was all zero before it was released",
                      (unsigned long long) session_id);
        /* Nothing allocates locked memory between the close and this call,
         * so the block cannot have been reused: it must be free and zero. */
        ck_assert_str_eq(state, "zero");
}

static void aes_ecb(const uint8_t key[KEY_SIZE], const uint8_t in[KEY_SIZE], uint8_t out[KEY_SIZE], bool decrypt) {
        struct aes128_ctx ctx;

        if (decrypt) {
                aes128_set_decrypt_key(&ctx, key);
                aes128_decrypt(&ctx, KEY_SIZE, out, in);
        } else {
                aes128_set_encrypt_key(&ctx, key);
                aes128_encrypt(&ctx, KEY_SIZE, out, in);
        }
}

static uint64_t handle_of(keyd_crypto_session *s) {
        uint64_t h = 0;

        ck_assert_hr(keyd_crypto_session_get_handle(s, &h), KEYD_S_OK);
        return h;
}

START_TEST(test_close_wipes_session_and_readback_keys) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], wrapped_blt[KEY_SIZE], blt_key[KEY_SIZE], nothing[KEY_SIZE];
        uint64_t id = handle_of(s);

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(wrapped_blt), wrapped_blt), KEYD_S_OK);
        aes_ecb(key, wrapped_blt, blt_key, true);

        /* Controls: what the session holds is found, a random pattern is not. */
        random_bytes(nothing, sizeof(nothing));
        ck_assert_uint_ge(count_in_keyd(key), 1);
        ck_assert_uint_ge(count_in_keyd(blt_key), 1);
        ck_assert_uint_eq(count_in_keyd(nothing), 0);

        keyd_crypto_session_release(s);

        ck_assert_uint_eq(count_in_keyd(key), 0);
        ck_assert_uint_eq(count_in_keyd(blt_key), 0);
        assert_wiped(id);
        keyd_client_close(c);
}
END_TEST

/* GetEncryptionBltKey draws a new K_blt on every call (D3D11): the one it
 * replaces is overwritten, not left behind in keyd's memory. */
START_TEST(test_new_readback_key_replaces_the_old) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], wrapped[KEY_SIZE], kblt1[KEY_SIZE], kblt2[KEY_SIZE];
        uint64_t id = handle_of(s);

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(wrapped), wrapped), KEYD_S_OK);
        aes_ecb(key, wrapped, kblt1, true);
        ck_assert_uint_ge(count_in_keyd(kblt1), 1);

        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(wrapped), wrapped), KEYD_S_OK);
        aes_ecb(key, wrapped, kblt2, true);
        ck_assert_int_ne(memcmp(kblt1, kblt2, KEY_SIZE), 0);
        ck_assert_uint_ge(count_in_keyd(kblt2), 1);
        ck_assert_uint_eq(count_in_keyd(kblt1), 0);

        keyd_crypto_session_release(s);
        ck_assert_uint_eq(count_in_keyd(kblt2), 0);
        assert_wiped(id);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_refresh_replaces_the_old_key) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], random_number[KEY_SIZE], new_key[KEY_SIZE];
        uint64_t id = handle_of(s);

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(random_number), random_number), KEYD_S_OK);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_S_OK);
        /* D3D11: new session key = previous session key XOR R. */
        for (size_t i = 0; i < KEY_SIZE; i++)
                new_key[i] = key[i] ^ random_number[i];

        /* The old key is overwritten while the session lives on. */
        ck_assert_uint_ge(count_in_keyd(new_key), 1);
        ck_assert_uint_eq(count_in_keyd(key), 0);

        keyd_crypto_session_release(s);
        ck_assert_uint_eq(count_in_keyd(new_key), 0);
        assert_wiped(id);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_content_key_data_key_is_transient) {
        static const keyd_encrypted_block_info all = { 0, 0, 0 };
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], content_key[KEY_SIZE], wrapped_key[KEY_SIZE], wrapped_blt[KEY_SIZE],
                blt_key[KEY_SIZE], iv[16] = {}, plain[64], data[64], back[64];
        uint32_t surface;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        random_bytes(content_key, sizeof(content_key));
        random_bytes(plain, sizeof(plain));
        /* D3D11: the content key travels encrypted with the session key;
         * keyd decrypts it back to content_key for the Blt. */
        openssl_ecb_encrypt(key, content_key, wrapped_key);
        openssl_ctr(content_key, iv, plain, sizeof(plain), data);
        ck_assert_hr(keyd_create_surface(s, sizeof(data), &surface), KEYD_S_OK);
        ck_assert_hr(keyd_decryption_blt(s, surface, &all, sizeof(wrapped_key), wrapped_key, sizeof(iv), iv,
                                         sizeof(data), data),
                     KEYD_S_OK);

        /* Control: keyd did hold content_key, since the surface now holds
         * the plaintext (read back and decrypted here). */
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(wrapped_blt), wrapped_blt), KEYD_S_OK);
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, sizeof(back), back), KEYD_S_OK);
        openssl_ecb_decrypt(key, wrapped_blt, blt_key);
        openssl_ctr(blt_key, iv, back, sizeof(back), back);
        ck_assert_mem_eq(back, plain, sizeof(plain));

        /* The unwrapped content key lives only for the Blt. */
        ck_assert_uint_eq(count_in_keyd(content_key), 0);
        ck_assert_uint_ge(count_in_keyd(key), 1);

        keyd_crypto_session_release(s);
        ck_assert_uint_eq(count_in_keyd(key), 0);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_disconnect_wipes_every_session) {
        keyd_client *c = open_client();
        keyd_crypto_session *s[3];
        uint8_t keys[3][KEY_SIZE];
        uint64_t ids[3];
        uint32_t last;

        for (size_t i = 0; i < 3; i++) {
                s[i] = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
                ids[i] = handle_of(s[i]);
                negotiate_known_key(s[i], &KEYD_KEY_EXCHANGE_RSAES_OAEP, keys[i]);
                ck_assert_uint_ge(count_in_keyd(keys[i]), 1);
        }

        /* The connection goes; keyd destroys its sessions by itself. */
        keyd_client_close(c);
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, &last), 0);

        for (size_t i = 0; i < 3; i++) {
                ck_assert_uint_eq(count_in_keyd(keys[i]), 0);
                assert_wiped(ids[i]);
                keyd_crypto_session_release(s[i]);
        }
}
END_TEST

static Suite *key_wipe_suite(void) {
        Suite *suite = suite_create("key-wipe");
        TCase *tc = tcase_create("key-wipe");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_close_wipes_session_and_readback_keys);
        tcase_add_test(tc, test_new_readback_key_replaces_the_old);
        tcase_add_test(tc, test_refresh_replaces_the_old_key);
        tcase_add_test(tc, test_content_key_data_key_is_transient);
        tcase_add_test(tc, test_disconnect_wipes_every_session);
        suite_add_tcase(suite, tc);
        return suite;
}

int main(void) {
        return run_suite(key_wipe_suite());
}
