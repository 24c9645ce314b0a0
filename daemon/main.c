/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd: the broker for protected-video crypto sessions. */

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "secure-memory.h"
#include "work/worker-pool.h"

static void help(void) {
        printf("Usage: keyd [OPTIONS...]\n"
               "\n"
               "Broker for protected-video crypto sessions: the driver side of Direct3D 11\n"
               "crypto sessions (CreateCryptoSession, NegotiateCryptoSessionKeyExchange, ...)\n"
               "on D-Bus as %s.\n"
               "\n"
               "  -h --help                        Show this help and exit\n"
               "     --version                     Show the version and exit\n"
               "     --bus=system|session          Bus to serve on (default: system; the system\n"
               "                                   bus honours DBUS_SYSTEM_BUS_ADDRESS)\n"
               "     --backend=auto|software|vpl   Backend (default: auto = vpl when an Intel\n"
               "                                   protected-content runtime is found, else software)\n"
               "     --render-node=PATH            Render node of the vpl backend (default: the first\n"
               "                                   /dev/dri/renderD* driven by i915 or xe)\n"
               "     --vpl-implementation=NAME     Use only the oneVPL implementation of this name\n"
               "                                   (for tests; default: any Intel hardware one)\n"
               "     --state-dir=DIR               Where the device key lives (default: %s)\n"
               "     --rsa-bits=2048|3072|4096     Size of a newly made device key (default: %u)\n"
               "     --max-sessions-per-client=N   Open sessions per bus connection (default: %u)\n"
               "     --max-sessions=N              Open sessions in all (default: %u)\n"
               "     --max-surface-bytes-per-client=BYTES\n"
               "                                   Protected memory per connection, surfaces in whole\n"
               "                                   pages and unclosed EncryptionBltFd memfds (default: %llu)\n"
               "     --max-sessions-per-user=N     Open sessions of one uid over all its connections\n"
               "                                   (default: %u)\n"
               "     --max-memory-per-user=BYTES   The same memory, of one uid over all its connections\n"
               "                                   (default: %llu)\n"
               "     --max-locked-memory=BYTES     Locked memory of keyd in all: surfaces, keys, bignums\n"
               "                                   (default: %llu, or RLIMIT_MEMLOCK when lower)\n"
               "     --key-refresh-timeout=SEC     A key refresh not finished within SEC seconds is\n"
               "                                   abandoned and the session key lost (default: %llu)\n"
               "     --workers=N                   Threads for RSA operations; 0 runs them on the bus\n"
               "                                   thread (default: one per CPU, here %u)\n"
               "     --max-queued-per-client=N     Key exchanges one connection may have waiting\n"
               "                                   (default: %u)\n"
               "     --exit-idle-time=SEC          Exit after SEC seconds with no session open, for\n"
               "                                   bus activation (default: 0 = never)\n"
               "     --max-decoders-per-client=N   Video decoders per bus connection (default: %u)\n"
               "     --max-decoder-size=WxH        Largest coded size of a video decoder (default: %ux%u)\n"
               "     --max-sample-size=BYTES       Largest compressed sample (default: %llu)\n"
               "     --decoder-deadline-ms=MS      A decoder process that takes longer for one sample\n"
               "                                   is killed and its decoder fails (default: %llu)\n"
               "     --decoder-threads=N           Decoding threads per decoder (default: 0 = one per\n"
               "                                   CPU, at most 16)\n"
               "     --decoder-memory=BYTES        Address-space limit of each decoder process\n"
               "                                   (default: %llu)\n"
               "     --decoder-helper=PATH         The sandboxed decoder program (default: %s)\n"
               "     --log-level=LEVEL             debug, info, notice, warning, err (default: info)\n"
               "\n"
               "See keyd(8).\n",
               KEYD_BUS_NAME, KEYD_STATE_DIR, DEFAULT_RSA_BITS, DEFAULT_MAX_SESSIONS_PER_CLIENT,
               DEFAULT_MAX_SESSIONS, (unsigned long long) DEFAULT_MAX_SURFACE_BYTES_PER_CLIENT,
               DEFAULT_MAX_SESSIONS_PER_USER, (unsigned long long) DEFAULT_MAX_MEMORY_PER_USER,
               (unsigned long long) DEFAULT_MAX_LOCKED_MEMORY,
               (unsigned long long) (DEFAULT_KEY_REFRESH_TIMEOUT_USEC / 1000000u), worker_pool_default_threads(),
               DEFAULT_MAX_QUEUED_PER_CLIENT, DEFAULT_MAX_DECODERS_PER_CLIENT, DEFAULT_MAX_DECODER_WIDTH,
               DEFAULT_MAX_DECODER_HEIGHT, (unsigned long long) DEFAULT_MAX_SAMPLE_SIZE,
               (unsigned long long) (DEFAULT_DECODER_DEADLINE_USEC / 1000u),
               (unsigned long long) DEFAULT_DECODER_MEMORY_LIMIT, KEYD_DECODER_PATH);
}

