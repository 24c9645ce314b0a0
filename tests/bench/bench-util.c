/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Clocks, latency percentiles, the load-thread runner and the few raw
 * D-Bus calls the sections share. */

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "macro.h"

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

_Noreturn void bench_die(const char *fmt, ...) {
        va_list ap;

        fflush(stdout);
        va_start(ap, fmt);
        fputs("keyd-bench: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        /* exit(), not abort(): atexit stops keyd and the bus and removes the
         * temporary directory. */
        exit(EXIT_FAILURE);
}

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000u;
}

void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t) (usec / USEC_PER_SEC),
                               .tv_nsec = (long) (usec % USEC_PER_SEC) * 1000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

void *xmalloc(size_t size) {
        void *p = malloc(size ?: 1);

        if (!p)
                bench_die("out of memory allocating %zu bytes", size);
        return p;
}

void random_fill(void *p, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = getrandom((uint8_t *) p + done, n - done, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        bench_die("getrandom: %m");
                done += (size_t) k;
        }
}

/* ---- latencies ---- */

void samples_add(Samples *s, double us) {
        if (s->n == s->allocated) {
                size_t a = s->allocated ? s->allocated * 2 : 4096;
                double *v = realloc(s->v, a * sizeof(double));
                if (!v)
                        bench_die("out of memory for latency samples");
                s->v = v;
                s->allocated = a;
        }
        s->v[s->n++] = us;
}

void samples_merge(Samples *into, const Samples *from) {
        for (size_t i = 0; i < from->n; i++)
                samples_add(into, from->v[i]);
}

void samples_free(Samples *s) {
        free(s->v);
        *s = (Samples) {};
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double percentile(const double *v, size_t n, double p) {
        size_t rank;

        if (n == 0)
                return 0;
        rank = (size_t) (p / 100.0 * (double) n + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > n)
                rank = n;
        return v[rank - 1];
}

Latency samples_latency(Samples *s) {
        qsort(s->v, s->n, sizeof(double), compare_double);
        return (Latency) {
                .p50_us = percentile(s->v, s->n, 50),
                .p99_us = percentile(s->v, s->n, 99),
                .max_us = s->n ? s->v[s->n - 1] : 0,
                .n = s->n,
        };
}

double median(double *v, size_t n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(double), compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- load threads ---- */

struct LoadRun {
        pthread_barrier_t start;
        atomic_bool stop;
};

void load_thread_begin(LoadThread *t) {
        pthread_barrier_wait(&t->run->start);
        t->start_usec = now_usec();
}

bool load_thread_should_stop(LoadThread *t) {
        return atomic_load_explicit(&t->run->stop, memory_order_relaxed);
}

void load_thread_end(LoadThread *t) {
        t->end_usec = now_usec();
}

double load_run(unsigned n, void *(*fn)(void *), LoadThread *threads, double seconds) {
        LoadRun run = {};
        pthread_t *tids = xmalloc(n * sizeof(pthread_t));
        double rate = 0;

        if (pthread_barrier_init(&run.start, NULL, n + 1) != 0)
                bench_die("pthread_barrier_init failed");
        atomic_init(&run.stop, false);

        for (unsigned i = 0; i < n; i++) {
                threads[i].run = &run;
                threads[i].ops = 0;
                if (pthread_create(&tids[i], NULL, fn, &threads[i]) != 0)
                        bench_die("cannot start thread %u of %u", i + 1, n);
        }

        /* Every thread has done its setup once the barrier opens. */
        pthread_barrier_wait(&run.start);
        sleep_usec((uint64_t) (seconds * USEC_PER_SEC));
        atomic_store(&run.stop, true);

        for (unsigned i = 0; i < n; i++) {
                pthread_join(tids[i], NULL);
                if (threads[i].end_usec > threads[i].start_usec)
                        rate += (double) threads[i].ops * USEC_PER_SEC /
                                (double) (threads[i].end_usec - threads[i].start_usec);
        }

        pthread_barrier_destroy(&run.start);
        free(tids);
        return rate;
}

/* ---- /proc ---- */

uint64_t proc_vmrss_kib(pid_t pid) {
        char path[64], line[256];
        uint64_t kib = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                bench_die("cannot open %s: %m", path);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kib) == 1)
                        break;
        fclose(f);
        if (kib == 0)
                bench_die("no VmRSS in %s", path);
        return kib;
}

