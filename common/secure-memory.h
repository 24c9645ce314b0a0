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

/* mlock(2) itself, as a system call. The sanitizer runtimes (ASan...)
 * replace mlock() with a no-op that reports success, and keyd's promise
 * that key memory never reaches swap must hold, and be tested, in the
 * sanitizer build too. -1 with errno set on failure, like mlock(). */
static inline int secure_lock_pages(void *p, size_t n) {
        return (int) syscall(SYS_mlock, p, n);
}

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
