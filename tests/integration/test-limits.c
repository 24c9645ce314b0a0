/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd's memory and session limits hold against one user who tries to take
 * everything, and what is left still works for everyone else:
 * - surfaces cost their quota what they really lock, whole pages: a flood
 *   of 16-byte surfaces locks no more than the quota;
 * - one uid with many connections gets --max-sessions-per-user and
 *   --max-memory-per-user over all of them, and another user (nobody)
 *   still creates a session and negotiates;
 * - with locked memory used up (keyd without CAP_IPC_LOCK, under a small
 *   RLIMIT_MEMLOCK), key exchanges still succeed or answer OutOfMemory:
 *   keyd never aborts in the middle of an RSA operation;
 * - shared memory keyd would pay for: a sealed memfd of holes is refused
 *   before keyd reads it, and read-back results, written into
 *   memfds the client supplies (EncryptionBltToFd), cost keyd nothing however
 *   long the client keeps them. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abuse-util.h"
#include "harness.h"
#include "test-util.h"

#define NOBODY_UID 65534
#define NOBODY_GID 65534
#define PAGE 4096U

static void teardown(void) {
        harness_stop();
}

/* 16-byte surfaces on s until keyd says no; how many it made. */
static unsigned flood_tiny_surfaces(keyd_crypto_session *s, unsigned at_most, HRESULT *ret_last) {
        unsigned n = 0;
        uint32_t id;
        HRESULT hr = KEYD_S_OK;

        while (n < at_most) {
                hr = keyd_create_surface(s, 16, &id);
                if (hr != KEYD_S_OK)
                        break;
                n++;
        }
        *ret_last = hr;
        return n;
}

/* ---- surfaces count whole pages ---- */

#define QUOTA (64U * 1024U)

START_TEST(test_tiny_surfaces_count_pages) {
        const char *args[] = { "--max-surface-bytes-per-client=65536", NULL };
        keyd_client *c;
        keyd_crypto_session *s;
        long before, after;
        unsigned n;
        HRESULT hr;

        start_bus_and_keyd(args);
        c = open_patient_client();
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        before = proc_status_kib(harness_keyd_pid(), "VmLck");
        ck_assert_int_ge(before, 0);

        /* 16 bytes asked, a page locked: the quota holds QUOTA / PAGE of them. */
        n = flood_tiny_surfaces(s, QUOTA, &hr);
        after = proc_status_kib(harness_keyd_pid(), "VmLck");
        ck_assert_msg(hr == KEYD_E_OUTOFMEMORY && str_contains(keyd_last_error_message(), "quota"),
                      "surface %u: 0x%08X \"%s\" (expected the quota's OutOfMemory)", n + 1, (unsigned) hr,
                      keyd_last_error_message());
        ck_assert_msg((after - before) * 1024 <= QUOTA,
                      "%u surfaces of 16 bytes locked %ld KiB in keyd; the connection's quota is %u KiB", n,
                      after - before, QUOTA / 1024);
        ck_assert_msg(str_contains(keyd_last_error_message(), "4096 bytes locked"),
                      "the quota message does not say what a 16-byte surface locks: %s", keyd_last_error_message());
        ck_assert_uint_eq(n, QUOTA / PAGE);

        /* Destroying them gives the pages back. */
        keyd_crypto_session_release(s);
        ck_assert_int_eq(harness_wait_session_count(0, 5 * USEC_PER_SEC, NULL), 0);
        ck_assert_int_le(proc_status_kib(harness_keyd_pid(), "VmLck"), before);
        keyd_client_close(c);
}
END_TEST

/* ---- one user, many connections ---- */

#define USER_SESSIONS 6U
#define USER_MEMORY (96U * 1024U)
#define N_CONNECTIONS 8U

static const char *const user_args[] = {
        "--max-sessions=16", "--max-sessions-per-client=4", "--max-sessions-per-user=6",
        "--max-surface-bytes-per-client=65536", "--max-memory-per-user=98304", NULL,
};

static bool drop_to_nobody(void) {
        return setgroups(0, NULL) == 0 && setresgid(NOBODY_GID, NOBODY_GID, NOBODY_GID) == 0 &&
               setresuid(NOBODY_UID, NOBODY_UID, NOBODY_UID) == 0 && geteuid() == NOBODY_UID;
}

