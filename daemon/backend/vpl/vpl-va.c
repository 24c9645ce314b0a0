/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The VA display on keyd's render node, and what its driver offers for
 * protected content: the entry points of VAProfileProtected, the
 * VAConfigAttribProtectedContent* attributes of the ProtectedContent entry
 * point, and which of the decoders keyd knows have a VLD entry point.
 * Everything the vpl backend reports to clients is derived from these
 * answers (vpl-caps.c), not from constants.
 *
 * Only run against keyd's test VA driver (tests/gpu/), never against
 * Intel's iHD driver on a GPU. */

#include <stdlib.h>
#include <va/va_drm.h>

#include "log.h"
#include "vpl-backend.h"

/* libva talks on stderr by default. keyd's log says once, in its own words,
 * which step failed; libva's lines are detail for --log-level=debug. */
static void on_va_message(void *userdata, const char *message) {
        size_t n = strlen(message);

        while (n > 0 && message[n - 1] == '\n')
                n--;
        log_debug("libva: %.*s", (int) n, message);
}

int vpl_va_open(const VplRenderNode *node, VplVa *ret, char **reason) {
        VADisplay display;
        VAStatus st;
        int major = 0, minor = 0;
        const char *vendor;

        display = vaGetDisplayDRM(node->fd);
        if (!display)
                return vpl_reason(reason, -ENODEV, "no VA display: libva does not take %s for a DRM render node",
                                  node->path);

        (void) vaSetErrorCallback(display, on_va_message, NULL);
        (void) vaSetInfoCallback(display, on_va_message, NULL);

        st = vaInitialize(display, &major, &minor);
        if (st != VA_STATUS_SUCCESS) {
                const char *name = getenv("LIBVA_DRIVER_NAME");
                int r = vpl_reason(reason, -ENODEV,
                                   "no VA driver: vaInitialize failed (%s)%s%s%s; install Intel's media driver "
                                   "(iHD, package intel-media-va-driver-non-free)",
                                   vaErrorStr(st), name ? " with LIBVA_DRIVER_NAME=" : "", name ?: "",
                                   name ? " set" : "");
                (void) vaTerminate(display);
                return r;
        }

        vendor = vaQueryVendorString(display);
        *ret = (VplVa) {
                .display = display,
                .major = major,
                .minor = minor,
                .vendor = strdup(vendor ?: "unknown"),
        };
        if (!ret->vendor) {
                vpl_va_close(ret);
                return -ENOMEM;
        }
        log_debug("vpl: VA-API %d.%d, driver \"%s\".", major, minor, ret->vendor);
        return 0;
}

void vpl_va_close(VplVa *va) {
        if (va->display)
                (void) vaTerminate(va->display);
        va->display = NULL;
        free(va->vendor);
        va->vendor = NULL;
}

static bool has_profile(const VAProfile *profiles, int n, VAProfile p) {
        for (int i = 0; i < n; i++)
                if (profiles[i] == p)
                        return true;
        return false;
}

