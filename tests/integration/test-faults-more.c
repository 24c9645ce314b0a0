/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Faults under load, beside test-faults.c (which kills an idle or frozen
 * keyd): keyd SIGKILLed while several threads negotiate, while large Blts
 * run, and while it holds 100 sessions; killed again and again while it
 * generates its first device key; a client process with 100 sessions and
 * surfaces killed; dbus-daemon gone while clients call; and a state
 * directory that is full or read-only at first start.
 *
 * Every call that fails because keyd (or the bus) is gone must say so with
 * DXGI_ERROR_DEVICE_REMOVED well within PROMPT_USEC, while the clients wait
 * up to CLIENT_TIMEOUT_USEC for an answer: a hang would show as a call
 * taking that long. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abuse-util.h"
#include "harness.h"
#include "test-util.h"

/* How long a test waits for its threads after keyd is gone: past this they hang. */
#define JOIN_TIMEOUT_USEC (CLIENT_TIMEOUT_USEC / 2)

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void setup_bus_only(void) {
        harness_start_bus();
}

static void teardown(void) {
        harness_stop();
}

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / USEC_PER_SEC), .tv_nsec = (long) (usec % USEC_PER_SEC) * 1000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Join thread, failing the test if it has not ended by deadline: a thread
 * still inside a libkeyd call then is a hang. */
static void join_by(pthread_t thread, uint64_t deadline, const char *what) {
        struct timespec ts;
        uint64_t wait = deadline > harness_now_usec() ? deadline - harness_now_usec() : 0;
        int r;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t) (wait / USEC_PER_SEC);
        ts.tv_nsec += (long) (wait % USEC_PER_SEC) * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        r = pthread_timedjoin_np(thread, NULL, &ts);
        ck_assert_msg(r == 0, "%s still inside a libkeyd call %llu ms after keyd was killed: a hang", what,
                      (unsigned long long) (JOIN_TIMEOUT_USEC / 1000));
}

/* ---- a thread that calls until keyd is gone ---- */

typedef enum WorkKind {
        WORK_NEGOTIATE,
        WORK_BLT,
} WorkKind;

typedef struct Worker {
        WorkKind kind;
        keyd_client *client;
        keyd_crypto_session *session;
        const uint8_t *wrapped;       /* WORK_NEGOTIATE: a valid key exchange */
        uint32_t surface;             /* WORK_BLT */
        uint32_t blt_size;
        uint8_t *buf;

        atomic_uint ok;               /* calls that succeeded */
        /* After the first failure: */
        unsigned failures;
        HRESULT first_failure, unexpected;
        bool ok_after_failure;
        uint64_t max_failed_usec;     /* the longest failed call */
        char message[256];            /* libkeyd's message for the first failure */
        atomic_bool stop;             /* a safety net: the test gave up */
        pthread_t thread;
} Worker;

static HRESULT worker_call(Worker *w, unsigned n) {
        uint8_t iv[IV_SIZE] = {};

        switch (w->kind) {
        case WORK_NEGOTIATE: {
                uint8_t data[MODULUS_SIZE];

                memcpy(data, w->wrapped, sizeof(data));
                return keyd_negotiate_crypto_session_key_exchange(w->session, sizeof(data), data);
        }
        case WORK_BLT:
                /* Alternate both directions; the data is random: a Blt does
                 * not check what it decrypts. */
                iv[0] = (uint8_t) n;
                if (n % 2 == 0)
                        return keyd_decryption_blt(w->session, w->surface, NULL, 0, NULL, sizeof(iv), iv, w->blt_size,
                                                   w->buf);
                return keyd_encryption_blt(w->session, w->surface, sizeof(iv), iv, w->blt_size, w->buf);
        }
        return KEYD_E_FAIL;
}

static void *worker_run(void *userdata) {
        Worker *w = userdata;

        for (unsigned n = 0; !atomic_load(&w->stop); n++) {
                uint64_t start = harness_now_usec();
                HRESULT hr = worker_call(w, n);
                uint64_t took = harness_now_usec() - start;

                if (KEYD_SUCCEEDED(hr)) {
                        if (w->failures > 0)
                                w->ok_after_failure = true;
                        atomic_fetch_add(&w->ok, 1);
                        continue;
                }
                if (w->failures == 0) {
                        w->first_failure = hr;
                        snprintf(w->message, sizeof(w->message), "%s", keyd_last_error_message());
                }
                if (hr != KEYD_DXGI_ERROR_DEVICE_REMOVED && !w->unexpected)
                        w->unexpected = hr;
                w->max_failed_usec = MAX(w->max_failed_usec, took);
                /* A few more calls after the first failure: all must fail the same way, at once. */
                if (++w->failures >= 3)
                        break;
        }
        return NULL;
}

static void worker_start(Worker *w) {
        ck_assert_int_eq(pthread_create(&w->thread, NULL, worker_run, w), 0);
}

/* Wait until every worker has had at least n calls answered: they are busy. */
static void wait_workers_busy(Worker *w, size_t n_workers, unsigned n) {
        uint64_t deadline = harness_now_usec() + 60 * USEC_PER_SEC;

        for (size_t i = 0; i < n_workers; i++)
                while (atomic_load(&w[i].ok) < n) {
                        ck_assert_msg(harness_now_usec() < deadline, "worker %zu made only %u calls in 60 s", i,
                                      atomic_load(&w[i].ok));
                        sleep_usec(2000);
                }
}

