/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-bench: keyd's eight figure groups in one run, against a private
 * dbus-daemon and the real keyd that it starts itself, then keyd's performance
 * targets as PASS/MISS, then one name=value line per figure for scripts.
 *
 *   meson setup build && ninja -C build tests/bench/keyd-bench
 *   build/tests/bench/keyd-bench [--quick] [--repeat=N]
 *
 * It wants the machine to itself: other load moves every figure. A target
 * compares two figures; with --repeat=N each pair is taken N times, close
 * together, and the target is judged on the median of the N ratios (printed
 * with their spread), since one run cannot settle a ratio on a noisy host.
 *
 * The sections run in an order of convenience: the in-process limits first
 * (no keyd yet), sessions while keyd's heap is fresh (section 5), then N
 * repetitions of the bus sections with the in-process decryption beside
 * them (the best of both is the limit), the worker scaling of section 9,
 * and the restarts of section 7 last. */

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "bench.h"
#include "harness.h"
#include "macro.h"
#include "secure-memory.h"

#define KIB 1024u

static const char *const size_names[N_BLT_SIZES] = { "64k", "1m", "8m" };

static void help(void) {
        printf("Usage: keyd-bench [OPTIONS...]\n"
               "\n"
               "Measure keyd against the limits of this machine: in-process RSA\n"
               "decryption and AES-CTR, key exchanges through the bus with 1..256 clients,\n"
               "fairness under a flood, session cost, DecryptionBlt/EncryptionBlt through\n"
               "ay and memfd, start-up time, and the exchange rate with 1..nproc worker\n"
               "threads. Starts its own dbus-daemon and keyd.\n"
               "\n"
               "  -h --help            Show this help\n"
               "     --quick           Shorter measurements (about half the time)\n"
               "     --seconds=S       Length of one measurement (default 2, --quick 1)\n"
               "     --sessions=N      Sessions held open at once in section 5 (default 10000)\n"
               "     --flood-depth=N   Key exchanges the flooder keeps in flight (default 64,\n"
               "                       keyd's default --max-queued-per-client)\n"
               "     --start-runs=N    keyd starts timed in section 7 (default 7, --quick 5)\n"
               "     --keyd-arg=ARG    Pass ARG to keyd as well (repeatable), e.g. --keyd-arg=--workers=1\n"
               "     --repeat=N        Take sections 1, 2, 4 and 6 N times, interleaved, and section 8's\n"
               "                       keyd/ffmpeg pair N times, and judge each target on the median of\n"
               "                       the N ratios (default 1)\n"
               "     --no-scaling      Skip section 9 (keyd with --workers=1..nproc)\n"
               "     --no-decode       Skip section 8 (protected decode of a 1080p clip through keyd vs ffmpeg)\n"
               "     --only=LIST       Run only these sections, numbers separated by commas (e.g. --only=4,6,8);\n"
               "                       2 brings 1 and 3 (its limit and its ratio), and targets of sections\n"
               "                       not run are reported as not run\n"
               "\n"
               "Environment: KEYD_BINARY, KEYD_DECODER_BINARY and DBUS_DAEMON override the keyd,\n"
               "keyd-decoder and dbus-daemon binaries found at build time.\n");
}

/* --only=LIST: section numbers 1 to 9, separated by commas. */
static int parse_sections(const char *list, unsigned *ret) {
        unsigned mask = 0;

        for (const char *p = list;;) {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(p, &end, 10);
                if (errno != 0 || end == p || v < 1 || v > 9 || (*end != ',' && *end != 0)) {
                        fprintf(stderr, "Invalid --only=%s: expected section numbers from 1 to 9 separated by commas, "
                                "e.g. --only=4,6,8.\n", list);
                        return -EINVAL;
                }
                mask |= 1u << v;
                if (*end == 0)
                        break;
                p = end + 1;
        }
        *ret = mask;
        return 0;
}

