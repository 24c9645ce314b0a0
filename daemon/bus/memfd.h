/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sealed memfds for bulk data, so a 4K frame does not travel through
 * dbus-daemon twice as an `ay`. A memfd we read must be sealed against
 * writes, shrinking and growing: then its bytes cannot change while we
 * decrypt them, and mapping it cannot fault past its end (SIGBUS). */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct MappedMemfd {
        uint8_t *data;
        size_t size;
} MappedMemfd;

/* Map fd read-only after checking it is a memfd with F_SEAL_WRITE,
 * F_SEAL_SHRINK and F_SEAL_GROW, at most max_size bytes, without holes. */
int memfd_map_sealed(int fd, size_t max_size, const char *what, MappedMemfd *ret, sd_bus_error *error);
void memfd_unmap(MappedMemfd *m);

/* A new memfd of size bytes, mapped writable in *ret_map. */
int memfd_new_mapped(const char *name, size_t size, int *ret_fd, MappedMemfd *ret_map);
/* Unmap and seal it for good (write, shrink, grow, seal), ready to send. */
int memfd_seal(int fd, MappedMemfd *map);
