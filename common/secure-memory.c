/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Locked memory for key material.
 *
 * Small blocks come from size-class slabs (GMP allocates many small limb
 * arrays, and one mlock'd mapping per limb array would exhaust
 * RLIMIT_MEMLOCK and the number of mappings); anything larger gets a
 * mapping of its own. Every mapping is mlock'd, MADV_DONTDUMP and
 * MADV_WIPEONFORK before a byte of it is handed out, and every block is
 * wiped when it is freed, so a free block is always all zeros.
 *
 * A 16-byte header before each block records its size, so secure_free()
 * and GMP's size-less callers need no size. A registry of our mappings
 * lets secure_free() recognise pointers that are not ours (and abort
 * rather than corrupt memory), and lets the GMP hooks hand blocks that
 * were allocated before secure_memory_install_gmp() back to GMP's own
 * functions.
 *
 * Every locked mapping is counted, in whole pages, against one limit
 * (secure_memory_set_limit()), so that running out of locked memory is an
 * ENOMEM the caller can answer, not a page fault that cannot be. GMP
 * cannot take an ENOMEM, so its hooks may also draw on a reserve of chunks
 * locked beforehand (secure_memory_reserve()), and the daemon tops the
 * reserve up before each RSA operation, refusing the operation when that
 * fails.
 *
 * After fork() the child sees our mappings as zeros (WIPEONFORK) and
 * unlocked (mlock is not inherited): the child forgets them, never hands
 * them out again, and treats frees of the parent's blocks as no-ops.
 */

#include <errno.h>
#include <gmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__has_include)
#  if __has_include(<valgrind/memcheck.h>)
#    include <valgrind/memcheck.h>
#    define HAVE_VALGRIND 1
#  endif
#endif
#ifndef HAVE_VALGRIND
#  define VALGRIND_MALLOCLIKE_BLOCK(addr, size, rz, zeroed) do { } while (0)
#  define VALGRIND_FREELIKE_BLOCK(addr, rz) do { } while (0)
#  define VALGRIND_RESIZEINPLACE_BLOCK(addr, old, new, rz) do { } while (0)
#  define VALGRIND_MAKE_MEM_UNDEFINED(addr, len) do { } while (0)
#  define VALGRIND_MAKE_MEM_DEFINED(addr, len) do { } while (0)
#endif

#include "secure-memory.h"

/* Sits right before every block. 16 bytes keep blocks aligned like malloc's. */
typedef struct BlockHeader {
        union {
                size_t size;                    /* live: bytes the caller asked for */
                struct BlockHeader *next_free;  /* free: next block of the same class */
        };
        uint32_t magic;
        uint32_t size_class;
} BlockHeader;

_Static_assert(sizeof(BlockHeader) == 16, "block header must keep 16-byte alignment");

#define HEADER_SIZE sizeof(BlockHeader)
#define MAGIC_LIVE 0x6b657964u /* "keyd" */
#define MAGIC_FREE 0x66726565u /* "free" */

/* Slab blocks are 32..4096 bytes including the header. */
#define N_CLASSES 8
#define SMALLEST_BLOCK 32
#define CLASS_LARGE UINT32_MAX
#define SLAB_SIZE (16 * 1024)

/* Refuse sizes whose rounding could overflow. */
#define SECURE_ALLOC_MAX (SIZE_MAX / 4)

typedef struct Region {
        uint8_t *base;
        size_t length;
        uint32_t size_class;    /* CLASS_LARGE: one block spanning the mapping */
        bool inherited;         /* mapped by our parent before fork(): zeros, unlocked */
        bool reserve_chunk;     /* a large block in a chunk of the reserve: back there when freed */
} Region;

static struct {
        pthread_mutex_t lock;
        BlockHeader *free_list[N_CLASSES];
        Region *regions;        /* sorted by base */
        size_t n_regions;
        size_t n_regions_allocated;
        size_t in_use;
        size_t locked;          /* bytes of every locked mapping, pages */
        size_t limit;           /* most bytes locked at once; 0: no limit */
        void **reserve;         /* locked, zeroed chunks of SECURE_RESERVE_CHUNK for GMP */
        size_t n_reserve;
        size_t reserve_target;
} pool = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
};

