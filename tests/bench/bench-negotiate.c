/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Key exchanges end to end: NegotiateCryptoSessionKeyExchange through
 * libkeyd from several connections at once (section 2), a plain 256-byte
 * call for the cost of the bus alone, and one client's latency while
 * another floods keyd with calls (section 4). */

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "macro.h"

/* 2 per core for cores up to 2, 4, 8, 16 and 32 (the throughput target
 * allows at most 2 clients per core), and 64 and 256 for many clients. */
const unsigned bench_client_counts[N_CLIENT_COUNTS] = { 1, 2, 4, 8, 16, 32, 64, 256 };
const unsigned bench_raw_counts[N_RAW_COUNTS] = { 16, 64, 256 };

#define HW_PROTECTION_GUID "b1170d8a-628d-4da3-ad3b-82ddb08b4970"
#define RSAES_OAEP_GUID "c1949895-d72a-4a1d-8e5d-ed857d171520"

/* ---- section 2 ---- */

typedef struct NegotiateWorker {
        const BenchFixture *fixture;
        Samples latency;
} NegotiateWorker;

/* One keyd_client with one session per thread: one bus connection each. */
static void *negotiate_thread(void *userdata) {
        LoadThread *t = userdata;
        NegotiateWorker *w = t->arg;
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        uint8_t data[MODULUS_SIZE];

        bench_open_negotiated(w->fixture, &client, &session);

        load_thread_begin(t);
        while (!load_thread_should_stop(t)) {
                uint64_t start;

                memcpy(data, w->fixture->wrapped, sizeof(data));
                start = now_usec();
                bench_check_hr(keyd_negotiate_crypto_session_key_exchange(session, sizeof(data), data),
                               "keyd_negotiate_crypto_session_key_exchange");
                samples_add(&w->latency, (double) (now_usec() - start));
                t->ops++;
        }
        load_thread_end(t);

        keyd_crypto_session_release(session);
        keyd_client_close(client);
        return NULL;
}

/* The same with sd-bus alone: what a client that is not libkeyd costs keyd. */
static void *raw_negotiate_thread(void *userdata) {
        LoadThread *t = userdata;
        NegotiateWorker *w = t->arg;
        sd_bus *bus = bench_bus_open(w->fixture->address);
        char *path = bench_bus_create_session(bus, RSAES_OAEP_GUID);

        bench_bus_negotiate(bus, path, w->fixture);

        load_thread_begin(t);
        while (!load_thread_should_stop(t)) {
                uint64_t start = now_usec();

                bench_bus_negotiate(bus, path, w->fixture);
                samples_add(&w->latency, (double) (now_usec() - start));
                t->ops++;
        }
        load_thread_end(t);

        free(path);
        sd_bus_flush_close_unref(bus);
        return NULL;
}

