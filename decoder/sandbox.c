/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The helper's sandbox. Order matters: fds and limits first (they need
 * system calls the filter will refuse), capabilities next, then
 * no_new_privs, which lets an unprivileged process load a seccomp filter,
 * and the filter last. Everything is inherited by the decoding threads
 * libavcodec starts afterwards. */

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "sandbox.h"

/* Only keep_fd stays open: keyd passes nothing else on purpose, and
 * whatever leaked through execve must not reach the decoder. */
static int close_other_fds(int keep_fd) {
        if (keep_fd > 0 && close_range(0, (unsigned) keep_fd - 1, 0) < 0)
                return -errno;
        if (close_range((unsigned) keep_fd + 1, ~0U, 0) < 0)
                return -errno;
        return 0;
}

static int set_limit(int resource, rlim_t value) {
        struct rlimit rl = { value, value };

        if (setrlimit(resource, &rl) < 0)
                return -errno;
        return 0;
}

static int set_limits(uint64_t max_memory) {
        static const struct {
                int resource;
                rlim_t value;
        } fixed[] = {
                { RLIMIT_CORE, 0 },
                /* The socket, a sample memfd being mapped, the frame
                 * memfds decoded but not yet handed to keyd (keyd-decoder.c's
                 * READY_MAX) and the frame pool's (DECODER_MAX_POOL_SLOTS):
                 * never files. */
                { RLIMIT_NOFILE, 64 },
                /* A frame memfd is at most 4096x2304 P010 (28 MiB); frames
                 * are memfds, and ftruncate() of one is bounded by this. */
                { RLIMIT_FSIZE, 64u << 20 },
                { RLIMIT_MEMLOCK, 0 },
                { RLIMIT_MSGQUEUE, 0 },
                { RLIMIT_LOCKS, 0 },
                { RLIMIT_RTPRIO, 0 },
                { RLIMIT_SIGPENDING, 64 },
        };
        int r;

        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
                r = set_limit(fixed[i].resource, fixed[i].value);
                if (r < 0)
                        return r;
        }
#if SANITIZER_BUILD
        /* ASan keeps terabytes of shadow address space reserved: no address
         * space limit in the sanitizer build (scripts/run-tests stage 2). */
        return 0;
#endif
        r = set_limit(RLIMIT_AS, (rlim_t) max_memory);
        if (r < 0)
                return r;
        return set_limit(RLIMIT_DATA, (rlim_t) max_memory);
}

/* keyd runs as root with CAP_IPC_LOCK under its unit; root gets its
 * bounding set back at execve(). Drop everything and check that nothing is
 * left: a helper that cannot shed a capability does not decode. */
static int drop_capabilities(void) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};

        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        for (unsigned long cap = 0; cap <= 63; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
                        break;  /* past the kernel's last capability */

        if (syscall(SYS_capget, &header, data) < 0)
                return -errno;
        if ((data[0].permitted | data[1].permitted | data[0].effective | data[1].effective |
             data[0].inheritable | data[1].inheritable) == 0)
                return 0;

        for (unsigned i = 0; i < 2; i++)
                data[i] = (struct __user_cap_data_struct) {};
        if (syscall(SYS_capset, &header, data) < 0)
                return -errno;
        return 0;
}

/* What libavcodec's decoders, its frame and slice threads and glibc need
 * to decode from memory into memfds, and nothing that reaches the file
 * system, the network, other processes or new programs. */
static int load_filter(void) {
        static const int allowed[] = {
                SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pwrite64), SCMP_SYS(pwritev),
                SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(close),
                SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
                SCMP_SYS(madvise), SCMP_SYS(brk),
                SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
                SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(getpid), SCMP_SYS(gettid),
                SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
                SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday),
                SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction),
                SCMP_SYS(sigaltstack),
                SCMP_SYS(memfd_create), SCMP_SYS(ftruncate), SCMP_SYS(fstat),
                SCMP_SYS(exit), SCMP_SYS(exit_group),
        };
        scmp_filter_ctx ctx;
        int r;

        ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;

        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
                if (r < 0)
                        goto finish;
        }

        /* Threads, never processes: clone() only with CLONE_THREAD. clone3()
         * passes its flags in memory, where a filter cannot look, so it
         * fails with ENOSYS and glibc falls back to clone(). */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
        if (r < 0)
                goto finish;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0)
                goto finish;
        /* Seals on the frame memfds, and the fd flags glibc asks about. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, SCMP_A1(SCMP_CMP_EQ, F_ADD_SEALS));
        if (r >= 0)
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, SCMP_A1(SCMP_CMP_EQ, F_GETFD));
        if (r < 0)
                goto finish;
        /* abort() and raise(): signals to this process only. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) getpid()));
        if (r < 0)
                goto finish;
        /* Reading limits (glibc's thread stacks), never setting them. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0),
                             SCMP_A2(SCMP_CMP_EQ, 0));
        if (r < 0)
                goto finish;

#ifdef KEYD_TEST_HOOKS
        /* Test builds only: the "fds" hook reports whether the helper is
         * dumpable (a root test cannot tell from /proc). A query, no more. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_DUMPABLE));
        if (r < 0)
                goto finish;
#endif

        r = seccomp_load(ctx);
finish:
        seccomp_release(ctx);
        return r;
}

int sandbox_enter(int keep_fd, uint64_t max_memory) {
        sigset_t all;
        int r;

        r = close_other_fds(keep_fd);
        if (r < 0)
                return r;
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);

        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return -errno;
        r = set_limits(max_memory);
        if (r < 0)
                return r;
        r = drop_capabilities();
        if (r < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return load_filter();
}