static int parse_unsigned(const char *option, const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char *end;
        uint64_t v;

        errno = 0;
        if (!s || !*s || *s == '-')
                goto invalid;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != 0 || v < min || v > max)
                goto invalid;
        *ret = v;
        return 0;

invalid:
        return log_error_errno(-EINVAL, "Invalid %s=%s: expected a whole number from %" PRIu64 " to %" PRIu64 ".",
                               option, s ?: "", min, max);
}

enum {
        ARG_VERSION = 0x100,
        ARG_BUS,
        ARG_BACKEND,
        ARG_RENDER_NODE,
        ARG_VPL_IMPLEMENTATION,
        ARG_STATE_DIR,
        ARG_RSA_BITS,
        ARG_MAX_SESSIONS_PER_CLIENT,
        ARG_MAX_SESSIONS,
        ARG_MAX_SURFACE_BYTES,
        ARG_MAX_SESSIONS_PER_USER,
        ARG_MAX_MEMORY_PER_USER,
        ARG_MAX_LOCKED_MEMORY,
        ARG_KEY_REFRESH_TIMEOUT,
        ARG_WORKERS,
        ARG_MAX_QUEUED_PER_CLIENT,
        ARG_EXIT_IDLE_TIME,
        ARG_LOG_LEVEL,
        ARG_MAX_DECODERS_PER_CLIENT,
        ARG_MAX_DECODER_SIZE,
        ARG_MAX_SAMPLE_SIZE,
        ARG_DECODER_DEADLINE_MS,
        ARG_DECODER_THREADS,
        ARG_DECODER_MEMORY,
        ARG_DECODER_HELPER,
};