static uint64_t self_cpu_usec(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                bench_die("getrusage: %m");
        return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
               (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

void bench_negotiate(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res) {
        pid_t bus_pid = find_child_named("dbus-daemon");

        if (bus_pid < 0)
                bench_die("cannot find the private dbus-daemon among our children");

        printf("2. NegotiateCryptoSessionKeyExchange through libkeyd, one connection and session per client thread\n");
        for (unsigned i = 0; i < N_CLIENT_COUNTS; i++) {
                unsigned n = bench_client_counts[i];
                LoadThread *threads = calloc(n, sizeof(LoadThread));
                NegotiateWorker *workers = calloc(n, sizeof(NegotiateWorker));
                Samples all = {};

                if (!threads || !workers)
                        bench_die("out of memory");
                for (unsigned k = 0; k < n; k++) {
                        workers[k].fixture = f;
                        threads[k].arg = &workers[k];
                }

                uint64_t keyd_cpu = proc_cpu_usec(keyd_pid), bus_cpu = proc_cpu_usec(bus_pid),
                         self_cpu = self_cpu_usec(), ops = 0;
                Interference other;
                double other_share;

                interference_start(&other);

                /* The CPU figures include the threads' setup; over a few
                 * thousand calls that is noise. */
                res->negotiate_per_s[i] = load_run(n, negotiate_thread, threads, o->seconds);
                other_share = interference_stop(&other);
                for (unsigned k = 0; k < n; k++)
                        ops += threads[k].ops;
                res->cpu_keyd_us[i] = (double) (proc_cpu_usec(keyd_pid) - keyd_cpu) / (double) ops;
                res->cpu_bus_us[i] = (double) (proc_cpu_usec(bus_pid) - bus_cpu) / (double) ops;
                res->cpu_client_us[i] = (double) (self_cpu_usec() - self_cpu) / (double) ops;

                for (unsigned k = 0; k < n; k++) {
                        samples_merge(&all, &workers[k].latency);
                        samples_free(&workers[k].latency);
                }
                res->negotiate_latency[i] = samples_latency(&all);
                printf("   %2u client(s): %7.0f /s   latency p50 %7.0f us  p99 %7.0f us  max %7.0f us  (%zu calls)\n"
                       "                 CPU per call: keyd %.0f us, dbus-daemon %.0f us, clients %.0f us   "
                       "[other load %.0f%%]\n",
                       n, res->negotiate_per_s[i], res->negotiate_latency[i].p50_us,
                       res->negotiate_latency[i].p99_us, res->negotiate_latency[i].max_us,
                       res->negotiate_latency[i].n, res->cpu_keyd_us[i], res->cpu_bus_us[i],
                       res->cpu_client_us[i], 100 * other_share);
                fflush(stdout);
                samples_free(&all);
                free(workers);
                free(threads);
        }

        for (unsigned i = 0; i < N_RAW_COUNTS; i++) {
                unsigned n = bench_raw_counts[i];
                LoadThread *threads = calloc(n, sizeof(LoadThread));
                NegotiateWorker *workers = calloc(n, sizeof(NegotiateWorker));
                uint64_t keyd_cpu = proc_cpu_usec(keyd_pid), ops = 0;
                Samples all = {};
                Interference other;

                if (!threads || !workers)
                        bench_die("out of memory");
                for (unsigned k = 0; k < n; k++) {
                        workers[k].fixture = f;
                        threads[k].arg = &workers[k];
                }
                interference_start(&other);
                res->raw_per_s[i] = load_run(n, raw_negotiate_thread, threads, o->seconds);
                for (unsigned k = 0; k < n; k++) {
                        ops += threads[k].ops;
                        samples_merge(&all, &workers[k].latency);
                        samples_free(&workers[k].latency);
                }
                res->raw_cpu_keyd_us[i] = (double) (proc_cpu_usec(keyd_pid) - keyd_cpu) / (double) MAX(ops, (uint64_t) 1);
                res->raw_latency[i] = samples_latency(&all);
                printf("   %3u raw sd-bus client(s): %7.0f /s   latency p50 %7.0f us  p99 %7.0f us  (%zu calls); keyd "
                       "CPU per call %.0f us   [other load %.0f%%]\n",
                       n, res->raw_per_s[i], res->raw_latency[i].p50_us, res->raw_latency[i].p99_us,
                       res->raw_latency[i].n, res->raw_cpu_keyd_us[i], 100 * interference_stop(&other));
                samples_free(&all);
                free(workers);
                free(threads);
        }
}

double bench_negotiate_rate(const BenchFixture *f, unsigned n, double seconds, pid_t keyd_pid,
                            double *ret_keyd_cpu_us) {
        LoadThread *threads = calloc(n, sizeof(LoadThread));
        NegotiateWorker *workers = calloc(n, sizeof(NegotiateWorker));
        uint64_t keyd_cpu = proc_cpu_usec(keyd_pid), ops = 0;
        double rate;

        if (!threads || !workers)
                bench_die("out of memory");
        for (unsigned k = 0; k < n; k++) {
                workers[k].fixture = f;
                threads[k].arg = &workers[k];
        }
        rate = load_run(n, negotiate_thread, threads, seconds);
        for (unsigned k = 0; k < n; k++) {
                ops += threads[k].ops;
                samples_free(&workers[k].latency);
        }
        *ret_keyd_cpu_us = (double) (proc_cpu_usec(keyd_pid) - keyd_cpu) / (double) MAX(ops, (uint64_t) 1);
        free(workers);
        free(threads);
        return rate;
}

/* ---- the bus alone ---- */

/* ExecuteHWProtectionFunction's pass-through (function 1) on a HW_PROTECTION
 * session: 256 bytes to keyd and the same 256 back, through dbus-daemon,
 * with no crypto -- the "one bus round trip" of the p50 target. */
void bench_bus_round_trip(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bench_bus_open(f->address);
        _cleanup_free_ char *path = bench_bus_create_session(bus, HW_PROTECTION_GUID);
        pid_t bus_pid = find_child_named("dbus-daemon");
        uint8_t payload[MODULUS_SIZE];
        uint64_t deadline, keyd_cpu, bus_cpu;
        Interference other;
        Samples samples = {};
        int r;

        random_fill(payload, sizeof(payload));
        interference_start(&other);
        keyd_cpu = proc_cpu_usec(keyd_pid);
        bus_cpu = proc_cpu_usec(bus_pid);
        deadline = now_usec() + (uint64_t) (o->seconds / 2 * USEC_PER_SEC);
        do {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
                const void *out;
                size_t out_size;
                uint64_t start;

                start = now_usec();
                r = sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                   "ExecuteHWProtectionFunction");
                if (r >= 0)
                        r = sd_bus_message_append(m, "uu", 1u, 0u);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', payload, sizeof(payload));
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", (uint32_t) sizeof(payload));
                if (r < 0)
                        bench_die("cannot build ExecuteHWProtectionFunction: %s", strerror(-r));
                r = sd_bus_call(bus, m, 0, &error, &reply);
                if (r < 0)
                        bench_die("ExecuteHWProtectionFunction: %s", error.message ?: strerror(-r));
                r = sd_bus_message_skip(reply, "uut");
                if (r >= 0)
                        r = sd_bus_message_read_array(reply, 'y', &out, &out_size);
                if (r < 0 || out_size != sizeof(payload) || memcmp(out, payload, out_size) != 0)
                        bench_die("ExecuteHWProtectionFunction pass-through did not return its input");
                samples_add(&samples, (double) (now_usec() - start));
        } while (now_usec() < deadline);

        res->rtt_cpu_keyd_us = (double) (proc_cpu_usec(keyd_pid) - keyd_cpu) / (double) samples.n;
        res->rtt_cpu_bus_us = (double) (proc_cpu_usec(bus_pid) - bus_cpu) / (double) samples.n;
        res->bus_rtt = samples_latency(&samples);
        samples_free(&samples);
        printf("   bus round trip (256 bytes each way, ExecuteHWProtectionFunction pass-through, raw sd-bus): "
               "p50 %.0f us  p99 %.0f us\n"
               "                 CPU per call: keyd %.0f us, dbus-daemon %.0f us   [other load %.0f%%]\n",
               res->bus_rtt.p50_us, res->bus_rtt.p99_us, res->rtt_cpu_keyd_us, res->rtt_cpu_bus_us,
               100 * interference_stop(&other));
}

/* ---- section 4 ---- */

typedef struct Flooder {
        const BenchFixture *fixture;
        unsigned depth;
        sd_bus *bus;                   /* the flooder thread's own */
        char *path;
        unsigned in_flight;
        atomic_bool ready;             /* depth calls are in flight */
        atomic_bool stop;
        atomic_uint_fast64_t done;     /* successful replies */
        uint64_t errors;
        char first_error[256];
} Flooder;

static void flood_send(Flooder *fl);

static int flood_on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Flooder *fl = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        fl->in_flight--;
        if (e) {
                if (fl->errors++ == 0)
                        snprintf(fl->first_error, sizeof(fl->first_error), "%s: %s", e->name,
                                 e->message ?: "");
        } else
                atomic_fetch_add(&fl->done, 1);
        if (!atomic_load(&fl->stop))
                flood_send(fl);
        return 0;
}

