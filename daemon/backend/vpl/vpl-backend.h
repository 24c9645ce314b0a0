/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The vpl backend: GPU protected sessions on Intel hardware through
 * VA-API's protected-content API (libva 1.11+) and the oneVPL 2.x
 * dispatcher.
 *
 * What has been run where: this code has only ever run against keyd's own
 * test doubles (tests/gpu/: a test oneVPL runtime and a test VA driver,
 * loaded by the real libvpl dispatcher and the real libva). It has NOT been
 * run on an Intel GPU; the machine it was written on has none. Behaviour
 * that only real hardware could confirm is marked "not verified on
 * hardware" where it matters.
 *
 * The files, one concern each:
 *   vpl-render-node.c  which /dev/dri/renderD* to use, its kernel driver, i915 PXP status
 *   vpl-va.c           the VA display, what its protected-content entry points offer
 *   vpl-va-session.c   one VA protected session per crypto session; vaProtectedSessionExecute
 *   vpl-discovery.c    the oneVPL loader, its filters, the implementation it offers
 *   vpl-mfx-session.c  oneVPL sessions holding the VA display and the PXP context
 *   vpl-caps.c         D3D11 capabilities derived from what VA-API reported
 *   vpl-backend.c      BackendOps, and the start-up sequence that names the failing step */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <va/va.h>
#include <va/va_prot.h>
#include <vpl/mfx.h>

#include "backend/backend.h"
#include "macro.h"

/* Every step of vpl_backend_open() that can fail says which step it was in
 * *reason, one sentence, no trailing period; backend.c logs it once. */
int vpl_backend_open(const BackendConfig *config, Backend **ret, char **reason);

int vpl_reason(char **reason, int r, const char *fmt, ...) _printf_(3, 4);

/* ---- the render node (vpl-render-node.c) ---- */

typedef struct VplRenderNode {
        int fd;
        char *path;
        char *driver;          /* kernel driver from sysfs ("i915", "xe"), or NULL if sysfs does not say */
} VplRenderNode;

/* path NULL: the first /dev/dri/renderD* whose kernel driver is i915 or xe. */
int vpl_render_node_open(const char *path, VplRenderNode *ret, char **reason);
/* On i915, ask the kernel whether PXP is usable (I915_PARAM_PXP_STATUS). */
int vpl_render_node_check_pxp(const VplRenderNode *node, char **reason);
void vpl_render_node_close(VplRenderNode *node);

/* ---- the VA display and its protected-content capabilities (vpl-va.c) ---- */

/* The D3D11 decoder profiles keyd knows, as bits of VplVaCaps.decoders. */
typedef enum VplDecoder {
        VPL_DECODER_H264,
        VPL_DECODER_HEVC_MAIN,
        VPL_DECODER_HEVC_MAIN10,
        VPL_DECODER_VP9_PROFILE0,
        VPL_DECODER_AV1_PROFILE0,
        _VPL_DECODER_MAX,
        _VPL_DECODER_INVALID = -EINVAL,
} VplDecoder;

typedef struct VplVaCaps {
        bool tee_comm;            /* VAEntrypointProtectedTEEComm on VAProfileProtected */
        bool protected_content;   /* VAEntrypointProtectedContent on VAProfileProtected */
        /* VAConfigAttribProtectedContent* of the ProtectedContent entry point, as bit sets */
        uint32_t cipher_algorithms;   /* VA_PC_CIPHER_* */
        uint32_t cipher_block_sizes;  /* VA_PC_BLOCK_SIZE_* */
        uint32_t cipher_modes;        /* VA_PC_CIPHER_MODE_* */
        uint32_t sample_types;        /* VA_PC_SAMPLE_TYPE_* */
        uint32_t decoders;            /* 1 << VplDecoder for each profile with a VLD entry point */
} VplVaCaps;

typedef struct VplVa {
        VADisplay display;
        int major, minor;
        char *vendor;             /* vaQueryVendorString, for the log */
        VplVaCaps caps;
} VplVa;

int vpl_va_open(const VplRenderNode *node, VplVa *ret, char **reason);
/* Reads VAProfileProtected's entry points and attributes and the decoders. */
int vpl_va_query_caps(VplVa *va, char **reason);
void vpl_va_close(VplVa *va);

/* ---- VA protected sessions (vpl-va-session.c) ---- */