/* Fields 14 and 15 of /proc/<pid>/stat, after the command name in parentheses. */
uint64_t proc_cpu_usec(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long utime, stime;
        long ticks = sysconf(_SC_CLK_TCK);
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                bench_die("cannot open %s: %m", path);
        p = fgets(buf, sizeof(buf), f);
        fclose(f);
        if (!p || !(p = strrchr(buf, ')')) ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                bench_die("cannot parse %s", path);
        return (utime + stime) * USEC_PER_SEC / (uint64_t) (ticks > 0 ? ticks : 100);
}

bool read_proc_stat(const char *name, char *buf, size_t size) {
        char path[300];
        bool ok;
        FILE *f;

        if (name[0] < '1' || name[0] > '9')
                return false;
        snprintf(path, sizeof(path), "/proc/%s/stat", name);
        f = fopen(path, "re");
        if (!f)
                return false;
        ok = fgets(buf, (int) size, f);
        fclose(f);
        return ok;
}

pid_t find_child_named(const char *comm) {
        _cleanup_(closedirp) DIR *d = opendir("/proc");
        struct dirent *de;

        if (!d)
                return -1;
        while ((de = readdir(d))) {
                char buf[512], name[64];
                int ppid;

                if (read_proc_stat(de->d_name, buf, sizeof(buf)) &&
                    sscanf(buf, "%*d (%63[^)]) %*c %d", name, &ppid) == 2 && ppid == getpid() &&
                    streq(name, comm))
                        return (pid_t) atoi(de->d_name);
        }
        return -1;
}

/* ---- other load ---- */

static pid_t interference_keyd, interference_bus;
static double interference_worst;

void interference_set_pids(pid_t keyd, pid_t bus) {
        interference_keyd = keyd;
        interference_bus = bus;
}

/* user + nice + system + irq + softirq + steal of all CPUs, from the first line of /proc/stat. */
static uint64_t machine_busy_usec(void) {
        unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
        long ticks = sysconf(_SC_CLK_TCK);
        FILE *f = fopen("/proc/stat", "re");
        int n;

        if (!f)
                bench_die("cannot open /proc/stat: %m");
        n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &system, &idle, &iowait, &irq,
                   &softirq, &steal);
        fclose(f);
        if (n != 8)
                bench_die("cannot parse /proc/stat");
        return (user + nice + system + irq + softirq + steal) * USEC_PER_SEC / (uint64_t) (ticks > 0 ? ticks : 100);
}

static uint64_t our_cpu_usec(void) {
        struct rusage ru;
        uint64_t usec;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                bench_die("getrusage: %m");
        usec = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
               (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        if (interference_keyd > 0)
                usec += proc_cpu_usec(interference_keyd);
        if (interference_bus > 0)
                usec += proc_cpu_usec(interference_bus);
        return usec;
}

void interference_start(Interference *i) {
        i->start_usec = now_usec();
        i->busy_usec = machine_busy_usec();
        i->ours_usec = our_cpu_usec();
}

double interference_stop(Interference *i) {
        double elapsed = (double) (now_usec() - i->start_usec) * (double) MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
        double other = (double) machine_busy_usec() - (double) i->busy_usec -
                       ((double) our_cpu_usec() - (double) i->ours_usec);
        double share = elapsed > 0 ? MAX(other, 0.0) / elapsed : 0;

        if (share > interference_worst)
                interference_worst = share;
        return share;
}

double interference_max(void) {
        return interference_worst;
}

/* ---- raw D-Bus ---- */

sd_bus *bench_bus_open(const char *address) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                bench_die("cannot connect to %s: %s", address, strerror(-r));
        return bus;
}

char *bench_bus_create_session(sd_bus *bus, const char *key_exchange) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        char *copy;
        int r;

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                               "CreateCryptoSession", &error, &reply, "sss",
                               "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f", "", key_exchange);
        if (r < 0)
                bench_die("CreateCryptoSession: %s", error.message ?: strerror(-r));
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                bench_die("CreateCryptoSession: bad reply: %s", strerror(-r));
        copy = strdup(path);
        if (!copy)
                bench_die("out of memory");
        return copy;
}

void bench_bus_negotiate(sd_bus *bus, const char *path, const BenchFixture *f) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                           "NegotiateCryptoSessionKeyExchange");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', f->wrapped, sizeof(f->wrapped));
        if (r < 0)
                bench_die("cannot build NegotiateCryptoSessionKeyExchange: %s", strerror(-r));
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                bench_die("NegotiateCryptoSessionKeyExchange: %s", error.message ?: strerror(-r));
}

uint32_t bench_session_count(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t count = 0;
        int r;

        r = sd_bus_get_property_trivial(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                        "SessionCount", &error, 'u', &count);
        if (r < 0)
                bench_die("Get SessionCount: %s", error.message ?: strerror(-r));
        return count;
}

void bench_open_negotiated(const BenchFixture *f, keyd_client **ret_client, keyd_crypto_session **ret_session) {
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        uint8_t data[MODULUS_SIZE];

        bench_check_hr(keyd_client_open_address(f->address, &client), "keyd_client_open_address");
        bench_check_hr(keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                  &KEYD_KEY_EXCHANGE_RSAES_OAEP, &session),
                       "keyd_create_crypto_session");
        memcpy(data, f->wrapped, sizeof(data));
        bench_check_hr(keyd_negotiate_crypto_session_key_exchange(session, sizeof(data), data),
                       "keyd_negotiate_crypto_session_key_exchange");
        *ret_client = client;
        *ret_session = session;
}