_Static_assert(SECURE_RESERVE_CHUNK == SLAB_SIZE, "a reserve chunk must fit a slab");

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* GMP's free function from before secure_memory_install_gmp(), for limbs
 * that GMP allocated before we took over. */
static void (*gmp_default_free)(void *, size_t);

_noreturn_ static void secure_memory_panic(const char *what, const void *p) {
        fprintf(stderr, "keyd: secure memory: %s (%p); aborting\n", what, p);
        abort();
}

void secure_wipe(void *p, size_t n) {
        if (p && n > 0)
                explicit_bzero(p, n);
}

int secure_memeq(const void *a, const void *b, size_t n) {
        const volatile uint8_t *x = a, *y = b;
        uint8_t d = 0;

        for (size_t i = 0; i < n; i++)
                d |= x[i] ^ y[i];

        /* d == 0 -> 1, else 0, without a branch on d. */
        return (int) (1 & (((unsigned) d - 1) >> 8));
}

static size_t class_block_size(uint32_t c) {
        return (size_t) SMALLEST_BLOCK << c;
}

static size_t page_size(void) {
        static size_t cached;

        if (cached == 0) {
                long ps = sysconf(_SC_PAGESIZE);
                cached = ps > 0 ? (size_t) ps : 4096;
        }
        return cached;
}

static void pool_lock(void) {
        if (pthread_mutex_lock(&pool.lock) != 0)
                secure_memory_panic("cannot take the allocator lock", NULL);
}

static void pool_unlock(void) {
        (void) pthread_mutex_unlock(&pool.lock);
}

/* fork() handlers: no thread may be inside the allocator while the address
 * space is copied, and the child must drop what it cannot trust. */
static void atfork_prepare(void) {
        pool_lock();
}

static void atfork_parent(void) {
        pool_unlock();
}

static void atfork_child(void) {
        for (size_t i = 0; i < pool.n_regions; i++)
                pool.regions[i].inherited = true;
        for (size_t c = 0; c < N_CLASSES; c++)
                pool.free_list[c] = NULL;
        pool.in_use = 0;
        /* The reserve is the parent's (zeros here, unlocked): forget it. */
        pool.n_reserve = 0;
        pool.reserve_target = 0;
        pool.locked = 0;
        pool_unlock();
}

static void register_atfork(void) {
        if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
                secure_memory_panic("cannot register fork handlers", NULL);
}

/* A fresh anonymous mapping that is locked, not dumped and not inherited.
 * Returns NULL with errno set; ENOMEM when it cannot be locked. */
static void *map_locked(size_t length) {
        void *p;
        int r;

        if (pool.limit > 0 && (length > pool.limit || pool.locked > pool.limit - length)) {
                errno = ENOMEM;
                return NULL;
        }

        p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;

        if (secure_lock_pages(p, length) < 0) {
                r = ENOMEM; /* EPERM/EAGAIN from mlock all mean "no locked memory for you" */
                goto fail;
        }
        if (madvise(p, length, MADV_DONTDUMP) < 0 ||
            madvise(p, length, MADV_WIPEONFORK) < 0) {
                r = errno;
                (void) munlock(p, length);
                goto fail;
        }
        pool.locked += length;
        return p;

fail:
        (void) munmap(p, length);
        errno = r;
        return NULL;
}

static void unmap_locked(void *p, size_t length) {
        /* All of it is ours again, whatever valgrind was told about blocks. */
        VALGRIND_MAKE_MEM_UNDEFINED(p, length);
        explicit_bzero(p, length);
        (void) munlock(p, length);
        (void) munmap(p, length);
        pool.locked -= length;
}

/* A chunk of the reserve, for GMP when a fresh mapping failed; NULL when
 * the reserve is empty too. */
