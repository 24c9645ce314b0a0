/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * EME-OAEP (RFC 8017, section 7.1) over nettle's RSA primitives.
 *
 * The decoder follows the RFC's warning in 7.1.2 literally: an attacker
 * who can tell apart *why* a ciphertext was rejected (first byte not zero,
 * label hash wrong, no 0x01 separator) can decrypt any ciphertext with a
 * few thousand queries (Manger, CRYPTO 2001). So after the private-key
 * operation nothing branches on, or indexes memory by, the decoded bytes:
 * every check only clears bits of one "good" mask, the message is moved
 * into place with a shift whose memory access pattern depends only on the
 * key size, and the single branch on the outcome comes at the very end.
 */

#include <errno.h>
#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/memxor.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "rsa-oaep.h"
#include "secure-memory.h"

_Static_assert(GMP_NAIL_BITS == 0, "limbs are assumed to hold whole bytes");

/* Built with KEYD_CT_CHECK (a test build only), the decoded block is marked
 * as undefined for valgrind's memcheck, which then reports every branch and
 * every memory index that depends on it (the "ctgrind" technique). Only
 * the final verdict, and the message on success, are declared public. */
#ifdef KEYD_CT_CHECK
#  include <valgrind/memcheck.h>
#  define CT_SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#  define CT_PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#else
#  define CT_SECRET(p, n) do { } while (0)
#  define CT_PUBLIC(p, n) do { } while (0)
#endif

/* Working memory for one encode or decode, in locked memory: it holds the
 * seed, the unmasked data block and hash states derived from them. */
typedef struct OaepWork {
        union {
                struct sha1_ctx sha1;
                struct sha256_ctx sha256;
                struct sha512_ctx sha512;
        } hash_ctx;
        uint8_t digest[SHA512_DIGEST_SIZE];     /* one MGF1 block */
        uint8_t label_hash[SHA512_DIGEST_SIZE];
        uint8_t buf[];                          /* k bytes (input) + k bytes (EM) */
} OaepWork;

