/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer harness for the EME-OAEP decoder (common/rsa-oaep.c), checked
 * against a plain reference decoder written here from RFC 8017, 7.1.2.
 *
 * RSA stands between the fuzzer and the padding: random ciphertexts decode
 * to random bytes that are all rejected at the first byte. So besides raw
 * ciphertexts the harness lets the fuzzer choose the encoded message EM
 * itself (and, in the structured mode, the data block before masking), and
 * encrypts it with the public key; the decoder then sees exactly the
 * padding the fuzzer built, and every outcome (accepted, which message,
 * rejected) must agree with the reference. Keys are fixed: generated from a
 * constant seed at start-up, a 2048-bit one (keyd's default) and a 1024-bit
 * one (too small for SHA-512, so that refusal is covered too).
 *
 * Input: byte 0 selects the mode, the hashes and the key; then a label,
 * the caller's buffer size, and the mode's data. */

#include <errno.h>
#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/nettle-meta.h>
#include <nettle/rsa.h>
#include <nettle/sha2.h>
#include <stdbool.h>

#include "fuzz.h"
#include "rsa-oaep.h"

typedef struct FuzzKey {
        struct rsa_public_key pub;
        struct rsa_private_key priv;
} FuzzKey;

static FuzzKey keys[2]; /* 2048 and 1024 bits */

/* A deterministic random stream: SHA-256(seed || counter) blocks. Used for
 * key generation and RSA blinding, never all zeros. */
typedef struct Drbg {
        uint64_t counter;
        uint8_t block[SHA256_DIGEST_SIZE];
        size_t used;
        uint32_t seed;
} Drbg;

static void drbg_random(void *ctx, size_t n, uint8_t *dst) {
        Drbg *d = ctx;

        while (n > 0) {
                if (d->used == 0 || d->used == sizeof(d->block)) {
                        struct sha256_ctx h;
                        sha256_init(&h);
                        sha256_update(&h, sizeof(d->seed), (const uint8_t *) &d->seed);
                        sha256_update(&h, sizeof(d->counter), (const uint8_t *) &d->counter);
                        sha256_digest(&h, sizeof(d->block), d->block);
                        d->counter++;
                        d->used = 0;
                }
                *dst++ = d->block[d->used++];
                n--;
        }
}

static Drbg blinding = { .seed = 0xb11d };

/* The encryption seed comes from the input, so that every run of an input
 * is the same (and zeros past its end are a valid seed). */
static void input_random(void *ctx, size_t n, uint8_t *dst) {
        FuzzInput *in = ctx;

        for (size_t i = 0; i < n; i++)
                dst[i] = fuzz_u8(in);
}

static void make_key(FuzzKey *k, unsigned bits, uint32_t seed) {
        Drbg d = { .seed = seed };

        rsa_public_key_init(&k->pub);
        rsa_private_key_init(&k->priv);
        mpz_set_ui(k->pub.e, 65537);
        FUZZ_CHECK(rsa_generate_keypair(&k->pub, &k->priv, &d, drbg_random, NULL, NULL, bits, 0) == 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        make_key(&keys[0], 2048, 0x2048);
        make_key(&keys[1], 1024, 0x1024);
        return 0;
}

static const struct nettle_hash *nettle_hash_of(OaepHash h) {
        switch (h) {
        case OAEP_HASH_SHA1:
                return &nettle_sha1;
        case OAEP_HASH_SHA256:
                return &nettle_sha256;
        case OAEP_HASH_SHA512:
                return &nettle_sha512;
        default:
                return NULL;
        }
}

/* ---- the reference: RFC 8017 7.1.2 step 3, straightforwardly ---- */

static void ref_hash(const struct nettle_hash *h, const uint8_t *a, size_t a_size, const uint8_t *b,
                     size_t b_size, uint8_t *out) {
        uint8_t ctx[512];

        FUZZ_CHECK(h->context_size <= sizeof(ctx));
        h->init(ctx);
        h->update(ctx, a_size, a);
        if (b_size > 0)
                h->update(ctx, b_size, b);
        h->digest(ctx, h->digest_size, out);
}

static void ref_mgf1_xor(const struct nettle_hash *h, const uint8_t *seed, size_t seed_size, uint8_t *dst,
                         size_t n) {
        uint8_t digest[SHA512_DIGEST_SIZE];

        for (uint32_t counter = 0; n > 0; counter++) {
                uint8_t c[4] = { counter >> 24, counter >> 16, counter >> 8, counter };
                size_t chunk = n < h->digest_size ? n : h->digest_size;

                ref_hash(h, seed, seed_size, c, sizeof(c), digest);
                for (size_t i = 0; i < chunk; i++)
                        dst[i] ^= digest[i];
                dst += chunk;
                n -= chunk;
        }
}

/* Decodes em (k bytes, modified in place). Returns the message length and
 * its offset in em, or -1 for "decryption error". */
static long ref_decode(uint8_t *em, size_t k, const OaepParams *p, size_t *ret_offset) {
        const struct nettle_hash *h = nettle_hash_of(p->hash), *mgf1 = nettle_hash_of(p->mgf1_hash);
        uint8_t lhash[SHA512_DIGEST_SIZE];
        size_t hlen = h->digest_size, db_size = k - hlen - 1, i;
        uint8_t *seed = em + 1, *db = em + 1 + hlen;

        ref_mgf1_xor(mgf1, db, db_size, seed, hlen);
        ref_mgf1_xor(mgf1, seed, hlen, db, db_size);
        ref_hash(h, p->label ?: (const uint8_t *) "", p->label_size, NULL, 0, lhash);

        if (em[0] != 0)
                return -1;
        if (memcmp(db, lhash, hlen) != 0)
                return -1;
        for (i = hlen; i < db_size && db[i] == 0; i++)
                ;
        if (i == db_size || db[i] != 0x01)
                return -1;
        *ret_offset = 1 + hlen + i + 1;
        return (long) (db_size - i - 1);
}

/* ---- helpers ---- */

static void mpz_to_fixed(uint8_t *dst, size_t k, const mpz_t x) {
        size_t n = nettle_mpz_sizeinbase_256_u(x);

        FUZZ_CHECK(n <= k);
        memset(dst, 0, k - n);
        nettle_mpz_get_str_256(n, dst + k - n, x);
}

/* c = em^e mod n, the public operation, as k bytes. */
static void raw_encrypt(const FuzzKey *key, const uint8_t *em, uint8_t *ct) {
        mpz_t m, c;

        mpz_init(m);
        mpz_init(c);
        nettle_mpz_set_str_256_u(m, key->pub.size, em);
        mpz_powm(c, m, key->pub.e, key->pub.n);
        mpz_to_fixed(ct, key->pub.size, c);
        mpz_clear(m);
        mpz_clear(c);
}

/* em^d mod n, for the reference; false when ct is not below n. */
static bool raw_decrypt(const FuzzKey *key, const uint8_t *ct, uint8_t *em) {
        mpz_t m, c;
        bool below;

        mpz_init(m);
        mpz_init(c);
        nettle_mpz_set_str_256_u(c, key->pub.size, ct);
        below = mpz_cmp(c, key->pub.n) < 0;
        if (below) {
                mpz_powm(m, c, key->priv.d, key->pub.n);
                mpz_to_fixed(em, key->pub.size, m);
        }
        mpz_clear(m);
        mpz_clear(c);
        return below;
}

#define CANARY 0xc5

/* Decrypt ct with the code under test into a buffer of exactly msg_max
 * bytes, and check the outcome against the reference decoding of em (NULL:
 * ct is not below n, which must fail). */
static void decrypt_and_compare(const FuzzKey *key, const OaepParams *p, const uint8_t *ct, uint8_t *em,
                                size_t msg_max) {
        size_t k = key->pub.size, offset = 0, got = 0;
        uint8_t *msg = malloc(msg_max ?: 1);
        long expected = -1;
        int r;

        FUZZ_CHECK(msg);
        memset(msg, CANARY, msg_max);

        r = rsa_oaep_decrypt(&key->pub, &key->priv, p, &blinding, drbg_random, ct, k, msg, msg_max, &got);
        if (em)
                expected = ref_decode(em, k, p, &offset);
        if (expected >= 0 && (size_t) expected > msg_max)
                expected = -1; /* too long for the caller's buffer: also a decryption error */

        if (expected < 0) {
                FUZZ_CHECK(r == -EBADMSG);
                /* Nothing observable but the error: the buffer is untouched. */
                for (size_t i = 0; i < msg_max; i++)
                        FUZZ_CHECK(msg[i] == CANARY);
        } else {
                FUZZ_CHECK(r == 0);
                FUZZ_CHECK(got == (size_t) expected);
                FUZZ_CHECK(memcmp(msg, em + offset, got) == 0);
                for (size_t i = got; i < msg_max; i++)
                        FUZZ_CHECK(msg[i] == CANARY);
        }

        /* Exactly msg_max bytes, as keyd unwraps a session key: only a
         * message of that very length decodes. */
        memset(msg, CANARY, msg_max);
        r = rsa_oaep_decrypt_exact(&key->pub, &key->priv, p, &blinding, drbg_random, ct, k, msg, msg_max);
        if (expected >= 0 && (size_t) expected == msg_max) {
                FUZZ_CHECK(r == 0);
                FUZZ_CHECK(memcmp(msg, em + offset, msg_max) == 0);
        } else {
                FUZZ_CHECK(r == -EBADMSG);
                for (size_t i = 0; i < msg_max; i++)
                        FUZZ_CHECK(msg[i] == CANARY);
        }
        free(msg);
}

/* ---- the modes ---- */

/* Arbitrary ciphertext of arbitrary size: wrong sizes are -EINVAL, right
 * sizes agree with the reference (c >= n included). */
static void mode_raw_ciphertext(const FuzzKey *key, const OaepParams *p, FuzzInput *in, size_t msg_max) {
        size_t k = key->pub.size, n, got;
        const uint8_t *ct = fuzz_bytes(in, fuzz_remaining(in), &n);
        uint8_t em[512], msg[64];

        if (n != k) {
                FUZZ_CHECK(rsa_oaep_decrypt(&key->pub, &key->priv, p, &blinding, drbg_random, ct, n, msg,
                                            sizeof(msg), &got) == -EINVAL);
                return;
        }
        decrypt_and_compare(key, p, ct, raw_decrypt(key, ct, em) ? em : NULL, msg_max);
}

/* The fuzzer's bytes are EM itself (forced below n by a zero top byte
 * unless it asks otherwise). */
static void mode_chosen_em(const FuzzKey *key, const OaepParams *p, FuzzInput *in, size_t msg_max) {
        size_t k = key->pub.size;
        uint8_t em[512], ct[512];
        bool keep_top = fuzz_u8(in) & 1;

        for (size_t i = 0; i < k; i++)
                em[i] = fuzz_u8(in);
        if (!keep_top)
                em[0] = 0;
        else if (em[0] >= 0x40)
                em[0] &= 0x3f; /* nonzero, still below n (whose top bit is set) */
        raw_encrypt(key, em, ct);
        decrypt_and_compare(key, p, ct, em, msg_max);
}

/* The fuzzer builds the data block (label hash right or not, PS length,
 * separator byte, message) and the seed; the harness masks it as the RFC
 * says. Most inputs are then valid or nearly so. */
static void mode_structured(const FuzzKey *key, const OaepParams *p, FuzzInput *in, size_t msg_max) {
        const struct nettle_hash *h = nettle_hash_of(p->hash), *mgf1 = nettle_hash_of(p->mgf1_hash);
        size_t k = key->pub.size, hlen = h->digest_size, db_size = k - hlen - 1, ps;
        uint8_t em[512], ct[512], *seed = em + 1, *db = em + 1 + hlen;
        uint8_t flags = fuzz_u8(in);

        /* DB = lHash || PS (ps zeros) || separator || M, M filling the rest. */
        memset(em, 0, sizeof(em));
        em[0] = flags & 1 ? fuzz_u8(in) & 0x3f : 0;
        ref_hash(h, p->label ?: (const uint8_t *) "", p->label_size, NULL, 0, db);
        if (flags & 2)
                db[fuzz_u8(in) % hlen] ^= (uint8_t) (1 + fuzz_u8(in) % 255); /* wrong label hash */
        ps = fuzz_u16(in) % (db_size - hlen);
        if (flags & 4 && ps > 0)
                db[hlen + fuzz_u16(in) % ps] = fuzz_u8(in); /* maybe a nonzero byte in PS */
        db[hlen + ps] = flags & 8 ? fuzz_u8(in) : 0x01;
        for (size_t i = hlen + ps + 1; i < db_size; i++)
                db[i] = fuzz_u8(in);
        for (size_t i = 0; i < hlen; i++)
                seed[i] = fuzz_u8(in);

        ref_mgf1_xor(mgf1, seed, hlen, db, db_size);
        ref_mgf1_xor(mgf1, db, db_size, seed, hlen);
        raw_encrypt(key, em, ct);
        decrypt_and_compare(key, p, ct, em, msg_max);
}

/* encode -> decode gives the message back; too long is -EMSGSIZE. */
static void mode_round_trip(const FuzzKey *key, const OaepParams *p, FuzzInput *in) {
        const struct nettle_hash *h = nettle_hash_of(p->hash);
        size_t k = key->pub.size, hlen = h->digest_size, msg_size, got = 0;
        uint8_t ct[512], out[512];
        const uint8_t *msg;
        int r;

        msg_size = fuzz_u16(in) % (k + 1);
        msg = fuzz_bytes(in, msg_size, &msg_size);

        r = rsa_oaep_encrypt(&key->pub, p, in, input_random, msg, msg_size, ct, k);
        if (k < 2 * hlen + 2 || msg_size > k - 2 * hlen - 2) {
                FUZZ_CHECK(r == -EMSGSIZE);
                return;
        }
        FUZZ_CHECK(r == 0);

        r = rsa_oaep_decrypt(&key->pub, &key->priv, p, &blinding, drbg_random, ct, k, out, sizeof(out), &got);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(got == msg_size);
        FUZZ_CHECK(memcmp(out, msg, msg_size) == 0);

        /* One bit flipped anywhere: never the same message back. */
        if (fuzz_remaining(in) >= 2) {
                size_t bit = fuzz_u16(in) % (k * 8);
                ct[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                r = rsa_oaep_decrypt(&key->pub, &key->priv, p, &blinding, drbg_random, ct, k, out, sizeof(out),
                                     &got);
                FUZZ_CHECK(r == -EBADMSG || (r == 0 && (got != msg_size || memcmp(out, msg, msg_size) != 0)));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in = { data, size, 0 };
        uint8_t control = fuzz_u8(&in), label[32];
        /* control: bits 0-1 hash, 2-3 MGF1 hash, 4-5 mode, 6 key, 7 bad parameters too */
        const FuzzKey *key = &keys[(control >> 6) & 1];
        OaepParams p = {
                .hash = (OaepHash) ((control & 3) % 3),
                .mgf1_hash = (OaepHash) (((control >> 2) & 3) % 3),
        };
        size_t msg_max, hlen;
        uint8_t msg[16];

        p.label_size = fuzz_u8(&in) % (sizeof(label) + 1);
        for (size_t i = 0; i < p.label_size; i++)
                label[i] = fuzz_u8(&in);
        p.label = p.label_size > 0 ? label : NULL;
        msg_max = fuzz_u8(&in);

        /* Bad parameters are -EINVAL, whatever the data. */
        if (control & 0x80) {
                OaepParams bad = p;
                size_t got;
                uint8_t ct[256] = {};
                bad.hash = _OAEP_HASH_MAX;
                FUZZ_CHECK(rsa_oaep_decrypt(&key->pub, &key->priv, &bad, &blinding, drbg_random, ct,
                                            key->pub.size, msg, sizeof(msg), &got) == -EINVAL);
                bad = p;
                bad.label = NULL;
                bad.label_size = 1;
                FUZZ_CHECK(rsa_oaep_decrypt(&key->pub, &key->priv, &bad, &blinding, drbg_random, ct,
                                            key->pub.size, msg, sizeof(msg), &got) == -EINVAL);
        }

        /* A key too small for the hash decodes nothing. */
        hlen = oaep_hash_size(p.hash);
        if (key->pub.size < 2 * hlen + 2) {
                uint8_t ct[512] = {};
                size_t got;
                FUZZ_CHECK(rsa_oaep_decrypt(&key->pub, &key->priv, &p, &blinding, drbg_random, ct, key->pub.size,
                                            msg, sizeof(msg), &got) == -EINVAL);
                mode_round_trip(key, &p, &in);
                return 0;
        }

        switch ((control >> 4) & 3) {
        case 0:
                mode_raw_ciphertext(key, &p, &in, msg_max);
                break;
        case 1:
                mode_chosen_em(key, &p, &in, msg_max);
                break;
        case 2:
                mode_structured(key, &p, &in, msg_max);
                break;
        case 3:
                mode_round_trip(key, &p, &in);
                break;
        }
        return 0;
}