static void *reserve_take(void) {
        if (pool.n_reserve == 0)
                return NULL;
        return pool.reserve[--pool.n_reserve];
}

/* Index of the last region whose base is <= p, or n_regions when none. */
static size_t region_search(const uint8_t *p) {
        size_t lo = 0, hi = pool.n_regions;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (pool.regions[mid].base <= p)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo == 0 ? pool.n_regions : lo - 1;
}

static Region *region_find(const void *p) {
        const uint8_t *u = p;
        size_t i = region_search(u);

        if (i >= pool.n_regions)
                return NULL;
        if (u >= pool.regions[i].base + pool.regions[i].length)
                return NULL;
        return &pool.regions[i];
}

static int region_add(uint8_t *base, size_t length, uint32_t size_class) {
        size_t i;

        if (pool.n_regions == pool.n_regions_allocated) {
                size_t n = MAX(pool.n_regions_allocated * 2, (size_t) 16);
                Region *r = reallocarray(pool.regions, n, sizeof(Region));
                if (!r)
                        return -ENOMEM;
                pool.regions = r;
                pool.n_regions_allocated = n;
        }

        i = region_search(base);
        i = i >= pool.n_regions ? 0 : i + 1;
        memmove(pool.regions + i + 1, pool.regions + i, (pool.n_regions - i) * sizeof(Region));
        pool.regions[i] = (Region) { .base = base, .length = length, .size_class = size_class };
        pool.n_regions++;
        return 0;
}

static void region_remove(Region *r) {
        size_t i = (size_t) (r - pool.regions);

        memmove(pool.regions + i, pool.regions + i + 1, (pool.n_regions - i - 1) * sizeof(Region));
        pool.n_regions--;
}

/* Carve a new slab for class c into free blocks. */
static int slab_grow(uint32_t c, bool may_use_reserve) {
        size_t block = class_block_size(c);
        uint8_t *slab;
        int r;

        slab = map_locked(SLAB_SIZE);
        if (!slab && may_use_reserve)
                slab = reserve_take();  /* a slab for good: it stays locked and counted */
        if (!slab)
                return -ENOMEM;

        r = region_add(slab, SLAB_SIZE, c);
        if (r < 0) {
                unmap_locked(slab, SLAB_SIZE);
                return r;
        }

        /* Push in reverse so blocks are handed out in address order. */
        for (size_t off = SLAB_SIZE; off >= block; off -= block) {
                BlockHeader *h = (BlockHeader *) (slab + off - block);
                h->magic = MAGIC_FREE;
                h->size_class = c;
                h->next_free = pool.free_list[c];
                pool.free_list[c] = h;
        }
        return 0;
}

static void *block_alloc_locked(size_t size, bool may_use_reserve) {
        BlockHeader *h;

        if (size <= class_block_size(N_CLASSES - 1) - HEADER_SIZE) {
                uint32_t c = 0;

                while (class_block_size(c) - HEADER_SIZE < size)
                        c++;

                if (!pool.free_list[c]) {
                        int r = slab_grow(c, may_use_reserve);
                        if (r < 0) {
                                errno = -r;
                                return NULL;
                        }
                }

                h = pool.free_list[c];
                pool.free_list[c] = h->next_free;
        } else {
                size_t length = (size + HEADER_SIZE + page_size() - 1) & ~(page_size() - 1);
                bool from_reserve = false;
                int r;

                h = map_locked(length);
                if (!h && may_use_reserve && size + HEADER_SIZE <= SECURE_RESERVE_CHUNK) {
                        h = reserve_take();
                        length = SECURE_RESERVE_CHUNK;
                        from_reserve = h != NULL;
                }
                if (!h) {
                        errno = ENOMEM;
                        return NULL;
                }

                r = region_add((uint8_t *) h, length, CLASS_LARGE);
                if (r < 0) {
                        unmap_locked(h, length);
                        errno = -r;
                        return NULL;
                }
                region_find(h)->reserve_chunk = from_reserve;
                h->size_class = CLASS_LARGE;
        }

        h->size = size;
        h->magic = MAGIC_LIVE;
        pool.in_use += size;

        /* Free blocks are all zeros (wiped on free, fresh mappings are zero). */
        VALGRIND_MALLOCLIKE_BLOCK(h + 1, size, 0, 1);
        return h + 1;
}

