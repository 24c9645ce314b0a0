/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* common/aes-ctr: AES-128-CTR with D3D11's counter block. Known answers
 * from NIST SP 800-38A (F.5.1/F.5.2) and FIPS-197, byte-granular
 * continuation, the 64-bit count that wraps without carrying into the IV,
 * and the partial-encryption pattern -- the last two against references
 * written here on nettle's bare AES block function. */

#include <check.h>
#include <nettle/aes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "aes-ctr.h"
#include "macro.h"

static void unhex(const char *s, uint8_t *out, size_t n) {
        ck_assert_uint_eq(strlen(s), 2 * n);
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
                out[i] = (uint8_t) v;
        }
}

static void random_bytes(void *p, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = getrandom((uint8_t *) p + done, n - done, 0);
                ck_assert_int_gt(k, 0);
                done += (size_t) k;
        }
}

/* NIST SP 800-38A, F.5.1 CTR-AES128.Encrypt */
static const char nist_key[] = "2b7e151628aed2a6abf7158809cf4f3c";
static const char nist_counter[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
static const char nist_plaintext[] = "6bc1bee22e409f96e93d7e117393172a"
                                     "ae2d8a571e03ac9c9eb76fac45af8e51"
                                     "30c81c46a35ce411e5fbc1191a0a52ef"
                                     "f69f2445df4f9b17ad2b417be66c3710";
static const char nist_ciphertext[] = "874d6191b620e3261bef6864990db6ce"
                                      "9806f66b7970fdff8617187bb9fffdff"
                                      "5ae4df3edbd5d35e5b4f09020db03eab"
                                      "1e031dda2fbe03d1792170a0f3009cee";

START_TEST(test_nist_sp800_38a_f51_encrypt) {
        uint8_t key[16], counter[16], pt[64], ct[64], out[64];
        AesCtr c;

        unhex(nist_key, key, sizeof(key));
        unhex(nist_counter, counter, sizeof(counter));
        unhex(nist_plaintext, pt, sizeof(pt));
        unhex(nist_ciphertext, ct, sizeof(ct));

        /* The NIST counters f8..feff, f8..ff00, ... never carry past the low
         * 64 bits, so D3D11's counter block gives the same stream. */
        aes_ctr_init(&c, key, counter);
        aes_ctr_xor(&c, out, pt, sizeof(pt));
        aes_ctr_done(&c);
        ck_assert_mem_eq(out, ct, sizeof(ct));

        /* Block by block, in place. */
        memcpy(out, pt, sizeof(pt));
        aes_ctr_init(&c, key, counter);
        for (size_t i = 0; i < 4; i++) {
                aes_ctr_xor(&c, out + 16 * i, out + 16 * i, 16);
                ck_assert_mem_eq(out + 16 * i, ct + 16 * i, 16);
        }
        aes_ctr_done(&c);
}
END_TEST

START_TEST(test_nist_sp800_38a_f52_decrypt) {
        uint8_t key[16], counter[16], pt[64], ct[64], out[64];
        AesCtr c;

        unhex(nist_key, key, sizeof(key));
        unhex(nist_counter, counter, sizeof(counter));
        unhex(nist_plaintext, pt, sizeof(pt));
        unhex(nist_ciphertext, ct, sizeof(ct));

        aes_ctr_init(&c, key, counter);
        aes_ctr_xor(&c, out, ct, sizeof(ct));
        aes_ctr_done(&c);
        ck_assert_mem_eq(out, pt, sizeof(pt));
}
END_TEST

START_TEST(test_done_wipes) {
        static const uint8_t zero[sizeof(AesCtr)];
        uint8_t key[16] = { 1 }, counter[16] = { 2 }, buf[5] = {};
        AesCtr c;

        aes_ctr_init(&c, key, counter);
        aes_ctr_xor(&c, buf, buf, sizeof(buf));
        ck_assert_int_ne(memcmp(&c, zero, sizeof(c)), 0);
        aes_ctr_done(&c);
        ck_assert_mem_eq(&c, zero, sizeof(c));
}
END_TEST

/* FIPS-197 appendix C.1 */
START_TEST(test_ecb_block_fips197) {
        uint8_t key[16], pt[16], ct[16], out[16];

        unhex("000102030405060708090a0b0c0d0e0f", key, sizeof(key));
        unhex("00112233445566778899aabbccddeeff", pt, sizeof(pt));
        unhex("69c4e0d86a7b0430d8cdb78070b4c55a", ct, sizeof(ct));
        aes128_ecb_encrypt_block(key, pt, out);
        ck_assert_mem_eq(out, ct, sizeof(ct));

        /* Output may not alias the input's key schedule: in place works too. */
        memcpy(out, pt, sizeof(pt));
        aes128_ecb_encrypt_block(key, out, out);
        ck_assert_mem_eq(out, ct, sizeof(ct));

        /* The inverse cipher of the same appendix, also in place. */
        aes128_ecb_decrypt_block(key, ct, out);
        ck_assert_mem_eq(out, pt, sizeof(pt));
        memcpy(out, ct, sizeof(ct));
        aes128_ecb_decrypt_block(key, out, out);
        ck_assert_mem_eq(out, pt, sizeof(pt));
}
END_TEST

/* Cut n bytes into pieces of odd sizes: the stream must not notice. */
START_TEST(test_continuation_equals_one_shot) {
        static const size_t cuts[] = { 1, 15, 17, 3, 16, 0, 31, 1023, 1, 1025, 2, 4096, 5, 33, 7 };
        enum { N = 12000 };
        uint8_t key[16], counter[16];
        uint8_t *src = malloc(N), *once = malloc(N), *pieces = malloc(N);
        AesCtr c;
        size_t off = 0;

        ck_assert_ptr_nonnull(src);
        ck_assert_ptr_nonnull(once);
        ck_assert_ptr_nonnull(pieces);
        random_bytes(key, sizeof(key));
        random_bytes(counter, sizeof(counter));
        random_bytes(src, N);

        aes_ctr_init(&c, key, counter);
        aes_ctr_xor(&c, once, src, N);
        aes_ctr_done(&c);

        aes_ctr_init(&c, key, counter);
        for (size_t i = 0; off < N; i = (i + 1) % ELEMENTSOF(cuts)) {
                size_t k = MIN(cuts[i], (size_t) N - off);
                aes_ctr_xor(&c, pieces + off, src + off, k);
                off += k;
        }
        aes_ctr_done(&c);
        ck_assert_mem_eq(pieces, once, N);

        /* Byte by byte, in place. */
        memcpy(pieces, src, N);
        aes_ctr_init(&c, key, counter);
        for (size_t i = 0; i < 1000; i++)
                aes_ctr_xor(&c, pieces + i, pieces + i, 1);
        aes_ctr_xor(&c, pieces + 1000, pieces + 1000, N - 1000);
        aes_ctr_done(&c);
        ck_assert_mem_eq(pieces, once, N);

        free(src);
        free(once);
        free(pieces);
}
END_TEST

/* The reference keystream: block i is AES(key, iv || BE64(count + i)),
 * built here by hand and encrypted with nettle's bare block function. */
static void reference_keystream(const uint8_t key[16], const uint8_t counter_block[16], uint8_t *out,
                                size_t n_blocks) {
        struct aes128_ctx ctx;
        uint64_t count = 0;

        for (unsigned i = 8; i < 16; i++)
                count = (count << 8) | counter_block[i];

        aes128_set_encrypt_key(&ctx, key);
        for (size_t b = 0; b < n_blocks; b++) {
                uint8_t block[16];
                uint64_t v = count + b;   /* unsigned: wraps modulo 2^64 */

                memcpy(block, counter_block, 8);
                for (unsigned i = 0; i < 8; i++)
                        block[15 - i] = (uint8_t) (v >> (8 * i));
                aes128_encrypt(&ctx, 16, out + 16 * b, block);
        }
}

START_TEST(test_counter_wraps_without_carry) {
        uint8_t key[16], counter[16], expected[16 * 4], out[16 * 4] = {};
        uint8_t block[16], carried[16];
        struct aes128_ctx ctx;
        AesCtr c;

        random_bytes(key, sizeof(key));
        unhex("0123456789abcdef" "ffffffffffffffff", counter, sizeof(counter));

        /* Spelled out: count ff..ff, then 00..00, 00..01, 00..02 -- the IV stays. */
        aes128_set_encrypt_key(&ctx, key);
        for (unsigned b = 0; b < 4; b++) {
                memcpy(block, counter, 8);
                memset(block + 8, b == 0 ? 0xff : 0x00, 8);
                if (b > 1)
                        block[15] = (uint8_t) (b - 1);
                aes128_encrypt(&ctx, 16, expected + 16 * b, block);
        }

        aes_ctr_init(&c, key, counter);
        aes_ctr_xor(&c, out, out, sizeof(out));
        aes_ctr_done(&c);
        ck_assert_mem_eq(out, expected, sizeof(expected));

        /* A 128-bit counter (nettle's ctr_crypt) would carry: 0123..cdf0 || 0. */
        unhex("0123456789abcdf0" "0000000000000000", block, sizeof(block));
        aes128_encrypt(&ctx, 16, carried, block);
        ck_assert_int_ne(memcmp(out + 16, carried, 16), 0);

        /* The same across the wrap in odd pieces, from ff..fe. */
        uint8_t ks[16 * 5], pieces[16 * 5] = {};
        unhex("fedcba9876543210" "fffffffffffffffe", counter, sizeof(counter));
        reference_keystream(key, counter, ks, 5);
        aes_ctr_init(&c, key, counter);
        aes_ctr_xor(&c, pieces, pieces, 7);
        aes_ctr_xor(&c, pieces + 7, pieces + 7, 30);
        aes_ctr_xor(&c, pieces + 37, pieces + 37, 43);
        aes_ctr_done(&c);
        ck_assert_mem_eq(pieces, ks, sizeof(ks));
}
END_TEST

/* A large run over the wrap goes through the batched path. */
START_TEST(test_counter_wrap_in_batch) {
        enum { BLOCKS = 300 };
        uint8_t key[16], counter[16];
        uint8_t *ks = malloc(16 * BLOCKS), *out = calloc(BLOCKS, 16);
        AesCtr c;

        ck_assert_ptr_nonnull(ks);
        ck_assert_ptr_nonnull(out);
        random_bytes(key, sizeof(key));
        random_bytes(counter, 8);
        unhex("ffffffffffffff80", counter + 8, 8);  /* wraps after 128 blocks */

        reference_keystream(key, counter, ks, BLOCKS);
        aes_ctr_init(&c, key, counter);
        aes_ctr_xor(&c, out, out, 16 * BLOCKS);
        aes_ctr_done(&c);
        ck_assert_mem_eq(out, ks, 16 * BLOCKS);
        free(ks);
        free(out);
}
END_TEST

/* ---- the partial-encryption pattern ---- */

/* Whether byte i is encrypted under (C, S, E), straight from contract section 7. */
static bool reference_is_encrypted(const EncryptedBlockInfo *p, size_t i) {
        size_t j, period;

        if (p->encrypted_bytes_at_beginning == 0 && p->bytes_in_skip_pattern == 0 &&
            p->bytes_in_encrypt_pattern == 0)
                return true;
        if (i < p->encrypted_bytes_at_beginning)
                return true;
        if (p->bytes_in_encrypt_pattern == 0)
                return false;
        j = i - p->encrypted_bytes_at_beginning;
        period = (size_t) p->bytes_in_skip_pattern + p->bytes_in_encrypt_pattern;
        return j % period >= p->bytes_in_skip_pattern;
}

/* Encrypted bytes take the keystream in order, as if concatenated. */
static void reference_pattern(const uint8_t key[16], const uint8_t counter[16], const EncryptedBlockInfo *p,
                              uint8_t *dst, const uint8_t *src, size_t n) {
        uint8_t *ks = malloc(n + 16);
        size_t used = 0;

        ck_assert_ptr_nonnull(ks);
        reference_keystream(key, counter, ks, n / 16 + 1);
        for (size_t i = 0; i < n; i++)
                dst[i] = reference_is_encrypted(p, i) ? src[i] ^ ks[used++] : src[i];
        free(ks);
}

START_TEST(test_pattern_against_reference) {
        static const EncryptedBlockInfo patterns[] = {
                { 0, 0, 0 },    { 16, 16, 16 }, { 32, 0, 0 },   { 0, 16, 32 }, { 0, 0, 16 },
                { 0, 16, 0 },   { 16, 0, 16 },  { 48, 32, 16 }, { 5, 3, 7 },   { 1, 1, 1 },
                { 1000, 0, 0 }, { 0, 160, 16 }, { 17, 31, 1 },  { 0, 1, 4095 },
        };
        static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 1024, 4096, 10000 };
        uint8_t key[16], counter[16];
        uint8_t *src = malloc(10000), *got = malloc(10000), *want = malloc(10000);

        ck_assert_ptr_nonnull(src);
        ck_assert_ptr_nonnull(got);
        ck_assert_ptr_nonnull(want);

        for (size_t pi = 0; pi < ELEMENTSOF(patterns); pi++)
                for (size_t si = 0; si < ELEMENTSOF(sizes); si++) {
                        const EncryptedBlockInfo *p = &patterns[pi];
                        size_t n = sizes[si];
                        AesCtr c;

                        random_bytes(key, sizeof(key));
                        random_bytes(counter, sizeof(counter));
                        random_bytes(src, 10000);
                        reference_pattern(key, counter, p, want, src, n);

                        aes_ctr_init(&c, key, counter);
                        aes_ctr_apply_pattern(&c, p, got, src, n);
                        aes_ctr_done(&c);
                        ck_assert_msg(n == 0 || memcmp(got, want, n) == 0, "pattern (%u, %u, %u), %zu bytes",
                                      p->encrypted_bytes_at_beginning, p->bytes_in_skip_pattern,
                                      p->bytes_in_encrypt_pattern, n);

                        /* In place. */
                        memcpy(got, src, n);
                        aes_ctr_init(&c, key, counter);
                        aes_ctr_apply_pattern(&c, p, got, got, n);
                        aes_ctr_done(&c);
                        ck_assert_msg(n == 0 || memcmp(got, want, n) == 0,
                                      "in place: pattern (%u, %u, %u), %zu bytes", p->encrypted_bytes_at_beginning,
                                      p->bytes_in_skip_pattern, p->bytes_in_encrypt_pattern, n);
                }

        free(src);
        free(got);
        free(want);
}
END_TEST

