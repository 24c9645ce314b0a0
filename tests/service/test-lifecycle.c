/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd as systemd sees it: READY=1 once the name is owned, STATUS= with the
 * backend and the number of open sessions, STOPPING=1 on SIGTERM, the exit
 * on idle (--exit-idle-time) and the log of session events (once each, with
 * the owner's uid and pid, never a key or an IV). Real keyd, real private
 * dbus-daemon, a real NOTIFY_SOCKET (tests/integration/harness.c). */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "test-util.h"

#define IDLE_SEC 2ULL
#define IDLE_ARG "--exit-idle-time=2"
#define STATUS_IDLE "STATUS=Serving with the software backend; 0 crypto session(s) open."
#define STATUS_ONE "STATUS=Serving with the software backend; 1 crypto session(s) open."
#define STATUS_TWO "STATUS=Serving with the software backend; 2 crypto session(s) open."

static void teardown(void) {
        harness_stop();
}

/* keyd is still running after usec (it has not exited by itself). */
static bool keyd_still_running_after(uint64_t usec) {
        return harness_wait_keyd_exit(usec) == -ETIMEDOUT;
}

/* ---- sd_notify ---- */

START_TEST(test_ready_after_name_owned) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *owner = NULL;
        sd_bus *bus = NULL;

        start_bus_and_keyd(NULL);

        /* The harness returned on READY=1: the name must be owned already,
         * with no retry and no wait. */
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_msg(sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                         "GetNameOwner", &error, &reply, "s", KEYD_BUS_NAME) >= 0,
                      "READY=1 came before keyd owned %s: %s", KEYD_BUS_NAME, error.message ?: "");
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &owner), 0);
        ck_assert_msg(owner[0] == ':', "owner %s is not a unique name", owner);
        ck_assert_int_eq(harness_wait_notify(STATUS_IDLE, 5 * USEC_PER_SEC), 0);

        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
}
END_TEST