static int parse_argv(int argc, char *argv[], BenchOptions *o) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "quick", no_argument, NULL, 'q' },
                { "seconds", required_argument, NULL, 's' },
                { "sessions", required_argument, NULL, 'n' },
                { "flood-depth", required_argument, NULL, 'f' },
                { "start-runs", required_argument, NULL, 'r' },
                { "keyd-arg", required_argument, NULL, 'k' },
                { "repeat", required_argument, NULL, 'R' },
                { "no-scaling", no_argument, NULL, 'S' },
                { "no-decode", no_argument, NULL, 'D' },
                { "only", required_argument, NULL, 'O' },
                {}
        };
        bool seconds_set = false, runs_set = false;
        unsigned only = BENCH_ALL_SECTIONS;
        char *end;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                unsigned long v = 0;

                if (c == 'n' || c == 'f' || c == 'r' || c == 'R') {
                        unsigned long max = c == 'R' ? 100 : 1000000;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno != 0 || *end != 0 || v == 0 || v > max) {
                                fprintf(stderr, "Invalid --%s=%s: expected a whole number from 1 to %lu.\n",
                                        c == 'n' ? "sessions" : c == 'f' ? "flood-depth" :
                                        c == 'r' ? "start-runs" : "repeat",
                                        optarg, max);
                                return -EINVAL;
                        }
                }

                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'q':
                        o->quick = true;
                        break;
                case 'D':
                        o->sections &= ~(1u << 8);
                        break;
                case 'O':
                        r = parse_sections(optarg, &only);
                        if (r < 0)
                                return r;
                        break;
                case 's':
                        o->seconds = strtod(optarg, &end);
                        if (*end != 0 || !(o->seconds >= 0.2 && o->seconds <= 600)) {
                                fprintf(stderr, "Invalid --seconds=%s: expected 0.2 to 600.\n", optarg);
                                return -EINVAL;
                        }
                        seconds_set = true;
                        break;
                case 'n':
                        o->n_sessions = (unsigned) v;
                        break;
                case 'f':
                        o->flood_depth = (unsigned) v;
                        break;
                case 'r':
                        o->start_runs = (unsigned) v;
                        runs_set = true;
                        break;
                case 'R':
                        o->repeat = (unsigned) v;
                        break;
                case 'S':
                        o->sections &= ~(1u << 9);
                        break;
                case 'k':
                        if (o->n_keyd_args >= ELEMENTSOF(o->keyd_args)) {
                                fprintf(stderr, "Too many --keyd-arg options; at most %zu.\n",
                                        ELEMENTSOF(o->keyd_args));
                                return -EINVAL;
                        }
                        o->keyd_args[o->n_keyd_args++] = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "keyd-bench takes no arguments, got \"%s\"; see --help.\n", argv[optind]);
                return -EINVAL;
        }

        o->sections &= only;
        /* Section 2's ratios are to the in-process limit of section 1, and section 3 is one of them. */
        if (bench_runs(o, 2))
                o->sections |= (1u << 1) | (1u << 3);
        if (!seconds_set)
                o->seconds = o->quick ? 1.0 : 2.0;
        if (!runs_set)
                o->start_runs = o->quick ? 5 : 7;
        return 1;
}

/* The core count as nproc(1) sees it: the CPUs we may run on. */
static unsigned cpu_count(void) {
        cpu_set_t set;

        if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
                return (unsigned) CPU_COUNT(&set);
        return (unsigned) MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
}

static void cpu_model(char *buf, size_t size) {
        char line[512];
        FILE *f = fopen("/proc/cpuinfo", "re");

        snprintf(buf, size, "unknown");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                char *colon = strchr(line, ':');
                if (strncmp(line, "model name", 10) == 0 && colon) {
                        snprintf(buf, size, "%s", colon + 2);
                        buf[strcspn(buf, "\n")] = 0;
                        break;
                }
        }
        fclose(f);
}

/* The 1-minute load average: the machine may be shared, and other load
 * moves every figure. */
static double loadavg(void) {
        double v = -1;
        FILE *f = fopen("/proc/loadavg", "re");

        if (f) {
                if (fscanf(f, "%lf", &v) != 1)
                        v = -1;
                fclose(f);
        }
        return v;
}

/* The meson build points these at what it found; the environment wins. */
static void set_binaries(void) {
        if (setenv("KEYD_BINARY", BENCH_KEYD_BINARY, 0) < 0 || setenv("DBUS_DAEMON", BENCH_DBUS_DAEMON, 0) < 0 ||
            setenv("KEYD_DECODER_BINARY", BENCH_KEYD_DECODER_BINARY, 0) < 0)
                bench_die("setenv: %m");
}

/* Our own directory for the harness's, so that nothing that tidies up
 * after the integration tests (keyd-itest-*) takes ours away mid-run. */
static char *bench_tmpdir;

static void remove_bench_tmpdir(void) {
        harness_cleanup();
        if (bench_tmpdir)
                (void) rmdir(bench_tmpdir);
}

