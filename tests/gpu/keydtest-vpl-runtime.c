/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libvpl-keydtest.so: a oneVPL runtime for keyd's tests, loaded by the real
 * libvpl dispatcher from ONEVPL_SEARCH_PATH (it loads runtimes named
 * libvpl*.so*). It is no GPU and decodes nothing: it describes itself as a
 * hardware VA-API implementation from Intel (vendor 0x8086) named
 * KEYDTEST_IMPL_NAME, so that keyd's filters pass it and keyd's tests select
 * it by name (--vpl-implementation=), never an installed libmfx-gen.
 *
 * It records what keyd does with its sessions, one line per event, in the
 * file $KEYDTEST_RUNTIME_LOG:
 *   open <n>                                 MFXInitialize made session n
 *   va_display <n> <vendor string>           SetHandle(MFX_HANDLE_VA_DISPLAY); the vendor is
 *                                            asked of the display with vaQueryVendorString,
 *                                            so a line means a live VA display
 *   pxp_context <n> <protected session id>   SetHandle(MFX_HANDLE_PXP_CONTEXT): the first
 *                                            member of the context keyd handed over
 *   close <n>                                MFXClose
 * Switch: KEYDTEST_RUNTIME_REJECT_PXP=1 refuses MFX_HANDLE_PXP_CONTEXT
 * (MFX_ERR_INVALID_HANDLE), like a runtime built without protected content.
 *
 * The dispatcher lists an API 2.0 runtime only if it exports the 2.x entry
 * points below, and creates a session on it only if it also exports every
 * 1.x entry point: 47 in all. The ones keyd never calls answer
 * MFX_ERR_UNSUPPORTED. */

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <va/va.h>

/* Everything declared by the headers is this library's interface. */
#pragma GCC visibility push(default)
#include <vpl/mfxvideo.h>
#include <vpl/mfximplcaps.h>
#pragma GCC visibility pop

#define KEYDTEST_IMPL_NAME "keydtest-runtime"
#define INTEL_VENDOR_ID 0x8086u
#define SESSION_MAGIC 0x6b657964u   /* "keyd" */

typedef struct TestSession {
        uint32_t magic;
        unsigned id;
} TestSession;

static unsigned next_session_id = 1;

static void record(const char *fmt, ...) {
        const char *path = getenv("KEYDTEST_RUNTIME_LOG");
        char line[512];
        va_list ap;
        int fd, n;

        if (!path || !*path)
                return;
        va_start(ap, fmt);
        n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof(line) - 2)
                n = (int) sizeof(line) - 2;
        line[n++] = '\n';

        /* One write per line with O_APPEND: lines never interleave. */
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        (void) !write(fd, line, (size_t) n);
        close(fd);
}

static TestSession *session_of(mfxSession session) {
        TestSession *s = (TestSession *) session;
        return s && s->magic == SESSION_MAGIC ? s : NULL;
}

/* ---- 2.x: description and initialisation ---- */

static mfxAccelerationMode accel_modes[] = { MFX_ACCEL_MODE_VIA_VAAPI };

static mfxImplDescription description = {
        .Version = { .Version = MFX_IMPLDESCRIPTION_VERSION },
        .Impl = MFX_IMPL_TYPE_HARDWARE,
        .AccelerationMode = MFX_ACCEL_MODE_VIA_VAAPI,
        .ApiVersion = { { .Minor = 0, .Major = 2 } },
        .ImplName = KEYDTEST_IMPL_NAME,
        .License = "LGPL-2.1-or-later",
        .Keywords = "keyd,test",
        .VendorID = INTEL_VENDOR_ID,
        .VendorImplID = 0,
        .Dev = { .Version = { .Version = MFX_DEVICEDESCRIPTION_VERSION }, .DeviceID = "0/0" },
        .Dec = { .Version = { .Version = MFX_DECODERDESCRIPTION_VERSION } },
        .Enc = { .Version = { .Version = MFX_ENCODERDESCRIPTION_VERSION } },
        .VPP = { .Version = { .Version = MFX_VPPDESCRIPTION_VERSION } },
        .AccelerationModeDescription = {
                .Version = { .Version = MFX_ACCELERATIONMODESCRIPTION_VERSION },
                .NumAccelerationModes = 1,
                .Mode = accel_modes,
        },
        .PoolPolicies = { .Version = { .Version = MFX_POOLPOLICYDESCRIPTION_VERSION } },
};

