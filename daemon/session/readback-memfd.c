/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "bus/bus-error.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "readback-memfd.h"
#include "secure-memory.h"

static int compare_wd(const void *a, const void *b) {
        int x = ((const ReadbackMemfd *) a)->wd, y = ((const ReadbackMemfd *) b)->wd;
        return x < y ? -1 : x > y;
}

static ReadbackMemfd *readback_find(Manager *m, int wd) {
        ReadbackMemfd key = { .wd = wd };
        ReadbackMemfd **found = tfind(&key, &m->readbacks, compare_wd);
        return found ? *found : NULL;
}

static int on_inotify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        union {
                struct inotify_event ev;
                uint8_t raw[4096];
        } buf;
        ssize_t n;

        for (;;) {
                n = read(fd, &buf, sizeof(buf));
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(-errno,
                                                "Failed to read the inotify events of read-back memfds: %m");

                for (uint8_t *p = buf.raw; p < buf.raw + n;) {
                        struct inotify_event *ev = (struct inotify_event *) p;

                        /* The kernel freed the memfd: nobody holds it any more. */
                        if (ev->mask & IN_IGNORED)
                                readback_memfd_free(readback_find(m, ev->wd));
                        if (ev->mask & IN_Q_OVERFLOW)
                                log_warning("Lost inotify events of read-back memfds; their memory stays "
                                            "charged to their users.");
                        p += sizeof(*ev) + ev->len;
                }
        }
}

static int readback_setup(Manager *m) {
        int r;

        if (m->readback_inotify_fd >= 0)
                return 0;

        m->readback_inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (m->readback_inotify_fd < 0)
                return -errno;
        r = sd_event_add_io(m->event, &m->readback_inotify_source, m->readback_inotify_fd, EPOLLIN, on_inotify, m);
        if (r >= 0)
                /* Freed memfds count before the calls that arrive with them. */
                r = sd_event_source_set_priority(m->readback_inotify_source, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0) {
                m->readback_inotify_source = sd_event_source_disable_unref(m->readback_inotify_source);
                m->readback_inotify_fd = (close(m->readback_inotify_fd), -1);
                return r;
        }
        return 0;
}

int readback_memfd_new(Client *c, size_t size, ReadbackMemfd **ret, sd_bus_error *error) {
        Manager *m = c->manager;
        ReadbackMemfd *rb;
        uint64_t charged = secure_pages_size(size ?: 1);
        char what[96];
        int r;

        r = readback_setup(m);
        if (r < 0)
                return bus_error_setf(error, r, "cannot watch read-back memfds: %s", strerror(-r));
        /* A client that closed its last memfd just before this call finds it uncharged. */
        (void) on_inotify(m->readback_inotify_source, m->readback_inotify_fd, EPOLLIN, m);

        if (m->n_readbacks >= READBACK_MAX)
                return bus_error_setf(error, -EDQUOT,
                                      "keyd has %u EncryptionBltFd memfds open, the most it tracks; close "
                                      "the ones you have read, or use EncryptionBlt",
                                      m->n_readbacks);
        /* keyd's own memory pays for these pages: as much again as it may lock, and no more. */
        if (m->readback_bytes + charged > m->config.max_locked_memory)
                return bus_error_setf(error, -ENOMEM,
                                      "keyd's EncryptionBltFd memfds not yet closed hold %" PRIu64 " bytes, the "
                                      "most it gives all users together (as much as --max-locked-memory); try "
                                      "again later, or use EncryptionBlt",
                                      m->readback_bytes);
        if (c->account->n_readbacks >= READBACK_MAX_PER_USER)
                return bus_error_setf(error, -EDQUOT,
                                      "uid %u has %u EncryptionBltFd memfds open, the most for one user; close "
                                      "the ones you have read",
                                      (unsigned) c->uid, c->account->n_readbacks);


        snprintf(what, sizeof(what), "an EncryptionBltFd memfd of %zu bytes (%" PRIu64 " in whole pages)", size,
                 charged);
        r = client_charge(c, CHARGE_READBACK, charged, what, error);
        if (r < 0)
                return r;

        rb = calloc(1, sizeof(*rb));
        if (!rb) {
                client_uncharge(c, CHARGE_READBACK, charged);
                return bus_error_setf(error, -ENOMEM, "out of memory for an EncryptionBltFd memfd");
        }
        *rb = (ReadbackMemfd) { .manager = m, .client = c, .account = c->account, .charged = charged, .wd = -1 };
        c->account->n_refs++;  /* the memfd may outlive the connection */
        c->account->n_readbacks++;
        m->n_readbacks++;
        m->readback_bytes += charged;
        LIST_PREPEND(client, c->readbacks, rb);
        *ret = rb;
        return 0;
}

int readback_memfd_watch(ReadbackMemfd *rb, int fd, sd_bus_error *error) {
        char path[64];
        int wd;

        /* IN_DELETE_SELF never comes for a memfd; IN_IGNORED comes with any mask. */
        snprintf(path, sizeof(path), "/proc/self/fd/%i", fd);
        wd = inotify_add_watch(rb->manager->readback_inotify_fd, path, IN_DELETE_SELF);
        if (wd < 0)
                return bus_error_setf(error, -ENOMEM, "cannot watch the result memfd (%m); try again later");
        rb->wd = wd;
        if (!tsearch(rb, &rb->manager->readbacks, compare_wd)) {
                rb->wd = -1;
                (void) inotify_rm_watch(rb->manager->readback_inotify_fd, wd);
                return bus_error_setf(error, -ENOMEM, "out of memory watching the result memfd");
        }
        return 0;
}

ReadbackMemfd *readback_memfd_free(ReadbackMemfd *rb) {
        Manager *m;

        if (!rb)
                return NULL;
        m = rb->manager;

        if (rb->wd >= 0 && tfind(rb, &m->readbacks, compare_wd)) {
                tdelete(rb, &m->readbacks, compare_wd);
                /* Gone already when the kernel said IN_IGNORED; harmless then. */
                (void) inotify_rm_watch(m->readback_inotify_fd, rb->wd);
        }
        if (rb->client) {
                LIST_REMOVE(client, rb->client->readbacks, rb);
                client_uncharge(rb->client, CHARGE_READBACK, rb->charged);
        } else
                user_account_uncharge(rb->account, rb->charged);
        rb->account->n_readbacks--;
        m->n_readbacks--;
        m->readback_bytes -= rb->charged;
        user_account_unref(rb->account);
        free(rb);
        return NULL;
}

void readback_memfd_detach_client(Client *c) {
        while (c->readbacks) {
                ReadbackMemfd *rb = c->readbacks;

                LIST_REMOVE(client, c->readbacks, rb);
                c->readback_bytes -= rb->charged;  /* the connection's part ends; the user's stays */
                rb->client = NULL;
        }
}

void readback_memfd_free_all(Manager *m) {
        /* The tree holds every watched one; unwatched ones do not outlive a call. */
        while (m->readbacks)
                readback_memfd_free(*(ReadbackMemfd **) m->readbacks);
        m->readback_inotify_source = sd_event_source_disable_unref(m->readback_inotify_source);
        if (m->readback_inotify_fd >= 0)
                m->readback_inotify_fd = (close(m->readback_inotify_fd), -1);
}