static void check_worker(Worker *w, const char *what, size_t i) {
        ck_assert_msg(w->failures > 0, "%s %zu: no call failed after keyd was killed", what, i);
        ck_assert_msg(w->unexpected == 0,
                      "%s %zu: a call after keyd was killed returned 0x%08X (%s), expected DXGI_ERROR_DEVICE_REMOVED; "
                      "first failure: \"%s\"",
                      what, i, (unsigned) w->unexpected, keyd_hresult_to_string(w->unexpected), w->message);
        ck_assert_msg(!w->ok_after_failure, "%s %zu: a call succeeded after an earlier one found keyd gone", what, i);
        ck_assert_msg(w->max_failed_usec < PROMPT_USEC,
                      "%s %zu: a failing call took %llu ms (client timeout %llu ms): keyd's death was not noticed",
                      what, i, (unsigned long long) w->max_failed_usec / 1000,
                      (unsigned long long) CLIENT_TIMEOUT_USEC / 1000);
        ck_assert_msg(strlen(w->message) > 0, "%s %zu: no message for DXGI_ERROR_DEVICE_REMOVED", what, i);
}

/* A new keyd serves a new session of client at once: the first attempt works. */
static void check_restart_serves(keyd_client *c) {
        keyd_crypto_session *s;
        uint64_t start;
        uint32_t v = UINT32_MAX;

        ck_assert_int_eq(harness_start_keyd(NULL), 0);
        start = harness_now_usec();
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_msg(v == 0, "a restarted keyd reports %u sessions", v);
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_msg(harness_now_usec() - start < PROMPT_USEC, "the first session after a restart took %llu ms",
                      (unsigned long long) (harness_now_usec() - start) / 1000);
        keyd_crypto_session_release(s);
}

/* ---- raw calls left in keyd's queue ---- */

typedef struct RawPending {
        unsigned sent, answered, ok;
        unsigned no_reply;            /* NoReply, ServiceUnknown, NameHasNoOwner: keyd left */
        char other[256];              /* an error of any other kind */
} RawPending;

static int on_raw_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        RawPending *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        p->answered++;
        if (!e)
                p->ok++;
        else if (sd_bus_error_has_names(e, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                        SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_DISCONNECTED))
                p->no_reply++;
        else if (!p->other[0])
                snprintf(p->other, sizeof(p->other), "%s: %s", e->name, e->message ?: "");
        return 0;
}

/* Queue n negotiations on a session of a raw connection without waiting. */
static void raw_queue_negotiations(sd_bus *bus, const char *path, const uint8_t *data, unsigned n, RawPending *p) {
        for (unsigned i = 0; i < n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                                "NegotiateCryptoSessionKeyExchange"),
                                 0);
                ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, MODULUS_SIZE), 0);
                ck_assert_int_ge(sd_bus_call_async(bus, NULL, m, on_raw_reply, p, CLIENT_TIMEOUT_USEC), 0);
                p->sent++;
        }
        ck_assert_int_ge(sd_bus_flush(bus), 0);
}

static void raw_wait_answers(sd_bus *bus, RawPending *p, uint64_t deadline) {
        while (p->answered < p->sent && harness_now_usec() < deadline) {
                int r = sd_bus_process(bus, NULL);
                ck_assert_int_ge(r, 0);
                if (r == 0)
                        (void) sd_bus_wait(bus, 50000);
        }
}

/* ---- keyd killed mid-negotiation ---- */

#define N_NEGOTIATORS 6
#define N_RAW_QUEUED 48