static mfxHDL descriptions[] = { &description };

mfxHDL *MFX_CDECL MFXQueryImplsDescription(mfxImplCapsDeliveryFormat format, mfxU32 *num_impls) {
        if (!num_impls || format != MFX_IMPLCAPS_IMPLDESCSTRUCTURE)
                return NULL;
        *num_impls = 1;
        return descriptions;
}

mfxStatus MFX_CDECL MFXReleaseImplDescription(mfxHDL hdl) {
        return hdl == descriptions ? MFX_ERR_NONE : MFX_ERR_NULL_PTR;
}

mfxStatus MFX_CDECL MFXInitialize(mfxInitializationParam par, mfxSession *session) {
        TestSession *s;

        if (!session)
                return MFX_ERR_NULL_PTR;
        if (par.AccelerationMode != MFX_ACCEL_MODE_VIA_VAAPI)
                return MFX_ERR_UNSUPPORTED;
        s = calloc(1, sizeof(*s));
        if (!s)
                return MFX_ERR_MEMORY_ALLOC;
        s->magic = SESSION_MAGIC;
        s->id = next_session_id++;
        record("open %u", s->id);
        *session = (mfxSession) s;
        return MFX_ERR_NONE;
}

mfxStatus MFX_CDECL MFXClose(mfxSession session) {
        TestSession *s = session_of(session);

        if (!s)
                return MFX_ERR_INVALID_HANDLE;
        record("close %u", s->id);
        s->magic = 0;
        free(s);
        return MFX_ERR_NONE;
}

mfxStatus MFX_CDECL MFXQueryIMPL(mfxSession session, mfxIMPL *impl) {
        if (!session_of(session) || !impl)
                return MFX_ERR_INVALID_HANDLE;
        *impl = MFX_IMPL_HARDWARE | MFX_IMPL_VIA_VAAPI;
        return MFX_ERR_NONE;
}

mfxStatus MFX_CDECL MFXQueryVersion(mfxSession session, mfxVersion *version) {
        if (!session_of(session) || !version)
                return MFX_ERR_INVALID_HANDLE;
        *version = description.ApiVersion;
        return MFX_ERR_NONE;
}

/* ---- the handles keyd sets ---- */

mfxStatus MFX_CDECL MFXVideoCORE_SetHandle(mfxSession session, mfxHandleType type, mfxHDL hdl) {
        TestSession *s = session_of(session);
        const char *reject = getenv("KEYDTEST_RUNTIME_REJECT_PXP");

        if (!s)
                return MFX_ERR_INVALID_HANDLE;
        if (!hdl)
                return MFX_ERR_NULL_PTR;

        switch (type) {
        case MFX_HANDLE_VA_DISPLAY: {
                const char *vendor = vaQueryVendorString((VADisplay) hdl);
                record("va_display %u %s", s->id, vendor ? vendor : "(none)");
                return vendor ? MFX_ERR_NONE : MFX_ERR_INVALID_HANDLE;
        }
        case MFX_HANDLE_PXP_CONTEXT:
                if (reject && strcmp(reject, "1") == 0)
                        return MFX_ERR_INVALID_HANDLE;
                /* The protected session handle is the context's first member. */
                record("pxp_context %u %lu", s->id, (unsigned long) (uintptr_t) * (void **) hdl);
                return MFX_ERR_NONE;
        default:
                return MFX_ERR_INVALID_HANDLE;
        }
}

/* ---- the rest of what the dispatcher demands ---- */

#define UNSUPPORTED(name, ...)                                  \
        mfxStatus MFX_CDECL name(__VA_ARGS__) {                 \
                return MFX_ERR_UNSUPPORTED;                     \
        }

