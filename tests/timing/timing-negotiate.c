/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The whole path: keyd_negotiate_crypto_session_key_exchange() through
 * libkeyd, the bus, keyd's worker pool, the decoder and back, timed by the
 * caller. Several client threads (each its own connection and session)
 * keep keyd's workers busy; every thread interleaves the classes in its
 * own random order. keyd is the one on --address, or one started here on
 * a private dbus-daemon through the integration-test harness. */

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "keyd/keyd.h"
#include "macro.h"
#include "timing.h"

#define TIMEOUT_USEC (60ULL * 1000ULL * 1000ULL)

typedef struct Thread {
        const TimingOptions *o;
        const OaepEncoder *enc;
        const keyd_guid *exchange;
        const char *address;
        size_t per_class;
        unsigned index;
        Measurements m;
        size_t wrong;
        char first_invalid_message[512];
        bool messages_differ;
        char error[512];
        atomic_size_t *done;
        atomic_bool finished;
        pthread_t thread;
} Thread;

static const keyd_guid *exchange_for(OaepHash h) {
        switch (h) {
        case OAEP_HASH_SHA1:
                return &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1;
        case OAEP_HASH_SHA256:
                return &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256;
        default:
                return &KEYD_KEY_EXCHANGE_RSAES_OAEP;
        }
}

static HRESULT open_session(const char *address, const keyd_guid *exchange, keyd_client **ret_client,
                            keyd_crypto_session **ret_session) {
        HRESULT hr = keyd_client_open_address(address, ret_client);

        if (KEYD_SUCCEEDED(hr))
                hr = keyd_client_set_timeout(*ret_client, TIMEOUT_USEC);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_create_crypto_session(*ret_client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, exchange,
                                                ret_session);
        return hr;
}

/* The device's public key, from the certificate a session returns. */
static int device_public_key(keyd_crypto_session *s, OaepHash hash, OaepEncoder *enc) {
        gnutls_x509_crt_t crt = NULL;
        gnutls_datum_t der, n = {}, e = {};
        uint8_t *cert = NULL;
        uint32_t size = 0;
        int r = -1;

        if (KEYD_FAILED(keyd_crypto_session_get_certificate_size(s, &size)) || !(cert = malloc(size)) ||
            KEYD_FAILED(keyd_crypto_session_get_certificate(s, size, cert)))
                goto finish;
        der = (gnutls_datum_t) { .data = cert, .size = size };
        if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) < 0 ||
            gnutls_x509_crt_get_pk_rsa_raw(crt, &n, &e) < 0)
                goto finish;
        r = oaep_encoder_init(enc, hash, n.data, n.size, e.data, e.size);

finish:
        gnutls_free(n.data);
        gnutls_free(e.data);
        if (crt)
                gnutls_x509_crt_deinit(crt);
        free(cert);
        return r;
}

static void *thread_run(void *userdata) {
        Thread *t = userdata;
        const TimingOptions *o = t->o;
        const size_t k = t->enc->k, total = t->per_class * o->n_classes;
        size_t batch = o->batch - o->batch % o->n_classes;
        keyd_client *c = NULL;
        keyd_crypto_session *s = NULL;
        struct knuth_lfib_ctx rng;
        uint8_t *ct = malloc(batch * k), *seq = malloc(batch), msg[16], data[1024];
        HRESULT hr;

        if (!ct || !seq) {
                snprintf(t->error, sizeof(t->error), "out of memory");
                goto finish;
        }
        hr = open_session(t->address, t->exchange, &c, &s);
        if (KEYD_FAILED(hr)) {
                snprintf(t->error, sizeof(t->error), "cannot open a session: 0x%08X %s", (unsigned) hr,
                         keyd_last_error_message());
                goto finish;
        }
        knuth_lfib_init(&rng, (uint32_t) (o->seed * 31 + t->index));

        for (size_t done = 0; done < total;) {
                size_t n = MIN(batch, total - done);

                timing_shuffle_batch(o, &rng, seq, n);
                for (size_t i = 0; i < n; i++)
                        oaep_encode_class(t->enc, seq[i], &rng, ct + i * k, msg);
                for (size_t i = 0; i < n; i++) {
                        uint64_t t0, t1;

                        memcpy(data, ct + i * k, k);
                        t0 = timing_now_ns();
                        hr = keyd_negotiate_crypto_session_key_exchange(s, (uint32_t) k, data);
                        t1 = timing_now_ns();
                        samples_add(&t->m.cls[seq[i]], t1 - t0);

                        if (seq[i] == CLASS_VALID) {
                                if (hr != KEYD_S_OK)
                                        t->wrong++;
                        } else if (hr != KEYD_E_INVALIDARG)
                                t->wrong++;
                        else if (!t->first_invalid_message[0])
                                snprintf(t->first_invalid_message, sizeof(t->first_invalid_message), "%s",
                                         keyd_last_error_message());
                        else if (!streq(t->first_invalid_message, keyd_last_error_message()))
                                t->messages_differ = true;
                        atomic_fetch_add(t->done, 1);
                }
                done += n;
        }

finish:
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        free(ct);
        free(seq);
        atomic_store(&t->finished, true);
        return NULL;
}

