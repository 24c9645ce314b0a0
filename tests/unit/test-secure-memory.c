/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <gmp.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "secure-memory.h"

static const size_t sizes[] = {
        0, 1, 15, 16, 17, 48, 100, 255, 256, 1000, 2032, 4080, 4081, 5000, 65536, 1 << 20,
};

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != v)
                        return false;
        return true;
}

/* The VmFlags line of the /proc/self/smaps entry that contains p. */
static bool mapping_flags(const void *p, char *flags, size_t flags_size, long *locked_kb) {
        _cleanup_(freep) char *line = NULL;
        size_t line_size = 0;
        bool in_mapping = false, found = false;
        FILE *f;

        f = fopen("/proc/self/smaps", "re");
        if (!f)
                return false;

        while (getline(&line, &line_size, f) > 0) {
                unsigned long start, end;

                if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
                        in_mapping = (uintptr_t) p >= start && (uintptr_t) p < end;
                        continue;
                }
                if (!in_mapping)
                        continue;
                if (strncmp(line, "Locked:", 7) == 0)
                        *locked_kb = strtol(line + 7, NULL, 10);
                if (strncmp(line, "VmFlags:", 8) == 0) {
                        snprintf(flags, flags_size, "%s", line + 8);
                        found = true;
                        break;
                }
        }
        fclose(f);
        return found;
}

static bool has_flag(const char *flags, const char *flag) {
        size_t n = strlen(flag);

        for (const char *p = flags; *p; ) {
                size_t w;

                p += strspn(p, " \t\n");
                w = strcspn(p, " \t\n");
                if (w == n && strncmp(p, flag, n) == 0)
                        return true;
                p += w;
        }
        return false;
}

START_TEST(test_alloc_sizes) {
        size_t base = secure_memory_in_use();

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                size_t n = sizes[i];
                uint8_t *p = secure_alloc(n);

                ck_assert_msg(p, "secure_alloc(%zu) failed: %s", n, strerror(errno));
                ck_assert_uint_eq((uintptr_t) p % 16, 0);
                ck_assert_msg(all_bytes(p, n, 0), "secure_alloc(%zu) is not zeroed", n);
                ck_assert_uint_eq(secure_memory_in_use(), base + n);

                memset(p, 0x5a, n);
                ck_assert_ptr_null(secure_free(p));
                ck_assert_uint_eq(secure_memory_in_use(), base);
        }

        ck_assert_ptr_null(secure_free(NULL));
}
END_TEST

START_TEST(test_reuse_is_zeroed) {
        /* Fill and free, many times: whichever block comes back -- for a
         * slab class usually the one just freed -- must be zeros again. */
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                for (int round = 0; round < 20; round++) {
                        uint8_t *p = secure_alloc(sizes[i]);
                        ck_assert_ptr_nonnull(p);
                        ck_assert_msg(all_bytes(p, sizes[i], 0), "reused block of %zu bytes not wiped", sizes[i]);
                        memset(p, 0xff, sizes[i]);
                        secure_free(p);
                }
        }
}
END_TEST

START_TEST(test_live_blocks_distinct) {
        enum { N = 3000 };
        uint8_t **p = calloc(N, sizeof(uint8_t *));
        size_t base = secure_memory_in_use(), total = 0;

        ck_assert_ptr_nonnull(p);
        /* Enough blocks to need several slabs per class. */
        for (size_t i = 0; i < N; i++) {
                size_t n = 1 + (i * 37) % 600;
                p[i] = secure_alloc(n);
                ck_assert_ptr_nonnull(p[i]);
                memset(p[i], (int) (i & 0xff), n);
                total += n;
        }
        ck_assert_uint_eq(secure_memory_in_use(), base + total);

        for (size_t i = 0; i < N; i++) {
                size_t n = 1 + (i * 37) % 600;
                ck_assert_msg(all_bytes(p[i], n, (uint8_t) (i & 0xff)), "block %zu was overwritten", i);
        }
        for (size_t i = 0; i < N; i += 2)
                secure_free(p[i]);
        for (size_t i = 1; i < N; i += 2)
                secure_free(p[i]);
        ck_assert_uint_eq(secure_memory_in_use(), base);
        free(p);
}
END_TEST