static size_t block_capacity(const Region *r) {
        if (r->size_class == CLASS_LARGE)
                return r->length - HEADER_SIZE;
        return class_block_size(r->size_class) - HEADER_SIZE;
}

/* The live block header for p, or abort: a pointer inside our memory that
 * is not a live block start is a double free or a wild pointer, and going
 * on would corrupt key memory. */
static BlockHeader *block_header_locked(Region *r, void *p) {
        uint8_t *u = p;
        BlockHeader *h = (BlockHeader *) (u - HEADER_SIZE);
        size_t block = r->size_class == CLASS_LARGE ? r->length : class_block_size(r->size_class);

        if (u < r->base + HEADER_SIZE || (size_t) (u - HEADER_SIZE - r->base) % block != 0)
                secure_memory_panic("pointer is not the start of a block", p);
        if (h->magic != MAGIC_LIVE || h->size_class != r->size_class)
                secure_memory_panic("block freed twice or its header was overwritten", p);
        return h;
}

/* Free p if it is ours. Returns false, touching nothing, when it is not. */
static bool block_free_locked(void *p) {
        Region *r;
        BlockHeader *h;

        r = region_find(p);
        if (!r)
                return false;

        /* A block our parent handed out before fork(): the kernel wiped it
         * for us; there is nothing to release in this process. */
        if (r->inherited) {
                VALGRIND_FREELIKE_BLOCK(p, 0);
                return true;
        }

        h = block_header_locked(r, p);
        pool.in_use -= h->size;

        if (r->size_class == CLASS_LARGE) {
                uint8_t *base = r->base;
                size_t length = r->length;
                bool reserve_chunk = r->reserve_chunk;

                VALGRIND_FREELIKE_BLOCK(p, 0);
                region_remove(r);
                if (reserve_chunk && pool.n_reserve < pool.reserve_target) {
                        /* Back to the reserve, wiped like every free byte. */
                        VALGRIND_MAKE_MEM_UNDEFINED(base, length);
                        explicit_bzero(base, length);
                        pool.reserve[pool.n_reserve++] = base;
                } else
                        unmap_locked(base, length); /* wipes all of it */
        } else {
                explicit_bzero(p, h->size);
                VALGRIND_FREELIKE_BLOCK(p, 0);
                h->magic = MAGIC_FREE;
                h->next_free = pool.free_list[r->size_class];
                pool.free_list[r->size_class] = h;
        }
        return true;
}

static void *alloc_internal(size_t size, bool may_use_reserve) {
        void *p;

        if (size > SECURE_ALLOC_MAX) {
                errno = ENOMEM;
                return NULL;
        }

        (void) pthread_once(&atfork_once, register_atfork);

        pool_lock();
        p = block_alloc_locked(size, may_use_reserve);
        pool_unlock();
        return p;
}

void *secure_alloc(size_t size) {
        return alloc_internal(size, false);
}

void *secure_free(void *p) {
        bool ours;

        if (!p)
                return NULL;

        pool_lock();
        ours = block_free_locked(p);
        pool_unlock();

        if (!ours)
                secure_memory_panic("secure_free() of memory that secure_alloc() did not hand out", p);
        return NULL;
}

