/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The protected data path end to end (contract sections 4 and 7): libkeyd
 * -> private dbus-daemon -> keyd (software backend). Every expected
 * ciphertext and key is computed here, independently of keyd's code: the
 * D3D11 counter block and the pattern with nettle's bare AES block
 * function, the wrapped content key, the refreshed key (old XOR R) and the
 * read-back key with the openssl command (openssl-aes.h), as D3D11 defines
 * them. Also: call order, key loss after an abandoned refresh,
 * HW_PROTECTION marshalling, quotas, memfds sent raw, and other
 * connections. */

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <nettle/aes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "harness.h"
#include "openssl-aes.h"
#include "test-util.h"

#define ERROR_PREFIX "org.keyd.KeyBroker1.Error."
#define ERROR_INVALID_ARG ERROR_PREFIX "InvalidArg"
#define ERROR_INVALID_CALL ERROR_PREFIX "InvalidCall"
#define ERROR_ACCESS_DENIED ERROR_PREFIX "AccessDenied"

#define AES128_CTR "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f"
#define RSAES_OAEP "c1949895-d72a-4a1d-8e5d-ed857d171520"
#define HW_PROTECTION "b1170d8a-628d-4da3-ad3b-82ddb08b4970"

#define MiB (1024U * 1024U)
#define KEY_SIZE 16U
#define IV_SIZE 16U

#define TEE_PASS_THROUGH 1U
#define TEE_FIRMWARE_VERSION 2U

static const char *const quota_args[] = { "--max-surface-bytes-per-client=1048576", NULL };
static const char *const refresh_timeout_args[] = { "--key-refresh-timeout=1", NULL };

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void setup_quota(void) {
        start_bus_and_keyd(quota_args);
}

/* Issue 18's figures: a 64 KiB surface quota, 128 KiB per user. */
static const char *const readback_quota_args[] = { "--max-surface-bytes-per-client=65536",
                                                   "--max-memory-per-user=131072", NULL };

static void setup_readback_quota(void) {
        start_bus_and_keyd(readback_quota_args);
}

static void setup_refresh_timeout(void) {
        start_bus_and_keyd(refresh_timeout_args);
}

static void teardown(void) {
        harness_stop();
}

/* ---- the reference crypto, on nettle's AES block function only ---- */

static void ecb_encrypt(const uint8_t key[KEY_SIZE], const uint8_t in[16], uint8_t out[16]) {
        struct aes128_ctx ctx;

        aes128_set_encrypt_key(&ctx, key);
        aes128_encrypt(&ctx, 16, out, in);
}

static void ecb_decrypt(const uint8_t key[KEY_SIZE], const uint8_t in[16], uint8_t out[16]) {
        struct aes128_ctx ctx;

        aes128_set_decrypt_key(&ctx, key);
        aes128_decrypt(&ctx, 16, out, in);
}

/* D3D11_AES_CTR_IV: 8-byte IV, then a 64-bit big-endian block count that
 * wraps by itself. One keystream byte at a time. */
typedef struct RefCtr {
        struct aes128_ctx aes;
        uint8_t iv[8];
        uint64_t count;
        uint8_t ks[16];
        unsigned used;
} RefCtr;

static void ref_ctr_init(RefCtr *c, const uint8_t key[KEY_SIZE], const uint8_t counter_block[IV_SIZE]) {
        aes128_set_encrypt_key(&c->aes, key);
        memcpy(c->iv, counter_block, 8);
        c->count = 0;
        for (unsigned i = 8; i < 16; i++)
                c->count = (c->count << 8) | counter_block[i];
        c->used = 16;
}

static uint8_t ref_ctr_next(RefCtr *c) {
        if (c->used == 16) {
                uint8_t block[16];

                memcpy(block, c->iv, 8);
                for (unsigned i = 0; i < 8; i++)
                        block[15 - i] = (uint8_t) (c->count >> (8 * i));
                c->count++;
                aes128_encrypt(&c->aes, 16, c->ks, block);
                c->used = 0;
        }
        return c->ks[c->used++];
}

static bool ref_is_encrypted(const keyd_encrypted_block_info *p, size_t i) {
        size_t period;

        if (!p || (p->NumEncryptedBytesAtBeginning == 0 && p->NumBytesInSkipPattern == 0 &&
                   p->NumBytesInEncryptPattern == 0))
                return true;
        if (i < p->NumEncryptedBytesAtBeginning)
                return true;
        if (p->NumBytesInEncryptPattern == 0)
                return false;
        period = (size_t) p->NumBytesInSkipPattern + p->NumBytesInEncryptPattern;
        return (i - p->NumEncryptedBytesAtBeginning) % period >= p->NumBytesInSkipPattern;
}

/* Encrypted bytes take the keystream in order, as if concatenated; pattern NULL = all. */
static void ref_ctr_pattern(const uint8_t key[KEY_SIZE], const uint8_t iv[IV_SIZE],
                            const keyd_encrypted_block_info *pattern, uint8_t *dst, const uint8_t *src, size_t n) {
        RefCtr c;

        ref_ctr_init(&c, key, iv);
        for (size_t i = 0; i < n; i++)
                dst[i] = ref_is_encrypted(pattern, i) ? src[i] ^ ref_ctr_next(&c) : src[i];
}

/* D3D11 StartSessionKeyRefresh: "perform a bitwise XOR between the
 * previous session key and the random number". */
static void refreshed_key(const uint8_t old_key[KEY_SIZE], const uint8_t random_number[KEY_SIZE],
                          uint8_t new_key[KEY_SIZE]) {
        for (size_t i = 0; i < KEY_SIZE; i++)
                new_key[i] = old_key[i] ^ random_number[i];
}

static void *xmalloc(size_t n) {
        void *p = malloc(n ?: 1);
        ck_assert_ptr_nonnull(p);
        return p;
}

static void assert_same_bytes(const uint8_t *got, const uint8_t *want, size_t n, const char *what) {
        for (size_t i = 0; i < n; i++)
                if (got[i] != want[i])
                        ck_abort_msg("%s: byte %zu of %zu is 0x%02x, expected 0x%02x", what, i, n, got[i], want[i]);
}

/* ---- libkeyd helpers ---- */

static keyd_crypto_session_status session_status(keyd_crypto_session *s) {
        keyd_crypto_session_status status = 99;

        ck_assert_hr(keyd_check_crypto_session_status(s, &status), KEYD_S_OK);
        return status;
}

/* A new read-back key K_blt (GetEncryptionBltKey draws one per call),
 * unwrapped here; read-backs from now on use it. */
static void readback_key(keyd_crypto_session *s, const uint8_t session_key[KEY_SIZE], uint8_t kblt[KEY_SIZE]) {
        uint8_t wrapped[KEY_SIZE];

        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(wrapped), wrapped), KEYD_S_OK);
        ecb_decrypt(session_key, wrapped, kblt);
}

/* The IV member of a D3D11_AES_CTR_IV keyd returned, after checking its
 * Count is 0 (contract section 7). */
static uint64_t iv_member(const uint8_t iv[IV_SIZE]) {
        uint64_t v = 0;

        for (unsigned i = 8; i < IV_SIZE; i++)
                ck_assert_msg(iv[i] == 0, "the read-back IV's Count is not 0 (byte %u is 0x%02x)", i, iv[i]);
        for (unsigned i = 0; i < 8; i++)
                v = (v << 8) | iv[i];
        return v;
}

/* Read the whole surface back and decrypt it here: its plaintext. */
static uint8_t *read_surface(keyd_crypto_session *s, const uint8_t session_key[KEY_SIZE], uint32_t surface,
                             uint32_t size) {
        uint8_t iv[IV_SIZE], kblt[KEY_SIZE];
        uint8_t *out = xmalloc(size), *plain = xmalloc(size);

        readback_key(s, session_key, kblt);
        memset(iv, 0xa5, sizeof(iv));
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, size, out), KEYD_S_OK);
        (void) iv_member(iv);
        ref_ctr_pattern(kblt, iv, NULL, plain, out, size);
        free(out);
        return plain;
}

/* Encrypt plaintext here under data_key and DecryptionBlt it; content_key,
 * if not NULL, is data_key wrapped for DecryptionBlt. */
static void decrypt_into(keyd_crypto_session *s, uint32_t surface, const uint8_t data_key[KEY_SIZE],
                         const uint8_t *content_key, const keyd_encrypted_block_info *pattern, const uint8_t *plaintext,
                         uint32_t size) {
        uint8_t iv[IV_SIZE];
        uint8_t *ct = xmalloc(size);

        random_bytes(iv, sizeof(iv));
        ref_ctr_pattern(data_key, iv, pattern, ct, plaintext, size);
        ck_assert_hr(keyd_decryption_blt(s, surface, pattern, content_key ? KEY_SIZE : 0, content_key, sizeof(iv), iv,
                                         size, ct),
                     KEYD_S_OK);
        free(ct);
}

/* One whole round trip: data_size bytes into a surface of surface_size,
 * read back, and compared with the ciphertext computed here. */
static void check_roundtrip(keyd_crypto_session *s, const uint8_t session_key[KEY_SIZE], uint32_t surface_size,
                            uint32_t data_size, bool use_content_key, const keyd_encrypted_block_info *pattern) {
        uint8_t content_key[KEY_SIZE], wrapped_key[KEY_SIZE], data_key[KEY_SIZE], iv_in[IV_SIZE], iv_out[IV_SIZE],
                kblt[KEY_SIZE];
        uint8_t *plain = xmalloc(surface_size), *ct = xmalloc(data_size), *out = xmalloc(surface_size),
                *expected = xmalloc(surface_size);
        char what[160];
        uint32_t surface;

        snprintf(what, sizeof(what), "%" PRIu32 " bytes into %" PRIu32 ", %s content key, pattern (%u, %u, %u)",
                 data_size, surface_size, use_content_key ? "with" : "without",
                 pattern ? pattern->NumEncryptedBytesAtBeginning : 0, pattern ? pattern->NumBytesInSkipPattern : 0,
                 pattern ? pattern->NumBytesInEncryptPattern : 0);

        ck_assert_hr(keyd_create_surface(s, surface_size, &surface), KEYD_S_OK);

        /* The data lands at the start; a new surface holds zeros. */
        random_bytes(plain, data_size);
        memset(plain + data_size, 0, surface_size - data_size);

        /* D3D11: the data is encrypted with the content key, which travels
         * encrypted with the session key. */
        random_bytes(content_key, sizeof(content_key));
        if (use_content_key) {
                memcpy(data_key, content_key, KEY_SIZE);
                openssl_ecb_encrypt(session_key, content_key, wrapped_key);
        } else
                memcpy(data_key, session_key, KEY_SIZE);

        random_bytes(iv_in, sizeof(iv_in));
        ref_ctr_pattern(data_key, iv_in, pattern, ct, plain, data_size);
        ck_assert_msg(keyd_decryption_blt(s, surface, pattern, use_content_key ? KEY_SIZE : 0,
                                          use_content_key ? wrapped_key : NULL, sizeof(iv_in), iv_in, data_size,
                                          ct) == KEYD_S_OK,
                      "DecryptionBlt, %s: %s", what, keyd_last_error_message());

        /* A new K_blt first: EncryptionBlt uses the newest. pIV is keyd's to fill. */
        readback_key(s, session_key, kblt);
        memset(iv_out, 0xa5, sizeof(iv_out));
        ck_assert_msg(keyd_encryption_blt(s, surface, sizeof(iv_out), iv_out, surface_size, out) == KEYD_S_OK,
                      "EncryptionBlt, %s: %s", what, keyd_last_error_message());
        (void) iv_member(iv_out);

        ref_ctr_pattern(kblt, iv_out, NULL, expected, plain, surface_size);
        assert_same_bytes(out, expected, surface_size, what);
        /* Only ciphertext crossed the bus. */
        ck_assert_int_ne(memcmp(out, plain, MIN(surface_size, 64U)), 0);

        ck_assert_hr(keyd_destroy_surface(s, surface), KEYD_S_OK);
        free(plain);
        free(ct);
        free(out);
        free(expected);
}