UNSUPPORTED(MFXInit, mfxIMPL impl, mfxVersion *ver, mfxSession *session)
UNSUPPORTED(MFXInitEx, mfxInitParam par, mfxSession *session)
UNSUPPORTED(MFXJoinSession, mfxSession session, mfxSession child)
UNSUPPORTED(MFXDisjoinSession, mfxSession session)
UNSUPPORTED(MFXCloneSession, mfxSession session, mfxSession *clone)
UNSUPPORTED(MFXSetPriority, mfxSession session, mfxPriority priority)
UNSUPPORTED(MFXGetPriority, mfxSession session, mfxPriority *priority)
UNSUPPORTED(MFXVideoCORE_SetFrameAllocator, mfxSession session, mfxFrameAllocator *allocator)
UNSUPPORTED(MFXVideoCORE_GetHandle, mfxSession session, mfxHandleType type, mfxHDL *hdl)
UNSUPPORTED(MFXVideoCORE_QueryPlatform, mfxSession session, mfxPlatform *platform)
UNSUPPORTED(MFXVideoCORE_SyncOperation, mfxSession session, mfxSyncPoint syncp, mfxU32 wait)
UNSUPPORTED(MFXMemory_GetSurfaceForVPP, mfxSession session, mfxFrameSurface1 **surface)
UNSUPPORTED(MFXMemory_GetSurfaceForEncode, mfxSession session, mfxFrameSurface1 **surface)
UNSUPPORTED(MFXMemory_GetSurfaceForDecode, mfxSession session, mfxFrameSurface1 **surface)

UNSUPPORTED(MFXVideoENCODE_Query, mfxSession session, mfxVideoParam *in, mfxVideoParam *out)
UNSUPPORTED(MFXVideoENCODE_QueryIOSurf, mfxSession session, mfxVideoParam *par, mfxFrameAllocRequest *request)
UNSUPPORTED(MFXVideoENCODE_Init, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoENCODE_Reset, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoENCODE_Close, mfxSession session)
UNSUPPORTED(MFXVideoENCODE_GetVideoParam, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoENCODE_GetEncodeStat, mfxSession session, mfxEncodeStat *stat)
UNSUPPORTED(MFXVideoENCODE_EncodeFrameAsync, mfxSession session, mfxEncodeCtrl *ctrl, mfxFrameSurface1 *surface,
            mfxBitstream *bs, mfxSyncPoint *syncp)

UNSUPPORTED(MFXVideoDECODE_Query, mfxSession session, mfxVideoParam *in, mfxVideoParam *out)
UNSUPPORTED(MFXVideoDECODE_DecodeHeader, mfxSession session, mfxBitstream *bs, mfxVideoParam *par)
UNSUPPORTED(MFXVideoDECODE_QueryIOSurf, mfxSession session, mfxVideoParam *par, mfxFrameAllocRequest *request)
UNSUPPORTED(MFXVideoDECODE_Init, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoDECODE_Reset, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoDECODE_Close, mfxSession session)
UNSUPPORTED(MFXVideoDECODE_GetVideoParam, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoDECODE_GetDecodeStat, mfxSession session, mfxDecodeStat *stat)
UNSUPPORTED(MFXVideoDECODE_SetSkipMode, mfxSession session, mfxSkipMode mode)
UNSUPPORTED(MFXVideoDECODE_GetPayload, mfxSession session, mfxU64 *ts, mfxPayload *payload)
UNSUPPORTED(MFXVideoDECODE_DecodeFrameAsync, mfxSession session, mfxBitstream *bs, mfxFrameSurface1 *surface_work,
            mfxFrameSurface1 **surface_out, mfxSyncPoint *syncp)

UNSUPPORTED(MFXVideoVPP_Query, mfxSession session, mfxVideoParam *in, mfxVideoParam *out)
UNSUPPORTED(MFXVideoVPP_QueryIOSurf, mfxSession session, mfxVideoParam *par, mfxFrameAllocRequest request[2])
UNSUPPORTED(MFXVideoVPP_Init, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoVPP_Reset, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoVPP_Close, mfxSession session)
UNSUPPORTED(MFXVideoVPP_GetVideoParam, mfxSession session, mfxVideoParam *par)
UNSUPPORTED(MFXVideoVPP_GetVPPStat, mfxSession session, mfxVPPStat *stat)
UNSUPPORTED(MFXVideoVPP_RunFrameVPPAsync, mfxSession session, mfxFrameSurface1 *in, mfxFrameSurface1 *out,
            mfxExtVppAuxData *aux, mfxSyncPoint *syncp)
