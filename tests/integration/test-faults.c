/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Faults: keyd killed under a client, keyd absent, keyd stopped (timeouts),
 * clients that vanish with sessions open, orderly shutdown on SIGTERM, the
 * bus going away, a second keyd on the same bus and bad command lines. */

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test-util.h"


static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void setup_bus_only(void) {
        harness_start_bus();
}

static void teardown(void) {
        harness_stop();
}

/* ---- keyd killed ---- */

START_TEST(test_sigkill_then_restart) {
        keyd_client *c = open_patient_client();
        keyd_crypto_session *old = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP), *fresh;
        keyd_crypto_session_status status;
        keyd_content_protection_caps caps;
        uint8_t data[MODULUS_SIZE];
        uint64_t start, handle;

        negotiate_fresh_key(old, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_int_eq(harness_kill_keyd(SIGKILL, 10 * USEC_PER_SEC), 128 + SIGKILL);

        start = harness_now_usec();
        ck_assert_hr(keyd_check_crypto_session_status(old, &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        random_bytes(data, sizeof(data));
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(old, sizeof(data), data),
                     KEYD_DXGI_ERROR_DEVICE_REMOVED);
        /* The manager is not there either: the service is not active. */
        ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps),
                     KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_uint_lt(harness_now_usec() - start, PROMPT_USEC);

        /* A new keyd serves the same client at once. */
        ck_assert_int_eq(harness_start_keyd(NULL), 0);
        fresh = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(fresh, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_hr(keyd_check_crypto_session_status(fresh, &status), KEYD_S_OK);

        /* The new keyd numbers its sessions from the start again, so the new
         * session may well have the old one's object path: calls on the old
         * session must still not reach it. */
        ck_assert_hr(keyd_check_crypto_session_status(old, &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_hr(keyd_crypto_session_get_handle(fresh, &handle), KEYD_S_OK);
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(old, sizeof(data), data),
                     KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_hr(keyd_check_crypto_session_status(fresh, &status), KEYD_S_OK);

        keyd_crypto_session_release(old);
        keyd_crypto_session_release(fresh);
        keyd_client_close(c);
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, NULL), 0);
}
END_TEST

typedef struct StatusCall {
        keyd_crypto_session *session;
        HRESULT hr;
        uint64_t usec;
} StatusCall;

static void *call_status(void *userdata) {
        StatusCall *call = userdata;
        keyd_crypto_session_status status;
        uint64_t start = harness_now_usec();

        call->hr = keyd_check_crypto_session_status(call->session, &status);
        call->usec = harness_now_usec() - start;
        return NULL;
}

START_TEST(test_sigkill_during_call) {
        keyd_client *c = open_patient_client();
        StatusCall call = { .session = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP) };
        pthread_t thread;

        /* Freeze keyd, make a call it cannot answer, then kill it: the
         * caller learns at once that the session is gone. */
        ck_assert_int_eq(kill(harness_keyd_pid(), SIGSTOP), 0);
        ck_assert_int_eq(pthread_create(&thread, NULL, call_status, &call), 0);
        usleep(300 * 1000);
        ck_assert_int_eq(harness_kill_keyd(SIGKILL, 10 * USEC_PER_SEC), 128 + SIGKILL);
        ck_assert_int_eq(pthread_join(thread, NULL), 0);

        ck_assert_msg(call.hr == KEYD_DXGI_ERROR_DEVICE_REMOVED, "got 0x%08X after %llu ms", (unsigned) call.hr,
                      (unsigned long long) call.usec / 1000);
        ck_assert_uint_lt(call.usec, PROMPT_USEC);

        keyd_crypto_session_release(call.session);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_keyd_stopped_times_out) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session_status status;
        keyd_content_protection_caps caps;
        uint64_t start, took;

        ck_assert_hr(keyd_client_set_timeout(c, 400 * 1000), KEYD_S_OK);
        ck_assert_int_eq(kill(harness_keyd_pid(), SIGSTOP), 0);

        start = harness_now_usec();
        ck_assert_hr(keyd_check_crypto_session_status(s, &status), KEYD_E_TIMEOUT);
        took = harness_now_usec() - start;
        ck_assert_uint_ge(took, 350 * 1000);
        ck_assert_uint_lt(took, PROMPT_USEC);
        ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps), KEYD_E_TIMEOUT);

        /* A slow keyd is not a lost one: the session works once it runs again. */
        ck_assert_int_eq(kill(harness_keyd_pid(), SIGCONT), 0);
        ck_assert_hr(keyd_client_set_timeout(c, 0), KEYD_S_OK);
        ck_assert_hr(keyd_check_crypto_session_status(s, &status), KEYD_S_OK);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- no keyd ---- */

