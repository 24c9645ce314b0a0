/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A memfd must not change size between keyd's checks of it. keyd reads a
 * DecryptionBltFd memfd's seals and its size in two steps; the debug hook
 * SetMemfdCheckDelay (daemon/test-hooks.h) holds keyd between them, and the
 * client uses that time to shrink its still unsealed memfd and then seal
 * it. Had keyd taken the size first, it would map 64 KiB of a 4 KiB file
 * and die of SIGBUS in the Blt; it must answer InvalidArg (the memfd lacked
 * its seals when keyd looked) and keep serving.
 *
 * An EncryptionBltToFd destination is not sealed against writes (keyd
 * writes into it), so its owner could punch a hole while keyd works, and
 * keyd's write would then allocate a page that keyd pays for. keyd seals it
 * with F_SEAL_FUTURE_WRITE before it looks for holes: a hole punched while
 * keyd is held between its checks is found, and none can be punched after. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abuse-util.h"
#include "harness.h"
#include "test-util.h"

#define TEST_INTERFACE "org.keyd.KeyBroker1.Test"
#define BIG (64U * 1024U)
#define SMALL 4096U
#define DELAY_USEC (1500ULL * 1000ULL)

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

static void set_memfd_check_delay(sd_bus *bus, uint64_t usec) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, TEST_INTERFACE, "SetMemfdCheckDelay", &error,
                               NULL, "t", usec);
        ck_assert_msg(r >= 0, "SetMemfdCheckDelay: %s: %s (is keyd built with -Dtest_hooks=true?)", error.name,
                      error.message);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        sd_bus_message **ret = userdata;

        *ret = sd_bus_message_ref(m);
        return 0;
}

/* A memfd of BIG bytes, every one of them written, not sealed yet. */
static int written_memfd(const char *name) {
        int fd;

        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, BIG), 0);
        {
                uint8_t *p = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                ck_assert_ptr_ne(p, MAP_FAILED);
                memset(p, 0x42, BIG);
                ck_assert_int_eq(munmap(p, BIG), 0);
        }
        return fd;
}

/* Dispatch until the asynchronous call's reply is in, 30 s at most. */
static void wait_for_reply(sd_bus *bus, sd_bus_message **reply) {
        uint64_t start = harness_now_usec();

        while (!*reply && harness_now_usec() - start < 30 * USEC_PER_SEC) {
                ck_assert_int_ge(sd_bus_process(bus, NULL), 0);
                if (!*reply)
                        ck_assert_int_ge(sd_bus_wait(bus, 100 * 1000), 0);
        }
}

START_TEST(test_shrink_between_checks) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL, *hooks = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        static const uint8_t iv[IV_SIZE];
        _cleanup_free_ char *path = NULL;
        const sd_bus_error *e;
        Bystander bystander;
        uint32_t surface;
        int fd;

        bystander_open(&bystander);
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_int_eq(harness_open_bus(&hooks), 0);
        path = raw_session_with_surface(bus, &bystander, BIG, &surface);

        /* 64 KiB written, not sealed yet. */
        fd = written_memfd("test-memfd-race");

        set_memfd_check_delay(hooks, DELAY_USEC);

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &call, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "DecryptionBltFd"),
                         0);
        ck_assert_int_ge(sd_bus_message_append(call, "uh(uuu)", surface, fd, 0, 0, 0), 0);
        ck_assert_int_ge(sd_bus_message_append_array(call, 'y', NULL, 0), 0);
        ck_assert_int_ge(sd_bus_message_append_array(call, 'y', iv, sizeof(iv)), 0);
        ck_assert_int_ge(sd_bus_call_async(bus, NULL, call, on_reply, &reply,
                                           30 * USEC_PER_SEC),
                         0);
        ck_assert_int_ge(sd_bus_flush(bus), 0);

        /* keyd is between its two checks now: shrink, then seal. */
        usleep(DELAY_USEC / 3);
        ck_assert_int_eq(ftruncate(fd, SMALL), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);

        wait_for_reply(bus, &reply);
        ck_assert_msg(reply, "no reply to DecryptionBltFd");
        e = sd_bus_message_get_error(reply);
        ck_assert_msg(e && sd_bus_error_has_name(e, ERROR_INVALID_ARG),
                      "DecryptionBltFd of a memfd shrunk and sealed during the call: %s: %s (expected InvalidArg)",
                      e ? e->name : "success", e ? e->message : "");
        ck_assert_msg(str_contains(e->message, "lacks seals") && strncmp(e->message, "0x80070057: ", 12) == 0,
                      "unexpected message: %s", e->message);

        set_memfd_check_delay(hooks, 0);
        close(fd);
        bystander_check(&bystander, "a memfd shrunk between keyd's checks");
        bystander_close(&bystander);
}
END_TEST

START_TEST(test_punch_hole_between_checks) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL, *hooks = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        const sd_bus_error *e;
        Bystander bystander;
        uint32_t surface;
        int fd;

        bystander_open(&bystander);
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_int_eq(harness_open_bus(&hooks), 0);
        path = raw_session_with_surface(bus, &bystander, BIG, &surface);

        /* A proper destination: 64 KiB written, sealed against shrink and grow. */
        fd = written_memfd("test-memfd-race-destination");
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);

        set_memfd_check_delay(hooks, DELAY_USEC);
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &call, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "EncryptionBltToFd"),
                         0);
        ck_assert_int_ge(sd_bus_message_append(call, "uh", surface, fd), 0);
        ck_assert_int_ge(sd_bus_call_async(bus, NULL, call, on_reply, &reply, 30 * USEC_PER_SEC), 0);
        ck_assert_int_ge(sd_bus_flush(bus), 0);

        /* keyd has checked the seals and waits: punch out the second page. */
        usleep(DELAY_USEC / 3);
        ck_assert_int_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096), 0);

        wait_for_reply(bus, &reply);
        ck_assert_msg(reply, "no reply to EncryptionBltToFd");
        e = sd_bus_message_get_error(reply);
        ck_assert_msg(e && sd_bus_error_has_name(e, ERROR_INVALID_ARG),
                      "EncryptionBltToFd into a memfd punched during the call: %s: %s (expected InvalidArg)",
                      e ? e->name : "success", e ? e->message : "");
        ck_assert_msg(str_contains(e->message, "hole at byte 4096") && strncmp(e->message, "0x80070057: ", 12) == 0,
                      "unexpected message: %s", e->message);
        /* And from now on no hole can be punched into it. */
        ck_assert_int_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), -1);
        ck_assert_int_eq(errno, EPERM);

        set_memfd_check_delay(hooks, 0);
        close(fd);
        bystander_check(&bystander, "a destination punched between keyd's checks");
        bystander_close(&bystander);
}
END_TEST

static Suite *memfd_race_suite(void) {
        Suite *s = suite_create("memfd-race");
        TCase *tc = tcase_create("race");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_shrink_between_checks);
        tcase_add_test(tc, test_punch_hole_between_checks);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(memfd_race_suite());
}
