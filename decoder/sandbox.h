/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/* Shut the helper in, before it reads a byte of bitstream: every fd but
 * keep_fd closed, non-dumpable, resource limits (address space
 * max_memory), no capabilities, no_new_privs, and a seccomp allowlist
 * without open, socket or exec (a system call outside it kills the
 * process with SIGSYS). Returns 0 or a negative errno; the caller must exit
 * then, it is not sandboxed. */
int sandbox_enter(int keep_fd, uint64_t max_memory);