static void make_bench_tmpdir(void) {
        const char *tmp = getenv("TMPDIR");

        if (asprintf(&bench_tmpdir, "%s/keyd-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
                bench_die("out of memory");
        if (!mkdtemp(bench_tmpdir))
                bench_die("cannot make a temporary directory %s: %m", bench_tmpdir);
        if (setenv("TMPDIR", bench_tmpdir, 1) < 0)
                bench_die("setenv: %m");
}

/* keyd's arguments: ours, the user's, then extra (NULL: none). */
static const char *const *keyd_args_with(const BenchOptions *o, const char *extra) {
        static char max_sessions[64], max_per_user[64], max_all[64];
        static const char *args[5 + ELEMENTSOF(o->keyd_args)];
        size_t n = 0;

        /* Section 5 holds all its sessions on one connection, of one uid: the
         * per-connection, per-user and overall caps must all let them in
         * (keyd's defaults: 256, 4096 and 16384). */
        snprintf(max_sessions, sizeof(max_sessions), "--max-sessions-per-client=%u",
                 MAX(o->n_sessions, 256u));
        snprintf(max_per_user, sizeof(max_per_user), "--max-sessions-per-user=%u",
                 MAX(o->n_sessions, 4096u));
        snprintf(max_all, sizeof(max_all), "--max-sessions=%u", MAX(o->n_sessions, 16384u));
        args[n++] = max_sessions;
        args[n++] = max_per_user;
        args[n++] = max_all;
        for (size_t i = 0; i < o->n_keyd_args; i++)
                args[n++] = o->keyd_args[i];
        if (extra)
                args[n++] = extra;
        args[n] = NULL;
        return args;
}

static const char *const *keyd_args(const BenchOptions *o) {
        return keyd_args_with(o, NULL);
}

static void restart_keyd(const BenchOptions *o, const char *extra) {
        int r;

        r = harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC);
        if (r != 0)
                bench_die("keyd did not exit cleanly on SIGTERM (status %d)", r);
        r = harness_start_keyd(keyd_args_with(o, extra));
        if (r < 0)
                bench_die("keyd did not start: %s", strerror(-r));
        interference_set_pids(harness_keyd_pid(), find_child_named("dbus-daemon"));
}

/* Section 9: how the key-exchange rate grows with keyd's worker threads,
 * against as many threads decrypting in process. */
static void bench_scaling(const BenchOptions *o, const BenchFixture *f, unsigned ncpu) {
        unsigned clients = 2 * ncpu;

        printf("9. Scaling: keyd --workers=N with %u clients, against N threads decrypting in process\n", clients);
        for (unsigned w = 1; w <= ncpu; w++) {
                char arg[32];
                double local, bus, cpu;
                Interference other;

                snprintf(arg, sizeof(arg), "--workers=%u", w);
                restart_keyd(o, arg);
                interference_start(&other);
                local = bench_local_oaep_rate(w, o->seconds / 2);
                bus = bench_negotiate_rate(f, clients, o->seconds / 2, harness_keyd_pid(), &cpu);
                printf("   --workers=%-3u %6.0f /s through the bus, %6.0f /s in process: %.2f; keyd CPU %.0f us per "
                       "exchange   [other load %.0f%%]\n",
                       w, bus, local, bus / local, cpu, 100 * interference_stop(&other));
                printf("scaling_workers%u_per_s=%.0f\nscaling_workers%u_inprocess_per_s=%.0f\n", w, bus, w, local);
        }
        restart_keyd(o, NULL);
}

/* Wrap the session key the way a client does: to the certificate keyd hands out. */
static void make_fixture(BenchFixture *f) {
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        _cleanup_free_ uint8_t *cert = NULL;
        uint8_t data[MODULUS_SIZE];
        uint32_t cert_size;

        f->address = harness_bus_address();
        random_fill(f->session_key, sizeof(f->session_key));

        bench_check_hr(keyd_client_open_address(f->address, &client), "keyd_client_open_address");
        bench_check_hr(keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                  &KEYD_KEY_EXCHANGE_RSAES_OAEP, &session),
                       "keyd_create_crypto_session");
        bench_check_hr(keyd_crypto_session_get_certificate_size(session, &cert_size), "GetCertificateSize");
        cert = xmalloc(cert_size);
        bench_check_hr(keyd_crypto_session_get_certificate(session, cert_size, cert), "GetCertificate");
        bench_check_hr(keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, f->session_key,
                                             sizeof(f->session_key), sizeof(f->wrapped), f->wrapped),
                       "keyd_wrap_session_key");
        memcpy(data, f->wrapped, sizeof(data));
        bench_check_hr(keyd_negotiate_crypto_session_key_exchange(session, sizeof(data), data),
                       "keyd_negotiate_crypto_session_key_exchange");
        keyd_crypto_session_release(session);
        keyd_client_close(client);
}

