/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* keyd-timing: a dudect-style test (Reparaz, Balasch, Verbauwhede, "Dude,
 * is my code constant time?", 2017) of the RSAES-OAEP decoder and of the
 * whole NegotiateCryptoSessionKeyExchange path. Ciphertexts of several
 * classes (valid, bad padding at the first byte, bad padding deep in the
 * data block, ...) are timed in random interleaved order; Welch's t-test
 * on each pair of classes, on the raw times and on times cropped at a
 * series of percentiles, says whether their timing differs. |t| >= 4.5
 * means it does. */

#include <nettle/knuth-lfib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "rsa-oaep.h"

typedef enum TimingClass {
        CLASS_VALID,            /* a well-formed encoding of a 16-byte key */
        CLASS_BAD_FIRST_BYTE,   /* EM's first byte Y is not zero */
        CLASS_BAD_PS,           /* a 0x02 in PS, just before the 0x01 separator: deep in DB */
        CLASS_NO_SEPARATOR,     /* the 0x01 separator is missing */
        CLASS_BAD_LHASH,        /* lHash' differs in its last byte */
        _CLASS_MAX,
} TimingClass;

const char *timing_class_name(TimingClass c);
const char *timing_class_description(TimingClass c);
int timing_class_from_string(const char *s);

typedef struct TimingOptions {
        const char *mode;               /* "oaep" or "negotiate" */
        size_t count;                   /* measurements per class */
        unsigned threads;               /* negotiate: client threads */
        unsigned workers;               /* negotiate: keyd --workers= of a keyd we start */
        OaepHash hash;
        const char *address;            /* negotiate: a running keyd's bus; NULL = start our own */
        bool classes[_CLASS_MAX];
        unsigned n_classes;
        uint64_t seed;
        size_t batch;                   /* measurements prepared at a time */
        double threshold;               /* |t| at or above which a pair fails */
        uint64_t leak_ns;               /* oaep: busy-wait this long inside bad-first-byte's timed
                                         * calls, to show the test catches such a leak */
} TimingOptions;

/* Per class, every measurement in nanoseconds. */
typedef struct Samples {
        uint64_t *v;
        size_t n, allocated;
} Samples;

typedef struct Measurements {
        Samples cls[_CLASS_MAX];
} Measurements;

void samples_add(Samples *s, uint64_t ns);
void measurements_merge(Measurements *into, const Measurements *from);
void measurements_free(Measurements *m);

/* Print the statistics and the t value of every pair; true when every
 * pair passes. */
bool timing_report(const TimingOptions *o, const Measurements *m);

/* ---- the inputs ---- */

typedef struct OaepEncoder {
        size_t k;                       /* modulus bytes */
        OaepHash hash;
        void *n, *e;                    /* mpz_t, opaque here */
} OaepEncoder;

/* An encoder for the public key (big-endian n and e). */
int oaep_encoder_init(OaepEncoder *enc, OaepHash hash, const uint8_t *n, size_t n_size, const uint8_t *e,
                      size_t e_size);
void oaep_encoder_done(OaepEncoder *enc);
/* A fresh ciphertext of class c (enc->k bytes) and, for CLASS_VALID, the
 * 16-byte message it holds. */
void oaep_encode_class(const OaepEncoder *enc, TimingClass c, struct knuth_lfib_ctx *rng, uint8_t *ct,
                       uint8_t msg[16]);

/* A random order of o->count measurements of each selected class, in
 * batches: fills seq with n class numbers, as many of each as possible. */
void timing_shuffle_batch(const TimingOptions *o, struct knuth_lfib_ctx *rng, uint8_t *seq, size_t n);

static inline uint64_t timing_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* The two modes; return the process exit code. */
int timing_run_oaep(const TimingOptions *o);
int timing_run_negotiate(const TimingOptions *o);