static const keyd_encrypted_block_info patterns[] = {
        { 0, 0, 0 }, { 16, 16, 16 }, { 32, 0, 0 }, { 0, 16, 32 }, { 48, 32, 16 }, { 0, 0, 16 },
};

/* ---- the round trip ---- */

static void roundtrip_all(uint32_t size) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE];

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        check_roundtrip(s, key, size, size, false, NULL);
        for (size_t i = 0; i < ELEMENTSOF(patterns); i++)
                for (int ck = 0; ck <= 1; ck++)
                        check_roundtrip(s, key, size, size, ck, &patterns[i]);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}

START_TEST(test_roundtrip_16) {
        roundtrip_all(16);
}
END_TEST

START_TEST(test_roundtrip_1mib) {
        roundtrip_all(MiB);
}
END_TEST

/* Through the memfd variants; also more than one "ay" could carry. */
START_TEST(test_roundtrip_32mib) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE];

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        check_roundtrip(s, key, 32 * MiB, 32 * MiB, false, NULL);
        check_roundtrip(s, key, 32 * MiB, 32 * MiB, true, &patterns[1]);
        check_roundtrip(s, key, 32 * MiB, 32 * MiB, false, &patterns[3]);
        check_roundtrip(s, key, 32 * MiB, 32 * MiB, true, &patterns[2]);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* Either side of libkeyd's memfd threshold, and data shorter than the surface. */
START_TEST(test_roundtrip_threshold_and_partial) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE];

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        check_roundtrip(s, key, KEYD_BLT_MEMFD_THRESHOLD, KEYD_BLT_MEMFD_THRESHOLD, true, &patterns[1]);
        check_roundtrip(s, key, KEYD_BLT_MEMFD_THRESHOLD + 16, KEYD_BLT_MEMFD_THRESHOLD + 16, false, &patterns[3]);
        check_roundtrip(s, key, 4096, 16, false, NULL);
        check_roundtrip(s, key, 2 * MiB, KEYD_BLT_MEMFD_THRESHOLD + 32, true, &patterns[4]);
        check_roundtrip(s, key, 32 * MiB, 48, true, NULL);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* D3D11 DecryptionBlt: "encrypt the content key using the session key, and
 * place the resulting cipher text in pContentKey". keyd must decrypt it:
 * the content key CK, not the session key's encryption of what it got,
 * decrypts the data. All of it computed by openssl. */
START_TEST(test_content_key_is_decrypted_with_the_session_key) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], ck[KEY_SIZE], wrapped[KEY_SIZE], not_ck[KEY_SIZE], iv[IV_SIZE];
        uint8_t plain[96], ct[96];
        uint32_t surface;
        uint8_t *back;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, sizeof(plain), &surface), KEYD_S_OK);
        random_bytes(ck, sizeof(ck));
        random_bytes(plain, sizeof(plain));
        random_bytes(iv, sizeof(iv));
        iv[8] = 0;      /* far from the counter wrap, where openssl's CTR is D3D11's */

        /* What a D3D11 application sends: W = AES-128-ECB-Encrypt(session key, CK),
         * and the data under CK. */
        openssl_ecb_encrypt(key, ck, wrapped);
        openssl_ctr(ck, iv, plain, sizeof(plain), ct);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, sizeof(wrapped), wrapped, sizeof(iv), iv, sizeof(ct), ct),
                     KEYD_S_OK);
        back = read_surface(s, key, surface, sizeof(plain));
        assert_same_bytes(back, plain, sizeof(plain), "data under a content key wrapped the D3D11 way");
        free(back);

        /* The other direction, AES-128-ECB-Encrypt(session key, W), is not the
         * data key: data under it must come out as garbage. */
        openssl_ecb_encrypt(key, wrapped, not_ck);
        openssl_ctr(not_ck, iv, plain, sizeof(plain), ct);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, sizeof(wrapped), wrapped, sizeof(iv), iv, sizeof(ct), ct),
                     KEYD_S_OK);
        back = read_surface(s, key, surface, sizeof(plain));
        ck_assert_msg(memcmp(back, plain, sizeof(plain)) != 0,
                      "keyd derived the data key as AES-ECB-Encrypt(session key, content key)");
        free(back);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* The counter wraps within 64 bits and does not carry into the IV. */
START_TEST(test_counter_wrap) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], iv[IV_SIZE], kblt[KEY_SIZE], plain[64], ct[64], out[64], expected[64];
        uint32_t surface;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, sizeof(plain), &surface), KEYD_S_OK);
        random_bytes(plain, sizeof(plain));

        random_bytes(iv, 8);
        memset(iv + 8, 0xff, 8);
        iv[15] = 0xfe;
        ref_ctr_pattern(key, iv, NULL, ct, plain, sizeof(plain));
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(ct), ct), KEYD_S_OK);

        /* DecryptionBlt wrapped its count: read back, the plaintext is whole.
         * (Read-backs start at Count 0 under keyd's IV, so they never wrap.) */
        readback_key(s, key, kblt);
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, sizeof(out), out), KEYD_S_OK);
        (void) iv_member(iv);
        ref_ctr_pattern(kblt, iv, NULL, expected, plain, sizeof(plain));
        assert_same_bytes(out, expected, sizeof(out), "EncryptionBlt of data decrypted across the counter wrap");
        ref_ctr_pattern(kblt, iv, NULL, out, out, sizeof(out));
        assert_same_bytes(out, plain, sizeof(out), "data decrypted across the counter wrap");

        /* Block 1 of the decryption was AES(K, IV || 0), not AES(K, IV + 1 || 0):
         * the expected ciphertext is computed block by block here. */
        uint8_t block[16], ks[16], iv_in[IV_SIZE], ct2[32], plain2[32] = {};
        random_bytes(iv_in, 8);
        memset(iv_in + 8, 0xff, 8);
        memcpy(block, iv_in, 16);
        ecb_encrypt(key, block, ks);
        for (unsigned i = 0; i < 16; i++)
                ct2[i] = plain[i] ^ ks[i];
        memset(block + 8, 0, 8);
        ecb_encrypt(key, block, ks);
        for (unsigned i = 0; i < 16; i++)
                ct2[16 + i] = plain[16 + i] ^ ks[i];
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv_in), iv_in, sizeof(ct2), ct2),
                     KEYD_S_OK);
        uint8_t *back = read_surface(s, key, surface, sizeof(plain));
        memcpy(plain2, plain, sizeof(plain2));
        ck_assert_mem_eq(back, plain2, sizeof(plain2));
        free(back);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_size_zero_rejected) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], iv[IV_SIZE] = {}, out[16];
        uint32_t surface = 12345;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, 0, &surface), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "size is 0"), "%s", keyd_last_error_message());
        ck_assert_uint_eq(surface, 12345);

        ck_assert_hr(keyd_create_surface(s, 16, &surface), KEYD_S_OK);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, 0, NULL), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "empty"), "%s", keyd_last_error_message());
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, 0, NULL), KEYD_E_INVALIDARG);
        /* Nothing was decrypted into it. */
        uint8_t *plain = read_surface(s, key, surface, 16);
        memset(out, 0, sizeof(out));
        ck_assert_mem_eq(plain, out, 16);
        free(plain);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_bad_arguments) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], iv[IV_SIZE] = {}, ckey[KEY_SIZE] = {}, data[64] = {}, buf[64];
        const keyd_encrypted_block_info unaligned = { 8, 0, 0 }, unaligned_skip = { 16, 24, 16 };
        uint32_t surface;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, 17, &surface), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "16"), "%s", keyd_last_error_message());
        ck_assert_hr(keyd_create_surface(s, 32, &surface), KEYD_S_OK);

        /* Data: a multiple of 16, at most the surface. */
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, 17, data), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, 48, data), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "48") && str_contains(keyd_last_error_message(), "32"),
                      "%s", keyd_last_error_message());
        /* Pattern counts: multiples of the block alignment. */
        ck_assert_hr(keyd_decryption_blt(s, surface, &unaligned, 0, NULL, sizeof(iv), iv, 32, data),
                     KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_decryption_blt(s, surface, &unaligned_skip, 0, NULL, sizeof(iv), iv, 32, data),
                     KEYD_E_INVALIDARG);
        /* IV and content key: 16 bytes. */
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, 8, iv, 32, data), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 8, ckey, sizeof(iv), iv, 32, data), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_encryption_blt(s, surface, 15, iv, 32, buf), KEYD_E_INVALIDARG);
        /* NULL pointers. */
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), NULL, 32, data), KEYD_E_POINTER);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, 32, NULL), KEYD_E_POINTER);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, KEY_SIZE, NULL, sizeof(iv), iv, 32, data), KEYD_E_POINTER);
        ck_assert_hr(keyd_decryption_blt(NULL, surface, NULL, 0, NULL, sizeof(iv), iv, 32, data), KEYD_E_POINTER);
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), NULL, 32, buf), KEYD_E_POINTER);
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, 32, NULL), KEYD_E_POINTER);
        ck_assert_hr(keyd_create_surface(s, 32, NULL), KEYD_E_POINTER);
        ck_assert_hr(keyd_start_session_key_refresh(s, KEY_SIZE, NULL), KEYD_E_POINTER);
        ck_assert_hr(keyd_get_encryption_blt_key(s, KEY_SIZE, NULL), KEYD_E_POINTER);
        ck_assert_hr(keyd_finish_session_key_refresh(NULL), KEYD_E_POINTER);
        /* EncryptionBlt's DataSize is the surface's size. */
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, 16, buf), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, 64, buf), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "32"), "%s", keyd_last_error_message());
        /* Random number and key sizes: 16. */
        ck_assert_hr(keyd_start_session_key_refresh(s, 8, buf), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_start_session_key_refresh(s, 32, buf), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_get_encryption_blt_key(s, 8, buf), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_get_encryption_blt_key(s, 0, buf), KEYD_E_INVALIDARG);
        /* Surfaces that do not exist (any more). */
        ck_assert_hr(keyd_decryption_blt(s, surface + 100, NULL, 0, NULL, sizeof(iv), iv, 32, data),
                     KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_destroy_surface(s, surface), KEYD_S_OK);
        ck_assert_hr(keyd_destroy_surface(s, surface), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, 32, data), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, 32, buf), KEYD_E_INVALIDARG);

        /* And the session still works. */
        check_roundtrip(s, key, 64, 64, true, &patterns[1]);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- key refresh ---- */

