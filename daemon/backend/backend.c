/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#if ENABLE_VPL_BACKEND
#include "vpl/vpl-backend.h"
#endif

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

#if ENABLE_VPL_BACKEND
static int vpl_open(const BackendConfig *config, Backend **ret, char **reason) {
        return vpl_backend_open(config, ret, reason);
}
#else
static int vpl_open(const BackendConfig *config, Backend **ret, char **reason) {
        *reason = strdup("this keyd was built without the vpl backend (meson -Dvpl=disabled, or the libvpl, "
                         "libva or libdrm development files were missing)");
        return -EOPNOTSUPP;
}
#endif

int backend_open(BackendType type, const BackendConfig *config, Backend **ret) {
        _cleanup_free_ char *reason = NULL;
        int r;

        switch (type) {
        case BACKEND_SOFTWARE:
                return software_backend_open(config, ret);

        case BACKEND_VPL:
                /* Asked for by name: no fallback, the step that failed is the error. */
                r = vpl_open(config, ret, &reason);
                if (r < 0)
                        return log_error_errno(r, "Cannot use --backend=vpl: %s.", reason ?: "out of memory");
                return r;

        case BACKEND_AUTO:
                r = vpl_open(config, ret, &reason);
                if (r >= 0)
                        return r;
                log_info("Backend auto: not using vpl (%s); using the software backend.",
                         reason ?: "out of memory");
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
