/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl: look at keyd and try it out from the command line. This file
 * has the command line (options before or after the command, --help for
 * each command) and what the commands share. */

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "config.h"
#include "guid.h"
#include "keydctl.h"

/* keydctl_fail() explains an unreachable keyd for the bus the user chose. */
static const char *bus_address;

static void verror(const char *format, va_list ap) {
        int saved = errno;

        /* What went to stdout belongs before the error. */
        (void) fflush(stdout);
        errno = saved;
        fputs("keydctl: ", stderr);
        vfprintf(stderr, format, ap);
}

void keydctl_error(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        verror(format, ap);
        va_end(ap);
}

int keydctl_usage(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        verror(format, ap);
        va_end(ap);
        return -KEYDCTL_EXIT_USAGE;
}

int keydctl_fail(HRESULT hr, const char *what) {
        const char *message = keyd_last_error_message();

        keydctl_error("%s: 0x%08" PRIX32 " %s: %s\n", what, (uint32_t) hr, keyd_hresult_to_string(hr),
                      keyd_hresult_to_description(hr));
        if (!isempty(message))
                fprintf(stderr, "keydctl: %s\n", message);
        if (hr != KEYD_E_SERVICE_NOT_ACTIVE)
                return -KEYDCTL_EXIT_FAILURE;
        keydctl_explain_not_running(bus_address);
        return -KEYDCTL_EXIT_NOT_RUNNING;
}

int keydctl_open_client(const Keydctl *ctl, keyd_client **ret) {
        keyd_client *client = NULL;
        HRESULT hr;

        hr = ctl->address ? keyd_client_open_address(ctl->address, &client) : keyd_client_open(&client);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "cannot connect to the bus");

        hr = keyd_client_set_timeout(client, ctl->timeout_usec);
        if (KEYD_FAILED(hr)) {
                keyd_client_close(client);
                return keydctl_fail(hr, "cannot set the timeout");
        }
        *ret = client;
        return 0;
}

static const struct {
        const char *name;
        const keyd_guid *guid;
} profile_names[] = {
        { "h264", &KEYD_DECODER_PROFILE_H264_VLD_NOFGT },
        { "hevc", &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN },
        { "hevc10", &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10 },
        { "vp9", &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0 },
        { "av1", &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0 },
};

int keydctl_parse_profile(const char *s, keyd_guid *buf, const keyd_guid **ret) {
        if (strcasecmp(s, "none") == 0) {
                *ret = NULL;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(profile_names); i++)
                if (strcasecmp(s, profile_names[i].name) == 0) {
                        *ret = profile_names[i].guid;
                        return 0;
                }
        if (KEYD_FAILED(keyd_guid_from_string(s, buf)))
                return keydctl_usage("--profile=%s: expected a GUID or one of none, h264, hevc, hevc10, vp9, av1\n",
                                     s);
        *ret = buf;
        return 0;
}

const char *keydctl_guid_name(const keyd_guid *g, char buf[static KEYD_GUID_STRING_SIZE]) {
        const KnownGuid *known = NULL;

        for (GuidKind kind = GUID_KIND_CRYPTO_TYPE; kind <= GUID_KIND_DECODER_PROFILE && !known; kind++)
                known = known_guid_lookup(g, kind);
        if (known)
                return known->name;
        (void) keyd_guid_to_string(g, buf, KEYD_GUID_STRING_SIZE);
        return buf;
}

const char *keydctl_status_name(uint32_t status) {
        static const char *const names[] = { "OK", "KEY_LOST", "KEY_AND_CONTENT_LOST" };

        return status < ELEMENTSOF(names) ? names[status] : "unknown";
}

/* ---- the command line ---- */

enum {
        ARG_VERSION = 0x100,
        ARG_ADDRESS,
        ARG_TIMEOUT,
        ARG_JSON,
        ARG_PROFILE,
        ARG_KEY_EXCHANGE,
        ARG_SIZE,
        ARG_PATTERN,
        ARG_CONTENT_KEY,
        ARG_DATA,
        ARG_PEM,
        ARG_DER,
        ARG_KEY,
        ARG_PNG,
        ARG_FRAME,
};

/* Options that only some commands take, as bits of Verb.options. */
#define OPT(arg) (1U << ((arg) - ARG_JSON))