/* nobody creates a session, negotiates a key and checks its status; the
 * exit status says how far it got (0: all of it). Messages on stderr. */
_Noreturn static void nobody_negotiates(const uint8_t *cert, uint32_t cert_size) {
        keyd_client *c = NULL;
        keyd_crypto_session *s = NULL;
        keyd_crypto_session_status status = 9;
        uint8_t key[KEY_SIZE], data[MODULUS_SIZE];
        uint32_t surface;
        HRESULT hr;

        if (!drop_to_nobody())
                _exit(2);
        hr = keyd_client_open_address(harness_bus_address(), &c);
        if (hr != KEYD_S_OK) {
                fprintf(stderr, "nobody cannot open a client: 0x%08X %s\n", (unsigned) hr, keyd_last_error_message());
                _exit(3);
        }
        hr = keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP, &s);
        if (hr != KEYD_S_OK) {
                fprintf(stderr, "nobody's session: 0x%08X %s\n", (unsigned) hr, keyd_last_error_message());
                _exit(4);
        }
        if (getrandom(key, sizeof(key), 0) != sizeof(key))
                _exit(5);
        hr = keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, sizeof(key), sizeof(data),
                                   data);
        if (hr == KEYD_S_OK)
                hr = keyd_negotiate_crypto_session_key_exchange(s, sizeof(data), data);
        if (hr != KEYD_S_OK) {
                fprintf(stderr, "nobody's key exchange: 0x%08X %s\n", (unsigned) hr, keyd_last_error_message());
                _exit(6);
        }
        hr = keyd_create_surface(s, 4096, &surface);
        if (hr != KEYD_S_OK) {
                fprintf(stderr, "nobody's surface: 0x%08X %s\n", (unsigned) hr, keyd_last_error_message());
                _exit(7);
        }
        hr = keyd_check_crypto_session_status(s, &status);
        if (hr != KEYD_S_OK || status != KEYD_CRYPTO_SESSION_STATUS_OK)
                _exit(8);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
        _exit(0);
}

/* Let nobody reach the bus socket: the harness's directories are 0700. */
static void let_nobody_in(void) {
        _cleanup_free_ char *run_dir = strdup(harness_tmpdir());

        ck_assert_ptr_nonnull(run_dir);
        ck_assert_int_eq(chmod(harness_tmpdir(), 0711), 0);
        ck_assert_int_eq(chmod(dirname(run_dir), 0711), 0);
}

static void check_nobody_negotiates(keyd_crypto_session *any) {
        uint32_t cert_size;
        _cleanup_free_ uint8_t *cert = get_certificate(any, &cert_size);
        int status;
        pid_t pid;

        let_nobody_in();
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                nobody_negotiates(cert, cert_size);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "another user could not work beside the flood (child status 0x%x; its stderr says why)",
                      (unsigned) status);
}

