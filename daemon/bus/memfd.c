/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-error.h"
#include "memfd.h"
#include "test-hooks.h"

#define REQUIRED_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)

/* Every page of a memfd keyd reads must be there already, written (and so
 * charged) by the client: a sealed 256 MiB memfd of nothing but holes costs
 * its sender nothing, and through a mapping, reading a hole made the kernel
 * allocate the page at keyd's expense. keyd now reads with pread(), which
 * reads holes as zeros without allocating, but such a memfd is still the
 * client's mistake (ftruncate() without writing) and is refused as the bus
 * reference says. F_SEAL_WRITE also forbids punching holes later. The file
 * offset is shared with the sender, so it is put back. */
static int memfd_check_no_holes(int fd, off_t size, const char *what, sd_bus_error *error) {
        off_t saved, hole;

        if (size == 0)
                return 0;
        saved = lseek(fd, 0, SEEK_CUR);
        hole = lseek(fd, 0, SEEK_HOLE);
        if (saved >= 0)
                (void) lseek(fd, saved, SEEK_SET);
        if (saved < 0 || hole < 0)
                return bus_error_setf(error, -EINVAL, "cannot look for holes in %s: %m", what);
        if (hole < size)
                return bus_error_setf(error, -EINVAL,
                                      "%s has a hole at byte %jd of %jd: write every byte of a memfd before "
                                      "sealing it (ftruncate() alone leaves holes)",
                                      what, (intmax_t) hole, (intmax_t) size);
        return 0;
}

int memfd_check_sealed(int fd, size_t max_size, const char *what, size_t *ret_size, sd_bus_error *error) {
        struct stat st;
        int seals, r;

        *ret_size = 0;

        /* Seals first, size second: once F_SEAL_SHRINK is on, the size read
         * next is the size for good. The other way round, a client can
         * shrink the file between the two steps and seal it afterwards, and
         * the map would then reach past the end of the file (SIGBUS). */
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0)
                return bus_error_setf(error, -EINVAL,
                                      "%s is not a memfd; pass a memfd_create() file sealed with "
                                      "F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW",
                                      what);
        if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS)
                return bus_error_setf(error, -EINVAL,
                                      "%s lacks seals (has 0x%x); seal it with F_SEAL_WRITE, F_SEAL_SHRINK and "
                                      "F_SEAL_GROW before passing it",
                                      what, (unsigned) seals);
#ifdef KEYD_TEST_HOOKS
        test_hooks_memfd_between_checks();
#endif
        if (fstat(fd, &st) < 0)
                return bus_error_setf(error, -errno, "cannot stat %s: %m", what);
        if (!S_ISREG(st.st_mode))
                return bus_error_setf(error, -EINVAL,
                                      "%s is not a memfd; pass a memfd_create() file sealed with "
                                      "F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW",
                                      what);
        if ((uint64_t) st.st_size > max_size)
                return bus_error_setf(error, -EINVAL, "%s is %jd bytes; at most %zu fit", what,
                                      (intmax_t) st.st_size, max_size);
        r = memfd_check_no_holes(fd, st.st_size, what, error);
        if (r < 0)
                return r;

        *ret_size = (size_t) st.st_size;
        return 0;
}

int memfd_read_at(int fd, uint8_t *buf, size_t size, uint64_t offset) {
        while (size > 0) {
                ssize_t n = pread(fd, buf, size, (off_t) offset);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO;  /* cannot happen to a file sealed against shrinking */
                buf += n, size -= (size_t) n, offset += (uint64_t) n;
        }
        return 0;
}

int memfd_write_at(int fd, const uint8_t *buf, size_t size, uint64_t offset) {
        while (size > 0) {
                ssize_t n = pwrite(fd, buf, size, (off_t) offset);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                buf += n, size -= (size_t) n, offset += (uint64_t) n;
        }
        return 0;
}

int memfd_new(const char *name, size_t size, int *ret_fd) {
        _cleanup_(closep) int fd = -1;

        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0)
                return -errno;

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int memfd_seal(int fd) {
        if (fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS | F_SEAL_SEAL) < 0)
                return -errno;
        return 0;
}