START_TEST(test_key_refresh) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], new_key[KEY_SIZE], r1[KEY_SIZE], r2[KEY_SIZE];
        uint8_t kblt[KEY_SIZE], kblt_after[KEY_SIZE], wrapped_before[KEY_SIZE], wrapped_after[KEY_SIZE];
        uint8_t expected_wrapped[KEY_SIZE], plain[256], plain2[256];
        uint32_t surface;
        uint8_t *back;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, sizeof(plain), &surface), KEYD_S_OK);
        random_bytes(plain, sizeof(plain));
        decrypt_into(s, surface, key, NULL, NULL, plain, sizeof(plain));

        ck_assert_hr(keyd_get_encryption_blt_key(s, KEY_SIZE, wrapped_before), KEYD_S_OK);
        openssl_ecb_decrypt(key, wrapped_before, kblt);
        openssl_ecb_encrypt(key, kblt, expected_wrapped);
        assert_same_bytes(wrapped_before, expected_wrapped, KEY_SIZE, "read-back key wrapped with the session key");

        /* Two starts: only the latest random number counts. */
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(r1), r1), KEYD_S_OK);
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(r2), r2), KEYD_S_OK);
        ck_assert_int_ne(memcmp(r1, r2, sizeof(r1)), 0);
        /* Until Finish, the old key is live. */
        back = read_surface(s, key, surface, sizeof(plain));
        ck_assert_mem_eq(back, plain, sizeof(plain));
        free(back);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_S_OK);
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_OK);

        /* New session key = old session key XOR R (D3D11). */
        refreshed_key(key, r2, new_key);

        /* A new read-back key, wrapped with the new session key: unwrapped
         * with it, it decrypts the next read-back (checked against openssl). */
        ck_assert_hr(keyd_get_encryption_blt_key(s, KEY_SIZE, wrapped_after), KEYD_S_OK);
        openssl_ecb_decrypt(new_key, wrapped_after, kblt_after);
        ck_assert_int_ne(memcmp(kblt_after, kblt, KEY_SIZE), 0);
        openssl_ecb_encrypt(new_key, kblt_after, expected_wrapped);
        assert_same_bytes(wrapped_after, expected_wrapped, KEY_SIZE,
                          "read-back key wrapped with (old session key XOR R)");
        {
                uint8_t iv_rb[IV_SIZE], out_rb[sizeof(plain)], expected_rb[sizeof(plain)];

                ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv_rb), iv_rb, sizeof(out_rb), out_rb),
                             KEYD_S_OK);
                (void) iv_member(iv_rb);
                openssl_ctr(kblt_after, iv_rb, plain, sizeof(plain), expected_rb);
                assert_same_bytes(out_rb, expected_rb, sizeof(out_rb),
                                  "read-back under the K_blt drawn after the refresh");
        }

        /* The surface kept its content across the refresh. */
        back = read_surface(s, new_key, surface, sizeof(plain));
        assert_same_bytes(back, plain, sizeof(plain), "surface content after a key refresh");
        free(back);

        /* Data under the new key decrypts... */
        random_bytes(plain2, sizeof(plain2));
        decrypt_into(s, surface, new_key, NULL, &patterns[1], plain2, sizeof(plain2));
        back = read_surface(s, new_key, surface, sizeof(plain2));
        assert_same_bytes(back, plain2, sizeof(plain2), "data under the refreshed key");
        free(back);

        /* ... and a content key now travels encrypted with the new key. */
        uint8_t ckey[KEY_SIZE], wrapped_ckey[KEY_SIZE];
        random_bytes(ckey, sizeof(ckey));
        openssl_ecb_encrypt(new_key, ckey, wrapped_ckey);
        decrypt_into(s, surface, ckey, wrapped_ckey, NULL, plain, sizeof(plain));
        back = read_surface(s, new_key, surface, sizeof(plain));
        assert_same_bytes(back, plain, sizeof(plain), "content key under the refreshed key");
        free(back);

        /* Data under the old key yields garbage: exactly CTR(new) of CTR(old). */
        uint8_t iv[IV_SIZE], ct_old[256], expected[256];
        random_bytes(iv, sizeof(iv));
        ref_ctr_pattern(key, iv, NULL, ct_old, plain2, sizeof(plain2));
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(ct_old), ct_old),
                     KEYD_S_OK);
        ref_ctr_pattern(new_key, iv, NULL, expected, ct_old, sizeof(ct_old));
        back = read_surface(s, new_key, surface, sizeof(plain2));
        ck_assert_int_ne(memcmp(back, plain2, sizeof(plain2)), 0);
        assert_same_bytes(back, expected, sizeof(expected), "old-key data decrypted with the new key");
        free(back);

        /* A refresh is one Start and one Finish. */
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "StartSessionKeyRefresh"), "%s",
                      keyd_last_error_message());

        /* A second refresh chains on the first. */
        uint8_t r3[KEY_SIZE], third_key[KEY_SIZE];
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(r3), r3), KEYD_S_OK);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_S_OK);
        refreshed_key(new_key, r3, third_key);
        back = read_surface(s, third_key, surface, sizeof(plain2));
        assert_same_bytes(back, expected, sizeof(expected), "surface after a second refresh");
        free(back);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_finish_without_start) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE];

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "StartSessionKeyRefresh"), "%s",
                      keyd_last_error_message());
        /* Nothing changed: the key is still the negotiated one. */
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_OK);
        check_roundtrip(s, key, 32, 32, true, NULL);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_calls_before_negotiation) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t buf[KEY_SIZE], iv[IV_SIZE] = {}, data[32] = {}, key[KEY_SIZE];
        uint32_t surface;

        /* A surface may be made before there is a key; nothing may flow into or out of it. */
        ck_assert_hr(keyd_create_surface(s, sizeof(data), &surface), KEYD_S_OK);
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(data), data),
                     KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "NegotiateCryptoSessionKeyExchange"), "%s",
                      keyd_last_error_message());
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, sizeof(data), data), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(buf), buf), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(buf), buf), KEYD_DXGI_ERROR_INVALID_CALL);

        /* A failed negotiation gives no key either. */
        memset(data, 0, sizeof(data));
        uint8_t bad[MODULUS_SIZE];
        random_bytes(bad, sizeof(bad));
        bad[0] = 0xff;  /* above the modulus */
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(bad), bad), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(buf), buf), KEYD_DXGI_ERROR_INVALID_CALL);

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_destroy_surface(s, surface), KEYD_S_OK);
        check_roundtrip(s, key, 32, 32, false, NULL);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* Each negotiation replaces the session key and the read-back key. */
START_TEST(test_renegotiation_replaces_keys) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key1[KEY_SIZE], key2[KEY_SIZE], kblt1[KEY_SIZE], kblt2[KEY_SIZE];

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key1);
        readback_key(s, key1, kblt1);
        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key2);
        readback_key(s, key2, kblt2);
        ck_assert_int_ne(memcmp(kblt1, kblt2, KEY_SIZE), 0);
        check_roundtrip(s, key2, 64, 64, true, &patterns[3]);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- an abandoned refresh loses the key ---- */

START_TEST(test_key_lost_after_abandoned_refresh) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], key2[KEY_SIZE], r[KEY_SIZE], buf[KEY_SIZE], iv[IV_SIZE] = {}, plain[64], data[64];
        uint32_t surface, status_prop = 99;
        uint8_t *back;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, sizeof(plain), &surface), KEYD_S_OK);
        random_bytes(plain, sizeof(plain));
        decrypt_into(s, surface, key, NULL, NULL, plain, sizeof(plain));

        /* A refresh finished in time keeps the key alive past the timeout. */
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(r), r), KEYD_S_OK);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_S_OK);
        refreshed_key(key, r, key2);
        memcpy(key, key2, KEY_SIZE);
        usleep(1500 * 1000);
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_OK);

        /* One left unfinished is abandoned after --key-refresh-timeout=1. */
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(r), r), KEYD_S_OK);
        usleep(2000 * 1000);
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_KEY_LOST);
        ck_assert_int_eq(harness_get_property_u32(keyd_crypto_session_get_object_path(s), KEYD_SESSION_INTERFACE,
                                                  "Status", &status_prop),
                         0);
        ck_assert_uint_eq(status_prop, KEYD_CRYPTO_SESSION_STATUS_KEY_LOST);

        /* Nothing flows without a key, with a clear error. */
        random_bytes(data, sizeof(data));
        ck_assert_hr(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(data), data),
                     KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "lost"), "%s", keyd_last_error_message());
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv), iv, sizeof(data), data), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(buf), buf), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_start_session_key_refresh(s, sizeof(buf), buf), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_KEY_LOST);

        /* A new key brings the session back; KEY_LOST (not KEY_AND_CONTENT_LOST)
         * means the surface kept its content. */
        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_OK);
        back = read_surface(s, key, surface, sizeof(plain));
        assert_same_bytes(back, plain, sizeof(plain), "surface content after the key was lost and renegotiated");
        free(back);
        check_roundtrip(s, key, 1024, 1024, true, &patterns[1]);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- HW_PROTECTION ---- */

static keyd_key_exchange_hw_protection_input_data *hw_input(uint32_t private_size, const void *payload,
                                                           uint32_t payload_size) {
        size_t n = offsetof(keyd_key_exchange_hw_protection_input_data, pbInput) + private_size + payload_size;
        keyd_key_exchange_hw_protection_input_data *in = xmalloc(MAX(n, sizeof(*in)));

        in->PrivateDataSize = private_size;
        in->HWProtectionDataSize = payload_size;
        memset(in->pbInput, 0xa5, private_size);
        if (payload_size > 0)
                memcpy(in->pbInput + private_size, payload, payload_size);
        return in;
}

/* An output structure with room for max bytes of function output, the
 * size fields set to sentinels that a successful call overwrites. */
static keyd_key_exchange_hw_protection_output_data *hw_output(uint32_t max) {
        size_t n = offsetof(keyd_key_exchange_hw_protection_output_data, pbOutput) + max;
        keyd_key_exchange_hw_protection_output_data *out = xmalloc(MAX(n, sizeof(*out)));

        memset(out, 0xee, MAX(n, sizeof(*out)));
        out->PrivateDataSize = 0;
        out->MaxHWProtectionDataSize = max;
        out->HWProtectionDataSize = 0xdeadbeef;
        out->TransportTime = UINT64_MAX;
        out->ExecutionTime = UINT64_MAX;
        return out;
}

/* The D3D11 layouts, field by field (x86-64 and every LP64/ILP32 ABI we build for). */
START_TEST(test_hw_protection_layout) {
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_input_data, PrivateDataSize), 0);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_input_data, HWProtectionDataSize), 4);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_input_data, pbInput), 8);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_output_data, PrivateDataSize), 0);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_output_data, MaxHWProtectionDataSize), 4);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_output_data, HWProtectionDataSize), 8);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_output_data, TransportTime), 16);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_output_data, ExecutionTime), 24);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_output_data, pbOutput), 32);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_data, HWProtectionFunctionID), 0);
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_data, pInputData), sizeof(void *));
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_data, pOutputData), 2 * sizeof(void *));
        ck_assert_uint_eq(offsetof(keyd_key_exchange_hw_protection_data, Status), 3 * sizeof(void *));
        ck_assert_uint_eq(sizeof(keyd_encrypted_block_info), 12);
}
END_TEST

