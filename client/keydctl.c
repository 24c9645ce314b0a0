/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl: look at keyd and try it out from the command line. */

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "guid.h"
#include "keydctl.h"
#include "macro.h"

int keydctl_fail(HRESULT hr, const char *what) {
        const char *message = keyd_last_error_message();

        fprintf(stderr, "keydctl: %s: 0x%08" PRIX32 " %s: %s\n", what, (uint32_t) hr,
                keyd_hresult_to_string(hr), keyd_hresult_to_description(hr));
        if (!isempty(message))
                fprintf(stderr, "keydctl: %s\n", message);
        return -1;
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
        if (streq(s, "none")) {
                *ret = NULL;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(profile_names); i++)
                if (streq(s, profile_names[i].name)) {
                        *ret = profile_names[i].guid;
                        return 0;
                }
        if (KEYD_FAILED(keyd_guid_from_string(s, buf))) {
                fprintf(stderr, "keydctl: --profile=%s: expected a GUID or one of none, h264, hevc, "
                        "hevc10, vp9, av1\n", s);
                return -1;
        }
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

static const struct {
        uint32_t flag;
        const char *name;
} caps_names[] = {
        { KEYD_CONTENT_PROTECTION_CAPS_SOFTWARE, "SOFTWARE" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE, "HARDWARE" },
        { KEYD_CONTENT_PROTECTION_CAPS_PROTECTION_ALWAYS_ON, "PROTECTION_ALWAYS_ON" },
        { KEYD_CONTENT_PROTECTION_CAPS_PARTIAL_DECRYPTION, "PARTIAL_DECRYPTION" },
        { KEYD_CONTENT_PROTECTION_CAPS_CONTENT_KEY, "CONTENT_KEY" },
        { KEYD_CONTENT_PROTECTION_CAPS_FRESHEN_SESSION_KEY, "FRESHEN_SESSION_KEY" },
        { KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK, "ENCRYPTED_READ_BACK" },
        { KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK_KEY, "ENCRYPTED_READ_BACK_KEY" },
        { KEYD_CONTENT_PROTECTION_CAPS_SEQUENTIAL_CTR_IV, "SEQUENTIAL_CTR_IV" },
        { KEYD_CONTENT_PROTECTION_CAPS_ENCRYPT_SLICEDATA_ONLY, "ENCRYPT_SLICEDATA_ONLY" },
        { KEYD_CONTENT_PROTECTION_CAPS_DECRYPTION_BLT, "DECRYPTION_BLT" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_PROTECT_UNCOMPRESSED, "HARDWARE_PROTECT_UNCOMPRESSED" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_PROTECTED_MEMORY_PAGEABLE,
          "HARDWARE_PROTECTED_MEMORY_PAGEABLE" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_TEARDOWN, "HARDWARE_TEARDOWN" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_DRM_COMMUNICATION, "HARDWARE_DRM_COMMUNICATION" },
};

static void print_caps(uint32_t caps) {
        uint32_t known = 0;

        printf("Caps:                  0x%08" PRIx32, caps);
        for (size_t i = 0; i < ELEMENTSOF(caps_names); i++) {
                known |= caps_names[i].flag;
                if (caps & caps_names[i].flag)
                        printf(" %s", caps_names[i].name);
        }
        if (caps & ~known)
                printf(" (unknown bits 0x%08" PRIx32 ")", caps & ~known);
        printf("\n");
}

static const struct option profile_option[] = {
        { "profile", required_argument, NULL, 'p' },
        {},
};

static int verb_caps(const Keydctl *ctl, int argc, char *argv[]) {
        keyd_guid profile_buf, key_exchange;
        const keyd_guid *profile = NULL;
        keyd_content_protection_caps caps;
        char s[KEYD_GUID_STRING_SIZE];
        keyd_client *client;
        HRESULT hr;
        int c, r = 0;

        optind = 0;
        while ((c = getopt_long(argc, argv, "", profile_option, NULL)) >= 0) {
                if (c != 'p')
                        return -1;
                if (keydctl_parse_profile(optarg, &profile_buf, &profile) < 0)
                        return -1;
        }
        if (optind < argc) {
                fprintf(stderr, "keydctl: caps takes no arguments, got \"%s\"\n", argv[optind]);
                return -1;
        }

        if (keydctl_open_client(ctl, &client) < 0)
                return -1;

        hr = keyd_get_content_protection_caps(client, &KEYD_CRYPTO_TYPE_AES128_CTR, profile, &caps);
        if (KEYD_FAILED(hr)) {
                r = keydctl_fail(hr, "GetContentProtectionCaps failed");
                goto finish;
        }

        printf("Crypto type:           %s\n", keydctl_guid_name(&KEYD_CRYPTO_TYPE_AES128_CTR, s));
        printf("Decoder profile:       %s\n", profile ? keydctl_guid_name(profile, s) : "none");
        print_caps(caps.Caps);
        printf("Key exchange types:    %" PRIu32 "\n", caps.KeyExchangeTypeCount);
        for (uint32_t i = 0; i < caps.KeyExchangeTypeCount; i++) {
                hr = keyd_check_crypto_key_exchange(client, &KEYD_CRYPTO_TYPE_AES128_CTR, profile, i,
                                                    &key_exchange);
                if (KEYD_FAILED(hr)) {
                        r = keydctl_fail(hr, "CheckCryptoKeyExchange failed");
                        goto finish;
                }
                (void) keyd_guid_to_string(&key_exchange, s, sizeof(s));
                printf("  %2" PRIu32 ": %s", i, s);
                const char *name = keydctl_guid_name(&key_exchange, s);
                if (name != s)
                        printf(" %s", name);
                printf("\n");
        }
        printf("Block alignment size:  %" PRIu32 "\n", caps.BlockAlignmentSize);
        printf("Protected memory size: %" PRIu64 " bytes\n", caps.ProtectedMemorySize);

finish:
        keyd_client_close(client);
        return r;
}

static void help(void) {
        printf("keydctl [OPTIONS...] COMMAND ...\n"
               "\n"
               "Query and exercise keyd, the protected-video key broker (org.keyd.KeyBroker1).\n"
               "\n"
               "Commands:\n"
               "  caps [--profile=P]           Show the content protection caps for AES128-CTR\n"
               "                               and the key exchange types keyd offers\n"
               "  negotiate [--key-exchange=sha512|sha256|sha1] [--profile=P]\n"
               "                               Create a session, wrap a random session key to its\n"
               "                               certificate, negotiate it, check status, release\n"
               "  roundtrip [--size=N] [--pattern=C:S:E] [--content-key] [--key-exchange=...]\n"
               "                               Negotiate a key, decrypt a buffer encrypted here into\n"
               "                               a surface, read it back with EncryptionBlt, check it\n"
               "                               byte for byte and show the throughput\n"
               "  sessions                     List the sessions keyd holds\n"
               "\n"
               "Options:\n"
               "  -h --help                    Show this help\n"
               "     --version                 Show the version\n"
               "     --address=ADDRESS         Use the bus at this D-Bus address instead of the\n"
               "                               system bus (e.g. unix:path=/tmp/bus)\n"
               "     --timeout=SEC             How long to wait for keyd (default %llu s)\n"
               "\n"
               "P is a decoder profile GUID or one of none, h264, hevc, hevc10, vp9, av1.\n",
               KEYD_DEFAULT_TIMEOUT_USEC / 1000000ULL);
}

static int parse_timeout(const char *s, uint64_t *ret) {
        char *end;
        double sec;

        errno = 0;
        sec = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(sec) || sec <= 0 || sec > 86400.0 * 365) {
                fprintf(stderr, "keydctl: --timeout=%s: expected a positive number of seconds\n", s);
                return -1;
        }
        *ret = (uint64_t) (sec * 1e6);
        if (*ret == 0)
                *ret = 1;
        return 0;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_ADDRESS, ARG_TIMEOUT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "address", required_argument, NULL, ARG_ADDRESS },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                {},
        };
        static const struct {
                const char *name;
                int (*run)(const Keydctl *ctl, int argc, char *argv[]);
        } verbs[] = {
                { "caps", verb_caps },
                { "negotiate", verb_negotiate },
                { "roundtrip", verb_roundtrip },
                { "sessions", verb_sessions },
        };
        Keydctl ctl = {};
        const char *verb;
        int c;

        /* "+": options after the command belong to the command. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("keydctl %s\n", KEYD_VERSION);
                        return EXIT_SUCCESS;
                case ARG_ADDRESS:
                        ctl.address = optarg;
                        break;
                case ARG_TIMEOUT:
                        if (parse_timeout(optarg, &ctl.timeout_usec) < 0)
                                return EXIT_FAILURE;
                        break;
                default:
                        fprintf(stderr, "keydctl: see keydctl --help\n");
                        return EXIT_FAILURE;
                }

        if (optind >= argc) {
                fprintf(stderr, "keydctl: no command given; expected caps, negotiate, roundtrip or sessions "
                        "(see keydctl --help)\n");
                return EXIT_FAILURE;
        }
        verb = argv[optind];

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verb, verbs[i].name))
                        return verbs[i].run(&ctl, argc - optind, argv + optind) < 0 ? EXIT_FAILURE
                                                                                    : EXIT_SUCCESS;

        fprintf(stderr, "keydctl: unknown command \"%s\"; expected caps, negotiate, roundtrip or sessions\n", verb);
        return EXIT_FAILURE;
}