START_TEST(test_status_follows_sessions) {
        keyd_client *a, *b;
        keyd_crypto_session *s1, *s2, *s3;

        start_bus_and_keyd(NULL);
        ck_assert_int_eq(harness_wait_notify(STATUS_IDLE, 5 * USEC_PER_SEC), 0);

        a = open_client();
        b = open_client();
        s1 = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_int_eq(harness_wait_notify(STATUS_ONE, 5 * USEC_PER_SEC), 0);
        s2 = create_session(b, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_int_eq(harness_wait_notify(STATUS_TWO, 5 * USEC_PER_SEC), 0);

        s1 = keyd_crypto_session_release(s1);
        ck_assert_int_eq(harness_wait_notify(STATUS_ONE, 5 * USEC_PER_SEC), 0);

        /* A vanishing client counts too: its sessions go, and so does the number. */
        s3 = create_session(a, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_int_eq(harness_wait_notify(STATUS_TWO, 5 * USEC_PER_SEC), 0);
        b = keyd_client_close(b);
        ck_assert_int_eq(harness_wait_notify(STATUS_ONE, 5 * USEC_PER_SEC), 0);

        s3 = keyd_crypto_session_release(s3);
        ck_assert_int_eq(harness_wait_notify(STATUS_IDLE, 5 * USEC_PER_SEC), 0);

        s2 = keyd_crypto_session_release(s2);
        a = keyd_client_close(a);
}
END_TEST

START_TEST(test_stopping_on_sigterm) {
        keyd_client *c;
        keyd_crypto_session *s;
        _cleanup_free_ char *log = NULL;

        start_bus_and_keyd(NULL);
        c = open_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        ck_assert_int_eq(harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC), 0);
        ck_assert_int_eq(harness_wait_notify("STOPPING=1", 1 * USEC_PER_SEC), 0);
        log = harness_keyd_log();
        ck_assert_msg(str_contains(log, "destroyed; its keys are wiped"), "no session teardown in log:\n%s", log);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- exit on idle ---- */

START_TEST(test_idle_exit_without_sessions) {
        const char *args[] = { IDLE_ARG, NULL };
        _cleanup_free_ char *log = NULL;
        uint64_t ready = 0;
        int status;

        start_bus_and_keyd(args);
        ready = harness_now_usec();
        status = harness_wait_keyd_exit((IDLE_SEC + 5) * USEC_PER_SEC);
        log = harness_keyd_log();
        ck_assert_msg(status == 0, "keyd did not exit cleanly on idle (%d); log:\n%s", status, log);
        ck_assert_uint_ge(harness_now_usec() - ready, IDLE_SEC * USEC_PER_SEC - 200000);
        ck_assert_int_eq(harness_wait_notify("STOPPING=1", 1 * USEC_PER_SEC), 0);
        ck_assert_msg(str_contains(log, "No crypto session open for 2 s"), "idle exit not logged:\n%s", log);
}
END_TEST

START_TEST(test_idle_exit_waits_for_sessions) {
        const char *args[] = { IDLE_ARG, NULL };
        keyd_client *c;
        keyd_crypto_session *s;
        keyd_content_protection_caps caps;
        uint64_t closed;
        uint32_t count = 99;
        int status;

        start_bus_and_keyd(args);
        c = open_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        /* Open sessions hold keyd up well past the idle time. */
        ck_assert_msg(keyd_still_running_after((IDLE_SEC + 1) * USEC_PER_SEC),
                      "keyd exited with a session open");
        ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps), KEYD_S_OK);
        ck_assert_int_eq(harness_session_count(&count), 0);
        ck_assert_uint_eq(count, 1);

        /* The countdown starts when the last session closes. */
        s = keyd_crypto_session_release(s);
        closed = harness_now_usec();
        status = harness_wait_keyd_exit((IDLE_SEC + 5) * USEC_PER_SEC);
        ck_assert_int_eq(status, 0);
        ck_assert_uint_ge(harness_now_usec() - closed, IDLE_SEC * USEC_PER_SEC - 200000);
        ck_assert_int_eq(harness_wait_notify("STOPPING=1", 1 * USEC_PER_SEC), 0);

        /* Gone from the bus: the library says the service is not there. */
        ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps),
                     KEYD_E_SERVICE_NOT_ACTIVE);
        keyd_client_close(c);
}
END_TEST

/* A flood of calls queued when the idle time is up: keyd answers them for at
 * most 20 ms per turn of its loop, pinging the watchdog in between, then exits. */
#define FLOOD_CALLS 150000u
#define FLOOD_WATCHDOG_USEC (1000ULL * 1000ULL)

/* Stop keyd (started with --exit-idle-time=1), queue calls to it, and let
 * its idle time run out while it is stopped; keyd stays stopped. */
static void flood_stopped_keyd(sd_bus *bus, unsigned calls) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *owner;

        ck_assert_int_eq(kill(harness_keyd_pid(), SIGSTOP), 0);
        ck_assert_int_ge(sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                            "org.freedesktop.DBus", "GetNameOwner", &error, &reply, "s",
                                            KEYD_BUS_NAME),
                         0);
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &owner), 0);

        /* To keyd's unique name: these reach it even after it gave up the well-known one. */
        for (unsigned i = 0; i < calls; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, owner, KEYD_MANAGER_PATH,
                                                                "org.freedesktop.DBus.Properties", "GetAll"),
                                 0);
                ck_assert_int_ge(sd_bus_message_append(m, "s", KEYD_MANAGER_INTERFACE), 0);
                ck_assert_int_ge(sd_bus_message_set_expect_reply(m, 0), 0);
                ck_assert_int_ge(sd_bus_send(bus, m, NULL), 0);
                if (i % 1024 == 0)
                        ck_assert_int_ge(sd_bus_flush(bus), 0);
        }
        ck_assert_int_ge(sd_bus_flush(bus), 0);
        usleep(1500 * 1000);  /* the idle time is up while keyd is stopped */
        sd_bus_error_free(&error);
}

