/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "macro.h"

#define KEYD_BUS_NAME "org.keyd.KeyBroker1"
#define KEYD_MANAGER_PATH "/org/keyd/KeyBroker1"
#define KEYD_MANAGER_INTERFACE "org.keyd.KeyBroker1.Manager"

/* How long the bus may take to print its address. */
#define BUS_START_TIMEOUT_USEC (10ULL * 1000ULL * 1000ULL)
/* How long a command run by harness_run() may take. */
#define RUN_TIMEOUT_USEC (60ULL * 1000ULL * 1000ULL)

static struct {
        char *base;        /* the temporary directory of this test binary */
        char *state_dir;   /* base/state, shared by every keyd of the binary */
        char *run_dir;     /* base/run-XXXXXX, one per started bus */
        char *address;
        pid_t bus_pid;
        pid_t keyd_pid;
        int keyd_exit_status;   /* of the last keyd reaped, -1 while one runs */
        bool keyd_status_judged; /* the test reaped it (harness_kill_keyd...) and judged its status */
        int notify_fd;
        char *notify_path;
        char *keyd_log_path;
} H = {
        .bus_pid = -1,
        .keyd_pid = -1,
        .keyd_exit_status = -1,
        .notify_fd = -1,
};

_Noreturn _printf_(1, 2) static void die(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("harness: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        abort();
}

_printf_(1, 2) static char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                die("out of memory");
        return s;
}

uint64_t harness_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = usec / 1000000ULL, .tv_nsec = (long) (usec % 1000000ULL) * 1000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

const char *harness_binary(const char *env_name) {
        const char *p = getenv(env_name);

        if (!p || !*p)
                die("%s is not set; run the integration tests with `meson test --suite integration`, "
                    "which points it at the built binary", env_name);
        return p;
}

