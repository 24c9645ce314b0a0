/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * RSAES-OAEP against Project Wycheproof (every vector of every file, the
 * count checked against numberOfTests), round trips for every hash pair,
 * and a cross-check with the openssl command in both directions.
 */

#include <check.h>
#include <errno.h>
#include <gmp.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/bignum.h>
#include <nettle/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "rsa-oaep.h"
#include "secure-memory.h"

#define SENTINEL 0xa5
#define SIZE_SENTINEL ((size_t) 0xdeadbeef)

typedef struct VectorFile {
        const char *name;
        unsigned bits;
        OaepHash hash;
        OaepHash mgf1_hash;
} VectorFile;

static const VectorFile vector_files[] = {
        { "rsa_oaep_2048_sha1_mgf1sha1_test", 2048, OAEP_HASH_SHA1, OAEP_HASH_SHA1 },
        { "rsa_oaep_2048_sha256_mgf1sha1_test", 2048, OAEP_HASH_SHA256, OAEP_HASH_SHA1 },
        { "rsa_oaep_2048_sha256_mgf1sha256_test", 2048, OAEP_HASH_SHA256, OAEP_HASH_SHA256 },
        { "rsa_oaep_2048_sha512_mgf1sha512_test", 2048, OAEP_HASH_SHA512, OAEP_HASH_SHA512 },
        { "rsa_oaep_3072_sha512_mgf1sha512_test", 3072, OAEP_HASH_SHA512, OAEP_HASH_SHA512 },
};

typedef struct TestKey {
        struct rsa_public_key pub;
        struct rsa_private_key priv;
} TestKey;

static void test_random(void *ctx, size_t n, uint8_t *dst) {
        while (n > 0) {
                ssize_t k = getrandom(dst, n, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        abort();
                }
                dst += k;
                n -= (size_t) k;
        }
}

static size_t unhex(const char *s, uint8_t **ret) {
        size_t n;
        uint8_t *p;

        if (streq(s, "-")) {
                *ret = malloc(1);
                ck_assert_ptr_nonnull(*ret);
                return 0;
        }
        n = strlen(s);
        ck_assert_msg(n % 2 == 0, "odd-length hex string");
        p = malloc(n / 2 + 1);
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < n / 2; i++) {
                unsigned v;
                ck_assert_msg(sscanf(s + 2 * i, "%2x", &v) == 1, "bad hex at %zu", 2 * i);
                p[i] = (uint8_t) v;
        }
        *ret = p;
        return n / 2;
}

static void mpz_set_hex(mpz_t x, const char *hex) {
        ck_assert_int_eq(mpz_set_str(x, hex, 16), 0);
}

/* nettle wants a = d mod (p-1), b = d mod (q-1), c = q^-1 mod p. */
static void test_key_finish(TestKey *k) {
        mpz_t t;

        mpz_init(t);
        mpz_sub_ui(t, k->priv.p, 1);
        mpz_mod(k->priv.a, k->priv.d, t);
        mpz_sub_ui(t, k->priv.q, 1);
        mpz_mod(k->priv.b, k->priv.d, t);
        ck_assert(mpz_invert(k->priv.c, k->priv.q, k->priv.p));
        mpz_clear(t);
        ck_assert(rsa_public_key_prepare(&k->pub));
        ck_assert(rsa_private_key_prepare(&k->priv));
}

static void test_key_init(TestKey *k) {
        rsa_public_key_init(&k->pub);
        rsa_private_key_init(&k->priv);
}

static void test_key_done(TestKey *k) {
        rsa_public_key_clear(&k->pub);
        rsa_private_key_clear(&k->priv);
}

static void test_key_from_hex(TestKey *k, const char *n, const char *e, const char *d,
                              const char *p, const char *q) {
        test_key_init(k);
        mpz_set_hex(k->pub.n, n);
        mpz_set_hex(k->pub.e, e);
        mpz_set_hex(k->priv.d, d);
        mpz_set_hex(k->priv.p, p);
        mpz_set_hex(k->priv.q, q);
        test_key_finish(k);
}

static OaepHash hash_from_name(const char *name) {
        if (streq(name, "SHA-1"))
                return OAEP_HASH_SHA1;
        if (streq(name, "SHA-256"))
                return OAEP_HASH_SHA256;
        if (streq(name, "SHA-512"))
                return OAEP_HASH_SHA512;
        ck_abort_msg("unknown hash %s in the vectors", name);
        return _OAEP_HASH_MAX;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != v)
                        return false;
        return true;
}

