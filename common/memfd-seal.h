/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <fcntl.h>

/* F_ADD_SEALS, tried again on EBUSY. Sealing a memfd against writes
 * (F_SEAL_WRITE) makes the kernel wait for every page of it to lose the
 * references beyond the page cache's own; it waits about 150 ms for
 * transient ones and then gives up with EBUSY. That happened once on this
 * kind of VM (Linux 6.18) in a long keyd-bench run, to a memfd just
 * written that no other process held yet; what held the page was not
 * found. Another try waits again, and costs nothing when the first one
 * succeeds. Returns 0 or a negative errno. */
static inline int memfd_add_seals(int fd, int seals) {
        for (unsigned tries = 1;; tries++) {
                if (fcntl(fd, F_ADD_SEALS, seals) >= 0)
                        return 0;
                if (errno != EBUSY || tries >= 5)
                        return -errno;
        }
}