static void flood_send(Flooder *fl) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(fl->bus, &m, KEYD_BUS_NAME, fl->path, KEYD_SESSION_INTERFACE,
                                           "NegotiateCryptoSessionKeyExchange");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', fl->fixture->wrapped, MODULUS_SIZE);
        /* A floating slot: the reply callback runs once and frees it. */
        if (r >= 0)
                r = sd_bus_call_async(fl->bus, NULL, m, flood_on_reply, fl, 0);
        if (r < 0)
                bench_die("flooder: cannot send a key exchange: %s", strerror(-r));
        fl->in_flight++;
}

/* Keeps depth key exchanges in flight on one connection until told to stop. */
static void *flood_thread(void *userdata) {
        Flooder *fl = userdata;

        fl->bus = bench_bus_open(fl->fixture->address);
        fl->path = bench_bus_create_session(fl->bus, RSAES_OAEP_GUID);
        bench_bus_negotiate(fl->bus, fl->path, fl->fixture);

        for (unsigned i = 0; i < fl->depth; i++)
                flood_send(fl);
        atomic_store(&fl->ready, true);

        while (!atomic_load(&fl->stop) || fl->in_flight > 0) {
                int r = sd_bus_process(fl->bus, NULL);
                if (r < 0)
                        bench_die("flooder: sd_bus_process: %s", strerror(-r));
                if (r == 0)
                        (void) sd_bus_wait(fl->bus, 100 * 1000);
        }

        free(fl->path);
        fl->bus = sd_bus_flush_close_unref(fl->bus);
        return NULL;
}