static FILE *open_vectors(const char *name) {
        const char *dir = getenv("KEYD_VECTORS_DIR");
        char path[4096];
        FILE *f;

        ck_assert_msg(dir, "KEYD_VECTORS_DIR is not set; run the test through meson test");
        snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s: %s", path, strerror(errno));
        return f;
}

/* Decrypt with a sentinel-filled output buffer and size, so that a failure
 * can be checked to leave both untouched. */
static int decrypt_checked(const TestKey *k, const OaepParams *params,
                           const uint8_t *ct, size_t ct_size,
                           uint8_t *out, size_t out_max, size_t *out_size) {
        memset(out, SENTINEL, out_max + 16);
        *out_size = SIZE_SENTINEL;
        return rsa_oaep_decrypt(&k->pub, &k->priv, params, NULL, test_random,
                                ct, ct_size, out, out_max, out_size);
}

/* rsa_oaep_decrypt_exact() into a sentinel-filled buffer of want + 16 bytes. */
static int decrypt_exact_checked(const TestKey *k, const OaepParams *params, const uint8_t *ct, size_t ct_size,
                                 uint8_t *out, size_t want) {
        ck_assert_uint_le(want, k->pub.size);
        memset(out, SENTINEL, want + 16);
        return rsa_oaep_decrypt_exact(&k->pub, &k->priv, params, NULL, test_random, ct, ct_size, out, want);
}

static void assert_untouched(const uint8_t *out, size_t out_max, size_t out_size, const char *what, int id) {
        ck_assert_msg(all_bytes(out, out_max + 16, SENTINEL), "%s tcId %d: output written on failure", what, id);
        ck_assert_msg(out_size == SIZE_SENTINEL, "%s tcId %d: size written on failure", what, id);
}

typedef struct Counts {
        unsigned tests, valid, bad_message, bad_length;
} Counts;