/* Section 7: SIGTERM keyd, start it again, time fork to READY=1. The key exists. */
static void bench_start(const BenchOptions *o, BenchResults *res) {
        _cleanup_free_ double *ms = calloc(o->start_runs, sizeof(double));
        int r;

        if (!ms)
                bench_die("out of memory");
        for (unsigned i = 0; i < o->start_runs; i++) {
                uint64_t start;

                r = harness_kill_keyd(SIGTERM, 10 * USEC_PER_SEC);
                if (r != 0)
                        bench_die("keyd did not exit cleanly on SIGTERM (status %d)", r);
                start = now_usec();
                r = harness_start_keyd(keyd_args(o));
                if (r < 0)
                        bench_die("keyd did not start: %s", strerror(-r));
                ms[i] = (double) (now_usec() - start) / 1000.0;
        }
        res->ready_runs = o->start_runs;
        res->ready_median_ms = median(ms, o->start_runs);  /* sorts */
        res->ready_min_ms = ms[0];
        res->ready_max_ms = ms[o->start_runs - 1];
        printf("7. keyd start (fork+exec) to READY=1 with an existing key, %u runs: median %.1f ms, min %.1f ms, "
               "max %.1f ms\n",
               o->start_runs, res->ready_median_ms, res->ready_min_ms, res->ready_max_ms);
}

/* ---- the report ---- */

/* The best rate of section 2 at no more than max_clients clients. */
static double best_negotiate_rate(const BenchResults *res, unsigned max_clients, unsigned *ret_clients) {
        double best = 0;

        for (unsigned i = 0; i < N_CLIENT_COUNTS; i++)
                if (bench_client_counts[i] <= max_clients && res->negotiate_per_s[i] > best) {
                        best = res->negotiate_per_s[i];
                        *ret_clients = bench_client_counts[i];
                }
        return best;
}

/* Section 3. */
static void print_ratio(const BenchResults *res) {
        unsigned clients = 0, clients_any = 0;
        double best = best_negotiate_rate(res, 2 * res->ncpu, &clients),
               best_any = best_negotiate_rate(res, UINT_MAX, &clients_any);

        printf("3. Through the bus / in-process on all %u cores: %.0f / %.0f = %.2f (best at <= 2 clients per core: "
               "%u); best at any count %.0f = %.2f (%u clients)\n",
               res->ncpu, best, res->oaep_nt_per_s, best / res->oaep_nt_per_s, clients, best_any,
               best_any / res->oaep_nt_per_s, clients_any);
}

static double bytes_per_session(const BenchOptions *o, const BenchResults *res) {
        return ((double) res->rss_n_kib - (double) res->rss_0_kib) * KIB / o->n_sessions;
}

/* The ratio targets, judged on the median over the repetitions: each
 * ratio is of two figures taken close together in one repetition. */
typedef struct RatioTarget {
        const char *name;          /* target_NAME=... in the name=value lines */
        const char *text;
        unsigned section;          /* where its figures come from */
        bool at_least;             /* ratio >= bound passes; else ratio <= bound */
        double bound;
        double (*ratio)(const BenchResults *res);
} RatioTarget;

static double ratio_negotiate(const BenchResults *res) {
        unsigned clients = 0;
        return best_negotiate_rate(res, 2 * res->ncpu, &clients) / res->oaep_nt_per_s;
}

static double ratio_raw(const BenchResults *res) {
        return res->raw_per_s[0] / res->oaep_nt_per_s;
}

static double ratio_p50(const BenchResults *res) {
        return res->negotiate_latency[0].p50_us / (res->oaep_1t.p50_us + res->bus_rtt.p50_us);
}

/* CPU time over CPU time: the ratio that other load moves least. */
static double ratio_cpu(const BenchResults *res) {
        return res->cpu_keyd_us[0] / res->oaep_1t_cpu_us;
}

static double ratio_flood(const BenchResults *res) {
        return res->flooded.p99_us / res->alone.p99_us;
}

static double ratio_flood_rate(const BenchResults *res) {
        return res->flooded_client_per_s / res->alone_per_s;
}

static double ratio_memfd_aes(const BenchResults *res) {
        return res->dec_fd_mb_s[N_BLT_SIZES - 1] / res->aes_nettle_mb_s[N_BLT_SIZES - 1];
}

static double ratio_memfd_ay(const BenchResults *res) {
        return res->dec_fd_mb_s[N_BLT_SIZES - 1] / res->dec_ay_mb_s[N_BLT_SIZES - 1];
}