START_TEST(test_hw_protection_pass_through) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        uint8_t payload[200];
        keyd_key_exchange_hw_protection_input_data *in;
        keyd_key_exchange_hw_protection_output_data *out;
        keyd_key_exchange_hw_protection_data d;

        random_bytes(payload, sizeof(payload));
        in = hw_input(0, payload, sizeof(payload));
        out = hw_output(sizeof(payload));
        d = (keyd_key_exchange_hw_protection_data) { TEE_PASS_THROUGH, in, out, KEYD_E_FAIL };

        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_int_eq(d.Status, KEYD_S_OK);
        ck_assert_uint_eq(out->PrivateDataSize, 0);
        ck_assert_uint_eq(out->MaxHWProtectionDataSize, sizeof(payload));
        ck_assert_uint_eq(out->HWProtectionDataSize, sizeof(payload));
        ck_assert_mem_eq(out->pbOutput, payload, sizeof(payload));
        /* 100 ns units: the bus round trip takes more than nothing and far less than 10 s. */
        ck_assert_uint_lt(out->ExecutionTime, 100000000ULL);
        ck_assert_uint_gt(out->TransportTime, 0);
        ck_assert_uint_lt(out->TransportTime, 100000000ULL);
        free(in);
        free(out);

        /* The private data at the start of the input is not part of the command. */
        in = hw_input(24, payload, 50);
        out = hw_output(64);
        d = (keyd_key_exchange_hw_protection_data) { TEE_PASS_THROUGH, in, out, KEYD_E_FAIL };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_int_eq(d.Status, KEYD_S_OK);
        ck_assert_uint_eq(out->HWProtectionDataSize, 50);
        ck_assert_mem_eq(out->pbOutput, payload, 50);
        free(in);
        free(out);

        /* Nothing in, nothing out. */
        in = hw_input(0, NULL, 0);
        out = hw_output(0);
        d = (keyd_key_exchange_hw_protection_data) { TEE_PASS_THROUGH, in, out, KEYD_E_FAIL };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_int_eq(d.Status, KEYD_S_OK);
        ck_assert_uint_eq(out->HWProtectionDataSize, 0);
        free(in);
        free(out);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_hw_protection_version) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *version = NULL;
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        keyd_key_exchange_hw_protection_input_data *in = hw_input(0, NULL, 0);
        keyd_key_exchange_hw_protection_output_data *out = hw_output(256);
        keyd_key_exchange_hw_protection_data d = { TEE_FIRMWARE_VERSION, in, out, KEYD_E_FAIL };
        char text[257];

        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_int_ge(sd_bus_get_property_string(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                                    "Version", NULL, &version),
                         0);

        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_int_eq(d.Status, KEYD_S_OK);
        ck_assert_uint_gt(out->HWProtectionDataSize, strlen(version));
        ck_assert_uint_le(out->HWProtectionDataSize, 256);
        memcpy(text, out->pbOutput, out->HWProtectionDataSize);
        text[out->HWProtectionDataSize] = '\0';
        ck_assert_msg(strstr(text, version), "firmware version \"%s\" does not name keyd %s", text, version);

        /* Exactly as much room as the text is enough; one byte less is not. */
        uint32_t n = out->HWProtectionDataSize;
        free(out);
        out = hw_output(n);
        d = (keyd_key_exchange_hw_protection_data) { TEE_FIRMWARE_VERSION, in, out, KEYD_E_FAIL };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_uint_eq(out->HWProtectionDataSize, n);
        free(out);
        out = hw_output(n - 1);
        d = (keyd_key_exchange_hw_protection_data) { TEE_FIRMWARE_VERSION, in, out, KEYD_E_FAIL };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_E_INVALIDARG);
        ck_assert_uint_eq(out->HWProtectionDataSize, 0xdeadbeef);

        free(in);
        free(out);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_hw_protection_bad_calls) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        uint8_t payload[100];
        keyd_key_exchange_hw_protection_input_data *in;
        keyd_key_exchange_hw_protection_output_data *out;
        keyd_key_exchange_hw_protection_data d;

        random_bytes(payload, sizeof(payload));
        in = hw_input(0, payload, sizeof(payload));

        /* Output buffer too small: E_INVALIDARG, and nothing written. */
        out = hw_output(sizeof(payload) - 1);
        d = (keyd_key_exchange_hw_protection_data) { TEE_PASS_THROUGH, in, out, 0x12345678 };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "99"), "%s", keyd_last_error_message());
        ck_assert_uint_eq(out->HWProtectionDataSize, 0xdeadbeef);
        ck_assert_uint_eq(out->TransportTime, UINT64_MAX);
        ck_assert_int_eq(d.Status, 0x12345678);
        free(out);
        out = hw_output(0);
        d = (keyd_key_exchange_hw_protection_data) { TEE_PASS_THROUGH, in, out, 0x12345678 };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_E_INVALIDARG);
        free(out);

        /* Wrong DataSize. */
        out = hw_output(sizeof(payload));
        d = (keyd_key_exchange_hw_protection_data) { TEE_PASS_THROUGH, in, out, 0x12345678 };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d) - 1, &d), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "DataSize"), "%s", keyd_last_error_message());
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d) + 8, &d), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, 0, &d), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, MODULUS_SIZE, &d), KEYD_E_INVALIDARG);

        /* NULL pointers. */
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), NULL), KEYD_E_POINTER);
        d.pInputData = NULL;
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_E_POINTER);
        ck_assert_msg(str_contains(keyd_last_error_message(), "pInputData"), "%s", keyd_last_error_message());
        d.pInputData = in;
        d.pOutputData = NULL;
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_E_POINTER);
        ck_assert_msg(str_contains(keyd_last_error_message(), "pOutputData"), "%s", keyd_last_error_message());
        ck_assert_int_eq(d.Status, 0x12345678);

        /* An unknown function: the call succeeds, the function's status says no. */
        d = (keyd_key_exchange_hw_protection_data) { 0x77, in, out, KEYD_S_OK };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_int_eq(d.Status, KEYD_E_INVALIDARG);
        ck_assert_uint_eq(out->HWProtectionDataSize, 0);
        ck_assert_uint_ne(out->TransportTime, UINT64_MAX);
        d = (keyd_key_exchange_hw_protection_data) { 0, in, out, KEYD_S_OK };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_int_eq(d.Status, KEYD_E_INVALIDARG);

        /* Only private data: the command itself is empty. */
        in->PrivateDataSize = 1;
        in->HWProtectionDataSize = 0;
        d = (keyd_key_exchange_hw_protection_data) { TEE_PASS_THROUGH, in, out, KEYD_S_OK };
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s, sizeof(d), &d), KEYD_S_OK);
        ck_assert_uint_eq(out->HWProtectionDataSize, 0);

        free(in);
        free(out);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* D3D11 forbids the certificate, Blt and refresh calls on HW_PROTECTION sessions. */
START_TEST(test_hw_protection_forbidden_calls) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        uint8_t buf[4096], iv[IV_SIZE] = {}, data[32] = {};
        uint32_t surface = 7;

        ck_assert_hr(keyd_crypto_session_get_certificate(s, sizeof(buf), buf), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "HW_PROTECTION"), "%s", keyd_last_error_message());
        ck_assert_hr(keyd_create_surface(s, 32, &surface), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_uint_eq(surface, 7);
        ck_assert_hr(keyd_decryption_blt(s, 1, NULL, 0, NULL, sizeof(iv), iv, sizeof(data), data),
                     KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_encryption_blt(s, 1, sizeof(iv), iv, sizeof(data), data), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_start_session_key_refresh(s, KEY_SIZE, buf), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_finish_session_key_refresh(s), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_hr(keyd_get_encryption_blt_key(s, KEY_SIZE, buf), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_OK);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- raw sd-bus: what libkeyd would never send ---- */

typedef struct RawSession {
        sd_bus *bus;
        char *path;
        uint8_t key[KEY_SIZE];
} RawSession;

static void raw_call(sd_bus *bus, const char *path, const char *member, sd_bus_message **ret_reply,
                     const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_methodv(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, member, &error, ret_reply, types, ap);
        va_end(ap);
        ck_assert_msg(r >= 0, "%s failed: %s: %s", member, error.name, error.message);
        sd_bus_error_free(&error);
}

static sd_bus_message *raw_new_call(sd_bus *bus, const char *path, const char *member) {
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, member),
                         0);
        return m;
}

static void append_bytes(sd_bus_message *m, const void *p, size_t n) {
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', n > 0 ? p : (const void *) "", n), 0);
}

/* Send m and drop it; returns what sd_bus_call() does. */
static int raw_send(sd_bus *bus, sd_bus_message *m, sd_bus_error *error, sd_bus_message **ret_reply) {
        int r = sd_bus_call(bus, m, 60 * USEC_PER_SEC, error, ret_reply);

        sd_bus_message_unref(m);
        return r;
}

/* DecryptionBlt (fd < 0: the "ay" form with data) or DecryptionBltFd, all encrypted, no content key. */
static int raw_decryption_blt(sd_bus *bus, const char *path, uint32_t surface, int fd, const void *data, size_t size,
                              const uint8_t iv[IV_SIZE], sd_bus_error *error) {
        sd_bus_message *m = raw_new_call(bus, path, fd >= 0 ? "DecryptionBltFd" : "DecryptionBlt");
        sd_bus_message *reply = NULL;
        int r;

        if (fd >= 0)
                ck_assert_int_ge(sd_bus_message_append(m, "uh", surface, fd), 0);
        else {
                ck_assert_int_ge(sd_bus_message_append(m, "u", surface), 0);
                append_bytes(m, data, size);
        }
        ck_assert_int_ge(sd_bus_message_append(m, "(uuu)", 0, 0, 0), 0);
        append_bytes(m, NULL, 0);
        append_bytes(m, iv, IV_SIZE);
        r = raw_send(bus, m, error, &reply);
        sd_bus_message_unref(reply);
        return r;
}

/* EncryptionBlt (fd < 0) or EncryptionBltToFd into fd. */
static int raw_encryption_blt(sd_bus *bus, const char *path, uint32_t surface, int fd, sd_bus_error *error,
                              sd_bus_message **ret_reply) {
        sd_bus_message *m = raw_new_call(bus, path, fd >= 0 ? "EncryptionBltToFd" : "EncryptionBlt");

        ck_assert_int_ge(sd_bus_message_append(m, "u", surface), 0);
        if (fd >= 0)
                ck_assert_int_ge(sd_bus_message_append(m, "h", fd), 0);
        return raw_send(bus, m, error, ret_reply);
}

/* The "ay iv" of a read-back reply: 16 bytes, Count 0; returns the IV member. */
static uint64_t reply_iv(sd_bus_message *reply, uint8_t iv[IV_SIZE]) {
        const void *p;
        size_t n;

        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &p, &n), 0);
        ck_assert_uint_eq(n, IV_SIZE);
        memcpy(iv, p, IV_SIZE);
        return iv_member(iv);
}

/* Check a failed call: the error name, and the message starting with the HRESULT. */
static void expect_error(int r, sd_bus_error *error, const char *what, const char *name, const char *hresult,
                         const char *needle) {
        ck_assert_msg(r < 0, "%s succeeded; expected %s", what, name);
        ck_assert_msg(streq_ptr(error->name, name), "%s: got %s (%s), expected %s", what, error->name,
                      error->message, name);
        ck_assert_msg(error->message && strncmp(error->message, hresult, strlen(hresult)) == 0,
                      "%s: message \"%s\" does not start with %s", what, error->message, hresult);
        ck_assert_msg(!needle || strstr(error->message, needle), "%s: message \"%s\" does not mention \"%s\"", what,
                      error->message, needle);
        sd_bus_error_free(error);
}

/* A session created and negotiated on a raw connection of our own. */
static void raw_session_open(RawSession *rs, const char *key_exchange, bool negotiate) {
        sd_bus_message *reply = NULL;
        const char *path;
        const void *cert;
        size_t cert_size;
        uint8_t data[MODULUS_SIZE];

        *rs = (RawSession) {};
        ck_assert_int_eq(harness_open_bus(&rs->bus), 0);
        ck_assert_int_ge(sd_bus_call_method(rs->bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                            "CreateCryptoSession", NULL, &reply, "sss", AES128_CTR, "",
                                            key_exchange),
                         0);
        ck_assert_int_ge(sd_bus_message_read(reply, "o", &path), 0);
        rs->path = strdup(path);
        ck_assert_ptr_nonnull(rs->path);
        reply = sd_bus_message_unref(reply);
        if (!negotiate)
                return;

        raw_call(rs->bus, rs->path, "GetCertificate", &reply, "");
        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &cert, &cert_size), 0);
        random_bytes(rs->key, KEY_SIZE);
        ck_assert_hr(keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, rs->key, KEY_SIZE,
                                           sizeof(data), data),
                     KEYD_S_OK);
        reply = sd_bus_message_unref(reply);
        sd_bus_message *m = raw_new_call(rs->bus, rs->path, "NegotiateCryptoSessionKeyExchange");
        append_bytes(m, data, sizeof(data));
        ck_assert_int_ge(raw_send(rs->bus, m, NULL, &reply), 0);
        sd_bus_message_unref(reply);
}