static void run_vector(const VectorFile *vf, const TestKey *k, OaepHash hash, OaepHash mgf1,
                       int id, const char *result, const char *flags,
                       const uint8_t *ct, size_t ct_size, const uint8_t *label, size_t label_size,
                       const uint8_t *msg, size_t msg_size, Counts *c) {
        OaepParams params = { .hash = hash, .mgf1_hash = mgf1, .label = label, .label_size = label_size };
        size_t out_max = k->pub.size, out_size;
        uint8_t *out = malloc(out_max + 16);
        int r;

        ck_assert_ptr_nonnull(out);
        r = decrypt_checked(k, &params, ct, ct_size, out, out_max, &out_size);

        if (streq(result, "valid")) {
                ck_assert_msg(r == 0, "%s tcId %d (%s): valid ciphertext rejected: %s",
                              vf->name, id, flags, strerror(-r));
                ck_assert_msg(out_size == msg_size, "%s tcId %d: message is %zu bytes, expected %zu",
                              vf->name, id, out_size, msg_size);
                ck_assert_msg(memcmp(out, msg, msg_size) == 0, "%s tcId %d: wrong message", vf->name, id);
                ck_assert_msg(all_bytes(out + msg_size, out_max + 16 - msg_size, SENTINEL),
                              "%s tcId %d: wrote beyond the message", vf->name, id);
                c->valid++;

                /* One byte less room than the message: the same failure as a
                 * bad padding, nothing written. */
                if (msg_size > 0) {
                        r = decrypt_checked(k, &params, ct, ct_size, out, msg_size - 1, &out_size);
                        ck_assert_msg(r == -EBADMSG, "%s tcId %d: msg_max too small gave %d", vf->name, id, r);
                        assert_untouched(out, msg_size - 1, out_size, vf->name, id);
                }
                /* Exactly enough room. */
                r = decrypt_checked(k, &params, ct, ct_size, out, msg_size, &out_size);
                ck_assert_msg(r == 0 && out_size == msg_size && memcmp(out, msg, msg_size) == 0,
                              "%s tcId %d: msg_max == message size failed", vf->name, id);

                /* An exact length: the message's decodes, one byte more or
                 * less fails like a bad padding, nothing written. */
                r = decrypt_exact_checked(k, &params, ct, ct_size, out, msg_size);
                ck_assert_msg(r == 0 && memcmp(out, msg, msg_size) == 0 &&
                              all_bytes(out + msg_size, 16, SENTINEL),
                              "%s tcId %d: exact length %zu failed: %d", vf->name, id, msg_size, r);
                r = decrypt_exact_checked(k, &params, ct, ct_size, out, msg_size + 1);
                ck_assert_msg(r == -EBADMSG && all_bytes(out, msg_size + 1 + 16, SENTINEL),
                              "%s tcId %d: exact length %zu + 1 gave %d", vf->name, id, msg_size, r);
                if (msg_size > 0) {
                        r = decrypt_exact_checked(k, &params, ct, ct_size, out, msg_size - 1);
                        ck_assert_msg(r == -EBADMSG && all_bytes(out, msg_size - 1 + 16, SENTINEL),
                                      "%s tcId %d: exact length %zu - 1 gave %d", vf->name, id, msg_size, r);
                }

                /* Another label: the label hash no longer matches. */
                OaepParams other = params;
                other.label = (const uint8_t *) "other label";
                other.label_size = label_size == 11 ? 10 : 11;
                r = decrypt_checked(k, &other, ct, ct_size, out, out_max, &out_size);
                ck_assert_msg(r == -EBADMSG, "%s tcId %d: wrong label gave %d", vf->name, id, r);
                assert_untouched(out, out_max, out_size, vf->name, id);

                /* Another hash for the label. */
                other = params;
                other.hash = hash == OAEP_HASH_SHA256 ? OAEP_HASH_SHA1 : OAEP_HASH_SHA256;
                r = decrypt_checked(k, &other, ct, ct_size, out, out_max, &out_size);
                ck_assert_msg(r == -EBADMSG, "%s tcId %d: wrong hash gave %d", vf->name, id, r);
                assert_untouched(out, out_max, out_size, vf->name, id);
        } else if (streq(result, "invalid")) {
                /* A ciphertext of the wrong length is refused before any
                 * decryption (public information, -EINVAL); every one of the
                 * right length fails in the one indistinguishable way. */
                if (ct_size != k->pub.size) {
                        ck_assert_msg(r == -EINVAL, "%s tcId %d (%s): %zu-byte ciphertext gave %d, expected -EINVAL",
                                      vf->name, id, flags, ct_size, r);
                        c->bad_length++;
                } else {
                        ck_assert_msg(r == -EBADMSG, "%s tcId %d (%s): invalid ciphertext gave %d, expected -EBADMSG",
                                      vf->name, id, flags, r);
                        c->bad_message++;
                }
                assert_untouched(out, out_max, out_size, vf->name, id);
                /* And with an exact length, as keyd unwraps a session key. */
                r = decrypt_exact_checked(k, &params, ct, ct_size, out, 16);
                ck_assert_msg(r == (ct_size != k->pub.size ? -EINVAL : -EBADMSG) && all_bytes(out, 32, SENTINEL),
                              "%s tcId %d (%s): exact length gave %d", vf->name, id, flags, r);
        } else
                ck_abort_msg("%s tcId %d: unknown result \"%s\"", vf->name, id, result);

        c->tests++;
        free(out);
}