static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        { "address", required_argument, NULL, ARG_ADDRESS },
        { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "json", no_argument, NULL, ARG_JSON },
        { "profile", required_argument, NULL, ARG_PROFILE },
        { "key-exchange", required_argument, NULL, ARG_KEY_EXCHANGE },
        { "hash", required_argument, NULL, ARG_KEY_EXCHANGE },   /* what the hash names say */
        { "size", required_argument, NULL, ARG_SIZE },
        { "pattern", required_argument, NULL, ARG_PATTERN },
        { "content-key", no_argument, NULL, ARG_CONTENT_KEY },
        { "data", required_argument, NULL, ARG_DATA },
        { "pem", no_argument, NULL, ARG_PEM },
        { "der", no_argument, NULL, ARG_DER },
        { "key", required_argument, NULL, ARG_KEY },
        { "png", required_argument, NULL, ARG_PNG },
        { "frame", required_argument, NULL, ARG_FRAME },
        {},
};

static const char *option_name(int arg) {
        for (const struct option *o = options; o->name; o++)
                if (o->val == arg)
                        return o->name;
        return "?";
}

typedef struct Verb {
        const char *name;
        int (*run)(const Keydctl *ctl, int argc, char *argv[]);
        unsigned options;        /* OPT() of each command option it takes */
        const char *argument;    /* the one argument it takes (FILE), or NULL for none */
        const char *synopsis;    /* its options, for both helps */
        const char *summary;     /* lines for keydctl --help */
        const char *help;        /* its options, for keydctl COMMAND --help */
} Verb;

#define JSON_HELP "     --json                   Print one JSON document instead of text\n"
#define PROFILE_HELP                                                                       \
        "     --profile=P              A decoder profile GUID or one of none (default),\n" \
        "                              h264, hevc, hevc10, vp9, av1\n"
#define KEY_EXCHANGE_HELP                                                                   \
        "     --key-exchange=H         The RSAES-OAEP hash: sha512 (default,\n"             \
        "                              D3D11_KEY_EXCHANGE_RSAES_OAEP), sha256 or sha1;\n"   \
        "                              any case, with or without a dash (SHA-256)\n"   \
        "     --hash=H                 The same as --key-exchange=H\n"

