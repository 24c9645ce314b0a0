/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The ciphertexts of each class, built here from the public key alone:
 * EM = 0x00 || maskedSeed || maskedDB with DB = lHash || PS || 0x01 || M
 * (RFC 8017, 7.1.1), spelled out independently of common/rsa-oaep.c, then
 * broken where the class says, then raised to e mod n. */

#include <errno.h>
#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/nettle-meta.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "timing.h"

#define MSG_SIZE 16U

static const struct {
        const char *name;
        const char *description;
} classes[_CLASS_MAX] = {
        [CLASS_VALID] = { "valid", "a valid encoding of a 16-byte key" },
        [CLASS_BAD_FIRST_BYTE] = { "bad-first-byte", "Y (EM's first byte) not zero" },
        [CLASS_BAD_PS] = { "bad-ps", "0x02 in PS right before the 0x01 separator (deep in DB)" },
        [CLASS_NO_SEPARATOR] = { "no-separator", "no 0x01 separator after PS (deep in DB)" },
        [CLASS_BAD_LHASH] = { "bad-lhash", "lHash' wrong in its last byte" },
};

const char *timing_class_name(TimingClass c) {
        return classes[c].name;
}

const char *timing_class_description(TimingClass c) {
        return classes[c].description;
}

int timing_class_from_string(const char *s) {
        for (int c = 0; c < _CLASS_MAX; c++)
                if (streq(s, classes[c].name))
                        return c;
        return -1;
}

static const struct nettle_hash *nettle_hash_of(OaepHash h) {
        switch (h) {
        case OAEP_HASH_SHA1:
                return &nettle_sha1;
        case OAEP_HASH_SHA256:
                return &nettle_sha256;
        default:
                return &nettle_sha512;
        }
}

int oaep_encoder_init(OaepEncoder *enc, OaepHash hash, const uint8_t *n, size_t n_size, const uint8_t *e,
                      size_t e_size) {
        mpz_t *mn = malloc(sizeof(mpz_t)), *me = malloc(sizeof(mpz_t));

        if (!mn || !me) {
                free(mn);
                free(me);
                return -ENOMEM;
        }
        mpz_init(*mn);
        mpz_init(*me);
        nettle_mpz_set_str_256_u(*mn, n_size, n);
        nettle_mpz_set_str_256_u(*me, e_size, e);
        *enc = (OaepEncoder) {
                .k = (mpz_sizeinbase(*mn, 2) + 7) / 8,
                .hash = hash,
                .n = mn,
                .e = me,
        };
        return 0;
}

void oaep_encoder_done(OaepEncoder *enc) {
        if (enc->n) {
                mpz_clear(*(mpz_t *) enc->n);
                mpz_clear(*(mpz_t *) enc->e);
        }
        free(enc->n);
        free(enc->e);
        *enc = (OaepEncoder) {};
}

/* dst ^= MGF1(seed), n bytes. */
static void mgf1_xor(const struct nettle_hash *h, const uint8_t *seed, size_t seed_size, uint8_t *dst, size_t n) {
        _Alignas(max_align_t) uint8_t ctx[512];
        uint8_t digest[64];

        for (uint32_t counter = 0; n > 0; counter++) {
                const uint8_t c[4] = { counter >> 24, counter >> 16, counter >> 8, counter };
                size_t chunk = MIN(n, (size_t) h->digest_size);

                h->init(ctx);
                h->update(ctx, seed_size, seed);
                h->update(ctx, sizeof(c), c);
                h->digest(ctx, h->digest_size, digest);
                for (size_t i = 0; i < chunk; i++)
                        dst[i] ^= digest[i];
                dst += chunk;
                n -= chunk;
        }
}

static uint8_t random_byte_in(struct knuth_lfib_ctx *rng, uint8_t lo, uint8_t hi) {
        uint8_t b;

        knuth_lfib_random(rng, 1, &b);
        return (uint8_t) (lo + b % (hi - lo + 1));
}

void oaep_encode_class(const OaepEncoder *enc, TimingClass c, struct knuth_lfib_ctx *rng, uint8_t *ct,
                       uint8_t msg[MSG_SIZE]) {
        const struct nettle_hash *h = nettle_hash_of(enc->hash);
        const size_t k = enc->k, hlen = h->digest_size, db_size = k - hlen - 1;
        _Alignas(max_align_t) uint8_t ctx[512];
        uint8_t em[1024], top;
        uint8_t *seed = em + 1, *db = em + 1 + hlen;
        const size_t sep = db_size - MSG_SIZE - 1;     /* index of 0x01 in DB */
        mpz_t m, x;

        memset(em, 0, k);
        h->init(ctx);
        h->digest(ctx, hlen, db);                      /* lHash of the empty label */
        db[sep] = 0x01;
        knuth_lfib_random(rng, MSG_SIZE, msg);
        if (c == CLASS_NO_SEPARATOR)
                /* No 0x01 anywhere after lHash, so the message cannot stand in for it. */
                for (size_t i = 0; i < MSG_SIZE; i++)
                        msg[i] = msg[i] == 0x01 ? 0x02 : msg[i];
        memcpy(db + sep + 1, msg, MSG_SIZE);

        switch (c) {
        case CLASS_BAD_PS:
                db[sep - 1] = 0x02;
                break;
        case CLASS_NO_SEPARATOR:
                db[sep] = 0x00;
                break;
        case CLASS_BAD_LHASH:
                db[hlen - 1] ^= 0x01;
                break;
        default:
                break;
        }

        knuth_lfib_random(rng, hlen, seed);
        mgf1_xor(h, seed, hlen, db, db_size);
        mgf1_xor(h, db, db_size, seed, hlen);

        if (c == CLASS_BAD_FIRST_BYTE) {
                /* Non-zero, yet below n's top byte, so that EM stays below n
                 * and only the padding is wrong. */
                mpz_init(x);
                mpz_tdiv_q_2exp(x, *(const mpz_t *) enc->n, 8 * (k - 1));
                top = (uint8_t) mpz_get_ui(x);
                mpz_clear(x);
                em[0] = random_byte_in(rng, 1, top - 1);
        }

        mpz_init(m);
        mpz_init(x);
        nettle_mpz_set_str_256_u(m, k, em);
        mpz_powm(x, m, *(const mpz_t *) enc->e, *(const mpz_t *) enc->n);
        nettle_mpz_get_str_256(k, ct, x);
        mpz_clear(m);
        mpz_clear(x);
}

void timing_shuffle_batch(const TimingOptions *o, struct knuth_lfib_ctx *rng, uint8_t *seq, size_t n) {
        size_t i = 0;

        while (i < n)
                for (int c = 0; c < _CLASS_MAX && i < n; c++)
                        if (o->classes[c])
                                seq[i++] = (uint8_t) c;
        /* Fisher-Yates; the slight modulo bias of 32 random bits is irrelevant here. */
        for (size_t j = n - 1; j > 0; j--) {
                uint32_t r;
                size_t t;
                uint8_t tmp;

                knuth_lfib_random(rng, sizeof(r), (uint8_t *) &r);
                t = r % (j + 1);
                tmp = seq[j];
                seq[j] = seq[t];
                seq[t] = tmp;
        }
}