static void *realloc_internal(void *p, size_t new_size, bool may_use_reserve) {
        Region *r;
        BlockHeader *h;
        size_t old_size;
        void *n;

        if (!p)
                return alloc_internal(new_size, may_use_reserve);
        if (new_size > SECURE_ALLOC_MAX) {
                errno = ENOMEM;
                return NULL;
        }

        pool_lock();
        r = region_find(p);
        if (!r) {
                pool_unlock();
                secure_memory_panic("secure_realloc() of memory that secure_alloc() did not hand out", p);
        }

        if (r->inherited) {
                /* The parent's contents are gone (wiped at fork); all we can
                 * give back is a fresh zeroed block. */
                VALGRIND_FREELIKE_BLOCK(p, 0);
                pool_unlock();
                return alloc_internal(new_size, may_use_reserve);
        }

        h = block_header_locked(r, p);
        old_size = h->size;
        if (new_size <= block_capacity(r)) {
                /* Fits in place. Wipe a shrunk tail now, so the bytes beyond
                 * size are zero as the free-block invariant expects. */
                if (new_size < old_size)
                        explicit_bzero((uint8_t *) p + new_size, old_size - new_size);
                h->size = new_size;
                pool.in_use = pool.in_use - old_size + new_size;
                VALGRIND_RESIZEINPLACE_BLOCK(p, old_size, new_size, 0);
                if (new_size > old_size)  /* zeros, by the invariant */
                        VALGRIND_MAKE_MEM_DEFINED((uint8_t *) p + old_size, new_size - old_size);
                pool_unlock();
                return p;
        }
        pool_unlock();

        n = alloc_internal(new_size, may_use_reserve);
        if (!n)
                return NULL; /* p is untouched, like realloc() */
        memcpy(n, p, old_size);
        secure_free(p);
        return n;
}

void *secure_realloc(void *p, size_t new_size) {
        return realloc_internal(p, new_size, false);
}

size_t secure_memory_in_use(void) {
        size_t n;

        pool_lock();
        n = pool.in_use;
        pool_unlock();
        return n;
}

int secure_lock_mapping(void *p, size_t length) {
        int r = 0;

        length = secure_pages_size(length);
        pool_lock();
        if (pool.limit > 0 && (length > pool.limit || pool.locked > pool.limit - length))
                r = -ENOMEM;
        else if (secure_lock_pages(p, length) < 0)
                r = -ENOMEM;
        else if (madvise(p, length, MADV_DONTDUMP) < 0) {
                r = -errno;
                (void) munlock(p, length);
        } else
                pool.locked += length;
        pool_unlock();
        return r;
}

void secure_unlock_mapping(void *p, size_t length) {
        length = secure_pages_size(length);
        explicit_bzero(p, length);
        pool_lock();
        (void) munlock(p, length);
        pool.locked -= length;
        pool_unlock();
}

void secure_memory_set_limit(size_t max_locked_bytes) {
        pool_lock();
        pool.limit = max_locked_bytes;
        pool_unlock();
}

size_t secure_memory_locked(void) {
        size_t n;

        pool_lock();
        n = pool.locked;
        pool_unlock();
        return n;
}

size_t secure_pages_size(size_t size) {
        if (size > SECURE_ALLOC_MAX)
                return SIZE_MAX;
        return (size + page_size() - 1) & ~(page_size() - 1);
}

void *secure_pages_alloc(size_t size) {
        size_t length = secure_pages_size(size);
        void *p;

        if (size == 0 || length == SIZE_MAX) {
                errno = size == 0 ? EINVAL : ENOMEM;
                return NULL;
        }

        (void) pthread_once(&atfork_once, register_atfork);

        pool_lock();
        p = map_locked(length);  /* zeros, fresh from the kernel */
        pool_unlock();
        return p;
}

void secure_pages_free(void *p, size_t size) {
        if (!p)
                return;

        pool_lock();
        unmap_locked(p, secure_pages_size(size));
        pool_unlock();
}

/* With the lock held. */
static int reserve_fill_locked(void) {
        while (pool.n_reserve < pool.reserve_target) {
                void *chunk = map_locked(SECURE_RESERVE_CHUNK);
                if (!chunk)
                        return -ENOMEM;
                pool.reserve[pool.n_reserve++] = chunk;
        }
        return 0;
}

