/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The limits keyd is measured against, in this process, with no bus:
 * RSAES-OAEP decryption with the daemon's own code (device-key.c on
 * rsa-oaep.c, GMP in locked memory as in keyd), and AES-128-CTR. */

#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aes-ctr.h"
#include "bench.h"
#include "device-key.h"
#include "macro.h"
#include "rsa-oaep.h"

/* D3D11_KEY_EXCHANGE_RSAES_OAEP: SHA-512 and MGF1-SHA-512, empty label. */
static const OaepParams oaep_sha512 = { OAEP_HASH_SHA512, OAEP_HASH_SHA512, NULL, 0 };

typedef struct OaepWorker {
        DeviceKey *key;
        const uint8_t *ciphertext;
        const uint8_t *expected;
        bool record;
        Samples latency;
        uint64_t cpu_usec;       /* the thread's CPU time over its operations */
} OaepWorker;

static uint64_t thread_cpu_usec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                bench_die("clock_gettime(CLOCK_THREAD_CPUTIME_ID): %m");
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void *oaep_thread(void *userdata) {
        LoadThread *t = userdata;
        OaepWorker *w = t->arg;
        uint8_t msg[SESSION_KEY_SIZE];
        size_t size;
        int r;

        load_thread_begin(t);
        w->cpu_usec = thread_cpu_usec();
        while (!load_thread_should_stop(t)) {
                uint64_t start = now_usec();

                r = device_key_oaep_decrypt(w->key, &oaep_sha512, w->ciphertext, MODULUS_SIZE, msg, sizeof(msg),
                                            &size);
                if (r < 0 || size != SESSION_KEY_SIZE || memcmp(msg, w->expected, SESSION_KEY_SIZE) != 0)
                        bench_die("in-process OAEP decryption failed (%s)", r < 0 ? strerror(-r) : "wrong key");
                if (w->record)
                        samples_add(&w->latency, (double) (now_usec() - start));
                t->ops++;
        }
        w->cpu_usec = thread_cpu_usec() - w->cpu_usec;
        load_thread_end(t);
        return NULL;
}

static double oaep_rate(DeviceKey *key, const uint8_t *ct, const uint8_t *expected, unsigned n_threads,
                        double seconds, Latency *ret_latency, double *ret_cpu_us) {
        LoadThread *threads = calloc(n_threads, sizeof(LoadThread));
        OaepWorker *workers = calloc(n_threads, sizeof(OaepWorker));
        double rate;

        if (!threads || !workers)
                bench_die("out of memory");
        for (unsigned i = 0; i < n_threads; i++) {
                workers[i] = (OaepWorker) { .key = key, .ciphertext = ct, .expected = expected,
                                            .record = ret_latency != NULL };
                threads[i].arg = &workers[i];
        }

        rate = load_run(n_threads, oaep_thread, threads, seconds);

        if (ret_latency)
                *ret_latency = samples_latency(&workers[0].latency);
        if (ret_cpu_us)
                *ret_cpu_us = (double) workers[0].cpu_usec / (double) MAX(threads[0].ops, (uint64_t) 1);
        for (unsigned i = 0; i < n_threads; i++)
                samples_free(&workers[i].latency);
        free(workers);
        free(threads);
        return rate;
}

static struct {
        DeviceKey *key;
        uint8_t session_key[SESSION_KEY_SIZE];
        uint8_t ciphertext[MODULUS_SIZE];
} oaep;

static void oaep_free(void) {
        oaep.key = device_key_free(oaep.key);
}

void bench_local_oaep_setup(const char *state_dir) {
        _cleanup_free_ char *message = NULL;
        int r;

        /* The same function keyd's software backend calls at start: here it
         * makes the key, so every keyd of this run starts with an existing one. */
        r = device_key_load_or_create(state_dir, 2048, &oaep.key, &message);
        if (r < 0)
                bench_die("cannot make the device key in %s: %s", state_dir, message ?: strerror(-r));
        if (oaep.key->pub.size != MODULUS_SIZE)
                bench_die("the device key is %zu bytes, expected %u", oaep.key->pub.size, MODULUS_SIZE);
        (void) atexit(oaep_free);

        random_fill(oaep.session_key, sizeof(oaep.session_key));
        r = rsa_oaep_encrypt(&oaep.key->pub, &oaep_sha512, NULL, device_key_random, oaep.session_key,
                             sizeof(oaep.session_key), oaep.ciphertext, sizeof(oaep.ciphertext));
        if (r < 0)
                bench_die("rsa_oaep_encrypt: %s", strerror(-r));
}

/* On a shared machine other load comes and goes, so the limit is measured
 * more than once and the best seen is kept: the highest rate and the
 * lowest latency, which makes the ratios to keyd's figures stricter. */