/* One negotiation at a time on session, for seconds. */
static double measure_client(keyd_crypto_session *session, const BenchFixture *f, double seconds,
                             Latency *ret) {
        uint8_t data[MODULUS_SIZE];
        uint64_t start_all = now_usec(), deadline = start_all + (uint64_t) (seconds * USEC_PER_SEC);
        Samples samples = {};
        double rate;

        do {
                uint64_t start;

                memcpy(data, f->wrapped, sizeof(data));
                start = now_usec();
                bench_check_hr(keyd_negotiate_crypto_session_key_exchange(session, sizeof(data), data),
                               "keyd_negotiate_crypto_session_key_exchange");
                samples_add(&samples, (double) (now_usec() - start));
        } while (now_usec() < deadline);

        rate = (double) samples.n * USEC_PER_SEC / (double) (now_usec() - start_all);
        *ret = samples_latency(&samples);
        samples_free(&samples);
        return rate;
}

void bench_flood(const BenchOptions *o, const BenchFixture *f, BenchResults *res) {
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        Flooder fl = { .fixture = f, .depth = o->flood_depth };
        Interference other_alone, other_flooded;
        double share_alone, share_flooded;
        pthread_t tid;
        uint64_t done_start, start;

        printf("4. One client negotiating (one call at a time) alone, then while another connection keeps %u "
               "key exchanges in flight\n",
               o->flood_depth);
        fflush(stdout);

        bench_open_negotiated(f, &client, &session);
        interference_start(&other_alone);
        res->alone_per_s = measure_client(session, f, o->seconds, &res->alone);
        share_alone = interference_stop(&other_alone);

        atomic_init(&fl.ready, false);
        atomic_init(&fl.stop, false);
        atomic_init(&fl.done, 0);
        if (pthread_create(&tid, NULL, flood_thread, &fl) != 0)
                bench_die("cannot start the flooder thread");
        while (!atomic_load(&fl.ready))
                sleep_usec(1000);
        sleep_usec(200 * 1000);  /* let its queue fill */

        done_start = atomic_load(&fl.done);
        start = now_usec();
        interference_start(&other_flooded);
        res->flooded_client_per_s = measure_client(session, f, o->seconds, &res->flooded);
        share_flooded = interference_stop(&other_flooded);
        res->flooder_per_s = (double) (atomic_load(&fl.done) - done_start) * USEC_PER_SEC /
                             (double) (now_usec() - start);

        atomic_store(&fl.stop, true);
        pthread_join(tid, NULL);
        if (fl.errors > 0)
                printf("   note: the flooder got %" PRIu64 " error replies, the first: %s\n", fl.errors,
                       fl.first_error);

        printf("   alone:    p50 %7.0f us  p99 %7.0f us  max %7.0f us  (%zu calls, %.0f /s)   [other load %.0f%%]\n",
               res->alone.p50_us, res->alone.p99_us, res->alone.max_us, res->alone.n, res->alone_per_s,
               100 * share_alone);
        printf("   flooded:  p50 %7.0f us  p99 %7.0f us  max %7.0f us  (%zu calls, %.0f /s; flooder %.0f /s)   "
               "[other load %.0f%%]\n",
               res->flooded.p50_us, res->flooded.p99_us, res->flooded.max_us, res->flooded.n,
               res->flooded_client_per_s, res->flooder_per_s, 100 * share_flooded);

        keyd_crypto_session_release(session);
        keyd_client_close(client);
}
