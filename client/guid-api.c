/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The public GUID helpers: HRESULT-shaped wrappers over common/guid.c, so
 * that the library and keyd parse and print GUIDs the same way. */

#include "error-map.h"
#include "guid.h"

_public_ HRESULT keyd_guid_from_string(const char *s, keyd_guid *ret) {
        keyd_clear_last_error();

        if (!s || !ret)
                return keyd_fail_null("keyd_guid_from_string", !s ? "the string" : "the result pointer");
        if (guid_parse(s, ret) < 0)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "keyd_guid_from_string: \"%.64s\" is not a GUID; expected "
                                           "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits, braces optional)",
                                           s);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_guid_to_string(const keyd_guid *guid, char *buf, size_t size) {
        keyd_clear_last_error();

        if (!guid || !buf)
                return keyd_fail_null("keyd_guid_to_string", !guid ? "the GUID" : "the buffer");
        if (size < KEYD_GUID_STRING_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "keyd_guid_to_string: buffer is %zu bytes; a GUID takes %d",
                                           size, KEYD_GUID_STRING_SIZE);
        guid_format(guid, buf);
        return KEYD_S_OK;
}

_public_ int keyd_guid_equal(const keyd_guid *a, const keyd_guid *b) {
        if (!a || !b)
                return a == b;
        return guid_equal(a, b);
}