/* In pieces, in order, at every cut (as keyd reads a memfd): the same bytes
 * as the independent reference over the whole buffer. */
START_TEST(test_pattern_in_pieces) {
        static const EncryptedBlockInfo patterns[] = {
                { 0, 0, 0 }, { 16, 16, 16 }, { 32, 0, 0 }, { 0, 16, 32 }, { 48, 32, 16 }, { 5, 3, 7 }, { 0, 160, 16 },
        };
        static const size_t pieces[] = { 1, 7, 16, 17, 48, 100, 333 };
        const size_t n = 2000;
        uint8_t key[16], counter[16];
        uint8_t *src = malloc(n), *got = malloc(n), *want = malloc(n);

        ck_assert_ptr_nonnull(src);
        ck_assert_ptr_nonnull(got);
        ck_assert_ptr_nonnull(want);

        for (size_t pi = 0; pi < ELEMENTSOF(patterns); pi++)
                for (size_t ki = 0; ki < ELEMENTSOF(pieces); ki++) {
                        const EncryptedBlockInfo *p = &patterns[pi];
                        AesCtr c;

                        random_bytes(key, sizeof(key));
                        random_bytes(counter, sizeof(counter));
                        random_bytes(src, n);
                        reference_pattern(key, counter, p, want, src, n);

                        memcpy(got, src, n);
                        aes_ctr_init(&c, key, counter);
                        for (size_t off = 0; off < n; off += pieces[ki]) {
                                size_t k = n - off < pieces[ki] ? n - off : pieces[ki];
                                aes_ctr_apply_pattern_at(&c, p, off, got + off, got + off, k);
                        }
                        aes_ctr_done(&c);
                        ck_assert_msg(memcmp(got, want, n) == 0, "pattern (%u, %u, %u) in pieces of %zu bytes",
                                      p->encrypted_bytes_at_beginning, p->bytes_in_skip_pattern,
                                      p->bytes_in_encrypt_pattern, pieces[ki]);
                }

        free(src);
        free(got);
        free(want);
}
END_TEST

