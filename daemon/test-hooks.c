/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* See test-hooks.h. Built only with -Dtest_hooks=true. */

#ifdef KEYD_TEST_HOOKS

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bus/bus-error.h"
#include "log.h"
#include "manager.h"
#include "secure-memory.h"
#include "test-hooks.h"

#define KEYD_TEST_INTERFACE "org.keyd.KeyBroker1.Test"
#define MAX_FREED 256
#define PATTERN_SIZE 16
/* Skip mappings larger than this: ASan's shadow memory and other huge
 * reservations, never where keyd keeps anything. */
#define MAX_MAPPING (1024ULL * 1024 * 1024)
#define SCAN_CHUNK (256 * 1024)

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

typedef struct FreedSecrets {
        uint64_t session_id;
        const void *block;
        size_t size;
        bool held_data;
} FreedSecrets;

/* Sessions close on the bus thread, but be safe for any thread. */
static pthread_mutex_t freed_lock = PTHREAD_MUTEX_INITIALIZER;
static FreedSecrets freed[MAX_FREED];
static size_t n_freed_total;

void test_hooks_secrets_freed(uint64_t session_id, const void *p, size_t size) {
        const volatile uint8_t *u = p;
        uint8_t any = 0;

        if (!p)
                return;
        for (size_t i = 0; i < size; i++)
                any |= u[i];

        pthread_mutex_lock(&freed_lock);
        freed[n_freed_total % MAX_FREED] = (FreedSecrets) {
                .session_id = session_id,
                .block = p,
                .size = size,
                .held_data = any != 0,
        };
        n_freed_total++;
        pthread_mutex_unlock(&freed_lock);
}

static const char *block_state_to_string(SecureBlockState s) {
        switch (s) {
        case SECURE_BLOCK_FREE_ZERO:
                return "zero";
        case SECURE_BLOCK_FREE_DIRTY:
                return "dirty";
        case SECURE_BLOCK_REUSED:
                return "reused";
        default:
                return "unmapped";
        }
}

/* Only keyd's own user (root in the tests) may look inside. */
static int check_caller(sd_bus_message *message, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return bus_error_setf(error, r, "cannot tell who is calling: %s", strerror(-r));
        if (uid != geteuid())
                return bus_error_setf(error, -EACCES, "the test interface is for keyd's own user (uid %u) only",
                                      (unsigned) geteuid());
        return 0;
}