void bench_local_oaep(const BenchOptions *o, const char *when, BenchResults *res) {
        Interference other;
        Latency one;
        double rate_1, rate_n, cpu_1;

        interference_start(&other);
        rate_1 = oaep_rate(oaep.key, oaep.ciphertext, oaep.session_key, 1, o->seconds, &one, &cpu_1);
        rate_n = oaep_rate(oaep.key, oaep.ciphertext, oaep.session_key, res->ncpu, o->seconds, NULL, NULL);
        printf("   %s: 1 thread %5.0f /s (one decryption p50 %.0f us, p99 %.0f us, CPU %.0f us), %u threads %5.0f /s"
               "   [other load %.0f%%]\n",
               when, rate_1, one.p50_us, one.p99_us, cpu_1, res->ncpu, rate_n, 100 * interference_stop(&other));

        /* CPU time per decryption barely moves with other load: the
         * baseline of keyd's CPU per exchange. */
        if (res->oaep_1t_cpu_us == 0 || cpu_1 < res->oaep_1t_cpu_us)
                res->oaep_1t_cpu_us = cpu_1;

        if (rate_1 > res->oaep_1t_per_s)
                res->oaep_1t_per_s = rate_1;
        if (res->oaep_1t.n == 0 || one.p50_us < res->oaep_1t.p50_us)
                res->oaep_1t = one;
        if (rate_n > res->oaep_nt_per_s)
                res->oaep_nt_per_s = rate_n;
}

double bench_local_oaep_rate(unsigned n_threads, double seconds) {
        return oaep_rate(oaep.key, oaep.ciphertext, oaep.session_key, n_threads, seconds, NULL, NULL);
}

/* ---- AES-128-CTR ---- */

typedef void (*CtrFunc)(const uint8_t key[16], const uint8_t iv[16], uint8_t *dst, const uint8_t *src, size_t n);

/* nettle's ctr_crypt over its AES-128 (AES-NI where the CPU has it). */
static void ctr_nettle(const uint8_t key[16], const uint8_t iv[16], uint8_t *dst, const uint8_t *src, size_t n) {
        struct aes128_ctx ctx;
        uint8_t counter[AES_BLOCK_SIZE];

        aes128_set_encrypt_key(&ctx, key);
        memcpy(counter, iv, sizeof(counter));
        ctr_crypt(&ctx, (nettle_cipher_func *) aes128_encrypt, AES_BLOCK_SIZE, counter, n, dst, src);
}

/* keyd's own (common/aes-ctr.c, D3D11's counter block), as the daemon runs it. */
static void ctr_keyd(const uint8_t key[16], const uint8_t iv[16], uint8_t *dst, const uint8_t *src, size_t n) {
        AesCtr c;

        aes_ctr_init(&c, key, iv);
        aes_ctr_xor(&c, dst, src, n);
        aes_ctr_done(&c);
}

/* MB/s over wall-clock time; *ret_cpu_mb_s over this thread's CPU time. */
static double ctr_rate(CtrFunc f, const uint8_t *key, const uint8_t *iv, uint8_t *dst, const uint8_t *src,
                       size_t size, double seconds, double *ret_cpu_mb_s) {
        uint64_t start, start_cpu, elapsed, deadline;
        uint64_t n = 0;

        f(key, iv, dst, src, size);  /* fault in dst */
        start = now_usec();
        start_cpu = thread_cpu_usec();
        deadline = start + (uint64_t) (seconds * USEC_PER_SEC);
        do {
                f(key, iv, dst, src, size);
                n++;
        } while (now_usec() < deadline);
        elapsed = now_usec() - start;
        *ret_cpu_mb_s = (double) n * (double) size / (double) MAX(thread_cpu_usec() - start_cpu, (uint64_t) 1);
        return (double) n * (double) size / (double) elapsed;  /* bytes/us = MB/s */
}

/* In-process nettle and keyd AES-128-CTR over size bytes; keeps the best
 * nettle rate seen in res (see bench_local_oaep()). */
void bench_local_aes_size(const BenchOptions *o, unsigned i, BenchResults *res, double *ret_nettle,
                          double *ret_keyd) {
        size_t size = bench_blt_sizes[i];
        _cleanup_free_ uint8_t *src = xmalloc(size), *dst = xmalloc(size);
        uint8_t key[16], iv[16];
        double each = o->seconds / 4, nettle_cpu, keyd_cpu;

        random_fill(key, sizeof(key));
        random_fill(iv, 8);
        memset(iv + 8, 0, 8);
        random_fill(src, size);

        *ret_nettle = ctr_rate(ctr_nettle, key, iv, dst, src, size, each, &nettle_cpu);
        *ret_keyd = ctr_rate(ctr_keyd, key, iv, dst, src, size, each, &keyd_cpu);
        if (*ret_nettle > res->aes_nettle_mb_s[i])
                res->aes_nettle_mb_s[i] = *ret_nettle;
        if (nettle_cpu > res->aes_nettle_cpu_mb_s[i])
                res->aes_nettle_cpu_mb_s[i] = nettle_cpu;
        if (*ret_keyd > res->aes_keyd_mb_s[i])
                res->aes_keyd_mb_s[i] = *ret_keyd;
}

void bench_local_aes(const BenchOptions *o, BenchResults *res) {
        printf("6a. In-process AES-128-CTR, one core (MB/s = 10^6 bytes/s)\n");
        for (unsigned i = 0; i < N_BLT_SIZES; i++) {
                Interference other;
                double nettle, keyd;

                interference_start(&other);
                bench_local_aes_size(o, i, res, &nettle, &keyd);
                printf("   %5zu KiB:  nettle ctr_crypt %8.0f MB/s   keyd aes_ctr_xor %8.0f MB/s   [other load %.0f%%]\n",
                       bench_blt_sizes[i] / 1024, nettle, keyd, 100 * interference_stop(&other));
        }
}