START_TEST(test_wycheproof) {
        const VectorFile *vf = &vector_files[_i];
        _cleanup_(freep) char *line = NULL;
        size_t line_size = 0, base = secure_memory_in_use();
        long expected = -1;
        bool have_key = false;
        TestKey key;
        OaepHash hash = _OAEP_HASH_MAX, mgf1 = _OAEP_HASH_MAX;
        Counts c = {};
        FILE *f;

        f = open_vectors(vf->name);
        while (getline(&line, &line_size, f) > 0) {
                char *save = NULL, *kind;

                line[strcspn(line, "\n")] = 0;
                kind = strtok_r(line, " ", &save);
                if (!kind)
                        continue;

                if (streq(kind, "file")) {
                        expected = strtol(strtok_r(NULL, " ", &save), NULL, 10);
                } else if (streq(kind, "group")) {
                        unsigned bits = (unsigned) strtoul(strtok_r(NULL, " ", &save), NULL, 10);
                        const char *sha = strtok_r(NULL, " ", &save), *mgf_sha = strtok_r(NULL, " ", &save);
                        const char *n = strtok_r(NULL, " ", &save), *e = strtok_r(NULL, " ", &save);
                        const char *d = strtok_r(NULL, " ", &save), *p = strtok_r(NULL, " ", &save);
                        const char *q = strtok_r(NULL, " ", &save);

                        ck_assert_msg(q, "%s: short group line", vf->name);
                        hash = hash_from_name(sha);
                        mgf1 = hash_from_name(mgf_sha);
                        ck_assert_msg(bits == vf->bits && hash == vf->hash && mgf1 == vf->mgf1_hash,
                                      "%s: group is %u-bit %s/MGF1-%s, not what the file name says",
                                      vf->name, bits, sha, mgf_sha);
                        if (have_key)
                                test_key_done(&key);
                        test_key_from_hex(&key, n, e, d, p, q);
                        ck_assert_uint_eq(key.pub.size * 8, bits);
                        have_key = true;
                } else if (streq(kind, "test")) {
                        int id = atoi(strtok_r(NULL, " ", &save));
                        const char *result = strtok_r(NULL, " ", &save), *flags = strtok_r(NULL, " ", &save);
                        const char *ct_hex = strtok_r(NULL, " ", &save), *label_hex = strtok_r(NULL, " ", &save);
                        const char *msg_hex = strtok_r(NULL, " ", &save);
                        _cleanup_(freep) uint8_t *ct = NULL, *label = NULL, *msg = NULL;
                        size_t ct_size, label_size, msg_size;

                        ck_assert_msg(msg_hex && have_key, "%s: bad test line %d", vf->name, id);
                        ct_size = unhex(ct_hex, &ct);
                        label_size = unhex(label_hex, &label);
                        msg_size = unhex(msg_hex, &msg);
                        run_vector(vf, &key, hash, mgf1, id, result, flags, ct, ct_size,
                                   label, label_size, msg, msg_size, &c);
                } else
                        ck_abort_msg("%s: unknown line \"%s\"", vf->name, kind);
        }
        fclose(f);
        if (have_key)
                test_key_done(&key);

        ck_assert_msg(expected > 0, "%s: no \"file\" line with numberOfTests", vf->name);
        ck_assert_msg(c.tests == (unsigned long) expected, "%s: ran %u tests, the file has %ld",
                      vf->name, c.tests, expected);
        ck_assert_uint_eq(c.valid + c.bad_message + c.bad_length, c.tests);
        ck_assert_uint_eq(secure_memory_in_use(), base);

        printf("%s: %u/%ld vectors passed (%u valid decrypted, %u invalid -> -EBADMSG, "
               "%u wrong length -> -EINVAL)\n",
               vf->name, c.tests, expected, c.valid, c.bad_message, c.bad_length);
        fflush(stdout);
}
END_TEST

/* A first group's key of a vector file; see below. */
static void load_vector_key(const char *name, TestKey *k);

/* keyd unwraps a session key: only a 16-byte message may decode. Well-formed
 * OAEP messages of every other length fail exactly as bad padding does --
 * inside the decoder's mask, so that under valgrind (the constant-time run
 * of this case) no branch and no memory index may depend on the decoded
 * length, only the final verdict. */
START_TEST(test_exact_length_session_key) {
        static const size_t lengths[] = { 0, 1, 8, 15, 16, 17, 24, 32, 126 };
        OaepParams params = { .hash = OAEP_HASH_SHA512, .mgf1_hash = OAEP_HASH_SHA512 };
        size_t base = secure_memory_in_use();
        uint8_t msg[126], ct[256], out[16 + 16];
        TestKey k;

        load_vector_key("rsa_oaep_2048_sha512_mgf1sha512_test", &k);
        ck_assert_uint_eq(k.pub.size, sizeof(ct));
        for (size_t i = 0; i < ELEMENTSOF(lengths); i++) {
                size_t n = lengths[i];
                int r;

                test_random(NULL, n, msg);
                ck_assert_int_eq(rsa_oaep_encrypt(&k.pub, &params, NULL, test_random, msg, n, ct, sizeof(ct)), 0);
                r = decrypt_exact_checked(&k, &params, ct, sizeof(ct), out, 16);
                if (n == 16) {
                        ck_assert_msg(r == 0, "a 16-byte key did not decode: %d", r);
                        ck_assert(memcmp(out, msg, 16) == 0);
                        ck_assert(all_bytes(out + 16, 16, SENTINEL));
                } else {
                        ck_assert_msg(r == -EBADMSG, "a %zu-byte message gave %d, expected -EBADMSG", n, r);
                        ck_assert_msg(all_bytes(out, sizeof(out), SENTINEL), "a %zu-byte message wrote output", n);
                }
        }
        test_key_done(&k);
        ck_assert_uint_eq(secure_memory_in_use(), base);
}
END_TEST

