/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Memory for key material: locked into RAM (mlock), excluded from core
 * dumps (MADV_DONTDUMP), not inherited by children (MADV_WIPEONFORK), and
 * wiped before it is released. Thread-safe. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"

/* Zeroed, locked memory; NULL with errno set (ENOMEM also when the memory
 * cannot be locked: RLIMIT_MEMLOCK or CAP_IPC_LOCK). */
void *secure_alloc(size_t size);
/* Wipe and release; returns NULL. NULL is fine. */
void *secure_free(void *p);
/* Grow or shrink, keeping and wiping as it goes (for GMP). */
void *secure_realloc(void *p, size_t new_size);

/* Make GMP (and so nettle's RSA) allocate every bignum with secure_alloc,
 * so private-key numbers and intermediate values live in locked memory and
 * are wiped when freed. Call once, before any mpz is created. */
void secure_memory_install_gmp(void);

/* Bytes handed out and not yet freed (for tests and status). */
size_t secure_memory_in_use(void);

/* Every mapping this allocator locks (slabs, large blocks, the GMP reserve
 * and secure_pages_alloc()) is counted in whole pages against one limit:
 * a mapping that would go past it fails with ENOMEM before mlock is tried.
 * Set it below RLIMIT_MEMLOCK (and below the cgroup's MemoryMax=), so that
 * running out is an error the caller sees, never a failed page fault.
 * Default: no limit. */
void secure_memory_set_limit(size_t max_locked_bytes);
/* Bytes locked now, in whole pages. */
size_t secure_memory_locked(void);
/* size rounded up to whole pages: what locking size bytes really costs. */
size_t secure_pages_size(size_t size);

/* size bytes of zeroed, locked, undumpable, not inherited memory in a
 * mapping of its own (page-aligned, secure_pages_size(size) locked);
 * NULL with errno ENOMEM past the limit or when it cannot be locked. */
void *secure_pages_alloc(size_t size);
/* Wipe and unmap what secure_pages_alloc(size) returned; NULL is fine. */
void secure_pages_free(void *p, size_t size);

/* GMP cannot be told that an allocation failed: its functions must not
 * return NULL. So the GMP hooks fall back to a reserve of locked chunks,
 * mapped beforehand, when a fresh mapping fails. secure_memory_reserve()
 * sets how many chunks (SECURE_RESERVE_CHUNK bytes each) to keep and maps
 * them; secure_memory_refill() maps back what GMP used since. Call it
 * before each bignum operation and do not start the operation when it
 * fails (-ENOMEM): then a running operation never finds the reserve empty,
 * as long as the reserve covers the operations that may run at once. */
#define SECURE_RESERVE_CHUNK (16u * 1024u)
int secure_memory_reserve(size_t n_chunks);
int secure_memory_refill(void);

/* mlock(2) itself, as a system call. The sanitizer runtimes (ASan...)
 * replace mlock() with a no-op that reports success, and keyd's promise
 * that key memory never reaches swap must hold, and be tested, in the
 * sanitizer build too. -1 with errno set on failure, like mlock(). */
static inline int secure_lock_pages(void *p, size_t n) {
        return (int) syscall(SYS_mlock, p, n);
}

/* Lock a writable mapping made elsewhere (keyd's shared memfd for a
 * decrypted sample) and leave it out of core dumps, counted against the same
 * limit: -ENOMEM past it or when it cannot be locked. It cannot be
 * MADV_WIPEONFORK (a shared mapping): nothing forks keyd but posix_spawn(),
 * which execs at once. secure_unlock_mapping() wipes it and gives the pages
 * back to the limit; the caller unmaps. */
int secure_lock_mapping(void *p, size_t length);
void secure_unlock_mapping(void *p, size_t length);

/* Wipe that the compiler may not optimise away. */
void secure_wipe(void *p, size_t n);

/* Constant-time equality: 1 when equal, 0 otherwise; time depends on n only. */
int secure_memeq(const void *a, const void *b, size_t n);

#ifdef KEYD_TEST_HOOKS
/* Test builds only (meson -Dtest_hooks=true): what became of the block at p
 * (size bytes) that secure_free() released, as the allocator sees it now. */
typedef enum SecureBlockState {
        SECURE_BLOCK_FREE_ZERO,   /* still free, and every byte of it is zero */
        SECURE_BLOCK_FREE_DIRTY,  /* still free, but not wiped: a bug */
        SECURE_BLOCK_REUSED,      /* handed out again since: nothing to tell */
        SECURE_BLOCK_UNMAPPED,    /* its own mapping went back to the kernel (large blocks) */
} SecureBlockState;

SecureBlockState secure_memory_test_block_state(const void *p, size_t size);
#endif

static inline void secure_freep(void *p) {
        secure_free(*(void **) p);
}