START_TEST(test_idle_drain_keeps_watchdog) {
        const char *args[] = { "--exit-idle-time=1", NULL };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        uint64_t last_ping, worst_gap = 0, start;
        unsigned pings;
        char buf[32];
        pid_t pid;
        int status = -1;

        /* sd_event pings every half period at the latest. */
        snprintf(buf, sizeof(buf), "%llu", FLOOD_WATCHDOG_USEC);
        ck_assert_int_eq(setenv("WATCHDOG_USEC", buf, 1), 0);
        start_bus_and_keyd(args);
        pid = harness_keyd_pid();
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        flood_stopped_keyd(bus, FLOOD_CALLS);

        pings = harness_count_notify("WATCHDOG=1");
        ck_assert_int_eq(kill(pid, SIGCONT), 0);
        start = last_ping = harness_now_usec();
        while (harness_now_usec() - start < 60 * USEC_PER_SEC) {
                unsigned now_pings = harness_count_notify("WATCHDOG=1");
                uint64_t now = harness_now_usec();

                if (now_pings != pings) {
                        pings = now_pings;
                        last_ping = now;
                }
                worst_gap = MAX(worst_gap, now - last_ping);
                status = harness_wait_keyd_exit(10 * 1000);
                if (status != -ETIMEDOUT)
                        break;
        }
        (void) unsetenv("WATCHDOG_USEC");
        printf("test_idle_drain_keeps_watchdog: longest time without a watchdog ping %" PRIu64 " ms\n",
               worst_gap / 1000);
        ck_assert_msg(status == 0, "keyd did not exit cleanly on idle after the flood (%d)", status);
        ck_assert_msg(worst_gap < FLOOD_WATCHDOG_USEC,
                      "keyd went %" PRIu64 " ms without a watchdog ping (WatchdogSec= %llu ms) while it answered "
                      "%u calls before the idle exit",
                      worst_gap / 1000, FLOOD_WATCHDOG_USEC / 1000, FLOOD_CALLS);
}
END_TEST

/* Under systemd (Type=dbus), giving up the bus name on idle makes systemd
 * send SIGTERM at once. keyd must still answer the calls queued before it
 * gave up the name, and leave by its idle exit. */
#define SIGTERM_FLOOD_CALLS 50000u
#define SIGTERM_TRIES 3u

/* One try with calls queued; whether the SIGTERM came while keyd was still
 * answering them. Either way keyd must exit cleanly by its idle exit. */
static bool sigterm_during_idle_drain(unsigned calls) {
        const char *args[] = { "--exit-idle-time=1", NULL };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *log = NULL;
        uint64_t start;
        pid_t pid;
        int status;

        start_bus_and_keyd(args);
        pid = harness_keyd_pid();
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        flood_stopped_keyd(bus, calls);

        /* As systemd does: SIGTERM once keyd has given up its name. */
        ck_assert_int_eq(kill(pid, SIGCONT), 0);
        start = harness_now_usec();
        for (;;) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int has_owner = 1;

                ck_assert_int_ge(sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                    "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s",
                                                    KEYD_BUS_NAME),
                                 0);
                ck_assert_int_ge(sd_bus_message_read(reply, "b", &has_owner), 0);
                reply = sd_bus_message_unref(reply);
                sd_bus_error_free(&error);
                if (!has_owner)
                        break;
                ck_assert_msg(harness_now_usec() - start < 30 * USEC_PER_SEC, "keyd kept its name for 30 s");
                usleep(1000);
        }
        ck_assert_int_eq(kill(pid, SIGTERM), 0);

        status = harness_wait_keyd_exit(60 * USEC_PER_SEC);
        log = harness_keyd_log();
        ck_assert_msg(status == 0, "keyd did not exit cleanly (%d); log:\n%s", status, log);
        ck_assert_msg(str_contains(log, "No crypto session open for 1 s"),
                      "keyd left before it answered the calls queued before its idle exit; log:\n%s", log);
        return str_contains(log, "Received SIGTERM while exiting on idle");
}