static void raw_session_close(RawSession *rs) {
        sd_bus_flush_close_unref(rs->bus);
        free(rs->path);
        *rs = (RawSession) {};
}

static uint32_t raw_create_surface(RawSession *rs, uint32_t size) {
        sd_bus_message *reply = NULL;
        uint32_t id;

        raw_call(rs->bus, rs->path, "CreateSurface", &reply, "u", size);
        ck_assert_int_ge(sd_bus_message_read(reply, "u", &id), 0);
        sd_bus_message_unref(reply);
        return id;
}

/* A memfd holding data, with the seals asked for (0 = none). */
static int make_memfd(const void *data, size_t size, int seals) {
        int fd = memfd_create("test-data-path", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t) size), 0);
        if (size > 0)
                ck_assert_int_eq(pwrite(fd, data, size, 0), (ssize_t) size);
        if (seals)
                ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
        return fd;
}

static int raw_decryption_blt_fd(RawSession *rs, uint32_t surface, int fd, const uint8_t iv[IV_SIZE],
                                 sd_bus_error *error) {
        return raw_decryption_blt(rs->bus, rs->path, surface, fd, NULL, 0, iv, error);
}

#define ALL_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)
#define DESTINATION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* A destination for EncryptionBltToFd: size bytes, every one written, with
 * the seals asked for. */
static int make_destination(size_t size, int seals) {
        uint8_t *junk = xmalloc(size ?: 1);
        int fd;

        random_bytes(junk, size);
        fd = make_memfd(junk, size, seals);
        free(junk);
        return fd;
}

/* K_blt drawn anew by GetEncryptionBltKey on the raw connection. */
static void raw_readback_key(RawSession *rs, uint8_t kblt[KEY_SIZE]) {
        sd_bus_message *reply = NULL;
        const void *wrapped;
        size_t wrapped_size;

        raw_call(rs->bus, rs->path, "GetEncryptionBltKey", &reply, "u", KEY_SIZE);
        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &wrapped, &wrapped_size), 0);
        ck_assert_uint_eq(wrapped_size, KEY_SIZE);
        ecb_decrypt(rs->key, wrapped, kblt);
        sd_bus_message_unref(reply);
}

/* Whether keyd (pid) holds a descriptor or a mapping of the file st. */
static bool keyd_holds_file(pid_t pid, const struct stat *st) {
        char dir[64], path[PATH_MAX], line[1024];
        struct dirent *de;
        bool found = false;
        DIR *d;
        FILE *f;

        snprintf(dir, sizeof(dir), "/proc/%i/fd", (int) pid);
        d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        while (!found && (de = readdir(d))) {
                struct stat fst;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                found = stat(path, &fst) == 0 && fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
        }
        closedir(d);

        /* maps: "start-end perms offset dev inode path"; memfds are on tmpfs. */
        snprintf(path, sizeof(path), "/proc/%i/maps", (int) pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (!found && fgets(line, sizeof(line), f)) {
                unsigned long long ino = 0;

                if (sscanf(line, "%*s %*s %*s %*s %llu", &ino) == 1 && ino == (unsigned long long) st->st_ino &&
                    strstr(line, "memfd:"))
                        found = true;
        }
        fclose(f);
        return found;
}
START_TEST(test_memfd_raw) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        RawSession rs;
        uint8_t iv[IV_SIZE], plain[4096], ct[4096], ct_big[8192] = {}, kblt[KEY_SIZE], expected[4096];
        uint8_t back[4096];
        uint32_t surface;
        int fd, pipefd[2], r;

        raw_session_open(&rs, RSAES_OAEP, true);
        surface = raw_create_surface(&rs, sizeof(plain));
        random_bytes(plain, sizeof(plain));
        random_bytes(iv, sizeof(iv));
        ref_ctr_pattern(rs.key, iv, NULL, ct, plain, sizeof(plain));

        /* No seals at all. */
        fd = make_memfd(ct, sizeof(ct), 0);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd with an unsealed memfd", ERROR_INVALID_ARG, "0x80070057:", "seal");
        close(fd);

        /* Some seals, not all: a writer could still change the bytes, or shrink them under us. */
        fd = make_memfd(ct, sizeof(ct), F_SEAL_SHRINK | F_SEAL_GROW);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd without F_SEAL_WRITE", ERROR_INVALID_ARG, "0x80070057:", "F_SEAL_WRITE");
        close(fd);
        fd = make_memfd(ct, sizeof(ct), F_SEAL_WRITE | F_SEAL_GROW);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd without F_SEAL_SHRINK", ERROR_INVALID_ARG, "0x80070057:", NULL);
        close(fd);

        /* Sealed, but bigger than the surface. */
        fd = make_memfd(ct_big, sizeof(ct_big), ALL_SEALS);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd bigger than the surface", ERROR_INVALID_ARG, "0x80070057:", "8192");
        close(fd);

        /* Sealed, but empty, or not a multiple of 16. */
        fd = make_memfd(NULL, 0, ALL_SEALS);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd with an empty memfd", ERROR_INVALID_ARG, "0x80070057:", NULL);
        close(fd);
        fd = make_memfd(ct, 100, ALL_SEALS);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd with 100 bytes", ERROR_INVALID_ARG, "0x80070057:", "100");
        close(fd);

        /* Not a memfd: a pipe, /dev/null, a file. */
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        ck_assert_int_eq(write(pipefd[1], ct, 64), 64);
        r = raw_decryption_blt_fd(&rs, surface, pipefd[0], iv, &error);
        expect_error(r, &error, "DecryptionBltFd with a pipe", ERROR_INVALID_ARG, "0x80070057:", "memfd");
        close(pipefd[0]);
        close(pipefd[1]);

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd with /dev/null", ERROR_INVALID_ARG, "0x80070057:", "memfd");
        close(fd);

        _cleanup_free_ char *file = harness_write_file("not-a-memfd", ct, sizeof(ct));
        fd = open(file, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        r = raw_decryption_blt_fd(&rs, surface, fd, iv, &error);
        expect_error(r, &error, "DecryptionBltFd with a regular file", ERROR_INVALID_ARG, "0x80070057:", NULL);
        close(fd);

        /* The surface is still all zeros: read it back through EncryptionBltToFd. */
        raw_readback_key(&rs, kblt);
        fd = make_destination(sizeof(back), DESTINATION_SEALS);
        ck_assert_int_ge(raw_encryption_blt(rs.bus, rs.path, surface, fd, NULL, &reply), 0);
        (void) reply_iv(reply, iv);
        ck_assert_int_eq(pread(fd, back, sizeof(back), 0), (ssize_t) sizeof(back));
        reply = sd_bus_message_unref(reply);
        close(fd);
        memset(expected, 0, sizeof(expected));
        ref_ctr_pattern(kblt, iv, NULL, expected, expected, sizeof(expected));
        assert_same_bytes(back, expected, sizeof(back), "surface after refused memfds");

        /* A correct one works, and what comes back is a sealed memfd of the surface's size. */
        random_bytes(iv, sizeof(iv));
        ref_ctr_pattern(rs.key, iv, NULL, ct, plain, sizeof(plain));
        fd = make_memfd(ct, sizeof(ct), ALL_SEALS);
        ck_assert_int_ge(raw_decryption_blt_fd(&rs, surface, fd, iv, &error), 0);
        close(fd);

        fd = make_destination(sizeof(back), DESTINATION_SEALS);
        ck_assert_int_ge(raw_encryption_blt(rs.bus, rs.path, surface, fd, NULL, &reply), 0);
        (void) reply_iv(reply, iv);
        ck_assert_int_eq(pread(fd, back, sizeof(back), 0), (ssize_t) sizeof(back));
        reply = sd_bus_message_unref(reply);
        close(fd);
        ref_ctr_pattern(kblt, iv, NULL, expected, plain, sizeof(plain));
        assert_same_bytes(back, expected, sizeof(back), "EncryptionBltToFd after DecryptionBltFd");

        raw_session_close(&rs);
}
END_TEST

/* The "ay" forms stop at 16 MiB and name the memfd variant. */
START_TEST(test_ay_limit_names_fd_variant) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        RawSession rs;
        uint32_t surface;
        int r;

        raw_session_open(&rs, RSAES_OAEP, true);
        surface = raw_create_surface(&rs, 16 * MiB + 16);
        r = raw_encryption_blt(rs.bus, rs.path, surface, -1, &error, &reply);
        expect_error(r, &error, "EncryptionBlt of a surface above 16 MiB", ERROR_INVALID_ARG, "0x80070057:",
                     "EncryptionBltToFd");
        sd_bus_message_unref(reply);
        raw_session_close(&rs);
}
END_TEST

START_TEST(test_execute_hw_protection_on_rsa_session) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        RawSession rs;
        int r;

        sd_bus_message *m;

        raw_session_open(&rs, RSAES_OAEP, true);
        m = raw_new_call(rs.bus, rs.path, "ExecuteHWProtectionFunction");
        ck_assert_int_ge(sd_bus_message_append(m, "uu", TEE_PASS_THROUGH, 0), 0);
        append_bytes(m, "abc", 3);
        ck_assert_int_ge(sd_bus_message_append(m, "u", 16), 0);
        r = raw_send(rs.bus, m, &error, &reply);
        expect_error(r, &error, "ExecuteHWProtectionFunction on an RSAES-OAEP session", ERROR_INVALID_CALL,
                     "0x887A0001:", "HW_PROTECTION");
        reply = sd_bus_message_unref(reply);
        raw_session_close(&rs);

        /* On a HW_PROTECTION session: private data cannot be longer than the input. */
        raw_session_open(&rs, HW_PROTECTION, false);
        m = raw_new_call(rs.bus, rs.path, "ExecuteHWProtectionFunction");
        ck_assert_int_ge(sd_bus_message_append(m, "uu", TEE_PASS_THROUGH, 10), 0);
        append_bytes(m, "abc", 3);
        ck_assert_int_ge(sd_bus_message_append(m, "u", 16), 0);
        r = raw_send(rs.bus, m, &error, &reply);
        expect_error(r, &error, "ExecuteHWProtectionFunction with private_data_size > input", ERROR_INVALID_ARG,
                     "0x80070057:", "private_data_size");
        reply = sd_bus_message_unref(reply);

        /* The raw reply: u u t ay i. */
        m = raw_new_call(rs.bus, rs.path, "ExecuteHWProtectionFunction");
        ck_assert_int_ge(sd_bus_message_append(m, "uu", TEE_PASS_THROUGH, 1), 0);
        append_bytes(m, "xabc", 4);
        ck_assert_int_ge(sd_bus_message_append(m, "u", 16), 0);
        ck_assert_int_ge(raw_send(rs.bus, m, NULL, &reply), 0);
        uint32_t private_size, hw_size;
        uint64_t exec_time;
        const void *output;
        size_t output_size;
        int32_t status;
        ck_assert_int_ge(sd_bus_message_read(reply, "uut", &private_size, &hw_size, &exec_time), 0);
        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &output, &output_size), 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "i", &status), 0);
        ck_assert_uint_eq(private_size, 0);
        ck_assert_uint_eq(hw_size, 3);
        ck_assert_uint_eq(output_size, 3);
        ck_assert_mem_eq(output, "abc", 3);
        ck_assert_int_eq(status, 0);
        sd_bus_message_unref(reply);
        raw_session_close(&rs);
}
END_TEST