static const RatioTarget ratio_targets[] = {
        { "negotiate", "negotiations/s through the bus (<= 2 clients per core) / in-process all-core rate >= 0.90",
          2, true, 0.90, ratio_negotiate },
        { "negotiate_raw16", "negotiations/s of 16 raw sd-bus clients / in-process all-core rate >= 0.90", 2, true, 0.90,
          ratio_raw },
        { "p50_1client", "p50 at 1 client / (one decryption + one bus round trip) <= 1.15", 2, false, 1.15, ratio_p50 },
        { "cpu_1client", "keyd CPU per negotiation at 1 client / CPU of one in-process decryption <= 1.10", 2, false, 1.10,
          ratio_cpu },
        { "flood", "flooded client's p99 / its p99 alone <= 3", 4, false, 3.0, ratio_flood },
        { "flood_rate", "flooded client's rate / its rate alone >= 0.5", 4, true, 0.5, ratio_flood_rate },
        { "memfd_vs_aes", "memfd DecryptionBlt at 8 MiB / in-process AES-128-CTR >= 0.75", 6, true, 0.75,
          ratio_memfd_aes },
        { "memfd_vs_ay", "memfd DecryptionBlt at 8 MiB / the ay path >= 10", 6, true, 10, ratio_memfd_ay },
};

typedef struct RatioSummary {
        double median, min, max;
        bool pass;
} RatioSummary;

static const char *verdict(bool pass) {
        return pass ? "PASS" : "MISS";
}

static RatioSummary summarize(const RatioTarget *t, const BenchResults *reps, unsigned n) {
        _cleanup_free_ double *v = calloc(n, sizeof(double));
        RatioSummary sum;

        if (!v)
                bench_die("out of memory");
        for (unsigned k = 0; k < n; k++)
                v[k] = t->ratio(&reps[k]);
        sum.median = median(v, n);  /* sorts */
        sum.min = v[0];
        sum.max = v[n - 1];
        sum.pass = t->at_least ? sum.median >= t->bound : sum.median <= t->bound;
        return sum;
}

typedef struct OnceTargets {
        double session_bytes, ready_ms;
        bool sessions, ready;
} OnceTargets;

static OnceTargets print_targets(const BenchOptions *o, const BenchResults *reps, RatioSummary *sums) {
        const BenchResults *res = &reps[o->repeat - 1];
        OnceTargets t = {
                .session_bytes = bytes_per_session(o, res),
                .ready_ms = res->ready_median_ms,
        };

        t.sessions = t.session_bytes <= 4096 && res->n_sessions_opened == o->n_sessions &&
                     res->sessions_closed_cleanly && o->n_sessions >= 10000;
        t.ready = t.ready_ms <= 50;

        printf("\nPerformance targets (ratios of figures taken in the same repetition; median [min-max] of %u):\n",
               o->repeat);
        /* Other processes took CPU while figures were taken: ratios between
         * figures of different moments are then unreliable. */
        if (interference_max() > 0.05)
                printf("  WARNING: other processes used up to %.0f%% of the machine during a measurement (see\n"
                       "  [other load] above); ratios between figures taken at different moments are unreliable.\n",
                       100 * interference_max());
        for (size_t i = 0; i < ELEMENTSOF(ratio_targets); i++) {
                if (!bench_runs(o, ratio_targets[i].section)) {
                        printf("  ----  %s: section %u not run\n", ratio_targets[i].text, ratio_targets[i].section);
                        continue;
                }
                sums[i] = summarize(&ratio_targets[i], reps, o->repeat);
                printf("  %s  %s: %.3f [%.3f-%.3f]\n", verdict(sums[i].pass), ratio_targets[i].text, sums[i].median,
                       sums[i].min, sums[i].max);
        }
        if (bench_runs(o, 5))
                printf("  %s  <= 4 KiB of keyd memory per open session, 10,000 open and close cleanly: %.0f "
                       "bytes/session, %u opened, SessionCount back to 0: %s\n",
                       verdict(t.sessions), t.session_bytes, res->n_sessions_opened,
                       res->sessions_closed_cleanly ? "yes" : "no");
        else
                printf("  ----  <= 4 KiB of keyd memory per open session: section 5 not run\n");
        if (bench_runs(o, 7))
                printf("  %s  READY within 50 ms of start with an existing key: %.1f ms (median of %u)\n",
                       verdict(t.ready), t.ready_ms, res->ready_runs);
        else
                printf("  ----  READY within 50 ms of start: section 7 not run\n");
        if (bench_runs(o, 6)) {
                _cleanup_free_ double *v = calloc(o->repeat, sizeof(double));
                double m;

                if (!v)
                        bench_die("out of memory");
                for (unsigned k = 0; k < o->repeat; k++)
                        v[k] = reps[k].dec_fd_keyd_cpu_mb_s[N_BLT_SIZES - 1] /
                               reps[k].aes_nettle_cpu_mb_s[N_BLT_SIZES - 1];
                m = median(v, o->repeat);
                printf("  (memfd DecryptionBlt at 8 MiB, bytes over keyd's CPU time / over in-process AES-128-CTR's "
                       "CPU time: %.3f [%.3f-%.3f]; other load moves this least)\n",
                       m, v[0], v[o->repeat - 1]);
                printf("  (memfd DecryptionBlt at 8 MiB with a new memfd filled and sealed per call, last repetition: "
                       "%.2f x AES, %.1f x ay)\n",
                       res->dec_fd_fill_mb_s[N_BLT_SIZES - 1] / res->aes_nettle_mb_s[N_BLT_SIZES - 1],
                       res->dec_fd_fill_mb_s[N_BLT_SIZES - 1] / res->dec_ay_mb_s[N_BLT_SIZES - 1]);
        }
        return t;
}

