/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>

#include "bus-error.h"
#include "bus-guid.h"

/* "D3D11_KEY_EXCHANGE_RSAES_OAEP (c1949895-...), ..." for an error message. */
static void format_known(GuidKind kind, char *buf, size_t size) {
        static const keyd_guid *const all[] = {
                &KEYD_CRYPTO_TYPE_AES128_CTR,          &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256,  &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1,
                &KEYD_KEY_EXCHANGE_HW_PROTECTION,      &KEYD_DECODER_PROFILE_H264_VLD_NOFGT,
                &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN,   &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10,
                &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0, &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0,
        };
        size_t used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                const KnownGuid *k = known_guid_lookup(all[i], kind);
                char s[KEYD_GUID_STRING_SIZE];
                int n;

                if (!k)
                        continue;
                guid_format(k->guid, s);
                n = snprintf(buf + used, size - used, "%s%s (%s)", used ? ", " : "", k->name, s);
                if (n < 0 || (size_t) n >= size - used)
                        break;
                used += (size_t) n;
        }
}

int bus_parse_guid_arg(const char *arg_name, const char *value, GuidKind kind, bool allow_empty,
                       const KnownGuid **ret_known, sd_bus_error *error) {
        char expected[1024];
        const KnownGuid *k;
        keyd_guid g;

        if (isempty(value)) {
                if (!allow_empty) {
                        format_known(kind, expected, sizeof(expected));
                        return bus_error_setf(error, -EINVAL, "%s is empty; this call needs a %s GUID: %s",
                                              arg_name, guid_kind_to_string(kind), expected);
                }
                *ret_known = NULL;
                return 0;
        }

        if (guid_parse(value, &g) < 0)
                /* Quote at most 64 characters of what the caller sent. */
                return bus_error_setf(error, -EINVAL,
                                      "%s \"%.64s\" is not a GUID; expected the form "
                                      "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits, braces optional)",
                                      arg_name, value);

        k = known_guid_lookup(&g, kind);
        if (!k) {
                char s[KEYD_GUID_STRING_SIZE];

                guid_format(&g, s);
                format_known(kind, expected, sizeof(expected));
                return bus_error_setf(error, -EINVAL, "%s %s is not a %s keyd knows; expected one of: %s",
                                      arg_name, s, guid_kind_to_string(kind), expected);
        }

        *ret_known = k;
        return 0;
}

int bus_append_guid(sd_bus_message *reply, const keyd_guid *guid) {
        char s[KEYD_GUID_STRING_SIZE] = "";

        if (guid)
                guid_format(guid, s);
        return sd_bus_message_append(reply, "s", s);
}