START_TEST(test_sigkill_mid_negotiation) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *raw = NULL;
        _cleanup_free_ char *raw_path = NULL;
        Worker w[N_NEGOTIATORS] = {};
        uint8_t key[KEY_SIZE], wrapped[MODULUS_SIZE];
        RawPending pending = {};
        uint64_t killed, deadline;

        random_bytes(key, sizeof(key));
        for (size_t i = 0; i < N_NEGOTIATORS; i++) {
                /* One connection each: libkeyd serialises the calls of one client. */
                w[i] = (Worker) { .kind = WORK_NEGOTIATE, .client = open_patient_client(), .wrapped = wrapped };
                w[i].session = create_session(w[i].client, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        }
        wrap_key_for(w[0].session, key, wrapped);

        ck_assert_int_eq(harness_open_bus(&raw), 0);
        raw_path = raw_create_session(raw, RSAES_OAEP);

        for (size_t i = 0; i < N_NEGOTIATORS; i++)
                worker_start(&w[i]);
        wait_workers_busy(w, N_NEGOTIATORS, 3);

        /* Fill one connection's queue in keyd too, then kill it with
         * everything in flight: N_NEGOTIATORS calls from threads and up to
         * N_RAW_QUEUED waiting for a worker. */
        raw_queue_negotiations(raw, raw_path, wrapped, N_RAW_QUEUED, &pending);
        ck_assert_int_eq(harness_kill_keyd(SIGKILL, 10 * USEC_PER_SEC), 128 + SIGKILL);
        killed = harness_now_usec();
        deadline = killed + JOIN_TIMEOUT_USEC;

        for (size_t i = 0; i < N_NEGOTIATORS; i++)
                join_by(w[i].thread, deadline, "a negotiating thread");
        for (size_t i = 0; i < N_NEGOTIATORS; i++)
                check_worker(&w[i], "negotiating thread", i);

        /* Every queued call is answered by the bus, none is left to time out. */
        raw_wait_answers(raw, &pending, killed + PROMPT_USEC);
        ck_assert_msg(pending.answered == pending.sent, "%u of %u queued negotiations still unanswered %llu ms after keyd "
                      "died", pending.sent - pending.answered, pending.sent, (unsigned long long) PROMPT_USEC / 1000);
        ck_assert_msg(!pending.other[0], "a queued negotiation got an unexpected error: %s", pending.other);
        ck_assert_msg(pending.no_reply > 0, "keyd answered all %u queued negotiations before it died: none was in flight",
                      pending.sent);
        fprintf(stderr, "mid-negotiation: %u queued calls: %u answered before the kill, %u told keyd left\n",
                pending.sent, pending.ok, pending.no_reply);

        /* The threads' clients still work with a new keyd; their old sessions stay gone. */
        check_restart_serves(w[0].client);
        for (size_t i = 0; i < N_NEGOTIATORS; i++) {
                keyd_crypto_session_status status;

                ck_assert_hr(keyd_check_crypto_session_status(w[i].session, &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                keyd_crypto_session_release(w[i].session);
                keyd_client_close(w[i].client);
        }
}
END_TEST

/* ---- keyd killed mid-Blt ---- */

#define N_BLTERS 3

START_TEST(test_sigkill_mid_blt) {
        /* Two through sealed memfds (above KEYD_BLT_MEMFD_THRESHOLD), one
         * inside the message. */
        static const uint32_t sizes[N_BLTERS] = { 24 * MiB, 24 * MiB, 192 * 1024 };
        Worker w[N_BLTERS] = {};
        uint8_t key[KEY_SIZE], wrapped[MODULUS_SIZE];
        uint64_t deadline;

        random_bytes(key, sizeof(key));
        for (size_t i = 0; i < N_BLTERS; i++) {
                w[i] = (Worker) { .kind = WORK_BLT, .client = open_patient_client(), .blt_size = sizes[i] };
                w[i].session = create_session(w[i].client, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
                if (i == 0)
                        wrap_key_for(w[i].session, key, wrapped);
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(w[i].session, sizeof(wrapped), wrapped),
                             KEYD_S_OK);
                ck_assert_hr(keyd_create_surface(w[i].session, sizes[i], &w[i].surface), KEYD_S_OK);
                w[i].buf = malloc(sizes[i]);
                ck_assert_ptr_nonnull(w[i].buf);
                random_bytes(w[i].buf, sizes[i]);
        }

        for (size_t i = 0; i < N_BLTERS; i++)
                worker_start(&w[i]);
        wait_workers_busy(w, N_BLTERS, 4);

        ck_assert_int_eq(harness_kill_keyd(SIGKILL, 10 * USEC_PER_SEC), 128 + SIGKILL);
        deadline = harness_now_usec() + JOIN_TIMEOUT_USEC;
        for (size_t i = 0; i < N_BLTERS; i++)
                join_by(w[i].thread, deadline, "a Blt thread");
        for (size_t i = 0; i < N_BLTERS; i++)
                check_worker(&w[i], "Blt thread", i);

        check_restart_serves(w[0].client);
        for (size_t i = 0; i < N_BLTERS; i++) {
                uint8_t iv[IV_SIZE] = {};

                ck_assert_hr(keyd_encryption_blt(w[i].session, w[i].surface, sizeof(iv), iv, sizes[i], w[i].buf),
                             KEYD_DXGI_ERROR_DEVICE_REMOVED);
                keyd_crypto_session_release(w[i].session);
                keyd_client_close(w[i].client);
                free(w[i].buf);
        }
}
END_TEST

/* ---- keyd killed with 100 sessions ---- */

#define N_SESSIONS 100

START_TEST(test_sigkill_with_100_sessions) {
        static const keyd_guid *const exchanges[] = {
                &KEYD_KEY_EXCHANGE_RSAES_OAEP, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, &KEYD_KEY_EXCHANGE_HW_PROTECTION,
        };
        keyd_client *c = open_patient_client();
        keyd_crypto_session *s[N_SESSIONS], *fresh[N_SESSIONS];
        uint8_t key[KEY_SIZE], wrapped[MODULUS_SIZE], data[MODULUS_SIZE];
        uint64_t start, took, slowest = 0;
        uint32_t v = 0;

        random_bytes(key, sizeof(key));
        for (size_t i = 0; i < N_SESSIONS; i++) {
                s[i] = create_session(c, exchanges[i % ELEMENTSOF(exchanges)]);
                if (i == 0)
                        wrap_key_for(s[0], key, wrapped);
                if (keyd_guid_equal(exchanges[i % ELEMENTSOF(exchanges)], &KEYD_KEY_EXCHANGE_RSAES_OAEP)) {
                        memcpy(data, wrapped, sizeof(data));
                        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s[i], sizeof(data), data), KEYD_S_OK);
                }
        }
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, N_SESSIONS);

        ck_assert_int_eq(harness_kill_keyd(SIGKILL, 10 * USEC_PER_SEC), 128 + SIGKILL);

        start = harness_now_usec();
        for (size_t i = 0; i < N_SESSIONS; i++) {
                keyd_crypto_session_status status;
                uint64_t t = harness_now_usec();

                ck_assert_hr(keyd_check_crypto_session_status(s[i], &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                if (keyd_guid_equal(exchanges[i % ELEMENTSOF(exchanges)], &KEYD_KEY_EXCHANGE_HW_PROTECTION)) {
                        uint32_t id;

                        ck_assert_hr(keyd_create_surface(s[i], 16, &id), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                } else {
                        memcpy(data, wrapped, sizeof(data));
                        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(s[i], sizeof(data), data),
                                     KEYD_DXGI_ERROR_DEVICE_REMOVED);
                }
                slowest = MAX(slowest, harness_now_usec() - t);
        }
        took = harness_now_usec() - start;
        ck_assert_msg(slowest < PROMPT_USEC, "the slowest pair of calls on a dead session took %llu ms",
                      (unsigned long long) slowest / 1000);
        ck_assert_msg(took < 2 * PROMPT_USEC, "%d calls on dead sessions took %llu ms", 2 * N_SESSIONS,
                      (unsigned long long) took / 1000);

        /* A restarted keyd starts empty and serves 100 new sessions at once;
         * they reuse the old object paths, yet the old sessions stay gone. */
        check_restart_serves(c);
        for (size_t i = 0; i < N_SESSIONS; i++)
                fresh[i] = create_session(c, exchanges[i % ELEMENTSOF(exchanges)]);
        for (size_t i = 0; i < N_SESSIONS; i++) {
                keyd_crypto_session_status status;

                ck_assert_hr(keyd_check_crypto_session_status(s[i], &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                ck_assert_hr(keyd_check_crypto_session_status(fresh[i], &status), KEYD_S_OK);
                keyd_crypto_session_release(s[i]);
                keyd_crypto_session_release(fresh[i]);
        }
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v), 0);
        keyd_client_close(c);
}
END_TEST

/* ---- keyd killed while it makes its first device key ---- */

static bool has_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* How long the keyd of spawn_keyd_generating() stays with no session. */
#define GENERATING_IDLE_USEC (1 * USEC_PER_SEC)

/* A keyd of our own (the harness's waits for READY=1): on dir, on the
 * harness's bus (keyd makes no key without a bus to serve on), so that
 * unless killed it generates the key, serves, and exits after
 * GENERATING_IDLE_USEC with no session. */
static pid_t spawn_keyd_generating(const char *dir) {
        _cleanup_free_ char *state_arg = NULL, *bus_env = NULL;
        pid_t parent = getpid(), pid;

        ck_assert_int_gt(asprintf(&state_arg, "--state-dir=%s", dir), 0);
        ck_assert_int_gt(asprintf(&bus_env, "DBUS_SYSTEM_BUS_ADDRESS=%s", harness_bus_address()), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                const char *argv[] = { harness_binary("KEYD_BINARY"), "--bus=system", "--backend=software", state_arg,
                                       "--exit-idle-time=1", NULL };
                int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(126);
                if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
                        _exit(126);
                (void) unsetenv("NOTIFY_SOCKET");
                if (putenv(bus_env) != 0)
                        _exit(126);
                execv(argv[0], (char **) argv);
                _exit(127);
        }
        return pid;
}

static int reap(pid_t pid) {
        int status;

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

typedef struct StateDir {
        char *key;            /* device-key.pem's bytes, NULL if absent */
        size_t key_size;
        bool cert;
        unsigned temporary;   /* keyd's temporary files (".#name.random") */
} StateDir;

static void state_dir_done(StateDir *s) {
        free(s->key);
        *s = (StateDir) {};
}

/* What dir holds, failing the test on anything half-written. */
static StateDir inspect_state_dir(const char *dir, const char *when) {
        StateDir st = {};
        struct dirent *de;
        DIR *d = opendir(dir);

        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                struct stat sb;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                ck_assert_int_gt(asprintf(&path, "%s/%s", dir, de->d_name), 0);
                ck_assert_int_eq(lstat(path, &sb), 0);

                if (streq(de->d_name, "device-key.pem")) {
                        static const char begin[] = "-----BEGIN PRIVATE KEY-----\n",
                                          end[] = "-----END PRIVATE KEY-----\n";
                        st.key = harness_read_file(path, &st.key_size);
                        ck_assert_ptr_nonnull(st.key);
                        ck_assert_msg((sb.st_mode & 07777) == 0600, "%s: %s has mode %04o", when, path,
                                      (unsigned) (sb.st_mode & 07777));
                        ck_assert_msg(st.key_size > sizeof(begin) + sizeof(end) && has_prefix(st.key, begin) &&
                                              streq(st.key + st.key_size - strlen(end), end),
                                      "%s: %s is half-written (%zu bytes)", when, path, st.key_size);
                } else if (streq(de->d_name, "device-cert.der")) {
                        _cleanup_free_ uint8_t *der = NULL;
                        size_t size = 0;

                        der = harness_read_file(path, &size);
                        ck_assert_ptr_nonnull(der);
                        /* SEQUENCE with a two-byte length: the whole certificate. */
                        ck_assert_msg(size > 4 && der[0] == 0x30 && der[1] == 0x82 &&
                                              ((size_t) der[2] << 8 | der[3]) + 4 == size,
                                      "%s: %s is half-written (%zu bytes)", when, path, size);
                        st.cert = true;
                } else if (has_prefix(de->d_name, ".#device-key.pem.")) {
                        /* Cut short before its rename: never read by keyd, but
                         * it may hold (part of) a private key. */
                        ck_assert_msg((sb.st_mode & 0077) == 0, "%s: %s is readable by others (mode %04o)", when, path,
                                      (unsigned) (sb.st_mode & 07777));
                        st.temporary++;
                } else if (has_prefix(de->d_name, ".#device-cert.der.")) {
                        st.temporary++;
                } else
                        ck_abort_msg("%s: unexpected file %s in the state directory", when, path);
        }
        closedir(d);
        return st;
}

static char *new_state_dir(const char *name) {
        char *dir = NULL;

        ck_assert_int_gt(asprintf(&dir, "%s/%s-XXXXXX", harness_tmpdir(), name), 0);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        return dir;
}

/* An inotify watch on dir for mask, set before keyd starts. */
static int watch_dir(const char *dir, uint32_t mask) {
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_ge(inotify_add_watch(fd, dir, mask), 0);
        return fd;
}

/* Kill keyd (pid) the moment the watch reports a name starting with prefix. */
static void kill_on_event(pid_t pid, int fd, const char *prefix) {
        uint64_t deadline = harness_now_usec() + 30 * USEC_PER_SEC;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        while (harness_now_usec() < deadline) {
                ssize_t n = read(fd, buf, sizeof(buf));

                for (ssize_t off = 0; n > 0 && off < n;) {
                        const struct inotify_event *e = (const struct inotify_event *) (buf + off);

                        if (e->len > 0 && has_prefix(e->name, prefix)) {
                                (void) kill(pid, SIGKILL);
                                return;
                        }
                        off += (ssize_t) sizeof(*e) + e->len;
                }
                ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "keyd exited before it wrote %s", prefix);
                sleep_usec(100);
        }
        ck_abort_msg("keyd did not write %s in 30 s", prefix);
}