/* The first group's key of a vector file. */
static void load_vector_key(const char *name, TestKey *k) {
        _cleanup_(freep) char *line = NULL;
        size_t line_size = 0;
        FILE *f = open_vectors(name);

        while (getline(&line, &line_size, f) > 0) {
                char *save = NULL, *fields[9];

                line[strcspn(line, "\n")] = 0;
                fields[0] = strtok_r(line, " ", &save);
                if (!fields[0] || !streq(fields[0], "group"))
                        continue;
                for (size_t i = 1; i < ELEMENTSOF(fields); i++)
                        fields[i] = strtok_r(NULL, " ", &save);
                ck_assert_ptr_nonnull(fields[8]);
                test_key_from_hex(k, fields[4], fields[5], fields[6], fields[7], fields[8]);
                fclose(f);
                return;
        }
        ck_abort_msg("%s: no key", name);
}

static void round_trips(const TestKey *k) {
        static const uint8_t label[] = "keyd test label";
        size_t kk = k->pub.size;
        uint8_t *ct = malloc(kk), *ct2 = malloc(kk), *msg = malloc(kk), *out = malloc(kk + 16);
        size_t out_size;
        int r;

        ck_assert(ct && ct2 && msg && out);
        for (OaepHash h = 0; h < _OAEP_HASH_MAX; h++)
                for (OaepHash m = 0; m < _OAEP_HASH_MAX; m++)
                        for (int with_label = 0; with_label < 2; with_label++) {
                                OaepParams params = {
                                        .hash = h, .mgf1_hash = m,
                                        .label = with_label ? label : NULL,
                                        .label_size = with_label ? sizeof(label) : 0,
                                };
                                size_t max = kk - 2 * oaep_hash_size(h) - 2;
                                const size_t sizes[] = { 0, 1, 16, max / 2, max };

                                for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                                        size_t n = sizes[i];

                                        test_random(NULL, n, msg);
                                        r = rsa_oaep_encrypt(&k->pub, &params, NULL, test_random, msg, n, ct, kk);
                                        ck_assert_msg(r == 0, "encrypt %s/%s %zu bytes: %s", oaep_hash_to_string(h),
                                                      oaep_hash_to_string(m), n, strerror(-r));
                                        r = decrypt_checked(k, &params, ct, kk, out, kk, &out_size);
                                        ck_assert_msg(r == 0, "decrypt %s/%s %zu bytes: %s", oaep_hash_to_string(h),
                                                      oaep_hash_to_string(m), n, strerror(-r));
                                        ck_assert_uint_eq(out_size, n);
                                        ck_assert(memcmp(out, msg, n) == 0);

                                        /* A fresh seed each time. */
                                        r = rsa_oaep_encrypt(&k->pub, &params, NULL, test_random, msg, n, ct2, kk);
                                        ck_assert_int_eq(r, 0);
                                        ck_assert_msg(memcmp(ct, ct2, kk) != 0, "two encryptions are identical");

                                        /* Any flipped bit breaks it. */
                                        unsigned bit;
                                        test_random(NULL, sizeof(bit), (uint8_t *) &bit);
                                        ct[(bit / 8) % kk] ^= (uint8_t) (1u << (bit % 8));
                                        r = decrypt_checked(k, &params, ct, kk, out, kk, &out_size);
                                        ck_assert_int_eq(r, -EBADMSG);
                                        assert_untouched(out, kk, out_size, "tampered", (int) n);
                                }

                                /* One byte too many for this key and hash. */
                                r = rsa_oaep_encrypt(&k->pub, &params, NULL, test_random, msg, max + 1, ct, kk);
                                ck_assert_int_eq(r, -EMSGSIZE);
                        }

        free(ct);
        free(ct2);
        free(msg);
        free(out);
}

START_TEST(test_round_trips_vector_keys) {
        size_t base = secure_memory_in_use();
        TestKey k2048, k3072;

        load_vector_key("rsa_oaep_2048_sha256_mgf1sha256_test", &k2048);
        load_vector_key("rsa_oaep_3072_sha512_mgf1sha512_test", &k3072);
        ck_assert_uint_eq(k2048.pub.size, 256);
        ck_assert_uint_eq(k3072.pub.size, 384);
        round_trips(&k2048);
        round_trips(&k3072);
        test_key_done(&k2048);
        test_key_done(&k3072);
        ck_assert_uint_eq(secure_memory_in_use(), base);
}
END_TEST