START_TEST(test_no_keyd) {
        keyd_client *c = open_patient_client();
        keyd_crypto_session *s = NULL;
        keyd_content_protection_caps caps;
        uint64_t start = harness_now_usec();
        keyd_guid g;

        ck_assert_hr(keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                &s),
                     KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_uint_eq((uint32_t) KEYD_E_SERVICE_NOT_ACTIVE, 0x80070426u);
        ck_assert_ptr_null(s);
        ck_assert_msg(str_contains(keyd_last_error_message(), "CreateCryptoSession") &&
                              str_contains(keyd_last_error_message(), "not running"),
                      "message: %s", keyd_last_error_message());
        ck_assert_hr(keyd_get_content_protection_caps(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &caps),
                     KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_hr(keyd_check_crypto_key_exchange(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, 0, &g),
                     KEYD_E_SERVICE_NOT_ACTIVE);
        /* Answered by the bus, not by a timeout. */
        ck_assert_uint_lt(harness_now_usec() - start, PROMPT_USEC);

        /* Once keyd is there, the same client works. */
        ck_assert_int_eq(harness_start_keyd(NULL), 0);
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_no_bus) {
        _cleanup_free_ char *address = NULL;
        keyd_client *c = NULL;

        ck_assert_int_gt(asprintf(&address, "unix:path=%s/no-such-bus", harness_tmpdir()), 0);
        ck_assert_hr(keyd_client_open_address(address, &c), KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_ptr_null(c);
        ck_assert_msg(strlen(keyd_last_error_message()) > 0, "no message");
}
END_TEST

/* ---- clients that go away ---- */

START_TEST(test_client_close_frees_sessions) {
        keyd_client *c = open_client();
        keyd_crypto_session *s[3];
        uint32_t v = 0;

        for (size_t i = 0; i < ELEMENTSOF(s); i++) {
                s[i] = create_session(c, oaep_exchanges[i].guid);
                negotiate_fresh_key(s[i], oaep_exchanges[i].guid);
        }
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 3);

        keyd_client_close(c);
        ck_assert_msg(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v) == 0, "SessionCount stays at %u", v);

        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                keyd_crypto_session_release(s[i]);
}
END_TEST

START_TEST(test_client_process_killed) {
        int ready[2];
        pid_t pid;
        char byte = 0;
        uint32_t v = 0;
        int status;

        ck_assert_int_eq(pipe(ready), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* A client that dies without closing anything. */
                keyd_client *c = NULL;
                keyd_crypto_session *s = NULL;

                close(ready[0]);
                if (KEYD_FAILED(keyd_client_open_address(harness_bus_address(), &c)))
                        _exit(1);
                for (int i = 0; i < 5; i++)
                        if (KEYD_FAILED(keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                                   &KEYD_KEY_EXCHANGE_RSAES_OAEP, &s)))
                                _exit(2);
                if (write(ready[1], "r", 1) != 1)
                        _exit(3);
                for (;;)
                        pause();
        }
        close(ready[1]);
        ck_assert_int_eq(read(ready[0], &byte, 1), 1);
        close(ready[0]);

        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 5);

        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v) == 0, "SessionCount stays at %u", v);

        /* keyd says whose sessions it dropped. */
        _cleanup_free_ char *log = harness_keyd_log();
        ck_assert_msg(str_contains(log, "disconnected"), "keyd's log: %s", log);
}
END_TEST

/* ---- orderly and disorderly ends ---- */