void harness_init(void) {
        const char *tmp = getenv("TMPDIR");
        char *templ;

        if (H.base)
                return;

        templ = xasprintf("%s/keyd-itest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(templ))
                die("cannot make a temporary directory %s: %m", templ);
        H.base = templ;

        H.state_dir = xasprintf("%s/state", H.base);
        if (mkdir(H.state_dir, 0700) < 0)
                die("cannot make the state directory %s: %m", H.state_dir);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        (void) remove(path);
        return 0;
}

void harness_cleanup(void) {
        harness_stop();
        if (H.base && !getenv("KEYD_ITEST_KEEP"))
                (void) nftw(H.base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(H.base);
        free(H.state_dir);
        H.base = H.state_dir = NULL;
}

const char *harness_state_dir(void) {
        return H.state_dir;
}

const char *harness_tmpdir(void) {
        return H.run_dir ?: H.base;
}

/* In the child after fork(): die with the parent, whatever way it ends. */
static void child_setup(pid_t parent) {
        sigset_t none;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(126);
        /* The parent may have died before prctl() took effect. */
        if (getppid() != parent)
                _exit(126);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Reap pid, waiting at most timeout_usec; returns the exit status, 128 +
 * signal, or -ETIMEDOUT. */
static int wait_pid(pid_t pid, uint64_t timeout_usec) {
        uint64_t deadline = harness_now_usec() + timeout_usec;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        break;
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (harness_now_usec() >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(5000);
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

static void kill_and_reap(pid_t *pid) {
        if (*pid <= 0)
                return;
        (void) kill(*pid, SIGKILL);
        (void) wait_pid(*pid, 10ULL * 1000ULL * 1000ULL);
        *pid = -1;
}

/* ---- the bus ---- */

/* A format: %s is the run directory. */
#define BUS_CONFIG_TEMPLATE \
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n" \
        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n" \
        "<busconfig>\n" \
        "  <type>system</type>\n" \
        "  <listen>unix:path=%s/bus</listen>\n" \
        "  <auth>EXTERNAL</auth>\n" \
        "  <policy context=\"default\">\n" \
        "    <allow user=\"*\"/>\n" \
        "    <allow own=\"*\"/>\n" \
        "    <allow send_destination=\"*\" eavesdrop=\"false\"/>\n" \
        "    <allow receive_sender=\"*\"/>\n" \
        "  </policy>\n" \
        "</busconfig>\n"

static int read_line(int fd, char *buf, size_t size, uint64_t timeout_usec) {
        uint64_t deadline = harness_now_usec() + timeout_usec;
        size_t n = 0;

        while (n + 1 < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                uint64_t now = harness_now_usec();
                ssize_t k;
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now) / 1000ULL) + 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        continue;
                k = read(fd, buf + n, size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EPIPE;
                n += (size_t) k;
                buf[n] = 0;
                if (memchr(buf, '\n', n)) {
                        *strchr(buf, '\n') = 0;
                        return 0;
                }
        }
        return -ENOBUFS;
}

const char *harness_start_bus(void) {
        const char *dbus_daemon = getenv("DBUS_DAEMON");
        _cleanup_free_ char *config_path = NULL, *config = NULL;
        char address[4096];
        int pipefd[2];
        pid_t parent = getpid(), pid;
        FILE *f;
        int r;

        if (!H.base)
                harness_init();
        if (H.bus_pid > 0)
                die("harness_start_bus: a bus is running already");
        if (!dbus_daemon || !*dbus_daemon)
                dbus_daemon = "/usr/bin/dbus-daemon";

        free(H.run_dir);
        H.run_dir = xasprintf("%s/run-XXXXXX", H.base);
        if (!mkdtemp(H.run_dir))
                die("cannot make %s: %m", H.run_dir);

        config = xasprintf(BUS_CONFIG_TEMPLATE, H.run_dir);
        config_path = xasprintf("%s/bus.conf", H.run_dir);
        f = fopen(config_path, "we");
        if (!f || fputs(config, f) < 0 || fclose(f) != 0)
                die("cannot write %s: %m", config_path);

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                die("pipe2: %m");

        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                char *argv[] = { (char *) dbus_daemon, (char *) "--nofork", NULL, NULL, NULL };
                char fdarg[64], configarg[PATH_MAX + 32];

                child_setup(parent);
                /* dup2 clears O_CLOEXEC: fd 3 is the one dbus-daemon inherits. */
                if (dup2(pipefd[1], 3) < 0)
                        _exit(126);
                snprintf(fdarg, sizeof(fdarg), "--print-address=3");
                snprintf(configarg, sizeof(configarg), "--config-file=%s", config_path);
                argv[2] = fdarg;
                argv[3] = configarg;
                execv(dbus_daemon, argv);
                fprintf(stderr, "harness: cannot run %s: %m\n", dbus_daemon);
                _exit(127);
        }
        close(pipefd[1]);
        H.bus_pid = pid;

        r = read_line(pipefd[0], address, sizeof(address), BUS_START_TIMEOUT_USEC);
        close(pipefd[0]);
        if (r < 0 || !*address) {
                kill_and_reap(&H.bus_pid);
                die("%s did not print its address: %s", dbus_daemon, strerror(-r));
        }
        H.address = strdup(address);
        if (!H.address)
                die("out of memory");
        return H.address;
}

const char *harness_bus_address(void) {
        return H.address;
}

void harness_stop_bus(void) {
        kill_and_reap(&H.bus_pid);
        free(H.address);
        H.address = NULL;
}

/* ---- keyd ---- */

/* keyd's notifications. Like systemd, the harness reads them all the time,
 * on a thread of its own: sd_notify() blocks once a datagram socket's queue
 * (net.unix.max_dgram_qlen, often 10) is full, and a keyd that reports its
 * status on every session change would hang on a socket nobody reads. */
static struct {
        pthread_t thread;
        bool running;
        bool stop;              /* under lock */
        pthread_mutex_t lock;
        pthread_cond_t changed;
        char *log;              /* every message since keyd last started, '\n'-joined */
        size_t size;
} N = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .changed = PTHREAD_COND_INITIALIZER,
};

/* Read what is queued on the socket into N.log; with N.lock held. */
static void notify_drain_locked(void) {
        char buf[4096];
        ssize_t n;

        while ((n = recv(H.notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
                char *p = realloc(N.log, N.size + (size_t) n + 2);
                if (!p)
                        die("out of memory");
                N.log = p;
                memcpy(N.log + N.size, buf, (size_t) n);
                N.size += (size_t) n;
                N.log[N.size++] = '\n';
                N.log[N.size] = 0;
                pthread_cond_broadcast(&N.changed);
        }
}

static void *notify_reader(void *userdata) {
        (void) userdata;

        for (;;) {
                struct pollfd p = { .fd = H.notify_fd, .events = POLLIN };
                bool stop;

                (void) poll(&p, 1, 50);
                pthread_mutex_lock(&N.lock);
                notify_drain_locked();
                stop = N.stop;
                pthread_mutex_unlock(&N.lock);
                if (stop)
                        return NULL;
        }
}

static void open_notify_socket(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (H.notify_fd >= 0)
                return;

        free(H.notify_path);
        H.notify_path = xasprintf("%s/notify", H.run_dir);
        if (strlen(H.notify_path) >= sizeof(sa.sun_path))
                die("%s is too long for a unix socket; set TMPDIR to a shorter directory", H.notify_path);
        strcpy(sa.sun_path, H.notify_path);

        H.notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (H.notify_fd < 0)
                die("socket(AF_UNIX, SOCK_DGRAM): %m");
        (void) unlink(H.notify_path);
        if (bind(H.notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("bind %s: %m", H.notify_path);

        N.stop = false;
        if (pthread_create(&N.thread, NULL, notify_reader, NULL) != 0)
                die("cannot start the notification reader thread");
        N.running = true;
}

static void close_notify_socket(void) {
        if (N.running) {
                pthread_mutex_lock(&N.lock);
                N.stop = true;
                pthread_mutex_unlock(&N.lock);
                pthread_join(N.thread, NULL);
                N.running = false;
        }
        if (H.notify_fd >= 0)
                close(H.notify_fd);
        H.notify_fd = -1;
}

/* Forget the messages of an earlier keyd. */
static void notify_reset(void) {
        pthread_mutex_lock(&N.lock);
        notify_drain_locked();
        free(N.log);
        N.log = NULL;
        N.size = 0;
        pthread_mutex_unlock(&N.lock);
}

static bool message_has_line(const char *message, const char *line) {
        size_t n = strlen(line);

        for (const char *p = message; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == 0))
                        return true;
        return false;
}

unsigned harness_count_notify(const char *line) {
        size_t n = strlen(line);
        unsigned count = 0;

        pthread_mutex_lock(&N.lock);
        notify_drain_locked();
        /* Messages are '\n'-joined and each of these is a line of its own. */
        for (const char *p = N.log; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == 0))
                        count++;
        pthread_mutex_unlock(&N.lock);
        return count;
}

static int exit_status(int status) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int harness_wait_notify(const char *line, uint64_t timeout_usec) {
        uint64_t deadline = harness_now_usec() + timeout_usec;
        int r = -ETIMEDOUT;

        if (H.notify_fd < 0)
                return -EBADF;

        pthread_mutex_lock(&N.lock);
        for (;;) {
                struct timespec until;
                uint64_t wake;
                int status;

                notify_drain_locked();
                if (message_has_line(N.log, line)) {
                        r = 0;
                        break;
                }

                /* keyd exited before it said so: no point in waiting on
                 * (what it sent before it exited is read already). */
                if (H.keyd_pid > 0 && waitpid(H.keyd_pid, &status, WNOHANG) == H.keyd_pid) {
                        H.keyd_pid = -1;
                        H.keyd_exit_status = exit_status(status);
                        notify_drain_locked();
                        r = message_has_line(N.log, line) ? 0 : -ECHILD;
                        break;
                }
                if (H.keyd_pid <= 0 && H.keyd_exit_status >= 0) {
                        r = -ECHILD;
                        break;
                }

                if (harness_now_usec() >= deadline)
                        break;
                clock_gettime(CLOCK_REALTIME, &until);
                wake = (uint64_t) until.tv_nsec + 50ULL * 1000ULL * 1000ULL;
                until.tv_sec += (time_t) (wake / 1000000000ULL);
                until.tv_nsec = (long) (wake % 1000000000ULL);
                (void) pthread_cond_timedwait(&N.changed, &N.lock, &until);
        }
        pthread_mutex_unlock(&N.lock);
        return r;
}

int harness_start_keyd(const char *const *extra_args) {
        const char *keyd = harness_binary("KEYD_BINARY");
        _cleanup_free_ char *bus_env = NULL, *notify_env = NULL, *state_arg = NULL, *decoder_arg = NULL;
        const char *decoder = getenv("KEYD_DECODER_BINARY");
        const char *argv[64];
        size_t n = 0;
        pid_t parent = getpid(), pid;
        int logfd, r;

        if (!H.address)
                die("harness_start_keyd: start the bus first");
        if (H.keyd_pid > 0)
                die("harness_start_keyd: keyd is running already");

        open_notify_socket();
        notify_reset();

        free(H.keyd_log_path);
        H.keyd_log_path = xasprintf("%s/keyd.log", H.run_dir);
        logfd = open(H.keyd_log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (logfd < 0)
                die("cannot open %s: %m", H.keyd_log_path);

        state_arg = xasprintf("--state-dir=%s", H.state_dir);
        bus_env = xasprintf("DBUS_SYSTEM_BUS_ADDRESS=%s", H.address);
        notify_env = xasprintf("NOTIFY_SOCKET=%s", H.notify_path);

        argv[n++] = keyd;
        argv[n++] = "--bus=system";
        argv[n++] = "--backend=software";
        argv[n++] = state_arg;
        /* The build tree's keyd-decoder, not the installed one. */
        if (decoder && *decoder) {
                decoder_arg = xasprintf("--decoder-helper=%s", decoder);
                argv[n++] = decoder_arg;
        }
        for (size_t i = 0; extra_args && extra_args[i]; i++) {
                if (n + 2 >= ELEMENTSOF(argv))
                        die("too many arguments for keyd");
                argv[n++] = extra_args[i];
        }
        argv[n] = NULL;

        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                int devnull;

                child_setup(parent);
                devnull = open("/dev/null", O_RDONLY);
                if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
                        _exit(126);
                /* Plain log lines, and no way to the host's buses. */
                (void) unsetenv("JOURNAL_STREAM");
                (void) unsetenv("DBUS_SESSION_BUS_ADDRESS");
                if (putenv(bus_env) != 0 || putenv(notify_env) != 0)
                        _exit(126);
                execv(keyd, (char **) argv);
                fprintf(stderr, "harness: cannot run %s: %m\n", keyd);
                _exit(127);
        }
        close(logfd);
        H.keyd_pid = pid;
        H.keyd_exit_status = -1;
        H.keyd_status_judged = false;

        r = harness_wait_notify("READY=1", HARNESS_READY_TIMEOUT_USEC);
        if (r < 0) {
                _cleanup_free_ char *log = harness_keyd_log();
                fprintf(stderr, "harness: keyd did not send READY=1 (%s); its log:\n%s\n", strerror(-r),
                        log ?: "(none)");
                kill_and_reap(&H.keyd_pid);
                return r;
        }
        return 0;
}

pid_t harness_keyd_pid(void) {
        return H.keyd_pid;
}

int harness_kill_keyd(int sig, uint64_t timeout_usec) {
        int r;

        if (H.keyd_pid <= 0)
                return -ESRCH;
        if (kill(H.keyd_pid, sig) < 0)
                return -errno;
        r = wait_pid(H.keyd_pid, timeout_usec);
        if (r == -ETIMEDOUT) {
                kill_and_reap(&H.keyd_pid);
                return r;
        }
        H.keyd_pid = -1;
        H.keyd_exit_status = r;
        H.keyd_status_judged = true;
        return r;
}

int harness_wait_keyd_exit(uint64_t timeout_usec) {
        int r;

        if (H.keyd_pid <= 0)
                return H.keyd_exit_status >= 0 ? H.keyd_exit_status : -ESRCH;
        r = wait_pid(H.keyd_pid, timeout_usec);
        if (r >= 0) {
                H.keyd_pid = -1;
                H.keyd_exit_status = r;
                H.keyd_status_judged = true;
        }
        return r;
}

char *harness_keyd_log(void) {
        size_t size;

        if (!H.keyd_log_path)
                return strdup("");
        return harness_read_file(H.keyd_log_path, &size);
}

static bool crash_status(int status) {
        return status == 128 + SIGABRT || status == 128 + SIGSEGV || status == 128 + SIGBUS ||
               status == 128 + SIGILL || status == 128 + SIGFPE;
}

/* Stop keyd as systemd does (SIGTERM) and judge how it ends: a keyd still
 * serving must exit 0 (under ASan, LeakSanitizer makes a leaking keyd
 * abort at exit: that fails the test here), one on a bus that is gone may
 * exit with an error, and no keyd may ever have crashed. Exits the test
 * process (failing the test) otherwise. */
static void stop_keyd_judged(void) {
        bool bus_up = H.bus_pid > 0 && waitpid(H.bus_pid, NULL, WNOHANG) == 0;
        const char *why = NULL;
        int status = H.keyd_exit_status, st;

        if (H.keyd_pid > 0 && waitpid(H.keyd_pid, &st, WNOHANG) == H.keyd_pid) {
                /* It ended by itself before the test was over. */
                H.keyd_pid = -1;
                status = exit_status(st);
        } else if (H.keyd_pid > 0) {
                (void) kill(H.keyd_pid, SIGCONT); /* a test may have stopped it */
                status = harness_kill_keyd(SIGTERM, HARNESS_STOP_TIMEOUT_USEC);
                H.keyd_status_judged = false;
                if (status == -ETIMEDOUT)
                        why = "did not exit on SIGTERM";
                else if (status != 0 && bus_up)
                        why = "exited with an error on SIGTERM (expected 0)";
        }
        if (!why && !H.keyd_status_judged && status >= 0 && crash_status(status))
                why = "crashed";
        if (why) {
                _cleanup_free_ char *log = harness_keyd_log();
                fprintf(stderr, "harness: keyd %s: status %d; its log:\n%s\n", why, status, log ?: "(none)");
                harness_stop_bus();
                close_notify_socket();
                _exit(EXIT_FAILURE);
        }
}

void harness_stop(void) {
        if (H.keyd_pid > 0 && getenv("KEYD_ITEST_VERBOSE")) {
                _cleanup_free_ char *log = harness_keyd_log();
                fprintf(stderr, "---- keyd log ----\n%s------------------\n", log ?: "");
        }
        stop_keyd_judged();
        harness_stop_bus();
        close_notify_socket();
}

/* ---- bus helpers ---- */

int harness_open_bus(sd_bus **ret) {
        sd_bus *bus = NULL;
        int r;

        if (!H.address)
                return -ENOTCONN;
        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, H.address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

int harness_get_property_u32(const char *path, const char *interface, const char *property, uint32_t *ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;
        int r;

        r = harness_open_bus(&bus);
        if (r < 0)
                return r;
        r = sd_bus_get_property_trivial(bus, KEYD_BUS_NAME, path, interface, property, &error, 'u', ret);
        if (r < 0)
                fprintf(stderr, "harness: Get %s.%s on %s: %s: %s\n", interface, property, path,
                        error.name ?: "", error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        return r;
}

int harness_session_count(uint32_t *ret) {
        return harness_get_property_u32(KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "SessionCount", ret);
}

int harness_wait_session_count(uint32_t expected, uint64_t timeout_usec, uint32_t *ret_last) {
        uint64_t deadline = harness_now_usec() + timeout_usec;
        uint32_t v = UINT32_MAX;
        int r;

        for (;;) {
                r = harness_session_count(&v);
                if (r < 0)
                        return r;
                if (ret_last)
                        *ret_last = v;
                if (v == expected)
                        return 0;
                if (harness_now_usec() >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(20000);
        }
}

/* ---- running commands ---- */

typedef struct Buffer {
        char *data;
        size_t size, allocated;
} Buffer;

static int buffer_read(Buffer *b, int fd) {
        ssize_t n;

        if (b->allocated - b->size < 4097) {
                size_t a = b->allocated ? b->allocated * 2 : 8192;
                char *p = realloc(b->data, a);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->allocated = a;
        }
        n = read(fd, b->data + b->size, b->allocated - b->size - 1);
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : -errno;
        b->size += (size_t) n;
        b->data[b->size] = 0;
        return n > 0;
}

int harness_run(const char *const *argv, const void *stdin_data, size_t stdin_size, HarnessRun *ret) {
        int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
        Buffer bo = {}, be = {};
        size_t written = 0;
        uint64_t deadline = harness_now_usec() + RUN_TIMEOUT_USEC;
        pid_t parent = getpid(), pid;
        int r = 0, status;

        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                die("pipe2: %m");

        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                child_setup(parent);
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                        _exit(126);
                (void) unsetenv("DBUS_SESSION_BUS_ADDRESS");
                (void) unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
                execvp(argv[0], (char **) argv);
                fprintf(stderr, "harness: cannot run %s: %m\n", argv[0]);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        if (!stdin_data || stdin_size == 0) {
                close(in[1]);
                in[1] = -1;
        } else
                (void) fcntl(in[1], F_SETFL, O_NONBLOCK);

        while (out[0] >= 0 || err[0] >= 0 || in[1] >= 0) {
                struct pollfd p[3] = {
                        { .fd = out[0], .events = POLLIN },
                        { .fd = err[0], .events = POLLIN },
                        { .fd = in[1], .events = POLLOUT },
                };
                uint64_t now = harness_now_usec();

                if (now >= deadline) {
                        fprintf(stderr, "harness: %s took too long; killing it\n", argv[0]);
                        (void) kill(pid, SIGKILL);
                        break;
                }
                if (poll(p, 3, (int) ((deadline - now) / 1000ULL) + 1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll: %m");
                }
                if (p[0].revents) {
                        r = buffer_read(&bo, out[0]);
                        if (r <= 0) {
                                close(out[0]);
                                out[0] = -1;
                        }
                }
                if (p[1].revents) {
                        r = buffer_read(&be, err[0]);
                        if (r <= 0) {
                                close(err[0]);
                                err[0] = -1;
                        }
                }
                if (p[2].revents) {
                        ssize_t n = write(in[1], (const char *) stdin_data + written, stdin_size - written);
                        if (n > 0)
                                written += (size_t) n;
                        if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_size) {
                                close(in[1]);
                                in[1] = -1;
                        }
                }
        }
        if (out[0] >= 0)
                close(out[0]);
        if (err[0] >= 0)
                close(err[0]);
        if (in[1] >= 0)
                close(in[1]);

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        die("waitpid: %m");

        *ret = (HarnessRun) {
                .status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                .out = bo.data ?: strdup(""),
                .err = be.data ?: strdup(""),
                .out_size = bo.size,
        };
        return 0;
}

void harness_run_done(HarnessRun *run) {
        free(run->out);
        free(run->err);
        *run = (HarnessRun) {};
}

/* ---- files ---- */

char *harness_write_file(const char *name, const void *data, size_t size) {
        char *path = xasprintf("%s/%s", harness_tmpdir(), name);
        int fd;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                die("cannot create %s: %m", path);
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, (const char *) data + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        die("cannot write %s: %m", path);
                done += (size_t) n;
        }
        if (close(fd) < 0)
                die("cannot write %s: %m", path);
        return path;
}

void *harness_read_file(const char *path, size_t *ret_size) {
        Buffer b = {};
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        while ((r = buffer_read(&b, fd)) > 0)
                ;
        close(fd);
        if (r < 0) {
                free(b.data);
                return NULL;
        }
        if (!b.data)
                b.data = calloc(1, 1);
        *ret_size = b.size;
        return b.data;
}