static const Verb verbs[] = {
        {
                "status", verb_status, OPT(ARG_JSON), NULL, "[--json]",
                "Show keyd's version, backend (hardware or the\n"
                "software reference), sessions and limits",
                JSON_HELP,
        },
        {
                "caps", verb_caps, OPT(ARG_JSON) | OPT(ARG_PROFILE), NULL, "[--profile=P] [--json]",
                "Show the content protection caps for AES128-CTR\n"
                "and the key exchange types keyd offers",
                PROFILE_HELP JSON_HELP,
        },
        {
                "negotiate", verb_negotiate, OPT(ARG_KEY_EXCHANGE) | OPT(ARG_PROFILE) | OPT(ARG_DATA), NULL,
                "[--key-exchange=H] [--profile=P] [--data=FILE]",
                "Create a session, wrap a random key to its\n"
                "certificate (or send FILE), negotiate it,\n"
                "check the status, release the session",
                KEY_EXCHANGE_HELP PROFILE_HELP
                "     --data=FILE              Send FILE's bytes (- for standard input) as the\n"
                "                              key exchange data instead of wrapping a key here:\n"
                "                              an RSAES-OAEP ciphertext made by your own code\n"
                "                              against the certificate of keydctl certificate\n",
        },
        {
                "roundtrip", verb_roundtrip,
                OPT(ARG_SIZE) | OPT(ARG_PATTERN) | OPT(ARG_CONTENT_KEY) | OPT(ARG_KEY_EXCHANGE), NULL,
                "[--size=N] [--pattern=C:S:E] [--content-key] [--key-exchange=H]",
                "Negotiate a key, DecryptionBlt a buffer encrypted\n"
                "here into a surface, read it back with\n"
                "EncryptionBlt (showing the IV keyd chose), check\n"
                "it byte for byte, show the throughput",
                "     --size=N                 Bytes to decrypt, a multiple of 16; K and M suffixes\n"
                "                              for KiB and MiB (default 1M)\n"
                "     --pattern=C:S:E          D3D11_ENCRYPTED_BLOCK_INFO: C bytes encrypted at the\n"
                "                              start, then S clear and E encrypted, repeating\n"
                "                              (default 0:0:0, all encrypted)\n"
                "     --content-key            Encrypt with a content key wrapped with the session\n"
                "                              key instead of the session key itself\n"
                KEY_EXCHANGE_HELP,
        },
        {
                "sessions", verb_sessions, OPT(ARG_JSON), NULL, "[--json]",
                "List the sessions keyd holds",
                JSON_HELP,
        },
        {
                "certificate", verb_certificate, OPT(ARG_JSON) | OPT(ARG_PEM) | OPT(ARG_DER), NULL,
                "[--der|--pem|--json]",
                "Write keyd's device certificate to stdout: DER\n"
                "(the default, not to a terminal), PEM, or what it\n"
                "holds as JSON",
                "     --der                    DER X.509, as GetCertificate returns it (the\n"
                "                              default; refused when standard output is a terminal)\n"
                "     --pem                    PEM (base64 between BEGIN/END CERTIFICATE lines)\n"
                "     --json                   Its size, RSA key size, subject, issuer, validity,\n"
                "                              SHA-256 fingerprint and PEM as one JSON document\n",
        },
        {
                "play", verb_play, OPT(ARG_KEY) | OPT(ARG_PNG) | OPT(ARG_FRAME) | OPT(ARG_KEY_EXCHANGE), "FILE",
                "[--key=HEX] [--png=FILE --frame=N] [--key-exchange=H]",
                "Play a CENC-encrypted MP4 (H.264, HEVC) through\n"
                "keyd: it decrypts and decodes each sample; print\n"
                "each frame's MD5 as ffmpeg -f framemd5 does",
                "     --key=HEX                The content key, 32 hex digits (as ffmpeg's\n"
                "                              -decryption_key); sent to keyd wrapped with a\n"
                "                              negotiated session key. Not needed for clear files.\n"
                "                              --key=- reads it from standard input, out of the\n"
                "                              process list\n"
                "     --png=FILE               Write one decoded frame as a PNG picture\n"
                "     --frame=N                Which frame --png writes (default 0, the first)\n"
                KEY_EXCHANGE_HELP
                "\n"
                "Standard output is ffmpeg's framemd5 (yuv420p for 8-bit, yuv420p10le for\n"
                "10-bit video), to diff against ffmpeg -decryption_key HEX -i FILE -fflags\n"
                "+bitexact -f framemd5 -; the summary goes to standard error.\n",
        },
};

#define EXIT_STATUS_HELP                                                                 \
        "Exit status: 0 success; 1 keyd returned an error (or a local step failed);\n"  \
        "2 wrong command line; 7 keyd is not reachable (no bus, not running, or it\n"   \
        "did not start).\n"

static void print_indented(const char *text, const char *indent) {
        for (const char *p = text; *p;) {
                size_t n = strcspn(p, "\n");

                printf("%s%.*s\n", p == text ? "" : indent, (int) n, p);
                p += n;
                if (*p == '\n')
                        p++;
        }
}

static void help(void) {
        printf("keydctl [OPTIONS...] COMMAND [COMMAND-OPTIONS...]\n"
               "\n"
               "Query and exercise keyd, the protected-video key broker (org.keyd.KeyBroker1).\n"
               "\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                printf("  %-28s ", verbs[i].name);
                print_indented(verbs[i].summary, "                               ");
        }
        printf("\n"
               "Options (before or after the command):\n"
               "  -h --help                    Show this help, or with a command, its help\n"
               "     --version                 Show the version\n"
               "     --address=ADDRESS         Use the bus at this D-Bus address instead of the\n"
               "                               system bus (e.g. unix:path=/tmp/bus)\n"
               "     --timeout=SEC             How long to wait for keyd (default %llu s)\n"
               "     --json                    JSON output (status, caps, sessions, certificate)\n"
               "\n"
               "Run keydctl COMMAND --help for the options of a command.\n"
               "\n" EXIT_STATUS_HELP,
               KEYD_DEFAULT_TIMEOUT_USEC / 1000000ULL);
}

static void verb_help(const Verb *v) {
        printf("keydctl [OPTIONS...] %s %s%s%s\n\n", v->name, v->argument ?: "", v->argument ? " " : "", v->synopsis);
        print_indented(v->summary, "");
        printf("\nOptions:\n%s"
               "  -h --help                    Show this help\n"
               "\n"
               "The options of keydctl --help (--address, --timeout) apply too.\n"
               "\n" EXIT_STATUS_HELP,
               v->help);
}