START_TEST(test_round_trips_fresh_keys) {
        static const unsigned bits[] = { 2048, 3072 };

        for (size_t i = 0; i < ELEMENTSOF(bits); i++) {
                TestKey k;

                test_key_init(&k);
                mpz_set_ui(k.pub.e, 65537);
                ck_assert(rsa_generate_keypair(&k.pub, &k.priv, NULL, test_random, NULL, NULL, bits[i], 0));
                ck_assert_uint_eq(k.pub.size * 8, bits[i]);

                /* D3D11_KEY_EXCHANGE_RSAES_OAEP's parameters and a session key. */
                OaepParams params = { .hash = OAEP_HASH_SHA512, .mgf1_hash = OAEP_HASH_SHA512 };
                uint8_t key[16], out[16 + 16], *ct = malloc(k.pub.size);
                size_t out_size;

                ck_assert_ptr_nonnull(ct);
                test_random(NULL, sizeof(key), key);
                ck_assert_int_eq(rsa_oaep_encrypt(&k.pub, &params, NULL, test_random, key, sizeof(key), ct, k.pub.size), 0);
                ck_assert_int_eq(decrypt_checked(&k, &params, ct, k.pub.size, out, 16, &out_size), 0);
                ck_assert_uint_eq(out_size, 16);
                ck_assert(memcmp(out, key, 16) == 0);
                free(ct);
                test_key_done(&k);
        }
}
END_TEST

START_TEST(test_out_of_range_and_bad_arguments) {
        TestKey k;
        OaepParams params = { .hash = OAEP_HASH_SHA256, .mgf1_hash = OAEP_HASH_SHA256 };
        uint8_t ct[256], out[256 + 16];
        size_t out_size;

        load_vector_key("rsa_oaep_2048_sha256_mgf1sha256_test", &k);

        /* c == n, c == n + 1, c == 2^2048 - 1, c == 0, c == 1: all the same
         * -EBADMSG as a bad padding. */
        nettle_mpz_get_str_256(sizeof(ct), ct, k.pub.n);
        ck_assert_int_eq(decrypt_checked(&k, &params, ct, sizeof(ct), out, sizeof(out) - 16, &out_size), -EBADMSG);
        assert_untouched(out, sizeof(out) - 16, out_size, "c == n", 0);
        ct[sizeof(ct) - 1]++;
        ck_assert_int_eq(decrypt_checked(&k, &params, ct, sizeof(ct), out, sizeof(out) - 16, &out_size), -EBADMSG);
        memset(ct, 0xff, sizeof(ct));
        ck_assert_int_eq(decrypt_checked(&k, &params, ct, sizeof(ct), out, sizeof(out) - 16, &out_size), -EBADMSG);
        assert_untouched(out, sizeof(out) - 16, out_size, "c == 2^2048-1", 0);
        memset(ct, 0, sizeof(ct));
        ck_assert_int_eq(decrypt_checked(&k, &params, ct, sizeof(ct), out, sizeof(out) - 16, &out_size), -EBADMSG);
        ct[sizeof(ct) - 1] = 1;
        ck_assert_int_eq(decrypt_checked(&k, &params, ct, sizeof(ct), out, sizeof(out) - 16, &out_size), -EBADMSG);

        /* Wrong lengths and bad parameters: -EINVAL before any decryption. */
        ck_assert_int_eq(decrypt_checked(&k, &params, ct, 255, out, 256, &out_size), -EINVAL);
        ck_assert_int_eq(decrypt_checked(&k, &params, ct, 0, out, 256, &out_size), -EINVAL);
        ck_assert_int_eq(rsa_oaep_encrypt(&k.pub, &params, NULL, test_random, out, 16, ct, 255), -EINVAL);
        OaepParams bad = params;
        bad.hash = _OAEP_HASH_MAX;
        ck_assert_int_eq(decrypt_checked(&k, &bad, ct, 256, out, 256, &out_size), -EINVAL);
        ck_assert_int_eq(rsa_oaep_encrypt(&k.pub, &bad, NULL, test_random, out, 16, ct, 256), -EINVAL);
        bad = params;
        bad.mgf1_hash = (OaepHash) -1;
        ck_assert_int_eq(decrypt_checked(&k, &bad, ct, 256, out, 256, &out_size), -EINVAL);
        bad = params;
        bad.label_size = 4; /* with a NULL label */
        ck_assert_int_eq(decrypt_checked(&k, &bad, ct, 256, out, 256, &out_size), -EINVAL);
        ck_assert_int_eq(rsa_oaep_decrypt(&k.pub, &k.priv, &params, NULL, NULL, ct, 256, out, 256, &out_size), -EINVAL);
        ck_assert_int_eq(rsa_oaep_decrypt(&k.pub, &k.priv, NULL, NULL, test_random, ct, 256, out, 256, &out_size), -EINVAL);

        ck_assert_uint_eq(oaep_hash_size(OAEP_HASH_SHA1), 20);
        ck_assert_uint_eq(oaep_hash_size(OAEP_HASH_SHA256), 32);
        ck_assert_uint_eq(oaep_hash_size(OAEP_HASH_SHA512), 64);
        ck_assert_uint_eq(oaep_hash_size(_OAEP_HASH_MAX), 0);
        ck_assert_str_eq(oaep_hash_to_string(OAEP_HASH_SHA512), "SHA-512");
        ck_assert_ptr_null(oaep_hash_to_string(_OAEP_HASH_MAX));

        test_key_done(&k);
}
END_TEST

