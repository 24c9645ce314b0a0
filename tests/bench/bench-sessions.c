/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Section 5: what a session costs. Create+close per second through
 * libkeyd, and keyd's resident memory with none and with many open (all on
 * one connection, which keyd-bench allows with --max-sessions-per-client). */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "macro.h"

static keyd_crypto_session *create_session(keyd_client *client) {
        keyd_crypto_session *s = NULL;

        bench_check_hr(keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                  &KEYD_KEY_EXCHANGE_RSAES_OAEP, &s),
                       "keyd_create_crypto_session");
        return s;
}

/* keyd learns of closes in call order, but give it a moment all the same. */
static bool wait_session_count(sd_bus *bus, uint32_t expected, uint32_t *ret_last) {
        uint64_t deadline = now_usec() + 10 * USEC_PER_SEC;

        for (;;) {
                *ret_last = bench_session_count(bus);
                if (*ret_last == expected)
                        return true;
                if (now_usec() >= deadline)
                        return false;
                sleep_usec(10 * 1000);
        }
}

void bench_sessions(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bench_bus_open(f->address);
        keyd_crypto_session **sessions;
        keyd_client *client = NULL;
        uint64_t start, deadline, n_pairs = 0;
        Interference other;
        uint32_t count;

        printf("5. Sessions (CreateCryptoSession + Close through libkeyd, one connection)\n");
        fflush(stdout);

        interference_start(&other);
        bench_check_hr(keyd_client_open_address(f->address, &client), "keyd_client_open_address");
        /* The client is known to keyd and the code paths are warm before the baseline. */
        keyd_crypto_session_release(create_session(client));
        if (!wait_session_count(bus, 0, &count))
                bench_die("SessionCount is %u before the session test, expected 0", count);
        res->rss_0_kib = proc_vmrss_kib(keyd_pid);

        sessions = calloc(o->n_sessions, sizeof(*sessions));
        if (!sessions)
                bench_die("out of memory");
        start = now_usec();
        for (unsigned i = 0; i < o->n_sessions; i++)
                sessions[i] = create_session(client);
        res->session_open_per_s = (double) o->n_sessions * USEC_PER_SEC / (double) (now_usec() - start);

        count = bench_session_count(bus);
        if (count != o->n_sessions)
                bench_die("SessionCount is %u with %u sessions open", count, o->n_sessions);
        res->n_sessions_opened = count;
        res->rss_n_kib = proc_vmrss_kib(keyd_pid);

        start = now_usec();
        for (unsigned i = 0; i < o->n_sessions; i++)
                keyd_crypto_session_release(sessions[i]);
        res->session_close_per_s = (double) o->n_sessions * USEC_PER_SEC / (double) (now_usec() - start);
        free(sessions);

        res->sessions_closed_cleanly = wait_session_count(bus, 0, &count);
        res->rss_after_kib = proc_vmrss_kib(keyd_pid);

        start = now_usec();
        deadline = start + (uint64_t) (o->seconds * USEC_PER_SEC);
        do {
                keyd_crypto_session_release(create_session(client));
                n_pairs++;
        } while (now_usec() < deadline);
        res->session_create_close_per_s = (double) n_pairs * USEC_PER_SEC / (double) (now_usec() - start);

        keyd_client_close(client);

        printf("   create+close:  %.0f /s   [other load %.0f%%]\n", res->session_create_close_per_s,
               100 * interference_stop(&other));
        printf("   %u sessions: opened at %.0f /s, closed at %.0f /s; SessionCount afterwards %u (%s)\n",
               o->n_sessions, res->session_open_per_s, res->session_close_per_s, count,
               res->sessions_closed_cleanly ? "clean" : "NOT back to 0");
        printf("   keyd VmRSS: %" PRIu64 " KiB with 0 sessions, %" PRIu64 " KiB with %u, %" PRIu64
               " KiB after closing them: %.0f bytes per session\n",
               res->rss_0_kib, res->rss_n_kib, o->n_sessions, res->rss_after_kib,
               ((double) res->rss_n_kib - (double) res->rss_0_kib) * 1024 / o->n_sessions);
}