static const struct nettle_hash *oaep_nettle_hash(OaepHash h) {
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

size_t oaep_hash_size(OaepHash h) {
        const struct nettle_hash *nh = oaep_nettle_hash(h);

        return nh ? nh->digest_size : 0;
}

const char *oaep_hash_to_string(OaepHash h) {
        switch (h) {
        case OAEP_HASH_SHA1:
                return "SHA-1";
        case OAEP_HASH_SHA256:
                return "SHA-256";
        case OAEP_HASH_SHA512:
                return "SHA-512";
        default:
                return NULL;
        }
}

/* Constant-time helpers. A mask is all ones for true, zero for false.
 * Every mask passes through an empty asm on its way out: the optimiser then
 * cannot know it is 0 or ~0, and so cannot turn mask arithmetic back into
 * a conditional branch (clang does recognise the bare idioms below as
 * comparisons). */
#define CT_TOP_BIT (sizeof(size_t) * 8 - 1)

static inline size_t ct_barrier(size_t x) {
        __asm__("" : "+r"(x));
        return x;
}

static inline size_t ct_is_zero(size_t x) {
        x = ct_barrier(x);
        return ct_barrier((size_t) 0 - ((~x & (x - 1)) >> CT_TOP_BIT));
}

static inline size_t ct_eq(size_t a, size_t b) {
        return ct_is_zero(a ^ b);
}

/* a < b, for any size_t values. */
static inline size_t ct_lt(size_t a, size_t b) {
        a = ct_barrier(a);
        return ct_barrier((size_t) 0 - ((a ^ ((a ^ b) | ((a - b) ^ b))) >> CT_TOP_BIT));
}

static inline size_t ct_select(size_t mask, size_t a, size_t b) {
        mask = ct_barrier(mask);
        return (mask & a) | (~mask & b);
}

static inline uint8_t ct_select_u8(size_t mask, uint8_t a, uint8_t b) {
        return (uint8_t) ct_select(mask, a, b);
}

/* a >= b, both big-endian numbers of n bytes. */
static size_t ct_bytes_ge(const uint8_t *a, const uint8_t *b, size_t n) {
        size_t gt = 0, lt = 0;

        for (size_t i = 0; i < n; i++) {
                size_t undecided = ~(gt | lt);
                gt |= undecided & ct_lt(b[i], a[i]);
                lt |= undecided & ct_lt(a[i], b[i]);
        }
        return ~lt;
}

/* x as exactly n big-endian bytes (x < 256^n). Unlike mpz_export, the loop
 * runs over all n bytes however many leading zeros x has. */
static void mpz_get_fixed(uint8_t *dst, size_t n, const mpz_t x) {
        for (size_t i = 0; i < n; i++) {
                mp_limb_t limb = mpz_getlimbn(x, (mp_size_t) (i / sizeof(mp_limb_t)));
                dst[n - 1 - i] = (uint8_t) (limb >> (8 * (i % sizeof(mp_limb_t))));
        }
}

/* Wipe an mpz's limbs before releasing them, in case GMP's allocator is not
 * secure_memory_install_gmp()'s. */
static void mpz_wipe_clear(mpz_t x) {
        size_t n = mpz_size(x);

        if (n > 0)
                secure_wipe(mpz_limbs_modify(x, (mp_size_t) n), n * sizeof(mp_limb_t));
        mpz_clear(x);
}

static void hash_label(const struct nettle_hash *h, OaepWork *w, const OaepParams *params) {
        h->init(&w->hash_ctx);
        if (params->label_size > 0)
                h->update(&w->hash_ctx, params->label_size, params->label);
        h->digest(&w->hash_ctx, h->digest_size, w->label_hash);
}

/* dst ^= MGF1(seed), n bytes of it (RFC 8017, B.2.1). */
static void mgf1_xor(const struct nettle_hash *h, OaepWork *w,
                     const uint8_t *seed, size_t seed_size,
                     uint8_t *dst, size_t n) {
        for (uint32_t counter = 0; n > 0; counter++) {
                uint8_t c[4] = { counter >> 24, counter >> 16, counter >> 8, counter };
                size_t chunk = MIN(n, (size_t) h->digest_size);

                h->init(&w->hash_ctx);
                h->update(&w->hash_ctx, seed_size, seed);
                h->update(&w->hash_ctx, sizeof(c), c);
                h->digest(&w->hash_ctx, h->digest_size, w->digest);
                memxor(dst, w->digest, chunk);

                dst += chunk;
                n -= chunk;
        }
}

static OaepWork *oaep_work_free(OaepWork *w) {
        /* secure_free() wipes. */
        return secure_free(w);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(OaepWork *, oaep_work_free);

static int oaep_check_params(const OaepParams *params,
                             const struct nettle_hash **ret_hash,
                             const struct nettle_hash **ret_mgf1_hash) {
        if (!params)
                return -EINVAL;
        if (params->label_size > 0 && !params->label)
                return -EINVAL;

        *ret_hash = oaep_nettle_hash(params->hash);
        *ret_mgf1_hash = oaep_nettle_hash(params->mgf1_hash);
        if (!*ret_hash || !*ret_mgf1_hash)
                return -EINVAL;
        return 0;
}

int rsa_oaep_encrypt(const struct rsa_public_key *pub,
                     const OaepParams *params,
                     void *random_ctx, nettle_random_func *random,
                     const uint8_t *msg, size_t msg_size,
                     uint8_t *ct, size_t ct_size) {
        _cleanup_(oaep_work_freep) OaepWork *w = NULL;
        const struct nettle_hash *h, *mgf1;
        size_t k, hlen, db_size;
        uint8_t *em, *seed, *db;
        mpz_t m, c;
        int r;

        if (!pub || !random || !ct || (!msg && msg_size > 0))
                return -EINVAL;
        r = oaep_check_params(params, &h, &mgf1);
        if (r < 0)
                return r;

        k = pub->size;
        hlen = h->digest_size;
        if (k == 0 || ct_size != k)
                return -EINVAL;
        if (k < 2 * hlen + 2 || msg_size > k - 2 * hlen - 2)
                return -EMSGSIZE;

        w = secure_alloc(sizeof(OaepWork) + k);
        if (!w)
                return -ENOMEM;

        /* EM = 0x00 || maskedSeed || maskedDB, DB = lHash || PS || 0x01 || M.
         * The buffer is zeroed, so PS and the leading 0x00 are already there. */
        em = w->buf;
        seed = em + 1;
        db = em + 1 + hlen;
        db_size = k - hlen - 1;

        hash_label(h, w, params);
        memcpy(db, w->label_hash, hlen);
        db[db_size - msg_size - 1] = 0x01;
        if (msg_size > 0)
                memcpy(db + db_size - msg_size, msg, msg_size);

        random(random_ctx, hlen, seed);
        mgf1_xor(mgf1, w, seed, hlen, db, db_size);
        mgf1_xor(mgf1, w, db, db_size, seed, hlen);

        /* EM starts with a zero byte, so as a number it is below n. */
        mpz_init(m);
        mpz_init(c);
        nettle_mpz_set_str_256_u(m, k, em);
        mpz_powm(c, m, pub->e, pub->n);
        mpz_get_fixed(ct, k, c);
        mpz_wipe_clear(m);
        mpz_clear(c);

        return 0;
}

/* The message length is a requirement either way: at most msg_max bytes, or
 * exactly msg_max (OAEP_LENGTH_EXACT, a session key). Public, as is msg_max. */
typedef enum OaepLength {
        OAEP_LENGTH_AT_MOST,
        OAEP_LENGTH_EXACT,
} OaepLength;

static int oaep_decrypt(const struct rsa_public_key *pub,
                        const struct rsa_private_key *key,
                        const OaepParams *params,
                        void *random_ctx, nettle_random_func *random,
                        const uint8_t *ct, size_t ct_size,
                        uint8_t *msg, size_t msg_max, OaepLength length, size_t *ret_size) {
        _cleanup_(oaep_work_freep) OaepWork *w = NULL;
        const struct nettle_hash *h, *mgf1;
        size_t k, hlen, db_size, good, looking, bad, one_index, rest_size, offset, msg_size;
        uint8_t *input, *em, *seed, *db, *rest;
        mpz_t c, m;
        int r, root_ok;

        if (!pub || !key || !random || !ct || (length == OAEP_LENGTH_AT_MOST && !ret_size) ||
            (!msg && msg_max > 0))
                return -EINVAL;
        r = oaep_check_params(params, &h, &mgf1);
        if (r < 0)
                return r;

        k = pub->size;
        hlen = h->digest_size;
        if (k == 0 || key->size != k || ct_size != k)
                return -EINVAL;
        /* A key too small for the hash can decode nothing: the caller's setup
         * is wrong, whatever the ciphertext. */
        if (k < 2 * hlen + 2)
                return -EINVAL;

        w = secure_alloc(sizeof(OaepWork) + 2 * k);
        if (!w)
                return -ENOMEM;
        input = w->buf;
        em = w->buf + k;

        /* Step 1: the ciphertext must be below n. That is public knowledge,
         * but rejecting it here would be a second, faster kind of failure;
         * instead it only clears the mask, and the private-key operation
         * runs on a stand-in below n: the ciphertext with its top byte
         * cleared (n's top byte is nonzero). */
        nettle_mpz_get_str_256(k, input, pub->n);
        good = ~ct_bytes_ge(ct, input, k);
        memcpy(input, ct, k);
        input[0] = ct_select_u8(good, input[0], 0);

        /* Step 2: m = c^d mod n, blinded, CRT result checked by nettle. A
         * failed check (a fault, or a broken key) only clears the mask:
         * nothing is learnt from a result we do not use. */
        mpz_init(c);
        mpz_init(m);
        nettle_mpz_set_str_256_u(c, k, input);
        root_ok = rsa_compute_root_tr(pub, key, random_ctx, random, m, c);
        good &= ct_is_zero((size_t) (root_ok == 0));
        /* GMP normalises m to its significant limbs, which tells the timing
         * whether EM's top 8 bytes are all zero -- a 2^-56 event for a
         * random ciphertext, far too rare to serve as Manger's oracle.
         * From here on, no access depends on the value. */
        mpz_get_fixed(em, k, m);
        CT_SECRET(em, k);
        mpz_wipe_clear(m);
        mpz_clear(c);

        /* Step 3: EM = Y || maskedSeed || maskedDB. Unmask in place. */
        seed = em + 1;
        db = em + 1 + hlen;
        db_size = k - hlen - 1;

        good &= ct_is_zero(em[0]);
        mgf1_xor(mgf1, w, db, db_size, seed, hlen);
        mgf1_xor(mgf1, w, seed, hlen, db, db_size);

        /* DB = lHash' || PS || 0x01 || M */
        hash_label(h, w, params);
        good &= ct_barrier((size_t) 0 - (size_t) secure_memeq(db, w->label_hash, hlen));

        /* Find the first 0x01 after lHash; everything before it must be 0x00.
         * The loop visits every byte and only updates masks. */
        looking = ~(size_t) 0;
        bad = 0;
        one_index = 0;
        for (size_t i = hlen; i < db_size; i++) {
                size_t is_zero = ct_is_zero(db[i]);
                size_t is_one = ct_eq(db[i], 0x01);

                one_index = ct_select(looking & is_one, i, one_index);
                bad |= looking & ~is_zero & ~is_one;
                looking &= ~is_one;
        }
        good &= ~looking & ~bad;

        /* M starts `offset` bytes into rest = DB after lHash. On failure take
         * offset = rest_size: an empty message, and a well-defined shift. */
        rest = db + hlen;
        rest_size = db_size - hlen;
        offset = ct_select(good, one_index + 1 - hlen, rest_size);
        msg_size = rest_size - offset;
        /* The length the caller needs is one more bit of the same mask: a
         * message of another length fails exactly where bad padding does,
         * not in a later check after the verdict is out. */
        if (length == OAEP_LENGTH_EXACT)
                good &= ct_eq(msg_size, msg_max);
        else
                good &= ~ct_lt(msg_max, msg_size);

        /* Shift M to the front of rest: one pass per bit of the offset, each
         * pass touching every byte, so memory access depends on sizes only. */
        for (size_t bit = 1; bit <= rest_size; bit <<= 1) {
                size_t shift = ~ct_is_zero(offset & bit);

                for (size_t i = 0; i < rest_size; i++) {
                        uint8_t next = i + bit < rest_size ? rest[i + bit] : 0;
                        rest[i] = ct_select_u8(shift, next, rest[i]);
                }
        }

        /* The one branch on the outcome, which the caller learns anyway. */
        CT_PUBLIC(&good, sizeof(good));
        if (!ct_barrier(good))
                return -EBADMSG;

        /* An exact length is already known to be msg_max: the decoded
         * length never shows. Otherwise it shows only now, on success, in
         * the time of the copy, as in *ret_size. */
        if (length == OAEP_LENGTH_AT_MOST) {
                CT_PUBLIC(&msg_size, sizeof(msg_size));
                msg_max = msg_size;
        }
        if (msg_max > 0)
                memcpy(msg, rest, msg_max);
        CT_PUBLIC(msg, msg_max);
        if (ret_size)
                *ret_size = msg_max;
        return 0;
}

int rsa_oaep_decrypt(const struct rsa_public_key *pub,
                     const struct rsa_private_key *key,
                     const OaepParams *params,
                     void *random_ctx, nettle_random_func *random,
                     const uint8_t *ct, size_t ct_size,
                     uint8_t *msg, size_t msg_max, size_t *ret_size) {
        return oaep_decrypt(pub, key, params, random_ctx, random, ct, ct_size, msg, msg_max, OAEP_LENGTH_AT_MOST,
                            ret_size);
}

int rsa_oaep_decrypt_exact(const struct rsa_public_key *pub,
                           const struct rsa_private_key *key,
                           const OaepParams *params,
                           void *random_ctx, nettle_random_func *random,
                           const uint8_t *ct, size_t ct_size,
                           uint8_t *msg, size_t msg_size) {
        return oaep_decrypt(pub, key, params, random_ctx, random, ct, ct_size, msg, msg_size, OAEP_LENGTH_EXACT,
                            NULL);
}
