/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>

#include "bus/bus-error.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "secure-memory.h"
#include "session.h"
#include "surface.h"

int surface_new(Session *s, uint32_t size, Surface **ret, sd_bus_error *error) {
        Client *c = s->client;
        Surface *surface = NULL;
        char what[96];
        size_t locked;
        int r;

        if (size == 0)
                return bus_error_setf(error, -EINVAL, "size is 0; a surface needs at least 1 byte");
        if (s->next_surface_id == UINT32_MAX)
                return bus_error_setf(error, -EDQUOT, "this session has used up its surface ids; "
                                      "create a new session");

        /* A surface is locked in whole pages, and costs the quotas what it locks. */
        locked = secure_pages_size(size);
        snprintf(what, sizeof(what), "a %" PRIu32 "-byte surface (%zu bytes locked, whole pages)", size, locked);
        r = client_charge(c, locked, what, error);
        if (r < 0)
                return r;

        surface = calloc(1, sizeof(*surface));
        if (!surface) {
                client_uncharge(c, locked);
                return bus_error_setf(error, -ENOMEM, "out of memory creating a surface");
        }

        surface->data = secure_pages_alloc(size);
        if (!surface->data) {
                free(surface);
                client_uncharge(c, locked);
                return bus_error_setf(error, -ENOMEM,
                                      "cannot lock %zu bytes for a %" PRIu32 "-byte surface: keyd's locked memory "
                                      "(--max-locked-memory, %" PRIu64 " bytes for all users) is used up; "
                                      "try again when others have destroyed surfaces",
                                      locked, size, s->manager->config.max_locked_memory);
        }

        surface->session = s;
        surface->size = size;
        surface->id = ++s->next_surface_id;
        LIST_PREPEND(surface, s->surfaces, surface);

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

        secure_pages_free(surface->data, surface->size);  /* wipes it */
        LIST_REMOVE(surface, s->surfaces, surface);
        client_uncharge(s->client, secure_pages_size(surface->size));
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
