/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A protected surface: the stand-in for a texture in protected GPU memory.
 * DecryptionBlt writes plaintext into it; it only ever leaves the daemon
 * encrypted (EncryptionBlt). Its memory is locked, kept out of core dumps
 * and child processes, and wiped before it is released. Surfaces count
 * against their client's protected-memory quota and their user's memory,
 * in the whole pages they lock. */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "list.h"

typedef struct Session Session;

typedef struct Surface {
        Session *session;
        LIST_FIELDS(struct Surface, surface);
        uint32_t id;
        size_t size;
        uint8_t *data;
} Surface;

/* A zero-filled surface of size bytes for session s, within its client's quota. */
int surface_new(Session *s, uint32_t size, Surface **ret, sd_bus_error *error);
/* Wipe, unlock, release, and return the bytes to the client's quota. Returns NULL. */
Surface *surface_free(Surface *surface);
/* The session's surface with this id, or InvalidArg in error. */
int surface_get(Session *s, uint32_t id, Surface **ret, sd_bus_error *error);
