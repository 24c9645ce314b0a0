/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The decoder alone: rsa_oaep_decrypt_exact() with a fixed RSA-2048 key (made
 * from a fixed seed, so every run uses the same key), one call per
 * measurement, on this thread, as keyd's workers call it. */

#include <errno.h>
#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "secure-memory.h"
#include "timing.h"

#define KEY_BITS 2048
#define WARM_UP 2000

static void random_lfib(void *ctx, size_t n, uint8_t *dst) {
        knuth_lfib_random(ctx, n, dst);
}

typedef struct OaepKey {
        struct rsa_public_key pub;
        struct rsa_private_key priv;
} OaepKey;

/* A deliberate leak for --leak-ns: spin until ns have passed. */
static void spin_ns(uint64_t ns) {
        uint64_t until = timing_now_ns() + ns;

        while (timing_now_ns() < until)
                ;
}

static int make_key(OaepKey *key, uint64_t seed) {
        struct knuth_lfib_ctx rng;

        rsa_public_key_init(&key->pub);
        rsa_private_key_init(&key->priv);
        mpz_set_ui(key->pub.e, 65537);
        knuth_lfib_init(&rng, (uint32_t) seed);
        if (!rsa_generate_keypair(&key->pub, &key->priv, &rng, random_lfib, NULL, NULL, KEY_BITS, 0))
                return -EINVAL;
        return 0;
}

static int encoder_for(const OaepKey *key, OaepHash hash, OaepEncoder *enc) {
        uint8_t n[KEY_BITS / 8], e[4];

        nettle_mpz_get_str_256(sizeof(n), n, key->pub.n);
        nettle_mpz_get_str_256(sizeof(e), e, key->pub.e);
        return oaep_encoder_init(enc, hash, n, sizeof(n), e, sizeof(e));
}

int timing_run_oaep(const TimingOptions *o) {
        const OaepParams params = { .hash = o->hash, .mgf1_hash = o->hash };
        const size_t total = o->count * o->n_classes;
        struct knuth_lfib_ctx rng, blinding;
        Measurements m = {};
        OaepEncoder enc = {};
        OaepKey key;
        uint8_t *ct, *msgs, *seq, out[64];
        size_t batch = o->batch - o->batch % o->n_classes, done = 0, wrong = 0;
        uint64_t start;
        bool pass;
        int r;

        /* As in keyd: every bignum in locked memory. */
        secure_memory_install_gmp();
        r = make_key(&key, o->seed);
        if (r < 0) {
                fprintf(stderr, "keyd-timing: cannot make the RSA key\n");
                return EXIT_FAILURE;
        }
        r = encoder_for(&key, o->hash, &enc);
        if (r < 0)
                return EXIT_FAILURE;

        ct = malloc(batch * enc.k);
        msgs = malloc(batch * 16);
        seq = malloc(batch);
        if (!ct || !msgs || !seq)
                return EXIT_FAILURE;
        knuth_lfib_init(&rng, (uint32_t) (o->seed * 7919 + 1));
        knuth_lfib_init(&blinding, (uint32_t) (o->seed * 104729 + 2));

        if (o->leak_ns > 0)
                printf("keyd-timing oaep: WITH A DELIBERATE LEAK of %llu ns in every bad-first-byte call "
                       "(--leak-ns): this run must fail\n", (unsigned long long) o->leak_ns);
        printf("keyd-timing oaep: rsa_oaep_decrypt_exact (a 16-byte key, as keyd unwraps one), "
               "RSA-%d (fixed key from seed %llu), EME-OAEP %s with MGF1-%s, "
               "%zu measurements per class in random order, CLOCK_MONOTONIC_RAW\n",
               KEY_BITS, (unsigned long long) o->seed, oaep_hash_to_string(o->hash), oaep_hash_to_string(o->hash),
               o->count);
        fflush(stdout);

        /* Warm the caches and the branch predictors on all classes alike. */
        timing_shuffle_batch(o, &rng, seq, MIN(batch, (size_t) WARM_UP));
        for (size_t i = 0; i < MIN(batch, (size_t) WARM_UP); i++) {
                oaep_encode_class(&enc, seq[i], &rng, ct, msgs);
                (void) rsa_oaep_decrypt_exact(&key.pub, &key.priv, &params, &blinding, random_lfib, ct, enc.k,
                                              out, 16);
        }

        start = timing_now_ns();
        while (done < total) {
                size_t n = MIN(batch, total - done);

                /* Prepare, untimed; then time one call per input. */
                timing_shuffle_batch(o, &rng, seq, n);
                for (size_t i = 0; i < n; i++)
                        oaep_encode_class(&enc, seq[i], &rng, ct + i * enc.k, msgs + i * 16);
                for (size_t i = 0; i < n; i++) {
                        uint64_t t0, t1;

                        t0 = timing_now_ns();
                        r = rsa_oaep_decrypt_exact(&key.pub, &key.priv, &params, &blinding, random_lfib,
                                                   ct + i * enc.k, enc.k, out, 16);
                        if (o->leak_ns > 0 && seq[i] == CLASS_BAD_FIRST_BYTE)
                                spin_ns(o->leak_ns);
                        t1 = timing_now_ns();
                        samples_add(&m.cls[seq[i]], t1 - t0);

                        /* Each class must decode the way it was built. */
                        if (seq[i] == CLASS_VALID ? r != 0 || memcmp(out, msgs + i * 16, 16) != 0
                                                  : r != -EBADMSG)
                                wrong++;
                }
                done += n;
                fprintf(stderr, "\r%zu of %zu measurements, %.0f s", done, total,
                        (double) (timing_now_ns() - start) / 1e9);
        }
        fprintf(stderr, "\n");

        if (wrong > 0) {
                fprintf(stderr, "keyd-timing: %zu ciphertexts did not decode as their class says; the classes are "
                        "wrong, not the timing\n", wrong);
                return EXIT_FAILURE;
        }
        printf("%zu measurements in %.0f s\n", total, (double) (timing_now_ns() - start) / 1e9);
        pass = timing_report(o, &m);

        measurements_free(&m);
        oaep_encoder_done(&enc);
        free(ct);
        free(msgs);
        free(seq);
        rsa_private_key_clear(&key.priv);
        rsa_public_key_clear(&key.pub);
        return pass ? EXIT_SUCCESS : EXIT_FAILURE;
}
