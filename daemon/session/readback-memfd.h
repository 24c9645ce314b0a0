/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The memfds EncryptionBltFd hands out hold keyd-written pages, charged to
 * keyd's memory, for as long as the client keeps them open or mapped. So
 * each one is charged, in whole pages, to its connection's read-back quota
 * (as large as its surface quota) and its user's memory until the kernel frees the memfd: an inotify watch reports
 * IN_IGNORED when the last reference to it (fd, mapping, reopened file) is
 * gone, wherever it went. A user may have READBACK_MAX_PER_USER of them
 * unclosed, keyd READBACK_MAX in all, which also keeps those events within
 * the kernel's inotify queue (fs.inotify.max_queued_events, 16384), and
 * all of them together hold at most --max-locked-memory bytes (the unit's
 * MemoryMax= budgets for that). */

#include <stdint.h>
#include <systemd/sd-bus.h>

#include "list.h"

#define READBACK_MAX 8192u
#define READBACK_MAX_PER_USER 1024u

typedef struct Client Client;
typedef struct Manager Manager;
typedef struct UserAccount UserAccount;

typedef struct ReadbackMemfd {
        Manager *manager;
        Client *client;           /* NULL once the connection is gone; the user still pays */
        UserAccount *account;
        uint64_t charged;
        int wd;                   /* inotify watch; -1 until watched */
        LIST_FIELDS(struct ReadbackMemfd, client);
} ReadbackMemfd;

/* Charge a result memfd of size bytes to c, or OutOfMemory in error. */
int readback_memfd_new(Client *c, size_t size, ReadbackMemfd **ret, sd_bus_error *error);
/* Watch fd (the memfd, before it is sent): the charge ends when it is freed. */
int readback_memfd_watch(ReadbackMemfd *rb, int fd, sd_bus_error *error);
/* Uncharge and forget. Returns NULL. */
ReadbackMemfd *readback_memfd_free(ReadbackMemfd *rb);
/* The connection goes away: its memfds stay charged to its user. */
void readback_memfd_detach_client(Client *c);
/* Shutdown: forget them all. */
void readback_memfd_free_all(Manager *m);

static inline void readback_memfd_freep(ReadbackMemfd **rb) {
        readback_memfd_free(*rb);
}
