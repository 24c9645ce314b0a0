/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bus-error.h"
#include "memfd.h"
#include "test-hooks.h"

#define REQUIRED_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)
#define DESTINATION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010  /* Linux 5.1 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23      /* Linux 5.14; older kernels fault page by page */
#endif

/* Only tmpfs memfds: the hole check below relies on SEEK_HOLE, and
 * hugetlbfs (MFD_HUGETLB) has none, so every hugetlbfs file reads as
 * "no holes" while its pages may not exist yet; reading or writing one would
 * then make keyd pay for the huge page. */
static int memfd_check_tmpfs(int fd, const char *what, sd_bus_error *error) {
        struct statfs sfs;

        if (fstatfs(fd, &sfs) < 0)
                return bus_error_setf(error, -EINVAL, "cannot look at the file system of %s: %m", what);
        if ((uint64_t) sfs.f_type == (uint64_t) HUGETLBFS_MAGIC)
                return bus_error_setf(error, -EINVAL,
                                      "%s is a hugetlbfs memfd (MFD_HUGETLB); keyd takes only tmpfs memfds, made "
                                      "by memfd_create() without MFD_HUGETLB",
                                      what);
        if ((uint64_t) sfs.f_type != (uint64_t) TMPFS_MAGIC)
                return bus_error_setf(error, -EINVAL,
                                      "%s is on a file system of type 0x%jx, not tmpfs; keyd takes only tmpfs "
                                      "memfds, made by memfd_create() without MFD_HUGETLB",
                                      what, (uintmax_t) (uint64_t) sfs.f_type);
        return 0;
}

/* Every page of a memfd keyd reads must be there already, written (and so
 * charged) by the client: a sealed 256 MiB memfd of nothing but holes costs
 * its sender nothing, and through a mapping, reading a hole made the kernel
 * allocate the page at keyd's expense. keyd now reads with pread(), which
 * reads holes as zeros without allocating, but such a memfd is still the
 * client's mistake (ftruncate() without writing) and is refused as the bus
 * reference says. F_SEAL_WRITE also forbids punching holes later. The file
 * offset is shared with the sender, so it is put back. */
int memfd_check_no_holes(int fd, off_t size, const char *what, sd_bus_error *error) {
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
                                      "passing it (ftruncate() and fallocate() alone leave holes)",
                                      what, (intmax_t) hole, (intmax_t) size);
        return 0;
}

/* The two checks both kinds of memfd go through, always in this order:
 * memfd_get_seals() first, memfd_get_size() second (memfd_check_sealed()
 * says why). not_memfd_hint says what to pass instead; seal_names lists the
 * seals the "lacks seals" message asks for. */
static int memfd_get_seals(int fd, const char *what, int required, const char *seal_names,
                           const char *not_memfd_hint, int *ret_seals, sd_bus_error *error) {
        int seals;

        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0)
                return bus_error_setf(error, -EINVAL, "%s is not a memfd; pass %s", what, not_memfd_hint);
        if ((seals & required) != required)
                return bus_error_setf(error, -EINVAL, "%s lacks seals (has 0x%x); seal it with %s before passing it",
                                      what, (unsigned) seals, seal_names);
        *ret_seals = seals;
        return 0;
}

/* Only after memfd_get_seals(): the size read here is the size for good. */
static int memfd_get_size(int fd, const char *what, const char *not_memfd_hint, off_t *ret_size,
                          sd_bus_error *error) {
        struct stat st;

#ifdef KEYD_TEST_HOOKS
        test_hooks_memfd_between_checks();
#endif
        if (fstat(fd, &st) < 0)
                return bus_error_setf(error, -errno, "cannot stat %s: %m", what);
        if (!S_ISREG(st.st_mode))
                return bus_error_setf(error, -EINVAL, "%s is not a memfd; pass %s", what, not_memfd_hint);
        *ret_size = st.st_size;
        return 0;
}

#define SEALED_HINT \
        "a memfd_create() file sealed with F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW"