START_TEST(test_killed_during_key_generation) {
        static const struct {
                uint32_t mask;
                const char *prefix;
        } events[] = {
                { IN_CREATE, ".#device-key.pem." },   /* while writing or syncing the key */
                { IN_MOVED_TO, "device-key.pem" },    /* key in place, no certificate yet */
                { IN_CREATE, ".#device-cert.der." },  /* while writing the certificate */
        };
        unsigned seed = (unsigned) harness_now_usec(), temporary = 0, with_key = 0, without_key = 0;
        uint64_t full = 0;

        fprintf(stderr, "key generation kills: seed %u\n", seed);
        srand(seed);

        /* How long an undisturbed first start takes to make its key and
         * serve: until its idle exit, less the idle time. */
        for (int i = 0; i < 3; i++) {
                _cleanup_free_ char *dir = new_state_dir("keygen-timing");
                uint64_t start = harness_now_usec(), took;
                StateDir st;

                ck_assert_int_eq(reap(spawn_keyd_generating(dir)), 0);
                took = harness_now_usec() - start;
                full = MAX(full, took > GENERATING_IDLE_USEC ? took - GENERATING_IDLE_USEC : 1000);
                st = inspect_state_dir(dir, "after an undisturbed start");
                ck_assert_ptr_nonnull(st.key);
                ck_assert(st.cert);
                ck_assert_uint_eq(st.temporary, 0);
                state_dir_done(&st);
        }

        for (unsigned i = 0; i < 30; i++) {
                _cleanup_free_ char *dir = new_state_dir("keygen");
                _cleanup_free_ char *state_arg = NULL, *when = NULL;
                StateDir before, after;
                pid_t pid;

                if (i % 3 == 2) {
                        /* Right at a file write: the moments a crash could tear a file. */
                        const unsigned e = (i / 3) % ELEMENTSOF(events);
                        _cleanup_(closep) int fd = watch_dir(dir, events[e].mask);

                        pid = spawn_keyd_generating(dir);
                        kill_on_event(pid, fd, events[e].prefix);
                        ck_assert_int_gt(asprintf(&when, "killed at %s", events[e].prefix), 0);
                } else {
                        uint64_t delay = (uint64_t) rand() % (full + 1);

                        pid = spawn_keyd_generating(dir);
                        sleep_usec(delay);
                        (void) kill(pid, SIGKILL);
                        ck_assert_int_gt(asprintf(&when, "killed after %llu us", (unsigned long long) delay), 0);
                }
                (void) reap(pid);

                before = inspect_state_dir(dir, when);
                temporary += before.temporary;
                if (before.key)
                        with_key++;
                else
                        without_key++;

                /* The next start works: it loads a key that is there (not
                 * replacing it) or makes one, and serves with it. */
                ck_assert_int_gt(asprintf(&state_arg, "--state-dir=%s", dir), 0);
                const char *args[] = { state_arg, NULL };
                ck_assert_msg(harness_start_keyd(args) == 0, "keyd does not start after being %s", when);
                {
                        keyd_client *c = open_client();
                        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

                        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
                        keyd_crypto_session_release(s);
                        keyd_client_close(c);
                }
                ck_assert_int_eq(harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC), 0);

                after = inspect_state_dir(dir, "after the next start");
                ck_assert_ptr_nonnull(after.key);
                ck_assert(after.cert);
                ck_assert_msg(after.temporary == 0,
                              "the next start left %u temporary file(s) of the keyd %s in the state directory",
                              after.temporary, when);
                if (before.key)
                        ck_assert_msg(after.key_size == before.key_size &&
                                              memcmp(after.key, before.key, before.key_size) == 0,
                                      "keyd replaced the device key it found after being %s", when);
                state_dir_done(&before);
                state_dir_done(&after);
        }

        fprintf(stderr, "key generation kills: undisturbed start %llu ms; %u kills left a key, %u none, "
                "%u temporary files were left behind (and removed by the next start)\n",
                (unsigned long long) full / 1000, with_key, without_key, temporary);
}
END_TEST

