/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The bus-level fuzz client: random calls to a real keyd over a private
 * dbus-daemon (the integration harness), for a bounded number of calls and
 * time, from several connections at once.
 *
 * Calls are built by bus-message-builder.c from a seeded PRNG: keyd's
 * methods with their own signatures and values that are mostly right,
 * mutated signatures (fds where bytes are expected and the reverse, missing
 * and extra arguments), unknown members and interfaces, byte arrays from
 * empty to just over the 16 MiB limit, and object paths of the connection's
 * own sessions, of other connections' sessions and of none. Some key
 * exchanges carry a correctly wrapped key, so the data path is reached.
 * Connections are closed at random moments, calls in flight or not, and
 * replaced by new ones.
 *
 * Checked throughout: every keyd error follows the contract's "0xHRESULT:
 * sentence" form. Checked at the end: keyd still answers (and serves a
 * whole session: create, negotiate, status, close), SessionCount returns to
 * 0 once every connection is gone, and keyd's VmRSS is back near where it
 * started (see check_memory() for the bound), then keyd exits cleanly on
 * SIGTERM.
 *
 * KEYD_FUZZ_SECONDS (default 20), KEYD_FUZZ_CALLS (default 100000),
 * KEYD_FUZZ_HUGE (messages over 16 MiB, default 6: enough to hit the limit
 * without spending the run on copying) and KEYD_FUZZ_SEED (default: from the
 * clock; printed, to replay a run). */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus-message-builder.h"
#include "harness.h"
#include "keyd/keyd.h"
#include "macro.h"

#define N_CONNECTIONS 4
#define MAX_IN_FLIGHT 8           /* calls waiting for a reply, per connection */
#define MAX_PATHS 64
#define USEC_PER_SEC 1000000ULL
/* Memory: after the first half and at the end, with no connection open. */
#define RSS_GROWTH_SECOND_HALF_KB (4 * 1024)
#define RSS_GROWTH_TOTAL_KB (48 * 1024)

typedef struct Connection Connection;

typedef struct Fuzz {
        uint64_t rng;
        Connection *connections[N_CONNECTIONS];
        /* Session paths seen so far, of every connection (others' sessions
         * are as good a target as one's own). */
        char *paths[MAX_PATHS];
        size_t n_paths;
        uint8_t *certificate;
        size_t certificate_size;
        unsigned huge_sent, max_huge;   /* messages over 16 MiB */
        /* Figures for the log. */
        uint64_t calls, replies, errors, keyd_errors, closes, sessions_created;
        bool failed;
} Fuzz;

struct Connection {
        Fuzz *fuzz;
        sd_bus *bus;
        unsigned in_flight;
};

typedef struct Call {
        Connection *connection;
        bool is_create;
        bool wants_certificate;
} Call;

static Fuzz F;

/* ---- randomness: splitmix64, seeded, so that a run can be replayed ---- */