static const char *start_private_keyd(const TimingOptions *o) {
        char workers[64];
        const char *args[] = { workers, NULL };

        snprintf(workers, sizeof(workers), "--workers=%u", o->workers);
        harness_init();
        harness_start_bus();
        if (harness_start_keyd(o->workers > 0 ? args : NULL) < 0)
                return NULL;
        return harness_bus_address();
}

int timing_run_negotiate(const TimingOptions *o) {
        const keyd_guid *exchange = exchange_for(o->hash);
        const char *address = o->address;
        Thread *threads = calloc(o->threads, sizeof(Thread));
        keyd_client *c = NULL;
        keyd_crypto_session *s = NULL;
        OaepEncoder enc = {};
        Measurements all = {};
        atomic_size_t done = 0;
        size_t total, wrong = 0;
        uint64_t start;
        bool pass, differ = false;
        int exit_code = EXIT_FAILURE;

        if (!threads)
                return EXIT_FAILURE;
        if (!address) {
                address = start_private_keyd(o);
                if (!address) {
                        fprintf(stderr, "keyd-timing: keyd did not start\n");
                        goto finish;
                }
        }
        if (KEYD_FAILED(open_session(address, exchange, &c, &s)) || device_public_key(s, o->hash, &enc) < 0) {
                fprintf(stderr, "keyd-timing: cannot read the device certificate from keyd at %s: %s\n", address,
                        keyd_last_error_message());
                goto finish;
        }

        printf("keyd-timing negotiate: NegotiateCryptoSessionKeyExchange through libkeyd to %s (%s), RSA-%zu, "
               "EME-OAEP %s, %u client threads, %zu measurements per class in random order, CLOCK_MONOTONIC_RAW\n",
               o->address ?: "a private keyd", o->address ? "given" : harness_binary("KEYD_BINARY"), enc.k * 8,
               oaep_hash_to_string(o->hash), o->threads, o->count);
        fflush(stdout);

        total = ((o->count + o->threads - 1) / o->threads) * o->threads * o->n_classes;
        start = timing_now_ns();
        for (unsigned i = 0; i < o->threads; i++) {
                threads[i] = (Thread) { .o = o, .enc = &enc, .exchange = exchange, .address = address, .index = i,
                                        .per_class = (o->count + o->threads - 1) / o->threads, .done = &done };
                if (pthread_create(&threads[i].thread, NULL, thread_run, &threads[i]) != 0)
                        goto finish;
        }
        for (;;) {
                bool all_ended = true;

                for (unsigned i = 0; i < o->threads; i++)
                        all_ended = all_ended && atomic_load(&threads[i].finished);
                if (all_ended)
                        break;
                fprintf(stderr, "\r%zu of %zu measurements, %.0f s", atomic_load(&done), total,
                        (double) (timing_now_ns() - start) / 1e9);
                (void) nanosleep(&(struct timespec) { .tv_sec = 1 }, NULL);
        }
        for (unsigned i = 0; i < o->threads; i++)
                pthread_join(threads[i].thread, NULL);
        fprintf(stderr, "\n");

        for (unsigned i = 0; i < o->threads; i++) {
                if (threads[i].error[0]) {
                        fprintf(stderr, "keyd-timing: thread %u: %s\n", i, threads[i].error);
                        goto finish;
                }
                measurements_merge(&all, &threads[i].m);
                wrong += threads[i].wrong;
                differ = differ || threads[i].messages_differ ||
                         (threads[i].first_invalid_message[0] &&
                          !streq(threads[i].first_invalid_message, threads[0].first_invalid_message));
        }
        printf("%zu measurements in %.0f s (%.0f/s)\n", total, (double) (timing_now_ns() - start) / 1e9,
               (double) total * 1e9 / (double) (timing_now_ns() - start));
        printf("every bad ciphertext: E_INVALIDARG, %s message: \"%s\"\n", differ ? "NOT ALWAYS THE SAME" : "the same",
               threads[0].first_invalid_message);
        if (wrong > 0) {
                fprintf(stderr, "keyd-timing: %zu calls did not answer as their class says\n", wrong);
                goto finish;
        }
        pass = timing_report(o, &all) && !differ;
        exit_code = pass ? EXIT_SUCCESS : EXIT_FAILURE;

finish:
        for (unsigned i = 0; i < o->threads; i++)
                measurements_free(&threads[i].m);
        free(threads);
        measurements_free(&all);
        oaep_encoder_done(&enc);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        if (!o->address)
                harness_cleanup();
        return exit_code;
}