/* Another connection can neither write nor read a session's surfaces. */
START_TEST(test_foreign_connection) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *other = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        const char *path = keyd_crypto_session_get_object_path(s);
        uint8_t key[KEY_SIZE], plain[1024], iv[IV_SIZE] = {}, junk[1024];
        uint32_t surface;
        uint8_t *back;
        int fd, r;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, sizeof(plain), &surface), KEYD_S_OK);
        random_bytes(plain, sizeof(plain));
        decrypt_into(s, surface, key, NULL, NULL, plain, sizeof(plain));

        ck_assert_int_eq(harness_open_bus(&other), 0);
        random_bytes(junk, sizeof(junk));

        r = raw_decryption_blt(other, path, surface, -1, junk, sizeof(junk), iv, &error);
        expect_error(r, &error, "DecryptionBlt from another connection", ERROR_ACCESS_DENIED, "0x80070005:", NULL);
        fd = make_memfd(junk, sizeof(junk), ALL_SEALS);
        r = raw_decryption_blt(other, path, surface, fd, NULL, 0, iv, &error);
        expect_error(r, &error, "DecryptionBltFd from another connection", ERROR_ACCESS_DENIED, "0x80070005:", NULL);
        close(fd);
        r = raw_encryption_blt(other, path, surface, -1, &error, &reply);
        expect_error(r, &error, "EncryptionBlt from another connection", ERROR_ACCESS_DENIED, "0x80070005:", NULL);
        fd = make_destination(sizeof(plain), DESTINATION_SEALS);
        r = raw_encryption_blt(other, path, surface, fd, &error, &reply);
        expect_error(r, &error, "EncryptionBltToFd from another connection", ERROR_ACCESS_DENIED, "0x80070005:",
                     NULL);
        close(fd);
        r = sd_bus_call_method(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "GetEncryptionBltKey", &error,
                               &reply, "u", KEY_SIZE);
        expect_error(r, &error, "GetEncryptionBltKey from another connection", ERROR_ACCESS_DENIED, "0x80070005:",
                     NULL);
        r = sd_bus_call_method(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "StartSessionKeyRefresh", &error,
                               &reply, "u", KEY_SIZE);
        expect_error(r, &error, "StartSessionKeyRefresh from another connection", ERROR_ACCESS_DENIED,
                     "0x80070005:", NULL);
        r = sd_bus_call_method(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "DestroySurface", &error, &reply,
                               "u", surface);
        expect_error(r, &error, "DestroySurface from another connection", ERROR_ACCESS_DENIED, "0x80070005:", NULL);
        r = sd_bus_call_method(other, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "CreateSurface", &error, &reply,
                               "u", 16);
        expect_error(r, &error, "CreateSurface from another connection", ERROR_ACCESS_DENIED, "0x80070005:", NULL);

        /* The owner's surface and key are untouched. */
        ck_assert_uint_eq(session_status(s), KEYD_CRYPTO_SESSION_STATUS_OK);
        back = read_surface(s, key, surface, sizeof(plain));
        assert_same_bytes(back, plain, sizeof(plain), "surface after another connection's attempts");
        free(back);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- quotas (keyd runs with --max-surface-bytes-per-client=1048576) ---- */

START_TEST(test_surface_quota) {
        keyd_client *a = open_client(), *b = open_client();
        keyd_crypto_session *sa = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *sa2 = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *sb = create_session(b, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_content_protection_caps caps;
        uint8_t key_a[KEY_SIZE], key_b[KEY_SIZE];
        uint32_t surface_a, surface_b, extra = 999;
        uint8_t *plain_a = xmalloc(MiB), *plain_b = xmalloc(MiB), *back;

        /* protected_memory_size is the quota. */
        ck_assert_hr(keyd_get_content_protection_caps(a, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps), KEYD_S_OK);
        ck_assert_uint_eq(caps.ProtectedMemorySize, MiB);

        negotiate_known_key(sa, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key_a);
        negotiate_known_key(sb, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key_b);
        ck_assert_hr(keyd_create_surface(sa, MiB, &surface_a), KEYD_S_OK);
        random_bytes(plain_a, MiB);
        decrypt_into(sa, surface_a, key_a, NULL, &patterns[1], plain_a, MiB);

        /* The second MiB: E_OUTOFMEMORY, saying what the quota is. */
        ck_assert_hr(keyd_create_surface(sa, MiB, &extra), KEYD_E_OUTOFMEMORY);
        ck_assert_msg(str_contains(keyd_last_error_message(), "quota") &&
                              str_contains(keyd_last_error_message(), "1048576"),
                      "%s", keyd_last_error_message());
        ck_assert_uint_eq(extra, 999);
        ck_assert_hr(keyd_create_surface(sa, 16, &extra), KEYD_E_OUTOFMEMORY);
        /* The quota is the client's, not the session's. */
        ck_assert_hr(keyd_create_surface(sa2, 16, &extra), KEYD_E_OUTOFMEMORY);

        /* Another client has its own quota and its work goes on. */
        ck_assert_hr(keyd_create_surface(sb, MiB, &surface_b), KEYD_S_OK);
        random_bytes(plain_b, MiB);
        decrypt_into(sb, surface_b, key_b, NULL, NULL, plain_b, MiB);
        back = read_surface(sb, key_b, surface_b, MiB);
        assert_same_bytes(back, plain_b, MiB, "the other client's surface");
        free(back);

        /* The refused client's own surface is untouched. */
        back = read_surface(sa, key_a, surface_a, MiB);
        assert_same_bytes(back, plain_a, MiB, "the surface of the client over its quota");
        free(back);

        /* Destroying gives the bytes back. */
        ck_assert_hr(keyd_destroy_surface(sa, surface_a), KEYD_S_OK);
        ck_assert_hr(keyd_create_surface(sa2, MiB / 2, &extra), KEYD_S_OK);
        ck_assert_hr(keyd_create_surface(sa, MiB / 2, &extra), KEYD_S_OK);
        ck_assert_hr(keyd_create_surface(sa, 16, &extra), KEYD_E_OUTOFMEMORY);

        /* The other client is at its own quota now. */
        ck_assert_hr(keyd_create_surface(sb, 16, &extra), KEYD_E_OUTOFMEMORY);

        keyd_crypto_session_release(sa);
        keyd_crypto_session_release(sa2);
        keyd_crypto_session_release(sb);
        keyd_client_close(a);
        keyd_client_close(b);
        free(plain_a);
        free(plain_b);
}
END_TEST

/* A closed session gives its surface bytes back to the client. */
START_TEST(test_quota_released_with_session) {
        keyd_client *a = open_client();
        keyd_crypto_session *s = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint32_t surface;

        ck_assert_hr(keyd_create_surface(s, MiB, &surface), KEYD_S_OK);
        keyd_crypto_session_release(s);
        s = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_hr(keyd_create_surface(s, MiB, &surface), KEYD_S_OK);
        keyd_crypto_session_release(s);
        keyd_client_close(a);
}
END_TEST

/* ---- keydctl roundtrip ---- */

static bool has_hex_run(const char *s, size_t run) {
        size_t n = 0;

        for (; *s; s++) {
                n = isxdigit((unsigned char) *s) ? n + 1 : 0;
                if (n >= run)
                        return true;
        }
        return false;
}

static void run_keydctl(const char *const *args, int expected_status, HarnessRun *run) {
        const char *argv[16];
        _cleanup_free_ char *address = NULL;
        size_t n = 0;

        ck_assert_int_gt(asprintf(&address, "--address=%s", harness_bus_address()), 0);
        argv[n++] = harness_binary("KEYDCTL_BINARY");
        argv[n++] = address;
        argv[n++] = "roundtrip";
        for (; *args && n < ELEMENTSOF(argv) - 1; args++)
                argv[n++] = *args;
        argv[n] = NULL;

        ck_assert_int_eq(harness_run(argv, NULL, 0, run), 0);
        ck_assert_msg(run->status == expected_status, "keydctl roundtrip exited %d, expected %d:\n%s\n%s", run->status,
                      expected_status, run->out, run->err);
}

START_TEST(test_keydctl_roundtrip) {
        static const char *const cases[][5] = {
                { NULL },
                { "--size=16", NULL },
                { "--size=32M", "--pattern=16:16:32", "--content-key", NULL },
                { "--size=4096", "--pattern=32:0:0", "--key-exchange=sha256", NULL },
                { "--size=1M", "--pattern=0:16:32", "--content-key", "--key-exchange=sha1", NULL },
        };
        HarnessRun run;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                run_keydctl(cases[i], 0, &run);
                ck_assert_msg(strstr(run.out, "Result:") && strstr(run.out, "match"), "%s", run.out);
                ck_assert_msg(strstr(run.out, "DecryptionBlt") && strstr(run.out, "MB/s"), "%s", run.out);
                ck_assert_msg(strstr(run.out, "EncryptionBlt"), "%s", run.out);
                /* The IV keyd chose is shown: its IV member and Count 0. */
                ck_assert_msg(strstr(run.out, "Read-back IV:") && strstr(run.out, ", Count 0 (chosen by keyd)"), "%s",
                              run.out);
                /* No key (32 hex digits or more) is ever printed. */
                ck_assert_msg(!has_hex_run(run.out, 32) && !has_hex_run(run.err, 32), "%s", run.out);
                harness_run_done(&run);
        }

        /* Sizes and patterns it cannot use: a usage error (2) when keydctl
         * can tell, keyd's error (1) when only keyd can. */
        static const struct {
                const char *args[2];
                int status;
        } bad[] = {
                { { "--size=0", NULL }, 2 },
                { { "--size=17", NULL }, 2 },
                { { "--pattern=1:2", NULL }, 2 },
                { { "--pattern=8:0:0", NULL }, 1 },   /* keyd refuses: not block aligned */
                { { "--key-exchange=md5", NULL }, 2 },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                run_keydctl(bad[i].args, bad[i].status, &run);
                ck_assert_msg(strstr(run.err, "keydctl:"), "%s", run.err);
                ck_assert_msg(!strstr(run.out, "match"), "%s", run.out);
                harness_run_done(&run);
        }
}
END_TEST

/* ---- read-back: keyd's IVs, a new K_blt per GetEncryptionBltKey ---- */

/* The surface read back through libkeyd must be CTR(kblt, iv, plain):
 * computed by the openssl command, not by keyd's code nor nettle. */
static void expect_readback(const uint8_t *out, const uint8_t kblt[KEY_SIZE], const uint8_t iv[IV_SIZE],
                            const uint8_t *plain, size_t size, const char *what) {
        uint8_t *expected = xmalloc(size);

        openssl_ctr(kblt, iv, plain, size, expected);
        assert_same_bytes(out, expected, size, what);
        free(expected);
}