/* In pieces that each start from a copy of the fresh stream moved with
 * aes_ctr_seek(), last piece first (as keyd's workers may take them): the
 * same bytes as the reference. The counters start just below the 64-bit
 * wrap, so that pieces begin on both sides of it. */
START_TEST(test_pattern_in_pieces_out_of_order) {
        static const EncryptedBlockInfo patterns[] = {
                { 0, 0, 0 },   { 16, 16, 16 }, { 32, 0, 0 },    { 0, 16, 32 }, { 48, 32, 16 },
                { 5, 3, 7 },   { 0, 160, 16 }, { 17, 31, 1 },   { 1000, 0, 0 }, { 0, 0, 16 },
                { 1, 1, 1 },   { 16, 0, 16 },  { 0, 1, 4095 },
        };
        static const size_t pieces[] = { 1, 7, 16, 17, 48, 100, 333, 1999 };
        const size_t n = 2000;
        uint8_t key[16], counter[16];
        uint8_t *src = malloc(n), *got = malloc(n), *want = malloc(n);

        ck_assert_ptr_nonnull(src);
        ck_assert_ptr_nonnull(got);
        ck_assert_ptr_nonnull(want);

        for (size_t pi = 0; pi < ELEMENTSOF(patterns); pi++)
                for (size_t ki = 0; ki < ELEMENTSOF(pieces); ki++) {
                        const EncryptedBlockInfo *p = &patterns[pi];
                        size_t k = pieces[ki], n_pieces = (n + k - 1) / k;
                        AesCtr start;

                        random_bytes(key, sizeof(key));
                        random_bytes(counter, sizeof(counter));
                        memset(counter + 8, 0xff, 8);
                        counter[15] = (uint8_t) (0xff - 40);  /* wraps after 41 blocks */
                        random_bytes(src, n);
                        reference_pattern(key, counter, p, want, src, n);

                        memset(got, 0, n);
                        aes_ctr_init(&start, key, counter);
                        for (size_t i = n_pieces; i-- > 0;) {
                                size_t off = i * k, len = n - off < k ? n - off : k;
                                AesCtr c = start;

                                aes_ctr_seek(&c, aes_ctr_pattern_keystream_offset(p, off));
                                aes_ctr_apply_pattern_at(&c, p, off, got + off, src + off, len);
                                aes_ctr_done(&c);
                        }
                        aes_ctr_done(&start);
                        ck_assert_msg(memcmp(got, want, n) == 0,
                                      "pattern (%u, %u, %u) in pieces of %zu bytes, last first",
                                      p->encrypted_bytes_at_beginning, p->bytes_in_skip_pattern,
                                      p->bytes_in_encrypt_pattern, k);
                }

        free(src);
        free(got);
        free(want);
}
END_TEST