START_TEST(test_one_user_many_connections) {
        keyd_client *c[N_CONNECTIONS];
        keyd_crypto_session *s[N_CONNECTIONS][4] = {};
        unsigned sessions = 0, surfaces = 0;
        long before, after;
        HRESULT hr, last_session = KEYD_S_OK, last_surface = KEYD_S_OK;
        _cleanup_free_ char *last_session_msg = NULL, *last_surface_msg = NULL;

        start_bus_and_keyd(user_args);
        before = proc_status_kib(harness_keyd_pid(), "VmLck");

        /* root: every connection takes what it may. */
        for (unsigned i = 0; i < N_CONNECTIONS; i++) {
                c[i] = open_patient_client();
                for (unsigned k = 0; k < 4; k++) {
                        hr = keyd_create_crypto_session(c[i], &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                        &KEYD_KEY_EXCHANGE_RSAES_OAEP, &s[i][k]);
                        if (hr != KEYD_S_OK) {
                                last_session = hr;
                                free(last_session_msg);
                                last_session_msg = strdup(keyd_last_error_message());
                                continue;
                        }
                        sessions++;
                }
                if (s[i][0]) {
                        unsigned n = flood_tiny_surfaces(s[i][0], 1024, &hr);
                        surfaces += n;
                        if (hr != KEYD_S_OK) {
                                last_surface = hr;
                                free(last_surface_msg);
                                last_surface_msg = strdup(keyd_last_error_message());
                        }
                }
        }
        after = proc_status_kib(harness_keyd_pid(), "VmLck");

        ck_assert_msg(sessions == USER_SESSIONS, "root holds %u sessions over %u connections; at most %u per user",
                      sessions, N_CONNECTIONS, USER_SESSIONS);
        ck_assert_msg(last_session == KEYD_E_OUTOFMEMORY && str_contains(last_session_msg, "--max-sessions-per-user"),
                      "the session past the user's limit: 0x%08X \"%s\"", (unsigned) last_session,
                      last_session_msg ?: "");
        ck_assert_msg(surfaces == USER_MEMORY / PAGE, "root holds %u one-page surfaces; at most %u per user", surfaces,
                      USER_MEMORY / PAGE);
        ck_assert_msg(last_surface == KEYD_E_OUTOFMEMORY && str_contains(last_surface_msg, "--max-memory-per-user"),
                      "the surface past the user's memory: 0x%08X \"%s\"", (unsigned) last_surface,
                      last_surface_msg ?: "");
        ck_assert_msg((after - before) * 1024 <= USER_MEMORY + 64 * 1024,
                      "root's connections locked %ld KiB in keyd; a user may have %u KiB", after - before,
                      USER_MEMORY / 1024);

        /* Another user still gets a session, a key and a surface. */
        check_nobody_negotiates(s[0][0]);

        for (unsigned i = 0; i < N_CONNECTIONS; i++) {
                for (unsigned k = 0; k < 4; k++)
                        keyd_crypto_session_release(s[i][k]);
                keyd_client_close(c[i]);
        }
}
END_TEST

/* ---- locked memory used up ---- */

#define MEMLOCK_LIMIT (8U * 1024U * 1024U)

/* keyd (our child) without CAP_IPC_LOCK, so that RLIMIT_MEMLOCK binds it. */
static void lose_ipc_lock(void) {
        struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };

        ck_assert_int_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
        ck_assert_msg(prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) == 0, "cannot drop CAP_IPC_LOCK: %m");
}

START_TEST(test_locked_memory_used_up) {
        const char *args[] = { "--max-memory-per-user=1073741824", "--max-surface-bytes-per-client=1073741824",
                               NULL };
        keyd_client *flooder, *c;
        keyd_crypto_session *flood, *s[4];
        unsigned n, ok = 0, refused = 0;
        uint8_t key[KEY_SIZE];
        HRESULT hr;

        lose_ipc_lock();
        start_bus_and_keyd(args);
        c = open_patient_client();
        for (unsigned i = 0; i < ELEMENTSOF(s); i++)
                s[i] = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);

        /* Take every locked page there is. */
        flooder = open_patient_client();
        flood = create_session(flooder, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        n = flood_tiny_surfaces(flood, MEMLOCK_LIMIT / PAGE, &hr);
        ck_assert_msg(hr == KEYD_E_OUTOFMEMORY,
                      "surface %u: 0x%08X \"%s\" (expected OutOfMemory once locked memory is used up)", n + 1,
                      (unsigned) hr, keyd_last_error_message());
        ck_assert_msg(str_contains(keyd_last_error_message(), "--max-locked-memory"),
                      "the message does not name the limit: %s", keyd_last_error_message());

        /* Key exchanges now: each succeeds or says OutOfMemory, and keyd stays. */
        for (unsigned round = 0; round < 3; round++)
                for (unsigned i = 0; i < ELEMENTSOF(s); i++) {
                        uint32_t cert_size;
                        _cleanup_free_ uint8_t *cert = get_certificate(s[i], &cert_size);
                        uint8_t data[MODULUS_SIZE];

                        random_bytes(key, sizeof(key));
                        ck_assert_hr(keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key,
                                                           sizeof(key), sizeof(data), data),
                                     KEYD_S_OK);
                        hr = keyd_negotiate_crypto_session_key_exchange(s[i], sizeof(data), data);
                        ck_assert_msg(hr == KEYD_S_OK || hr == KEYD_E_OUTOFMEMORY,
                                      "key exchange with locked memory used up: 0x%08X \"%s\"", (unsigned) hr,
                                      keyd_last_error_message());
                        if (hr == KEYD_S_OK)
                                ok++;
                        else
                                refused++;
                }
        ck_assert_msg(kill(harness_keyd_pid(), 0) == 0, "keyd is gone after %u key exchanges and %u refusals", ok,
                      refused);
        printf("With locked memory used up: %u key exchanges succeeded, %u answered OutOfMemory.\n", ok, refused);

        /* Once the flood is gone, everything works again. */
        keyd_crypto_session_release(flood);
        keyd_client_close(flooder);
        ck_assert_int_eq(harness_wait_session_count(ELEMENTSOF(s), 5 * USEC_PER_SEC, NULL), 0);
        for (unsigned i = 0; i < ELEMENTSOF(s); i++) {
                negotiate_fresh_key(s[i], &KEYD_KEY_EXCHANGE_RSAES_OAEP);
                keyd_crypto_session_release(s[i]);
        }
        keyd_client_close(c);
}
END_TEST