/* ---- a client process killed with 100 sessions and surfaces ---- */

#define CLIENT_SURFACE_SIZE (16U * 1024U)
#define CLIENT_QUOTA (N_SESSIONS * CLIENT_SURFACE_SIZE)

static const char *const client_quota_args[] = { "--max-surface-bytes-per-client=1638400", NULL };
_Static_assert(CLIENT_QUOTA == 1638400, "client_quota_args must match");

static void setup_client_quota(void) {
        start_bus_and_keyd(client_quota_args);
}

/* In the forked child: every session negotiated and holding a surface full
 * of decrypted data, the whole quota taken. Exit codes say what failed. */
_Noreturn static void client_child(int ready_fd) {
        static uint8_t ct[CLIENT_SURFACE_SIZE];
        keyd_client *c = NULL;
        keyd_crypto_session *s = NULL;
        uint8_t data[MODULUS_SIZE], iv[IV_SIZE] = {}, cert[4096];
        uint32_t cert_size = 0, surface;
        uint8_t key[KEY_SIZE] = { 1, 2, 3 };

        if (KEYD_FAILED(keyd_client_open_address(harness_bus_address(), &c)))
                _exit(10);
        memset(ct, 0x5a, sizeof(ct));
        for (unsigned i = 0; i < N_SESSIONS; i++) {
                if (KEYD_FAILED(keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                           &KEYD_KEY_EXCHANGE_RSAES_OAEP, &s)))
                        _exit(11);
                if (i == 0 && (KEYD_FAILED(keyd_crypto_session_get_certificate_size(s, &cert_size)) ||
                               cert_size > sizeof(cert) ||
                               KEYD_FAILED(keyd_crypto_session_get_certificate(s, cert_size, cert))))
                        _exit(12);
                if (KEYD_FAILED(keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, sizeof(key),
                                                      sizeof(data), data)) ||
                    KEYD_FAILED(keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), data)))
                        _exit(13);
                if (KEYD_FAILED(keyd_create_surface(s, CLIENT_SURFACE_SIZE, &surface)) ||
                    KEYD_FAILED(keyd_decryption_blt(s, surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(ct), ct)))
                        _exit(14);
        }
        /* The quota is used up. */
        if (keyd_create_surface(s, 16, &surface) != KEYD_E_OUTOFMEMORY)
                _exit(15);
        if (write(ready_fd, "r", 1) != 1)
                _exit(16);
        for (;;)
                pause();
}