START_TEST(test_readback_iv_sequence_and_new_keys) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *s2 = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        uint8_t key[KEY_SIZE], key2[KEY_SIZE], kblt1[KEY_SIZE], kblt2[KEY_SIZE], w1[KEY_SIZE], w2[KEY_SIZE];
        uint8_t iv0[IV_SIZE], iv1[IV_SIZE], iv2[IV_SIZE], iv3[IV_SIZE], iv_other[IV_SIZE], iv_before[IV_SIZE];
        uint8_t plain[256], out0[256], out1[256], out2[256], zeros[256] = {}, guess[256], zero_key[KEY_SIZE] = {};
        const uint32_t big = KEYD_BLT_MEMFD_THRESHOLD + 4096;
        uint8_t *big_plain = xmalloc(big), *big_out = xmalloc(big);
        uint32_t surface, surface_big, surface2;

        negotiate_known_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key);
        ck_assert_hr(keyd_create_surface(s, sizeof(plain), &surface), KEYD_S_OK);
        random_bytes(plain, sizeof(plain));
        decrypt_into(s, surface, key, NULL, NULL, plain, sizeof(plain));

        /* Before any GetEncryptionBltKey, read-back works with the K_blt drawn
         * at the key exchange: not the session key, not a zero key, and not
         * the plaintext. */
        memset(iv0, 0xa5, sizeof(iv0));
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv0), iv0, sizeof(out0), out0), KEYD_S_OK);
        uint64_t m0 = iv_member(iv0);
        ck_assert_int_ne(memcmp(out0, plain, sizeof(plain)), 0);
        openssl_ctr(key, iv0, plain, sizeof(plain), guess);
        ck_assert_int_ne(memcmp(out0, guess, sizeof(guess)), 0);
        openssl_ctr(zero_key, iv0, plain, sizeof(plain), guess);
        ck_assert_int_ne(memcmp(out0, guess, sizeof(guess)), 0);

        /* GetEncryptionBltKey twice: two different keys, each wrapped with the session key. */
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(w1), w1), KEYD_S_OK);
        ck_assert_hr(keyd_get_encryption_blt_key(s, sizeof(w2), w2), KEYD_S_OK);
        ck_assert_int_ne(memcmp(w1, w2, KEY_SIZE), 0);
        openssl_ecb_decrypt(key, w1, kblt1);
        openssl_ecb_decrypt(key, w2, kblt2);
        ck_assert_int_ne(memcmp(kblt1, kblt2, KEY_SIZE), 0);

        /* Two read-backs in a row: the IV member goes up by one, Count 0, and
         * each decrypts with the newest K_blt (kblt2), not the one before. */
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv1), iv1, sizeof(out1), out1), KEYD_S_OK);
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv2), iv2, sizeof(out2), out2), KEYD_S_OK);
        uint64_t m1 = iv_member(iv1), m2 = iv_member(iv2);
        ck_assert_uint_eq(m1, m0 + 1);
        ck_assert_uint_eq(m2, m1 + 1);
        expect_readback(out1, kblt2, iv1, plain, sizeof(plain), "first read-back under the newest K_blt");
        expect_readback(out2, kblt2, iv2, plain, sizeof(plain), "second read-back under the newest K_blt");
        ck_assert_int_ne(memcmp(out1, out2, sizeof(out1)), 0);
        openssl_ctr(kblt1, iv1, plain, sizeof(plain), guess);
        ck_assert_int_ne(memcmp(out1, guess, sizeof(guess)), 0);
        /* The first read-back was not under either of the later keys. */
        openssl_ctr(kblt1, iv0, plain, sizeof(plain), guess);
        ck_assert_int_ne(memcmp(out0, guess, sizeof(guess)), 0);
        openssl_ctr(kblt2, iv0, plain, sizeof(plain), guess);
        ck_assert_int_ne(memcmp(out0, guess, sizeof(guess)), 0);

        /* The memfd path (EncryptionBltToFd) goes on with the same sequence. */
        ck_assert_hr(keyd_create_surface(s, big, &surface_big), KEYD_S_OK);
        random_bytes(big_plain, big);
        decrypt_into(s, surface_big, key, NULL, NULL, big_plain, big);
        ck_assert_hr(keyd_encryption_blt(s, surface_big, sizeof(iv3), iv3, big, big_out), KEYD_S_OK);
        ck_assert_uint_eq(iv_member(iv3), m2 + 1);
        expect_readback(big_out, kblt2, iv3, big_plain, big, "read-back through EncryptionBltToFd");

        /* A failed read-back leaves pIV and pData alone and uses no IV. */
        memset(iv_before, 0x5a, sizeof(iv_before));
        memcpy(guess, iv_before, sizeof(iv_before));
        ck_assert_hr(keyd_encryption_blt(s, surface + 1000, sizeof(iv_before), iv_before, sizeof(out1), out1),
                     KEYD_E_INVALIDARG);
        ck_assert_mem_eq(iv_before, guess, sizeof(iv_before));
        ck_assert_hr(keyd_encryption_blt(s, surface, sizeof(iv1), iv1, sizeof(out1), out1), KEYD_S_OK);
        ck_assert_uint_eq(iv_member(iv1), m2 + 2);

        /* A zero surface reads back as the bare keystream of (K_blt, IV). */
        ck_assert_hr(keyd_create_surface(s, sizeof(zeros), &surface2), KEYD_S_OK);
        ck_assert_hr(keyd_encryption_blt(s, surface2, sizeof(iv2), iv2, sizeof(out2), out2), KEYD_S_OK);
        ck_assert_uint_eq(iv_member(iv2), m2 + 3);
        expect_readback(out2, kblt2, iv2, zeros, sizeof(zeros), "a new surface read back");

        /* Another session starts at its own random IV member. */
        negotiate_known_key(s2, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key2);
        ck_assert_hr(keyd_create_surface(s2, 16, &surface2), KEYD_S_OK);
        ck_assert_hr(keyd_encryption_blt(s2, surface2, sizeof(iv_other), iv_other, 16, out2), KEYD_S_OK);
        ck_assert_uint_ne(iv_member(iv_other), m0);

        free(big_plain);
        free(big_out);
        keyd_crypto_session_release(s);
        keyd_crypto_session_release(s2);
        keyd_client_close(c);
}
END_TEST

/* The same through raw sd-bus, as a client other than libkeyd sees it:
 * EncryptionBlt is (u) -> (ay ay), EncryptionBltToFd (uh) -> (ay). */
START_TEST(test_readback_raw) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        RawSession rs;
        uint8_t plain[4096], kblt_a[KEY_SIZE], kblt_b[KEY_SIZE], iv1[IV_SIZE], iv2[IV_SIZE], iv3[IV_SIZE];
        uint8_t back[4096], expected[4096];
        const void *data;
        size_t size;
        uint32_t surface;
        int fd, r;

        raw_session_open(&rs, RSAES_OAEP, true);
        surface = raw_create_surface(&rs, sizeof(plain));
        random_bytes(plain, sizeof(plain));
        uint8_t iv_in[IV_SIZE], ct[sizeof(plain)];
        random_bytes(iv_in, sizeof(iv_in));
        openssl_ctr(rs.key, iv_in, plain, sizeof(plain), ct);
        ck_assert_int_ge(raw_decryption_blt(rs.bus, rs.path, surface, -1, ct, sizeof(ct), iv_in, NULL), 0);

        raw_readback_key(&rs, kblt_a);
        raw_readback_key(&rs, kblt_b);
        ck_assert_int_ne(memcmp(kblt_a, kblt_b, KEY_SIZE), 0);

        ck_assert_int_ge(raw_encryption_blt(rs.bus, rs.path, surface, -1, NULL, &reply), 0);
        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &data, &size), 0);
        ck_assert_uint_eq(size, sizeof(plain));
        memcpy(back, data, size);
        uint64_t m1 = reply_iv(reply, iv1);
        ck_assert_int_eq(sd_bus_message_at_end(reply, true), 1);
        reply = sd_bus_message_unref(reply);
        openssl_ctr(kblt_b, iv1, plain, sizeof(plain), expected);
        assert_same_bytes(back, expected, sizeof(back), "raw EncryptionBlt");

        /* EncryptionBltToFd writes into our memfd and answers the next IV. */
        fd = make_destination(sizeof(plain), DESTINATION_SEALS);
        ck_assert_int_ge(raw_encryption_blt(rs.bus, rs.path, surface, fd, NULL, &reply), 0);
        ck_assert_uint_eq(reply_iv(reply, iv2), m1 + 1);
        ck_assert_int_eq(sd_bus_message_at_end(reply, true), 1);
        reply = sd_bus_message_unref(reply);
        ck_assert_int_eq(pread(fd, back, sizeof(back), 0), (ssize_t) sizeof(back));
        openssl_ctr(kblt_b, iv2, plain, sizeof(plain), expected);
        assert_same_bytes(back, expected, sizeof(back), "raw EncryptionBltToFd");
        /* keyd sealed it against later writes and hole punching. */
        ck_assert_int_ne(fcntl(fd, F_GET_SEALS) & F_SEAL_FUTURE_WRITE, 0);
        /* The same memfd again: keyd cannot map it writable any more. */
        r = raw_encryption_blt(rs.bus, rs.path, surface, fd, &error, &reply);
        expect_error(r, &error, "EncryptionBltToFd into a used destination", ERROR_INVALID_ARG, "0x80070057:",
                     "F_SEAL_FUTURE_WRITE");
        close(fd);

        /* A new K_blt between read-backs: the next one is under it. */
        raw_readback_key(&rs, kblt_a);
        ck_assert_int_ge(raw_encryption_blt(rs.bus, rs.path, surface, -1, NULL, &reply), 0);
        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &data, &size), 0);
        memcpy(back, data, size);
        ck_assert_uint_eq(reply_iv(reply, iv3), m1 + 2);
        reply = sd_bus_message_unref(reply);
        openssl_ctr(kblt_a, iv3, plain, sizeof(plain), expected);
        assert_same_bytes(back, expected, sizeof(back), "raw EncryptionBlt after a new GetEncryptionBltKey");

        /* The old signature (u surface, ay iv) is refused by the bus layer. */
        sd_bus_message *m = raw_new_call(rs.bus, rs.path, "EncryptionBlt");
        ck_assert_int_ge(sd_bus_message_append(m, "u", surface), 0);
        append_bytes(m, iv1, IV_SIZE);
        r = raw_send(rs.bus, m, &error, &reply);
        ck_assert_int_lt(r, 0);
        sd_bus_error_free(&error);
        /* And the keyd-allocated EncryptionBltFd, which kept pages keyd paid for, is gone. */
        m = raw_new_call(rs.bus, rs.path, "EncryptionBltFd");
        ck_assert_int_ge(sd_bus_message_append(m, "u", surface), 0);
        append_bytes(m, iv1, IV_SIZE);
        r = raw_send(rs.bus, m, &error, &reply);
        ck_assert_int_lt(r, 0);
        ck_assert_msg(sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD), "EncryptionBltFd: %s %s",
                      error.name, error.message);
        sd_bus_error_free(&error);

        raw_session_close(&rs);
}
END_TEST