/* Whether the SIGTERM lands inside the drain is a race the test does not
 * control: on a loaded machine keyd once answered all 50,000 calls before
 * the test was scheduled to see its name go (seen in a full run of
 * scripts/run-tests). Such a try proves nothing either way, so it is made
 * again with twice the calls; a keyd that never logs the SIGTERM still fails. */
START_TEST(test_sigterm_during_idle_drain) {
        unsigned calls = SIGTERM_FLOOD_CALLS;

        for (unsigned try = 1;; try++, calls *= 2) {
                if (sigterm_during_idle_drain(calls))
                        return;
                ck_assert_msg(try < SIGTERM_TRIES,
                              "the SIGTERM did not come during the drain of the queued calls in %u tries (the last "
                              "with %u calls)",
                              SIGTERM_TRIES, calls);
                harness_stop();
        }
}
END_TEST

START_TEST(test_no_idle_exit_by_default) {
        start_bus_and_keyd(NULL);
        ck_assert_msg(keyd_still_running_after((IDLE_SEC + 1) * USEC_PER_SEC),
                      "keyd exited by itself without --exit-idle-time");
}
END_TEST

START_TEST(test_exit_idle_time_rejects_garbage) {
        static const char *const bad[] = { "--exit-idle-time=-1", "--exit-idle-time=abc", "--exit-idle-time=",
                                           "--exit-idle-time=86401" };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *argv[] = { harness_binary("KEYD_BINARY"), bad[i], NULL };
                HarnessRun run = {};

                ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
                ck_assert_msg(run.status == EXIT_FAILURE, "%s: exit status %d", bad[i], run.status);
                ck_assert_msg(str_contains(run.err, "Invalid --exit-idle-time="), "%s: stderr: %s", bad[i], run.err);
                harness_run_done(&run);
        }
}
END_TEST

/* ---- the log ---- */

/* Everything secret a session handles in this test. */
typedef struct Secrets {
        uint8_t session_key[16];
        uint8_t content_key[16];
        uint8_t iv[16];
        uint8_t read_back_iv[16];
        uint8_t wrapped_blt_key[16];
        uint8_t refresh_random[16];
} Secrets;

static void hex(const uint8_t *p, size_t n, const char *sep, bool upper, char *out) {
        const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

        *out = 0;
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        out = stpcpy(out, sep);
                *out++ = digits[p[i] >> 4];
                *out++ = digits[p[i] & 15];
                *out = 0;
        }
}

/* No encoding of the 16 bytes, nor of their first or last 8, is in the log. */
static void assert_not_logged(const char *log, const char *what, const uint8_t secret[16]) {
        static const char *const seps[] = { "", " ", ":", ", 0x" };
        char buf[16 * 6 + 1];

        ck_assert_msg(!memmem(log, strlen(log), secret, 16), "%s is in the log as raw bytes", what);
        for (size_t half = 0; half < 3; half++) {
                const uint8_t *p = half == 2 ? secret + 8 : secret;
                size_t n = half == 0 ? 16 : 8;

                for (size_t i = 0; i < ELEMENTSOF(seps); i++)
                        for (int upper = 0; upper <= 1; upper++) {
                                hex(p, n, seps[i], upper, buf);
                                ck_assert_msg(!strstr(log, buf), "%s is in the log: %s", what, buf);
                        }
        }
}

static size_t count_lines_with(const char *log, const char *a, const char *b) {
        size_t n = 0;

        for (const char *line = log; line && *line;) {
                const char *end = strchrnul(line, '\n');
                _cleanup_free_ char *l = strndup(line, (size_t) (end - line));

                if (strstr(l, a) && strstr(l, b))
                        n++;
                line = *end ? end + 1 : end;
        }
        return n;
}