START_TEST(test_client_killed_with_sessions_and_surfaces) {
        keyd_client *c;
        keyd_crypto_session *s;
        _cleanup_free_ char *log = NULL;
        long locked_before, locked_full, locked_after;
        int ready[2], status;
        uint32_t v = 0, surface;
        char byte;
        pid_t pid;

        locked_before = proc_status_kib(harness_keyd_pid(), "VmLck");
        ck_assert_int_ge(locked_before, 0);

        ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(ready[0]);
                client_child(ready[1]);
        }
        close(ready[1]);
        if (read(ready[0], &byte, 1) != 1) {
                ck_assert_int_eq(waitpid(pid, &status, 0), pid);
                ck_abort_msg("the client child failed before it was ready: exit %d",
                             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
        close(ready[0]);

        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, N_SESSIONS);
        /* The surfaces are locked pages in keyd. */
        locked_full = proc_status_kib(harness_keyd_pid(), "VmLck");
        ck_assert_msg(locked_full >= locked_before + (long) (CLIENT_QUOTA / 1024),
                      "keyd locks %ld KiB with the surfaces, %ld KiB before", locked_full, locked_before);

        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);

        ck_assert_msg(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v) == 0, "SessionCount stays at %u", v);
        locked_after = proc_status_kib(harness_keyd_pid(), "VmLck");
        ck_assert_msg(locked_after <= locked_full - (long) (CLIENT_QUOTA / 1024),
                      "keyd still locks %ld KiB after the client died (%ld KiB with its surfaces, %ld before)",
                      locked_after, locked_full, locked_before);
        log = harness_keyd_log();
        ck_assert_msg(str_contains(log, "destroying its 100 session(s)"), "keyd's log: %s", log);

        /* A new client gets the full quota at once. */
        c = open_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_hr(keyd_create_surface(s, CLIENT_QUOTA, &surface), KEYD_S_OK);
        ck_assert_hr(keyd_create_surface(s, 16, &surface), KEYD_E_OUTOFMEMORY);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v), 0);
}
END_TEST