/* ---- shared memory ---- */

/* DecryptionBltFd of fd into surface of the session at path; the error in *error. */
static int raw_decryption_blt_fd(sd_bus *bus, const char *path, uint32_t surface, int fd, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        static const uint8_t iv[IV_SIZE];

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "DecryptionBltFd"),
                         0);
        ck_assert_int_ge(sd_bus_message_append(m, "uh(uuu)", surface, fd, 0, 0, 0), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', NULL, 0), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', iv, sizeof(iv)), 0);
        return sd_bus_call(bus, m, 30 * USEC_PER_SEC, error, NULL);
}

/* EncryptionBltToFd of surface into a new memfd of ours (size bytes,
 * written, sealed against shrink and grow): the memfd, or -errno with error set. */
static int raw_encryption_blt_to_fd(sd_bus *bus, const char *path, uint32_t surface, uint32_t size,
                                    sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ uint8_t *junk = calloc(1, size);
        int r, fd;

        ck_assert_ptr_nonnull(junk);
        fd = memfd_create("test-limits-readback", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, junk, size, 0), (ssize_t) size);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "EncryptionBltToFd"),
                         0);
        ck_assert_int_ge(sd_bus_message_append(m, "uh", surface, fd), 0);
        r = sd_bus_call(bus, m, 30 * USEC_PER_SEC, error, &reply);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

#define SPARSE_SIZE (8U * 1024U * 1024U)

START_TEST(test_sparse_memfd_refused) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        Bystander by;
        uint32_t surface;
        int fd, r;

        start_bus_and_keyd(NULL);
        bystander_open(&by);
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        path = raw_session_with_surface(bus, &by, SPARSE_SIZE, &surface);

        /* 8 MiB of holes, sealed: it costs its sender nothing. */
        fd = memfd_create("test-limits-sparse", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, SPARSE_SIZE), 0);
        ck_assert_int_eq(pwrite(fd, "x", 1, 0), 1);  /* one page written, the rest holes */
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);

        r = raw_decryption_blt_fd(bus, path, surface, fd, &error);
        ck_assert_msg(r < 0 && sd_bus_error_has_name(&error, ERROR_INVALID_ARG) && str_contains(error.message, "hole"),
                      "DecryptionBltFd of a sparse memfd: r=%d %s: %s (expected InvalidArg about its holes)", r,
                      error.name ?: "-", error.message ?: "-");
        ck_assert_msg(str_contains(error.message, "4096"), "the message does not say where the hole is: %s",
                      error.message);
        sd_bus_error_free(&error);
        close(fd);

        /* Every byte but the last MiB written: keyd finds that hole while
         * its workers decrypt the pieces before it, and says where it is. */
        fd = memfd_create("test-limits-sparse-tail", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, SPARSE_SIZE), 0);
        {
                _cleanup_free_ uint8_t *bytes = calloc(1, SPARSE_SIZE - 1024 * 1024);
                char where[32];

                ck_assert_ptr_nonnull(bytes);
                ck_assert_int_eq(pwrite(fd, bytes, SPARSE_SIZE - 1024 * 1024, 0), SPARSE_SIZE - 1024 * 1024);
                ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);
                r = raw_decryption_blt_fd(bus, path, surface, fd, &error);
                snprintf(where, sizeof(where), "%u", SPARSE_SIZE - 1024 * 1024);
                ck_assert_msg(r < 0 && sd_bus_error_has_name(&error, ERROR_INVALID_ARG) &&
                                      str_contains(error.message, where),
                              "DecryptionBltFd of a memfd with a hole at %s: r=%d %s: %s", where, r,
                              error.name ?: "-", error.message ?: "-");
        }
        sd_bus_error_free(&error);
        close(fd);

        bystander_check(&by, "a sparse memfd");
        bystander_close(&by);
}
END_TEST

