/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-timing: does the time keyd takes to reject a key exchange tell why
 * it was rejected? See timing.h and keyd-timing --help. */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "timing.h"

static void help(void) {
        printf("Usage: keyd-timing oaep|negotiate [OPTIONS...]\n"
               "\n"
               "dudect-style timing test of keyd's RSAES-OAEP decoding: Welch's t-test between\n"
               "classes of ciphertexts timed in random interleaved order, on the raw times and\n"
               "cropped at percentiles. A pair of classes passes when |t| < the threshold.\n"
               "\n"
               "  oaep        rsa_oaep_decrypt_exact() alone, with a fixed RSA-2048 key\n"
               "  negotiate   NegotiateCryptoSessionKeyExchange through libkeyd and a real keyd\n"
               "\n"
               "  -h --help              Show this help\n"
               "     --count=N           Measurements per class (default 100000)\n"
               "     --classes=LIST      Comma-separated, from: valid, bad-first-byte, bad-ps,\n"
               "                         no-separator, bad-lhash, all\n"
               "                         (default: valid,bad-first-byte,bad-ps)\n"
               "     --hash=sha512|sha256|sha1\n"
               "                         OAEP hash (default sha512, D3D11's RSAES_OAEP)\n"
               "     --threshold=T       |t| that fails a pair (default 4.5)\n"
               "     --leak-ns=N         oaep: add a deliberate N ns to every bad-first-byte call,\n"
               "                         to check that the test sees such a difference\n"
               "     --seed=N            Seed of the key (oaep) and of the inputs (default 1)\n"
               "     --batch=N           Inputs prepared at a time (default 6000)\n"
               "     --threads=N         negotiate: client threads (default 2)\n"
               "     --workers=N         negotiate: keyd --workers= of the keyd started here\n"
               "                         (default: keyd's own, one per CPU)\n"
               "     --address=ADDRESS   negotiate: the bus of a running keyd (default: start a\n"
               "                         private dbus-daemon and keyd; needs KEYD_BINARY)\n"
               "\n"
               "Exit status 0 when every pair passes, 1 otherwise.\n");
}

static int parse_size(const char *option, const char *s, size_t min, size_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end || !*s || *s == '-' || v < min) {
                fprintf(stderr, "keyd-timing: invalid %s=%s: expected a whole number of at least %zu\n", option, s, min);
                return -EINVAL;
        }
        *ret = (size_t) v;
        return 0;
}

static int parse_classes(const char *list, TimingOptions *o) {
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        memset(o->classes, 0, sizeof(o->classes));
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                int c = timing_class_from_string(w);

                if (streq(w, "all")) {
                        for (int i = 0; i < _CLASS_MAX; i++)
                                o->classes[i] = true;
                        continue;
                }
                if (c < 0) {
                        fprintf(stderr, "keyd-timing: unknown class \"%s\"; see --help\n", w);
                        return -EINVAL;
                }
                o->classes[c] = true;
        }
        o->n_classes = 0;
        for (int i = 0; i < _CLASS_MAX; i++)
                o->n_classes += o->classes[i];
        if (o->n_classes < 2) {
                fprintf(stderr, "keyd-timing: --classes= needs at least two classes to compare\n");
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_COUNT = 0x100, ARG_CLASSES, ARG_HASH, ARG_THRESHOLD, ARG_SEED, ARG_BATCH, ARG_THREADS,
               ARG_WORKERS, ARG_ADDRESS, ARG_LEAK_NS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "count", required_argument, NULL, ARG_COUNT },
                { "classes", required_argument, NULL, ARG_CLASSES },
                { "hash", required_argument, NULL, ARG_HASH },
                { "threshold", required_argument, NULL, ARG_THRESHOLD },
                { "seed", required_argument, NULL, ARG_SEED },
                { "batch", required_argument, NULL, ARG_BATCH },
                { "threads", required_argument, NULL, ARG_THREADS },
                { "workers", required_argument, NULL, ARG_WORKERS },
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "leak-ns", required_argument, NULL, ARG_LEAK_NS },
                {}
        };
        TimingOptions o = {
                .count = 100000,
                .threads = 2,
                .hash = OAEP_HASH_SHA512,
                .seed = 1,
                .batch = 6000,
                .threshold = 4.5,
        };
        size_t v;
        int c;

        (void) parse_classes("valid,bad-first-byte,bad-ps", &o);
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_COUNT:
                        if (parse_size("--count", optarg, 2, &o.count) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_CLASSES:
                        if (parse_classes(optarg, &o) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_HASH:
                        if (streq(optarg, "sha512"))
                                o.hash = OAEP_HASH_SHA512;
                        else if (streq(optarg, "sha256"))
                                o.hash = OAEP_HASH_SHA256;
                        else if (streq(optarg, "sha1"))
                                o.hash = OAEP_HASH_SHA1;
                        else {
                                fprintf(stderr, "keyd-timing: invalid --hash=%s: expected sha512, sha256 or sha1\n",
                                        optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_THRESHOLD:
                        o.threshold = strtod(optarg, NULL);
                        if (!(o.threshold > 0)) {
                                fprintf(stderr, "keyd-timing: invalid --threshold=%s: expected a positive number\n",
                                        optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_SEED:
                        if (parse_size("--seed", optarg, 0, &v) < 0)
                                return EXIT_FAILURE;
                        o.seed = v;
                        break;
                case ARG_BATCH:
                        if (parse_size("--batch", optarg, 100, &o.batch) < 0)
                                return EXIT_FAILURE;
                        break;
                case ARG_THREADS:
                        if (parse_size("--threads", optarg, 1, &v) < 0 || v > 256)
                                return EXIT_FAILURE;
                        o.threads = (unsigned) v;
                        break;
                case ARG_WORKERS:
                        if (parse_size("--workers", optarg, 1, &v) < 0 || v > 256)
                                return EXIT_FAILURE;
                        o.workers = (unsigned) v;
                        break;
                case ARG_LEAK_NS:
                        if (parse_size("--leak-ns", optarg, 0, &v) < 0)
                                return EXIT_FAILURE;
                        o.leak_ns = v;
                        break;
                case ARG_ADDRESS:
                        o.address = optarg;
                        break;
                default:
                        return EXIT_FAILURE;
                }

        if (optind + 1 != argc) {
                fprintf(stderr, "keyd-timing: expected one mode, oaep or negotiate; see --help\n");
                return EXIT_FAILURE;
        }
        o.mode = argv[optind];
        if (streq(o.mode, "oaep"))
                return timing_run_oaep(&o);
        if (streq(o.mode, "negotiate")) {
                /* The keyd this build made, unless told otherwise. */
                if (setenv("KEYD_BINARY", TIMING_KEYD_BINARY, 0) < 0 ||
                    setenv("DBUS_DAEMON", TIMING_DBUS_DAEMON, 0) < 0)
                        return EXIT_FAILURE;
                return timing_run_negotiate(&o);
        }
        fprintf(stderr, "keyd-timing: unknown mode \"%s\"; expected oaep or negotiate\n", o.mode);
        return EXIT_FAILURE;
}