START_TEST(test_realloc) {
        size_t base = secure_memory_in_use();
        uint8_t *p, *q;

        p = secure_realloc(NULL, 10);
        ck_assert_ptr_nonnull(p);
        ck_assert(all_bytes(p, 10, 0));
        memset(p, 0x11, 10);
        ck_assert_uint_eq(secure_memory_in_use(), base + 10);

        /* Within the block, across classes, to a large mapping, and back. */
        static const size_t steps[] = { 12, 100, 3000, 9000, 200000, 50, 5 };
        size_t cur = 10;
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                size_t n = steps[i];

                q = secure_realloc(p, n);
                ck_assert_msg(q, "secure_realloc(%zu -> %zu) failed", cur, n);
                ck_assert_msg(all_bytes(q, MIN(cur, n), 0x11), "contents lost in realloc %zu -> %zu", cur, n);
                ck_assert_uint_eq(secure_memory_in_use(), base + n);
                memset(q, 0x11, n);
                p = q;
                cur = n;
        }

        /* Shrink in place, then grow in place again: the bytes between
         * must come back as zeros, not as the old contents. */
        p = secure_realloc(p, 30);
        memset(p, 0x22, 30);
        p = secure_realloc(p, 4);
        p = secure_realloc(p, 30);
        ck_assert(all_bytes(p, 4, 0x22));
        ck_assert_msg(all_bytes(p + 4, 26, 0), "bytes cut off by a shrink came back after growing");

        secure_free(p);
        ck_assert_uint_eq(secure_memory_in_use(), base);
}
END_TEST

START_TEST(test_memeq) {
        uint8_t a[64], b[64];

        for (size_t i = 0; i < sizeof(a); i++)
                a[i] = b[i] = (uint8_t) (i * 7);

        ck_assert_int_eq(secure_memeq(a, b, sizeof(a)), 1);
        ck_assert_int_eq(secure_memeq(a, b, 0), 1);
        for (size_t i = 0; i < sizeof(a); i++)
                for (unsigned bit = 0; bit < 8; bit++) {
                        b[i] ^= (uint8_t) (1u << bit);
                        ck_assert_int_eq(secure_memeq(a, b, sizeof(a)), 0);
                        ck_assert_int_eq(secure_memeq(a, b, i), 1);
                        b[i] ^= (uint8_t) (1u << bit);
                }
}
END_TEST

START_TEST(test_wipe) {
        uint8_t buf[100];

        memset(buf, 0xab, sizeof(buf));
        secure_wipe(buf + 10, 80);
        ck_assert(all_bytes(buf, 10, 0xab));
        ck_assert(all_bytes(buf + 10, 80, 0));
        ck_assert(all_bytes(buf + 90, 10, 0xab));
        secure_wipe(NULL, 0);
}
END_TEST

START_TEST(test_mapping_locked_and_advised) {
        /* The kernel's view: locked (lo), not dumped (dd), wiped in a
         * forked child (wf), for a slab block and a large block. */
        static const size_t n[] = { 64, 100000 };

        for (size_t i = 0; i < ELEMENTSOF(n); i++) {
                char flags[256] = "";
                long locked_kb = -1;
                void *p = secure_alloc(n[i]);

                ck_assert_ptr_nonnull(p);
                ck_assert_msg(mapping_flags(p, flags, sizeof(flags), &locked_kb),
                              "no /proc/self/smaps entry for %p", p);
                ck_assert_msg(has_flag(flags, "lo"), "%zu-byte block not locked; VmFlags:%s", n[i], flags);
                ck_assert_msg(has_flag(flags, "dd"), "%zu-byte block not MADV_DONTDUMP; VmFlags:%s", n[i], flags);
                ck_assert_msg(has_flag(flags, "wf"), "%zu-byte block not MADV_WIPEONFORK; VmFlags:%s", n[i], flags);
                ck_assert_int_gt(locked_kb, 0);
                secure_free(p);
        }
}
END_TEST