/* Returns 1 to go on, 0 to exit successfully (--help), <0 on error. */
static int parse_argv(int argc, char *argv[], ManagerConfig *config) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "bus", required_argument, NULL, ARG_BUS },
                { "backend", required_argument, NULL, ARG_BACKEND },
                { "render-node", required_argument, NULL, ARG_RENDER_NODE },
                { "vpl-implementation", required_argument, NULL, ARG_VPL_IMPLEMENTATION },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "rsa-bits", required_argument, NULL, ARG_RSA_BITS },
                { "max-sessions-per-client", required_argument, NULL, ARG_MAX_SESSIONS_PER_CLIENT },
                { "max-sessions", required_argument, NULL, ARG_MAX_SESSIONS },
                { "max-surface-bytes-per-client", required_argument, NULL, ARG_MAX_SURFACE_BYTES },
                { "max-sessions-per-user", required_argument, NULL, ARG_MAX_SESSIONS_PER_USER },
                { "max-memory-per-user", required_argument, NULL, ARG_MAX_MEMORY_PER_USER },
                { "max-locked-memory", required_argument, NULL, ARG_MAX_LOCKED_MEMORY },
                { "key-refresh-timeout", required_argument, NULL, ARG_KEY_REFRESH_TIMEOUT },
                { "workers", required_argument, NULL, ARG_WORKERS },
                { "max-queued-per-client", required_argument, NULL, ARG_MAX_QUEUED_PER_CLIENT },
                { "exit-idle-time", required_argument, NULL, ARG_EXIT_IDLE_TIME },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "max-decoders-per-client", required_argument, NULL, ARG_MAX_DECODERS_PER_CLIENT },
                { "max-decoder-size", required_argument, NULL, ARG_MAX_DECODER_SIZE },
                { "max-sample-size", required_argument, NULL, ARG_MAX_SAMPLE_SIZE },
                { "decoder-deadline-ms", required_argument, NULL, ARG_DECODER_DEADLINE_MS },
                { "decoder-threads", required_argument, NULL, ARG_DECODER_THREADS },
                { "decoder-memory", required_argument, NULL, ARG_DECODER_MEMORY },
                { "decoder-helper", required_argument, NULL, ARG_DECODER_HELPER },
                {}
        };
        uint64_t v;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("keyd %s\n", KEYD_VERSION);
                        return 0;
                case ARG_BUS:
                        if (streq(optarg, "system"))
                                config->bus_type = BUS_SYSTEM;
                        else if (streq(optarg, "session"))
                                config->bus_type = BUS_SESSION;
                        else
                                return log_error_errno(-EINVAL, "Invalid --bus=%s: expected system or session.",
                                                       optarg);
                        break;
                case ARG_BACKEND:
                        config->backend_type = backend_type_from_string(optarg);
                        if (config->backend_type < 0)
                                return log_error_errno(-EINVAL,
                                                       "Invalid --backend=%s: expected auto, software or vpl.",
                                                       optarg);
                        break;
                case ARG_RENDER_NODE:
                        if (isempty(optarg))
                                return log_error_errno(-EINVAL, "Invalid --render-node=: expected a path such as "
                                                       "/dev/dri/renderD128.");
                        config->render_node = optarg;
                        break;
                case ARG_VPL_IMPLEMENTATION:
                        if (isempty(optarg))
                                return log_error_errno(-EINVAL, "Invalid --vpl-implementation=: expected the name "
                                                       "of a oneVPL implementation.");
                        config->vpl_implementation = optarg;
                        break;
                case ARG_STATE_DIR:
                        if (isempty(optarg))
                                return log_error_errno(-EINVAL, "Invalid --state-dir=: expected a directory.");
                        config->state_dir = optarg;
                        break;
                case ARG_RSA_BITS:
                        r = parse_unsigned("--rsa-bits", optarg, 2048, 4096, &v);
                        if (r < 0)
                                return r;
                        if (v != 2048 && v != 3072 && v != 4096)
                                return log_error_errno(-EINVAL, "Invalid --rsa-bits=%s: expected 2048, 3072 or 4096.",
                                                       optarg);
                        config->rsa_bits = (unsigned) v;
                        break;
                case ARG_MAX_SESSIONS_PER_CLIENT:
                        r = parse_unsigned("--max-sessions-per-client", optarg, 1, 1000000, &v);
                        if (r < 0)
                                return r;
                        config->max_sessions_per_client = (unsigned) v;
                        break;
                case ARG_MAX_SESSIONS:
                        r = parse_unsigned("--max-sessions", optarg, 1, 1000000, &v);
                        if (r < 0)
                                return r;
                        config->max_sessions = (unsigned) v;
                        break;
                case ARG_MAX_SURFACE_BYTES:
                        r = parse_unsigned("--max-surface-bytes-per-client", optarg, 0, UINT64_C(1) << 40, &v);
                        if (r < 0)
                                return r;
                        config->max_surface_bytes_per_client = v;
                        break;
                case ARG_MAX_SESSIONS_PER_USER:
                        r = parse_unsigned("--max-sessions-per-user", optarg, 1, 1000000, &v);
                        if (r < 0)
                                return r;
                        config->max_sessions_per_user = (unsigned) v;
                        break;
                case ARG_MAX_MEMORY_PER_USER:
                        r = parse_unsigned("--max-memory-per-user", optarg, 0, UINT64_C(1) << 40, &v);
                        if (r < 0)
                                return r;
                        config->max_memory_per_user = v;
                        break;
                case ARG_MAX_LOCKED_MEMORY:
                        /* At least room for the device key, sessions and the bignum reserve. */
                        r = parse_unsigned("--max-locked-memory", optarg, 4 * 1024 * 1024, UINT64_C(1) << 40, &v);
                        if (r < 0)
                                return r;
                        config->max_locked_memory = v;
                        break;
                case ARG_KEY_REFRESH_TIMEOUT:
                        r = parse_unsigned("--key-refresh-timeout", optarg, 1, 86400, &v);
                        if (r < 0)
                                return r;
                        config->key_refresh_timeout_usec = v * 1000000u;
                        break;
                case ARG_WORKERS:
                        r = parse_unsigned("--workers", optarg, 0, 256, &v);
                        if (r < 0)
                                return r;
                        config->n_workers = (unsigned) v;
                        break;
                case ARG_MAX_QUEUED_PER_CLIENT:
                        r = parse_unsigned("--max-queued-per-client", optarg, 1, 65536, &v);
                        if (r < 0)
                                return r;
                        config->max_queued_per_client = (unsigned) v;
                        break;
                case ARG_EXIT_IDLE_TIME:
                        r = parse_unsigned("--exit-idle-time", optarg, 0, 86400, &v);
                        if (r < 0)
                                return r;
                        config->exit_idle_usec = v * 1000000u;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0)
                                return log_error_errno(r, "Invalid --log-level=%s: expected debug, info, notice, "
                                                       "warning or err.", optarg);
                        log_set_max_level(r);
                        break;
                case ARG_MAX_DECODERS_PER_CLIENT:
                        r = parse_unsigned("--max-decoders-per-client", optarg, 0, 1024, &v);
                        if (r < 0)
                                return r;
                        config->max_decoders_per_client = (unsigned) v;
                        break;
                case ARG_MAX_DECODER_SIZE: {
                        unsigned w, h;
                        char tail;

                        if (sscanf(optarg, "%ux%u%c", &w, &h, &tail) != 2 || w < 16 || h < 16 || w > 16384 ||
                            h > 16384)
                                return log_error_errno(-EINVAL, "Invalid --max-decoder-size=%s: expected WIDTHxHEIGHT, "
                                                       "each from 16 to 16384, e.g. 4096x2304.", optarg);
                        config->max_decoder_width = w;
                        config->max_decoder_height = h;
                        break;
                }
                case ARG_MAX_SAMPLE_SIZE:
                        r = parse_unsigned("--max-sample-size", optarg, 4096, UINT64_C(256) << 20, &v);
                        if (r < 0)
                                return r;
                        config->max_sample_size = v;
                        break;
                case ARG_DECODER_DEADLINE_MS:
                        r = parse_unsigned("--decoder-deadline-ms", optarg, 10, 600000, &v);
                        if (r < 0)
                                return r;
                        config->decoder_deadline_usec = v * 1000u;
                        break;
                case ARG_DECODER_THREADS:
                        r = parse_unsigned("--decoder-threads", optarg, 0, 64, &v);
                        if (r < 0)
                                return r;
                        config->decoder_threads = (unsigned) v;
                        break;
                case ARG_DECODER_MEMORY:
                        r = parse_unsigned("--decoder-memory", optarg, UINT64_C(256) << 20, UINT64_C(1) << 40, &v);
                        if (r < 0)
                                return r;
                        config->decoder_memory_limit = v;
                        break;
                case ARG_DECODER_HELPER:
                        if (isempty(optarg) || optarg[0] != '/')
                                return log_error_errno(-EINVAL, "Invalid --decoder-helper=%s: expected an absolute "
                                                       "path.", optarg);
                        config->decoder_helper = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option.");
                }
        }

        if (optind < argc)
                return log_error_errno(-EINVAL, "keyd takes no arguments, got \"%s\"; see keyd --help.",
                                       argv[optind]);
        return 1;
}