/* The entry points of profile p; a profile the driver does not know has none. */
static int query_entrypoints(VADisplay display, VAProfile p, VAEntrypoint **ret, int *ret_n) {
        int max = vaMaxNumEntrypoints(display), n = 0;
        _cleanup_free_ VAEntrypoint *list = NULL;
        VAStatus st;

        list = calloc(max > 0 ? (size_t) max : 1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        st = vaQueryConfigEntrypoints(display, p, list, &n);
        if (st == VA_STATUS_ERROR_UNSUPPORTED_PROFILE)
                n = 0;
        else if (st != VA_STATUS_SUCCESS)
                return -EIO;
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static bool has_entrypoint(const VAEntrypoint *list, int n, VAEntrypoint e) {
        for (int i = 0; i < n; i++)
                if (list[i] == e)
                        return true;
        return false;
}

static uint32_t attrib_value(const VAConfigAttrib *a) {
        return a->value == VA_ATTRIB_NOT_SUPPORTED ? 0 : a->value;
}

/* The cipher attributes of the ProtectedContent entry point. */
static int query_cipher_attributes(VplVa *va, char **reason) {
        VAConfigAttrib attribs[] = {
                { .type = VAConfigAttribProtectedContentCipherAlgorithm },
                { .type = VAConfigAttribProtectedContentCipherBlockSize },
                { .type = VAConfigAttribProtectedContentCipherMode },
                { .type = VAConfigAttribProtectedContentCipherSampleType },
        };
        VAStatus st;

        st = vaGetConfigAttributes(va->display, VAProfileProtected, VAEntrypointProtectedContent, attribs,
                                   (int) ELEMENTSOF(attribs));
        if (st != VA_STATUS_SUCCESS)
                return vpl_reason(reason, -EIO,
                                  "no protected-content attributes: vaGetConfigAttributes(VAProfileProtected, "
                                  "VAEntrypointProtectedContent) failed (%s)",
                                  vaErrorStr(st));

        va->caps.cipher_algorithms = attrib_value(&attribs[0]);
        va->caps.cipher_block_sizes = attrib_value(&attribs[1]);
        va->caps.cipher_modes = attrib_value(&attribs[2]);
        va->caps.sample_types = attrib_value(&attribs[3]);
        return 0;
}

/* Which decoders keyd knows have a VLD (decode) entry point here. */
static int query_decoders(VplVa *va, const VAProfile *profiles, int n_profiles) {
        for (VplDecoder d = 0; d < _VPL_DECODER_MAX; d++) {
                _cleanup_free_ VAEntrypoint *entrypoints = NULL;
                VAProfile p = vpl_decoder_va_profile(d);
                int n = 0, r;

                if (!has_profile(profiles, n_profiles, p))
                        continue;
                r = query_entrypoints(va->display, p, &entrypoints, &n);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0 && has_entrypoint(entrypoints, n, VAEntrypointVLD))
                        va->caps.decoders |= 1u << d;
        }
        return 0;
}

int vpl_va_query_caps(VplVa *va, char **reason) {
        _cleanup_free_ VAProfile *profiles = NULL;
        _cleanup_free_ VAEntrypoint *entrypoints = NULL;
        int max = vaMaxNumProfiles(va->display), n_profiles = 0, n = 0, r;
        char algorithms[64], modes[64];
        VAStatus st;

        profiles = calloc(max > 0 ? (size_t) max : 1, sizeof(*profiles));
        if (!profiles)
                return -ENOMEM;
        st = vaQueryConfigProfiles(va->display, profiles, &n_profiles);
        if (st != VA_STATUS_SUCCESS)
                return vpl_reason(reason, -EIO, "no VA profiles: vaQueryConfigProfiles failed (%s)", vaErrorStr(st));

        if (!has_profile(profiles, n_profiles, VAProfileProtected))
                return vpl_reason(reason, -ENODEV,
                                  "no protected-content entry point: the VA driver \"%s\" offers no "
                                  "VAProfileProtected (a media driver built without protected-content support)",
                                  va->vendor);

        r = query_entrypoints(va->display, VAProfileProtected, &entrypoints, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return vpl_reason(reason, r,
                                  "no protected-content entry point: vaQueryConfigEntrypoints(VAProfileProtected) "
                                  "failed");
        va->caps.tee_comm = has_entrypoint(entrypoints, n, VAEntrypointProtectedTEEComm);
        va->caps.protected_content = has_entrypoint(entrypoints, n, VAEntrypointProtectedContent);
        if (!va->caps.protected_content)
                return vpl_reason(reason, -ENODEV,
                                  "no protected-content entry point: the VA driver \"%s\" offers VAProfileProtected "
                                  "without VAEntrypointProtectedContent%s",
                                  va->vendor, va->caps.tee_comm ? " (only TEE communication)" : "");

        r = query_cipher_attributes(va, reason);
        if (r < 0)
                return r;
        if (!vpl_caps_aes128_ctr(&va->caps))
                return vpl_reason(reason, -ENODEV,
                                  "no AES-128-CTR: the VA driver's protected content offers cipher algorithms %s, "
                                  "modes %s and block sizes 0x%x; keyd needs AES, CTR and 128-bit blocks",
                                  vpl_caps_algorithms_to_string(va->caps.cipher_algorithms, algorithms),
                                  vpl_caps_modes_to_string(va->caps.cipher_modes, modes),
                                  va->caps.cipher_block_sizes);

        return query_decoders(va, profiles, n_profiles);
}
