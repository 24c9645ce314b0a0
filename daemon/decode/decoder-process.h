/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The keyd-decoder helper process of one VideoDecoder: started with
 * posix_spawn() (no fork of the multi-threaded daemon), its end of a
 * SOCK_SEQPACKET socketpair as fd 3 and nothing else passed on, an empty
 * environment and signal mask; watched and reaped through a pidfd, never
 * with a blocking wait on the bus thread. */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct Manager Manager;

typedef struct DecoderProcess {
        pid_t pid;
        int pidfd;
        int sock;               /* keyd's end, non-blocking */
} DecoderProcess;

/* Start helper_path with the address-space limit max_memory. */
int decoder_process_spawn(const char *helper_path, uint64_t max_memory, DecoderProcess *ret);
/* The process's exit as a sentence ("was killed by signal SIGSEGV", "exited
 * with status 3"); reaps it. -EAGAIN while it still runs. */
int decoder_process_reap(DecoderProcess *p, char *buf, size_t size);
/* SIGKILL it and close the socket; the pidfd goes to a watcher in the event
 * loop that reaps the process when it is gone. */
void decoder_process_kill(Manager *m, DecoderProcess *p);
/* Forget the reapers still waiting (shutdown). */
void decoder_reapers_free(Manager *m);