START_TEST(test_sigterm) {
        keyd_client *c = open_client();
        keyd_crypto_session *s1 = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *s2 = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        keyd_crypto_session_status status;
        _cleanup_free_ char *log = NULL;

        ck_assert_int_eq(harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC), 0);
        ck_assert_int_eq(harness_wait_notify("STOPPING=1", 0), 0);

        log = harness_keyd_log();
        ck_assert_msg(str_contains(log, "SIGTERM") && str_contains(log, "2 session"), "keyd's log: %s", log);
        ck_assert_msg(str_contains(log, "stopped"), "keyd's log: %s", log);

        ck_assert_hr(keyd_check_crypto_session_status(s1, &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_hr(keyd_check_crypto_session_status(s2, &status), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        keyd_crypto_session_release(s1);
        keyd_crypto_session_release(s2);
        keyd_client_close(c);

        /* SIGINT is the same orderly exit. */
        ck_assert_int_eq(harness_start_keyd(NULL), 0);
        ck_assert_int_eq(harness_kill_keyd(SIGINT, 10 * USEC_PER_SEC), 0);
}
END_TEST

START_TEST(test_bus_goes_away) {
        _cleanup_free_ char *log = NULL;
        int r;

        harness_stop_bus();
        r = harness_wait_keyd_exit(10 * USEC_PER_SEC);
        ck_assert_msg(r > 0 && r < 128, "keyd ended with %d when its bus went away; expected a failure exit", r);
        log = harness_keyd_log();
        ck_assert_msg(str_contains(log, "connection to the bus"), "keyd's log: %s", log);
}
END_TEST

START_TEST(test_second_keyd) {
        _cleanup_free_ char *bus_env = NULL, *state_arg = NULL;
        HarnessRun run;
        keyd_client *c;
        keyd_crypto_session *s;

        ck_assert_int_gt(asprintf(&bus_env, "DBUS_SYSTEM_BUS_ADDRESS=%s", harness_bus_address()), 0);
        ck_assert_int_gt(asprintf(&state_arg, "--state-dir=%s", harness_state_dir()), 0);
        const char *argv[] = { "env", bus_env, harness_binary("KEYD_BINARY"), "--bus=system", "--backend=software",
                               state_arg, NULL };
        ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
        ck_assert_int_ne(run.status, 0);
        ck_assert_msg(str_contains(run.err, "org.keyd.KeyBroker1") && str_contains(run.err, "already"),
                      "second keyd said: %s", run.err);
        harness_run_done(&run);

        /* The first one serves on. */
        c = open_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        negotiate_fresh_key(s, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_bad_command_lines) {
        _cleanup_free_ char *file_state = NULL;
        const char *keyd = harness_binary("KEYD_BINARY");
        struct {
                const char *arg;
                const char *says;
        } cases[] = {
                { "--max-sessions=0", "--max-sessions" },
                { "--max-sessions-per-client=-1", "--max-sessions-per-client" },
                { "--rsa-bits=1024", "--rsa-bits" },
                { "--bus=peer", "--bus" },
                { "--backend=magic", "--backend" },
                { "--log-level=loud", "--log-level" },
                { "stray", "stray" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *argv[] = { keyd, cases[i].arg, NULL };
                HarnessRun run;

                ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
                ck_assert_msg(run.status == 1, "keyd %s exited %d", cases[i].arg, run.status);
                ck_assert_msg(str_contains(run.err, cases[i].says), "keyd %s said: %s", cases[i].arg, run.err);
                harness_run_done(&run);
        }

        /* A state directory that is a file: keyd refuses and names it. */
        file_state = harness_write_file("not-a-dir", "x", 1);
        {
                _cleanup_free_ char *bus_env = NULL, *state_arg = NULL;
                HarnessRun run;

                ck_assert_int_gt(asprintf(&bus_env, "DBUS_SYSTEM_BUS_ADDRESS=%s", harness_bus_address()), 0);
                ck_assert_int_gt(asprintf(&state_arg, "--state-dir=%s", file_state), 0);
                const char *argv[] = { "env", bus_env, keyd, "--bus=system", "--backend=software", state_arg, NULL };
                ck_assert_int_eq(harness_run(argv, NULL, 0, &run), 0);
                ck_assert_int_ne(run.status, 0);
                ck_assert_msg(str_contains(run.err, file_state), "keyd said: %s", run.err);
                harness_run_done(&run);
        }
}
END_TEST

static Suite *faults_suite(void) {
        Suite *s = suite_create("faults");
        TCase *tc;

        tc = tcase_create("keyd-running");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_sigkill_then_restart);
        tcase_add_test(tc, test_sigkill_during_call);
        tcase_add_test(tc, test_keyd_stopped_times_out);
        tcase_add_test(tc, test_client_close_frees_sessions);
        tcase_add_test(tc, test_client_process_killed);
        tcase_add_test(tc, test_sigterm);
        tcase_add_test(tc, test_bus_goes_away);
        tcase_add_test(tc, test_second_keyd);
        suite_add_tcase(s, tc);

        tc = tcase_create("no-keyd");
        tcase_add_checked_fixture(tc, setup_bus_only, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_no_keyd);
        tcase_add_test(tc, test_no_bus);
        tcase_add_test(tc, test_bad_command_lines);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(faults_suite());
}