START_TEST(test_fork_child_sees_zeros) {
        uint8_t *small = secure_alloc(32), *large = secure_alloc(50000);
        int status;
        pid_t pid;

        ck_assert_ptr_nonnull(small);
        ck_assert_ptr_nonnull(large);
        memset(small, 0x77, 32);
        memset(large, 0x77, 50000);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Wiped by the kernel; freeing the parent's blocks must be a
                 * harmless no-op; new blocks must work. */
                uint8_t *n;
                int bad = 0;

                bad |= !all_bytes(small, 32, 0) << 0;
                bad |= !all_bytes(large, 50000, 0) << 1;
                bad |= (secure_memory_in_use() != 0) << 2;
                secure_free(small);
                secure_free(large);
                n = secure_alloc(32);
                bad |= (!n || !all_bytes(n, 32, 0)) << 3;
                secure_free(n);
                _exit(bad);
        }

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status), "child died: status 0x%x", status);
        ck_assert_msg(WEXITSTATUS(status) == 0, "child saw problems (bits 0x%x)", WEXITSTATUS(status));

        /* The parent's copies are untouched. */
        ck_assert(all_bytes(small, 32, 0x77));
        ck_assert(all_bytes(large, 50000, 0x77));
        secure_free(small);
        secure_free(large);
}
END_TEST

START_TEST(test_unlockable_memory_fails) {
        /* Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at 0, nothing can be
         * locked: allocation must fail with ENOMEM rather than hand out
         * swappable memory. Done in a child that gives up root. */
        int status;
        pid_t pid;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct rlimit rl = { 0, 0 };
                void *p;

                if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
                        _exit(10);
                if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                                       setresuid(65534, 65534, 65534) < 0))
                        _exit(11);

                errno = 0;
                p = secure_alloc(64); /* needs a new slab: inherited ones are not reused */
                if (p || errno != ENOMEM)
                        _exit(12);
                p = secure_alloc(100000);
                if (p || errno != ENOMEM)
                        _exit(13);
                _exit(0);
        }

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status), "child died: status 0x%x", status);
        ck_assert_msg(WEXITSTATUS(status) == 0, "child failed at step %d", WEXITSTATUS(status));
}
END_TEST

typedef struct ThreadArgs {
        unsigned seed;
        uint8_t tag;    /* this thread's fill byte: overlapping blocks would mix tags */
        int failures;
} ThreadArgs;

static void *thread_main(void *userdata) {
        ThreadArgs *args = userdata;
        uint8_t *held[32] = {};
        size_t held_size[32] = {};

        for (int i = 0; i < 4000; i++) {
                unsigned slot = (unsigned) rand_r(&args->seed) % 32;
                uint8_t tag = args->tag;

                if (held[slot]) {
                        if (!all_bytes(held[slot], held_size[slot], tag))
                                args->failures++;
                        if (rand_r(&args->seed) % 4 == 0) {
                                size_t n = (size_t) rand_r(&args->seed) % 9000;
                                uint8_t *q = secure_realloc(held[slot], n);
                                if (!q) {
                                        args->failures++;
                                        continue;
                                }
                                if (!all_bytes(q, MIN(n, held_size[slot]), tag))
                                        args->failures++;
                                held[slot] = q;
                                held_size[slot] = n;
                                memset(q, tag, n);
                                continue;
                        }
                        secure_free(held[slot]);
                        held[slot] = NULL;
                } else {
                        size_t n = (size_t) rand_r(&args->seed) % (rand_r(&args->seed) % 8 ? 512 : 20000);
                        held[slot] = secure_alloc(n);
                        if (!held[slot] || !all_bytes(held[slot], n, 0)) {
                                args->failures++;
                                held[slot] = secure_free(held[slot]);
                                continue;
                        }
                        held_size[slot] = n;
                        memset(held[slot], tag, n);
                }
        }

        for (unsigned s = 0; s < 32; s++)
                secure_free(held[s]);
        return NULL;
}