int memfd_check_sealed_layout(int fd, size_t max_size, const char *what, size_t *ret_size, sd_bus_error *error) {
        off_t size;
        int seals, r;

        *ret_size = 0;

        r = memfd_check_tmpfs(fd, what, error);
        if (r < 0)
                return r;

        /* Seals first, size second: once F_SEAL_SHRINK is on, the size read
         * next is the size for good. The other way round, a client can
         * shrink the file between the two steps and seal it afterwards, and
         * the map would then reach past the end of the file (SIGBUS). */
        r = memfd_get_seals(fd, what, REQUIRED_SEALS, "F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW", SEALED_HINT,
                            &seals, error);
        if (r < 0)
                return r;
        r = memfd_get_size(fd, what, SEALED_HINT, &size, error);
        if (r < 0)
                return r;
        if ((uint64_t) size > max_size)
                return bus_error_setf(error, -EINVAL, "%s is %jd bytes; at most %zu fit", what,
                                      (intmax_t) size, max_size);

        *ret_size = (size_t) size;
        return 0;
}

int memfd_check_sealed(int fd, size_t max_size, const char *what, size_t *ret_size, sd_bus_error *error) {
        size_t size;
        int r;

        *ret_size = 0;
        r = memfd_check_sealed_layout(fd, max_size, what, &size, error);
        if (r < 0)
                return r;
        r = memfd_check_no_holes(fd, (off_t) size, what, error);
        if (r < 0)
                return r;

        *ret_size = size;
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

int memfd_map_destination(int fd, size_t size, const char *what, MappedMemfd *ret, sd_bus_error *error) {
        off_t file_size;
        int seals, r;
        void *p;

        *ret = (MappedMemfd) {};

        r = memfd_check_tmpfs(fd, what, error);
        if (r < 0)
                return r;

        /* Seals first, size second, as in memfd_check_sealed(): with
         * F_SEAL_SHRINK and F_SEAL_GROW on, the size read next stays, and
         * writing through the map cannot fault past the end (SIGBUS). */
        r = memfd_get_seals(fd, what, DESTINATION_SEALS, "F_SEAL_SHRINK and F_SEAL_GROW",
                            "a memfd_create() file of the surface's size, every byte written, sealed with "
                            "F_SEAL_SHRINK and F_SEAL_GROW",
                            &seals, error);
        if (r < 0)
                return r;
        if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL))
                return bus_error_setf(error, -EINVAL,
                                      "%s is sealed against writing or further seals (has 0x%x); keyd writes the "
                                      "result into it and then seals it with F_SEAL_FUTURE_WRITE itself: pass a "
                                      "memfd without F_SEAL_WRITE, F_SEAL_FUTURE_WRITE or F_SEAL_SEAL, and a new "
                                      "one for every call",
                                      what, (unsigned) seals);
        r = memfd_get_size(fd, what,
                           "a memfd_create() file of the surface's size, sealed with F_SEAL_SHRINK and F_SEAL_GROW",
                           &file_size, error);
        if (r < 0)
                return r;
        if ((uint64_t) file_size != size)
                return bus_error_setf(error, -EINVAL, "%s is %jd bytes; the surface is %zu, make it that size",
                                      what, (intmax_t) file_size, size);
        if (size == 0)
                return 0;

        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return bus_error_setf(error, -EINVAL, "cannot map %s writable: %m", what);

        /* From here on nobody can punch holes into it (fallocate() and
         * MADV_REMOVE fail with F_SEAL_FUTURE_WRITE) nor write it, and our
         * writable map made before the seal still works. So the pages found
         * below are the client's, and stay there while keyd writes: no write
         * of keyd's can allocate a page that keyd's memory then pays for. */
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0) {
                r = -errno;
                munmap(p, size);
                return bus_error_setf(error, -EINVAL, "cannot seal %s with F_SEAL_FUTURE_WRITE: %s", what,
                                      strerror(-r));
        }
        r = memfd_check_no_holes(fd, (off_t) size, what, error);
        if (r < 0) {
                munmap(p, size);
                return r;
        }
        /* Map the client's pages in one go rather than fault by fault. Only
         * now: before the hole check, populating would allocate the holes. */
        (void) madvise(p, size, MADV_POPULATE_WRITE);

        ret->data = p;
        ret->size = size;
        return 0;
}

void memfd_unmap(MappedMemfd *m) {
        if (m->data)
                (void) munmap(m->data, m->size);
        *m = (MappedMemfd) {};
}