/* --- openssl cross-check --- */

static bool openssl_available(void) {
        return system("command -v openssl >/dev/null 2>&1") == 0;
}

static void run(const char *format, ...) _printf_(1, 2);
static void run(const char *format, ...) {
        _cleanup_(freep) char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&cmd, format, ap);
        va_end(ap);
        ck_assert_int_ge(r, 0);
        r = system(cmd);
        ck_assert_msg(r == 0, "command failed (%d): %s", r, cmd);
}

static size_t read_file(const char *path, uint8_t *buf, size_t max) {
        FILE *f = fopen(path, "re");
        size_t n;

        ck_assert_msg(f, "cannot open %s", path);
        n = fread(buf, 1, max, f);
        ck_assert_msg(fgetc(f) == EOF, "%s is larger than %zu bytes", path, max);
        fclose(f);
        return n;
}

static void write_file(const char *path, const uint8_t *buf, size_t n) {
        FILE *f = fopen(path, "we");

        ck_assert_msg(f, "cannot create %s", path);
        ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
}

static void test_key_from_pem(TestKey *k, const char *path) {
        gnutls_x509_privkey_t key;
        gnutls_datum_t n, e, d, p, q, u, e1, e2, pem;
        uint8_t buf[16384];

        pem.size = (unsigned) read_file(path, buf, sizeof(buf));
        pem.data = buf;
        ck_assert_int_eq(gnutls_x509_privkey_init(&key), 0);
        ck_assert_int_eq(gnutls_x509_privkey_import2(key, &pem, GNUTLS_X509_FMT_PEM, NULL, 0), 0);
        ck_assert_int_eq(gnutls_x509_privkey_export_rsa_raw2(key, &n, &e, &d, &p, &q, &u, &e1, &e2), 0);

        test_key_init(k);
        nettle_mpz_set_str_256_u(k->pub.n, n.size, n.data);
        nettle_mpz_set_str_256_u(k->pub.e, e.size, e.data);
        nettle_mpz_set_str_256_u(k->priv.d, d.size, d.data);
        nettle_mpz_set_str_256_u(k->priv.p, p.size, p.data);
        nettle_mpz_set_str_256_u(k->priv.q, q.size, q.data);
        test_key_finish(k);

        gnutls_datum_t *all[] = { &n, &e, &d, &p, &q, &u, &e1, &e2 };
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                gnutls_memset(all[i]->data, 0, all[i]->size);
                gnutls_free(all[i]->data);
        }
        gnutls_x509_privkey_deinit(key);
        secure_wipe(buf, sizeof(buf));
}

static const char *openssl_md(OaepHash h) {
        return h == OAEP_HASH_SHA1 ? "sha1" : h == OAEP_HASH_SHA256 ? "sha256" : "sha512";
}