static int parse_timeout(const char *s, uint64_t *ret) {
        char *end;
        double sec;

        errno = 0;
        sec = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(sec) || sec <= 0 || sec > 86400.0 * 365)
                return keydctl_usage("--timeout=%s: expected a positive number of seconds\n", s);
        *ret = (uint64_t) (sec * 1e6);
        if (*ret == 0)
                *ret = 1;
        return 0;
}

static const Verb *find_verb(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(name, verbs[i].name))
                        return &verbs[i];
        return NULL;
}

static const char verb_list[] = "status, caps, negotiate, roundtrip, sessions, certificate or play";

/* Options anywhere on the line (getopt permutes), then the command. */
static int run(int argc, char *argv[]) {
        Keydctl ctl = {};
        const Verb *verb;
        unsigned seen = 0;
        bool want_help = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c >= ARG_JSON)
                        seen |= OPT(c);
                switch (c) {
                case 'h':
                        want_help = true;
                        break;
                case ARG_VERSION:
                        printf("keydctl %s\n", KEYD_VERSION);
                        return 0;
                case ARG_ADDRESS:
                        ctl.address = optarg;
                        break;
                case ARG_TIMEOUT:
                        r = parse_timeout(optarg, &ctl.timeout_usec);
                        if (r < 0)
                                return r;
                        break;
                case ARG_JSON:
                        ctl.json = true;
                        break;
                case ARG_PROFILE:
                        ctl.profile = optarg;
                        break;
                case ARG_KEY_EXCHANGE:
                        ctl.key_exchange = optarg;
                        break;
                case ARG_SIZE:
                        ctl.size = optarg;
                        break;
                case ARG_PATTERN:
                        ctl.pattern = optarg;
                        break;
                case ARG_CONTENT_KEY:
                        ctl.content_key = true;
                        break;
                case ARG_DATA:
                        ctl.data = optarg;
                        break;
                case ARG_PEM:
                        ctl.pem = true;
                        break;
                case ARG_DER:
                        ctl.der = true;
                        break;
                case ARG_KEY:
                        ctl.key = optarg;
                        break;
                case ARG_PNG:
                        ctl.png = optarg;
                        break;
                case ARG_FRAME:
                        ctl.frame = optarg;
                        break;
                default:
                        /* getopt said what was wrong. */
                        return keydctl_usage("see keydctl --help\n");
                }
        }

        if (optind >= argc) {
                if (want_help) {
                        help();
                        return 0;
                }
                return keydctl_usage("no command given; expected %s (see keydctl --help)\n", verb_list);
        }
        verb = find_verb(argv[optind]);
        if (!verb)
                return keydctl_usage("unknown command \"%s\"; expected %s (see keydctl --help)\n", argv[optind],
                                     verb_list);
        if (want_help) {
                verb_help(verb);
                return 0;
        }
        for (int arg = ARG_JSON; arg <= ARG_FRAME; arg++)
                if ((seen & OPT(arg)) && !(verb->options & OPT(arg)))
                        return keydctl_usage("%s does not take --%s (see keydctl %s --help)\n", verb->name,
                                             option_name(arg), verb->name);
        if (verb->argument && optind + 1 >= argc)
                return keydctl_usage("%s takes a %s argument (see keydctl %s --help)\n", verb->name, verb->argument,
                                     verb->name);
        if (!verb->argument && optind + 1 < argc)
                return keydctl_usage("%s takes no arguments, got \"%s\" (see keydctl %s --help)\n", verb->name,
                                     argv[optind + 1], verb->name);
        if (verb->argument && optind + 2 < argc)
                return keydctl_usage("%s takes one %s, got \"%s\" too (see keydctl %s --help)\n", verb->name,
                                     verb->argument, argv[optind + 2], verb->name);

        bus_address = ctl.address;
        return verb->run(&ctl, argc - optind, argv + optind);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        /* Output that never arrived is a failure, even of a command that
         * succeeded (a full disk under keydctl certificate >file). */
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "keydctl: cannot write to standard output: %m\n");
                if (r == 0)
                        r = -KEYDCTL_EXIT_FAILURE;
        }
        return -r;
}