int secure_memory_reserve(size_t n_chunks) {
        int r;

        (void) pthread_once(&atfork_once, register_atfork);

        pool_lock();
        if (n_chunks > pool.reserve_target) {
                void **a = reallocarray(pool.reserve, n_chunks, sizeof(void *));
                if (!a) {
                        pool_unlock();
                        return -ENOMEM;
                }
                pool.reserve = a;
        }
        while (pool.n_reserve > n_chunks)
                unmap_locked(pool.reserve[--pool.n_reserve], SECURE_RESERVE_CHUNK);
        pool.reserve_target = n_chunks;
        r = reserve_fill_locked();
        pool_unlock();
        return r;
}

int secure_memory_refill(void) {
        int r;

        pool_lock();
        r = reserve_fill_locked();
        pool_unlock();
        return r;
}

/* GMP's hooks. GMP has no way to report an allocation failure; they draw
 * on the reserve when a fresh mapping fails, and abort only when that is
 * empty too: when more operations ran at once than the reserve was sized
 * for, or secure_memory_refill() was not called (or not heeded) first. */
_noreturn_ static void gmp_out_of_memory(size_t size) {
        fprintf(stderr,
                "keyd: cannot allocate %zu bytes of locked memory for a bignum, and the reserve for "
                "bignums is used up: %s; aborting\n",
                size, strerror(errno));
        abort();
}

static bool gmp_free_if_ours(void *p) {
        bool ours;

        pool_lock();
        ours = block_free_locked(p);
        pool_unlock();
        return ours;
}

static bool secure_memory_owns(const void *p) {
        bool ours;

        pool_lock();
        ours = region_find(p) != NULL;
        pool_unlock();
        return ours;
}

static void *gmp_alloc(size_t size) {
        void *p = alloc_internal(size, true);
        if (!p)
                gmp_out_of_memory(size);
        return p;
}

static void gmp_free(void *p, size_t size) {
        if (!p)
                return;
        if (gmp_free_if_ours(p))
                return;

        /* Allocated by GMP's own functions before we were installed. */
        explicit_bzero(p, size);
        gmp_default_free(p, size);
}

static void *gmp_realloc(void *p, size_t old_size, size_t new_size) {
        void *n;

        if (!p || secure_memory_owns(p)) {
                n = realloc_internal(p, new_size, true);
                if (!n)
                        gmp_out_of_memory(new_size);
                return n;
        }

        /* Allocated before we were installed: move it into locked memory. */
        n = gmp_alloc(new_size);
        memcpy(n, p, MIN(old_size, new_size));
        explicit_bzero(p, old_size);
        gmp_default_free(p, old_size);
        return n;
}

void secure_memory_install_gmp(void) {
        void *(*a)(size_t);
        void (*f)(void *, size_t);

        mp_get_memory_functions(&a, NULL, &f);
        if (a == gmp_alloc)
                return; /* already installed */

        gmp_default_free = f;
        mp_set_memory_functions(gmp_alloc, gmp_realloc, gmp_free);
}

#ifdef KEYD_TEST_HOOKS
SecureBlockState secure_memory_test_block_state(const void *p, size_t size) {
        const uint8_t *u = p;
        const BlockHeader *h;
        SecureBlockState state;
        uint8_t any = 0;
        Region *r;

        pool_lock();
        r = region_find(p);
        /* A large block's mapping is gone (or now someone else's): the kernel
         * has it, wiped by unmap_locked() before. */
        if (!r || r->inherited || r->size_class == CLASS_LARGE || u < r->base + HEADER_SIZE ||
            (size_t) (u - HEADER_SIZE - r->base) % class_block_size(r->size_class) != 0 ||
            size > class_block_size(r->size_class) - HEADER_SIZE)
                state = SECURE_BLOCK_UNMAPPED;
        else {
                h = (const BlockHeader *) (u - HEADER_SIZE);
                if (h->magic == MAGIC_LIVE)
                        state = SECURE_BLOCK_REUSED;
                else {
                        for (size_t i = 0; i < size; i++)
                                any |= u[i];
                        state = any ? SECURE_BLOCK_FREE_DIRTY : SECURE_BLOCK_FREE_ZERO;
                }
        }
        pool_unlock();
        return state;
}
#endif