static int method_get_freed_secrets(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        size_t n, first;
        int r;

        r = check_caller(message, error);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(tbs)");
        if (r < 0)
                return r;

        pthread_mutex_lock(&freed_lock);
        n = n_freed_total < MAX_FREED ? n_freed_total : MAX_FREED;
        first = n_freed_total - n;
        for (size_t i = first; i < n_freed_total && r >= 0; i++) {
                const FreedSecrets *f = &freed[i % MAX_FREED];
                SecureBlockState state = secure_memory_test_block_state(f->block, f->size);

                r = sd_bus_message_append(reply, "(tbs)", f->session_id, f->held_data, block_state_to_string(state));
        }
        pthread_mutex_unlock(&freed_lock);
        if (r < 0)
                return r;

        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Occurrences of (masked ^ mask) in buf, compared byte by byte so that the
 * pattern itself is never stored. */
static unsigned count_in(const uint8_t *buf, size_t n, uintptr_t address, const uint8_t *masked,
                         const uint8_t *mask) {
        unsigned count = 0;

        for (size_t i = 0; i + PATTERN_SIZE <= n; i++) {
                size_t j = 0;

                while (j < PATTERN_SIZE && (uint8_t) (buf[i + j] ^ mask[j]) == masked[j])
                        j++;
                if (j == PATTERN_SIZE) {
                        count++;
                        log_debug("Test hook: pattern at %#" PRIxPTR ".", address + i);
                }
        }
        return count;
}

typedef struct Scan {
        int mem_fd;
        uint8_t *buf;       /* a mapping of our own, left out of the scan */
        unsigned count;
        uint64_t scanned;
} Scan;

static void scan_range(Scan *s, uintptr_t start, uintptr_t end, const uint8_t *masked, const uint8_t *mask) {
        /* Chunks overlap by PATTERN_SIZE - 1 bytes, so that no occurrence
         * across a boundary is missed (and none is counted twice). */
        for (uintptr_t at = start; at < end;) {
                size_t want = (size_t) MIN((uintptr_t) SCAN_CHUNK, end - at);
                ssize_t got = pread(s->mem_fd, s->buf, want, (off_t) at);

                if (got <= 0) {
                        at += want; /* unreadable (guard page, gone meanwhile): skip it */
                        continue;
                }
                s->count += count_in(s->buf, (size_t) got, at, masked, mask);
                s->scanned += (uint64_t) got;
                if ((size_t) got < PATTERN_SIZE || at + (uintptr_t) got >= end)
                        at += (uintptr_t) got;
                else
                        at += (uintptr_t) got - (PATTERN_SIZE - 1);
        }
}

static int scan_memory(const uint8_t *masked, const uint8_t *mask, unsigned *ret_count, uint64_t *ret_scanned) {
        _cleanup_(fclosep) FILE *maps = NULL;
        Scan s = { .mem_fd = -1 };
        char line[4096];
        int r = 0;

        s.buf = mmap(NULL, SCAN_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s.buf == MAP_FAILED)
                return -errno;
        s.mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
        maps = fopen("/proc/self/maps", "re");
        if (s.mem_fd < 0 || !maps) {
                r = -errno;
                goto finish;
        }

        while (fgets(line, sizeof(line), maps)) {
                uintptr_t start, end;
                char perms[5];

                if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s", &start, &end, perms) != 3)
                        continue;
                /* Only memory that can hold what keyd wrote. */
                if (perms[0] != 'r' || perms[1] != 'w' || end - start > MAX_MAPPING)
                        continue;
                if (start == (uintptr_t) s.buf)
                        continue;
                scan_range(&s, start, end, masked, mask);
        }

finish:
        /* The buffer saw all of keyd's memory: wipe it like the rest. */
        secure_wipe(s.buf, SCAN_CHUNK);
        munmap(s.buf, SCAN_CHUNK);
        if (s.mem_fd >= 0)
                close(s.mem_fd);
        *ret_count = s.count;
        *ret_scanned = s.scanned;
        return r;
}

static int method_count_pattern(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        const void *masked, *mask;
        size_t masked_size, mask_size;
        uint64_t scanned = 0;
        unsigned count = 0;
        int r;

        r = check_caller(message, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &masked, &masked_size);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &mask, &mask_size);
        if (r < 0)
                return r;
        if (masked_size != PATTERN_SIZE || mask_size != PATTERN_SIZE)
                return bus_error_setf(error, -EINVAL, "masked and mask must be %u bytes each, got %zu and %zu",
                                      PATTERN_SIZE, masked_size, mask_size);

        r = scan_memory(masked, mask, &count, &scanned);
        if (r < 0)
                return bus_error_setf(error, r, "cannot read keyd's own memory: %s", strerror(-r));
        log_debug("Test hook: pattern found %u times in %" PRIu64 " bytes.", count, scanned);
        return sd_bus_reply_method_return(message, "ut", (uint32_t) count, scanned);
}

static _Atomic uint64_t memfd_check_delay_usec;

void test_hooks_memfd_between_checks(void) {
        uint64_t usec = memfd_check_delay_usec;

        if (usec > 0)
                (void) usleep((useconds_t) usec);
}

static int method_set_memfd_check_delay(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        uint64_t usec;
        int r;

        r = check_caller(message, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "t", &usec);
        if (r < 0)
                return r;
        if (usec > 10 * 1000 * 1000)
                return bus_error_setf(error, -EINVAL, "a delay of %" PRIu64 " us is too long; at most 10 s",
                                      usec);
        memfd_check_delay_usec = usec;
        return sd_bus_reply_method_return(message, NULL);
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("GetFreedSecrets", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(tbs)", sessions), method_get_freed_secrets,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CountPattern", SD_BUS_ARGS("ay", masked, "ay", mask),
                                SD_BUS_RESULT("u", count, "t", bytes_scanned), method_count_pattern,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetMemfdCheckDelay", SD_BUS_ARGS("t", usec), SD_BUS_NO_RESULT,
                                method_set_memfd_check_delay, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int test_hooks_register(Manager *m) {
        log_notice("This keyd is a test build (-Dtest_hooks=true): %s lets its own user look into its "
                    "memory. Never run it in production.", KEYD_TEST_INTERFACE);
        /* A floating slot: it goes with the bus. */
        return sd_bus_add_object_vtable(m->bus, NULL, KEYD_MANAGER_PATH, KEYD_TEST_INTERFACE, test_vtable, m);
}

#endif