static sd_bus_message *new_call(sd_bus *bus, const char *path, const char *member) {
        sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, member),
                         0);
        return m;
}

static void append_bytes(sd_bus_message *m, const void *p, size_t n) {
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', p, n), 0);
}

/* Send call (consumed) and return the reply; fails the test on an error. */
static sd_bus_message *call(sd_bus *bus, sd_bus_message *m) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *member = strdupa(sd_bus_message_get_member(m));
        int r;

        r = sd_bus_call(bus, m, 0, &error, &reply);
        ck_assert_msg(r >= 0, "%s: %s: %s", member, error.name ?: "", error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        return reply;
}

static void read_16_bytes(sd_bus_message *reply, uint8_t out[16]) {
        const void *p;
        size_t n;

        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &p, &n), 0);
        ck_assert_uint_eq(n, 16);
        memcpy(out, p, 16);
        sd_bus_message_unref(reply);
}

/* A whole session over raw D-Bus, on one connection (sessions belong to it). */
static uint64_t run_secret_session(Secrets *x) {
        sd_bus_message *m, *reply;
        sd_bus *bus = NULL;
        char exchange[KEYD_GUID_STRING_SIZE], crypto[KEYD_GUID_STRING_SIZE];
        const char *path;
        const void *cert;
        size_t cert_size;
        uint8_t wrapped[MODULUS_SIZE], data[64];
        uint32_t surface;
        uint64_t id;

        random_bytes(x, sizeof(*x));
        random_bytes(data, sizeof(data));
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_hr(keyd_guid_to_string(&KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, exchange, sizeof(exchange)), KEYD_S_OK);
        ck_assert_hr(keyd_guid_to_string(&KEYD_CRYPTO_TYPE_AES128_CTR, crypto, sizeof(crypto)), KEYD_S_OK);

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH,
                                                        KEYD_MANAGER_INTERFACE, "CreateCryptoSession"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "sss", crypto, "", exchange), 0);
        reply = call(bus, m);
        ck_assert_int_ge(sd_bus_message_read(reply, "o", &path), 0);
        path = strdupa(path);
        sd_bus_message_unref(reply);
        ck_assert_int_eq(sscanf(path, KEYD_MANAGER_PATH "/session/%" SCNu64, &id), 1);

        reply = call(bus, new_call(bus, path, "GetCertificate"));
        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &cert, &cert_size), 0);
        ck_assert_hr(keyd_wrap_session_key(cert, (uint32_t) cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256,
                                           x->session_key, 16, sizeof(wrapped), wrapped),
                     KEYD_S_OK);
        sd_bus_message_unref(reply);

        m = new_call(bus, path, "NegotiateCryptoSessionKeyExchange");
        append_bytes(m, wrapped, sizeof(wrapped));
        sd_bus_message_unref(call(bus, m));

        m = new_call(bus, path, "CreateSurface");
        ck_assert_int_ge(sd_bus_message_append(m, "u", (uint32_t) sizeof(data)), 0);
        reply = call(bus, m);
        ck_assert_int_ge(sd_bus_message_read(reply, "u", &surface), 0);
        sd_bus_message_unref(reply);

        m = new_call(bus, path, "DecryptionBlt");
        ck_assert_int_ge(sd_bus_message_append(m, "u", surface), 0);
        append_bytes(m, data, sizeof(data));
        ck_assert_int_ge(sd_bus_message_append(m, "(uuu)", 0u, 0u, 0u), 0);
        append_bytes(m, x->content_key, 16);
        append_bytes(m, x->iv, 16);
        sd_bus_message_unref(call(bus, m));

        m = new_call(bus, path, "EncryptionBlt");
        ck_assert_int_ge(sd_bus_message_append(m, "u", surface), 0);
        reply = call(bus, m);
        ck_assert_int_ge(sd_bus_message_skip(reply, "ay"), 0);
        read_16_bytes(reply, x->read_back_iv);  /* keyd's IV */

        m = new_call(bus, path, "GetEncryptionBltKey");
        ck_assert_int_ge(sd_bus_message_append(m, "u", 16u), 0);
        read_16_bytes(call(bus, m), x->wrapped_blt_key);

        m = new_call(bus, path, "StartSessionKeyRefresh");
        ck_assert_int_ge(sd_bus_message_append(m, "u", 16u), 0);
        read_16_bytes(call(bus, m), x->refresh_random);
        sd_bus_message_unref(call(bus, new_call(bus, path, "FinishSessionKeyRefresh")));

        sd_bus_message_unref(call(bus, new_call(bus, path, "Close")));
        sd_bus_flush_close_unref(bus);
        return id;
}