/* Clear ranges really are copied unchanged, and the pattern is its own inverse. */
START_TEST(test_pattern_clear_bytes_and_inverse) {
        const EncryptedBlockInfo p = { 16, 32, 16 };
        uint8_t key[16], counter[16], src[256], enc[256], dec[256];
        AesCtr c;

        random_bytes(key, sizeof(key));
        random_bytes(counter, sizeof(counter));
        random_bytes(src, sizeof(src));

        aes_ctr_init(&c, key, counter);
        aes_ctr_apply_pattern(&c, &p, enc, src, sizeof(src));
        aes_ctr_done(&c);
        for (size_t i = 0; i < sizeof(src); i++)
                if (!reference_is_encrypted(&p, i))
                        ck_assert_uint_eq(enc[i], src[i]);
        /* 16 + 16 * 5 encrypted bytes in 256; some of them must have changed. */
        ck_assert_int_ne(memcmp(enc, src, 16), 0);
        ck_assert_int_ne(memcmp(enc + 48, src + 48, 16), 0);

        aes_ctr_init(&c, key, counter);
        aes_ctr_apply_pattern(&c, &p, dec, enc, sizeof(enc));
        aes_ctr_done(&c);
        ck_assert_mem_eq(dec, src, sizeof(src));
}
END_TEST

static Suite *aes_ctr_suite(void) {
        Suite *s = suite_create("aes-ctr");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_nist_sp800_38a_f51_encrypt);
        tcase_add_test(tc, test_nist_sp800_38a_f52_decrypt);
        tcase_add_test(tc, test_done_wipes);
        tcase_add_test(tc, test_ecb_block_fips197);
        tcase_add_test(tc, test_continuation_equals_one_shot);
        tcase_add_test(tc, test_counter_wraps_without_carry);
        tcase_add_test(tc, test_counter_wrap_in_batch);
        tcase_add_test(tc, test_pattern_against_reference);
        tcase_add_test(tc, test_pattern_in_pieces);
        tcase_add_test(tc, test_pattern_in_pieces_out_of_order);
        tcase_add_test(tc, test_pattern_clear_bytes_and_inverse);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(aes_ctr_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