START_TEST(test_threads) {
        enum { N_THREADS = 8 };
        pthread_t threads[N_THREADS];
        ThreadArgs args[N_THREADS];
        size_t base = secure_memory_in_use();

        for (unsigned i = 0; i < N_THREADS; i++) {
                args[i] = (ThreadArgs) { .seed = 0x1000u * (i + 1), .tag = (uint8_t) (0x10 + i) };
                ck_assert_int_eq(pthread_create(&threads[i], NULL, thread_main, &args[i]), 0);
        }
        for (unsigned i = 0; i < N_THREADS; i++) {
                ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
                ck_assert_msg(args[i].failures == 0, "thread %u saw %d corrupted or failed blocks", i, args[i].failures);
        }
        ck_assert_uint_eq(secure_memory_in_use(), base);
}
END_TEST

START_TEST(test_gmp_uses_secure_memory) {
        size_t base;
        mpz_t x, y;

        secure_memory_install_gmp();
        secure_memory_install_gmp(); /* idempotent */
        base = secure_memory_in_use();

        mpz_init(x);
        mpz_init(y);
        mpz_ui_pow_ui(x, 3, 5000);
        ck_assert_uint_gt(secure_memory_in_use(), base);
        mpz_mul(y, x, x);
        mpz_realloc2(y, 100000);
        mpz_sqrt(y, y);
        ck_assert_int_eq(mpz_cmp(x, y), 0);
        mpz_clear(x);
        mpz_clear(y);
        ck_assert_uint_eq(secure_memory_in_use(), base);
}
END_TEST

START_TEST(test_limit_counts_pages) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), base;
        void *a, *b, *c;

        base = secure_memory_locked();
        secure_memory_set_limit(base + 3 * page);

        /* 16 bytes cost a whole page. */
        a = secure_pages_alloc(16);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(secure_memory_locked(), base + page);
        ck_assert_uint_eq(secure_pages_size(16), page);
        ck_assert(all_bytes(a, page, 0));

        /* Three pages do not fit in the two left; two do, then nothing. */
        errno = 0;
        ck_assert_ptr_null(secure_pages_alloc(2 * page + 1));
        ck_assert_int_eq(errno, ENOMEM);
        b = secure_pages_alloc(2 * page);
        ck_assert_ptr_nonnull(b);
        errno = 0;
        ck_assert_ptr_null(secure_pages_alloc(1));
        ck_assert_int_eq(errno, ENOMEM);
        errno = 0;
        ck_assert_ptr_null(secure_alloc(5000)); /* a large block needs a mapping too */
        ck_assert_int_eq(errno, ENOMEM);

        memset(b, 0x5a, 2 * page);
        secure_pages_free(b, 2 * page);
        c = secure_pages_alloc(page);
        ck_assert_ptr_nonnull(c);
        secure_pages_free(c, page);
        secure_pages_free(a, 16);
        ck_assert_uint_eq(secure_memory_locked(), base);
        secure_memory_set_limit(0);
}
END_TEST

/* x = 3^40000: a 7.9 KB limb array, a large block of its own mapping. */
static void big_square_root(void) {
        mpz_t x, y;

        mpz_init(x);
        mpz_init(y);
        mpz_ui_pow_ui(x, 3, 40000);
        mpz_mul(y, x, x);
        mpz_sqrt(y, y);
        ck_assert_int_eq(mpz_cmp(x, y), 0);
        mpz_clear(x);
        mpz_clear(y);
}

START_TEST(test_gmp_reserve_at_limit) {
        secure_memory_install_gmp();
        big_square_root();  /* every slab GMP needs exists now; large blocks are unmapped again */

        ck_assert_int_eq(secure_memory_reserve(8), 0);
        secure_memory_set_limit(secure_memory_locked());

        /* Nothing more can be mapped: not for secure_alloc()... */
        errno = 0;
        ck_assert_ptr_null(secure_alloc(8000));
        ck_assert_int_eq(errno, ENOMEM);
        /* ... but GMP's large blocks come from the reserve instead of an abort. */
        big_square_root();
        /* They went back to it, so it is full without a new mapping. */
        ck_assert_int_eq(secure_memory_refill(), 0);

        /* A reserve that cannot be filled says so before an operation starts. */
        secure_memory_set_limit(0);
        ck_assert_int_eq(secure_memory_reserve(9), 0);
        ck_assert_int_eq(secure_memory_reserve(8), 0);
        secure_memory_set_limit(secure_memory_locked());
        ck_assert_int_eq(secure_memory_reserve(12), -ENOMEM);
        ck_assert_int_eq(secure_memory_refill(), -ENOMEM);

        secure_memory_set_limit(0);
        ck_assert_int_eq(secure_memory_reserve(0), 0);
}
END_TEST

