/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Finding the oneVPL runtime with the 2.x dispatcher: MFXLoad, filters for
 * a hardware implementation through VA-API from Intel (vendor 0x8086), and
 * what the first implementation that passes says about itself
 * (MFXEnumImplementations). An implementation name narrows the choice
 * further; keyd's tests use it (--vpl-implementation=) to be sure they get
 * their own test runtime and never an installed libmfx-gen.
 *
 * Only run with keyd's test runtime (tests/gpu/), through the real libvpl
 * 2023.1 dispatcher; never with Intel's libmfx-gen on a GPU. */

#include <inttypes.h>
#include <stdlib.h>
#include <vpl/mfxdispatcher.h>

#include "log.h"
#include "vpl-backend.h"

#define INTEL_VENDOR_ID 0x8086u

const char *vpl_mfx_status_to_string(mfxStatus st) {
        switch (st) {
        case MFX_ERR_NONE:
                return "no error";
        case MFX_ERR_NULL_PTR:
                return "MFX_ERR_NULL_PTR";
        case MFX_ERR_UNSUPPORTED:
                return "MFX_ERR_UNSUPPORTED";
        case MFX_ERR_MEMORY_ALLOC:
                return "MFX_ERR_MEMORY_ALLOC";
        case MFX_ERR_INVALID_HANDLE:
                return "MFX_ERR_INVALID_HANDLE";
        case MFX_ERR_NOT_INITIALIZED:
                return "MFX_ERR_NOT_INITIALIZED";
        case MFX_ERR_NOT_FOUND:
                return "MFX_ERR_NOT_FOUND";
        case MFX_ERR_DEVICE_LOST:
                return "MFX_ERR_DEVICE_LOST";
        case MFX_ERR_UNDEFINED_BEHAVIOR:
                return "MFX_ERR_UNDEFINED_BEHAVIOR";
        case MFX_ERR_DEVICE_FAILED:
                return "MFX_ERR_DEVICE_FAILED";
        case MFX_ERR_NOT_IMPLEMENTED:
                return "MFX_ERR_NOT_IMPLEMENTED";
        case MFX_ERR_UNKNOWN:
                return "MFX_ERR_UNKNOWN";
        default:
                return "an mfxStatus keyd does not name";
        }
}

/* One filter per configuration object, as the dispatcher's examples do. */
static int add_filter(VplRuntime *rt, const char *property, mfxVariantType type, mfxVariant value, char **reason) {
        mfxConfig config;
        mfxStatus st;

        config = MFXCreateConfig(rt->loader);
        if (!config)
                return vpl_reason(reason, -ENOMEM, "no Intel oneVPL runtime: the oneVPL dispatcher cannot create a "
                                                   "configuration (MFXCreateConfig)");
        value.Version.Version = MFX_VARIANT_VERSION;
        value.Type = type;
        st = MFXSetConfigFilterProperty(config, (const mfxU8 *) property, value);
        if (st != MFX_ERR_NONE)
                return vpl_reason(reason, -EIO,
                                  "no Intel oneVPL runtime: the oneVPL dispatcher does not take the filter %s (%s)",
                                  property, vpl_mfx_status_to_string(st));
        return 0;
}

static int add_u32_filter(VplRuntime *rt, const char *property, uint32_t v, char **reason) {
        mfxVariant value = { .Data.U32 = v };
        return add_filter(rt, property, MFX_VARIANT_TYPE_U32, value, reason);
}

static int add_filters(VplRuntime *rt, const char *impl_name, char **reason) {
        int r;

        r = add_u32_filter(rt, "mfxImplDescription.Impl", MFX_IMPL_TYPE_HARDWARE, reason);
        if (r >= 0)
                r = add_u32_filter(rt, "mfxImplDescription.AccelerationMode", MFX_ACCEL_MODE_VIA_VAAPI, reason);
        if (r >= 0)
                r = add_u32_filter(rt, "mfxImplDescription.VendorID", INTEL_VENDOR_ID, reason);
        if (r >= 0 && impl_name) {
                /* The dispatcher keeps the pointer: the string lives in rt until MFXUnload. */
                rt->filter_name = strdup(impl_name);
                if (!rt->filter_name)
                        return -ENOMEM;
                mfxVariant value = { .Data.Ptr = rt->filter_name };
                r = add_filter(rt, "mfxImplDescription.ImplName", MFX_VARIANT_TYPE_PTR, value, reason);
        }
        return r;
}

static void copy_field(char *dst, size_t dst_size, const char *src, size_t src_size) {
        size_t n = strnlen(src, MIN(src_size, dst_size - 1));

        memcpy(dst, src, n);
        dst[n] = 0;
}

int vpl_runtime_discover(const char *impl_name, VplRuntime *ret, char **reason) {
        VplRuntime rt = {};
        mfxImplDescription *desc = NULL;
        mfxStatus st;
        int r;

        rt.loader = MFXLoad();
        if (!rt.loader)
                return vpl_reason(reason, -ENOMEM, "no Intel oneVPL runtime: MFXLoad failed (out of memory)");

        r = add_filters(&rt, impl_name, reason);
        if (r < 0) {
                vpl_runtime_unload(&rt);
                return r;
        }

        st = MFXEnumImplementations(rt.loader, 0, MFX_IMPLCAPS_IMPLDESCSTRUCTURE, (mfxHDL *) &desc);
        if (st != MFX_ERR_NONE || !desc) {
                r = vpl_reason(reason, -ENODEV,
                               "no Intel oneVPL runtime: the oneVPL dispatcher offers no hardware VA-API "
                               "implementation from vendor 0x8086%s%s%s (install libmfx-gen1.2, Intel's "
                               "vpl-gpu-rt, for Gen12 and later GPUs)",
                               impl_name ? " named \"" : "", impl_name ?: "", impl_name ? "\"" : "");
                vpl_runtime_unload(&rt);
                return r;
        }

        rt.index = 0;
        rt.api_version = desc->ApiVersion;
        copy_field(rt.name, sizeof(rt.name), desc->ImplName, sizeof(desc->ImplName));
        copy_field(rt.device_id, sizeof(rt.device_id), desc->Dev.DeviceID, sizeof(desc->Dev.DeviceID));
        (void) MFXDispReleaseImplDescription(rt.loader, desc);

        log_debug("vpl: oneVPL runtime \"%s\", API %u.%u, device %s.", rt.name, rt.api_version.Major,
                  rt.api_version.Minor, rt.device_id[0] ? rt.device_id : "unnamed");
        *ret = rt;
        return 0;
}

void vpl_runtime_unload(VplRuntime *rt) {
        if (rt->loader)
                MFXUnload(rt->loader);
        rt->loader = NULL;
        free(rt->filter_name);
        rt->filter_name = NULL;
}