static void print_latency(const char *name, const Latency *l) {
        printf("%s_p50_us=%.0f\n%s_p99_us=%.0f\n%s_max_us=%.0f\n", name, l->p50_us, name, l->p99_us, name,
               l->max_us);
}

/* The figures of the last repetition, then the targets over all of them. */
static void print_values(const BenchOptions *o, const BenchResults *reps, const RatioSummary *sums,
                         const OnceTargets *t, const char *model) {
        const BenchResults *res = &reps[o->repeat - 1];
        unsigned best_clients = 0;

        printf("\ncpu_model=%s\n", model);
        printf("ncpu=%u\n", res->ncpu);
        printf("repeat=%u\n", o->repeat);
        printf("loadavg_start=%.2f\n", res->loadavg_start);
        printf("loadavg_end=%.2f\n", res->loadavg_end);
        printf("other_load_max_percent=%.0f\n", 100 * interference_max());
        printf("oaep_1thread_per_s=%.0f\n", res->oaep_1t_per_s);
        printf("oaep_allcores_per_s=%.0f\n", res->oaep_nt_per_s);
        print_latency("oaep_1thread", &res->oaep_1t);
        printf("oaep_1thread_cpu_us=%.0f\n", res->oaep_1t_cpu_us);
        for (unsigned i = 0; i < N_CLIENT_COUNTS; i++) {
                char name[64];

                printf("negotiate_%uclients_per_s=%.0f\n", bench_client_counts[i], res->negotiate_per_s[i]);
                snprintf(name, sizeof(name), "negotiate_%uclients", bench_client_counts[i]);
                print_latency(name, &res->negotiate_latency[i]);
                printf("%s_cpu_keyd_us=%.0f\n%s_cpu_dbus_daemon_us=%.0f\n%s_cpu_clients_us=%.0f\n", name,
                       res->cpu_keyd_us[i], name, res->cpu_bus_us[i], name, res->cpu_client_us[i]);
        }
        for (unsigned i = 0; i < N_RAW_COUNTS; i++) {
                char name[64];

                snprintf(name, sizeof(name), "negotiate_raw_%uclients", bench_raw_counts[i]);
                printf("%s_per_s=%.0f\n", name, res->raw_per_s[i]);
                print_latency(name, &res->raw_latency[i]);
                printf("%s_cpu_keyd_us=%.0f\n", name, res->raw_cpu_keyd_us[i]);
        }
        print_latency("bus_rtt_256b", &res->bus_rtt);
        printf("bus_rtt_256b_cpu_keyd_us=%.0f\nbus_rtt_256b_cpu_dbus_daemon_us=%.0f\n", res->rtt_cpu_keyd_us,
               res->rtt_cpu_bus_us);
        printf("negotiate_best_per_s=%.0f\n", best_negotiate_rate(res, 2 * res->ncpu, &best_clients));
        printf("negotiate_best_clients=%u\n", best_clients);
        printf("negotiate_best_over_oaep_allcores=%.3f\n", ratio_negotiate(res));
        print_latency("flood_alone", &res->alone);
        print_latency("flood_flooded", &res->flooded);
        printf("flood_p99_ratio=%.2f\n", ratio_flood(res));
        printf("flood_depth=%u\n", o->flood_depth);
        printf("flood_alone_per_s=%.0f\n", res->alone_per_s);
        printf("flooder_per_s=%.0f\n", res->flooder_per_s);
        printf("flooded_client_per_s=%.0f\n", res->flooded_client_per_s);
        printf("session_create_close_per_s=%.0f\n", res->session_create_close_per_s);
        printf("session_bulk_open_per_s=%.0f\n", res->session_open_per_s);
        printf("session_bulk_close_per_s=%.0f\n", res->session_close_per_s);
        printf("sessions_held=%u\n", res->n_sessions_opened);
        printf("keyd_rss_0_sessions_kib=%" PRIu64 "\n", res->rss_0_kib);
        printf("keyd_rss_held_sessions_kib=%" PRIu64 "\n", res->rss_n_kib);
        printf("keyd_rss_after_close_kib=%" PRIu64 "\n", res->rss_after_kib);
        printf("bytes_per_session=%.0f\n", t->session_bytes);
        printf("sessions_closed_cleanly=%d\n", res->sessions_closed_cleanly);
        for (unsigned i = 0; i < N_BLT_SIZES; i++) {
                const char *s = size_names[i];

                printf("aes_ctr_nettle_%s_mb_s=%.0f\n", s, res->aes_nettle_mb_s[i]);
                printf("aes_ctr_keyd_%s_mb_s=%.0f\n", s, res->aes_keyd_mb_s[i]);
                printf("decryption_blt_ay_%s_mb_s=%.0f\n", s, res->dec_ay_mb_s[i]);
                printf("decryption_blt_fd_%s_mb_s=%.0f\n", s, res->dec_fd_mb_s[i]);
                printf("decryption_blt_fd_fill_%s_mb_s=%.0f\n", s, res->dec_fd_fill_mb_s[i]);
                printf("aes_ctr_nettle_%s_cpu_mb_s=%.0f\n", s, res->aes_nettle_cpu_mb_s[i]);
                printf("decryption_blt_fd_%s_keyd_cpu_mb_s=%.0f\n", s, res->dec_fd_keyd_cpu_mb_s[i]);
                printf("encryption_blt_ay_%s_mb_s=%.0f\n", s, res->enc_ay_mb_s[i]);
                printf("encryption_blt_fd_%s_mb_s=%.0f\n", s, res->enc_fd_mb_s[i]);
        }
        if (bench_runs(o, 7)) {
                printf("ready_median_ms=%.1f\n", res->ready_median_ms);
                printf("ready_min_ms=%.1f\n", res->ready_min_ms);
                printf("ready_max_ms=%.1f\n", res->ready_max_ms);
        }
        for (size_t i = 0; i < ELEMENTSOF(ratio_targets); i++) {
                const char *n = ratio_targets[i].name;

                if (!bench_runs(o, ratio_targets[i].section)) {
                        printf("target_%s=NOT_RUN\n", n);
                        continue;
                }
                printf("target_%s=%s\n", n, verdict(sums[i].pass));
                printf("target_%s_ratio=%.3f\ntarget_%s_ratio_min=%.3f\ntarget_%s_ratio_max=%.3f\n", n,
                       sums[i].median, n, sums[i].min, n, sums[i].max);
        }
        printf("target_sessions=%s\n", bench_runs(o, 5) ? verdict(t->sessions) : "NOT_RUN");
        printf("target_ready=%s\n", bench_runs(o, 7) ? verdict(t->ready) : "NOT_RUN");
}

