/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>

#include "keyd-error.h"
#include "macro.h"

static const KeydErrorInfo error_table[_KEYD_ERROR_MAX] = {
#define KEYD_ERROR_ENTRY(id, name, sym, hr, err, text) \
        [KEYD_ERROR_##id] = { KEYD_ERROR_PREFIX name, sym, hr, err, text },
        KEYD_ERROR_TABLE(KEYD_ERROR_ENTRY)
#undef KEYD_ERROR_ENTRY
};

const KeydErrorInfo *keyd_error_info(KeydError e) {
        if (e < 0 || e >= _KEYD_ERROR_MAX)
                return &error_table[KEYD_ERROR_FAILED];
        return &error_table[e];
}

KeydError keyd_error_from_errno(int errnum) {
        errnum = abs(errnum);

        /* Aliases first: errnos that mean the same thing to a caller. */
        switch (errnum) {
        case EDQUOT:
        case EUSERS:
                return KEYD_ERROR_OUT_OF_MEMORY;
        case EPERM:
                return KEYD_ERROR_ACCESS_DENIED;
        }

        for (KeydError e = 0; e < _KEYD_ERROR_MAX; e++)
                if (error_table[e].errnum == errnum)
                        return e;
        return KEYD_ERROR_FAILED;
}

int keyd_error_from_dbus_name(const char *name) {
        if (!name)
                return -ENOENT;
        for (KeydError e = 0; e < _KEYD_ERROR_MAX; e++)
                if (streq(error_table[e].dbus_name, name))
                        return e;
        return -ENOENT;
}

int keyd_error_from_hresult(uint32_t hresult) {
        for (KeydError e = 0; e < _KEYD_ERROR_MAX; e++)
                if (error_table[e].hresult == hresult)
                        return e;
        return -ENOENT;
}