#define RB_QUOTA (512U * 1024U)
#define RB_SURFACE (256U * 1024U)

/* Issue 18, item 1: read-backs cost keyd nothing, so hoarding them takes
 * nothing from anyone. The caller supplies the pages (EncryptionBltToFd):
 * results kept open, mapped, or spliced into pipes are the caller's memory,
 * and neither the connection's quota nor its user's memory counts them.
 * (With the keyd-made EncryptionBltFd memfds of before, the third result
 * here was refused and a user's results outlived its connection's charge.) */
START_TEST(test_readback_results_are_not_keyds) {
        const char *args[] = { "--max-surface-bytes-per-client=524288", "--max-memory-per-user=1048576", NULL };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL, *bus2 = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *path2 = NULL;
        int fds[8], pipes[2];
        uint32_t surface, surface2, extra;
        Bystander by;
        void *map;

        start_bus_and_keyd(args);
        bystander_open(&by);
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        path = raw_session_with_surface(bus, &by, RB_SURFACE, &surface);

        /* Eight results of a 256 KiB surface, 2 MiB in all, four times the
         * connection's quota and twice the user's memory, all kept. */
        for (unsigned i = 0; i < ELEMENTSOF(fds); i++) {
                fds[i] = raw_encryption_blt_to_fd(bus, path, surface, RB_SURFACE, &error);
                ck_assert_msg(fds[i] >= 0, "EncryptionBltToFd %u with %u results kept: %s", i + 1, i,
                              error.message ?: "-");
        }
        /* One closed but mapped, one spliced into a pipe and closed. */
        map = mmap(NULL, RB_SURFACE, PROT_READ, MAP_SHARED, fds[0], 0);
        ck_assert_ptr_ne(map, MAP_FAILED);
        close(fds[0]);
        ck_assert_int_eq(pipe2(pipes, O_CLOEXEC), 0);
        ck_assert_int_ge(fcntl(pipes[1], F_SETPIPE_SZ, (int) RB_SURFACE), (int) RB_SURFACE);
        loff_t off = 0;
        ck_assert_int_eq(splice(fds[1], &off, pipes[1], NULL, RB_SURFACE, SPLICE_F_NONBLOCK), (ssize_t) RB_SURFACE);
        close(fds[1]);

        /* The connection's quota holds its one surface: a second of the same size fits. */
        ck_assert_int_ge(sd_bus_call_method(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "CreateSurface", &error,
                                            NULL, "u", RB_SURFACE),
                         0);

        /* The connection goes, the results stay with us: its user's memory is
         * all there for a new connection (the bystander holds one page). */
        bus = sd_bus_flush_close_unref(bus);
        ck_assert_int_eq(harness_wait_session_count(1, 5 * USEC_PER_SEC, NULL), 0);
        ck_assert_int_eq(harness_open_bus(&bus2), 0);
        path2 = raw_session_with_surface(bus2, &by, RB_QUOTA, &surface2);
        sd_bus *bus3 = NULL;
        ck_assert_int_eq(harness_open_bus(&bus3), 0);
        _cleanup_free_ char *path3 = raw_session_with_surface(bus3, &by, RB_QUOTA - PAGE, &extra);
        sd_bus_flush_close_unref(bus3);

        for (unsigned i = 2; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        munmap(map, RB_SURFACE);
        close(pipes[0]);
        close(pipes[1]);
        bystander_check(&by, "hoarded read-back results");
        bystander_close(&by);
}
END_TEST

static Suite *limits_suite(void) {
        Suite *s = suite_create("limits");
        TCase *tc = tcase_create("memory");

        tcase_add_checked_fixture(tc, NULL, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_tiny_surfaces_count_pages);
        tcase_add_test(tc, test_one_user_many_connections);
        tcase_add_test(tc, test_locked_memory_used_up);
        tcase_add_test(tc, test_sparse_memfd_refused);
        tcase_add_test(tc, test_readback_results_are_not_keyds);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(limits_suite());
}