START_TEST(test_openssl_cross_check) {
        static const struct {
                OaepHash hash, mgf1;
                const char *label_hex;
        } combos[] = {
                { OAEP_HASH_SHA512, OAEP_HASH_SHA512, NULL },   /* D3D11_KEY_EXCHANGE_RSAES_OAEP */
                { OAEP_HASH_SHA256, OAEP_HASH_SHA256, NULL },
                { OAEP_HASH_SHA1, OAEP_HASH_SHA1, NULL },
                { OAEP_HASH_SHA256, OAEP_HASH_SHA1, NULL },
                { OAEP_HASH_SHA512, OAEP_HASH_SHA512, "6b65796420637261736820746573" },
        };
        char dir[] = "/tmp/keyd-test-oaep-XXXXXX", key_path[64], in_path[64], ct_path[64], out_path[64];
        TestKey k;

        if (!openssl_available()) {
                printf("SKIP test_openssl_cross_check: no openssl command in PATH, "
                       "interoperability with OpenSSL not checked\n");
                return;
        }

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
        snprintf(in_path, sizeof(in_path), "%s/in.bin", dir);
        snprintf(ct_path, sizeof(ct_path), "%s/ct.bin", dir);
        snprintf(out_path, sizeof(out_path), "%s/out.bin", dir);

        run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null", key_path);
        test_key_from_pem(&k, key_path);

        for (size_t i = 0; i < ELEMENTSOF(combos); i++) {
                uint8_t label[64], msg[16], ct[256], out[256];
                size_t label_size = 0, n;
                char opts[256];

                if (combos[i].label_hex)
                        for (const char *p = combos[i].label_hex; p[0] && p[1]; p += 2) {
                                unsigned v;
                                ck_assert(sscanf(p, "%2x", &v) == 1);
                                label[label_size++] = (uint8_t) v;
                        }
                OaepParams params = { .hash = combos[i].hash, .mgf1_hash = combos[i].mgf1,
                                      .label = label_size ? label : NULL, .label_size = label_size };
                snprintf(opts, sizeof(opts),
                         "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:%s -pkeyopt rsa_mgf1_md:%s%s%s",
                         openssl_md(combos[i].hash), openssl_md(combos[i].mgf1),
                         combos[i].label_hex ? " -pkeyopt rsa_oaep_label:" : "",
                         combos[i].label_hex ?: "");

                /* OpenSSL encrypts, we decrypt. */
                test_random(NULL, sizeof(msg), msg);
                write_file(in_path, msg, sizeof(msg));
                run("openssl pkeyutl -encrypt -inkey %s %s -in %s -out %s", key_path, opts, in_path, ct_path);
                ck_assert_uint_eq(read_file(ct_path, ct, sizeof(ct)), 256);
                ck_assert_int_eq(rsa_oaep_decrypt(&k.pub, &k.priv, &params, NULL, test_random,
                                                  ct, 256, out, sizeof(out), &n), 0);
                ck_assert_uint_eq(n, sizeof(msg));
                ck_assert_msg(memcmp(out, msg, n) == 0, "OpenSSL's ciphertext decrypts to another message (%s)", opts);

                /* We encrypt, OpenSSL decrypts. */
                test_random(NULL, sizeof(msg), msg);
                ck_assert_int_eq(rsa_oaep_encrypt(&k.pub, &params, NULL, test_random, msg, sizeof(msg), ct, 256), 0);
                write_file(ct_path, ct, 256);
                run("openssl pkeyutl -decrypt -inkey %s %s -in %s -out %s", key_path, opts, ct_path, out_path);
                ck_assert_uint_eq(read_file(out_path, out, sizeof(out)), sizeof(msg));
                ck_assert_msg(memcmp(out, msg, sizeof(msg)) == 0, "OpenSSL decrypts our ciphertext to another message (%s)", opts);
        }

        test_key_done(&k);
        unlink(key_path);
        unlink(in_path);
        unlink(ct_path);
        unlink(out_path);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *rsa_oaep_suite(void) {
        Suite *s = suite_create("rsa-oaep");
        TCase *tc;

        /* The case tagged "constant-time" is the one the constant-time test
         * runs under valgrind memcheck, leak check included (CK_INCLUDE_TAGS);
         * scripts/run-tests' memcheck stage leaves it out for that reason
         * (CK_EXCLUDE_TAGS). */
        tc = tcase_create("decoder");
        tcase_set_tags(tc, "constant-time");
        tcase_add_loop_test(tc, test_wycheproof, 0, (int) ELEMENTSOF(vector_files));
        tcase_add_test(tc, test_exact_length_session_key);
        suite_add_tcase(s, tc);

        tc = tcase_create("round-trips");
        tcase_add_test(tc, test_round_trips_vector_keys);
        tcase_add_test(tc, test_round_trips_fresh_keys);
        tcase_add_test(tc, test_out_of_range_and_bad_arguments);
        suite_add_tcase(s, tc);

        tc = tcase_create("openssl");
        tcase_add_test(tc, test_openssl_cross_check);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        /* Before any bignum exists, as keyd's main() does. */
        secure_memory_install_gmp();

        sr = srunner_create(rsa_oaep_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
