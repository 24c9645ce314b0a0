/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Issue 18, item 3: hugetlbfs has no SEEK_HOLE, so to keyd's hole check a
 * hugetlbfs memfd (MFD_HUGETLB) always "has no holes" while its huge pages
 * may not exist yet: reading or writing them would make keyd pay for them.
 * keyd takes only tmpfs memfds, for DecryptionBltFd and EncryptionBltToFd,
 * and says so. Where the kernel cannot make an MFD_HUGETLB memfd at all, the
 * test is skipped (exit 77) with the reason. Without huge pages configured
 * the kernel still makes one, but cannot size it: keyd then sees an empty
 * hugetlbfs memfd, which reaches the same check first; a 2 MiB one, written
 * through, is tried where huge pages are there. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "abuse-util.h"
#include "harness.h"
#include "test-util.h"

#define HUGE_PAGE (2U * MiB)

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

/* An MFD_HUGETLB memfd, 2 MiB written through if the kernel has a huge page
 * for it, else empty; seals as asked. *ret_size: its size. */
static int hugetlb_memfd(int seals, size_t *ret_size) {
        int fd = memfd_create("test-memfd-hugetlb", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
        void *p;

        ck_assert_int_ge(fd, 0);
        *ret_size = 0;
        if (ftruncate(fd, HUGE_PAGE) == 0) {
                p = mmap(NULL, HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
                if (p != MAP_FAILED) {
                        memset(p, 0x42, HUGE_PAGE);
                        munmap(p, HUGE_PAGE);
                        *ret_size = HUGE_PAGE;
                } else
                        ck_assert_int_eq(ftruncate(fd, 0), 0);
        }
        if (seals)
                ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
        return fd;
}

static void expect_hugetlbfs_refused(int r, sd_bus_error *error, const char *what) {
        ck_assert_msg(r < 0 && sd_bus_error_has_name(error, ERROR_INVALID_ARG), "%s: r=%d %s: %s", what, r,
                      error->name ?: "-", error->message ?: "-");
        ck_assert_msg(strncmp(error->message, "0x80070057: ", 12) == 0 && strstr(error->message, "hugetlbfs") &&
                              strstr(error->message, "tmpfs"),
                      "%s: the message does not say what was wrong: %s", what, error->message);
        sd_bus_error_free(error);
}

START_TEST(test_hugetlb_memfds_refused) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *m2 = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        static const uint8_t iv[IV_SIZE];
        _cleanup_free_ char *path = NULL;
        Bystander by;
        uint32_t surface;
        size_t size;
        int fd, r;

        bystander_open(&by);
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        path = raw_session_with_surface(bus, &by, HUGE_PAGE, &surface);

        /* DecryptionBltFd: sealed as it asks. */
        fd = hugetlb_memfd(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW, &size);
        printf("hugetlbfs memfd of %zu bytes%s\n", size,
               size ? "" : " (no huge page for it here: the empty one is tried)");
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "DecryptionBltFd"),
                         0);
        ck_assert_int_ge(sd_bus_message_append(m, "uh(uuu)", surface, fd, 0, 0, 0), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', NULL, 0), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', iv, sizeof(iv)), 0);
        r = sd_bus_call(bus, m, 30 * USEC_PER_SEC, &error, NULL);
        expect_hugetlbfs_refused(r, &error, "DecryptionBltFd with a hugetlbfs memfd");
        close(fd);

        /* EncryptionBltToFd: sealed as it asks, the surface's size where it can be. */
        fd = hugetlb_memfd(F_SEAL_SHRINK | F_SEAL_GROW, &size);
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m2, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "EncryptionBltToFd"),
                         0);
        ck_assert_int_ge(sd_bus_message_append(m2, "uh", surface, fd), 0);
        r = sd_bus_call(bus, m2, 30 * USEC_PER_SEC, &error, NULL);
        expect_hugetlbfs_refused(r, &error, "EncryptionBltToFd into a hugetlbfs memfd");
        close(fd);

        bystander_check(&by, "hugetlbfs memfds");
        bystander_close(&by);
}
END_TEST

static Suite *hugetlb_suite(void) {
        Suite *s = suite_create("memfd-hugetlb");
        TCase *tc = tcase_create("hugetlb");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_hugetlb_memfds_refused);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        int fd = memfd_create("test-memfd-hugetlb", MFD_CLOEXEC | MFD_HUGETLB);

        if (fd < 0) {
                printf("SKIP: memfd_create(MFD_HUGETLB) fails on this kernel (%s); nothing to refuse\n",
                       strerror(errno));
                return 77;
        }
        close(fd);
        return run_suite(hugetlb_suite());
}