/* What EncryptionBltToFd refuses, each with a message that says what was wrong. */
START_TEST(test_readback_destination_refused) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        RawSession rs, other;
        uint8_t iv[IV_SIZE], back[4096], expected[4096] = {}, kblt[KEY_SIZE];
        uint32_t surface;
        int fd, pipefd[2], r;

        raw_session_open(&rs, RSAES_OAEP, true);
        surface = raw_create_surface(&rs, sizeof(back));

        static const struct {
                int seals;
                const char *what, *needle;
        } seal_cases[] = {
                { 0, "no seals", "F_SEAL_SHRINK" },
                { F_SEAL_SHRINK, "no F_SEAL_GROW", "F_SEAL_GROW" },
                { F_SEAL_GROW, "no F_SEAL_SHRINK", "F_SEAL_SHRINK" },
                { ALL_SEALS, "F_SEAL_WRITE", "F_SEAL_WRITE" },
                { DESTINATION_SEALS | F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE", "F_SEAL_FUTURE_WRITE" },
                { DESTINATION_SEALS | F_SEAL_SEAL, "F_SEAL_SEAL", "F_SEAL_SEAL" },
        };
        for (size_t i = 0; i < ELEMENTSOF(seal_cases); i++) {
                fd = make_destination(sizeof(back), seal_cases[i].seals);
                r = raw_encryption_blt(rs.bus, rs.path, surface, fd, &error, &reply);
                expect_error(r, &error, seal_cases[i].what, ERROR_INVALID_ARG, "0x80070057:", seal_cases[i].needle);
                close(fd);
        }

        /* The wrong size, either way: it names both. */
        fd = make_destination(sizeof(back) - 16, DESTINATION_SEALS);
        r = raw_encryption_blt(rs.bus, rs.path, surface, fd, &error, &reply);
        expect_error(r, &error, "a destination too small", ERROR_INVALID_ARG, "0x80070057:", "4080");
        close(fd);
        fd = make_destination(sizeof(back) + 4096, DESTINATION_SEALS);
        r = raw_encryption_blt(rs.bus, rs.path, surface, fd, &error, &reply);
        expect_error(r, &error, "a destination too large", ERROR_INVALID_ARG, "0x80070057:", "8192");
        close(fd);

        /* Holes: keyd's writes would allocate pages keyd pays for. ftruncate()
         * alone, and fallocate() (its pages are holes to SEEK_HOLE), and one
         * page written of two. */
        fd = make_memfd(NULL, 0, 0);
        ck_assert_int_eq(ftruncate(fd, sizeof(back)), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, DESTINATION_SEALS), 0);
        r = raw_encryption_blt(rs.bus, rs.path, surface, fd, &error, &reply);
        expect_error(r, &error, "a destination of holes", ERROR_INVALID_ARG, "0x80070057:", "hole");
        close(fd);
        fd = make_memfd(NULL, 0, 0);
        ck_assert_int_eq(ftruncate(fd, sizeof(back)), 0);
        ck_assert_int_eq(fallocate(fd, 0, 0, sizeof(back)), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, DESTINATION_SEALS), 0);
        r = raw_encryption_blt(rs.bus, rs.path, surface, fd, &error, &reply);
        expect_error(r, &error, "a fallocate()d destination", ERROR_INVALID_ARG, "0x80070057:", "hole");
        close(fd);
        uint32_t surface2 = raw_create_surface(&rs, 8192);
        fd = make_memfd(NULL, 0, 0);
        ck_assert_int_eq(ftruncate(fd, 8192), 0);
        ck_assert_int_eq(pwrite(fd, back, 4096, 0), 4096);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, DESTINATION_SEALS), 0);
        r = raw_encryption_blt(rs.bus, rs.path, surface2, fd, &error, &reply);
        expect_error(r, &error, "a destination with its second page a hole", ERROR_INVALID_ARG, "0x80070057:",
                     "hole at byte 4096");
        close(fd);

        /* Not a memfd: a pipe, /dev/null, a file on disk. */
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        r = raw_encryption_blt(rs.bus, rs.path, surface, pipefd[1], &error, &reply);
        expect_error(r, &error, "a pipe as destination", ERROR_INVALID_ARG, "0x80070057:", NULL);
        close(pipefd[0]);
        close(pipefd[1]);
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        r = raw_encryption_blt(rs.bus, rs.path, surface, fd, &error, &reply);
        expect_error(r, &error, "/dev/null as destination", ERROR_INVALID_ARG, "0x80070057:", NULL);
        close(fd);

        /* Another connection's surface, and a surface that does not exist. */
        raw_session_open(&other, RSAES_OAEP, true);
        fd = make_destination(sizeof(back), DESTINATION_SEALS);
        r = raw_encryption_blt(other.bus, rs.path, surface, fd, &error, &reply);
        expect_error(r, &error, "EncryptionBltToFd on another connection's session", ERROR_ACCESS_DENIED,
                     "0x80070005:", NULL);
        r = raw_encryption_blt(rs.bus, rs.path, surface + 1000, fd, &error, &reply);
        expect_error(r, &error, "EncryptionBltToFd of a surface that does not exist", ERROR_INVALID_ARG,
                     "0x80070057:", NULL);
        /* Nothing was written into it, and it was not sealed further. */
        ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & F_SEAL_FUTURE_WRITE, 0);
        close(fd);
        raw_session_close(&other);

        /* After all that, the session works and the surface is still zeros. */
        raw_readback_key(&rs, kblt);
        fd = make_destination(sizeof(back), DESTINATION_SEALS);
        ck_assert_int_ge(raw_encryption_blt(rs.bus, rs.path, surface, fd, NULL, &reply), 0);
        (void) reply_iv(reply, iv);
        reply = sd_bus_message_unref(reply);
        ck_assert_int_eq(pread(fd, back, sizeof(back), 0), (ssize_t) sizeof(back));
        close(fd);
        openssl_ctr(kblt, iv, expected, sizeof(expected), expected);
        assert_same_bytes(back, expected, sizeof(back), "read-back after the refused destinations");

        raw_session_close(&rs);
}
END_TEST

/* Issue 18, item 1: the read-back pages are the caller's. The destination
 * is the caller's own file (same inode), and once keyd has answered it holds
 * no descriptor and no mapping of it: nothing of a read-back is keyd's to pay
 * for or to forget at an idle exit, however the caller keeps the pages
 * (here: spliced into a pipe, the memfd closed). With the old keyd-made
 * EncryptionBltFd memfd, a client at a 64 KiB quota pinned 32 MiB of keyd's
 * memory this way. */
START_TEST(test_readback_pages_are_the_callers) {
        sd_bus_message *reply = NULL;
        RawSession rs;
        uint8_t plain[65536], iv[IV_SIZE], kblt[KEY_SIZE];
        uint8_t *back = xmalloc(sizeof(plain)), *expected = xmalloc(sizeof(plain));
        struct stat before, after;
        int pipes[8][2];
        uint32_t surface;

        raw_session_open(&rs, RSAES_OAEP, true);
        surface = raw_create_surface(&rs, sizeof(plain));
        random_bytes(plain, sizeof(plain));
        uint8_t iv_in[IV_SIZE], *ct = xmalloc(sizeof(plain));
        random_bytes(iv_in, sizeof(iv_in));
        ref_ctr_pattern(rs.key, iv_in, NULL, ct, plain, sizeof(plain));
        int dfd = make_memfd(ct, sizeof(plain), ALL_SEALS);
        ck_assert_int_ge(raw_decryption_blt_fd(&rs, surface, dfd, iv_in, NULL), 0);
        close(dfd);
        free(ct);
        raw_readback_key(&rs, kblt);

        /* More read-backs than the quota would hold twice over, each kept in a pipe. */
        for (size_t i = 0; i < ELEMENTSOF(pipes); i++) {
                int fd = make_destination(sizeof(plain), DESTINATION_SEALS);
                ck_assert_int_eq(fstat(fd, &before), 0);
                ck_assert_int_ge(raw_encryption_blt(rs.bus, rs.path, surface, fd, NULL, &reply), 0);
                (void) reply_iv(reply, iv);
                reply = sd_bus_message_unref(reply);

                ck_assert_int_eq(fstat(fd, &after), 0);
                ck_assert(after.st_ino == before.st_ino && after.st_dev == before.st_dev);
                /* keyd drops the call (and the descriptor it carried) once its
                 * handler returns, just after the reply left: by the time it
                 * answers the next call on the same connection, it has. */
                raw_call(rs.bus, rs.path, "CheckCryptoSessionStatus", &reply, "");
                reply = sd_bus_message_unref(reply);
                ck_assert_msg(!keyd_holds_file(harness_keyd_pid(), &after),
                              "keyd still holds the destination memfd after replying");

                ck_assert_int_eq(pipe2(pipes[i], O_CLOEXEC), 0);
                ck_assert_int_eq(fcntl(pipes[i][1], F_SETPIPE_SZ, (int) sizeof(plain)) >= (int) sizeof(plain), 1);
                loff_t off = 0;
                ck_assert_int_eq(splice(fd, &off, pipes[i][1], NULL, sizeof(plain), SPLICE_F_NONBLOCK),
                                 (ssize_t) sizeof(plain));
                close(fd);
        }
        /* What the last pipe holds is the read-back, under the IV keyd answered. */
        ck_assert_int_eq(read(pipes[ELEMENTSOF(pipes) - 1][0], back, sizeof(plain)), (ssize_t) sizeof(plain));
        ref_ctr_pattern(kblt, iv, NULL, expected, plain, sizeof(plain));
        assert_same_bytes(back, expected, sizeof(plain), "read-back spliced out of the caller's memfd");
        for (size_t i = 0; i < ELEMENTSOF(pipes); i++) {
                close(pipes[i][0]);
                close(pipes[i][1]);
        }
        free(back);
        free(expected);
        raw_session_close(&rs);
}
END_TEST

static Suite *data_path_suite(void) {
        Suite *s = suite_create("data-path");
        TCase *tc;

        tc = tcase_create("roundtrip");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_roundtrip_16);
        tcase_add_test(tc, test_roundtrip_1mib);
        tcase_add_test(tc, test_roundtrip_32mib);
        tcase_add_test(tc, test_roundtrip_threshold_and_partial);
        tcase_add_test(tc, test_content_key_is_decrypted_with_the_session_key);
        tcase_add_test(tc, test_counter_wrap);
        tcase_add_test(tc, test_size_zero_rejected);
        tcase_add_test(tc, test_bad_arguments);
        tcase_add_test(tc, test_keydctl_roundtrip);
        suite_add_tcase(s, tc);

        tc = tcase_create("key-refresh");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_key_refresh);
        tcase_add_test(tc, test_finish_without_start);
        tcase_add_test(tc, test_calls_before_negotiation);
        tcase_add_test(tc, test_renegotiation_replaces_keys);
        suite_add_tcase(s, tc);

        tc = tcase_create("key-lost");
        tcase_add_checked_fixture(tc, setup_refresh_timeout, teardown);
        tcase_add_test(tc, test_key_lost_after_abandoned_refresh);
        suite_add_tcase(s, tc);

        tc = tcase_create("hw-protection");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_hw_protection_layout);
        tcase_add_test(tc, test_hw_protection_pass_through);
        tcase_add_test(tc, test_hw_protection_version);
        tcase_add_test(tc, test_hw_protection_bad_calls);
        tcase_add_test(tc, test_hw_protection_forbidden_calls);
        tcase_add_test(tc, test_execute_hw_protection_on_rsa_session);
        suite_add_tcase(s, tc);

        tc = tcase_create("raw-and-ownership");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_memfd_raw);
        tcase_add_test(tc, test_ay_limit_names_fd_variant);
        tcase_add_test(tc, test_foreign_connection);
        suite_add_tcase(s, tc);

        tc = tcase_create("readback");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_readback_iv_sequence_and_new_keys);
        tcase_add_test(tc, test_readback_raw);
        tcase_add_test(tc, test_readback_destination_refused);
        suite_add_tcase(s, tc);

        tc = tcase_create("readback-quota");
        tcase_add_checked_fixture(tc, setup_readback_quota, teardown);
        tcase_add_test(tc, test_readback_pages_are_the_callers);
        suite_add_tcase(s, tc);

        tc = tcase_create("quota");
        tcase_add_checked_fixture(tc, setup_quota, teardown);
        tcase_add_test(tc, test_surface_quota);
        tcase_add_test(tc, test_quota_released_with_session);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(data_path_suite());
}
