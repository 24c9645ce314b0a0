/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* keyd-bench: the performance figures ("negotiations at the speed of the RSA
 * limit, bulk data at memory speed") in one run, against a private
 * dbus-daemon and the real keyd (tests/integration/harness.c starts both).
 *
 * Each section fills its part of BenchResults; keyd-bench.c prints them,
 * judges the targets and ends with one name=value line per figure. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "keyd/keyd.h"

#define KEYD_BUS_NAME "org.keyd.KeyBroker1"
#define KEYD_MANAGER_PATH "/org/keyd/KeyBroker1"
#define KEYD_MANAGER_INTERFACE "org.keyd.KeyBroker1.Manager"
#define KEYD_SESSION_INTERFACE "org.keyd.KeyBroker1.CryptoSession"

#define USEC_PER_SEC 1000000ULL
#define MODULUS_SIZE 256u          /* RSA-2048, keyd's default device key */
#define SESSION_KEY_SIZE 16u

/* The client counts of section 2 and the buffer sizes of section 6. */
#define N_CLIENT_COUNTS 8
#define N_BLT_SIZES 3
extern const unsigned bench_client_counts[N_CLIENT_COUNTS];
/* The client counts of section 2's raw sd-bus load clients. */
#define N_RAW_COUNTS 3
extern const unsigned bench_raw_counts[N_RAW_COUNTS];
extern const size_t bench_blt_sizes[N_BLT_SIZES];

typedef struct BenchOptions {
        bool quick;
        double seconds;            /* length of one throughput or latency measurement */
        unsigned n_sessions;       /* section 5 */
        unsigned flood_depth;      /* calls the flooder keeps in flight (section 4) */
        unsigned start_runs;       /* section 7 */
        const char *keyd_args[8];  /* more arguments for keyd */
        size_t n_keyd_args;
        unsigned repeat;           /* times each pair of measurements is taken, interleaved */
        unsigned sections;         /* bit n: run section n (--only, --no-decode, --no-scaling) */
} BenchOptions;

#define BENCH_ALL_SECTIONS 0x3FEu  /* sections 1 to 9 */

static inline bool bench_runs(const BenchOptions *o, unsigned section) {
        return o->sections & (1u << section);
}

typedef struct Latency {
        double p50_us, p99_us, max_us;
        size_t n;
} Latency;

typedef struct BenchResults {
        unsigned ncpu;
        double loadavg_start, loadavg_end;

        /* 1: in-process OAEP decryption with keyd's own code. */
        double oaep_1t_per_s, oaep_nt_per_s;
        Latency oaep_1t;
        double oaep_1t_cpu_us;     /* CPU time per decryption, one thread */

        /* 2: negotiations through libkeyd. */
        double negotiate_per_s[N_CLIENT_COUNTS];
        Latency negotiate_latency[N_CLIENT_COUNTS];
        /* CPU time per negotiation, in microseconds, of keyd, dbus-daemon and
         * this process (the clients): load-independent, unlike the rates. */
        double cpu_keyd_us[N_CLIENT_COUNTS], cpu_bus_us[N_CLIENT_COUNTS], cpu_client_us[N_CLIENT_COUNTS];
        /* The same through raw sd-bus clients (no libkeyd): one connection,
         * one session and one call at a time per thread. */
        double raw_per_s[N_RAW_COUNTS];
        Latency raw_latency[N_RAW_COUNTS];
        double raw_cpu_keyd_us[N_RAW_COUNTS];
        /* A 256-byte call and its 256-byte answer through dbus-daemon, no crypto. */
        Latency bus_rtt;
        double rtt_cpu_keyd_us, rtt_cpu_bus_us;

        /* 4: one well-behaved client alone, and while another floods. */
        Latency alone, flooded;
        double alone_per_s, flooder_per_s, flooded_client_per_s;

        /* 5: sessions. */
        double session_create_close_per_s;
        double session_open_per_s, session_close_per_s;  /* of the n_sessions bulk */
        uint64_t rss_0_kib, rss_n_kib, rss_after_kib;
        unsigned n_sessions_opened;
        bool sessions_closed_cleanly;

        /* 6: MB/s (10^6 bytes per second) per size. */
        double aes_nettle_mb_s[N_BLT_SIZES];
        double aes_nettle_cpu_mb_s[N_BLT_SIZES];  /* over the thread's CPU time */
        double dec_fd_keyd_cpu_mb_s[N_BLT_SIZES]; /* DecryptionBltFd bytes over keyd's CPU time */
        double aes_keyd_mb_s[N_BLT_SIZES];
        double dec_ay_mb_s[N_BLT_SIZES], dec_fd_mb_s[N_BLT_SIZES], dec_fd_fill_mb_s[N_BLT_SIZES];
        double enc_ay_mb_s[N_BLT_SIZES], enc_fd_mb_s[N_BLT_SIZES];

        /* 7: start to READY=1, ms. */
        double ready_median_ms, ready_min_ms, ready_max_ms;
        unsigned ready_runs;
} BenchResults;

/* ---- bench-util.c ---- */

_Noreturn void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define bench_check_hr(hr, what)                                                                   \
        do {                                                                                       \
                HRESULT _hr = (hr);                                                                \
                if (KEYD_FAILED(_hr))                                                              \
                        bench_die("%s failed: 0x%08X %s: %s", (what), (unsigned) _hr,              \
                                  keyd_hresult_to_string(_hr), keyd_last_error_message());         \
        } while (0)

uint64_t now_usec(void);
void sleep_usec(uint64_t usec);
void *xmalloc(size_t size);
void random_fill(void *p, size_t n);

/* A growing list of latencies in microseconds. */
typedef struct Samples {
        double *v;
        size_t n, allocated;
} Samples;

void samples_add(Samples *s, double us);
void samples_merge(Samples *into, const Samples *from);
void samples_free(Samples *s);
/* Sorts s. */
Latency samples_latency(Samples *s);
double median(double *v, size_t n);

/* n threads run operations from a common start until the caller says
 * stop. Each thread counts its operations and the time it was active; the
 * rate is the sum of count/time. A thread does its setup (connect, open a
 * session) before load_thread_begin(), so that it is not timed. */
typedef struct LoadRun LoadRun;
typedef struct LoadThread {
        LoadRun *run;
        void *arg;
        uint64_t ops;
        uint64_t start_usec, end_usec;
} LoadThread;

/* Start n threads of fn(&threads[i]) (threads[i].arg set by the caller),
 * let them run for seconds once all began, stop and join them; returns
 * the total rate in operations per second. */
double load_run(unsigned n, void *(*fn)(void *), LoadThread *threads, double seconds);
/* In the thread: wait for the others, then start the clock. */
void load_thread_begin(LoadThread *t);
bool load_thread_should_stop(LoadThread *t);
/* In the thread: stop the clock (after its last operation). */
void load_thread_end(LoadThread *t);

/* CPU time (user + system) pid has used, all threads, in microseconds. */
uint64_t proc_cpu_usec(pid_t pid);
/* The first line of /proc/NAME/stat into buf, for a directory entry NAME of
 * /proc; false when NAME is not a process (not a number, or gone). */
bool read_proc_stat(const char *name, char *buf, size_t size);
/* The dbus-daemon this process started (a child named dbus-daemon), or -1. */
pid_t find_child_named(const char *comm);

/* How much of the machine other processes used while a figure was taken:
 * all CPU time the machine spent (/proc/stat) less ours, keyd's and
 * dbus-daemon's. The machine may be shared; this says which figures to
 * distrust. */
typedef struct Interference {
        uint64_t start_usec, busy_usec, ours_usec;
} Interference;

/* keyd and dbus-daemon, once they run (0 before). */
void interference_set_pids(pid_t keyd, pid_t bus);
void interference_start(Interference *i);
/* Other processes' share of all cores since start, 0..1; also kept as the
 * run's maximum (interference_max()). */
double interference_stop(Interference *i);
double interference_max(void);

/* The resident set of pid from /proc/<pid>/status (VmRSS), in KiB. */
uint64_t proc_vmrss_kib(pid_t pid);

/* ---- the shared fixture ---- */

/* The D-Bus address of the private bus, and a valid RSAES-OAEP (SHA-512)
 * ciphertext of session_key for keyd's device key, wrapped by libkeyd from
 * the certificate keyd hands out. */
typedef struct BenchFixture {
        const char *address;
        uint8_t session_key[SESSION_KEY_SIZE];
        uint8_t wrapped[MODULUS_SIZE];
} BenchFixture;

/* A connection of our own to the private bus, Hello done. */
sd_bus *bench_bus_open(const char *address);
/* CreateCryptoSession with key_exchange (a GUID string) on bus; returns the path (free()). */
char *bench_bus_create_session(sd_bus *bus, const char *key_exchange);
/* NegotiateCryptoSessionKeyExchange with the fixture's ciphertext; dies on failure. */
void bench_bus_negotiate(sd_bus *bus, const char *path, const BenchFixture *f);
/* Read the manager's SessionCount. */
uint32_t bench_session_count(sd_bus *bus);

/* A libkeyd client with an RSAES-OAEP session that has negotiated once. */
void bench_open_negotiated(const BenchFixture *f, keyd_client **ret_client, keyd_crypto_session **ret_session);

/* ---- the sections ---- */

/* bench-local.c: sections 1 and 6's in-process baseline. Each measurement
 * keeps the best figure seen so far in res. */
void bench_local_oaep_setup(const char *state_dir);
void bench_local_oaep(const BenchOptions *o, const char *when, BenchResults *res);
void bench_local_aes(const BenchOptions *o, BenchResults *res);
void bench_local_aes_size(const BenchOptions *o, unsigned i, BenchResults *res, double *ret_nettle,
                          double *ret_keyd);
/* Decryptions/s of n_threads threads over seconds (section 9). */
double bench_local_oaep_rate(unsigned n_threads, double seconds);

/* bench-negotiate.c: sections 2 and 4, and the plain bus round trip. */
void bench_negotiate(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res);
void bench_bus_round_trip(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res);
void bench_flood(const BenchOptions *o, const BenchFixture *f, BenchResults *res);
/* Key exchanges/s of n clients through libkeyd over seconds, and keyd's CPU per exchange (section 9). */
double bench_negotiate_rate(const BenchFixture *f, unsigned n, double seconds, pid_t keyd_pid,
                            double *ret_keyd_cpu_us);

/* bench-decode.c: section 8, protected decode of a 1080p H.264 CENC clip
 * through keyd and by ffmpeg with the same thread count; prints its own
 * figures and target, and its name=value lines on request. */
void bench_decode(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid);
void bench_decode_print_values(void);

/* bench-sessions.c: section 5. */
void bench_sessions(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res);

/* bench-blt.c: section 6 through the bus. */
void bench_blt(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res);