static uint64_t next_random(void) {
        uint64_t z = (F.rng += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static void fill_random(void *userdata, void *buf, size_t n) {
        uint8_t *p = buf;

        for (size_t i = 0; i < n; i += 8) {
                uint64_t v = next_random();
                memcpy(p + i, &v, n - i < 8 ? n - i : 8);
        }
}

static unsigned random_below(unsigned n) {
        return (unsigned) (next_random() % n);
}

static const ByteSource source = { fill_random, NULL };

/* ---- replies ---- */

static void remember_path(const char *path) {
        if (F.n_paths < MAX_PATHS) {
                F.paths[F.n_paths++] = strdup(path);
                return;
        }
        /* Full: replace one, so paths of later sessions still get in. */
        size_t i = random_below(MAX_PATHS);
        free(F.paths[i]);
        F.paths[i] = strdup(path);
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Call *call = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *path;
        const void *cert;
        size_t size;

        if (call->connection)
                call->connection->in_flight--;
        F.replies++;

        if (e) {
                F.errors++;
                if (strncmp(e->name, "org.keyd.", 9) == 0)
                        F.keyd_errors++;
                if (!builder_error_is_well_formed(e))
                        F.failed = true;
        } else if (call->is_create && sd_bus_message_read(reply, "o", &path) > 0) {
                F.sessions_created++;
                remember_path(path);
        } else if (call->wants_certificate && !F.certificate &&
                   sd_bus_message_read_array(reply, 'y', &cert, &size) >= 0 && size > 0) {
                F.certificate = malloc(size);
                if (F.certificate) {
                        memcpy(F.certificate, cert, size);
                        F.certificate_size = size;
                }
        }
        return 0;
}

/* The slot's userdata is freed with the slot, whether the reply came or the
 * connection was closed first. */
static void call_destroy(void *userdata) {
        free(userdata);
}

static int send_call(Connection *c, sd_bus_message *m, bool is_create, bool wants_certificate) {
        sd_bus_slot *slot = NULL;
        Call *call;
        int r;

        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (Call) { .connection = c, .is_create = is_create, .wants_certificate = wants_certificate };

        r = sd_bus_call_async(c->bus, &slot, m, on_reply, call, 30 * USEC_PER_SEC);
        if (r < 0) {
                free(call);
                return r;
        }
        (void) sd_bus_slot_set_destroy_callback(slot, call_destroy);
        (void) sd_bus_slot_set_floating(slot, true);
        sd_bus_slot_unref(slot);
        c->in_flight++;
        F.calls++;
        return 0;
}

/* ---- connections ---- */

static Connection *connection_open(void) {
        Connection *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                abort();
        c->fuzz = &F;
        r = harness_open_bus(&c->bus);
        if (r < 0) {
                fprintf(stderr, "bus-fuzz-client: cannot connect to the bus: %s\n", strerror(-r));
                abort();
        }
        return c;
}

/* Closed at a random moment: calls may be in flight, keyd may be in the
 * middle of a key exchange for it. */
static void connection_close(Connection *c) {
        sd_bus_close(c->bus);
        /* Replies that will never come: their callbacks must not touch c. */
        c->bus = sd_bus_flush_close_unref(c->bus);
        free(c);
        F.closes++;
}

/* ---- what to send ---- */

static void send_random_call(Connection *c) {
        BuilderConfig config = {
                .paths = (const char *const *) F.paths,
                .n_paths = F.n_paths,
                .allow_huge = F.huge_sent < F.max_huge,
        };
        BuiltCall call;
        int r;

        r = builder_new_call(c->bus, KEYD_BUS_NAME, &source, &config, &call);
        if (r < 0 || !call.message)
                return;
        if (call.huge)
                F.huge_sent++;
        (void) send_call(c, call.message,
                         call.is_create,
                         call.member && strcmp(call.member, "GetCertificate") == 0);
        sd_bus_message_unref(call.message);
}

static void send_create(Connection *c) {
        static const char *const exchanges[] = {
                "c1949895-d72a-4a1d-8e5d-ed857d171520",
                "b0a11c63-be8b-47a7-a4c1-6d05594ed9d2",
                "08067281-bc1f-40f8-8c01-7bd2b010caff",
                "b1170d8a-628d-4da3-ad3b-82ddb08b4970",
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (sd_bus_message_new_method_call(c->bus, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                           "CreateCryptoSession") < 0 ||
            sd_bus_message_append(m, "sss", "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f", "",
                                  exchanges[random_below(4)]) < 0)
                return;
        (void) send_call(c, m, true, false);
}

/* A key wrapped to the device's certificate with one of the three hashes:
 * right for some sessions, wrong for others. */
static void send_wrapped_key(Connection *c) {
        static const keyd_guid *const exchanges[] = {
                &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256,
                &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1,
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        uint8_t key[16], data[512];
        uint32_t size;

        if (!F.certificate || F.n_paths == 0)
                return;
        fill_random(NULL, key, sizeof(key));
        /* The modulus length: 256 for keyd's default 2048-bit key. */
        size = 256;
        if (keyd_wrap_session_key(F.certificate, (uint32_t) F.certificate_size, exchanges[random_below(3)], key,
                                  sizeof(key), size, data) != KEYD_S_OK)
                return;
        if (sd_bus_message_new_method_call(c->bus, &m, KEYD_BUS_NAME, F.paths[random_below((unsigned) F.n_paths)],
                                           KEYD_SESSION_INTERFACE, "NegotiateCryptoSessionKeyExchange") < 0 ||
            sd_bus_message_append_array(m, 'y', data, size) < 0)
                return;
        (void) send_call(c, m, false, false);
}

static void send_get_certificate(Connection *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (F.n_paths == 0)
                return;
        if (sd_bus_message_new_method_call(c->bus, &m, KEYD_BUS_NAME, F.paths[random_below((unsigned) F.n_paths)],
                                           KEYD_SESSION_INTERFACE, "GetCertificate") < 0)
                return;
        (void) send_call(c, m, false, true);
}

static void act(size_t i) {
        Connection *c = F.connections[i];
        unsigned what = random_below(1000);

        if (what < 4) {
                /* Gone at a random moment; a new connection takes its place. */
                connection_close(c);
                F.connections[i] = connection_open();
                return;
        }
        if (c->in_flight >= MAX_IN_FLIGHT)
                return;
        if (what < 100)
                send_create(c);
        else if (what < 160)
                send_wrapped_key(c);
        else if (what < 170)
                send_get_certificate(c);
        else
                send_random_call(c);
}

/* Let every connection read and write what it can, waiting up to
 * timeout_ms for something to happen. */
static void pump(int timeout_ms) {
        struct pollfd p[N_CONNECTIONS];
        bool busy;

        do {
                busy = false;
                for (size_t i = 0; i < N_CONNECTIONS; i++) {
                        int r = sd_bus_process(F.connections[i]->bus, NULL);
                        if (r > 0)
                                busy = true;
                        else if (r < 0) {
                                /* Dropped (by the bus, for a message it would not take): reconnect. */
                                connection_close(F.connections[i]);
                                F.connections[i] = connection_open();
                        }
                }
        } while (busy);

        for (size_t i = 0; i < N_CONNECTIONS; i++)
                p[i] = (struct pollfd) { .fd = sd_bus_get_fd(F.connections[i]->bus),
                                         .events = (short) sd_bus_get_events(F.connections[i]->bus) };
        (void) poll(p, N_CONNECTIONS, timeout_ms);
}

/* ---- the checks afterwards ---- */

static long keyd_rss_kb(void) {
        char path[64], line[256];
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%i/status", (int) harness_keyd_pid());
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

static bool keyd_is_sanitized(void) {
        char path[64], line[512];
        bool found = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%i/maps", (int) harness_keyd_pid());
        f = fopen(path, "re");
        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, "libasan") || strstr(line, "libubsan");
        fclose(f);
        return found;
}

static bool wait_no_sessions(void) {
        uint32_t last = UINT32_MAX;

        if (harness_wait_session_count(0, 30 * USEC_PER_SEC, &last) < 0) {
                fprintf(stderr, "bus-fuzz-client: FAIL: SessionCount is still %" PRIu32 " 30 s after every "
                        "connection closed\n", last);
                return false;
        }
        return true;
}

/* Close every connection and wait until keyd has destroyed their sessions. */
static bool settle(void) {
        for (size_t i = 0; i < N_CONNECTIONS; i++) {
                connection_close(F.connections[i]);
                F.connections[i] = NULL;
        }
        return wait_no_sessions();
}

/* keyd answers, and serves a whole session. */
static bool keyd_works(void) {
        keyd_client *c = NULL;
        keyd_crypto_session *s = NULL;
        keyd_crypto_session_status status;
        uint8_t key[16] = { 1, 2, 3 }, data[256], *cert = NULL;
        uint32_t cert_size = 0;
        bool ok = false;

        if (keyd_client_open_address(harness_bus_address(), &c) != KEYD_S_OK ||
            keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP, &s) !=
                    KEYD_S_OK ||
            keyd_crypto_session_get_certificate_size(s, &cert_size) != KEYD_S_OK || !(cert = malloc(cert_size)) ||
            keyd_crypto_session_get_certificate(s, cert_size, cert) != KEYD_S_OK ||
            keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, sizeof(key), sizeof(data),
                                  data) != KEYD_S_OK ||
            keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), data) != KEYD_S_OK ||
            keyd_check_crypto_session_status(s, &status) != KEYD_S_OK || status != KEYD_CRYPTO_SESSION_STATUS_OK)
                fprintf(stderr, "bus-fuzz-client: FAIL: keyd no longer serves a session: %s\n",
                        keyd_last_error_message());
        else
                ok = true;

        free(cert);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        return ok;
}