START_TEST(test_session_events_logged_once_without_secrets) {
        const char *args[] = { "--log-level=debug", NULL };
        _cleanup_free_ char *log = NULL;
        char session[64], pid[32];
        Secrets x;
        uint64_t id;
        uint32_t count = 1;

        start_bus_and_keyd(args);
        id = run_secret_session(&x);
        ck_assert_int_eq(harness_wait_session_count(0, 5 * USEC_PER_SEC, &count), 0);
        ck_assert_int_eq(harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC), 0);
        log = harness_keyd_log();
        ck_assert_ptr_nonnull(log);

        /* Plain lines for people: no "<N>" prefixes without JOURNAL_STREAM. */
        ck_assert_msg(!strstr(log, "<6>") && !strstr(log, "<7>"), "journal prefixes without JOURNAL_STREAM:\n%s", log);

        snprintf(session, sizeof(session), "Session %" PRIu64 " ", id);
        snprintf(pid, sizeof(pid), "(uid %u, pid %i)", (unsigned) getuid(), (int) getpid());
        ck_assert_msg(count_lines_with(log, session, "created") == 1, "%s created: not logged exactly once:\n%s",
                      session, log);
        ck_assert_msg(count_lines_with(log, session, "destroyed") == 1, "%s destroyed: not logged exactly once:\n%s",
                      session, log);
        ck_assert_msg(count_lines_with(log, "created", pid) == 1, "creation lacks the owner's %s:\n%s", pid, log);
        ck_assert_msg(count_lines_with(log, "destroyed", pid) == 1, "destruction lacks the owner's %s:\n%s", pid, log);

        assert_not_logged(log, "the session key", x.session_key);
        assert_not_logged(log, "the content key", x.content_key);
        assert_not_logged(log, "the DecryptionBlt IV", x.iv);
        assert_not_logged(log, "the EncryptionBlt IV", x.read_back_iv);
        assert_not_logged(log, "the wrapped read-back key", x.wrapped_blt_key);
        assert_not_logged(log, "the key refresh random number", x.refresh_random);
}
END_TEST

static Suite *lifecycle_suite(void) {
        Suite *s = suite_create("service-lifecycle");
        TCase *tc;

        tc = tcase_create("notify");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_ready_after_name_owned);
        tcase_add_test(tc, test_status_follows_sessions);
        tcase_add_test(tc, test_stopping_on_sigterm);
        suite_add_tcase(s, tc);

        tc = tcase_create("idle");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_idle_exit_without_sessions);
        tcase_add_test(tc, test_idle_exit_waits_for_sessions);
        tcase_add_test(tc, test_idle_drain_keeps_watchdog);
        tcase_add_test(tc, test_sigterm_during_idle_drain);
        tcase_add_test(tc, test_no_idle_exit_by_default);
        tcase_add_test(tc, test_exit_idle_time_rejects_garbage);
        suite_add_tcase(s, tc);

        tc = tcase_create("log");
        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_session_events_logged_once_without_secrets);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(lifecycle_suite());
}