/* A bignum's large block borrows a reserve chunk and gives it back: no
 * mapping is made or torn down for it, and a refill while it is lent (as
 * another worker's would be) does not map a replacement that the free would
 * then unmap. Each of those cost an RSA operation a mmap/mlock/munmap and a
 * TLB shootdown. */
START_TEST(test_gmp_large_blocks_borrow_from_reserve) {
        size_t locked;
        mpz_t x;

        secure_memory_install_gmp();
        big_square_root();  /* every slab GMP needs exists now */
        ck_assert_int_eq(secure_memory_reserve(4), 0);
        locked = secure_memory_locked();

        mpz_init(x);
        mpz_ui_pow_ui(x, 3, 30000);  /* 5.9 KB of limbs: a large block, and it fits a chunk */
        ck_assert_uint_gt(mpz_size(x) * sizeof(mp_limb_t), 4096);
        ck_assert_uint_eq(secure_memory_locked(), locked);
        ck_assert_int_eq(secure_memory_refill(), 0);
        ck_assert_uint_eq(secure_memory_locked(), locked);
        mpz_clear(x);
        ck_assert_uint_eq(secure_memory_locked(), locked);
        ck_assert_int_eq(secure_memory_refill(), 0);
        ck_assert_uint_eq(secure_memory_locked(), locked);

        ck_assert_int_eq(secure_memory_reserve(0), 0);
}
END_TEST

START_TEST(test_double_free_aborts) {
        void *p = secure_alloc(40);

        secure_free(p);
        secure_free(p);
}
END_TEST

START_TEST(test_foreign_pointer_aborts) {
        void *p = malloc(40);

        secure_free(p);
}
END_TEST

START_TEST(test_interior_pointer_aborts) {
        uint8_t *p = secure_alloc(40);

        secure_free(p + 16);
}
END_TEST

static Suite *secure_memory_suite(bool forking) {
        Suite *s = suite_create("secure-memory");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_alloc_sizes);
        tcase_add_test(tc, test_reuse_is_zeroed);
        tcase_add_test(tc, test_live_blocks_distinct);
        tcase_add_test(tc, test_realloc);
        tcase_add_test(tc, test_memeq);
        tcase_add_test(tc, test_wipe);
        tcase_add_test(tc, test_mapping_locked_and_advised);
        tcase_add_test(tc, test_fork_child_sees_zeros);
        tcase_add_test(tc, test_unlockable_memory_fails);
        tcase_add_test(tc, test_threads);
        tcase_add_test(tc, test_gmp_uses_secure_memory);
        tcase_add_test(tc, test_limit_counts_pages);
        tcase_add_test(tc, test_gmp_reserve_at_limit);
        tcase_add_test(tc, test_gmp_large_blocks_borrow_from_reserve);
        suite_add_tcase(s, tc);

        /* Misuse must stop the process, not corrupt key memory. These need
         * Check's fork mode to catch the signal. */
        if (forking) {
                TCase *abort_tc = tcase_create("misuse");
                tcase_add_test_raise_signal(abort_tc, test_double_free_aborts, SIGABRT);
                tcase_add_test_raise_signal(abort_tc, test_foreign_pointer_aborts, SIGABRT);
                tcase_add_test_raise_signal(abort_tc, test_interior_pointer_aborts, SIGABRT);
                suite_add_tcase(s, abort_tc);
        }
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(NULL);
        int failed;

        srunner_add_suite(sr, secure_memory_suite(srunner_fork_status(sr) != CK_NOFORK));
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
