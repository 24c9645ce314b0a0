/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stdio.h>

#include "bus-error.h"

static const sd_bus_error_map keyd_bus_error_map[] = {
#define KEYD_ERROR_MAP_ENTRY(id, name, sym, hr, err, text) SD_BUS_ERROR_MAP(KEYD_ERROR_PREFIX name, err),
        KEYD_ERROR_TABLE(KEYD_ERROR_MAP_ENTRY)
#undef KEYD_ERROR_MAP_ENTRY
        SD_BUS_ERROR_MAP_END
};

int bus_error_register_map(void) {
        return sd_bus_error_add_map(keyd_bus_error_map);
}

int bus_error_setf(sd_bus_error *error, int r, const char *fmt, ...) {
        const KeydErrorInfo *info = keyd_error_info(keyd_error_from_errno(r));
        char sentence[1024];
        va_list ap;

        if (r >= 0)
                r = -EIO;

        /* An earlier, more precise error wins. */
        if (!error || sd_bus_error_is_set(error))
                return r;

        va_start(ap, fmt);
        (void) vsnprintf(sentence, sizeof(sentence), fmt, ap);
        va_end(ap);

        (void) sd_bus_error_setf(error, info->dbus_name, "0x%08X: %s", info->hresult, sentence);
        return r;
}
