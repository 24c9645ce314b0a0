/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer harness for guid_parse() / guid_format().
 *
 * Invariants checked on every input:
 * - guid_parse() accepts exactly the strings a plain, independent reading
 *   of the contract accepts (36 characters 8-4-4-4-12 of hex digits, any
 *   case, optionally inside one pair of braces), and nothing else;
 * - what it accepts formats back to 36 lowercase characters equal to the
 *   input lowercased without braces, and that parses to the same GUID;
 * - the known-GUID lookups are consistent with guid_equal(). */

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "guid.h"

/* The contract's grammar, written out independently of guid.c. */
static bool reference_is_guid(const char *s, size_t len) {
        static const char pattern[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

        if (len == 38) {
                if (s[0] != '{' || s[37] != '}')
                        return false;
                s++;
                len -= 2;
        }
        if (len != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (pattern[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}

static void check_known(const keyd_guid *g) {
        static const GuidKind kinds[] = { GUID_KIND_CRYPTO_TYPE, GUID_KIND_KEY_EXCHANGE,
                                          GUID_KIND_DECODER_PROFILE };

        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                const KnownGuid *k = known_guid_lookup(g, kinds[i]);
                if (!k)
                        continue;
                FUZZ_CHECK(k->kind == kinds[i]);
                FUZZ_CHECK(guid_equal(k->guid, g));
                FUZZ_CHECK(guid_kind_to_string(k->kind) != NULL);
                if (k->kind == GUID_KIND_KEY_EXCHANGE)
                        FUZZ_CHECK(known_guid_by_key_exchange((KeyExchange) k->value) == k);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char buf[KEYD_GUID_STRING_SIZE], *s;
        keyd_guid g, again;
        bool expected;
        size_t len;
        int r;

        /* guid_parse() takes a C string, as from the bus: the input up to its
         * first NUL. */
        s = strndup((const char *) data, size);
        FUZZ_CHECK(s);
        len = strlen(s);
        expected = reference_is_guid(s, len);

        memset(&g, 0xa5, sizeof(g));
        r = guid_parse(s, &g);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        FUZZ_CHECK((r == 0) == expected);

        if (r == 0) {
                const char *body = len == 38 ? s + 1 : s;

                guid_format(&g, buf);
                FUZZ_CHECK(strlen(buf) == 36);
                for (size_t i = 0; i < 36; i++) {
                        FUZZ_CHECK(!isupper((unsigned char) buf[i]));
                        FUZZ_CHECK(buf[i] == tolower((unsigned char) body[i]));
                }

                FUZZ_CHECK(guid_parse(buf, &again) == 0);
                FUZZ_CHECK(guid_equal(&g, &again));
                FUZZ_CHECK(memcmp(&g, &again, sizeof(g)) == 0);
                check_known(&g);
        }

        /* Any 16 bytes are a GUID: format, parse back, same GUID. */
        if (size >= sizeof(keyd_guid)) {
                memcpy(&g, data, sizeof(g));
                guid_format(&g, buf);
                FUZZ_CHECK(strlen(buf) == 36);
                FUZZ_CHECK(reference_is_guid(buf, 36));
                FUZZ_CHECK(guid_parse(buf, &again) == 0);
                FUZZ_CHECK(guid_equal(&g, &again));
                check_known(&g);
        }

        free(s);
        return 0;
}
