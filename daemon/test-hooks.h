/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Debug hooks for tests, compiled only with meson -Dtest_hooks=true
 * (KEYD_TEST_HOOKS); a release keyd has none of this, not even the
 * interface name. They answer one question a test cannot ask from outside:
 * is a closed session's key material really gone from keyd's memory?
 *
 * org.keyd.KeyBroker1.Test on /org/keyd/KeyBroker1, callable only by keyd's
 * own user:
 *
 * - GetFreedSecrets() -> a(tbs): for each session whose secrets block was
 *   released (the latest 256): its id, whether the block held anything
 *   non-zero just before the release (so that "zero" afterwards means
 *   something), and what the allocator says of the block now: "zero" (still
 *   free, all zero), "dirty" (still free, NOT wiped), "reused" (handed out
 *   again: nothing to tell), "unmapped".
 * - CountPattern(ay masked, ay mask) -> (u count, t bytes_scanned): how often
 *   the 16-byte pattern masked XOR mask occurs anywhere in keyd's writable
 *   memory (heap, stacks, locked memory, sd-bus buffers...), read through
 *   /proc/self/mem. The caller sends the pattern masked, and keyd compares
 *   byte by byte without ever writing it down, so asking does not plant the
 *   key it asks about.
 * - SetMemfdCheckDelay(t usec): from now on, memfd_check_sealed() sleeps usec
 *   between its seal check and its size check (0: not at all), for the test
 *   that shrinks a memfd in between. */

#ifdef KEYD_TEST_HOOKS

#include <stddef.h>
#include <stdint.h>

typedef struct Manager Manager;

int test_hooks_register(Manager *m);

/* Called by memfd_check_sealed() between its two checks of a client's memfd
 * (seals, then size): sleeps as long as SetMemfdCheckDelay(t usec) asked,
 * so that a test can change the memfd in between. */
void test_hooks_memfd_between_checks(void);

/* Called by a backend right before it releases a session's secrets block. */
void test_hooks_secrets_freed(uint64_t session_id, const void *p, size_t size);

#endif