/* One repetition of the measurements that the ratio targets compare, each
 * pair taken back to back: in-process decryption around section 2 (the
 * best of both is the limit), the bus round trip, section 4, and section 6
 * with its own AES baseline right before each size. */
static void run_repetition(const BenchOptions *o, const BenchFixture *fixture, BenchResults *r) {
        if (bench_runs(o, 2)) {
                bench_negotiate(o, fixture, harness_keyd_pid(), r);
                bench_bus_round_trip(o, fixture, harness_keyd_pid(), r);
                printf("1. (again) In-process decryption, keyd idle; the best of both runs is the limit\n");
                bench_local_oaep(o, "after section 2  ", r);
                print_ratio(r);
        }
        if (bench_runs(o, 4))
                bench_flood(o, fixture, r);
        if (bench_runs(o, 6))
                bench_blt(o, fixture, harness_keyd_pid(), r);
}

int main(int argc, char *argv[]) {
        BenchOptions o = { .n_sessions = 10000, .flood_depth = 64, .repeat = 1, .sections = BENCH_ALL_SECTIONS };
        _cleanup_free_ BenchResults *reps = NULL;
        _cleanup_free_ RatioSummary *sums = NULL;
        BenchResults res = {};
        BenchFixture fixture = {};
        struct utsname u;
        char model[256];
        uint64_t start = now_usec();
        OnceTargets t;
        int r;

        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        reps = calloc(o.repeat, sizeof(BenchResults));
        sums = calloc(ELEMENTSOF(ratio_targets), sizeof(RatioSummary));
        if (!reps || !sums)
                bench_die("out of memory");

        setvbuf(stdout, NULL, _IOLBF, 0);
        /* As keyd does before any bignum: RSA runs on GMP in locked memory,
         * so that section 1 measures the daemon's code as the daemon runs it. */
        secure_memory_install_gmp();
        set_binaries();

        res.ncpu = cpu_count();
        cpu_model(model, sizeof(model));
        if (uname(&u) < 0)
                bench_die("uname: %m");
        printf("keyd-bench: %s, %u cores (nproc), Linux %s, %s%s\n", model, res.ncpu, u.release,
               getenv("KEYD_BINARY"), o.quick ? ", --quick" : "");
        res.loadavg_start = loadavg();
        printf("            %.1f s per measurement, %u repetition(s), %u sessions held, flood depth %u; load "
               "average %.2f\n",
               o.seconds, o.repeat, o.n_sessions, o.flood_depth, res.loadavg_start);
        for (const char *const *a = keyd_args(&o); *a; a++)
                printf("            keyd %s\n", *a);
        printf("\n");

        make_bench_tmpdir();
        harness_init();
        if (atexit(remove_bench_tmpdir) != 0)
                bench_die("atexit failed");

        bench_local_oaep_setup(harness_state_dir());
        if (bench_runs(&o, 1)) {
                printf("1. In-process RSAES-OAEP-SHA-512 decryption (device_key_oaep_decrypt, RSA-2048, GMP in locked "
                       "memory)\n");
                bench_local_oaep(&o, "before keyd runs", &res);
        }
        if (bench_runs(&o, 6))
                bench_local_aes(&o, &res);

        harness_start_bus();
        r = harness_start_keyd(keyd_args(&o));
        if (r < 0)
                bench_die("keyd did not start: %s", strerror(-r));
        interference_set_pids(harness_keyd_pid(), find_child_named("dbus-daemon"));
        make_fixture(&fixture);
        printf("\nkeyd %s running (pid %d) on a private dbus-daemon, %u worker threads by default\n\n",
               getenv("KEYD_BINARY"), (int) harness_keyd_pid(), res.ncpu);

        if (bench_runs(&o, 5))
                bench_sessions(&o, &fixture, harness_keyd_pid(), &res);

        for (unsigned k = 0; k < o.repeat; k++) {
                reps[k] = res;
                if (k > 0) {
                        /* A fresh limit for each repetition, measured beside its own figures. */
                        reps[k].oaep_1t_per_s = reps[k].oaep_nt_per_s = 0;
                        reps[k].oaep_1t = (Latency) {};
                        reps[k].oaep_1t_cpu_us = 0;
                        memset(reps[k].aes_nettle_mb_s, 0, sizeof(reps[k].aes_nettle_mb_s));
                        memset(reps[k].aes_keyd_mb_s, 0, sizeof(reps[k].aes_keyd_mb_s));
                        memset(reps[k].aes_nettle_cpu_mb_s, 0, sizeof(reps[k].aes_nettle_cpu_mb_s));
                        printf("\n--- repetition %u of %u ---\n", k + 1, o.repeat);
                        if (bench_runs(&o, 1))
                                bench_local_oaep(&o, "before section 2", &reps[k]);
                } else if (o.repeat > 1)
                        printf("--- repetition 1 of %u ---\n", o.repeat);
                run_repetition(&o, &fixture, &reps[k]);
        }

        if (bench_runs(&o, 8))
                bench_decode(&o, &fixture, harness_keyd_pid());
        if (bench_runs(&o, 9))
                bench_scaling(&o, &fixture, res.ncpu);
        if (bench_runs(&o, 7))
                bench_start(&o, &reps[o.repeat - 1]);

        reps[o.repeat - 1].loadavg_end = loadavg();
        t = print_targets(&o, reps, sums);
        printf("\n(whole run %.0f s; load average %.2f at the start, %.2f at the end, this run included)\n",
               (double) (now_usec() - start) / USEC_PER_SEC, res.loadavg_start, reps[o.repeat - 1].loadavg_end);
        print_values(&o, reps, sums, &t, model);
        bench_decode_print_values();
        return EXIT_SUCCESS;
}