/* Keys must never reach a core dump or another process's ptrace. */
static int harden_process(void) {
        struct rlimit no_core = {};

        if (setrlimit(RLIMIT_CORE, &no_core) < 0)
                return log_error_errno(negative_errno(), "Failed to disable core dumps: %m");
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(negative_errno(), "Failed to mark keyd non-dumpable: %m");
        umask(0077);
        return 0;
}

int main(int argc, char *argv[]) {
        ManagerConfig config = {
                .bus_type = BUS_SYSTEM,
                .backend_type = BACKEND_AUTO,
                .state_dir = (char *) KEYD_STATE_DIR,
                .rsa_bits = DEFAULT_RSA_BITS,
                .max_sessions_per_client = DEFAULT_MAX_SESSIONS_PER_CLIENT,
                .max_sessions = DEFAULT_MAX_SESSIONS,
                .max_surface_bytes_per_client = DEFAULT_MAX_SURFACE_BYTES_PER_CLIENT,
                .max_sessions_per_user = DEFAULT_MAX_SESSIONS_PER_USER,
                .max_memory_per_user = DEFAULT_MAX_MEMORY_PER_USER,
                .max_locked_memory = DEFAULT_MAX_LOCKED_MEMORY,
                .key_refresh_timeout_usec = DEFAULT_KEY_REFRESH_TIMEOUT_USEC,
                .n_workers = worker_pool_default_threads(),
                .max_queued_per_client = DEFAULT_MAX_QUEUED_PER_CLIENT,
                .decoder_helper = KEYD_DECODER_PATH,
                .decoder_deadline_usec = DEFAULT_DECODER_DEADLINE_USEC,
                .max_decoders_per_client = DEFAULT_MAX_DECODERS_PER_CLIENT,
                .max_decoder_width = DEFAULT_MAX_DECODER_WIDTH,
                .max_decoder_height = DEFAULT_MAX_DECODER_HEIGHT,
                .max_sample_size = DEFAULT_MAX_SAMPLE_SIZE,
                .decoder_memory_limit = DEFAULT_DECODER_MEMORY_LIMIT,
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_open();

        r = parse_argv(argc, argv, &config);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        r = harden_process();
        if (r < 0)
                return EXIT_FAILURE;

        /* Before any bignum exists: GMP (and so the RSA key) uses locked memory. */
        secure_memory_install_gmp();

        r = manager_new(&config, &m);
        if (r < 0) {
                log_error_errno(r, "Failed to set up keyd: %m");
                return EXIT_FAILURE;
        }

        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;

        r = manager_run(m);
        log_info("keyd stopped; all session keys wiped.");
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
