/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "decoder-process.h"
#include "decoder-protocol.h"
#include "list.h"
#include "macro.h"
#include "manager.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

typedef struct DecoderReaper {
        Manager *manager;
        sd_event_source *source;   /* owns the pidfd */
        LIST_FIELDS(struct DecoderReaper, reaper);
} DecoderReaper;

static int pidfd_open_(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal_(int pidfd, int sig) {
        return (int) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int decoder_process_spawn(const char *helper_path, uint64_t max_memory, DecoderProcess *ret) {
        char memory_arg[32];
        char *argv[] = { (char *) "keyd-decoder", memory_arg, NULL };
        char *envp[] = { NULL };
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int pair[2], child_fd, r;
        pid_t pid;

        snprintf(memory_arg, sizeof(memory_arg), "%" PRIu64, max_memory);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return -errno;
        /* The helper blocks on its end. */
        if (fcntl(pair[1], F_SETFL, 0) < 0) {
                r = -errno;
                goto fail_pair;
        }
        child_fd = pair[1];
        if (child_fd == DECODER_SOCKET_FD) {
                /* dup2() onto itself would keep FD_CLOEXEC. */
                child_fd = fcntl(pair[1], F_DUPFD_CLOEXEC, DECODER_SOCKET_FD + 1);
                if (child_fd < 0) {
                        r = -errno;
                        goto fail_pair;
                }
                close(pair[1]);
                pair[1] = child_fd;
        }

        sigemptyset(&none);
        sigfillset(&all);
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_adddup2(&actions, child_fd, DECODER_SOCKET_FD);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        r = -posix_spawn(&pid, helper_path, &actions, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        close(pair[1]);
        if (r < 0) {
                close(pair[0]);
                return r;
        }

        /* Not reaped by anyone but us, so the pid cannot be reused before
         * this, even if the helper died already. */
        ret->pidfd = pidfd_open_(pid);
        if (ret->pidfd < 0) {
                r = -errno;
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                close(pair[0]);
                return r;
        }
        ret->pid = pid;
        ret->sock = pair[0];
        return 0;

fail_pair:
        close(pair[0]);
        close(pair[1]);
        return r;
}

int decoder_process_reap(DecoderProcess *p, char *buf, size_t size) {
        siginfo_t si = {};

        if (p->pidfd < 0)
                return -ECHILD;
        if (waitid((idtype_t) P_PIDFD, (id_t) p->pidfd, &si, WEXITED | WNOHANG) < 0)
                return -errno;
        if (si.si_pid == 0)
                return -EAGAIN;

        if (si.si_code == CLD_EXITED) {
                if (si.si_status >= 100 && si.si_status < 200)
                        snprintf(buf, size, "could not shut itself in its sandbox (error %d) and exited",
                                 si.si_status - 100);
                else
                        snprintf(buf, size, "exited with status %d", si.si_status);
        } else if (si.si_status == SIGSYS)
                snprintf(buf, size, "was killed by SIGSYS: it made a system call outside its seccomp allowlist");
        else
                snprintf(buf, size, "was killed by signal %d (SIG%s)", si.si_status,
                         sigabbrev_np(si.si_status) ?: "?");
        close(p->pidfd);
        p->pidfd = -1;
        return 0;
}

static DecoderReaper *reaper_free(DecoderReaper *r) {
        LIST_REMOVE(reaper, r->manager->decoder_reapers, r);
        sd_event_source_disable_unref(r->source);
        free(r);
        return NULL;
}

static int on_reaper_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        DecoderReaper *r = userdata;
        siginfo_t si = {};

        (void) waitid((idtype_t) P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG);
        reaper_free(r);
        return 0;
}

void decoder_process_kill(Manager *m, DecoderProcess *p) {
        DecoderReaper *reaper;
        siginfo_t si = {};

        if (p->sock >= 0)
                close(p->sock);
        p->sock = -1;
        if (p->pidfd < 0)
                return;

        (void) pidfd_send_signal_(p->pidfd, SIGKILL);
        /* Gone already (it was dying): reap it now. */
        if (waitid((idtype_t) P_PIDFD, (id_t) p->pidfd, &si, WEXITED | WNOHANG) >= 0 && si.si_pid != 0) {
                close(p->pidfd);
                p->pidfd = -1;
                return;
        }

        reaper = calloc(1, sizeof(*reaper));
        if (reaper && sd_event_add_io(m->event, &reaper->source, p->pidfd, EPOLLIN, on_reaper_ready, reaper) >= 0) {
                (void) sd_event_source_set_io_fd_own(reaper->source, true);
                reaper->manager = m;
                LIST_PREPEND(reaper, m->decoder_reapers, reaper);
                p->pidfd = -1;
                return;
        }
        free(reaper);
        /* Out of memory: the SIGKILL is sent; wait here rather than leak a zombie. */
        (void) waitid((idtype_t) P_PIDFD, (id_t) p->pidfd, &si, WEXITED);
        close(p->pidfd);
        p->pidfd = -1;
}

void decoder_reapers_free(Manager *m) {
        while (m->decoder_reapers)
                reaper_free(m->decoder_reapers);
}
