/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bus/bus-error.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "secure-memory.h"
#include "session.h"
#include "surface.h"

/* Locked, undumpable, zeroed pages (mmap gives zeros). */
static uint8_t *protected_pages_new(size_t size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        if (secure_lock_pages(p, size) < 0) {
                int saved = errno;
                munmap(p, size);
                errno = saved;
                return NULL;
        }
        (void) madvise(p, size, MADV_DONTDUMP);
        (void) madvise(p, size, MADV_WIPEONFORK);
        return p;
}

static void protected_pages_free(uint8_t *p, size_t size) {
        if (!p)
                return;
        secure_wipe(p, size);
        munlock(p, size);
        munmap(p, size);
}

int surface_new(Session *s, uint32_t size, Surface **ret, sd_bus_error *error) {
        Client *c = s->client;
        uint64_t quota = s->manager->config.max_surface_bytes_per_client;
        Surface *surface = NULL;

        if (size == 0)
                return bus_error_setf(error, -EINVAL, "size is 0; a surface needs at least 1 byte");
        if (c->surface_bytes + size > quota)
                return bus_error_setf(error, -EDQUOT,
                                      "a %" PRIu32 "-byte surface would bring this connection to %" PRIu64
                                      " bytes of protected memory; its quota is %" PRIu64
                                      " (protected_memory_size); destroy surfaces first",
                                      size, c->surface_bytes + size, quota);
        if (s->next_surface_id == UINT32_MAX)
                return bus_error_setf(error, -EDQUOT, "this session has used up its surface ids; "
                                      "create a new session");

        surface = calloc(1, sizeof(*surface));
        if (!surface)
                return bus_error_setf(error, -ENOMEM, "out of memory creating a surface");

        surface->data = protected_pages_new(size);
        if (!surface->data) {
                free(surface);
                return bus_error_setf(error, -ENOMEM,
                                      "cannot lock %" PRIu32 " bytes of protected memory (%m); raise keyd's "
                                      "memory lock limit (LimitMEMLOCK=) or use a smaller surface",
                                      size);
        }

        surface->session = s;
        surface->size = size;
        surface->id = ++s->next_surface_id;
        LIST_PREPEND(surface, s->surfaces, surface);
        c->surface_bytes += size;

        log_debug("Session %" PRIu64 ": surface %" PRIu32 " of %" PRIu32 " bytes created.", s->id, surface->id,
                  size);
        *ret = surface;
        return 0;
}

Surface *surface_free(Surface *surface) {
        Session *s;

        if (!surface)
                return NULL;
        s = surface->session;

        protected_pages_free(surface->data, surface->size);
        LIST_REMOVE(surface, s->surfaces, surface);
        s->client->surface_bytes -= surface->size;
        free(surface);
        return NULL;
}

int surface_get(Session *s, uint32_t id, Surface **ret, sd_bus_error *error) {
        LIST_FOREACH(surface, i, s->surfaces)
                if (i->id == id) {
                        *ret = i;
                        return 0;
                }

        return bus_error_setf(error, -EINVAL,
                              "surface %" PRIu32 " does not exist in this session; use an id that "
                              "CreateSurface returned and that was not destroyed",
                              id);
}