typedef struct VplProtectedSession {
        VAConfigID config;
        VAProtectedSessionID id;
        VAEntrypoint entrypoint;
} VplProtectedSession;

#define VPL_PROTECTED_SESSION_NULL \
        ((VplProtectedSession) { .config = VA_INVALID_ID, .id = VA_INVALID_ID })

/* entrypoint: VAEntrypointProtectedTEEComm or VAEntrypointProtectedContent
 * (then with the AES-128-CTR attributes from caps). */
int vpl_protected_session_create(VplVa *va, VAEntrypoint entrypoint, VplProtectedSession *ret, char **reason);
/* vaDestroyProtectedSession + vaDestroyConfig; safe on a NULL session. */
void vpl_protected_session_destroy(VplVa *va, VplProtectedSession *ps);
int vpl_protected_session_execute(VplVa *va, VplProtectedSession *ps, const HwProtectionCall *call,
                                  HwProtectionResult *ret, sd_bus_error *error);
/* An errno for a VAStatus, so the client gets the HRESULT that fits. */
int vpl_va_status_to_errno(VAStatus status);

/* ---- oneVPL (vpl-discovery.c, vpl-mfx-session.c) ---- */

typedef struct VplRuntime {
        mfxLoader loader;
        char *filter_name;            /* --vpl-implementation=, kept alive for the dispatcher */
        uint32_t index;               /* the implementation MFXCreateSession is asked for */
        char name[MFX_IMPL_NAME_LEN + 1];
        char device_id[MFX_STRFIELD_LEN + 1];
        mfxVersion api_version;
} VplRuntime;

/* impl_name NULL: any implementation that passes the hardware/VA-API/Intel filters. */
int vpl_runtime_discover(const char *impl_name, VplRuntime *ret, char **reason);
void vpl_runtime_unload(VplRuntime *rt);
const char *vpl_mfx_status_to_string(mfxStatus st);

/* What MFX_HANDLE_PXP_CONTEXT points to. The libvpl 2023.1 headers define
 * the handle type (10) but not this structure: vpl-gpu-rt declares it in its
 * own header, with the VA protected session handle as its first member and
 * per-component configuration (decode/encode/VPP context ids, parameter
 * maps) after it, which the runtime fills in itself when a component is
 * initialised. keyd sets the first member and hands zeroed room for the
 * rest; the room is larger than the runtime's structure of 2023. Not
 * verified on hardware. */
typedef struct VplPxpContext {
        void *protected_session;      /* the VAProtectedSessionID, widened to a handle */
        uint8_t runtime_owned[248];
} VplPxpContext;

typedef struct VplMfxSession {
        mfxSession session;
        VplPxpContext *pxp;           /* handed to the runtime; lives as long as the session */
} VplMfxSession;

/* MFXCreateSession + SetHandle(MFX_HANDLE_VA_DISPLAY) and, when ps is not
 * NULL, SetHandle(MFX_HANDLE_PXP_CONTEXT). */
int vpl_mfx_session_open(VplRuntime *rt, VplVa *va, const VplProtectedSession *ps, VplMfxSession *ret,
                         char **reason);
/* MFXClose; safe on a session never opened. */
void vpl_mfx_session_close(VplMfxSession *ms);

/* ---- capabilities (vpl-caps.c) ---- */

VplDecoder vpl_decoder_from_guid(const keyd_guid *profile);
const char *vpl_decoder_to_string(VplDecoder d);
/* The VA profile that must have a VLD entry point for the decoder. */
VAProfile vpl_decoder_va_profile(VplDecoder d);
/* Block alignment in bytes from the cipher block sizes, 0 if none is known. */
uint32_t vpl_caps_block_alignment(const VplVaCaps *caps);
/* D3D11_CONTENT_PROTECTION_CAPS_* for AES-128-CTR on this driver; hw_protection:
 * whether HW_PROTECTION is offered here (HARDWARE_DRM_COMMUNICATION). */
uint32_t vpl_caps_content_protection(const VplVaCaps *caps, bool hw_protection);
/* Whether AES-128-CTR content can be decrypted by the ProtectedContent entry point. */
bool vpl_caps_aes128_ctr(const VplVaCaps *caps);
/* "AES", "CBC|CTR" and so on, for messages. */
const char *vpl_caps_algorithms_to_string(uint32_t algorithms, char buf[static 64]);
const char *vpl_caps_modes_to_string(uint32_t modes, char buf[static 64]);
