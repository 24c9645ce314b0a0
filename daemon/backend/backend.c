/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "backend.h"
#include "config.h"
#include "log.h"

static const char *const backend_type_table[_BACKEND_TYPE_MAX] = {
        [BACKEND_AUTO] = "auto",
        [BACKEND_SOFTWARE] = "software",
        [BACKEND_VPL] = "vpl",
};

const char *backend_type_to_string(BackendType t) {
        if (t < 0 || t >= _BACKEND_TYPE_MAX)
                return NULL;
        return backend_type_table[t];
}

BackendType backend_type_from_string(const char *s) {
        for (BackendType t = 0; t < _BACKEND_TYPE_MAX; t++)
                if (streq_ptr(s, backend_type_table[t]))
                        return t;
        return _BACKEND_TYPE_INVALID;
}

/* The GPU backend arrives with its own issue; until then it says so. */
static int vpl_backend_open_unavailable(const char **reason) {
        *reason = "the vpl backend (oneVPL + VA-API protected sessions) is not built into this keyd yet";
        return -EOPNOTSUPP;
}

int backend_open(BackendType type, const BackendConfig *config, Backend **ret) {
        const char *reason = NULL;
        int r;

        switch (type) {
        case BACKEND_SOFTWARE:
                return software_backend_open(config, ret);

        case BACKEND_VPL:
                r = vpl_backend_open_unavailable(&reason);
                return log_error_errno(r, "Cannot use --backend=vpl: %s.", reason);

        case BACKEND_AUTO:
                r = vpl_backend_open_unavailable(&reason);
                log_info("Backend auto: not using vpl (%s); using the software backend.", reason);
                return software_backend_open(config, ret);

        default:
                return -EINVAL;
        }
}

Backend *backend_free(Backend *b) {
        if (b)
                b->ops->free(b);
        return NULL;
}