/* ---- dbus-daemon goes away under clients ---- */

START_TEST(test_bus_restarted_under_clients) {
        Worker w = { .kind = WORK_NEGOTIATE };
        keyd_content_protection_caps caps;
        keyd_crypto_session_status status;
        _cleanup_free_ char *log = NULL;
        uint8_t key[KEY_SIZE], wrapped[MODULUS_SIZE];
        keyd_client *c;
        keyd_crypto_session *s;
        uint64_t start;
        int r;

        w.client = open_patient_client();
        w.session = create_session(w.client, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        random_bytes(key, sizeof(key));
        wrap_key_for(w.session, key, wrapped);
        w.wrapped = wrapped;
        worker_start(&w);
        wait_workers_busy(&w, 1, 3);

        harness_stop_bus();
        start = harness_now_usec();

        /* keyd: a failure exit (so that systemd restarts it) and a log line saying why. */
        r = harness_wait_keyd_exit(10 * USEC_PER_SEC);
        ck_assert_msg(r > 0 && r < 128, "keyd ended with %d when dbus-daemon went away; expected a failure exit", r);
        log = harness_keyd_log();
        ck_assert_msg(str_contains(log, "Lost the connection to the bus"), "keyd's log: %s", log);

        /* The client: DXGI_ERROR_DEVICE_REMOVED, at once, for the session and the manager alike. */
        join_by(w.thread, start + JOIN_TIMEOUT_USEC, "a negotiating thread");
        check_worker(&w, "negotiating thread", 0);
        ck_assert_msg(str_contains(w.message, "connection"), "message: %s", w.message);
        ck_assert_hr(keyd_check_crypto_session_status(w.session, &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_hr(keyd_get_content_protection_caps(w.client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps),
                     KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_msg(str_contains(keyd_last_error_message(), "connection to the bus was lost"), "message: %s",
                      keyd_last_error_message());
        keyd_crypto_session_release(w.session);
        keyd_client_close(w.client);

        /* A new bus and keyd (what systemd does) serve new clients. */
        harness_start_bus();
        ck_assert_int_eq(harness_start_keyd(NULL), 0);
        c = open_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- a state directory that is full or read-only at first start ---- */

/* Mounts made from here on are this test process's (and keyd's, its
 * child's) alone, and vanish with it. false when not permitted. */
static bool private_mounts(void) {
        if (unshare(CLONE_NEWNS) < 0) {
                fprintf(stderr, "unshare(CLONE_NEWNS): %m\n");
                return false;
        }
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        return true;
}

/* Start keyd on dir, expecting it to fail; returns its log. */
static char *start_keyd_failing(const char *dir) {
        _cleanup_free_ char *state_arg = NULL;
        int r;

        ck_assert_int_gt(asprintf(&state_arg, "--state-dir=%s", dir), 0);
        const char *args[] = { state_arg, NULL };
        ck_assert_int_lt(harness_start_keyd(args), 0);
        r = harness_wait_keyd_exit(10 * USEC_PER_SEC);
        ck_assert_msg(r > 0 && r < 128, "keyd ended with %d; expected a failure exit", r);
        return harness_keyd_log();
}

static void start_keyd_on(const char *dir) {
        _cleanup_free_ char *state_arg = NULL;
        keyd_client *c;
        keyd_crypto_session *s;

        ck_assert_int_gt(asprintf(&state_arg, "--state-dir=%s", dir), 0);
        const char *args[] = { state_arg, NULL };
        ck_assert_int_eq(harness_start_keyd(args), 0);
        c = open_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        ck_assert_int_eq(harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC), 0);
}

static void assert_log_names(const char *log, const char *dir, const char *file, const char *reason) {
        ck_assert_msg(str_contains(log, dir) && str_contains(log, file) && str_contains(log, reason),
                      "keyd's log should name %s, %s and say \"%s\": %s", dir, file, reason, log);
}

/* Without mount permission: a root-owned 0755 directory is read-only to
 * keyd run as nobody. The harness's directories are opened for traversal. */
static char *run_keyd_as_nobody(const char *dir) {
        _cleanup_free_ char *state_arg = NULL, *base = strdup(harness_tmpdir());
        HarnessRun run;
        char *err;

        ck_assert_ptr_nonnull(base);
        ck_assert_int_eq(chmod(harness_tmpdir(), 0711), 0);
        ck_assert_int_eq(chmod(dirname(base), 0711), 0);
        ck_assert_int_eq(chmod(dir, 0755), 0);
        ck_assert_int_gt(asprintf(&state_arg, "--state-dir=%s", dir), 0);
        const char *argv[] = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                               harness_binary("KEYD_BINARY"), "--bus=system", "--backend=software", state_arg, NULL };
        ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 1, "keyd as nobody on a read-only state directory exited %d: %s", run.status,
                      run.err);
        err = TAKE_PTR(run.err);
        harness_run_done(&run);
        return err;
}

START_TEST(test_state_dir_read_only) {
        _cleanup_free_ char *dir = new_state_dir("ro-state"), *log = NULL;
        bool mounted = private_mounts();
        StateDir st;

        if (mounted) {
                ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0700"), 0);
                log = start_keyd_failing(dir);
                assert_log_names(log, dir, "device-key.pem", "Read-only file system");
        } else {
                fprintf(stderr, "read-only state directory: mount not permitted here; keyd runs as nobody on a "
                        "root-owned 0755 directory instead\n");
                log = run_keyd_as_nobody(dir);
                assert_log_names(log, dir, "device-key.pem", "Permission denied");
        }
        st = inspect_state_dir(dir, "read-only state directory");
        ck_assert_ptr_null(st.key);
        ck_assert(!st.cert);
        ck_assert_uint_eq(st.temporary, 0);
        state_dir_done(&st);

        /* Writable again: keyd makes its key. */
        if (mounted)
                ck_assert_int_eq(mount(NULL, dir, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, "mode=0700"), 0);
        start_keyd_on(dir);
        st = inspect_state_dir(dir, "after the directory became writable");
        ck_assert_ptr_nonnull(st.key);
        ck_assert(st.cert);
        state_dir_done(&st);
}
END_TEST

/* Fill the file system at dir, leaving free_pages pages (tmpfs counts pages). */
static char *fill_fs(const char *dir, long pages, long free_pages) {
        char *filler = NULL;
        long page = sysconf(_SC_PAGESIZE);
        _cleanup_(closep) int fd = -1;
        _cleanup_free_ char *zeros = calloc(1, (size_t) page);

        ck_assert_ptr_nonnull(zeros);
        ck_assert_int_gt(asprintf(&filler, "%s/filler", dir), 0);
        fd = open(filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        for (long i = 0; i < pages - free_pages; i++)
                ck_assert_int_eq(write(fd, zeros, (size_t) page), page);
        /* Nothing more fits than free_pages. */
        for (long i = 0; i < free_pages; i++)
                ck_assert_int_eq(write(fd, zeros, (size_t) page), page);
        {
                ssize_t n = write(fd, zeros, 1);
                int saved = errno;

                ck_assert_msg(n < 0 && saved == ENOSPC, "the file system at %s is not full: %zd, %s", dir, n,
                              strerror(saved));
        }
        ck_assert_int_eq(ftruncate(fd, (off_t) ((pages - free_pages) * page)), 0);
        return filler;
}

START_TEST(test_state_dir_full) {
        _cleanup_free_ char *dir = new_state_dir("full-state"), *log = NULL, *filler = NULL;
        long page = sysconf(_SC_PAGESIZE);
        _cleanup_free_ char *opts = NULL;
        StateDir st;

        if (!private_mounts()) {
                fprintf(stderr, "full state directory: mount not permitted here; skipped\n");
                return;
        }
        ck_assert_int_gt(asprintf(&opts, "size=%ld,mode=0700", 16 * page), 0);
        ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts), 0);

        /* No room at all: the key cannot be written, and nothing is left of it. */
        filler = fill_fs(dir, 16, 0);
        log = start_keyd_failing(dir);
        assert_log_names(log, dir, "device-key.pem", "No space left on device");
        ck_assert_int_eq(unlink(filler), 0);
        st = inspect_state_dir(dir, "no room for the key");
        ck_assert_ptr_null(st.key);
        ck_assert(!st.cert);
        ck_assert_uint_eq(st.temporary, 0);
        state_dir_done(&st);
        free(filler);
        free(log);

        /* Room for the key (one page) but not for the certificate: the key is
         * whole, and the next start makes the certificate from it. */
        filler = fill_fs(dir, 16, 1);
        log = start_keyd_failing(dir);
        assert_log_names(log, dir, "device-cert.der", "No space left on device");
        ck_assert_int_eq(unlink(filler), 0);
        st = inspect_state_dir(dir, "no room for the certificate");
        ck_assert_ptr_nonnull(st.key);
        ck_assert(!st.cert);
        ck_assert_uint_eq(st.temporary, 0);

        start_keyd_on(dir);
        {
                StateDir after = inspect_state_dir(dir, "after room was made");

                ck_assert(after.cert);
                ck_assert_msg(after.key_size == st.key_size && memcmp(after.key, st.key, st.key_size) == 0,
                              "keyd replaced the key it had written");
                state_dir_done(&after);
        }
        state_dir_done(&st);
}
END_TEST

static Suite *faults_more_suite(void) {
        Suite *s = suite_create("faults-more");
        TCase *tc;

        tc = tcase_create("keyd-killed");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_sigkill_mid_negotiation);
        tcase_add_test(tc, test_sigkill_mid_blt);
        tcase_add_test(tc, test_sigkill_with_100_sessions);
        tcase_add_test(tc, test_bus_restarted_under_clients);
        suite_add_tcase(s, tc);

        tc = tcase_create("client-killed");
        tcase_add_checked_fixture(tc, setup_client_quota, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_client_killed_with_sessions_and_surfaces);
        suite_add_tcase(s, tc);

        tc = tcase_create("state-dir");
        tcase_add_checked_fixture(tc, setup_bus_only, teardown);
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_killed_during_key_generation);
        tcase_add_test(tc, test_state_dir_read_only);
        tcase_add_test(tc, test_state_dir_full);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(faults_more_suite());
}
