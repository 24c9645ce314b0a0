/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sealed memfds for bulk data, so a 4K frame does not travel through
 * dbus-daemon twice as an `ay`. A memfd we read must be sealed against
 * writes, shrinking and growing: then its bytes cannot change while we
 * decrypt them, and its size is the size for good. */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

/* Check that fd is a tmpfs memfd with F_SEAL_WRITE, F_SEAL_SHRINK and F_SEAL_GROW,
 * at most max_size bytes, without holes; *ret_size is its size for good.
 *
 * keyd reads such a memfd with pread() (memfd_read_at()), never maps it:
 * on a virtual machine each page fault of a fresh mapping and the TLB
 * shootdown of munmap() in a threaded process cost more than decrypting
 * the page (keyd-bench measured DecryptionBltFd at 1/7 of AES speed with
 * a mapping, see docs/benchmark.md). pread() copies from the page cache
 * into memory that is already mapped and locked. */
int memfd_check_sealed(int fd, size_t max_size, const char *what, size_t *ret_size, sd_bus_error *error);
/* memfd_check_sealed() without the hole check, for a caller that makes it
 * with memfd_check_no_holes() beside other work before it replies (a large
 * DecryptionBltFd: the check walks the file a page at a time). */
int memfd_check_sealed_layout(int fd, size_t max_size, const char *what, size_t *ret_size, sd_bus_error *error);
/* -EINVAL, and error says where, if the first size bytes of fd have a hole.
 * Moves the file offset and puts it back: call it from one thread at a time. */
int memfd_check_no_holes(int fd, off_t size, const char *what, sd_bus_error *error);
/* size bytes at offset of a memfd checked above; -EIO if it ends early. */
int memfd_read_at(int fd, uint8_t *buf, size_t size, uint64_t offset);

typedef struct MappedMemfd {
        uint8_t *data;
        size_t size;
} MappedMemfd;

void memfd_unmap(MappedMemfd *m);

/* Map fd writable for a result of exactly size bytes, the destination a
 * client supplies (EncryptionBltToFd): a tmpfs memfd of that size without
 * holes, sealed with F_SEAL_SHRINK and F_SEAL_GROW, not with F_SEAL_WRITE,
 * F_SEAL_FUTURE_WRITE or F_SEAL_SEAL. keyd adds F_SEAL_FUTURE_WRITE once
 * mapped, so the client can no longer punch holes that keyd's writes would
 * fill with pages of keyd's own. Its pages are the client's: keyd writes
 * into them and pays for none. */
int memfd_map_destination(int fd, size_t size, const char *what, MappedMemfd *ret, sd_bus_error *error);