static void run_phase(uint64_t deadline, uint64_t max_calls) {
        for (size_t i = 0; i < N_CONNECTIONS; i++)
                F.connections[i] = connection_open();

        while (harness_now_usec() < deadline && F.calls < max_calls && !F.failed) {
                for (size_t i = 0; i < N_CONNECTIONS; i++)
                        act(i);
                pump(5);
        }
        /* Let the answers to what is in flight arrive (or not). */
        for (unsigned i = 0; i < 20; i++)
                pump(5);
}

static uint64_t env_u64(const char *name, uint64_t def) {
        const char *v = getenv(name);
        return v && *v ? strtoull(v, NULL, 0) : def;
}

int main(void) {
        static const char *const keyd_args[] = {
                /* Quotas small enough that random sizes reach them without
                 * locking hundreds of MiB of this machine's memory. */
                "--max-surface-bytes-per-client=4194304",
                "--max-sessions-per-client=16",
                "--max-sessions=48",
                NULL,
        };
        uint64_t seconds = env_u64("KEYD_FUZZ_SECONDS", 20), max_calls = env_u64("KEYD_FUZZ_CALLS", 100000);
        uint64_t seed = env_u64("KEYD_FUZZ_SEED", (uint64_t) time(NULL)), start;
        long rss_start, rss_mid, rss_end;
        bool sanitized, ok = true;
        int r;

        F.rng = seed;
        F.max_huge = (unsigned) env_u64("KEYD_FUZZ_HUGE", 6);
        printf("bus-fuzz-client: seed %" PRIu64 " (KEYD_FUZZ_SEED=%" PRIu64 " replays this run), %" PRIu64
               " s, at most %" PRIu64 " calls, %d connections\n", seed, seed, seconds, max_calls, N_CONNECTIONS);
        fflush(stdout);

        harness_init();
        harness_start_bus();
        r = harness_start_keyd(keyd_args);
        if (r < 0) {
                fprintf(stderr, "bus-fuzz-client: keyd did not start: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        sanitized = keyd_is_sanitized();

        /* The baseline: after one whole session, so that what keyd sets up
         * once (GnuTLS, worker threads, sd-bus buffers) is in it. */
        ok = keyd_works();
        rss_start = keyd_rss_kb();

        start = harness_now_usec();
        run_phase(start + seconds * USEC_PER_SEC / 2, max_calls / 2);
        ok = settle() && ok;
        rss_mid = keyd_rss_kb();
        run_phase(start + seconds * USEC_PER_SEC, max_calls);
        ok = settle() && ok;

        /* keyd still answers and works, and is back to no session. */
        ok = keyd_works() && ok;
        ok = wait_no_sessions() && ok;
        rss_end = keyd_rss_kb();

        printf("bus-fuzz-client: %" PRIu64 " calls, %" PRIu64 " replies (%" PRIu64 " errors, %" PRIu64
               " of them keyd's), %" PRIu64 " sessions created, %" PRIu64 " connections closed, %u messages over "
               "16 MiB\n",
               F.calls, F.replies, F.errors, F.keyd_errors, F.sessions_created, F.closes, F.huge_sent);
        printf("bus-fuzz-client: keyd VmRSS %ld kB at the start, %ld kB halfway, %ld kB at the end%s\n", rss_start,
               rss_mid, rss_end, sanitized ? " (sanitizer build: not judged, LeakSanitizer judges leaks)" : "");

        if (F.failed) {
                fprintf(stderr, "bus-fuzz-client: FAIL: keyd sent an error not in the contract's form (above)\n");
                ok = false;
        }
        if (F.calls == 0 || F.sessions_created == 0) {
                fprintf(stderr, "bus-fuzz-client: FAIL: the run exercised nothing\n");
                ok = false;
        }
        /* Memory. glibc keeps freed heap for reuse rather than returning it,
         * so keyd's RSS after a burst is not its RSS before: the largest
         * messages (just over 16 MiB, read into one buffer) and the worker
         * threads' arenas stay. That is bounded by what one burst needs, and
         * the first half already paid it; so the second half, as long as
         * the first, may add little (a leak per call or per session would
         * add with every one of its thousands of calls), and the whole run
         * stays within one burst's worth of the start. */
        if (!sanitized && (rss_start < 0 || rss_mid < 0 || rss_end < 0)) {
                fprintf(stderr, "bus-fuzz-client: FAIL: cannot read keyd's VmRSS\n");
                ok = false;
        } else if (!sanitized && rss_end - rss_mid > RSS_GROWTH_SECOND_HALF_KB) {
                fprintf(stderr, "bus-fuzz-client: FAIL: keyd grew by %ld kB in the second half (bound %d kB): "
                        "a leak\n", rss_end - rss_mid, RSS_GROWTH_SECOND_HALF_KB);
                ok = false;
        } else if (!sanitized && rss_end - rss_start > RSS_GROWTH_TOTAL_KB) {
                fprintf(stderr, "bus-fuzz-client: FAIL: keyd grew by %ld kB over the run (bound %d kB)\n",
                        rss_end - rss_start, RSS_GROWTH_TOTAL_KB);
                ok = false;
        }

        /* And it stops cleanly (under ASan this is where leaks show). */
        r = harness_kill_keyd(SIGTERM, 60 * USEC_PER_SEC);
        if (r != 0) {
                _cleanup_free_ char *log = harness_keyd_log();
                fprintf(stderr, "bus-fuzz-client: FAIL: keyd exited with status %d on SIGTERM; its log:\n%s\n", r,
                        log ?: "");
                ok = false;
        }

        for (size_t i = 0; i < F.n_paths; i++)
                free(F.paths[i]);
        free(F.certificate);
        harness_cleanup();
        printf("bus-fuzz-client: %s\n", ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
        return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
