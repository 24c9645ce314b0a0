/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The vpl backend's BackendOps, and its start-up: each step either works or
 * says in one sentence why it did not (backend.c logs that sentence once,
 * then falls back to software for --backend=auto or stops for
 * --backend=vpl).
 *
 * The model on the GPU path: the session keys live in the GPU's TEE, not in
 * keyd. A crypto session is a VA protected session; the client talks to the
 * TEE with ExecuteHWProtectionFunction (D3D11_KEY_EXCHANGE_HW_PROTECTION),
 * and keyd passes function id, input, output and status through unchanged.
 * What keyd does NOT do on this backend, and says so to callers:
 *   - RSAES-OAEP key exchanges: VA-API offers no such exchange, so they are
 *     Unsupported here (the software backend serves them);
 *   - the daemon-side data path (DecryptionBlt/EncryptionBlt into keyd's
 *     surfaces, key refresh, the read-back key): on a GPU the plaintext goes
 *     into protected video memory attached to a decoder, never into keyd's
 *     memory, so these are NotImplemented. Sessions of this backend are all
 *     HW_PROTECTION sessions, which the session layer already refuses them
 *     (InvalidCall) before they get here.
 *
 * Only ever run against keyd's test runtime and test VA driver (tests/gpu/);
 * not run on Intel hardware. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus/bus-error.h"
#include "log.h"
#include "session/session.h"
#include "vpl-backend.h"

typedef struct VplBackend {
        Backend backend;
        VplRenderNode node;
        VplVa va;
        VplRuntime runtime;
} VplBackend;

/* Session.backend_data. It holds no key: the keys are in the GPU's TEE. */
typedef struct VplSession {
        VplProtectedSession protected_session;
        VplMfxSession mfx;          /* with a decoder profile only */
} VplSession;

static VplBackend *vpl(Backend *b) {
        return (VplBackend *) b;
}

int vpl_reason(char **reason, int r, const char *fmt, ...) {
        va_list ap;

        free(*reason);
        *reason = NULL;
        va_start(ap, fmt);
        if (vasprintf(reason, fmt, ap) < 0)
                *reason = NULL;
        va_end(ap);
        return r;
}

static void vpl_free(Backend *b) {
        VplBackend *vb = vpl(b);

        vpl_runtime_unload(&vb->runtime);
        vpl_va_close(&vb->va);
        vpl_render_node_close(&vb->node);
        free(vb);
}

static bool is_aes128_ctr(const keyd_guid *crypto_type) {
        return crypto_type && guid_equal(crypto_type, &KEYD_CRYPTO_TYPE_AES128_CTR);
}

/* Unsupported unless the driver decodes this profile (no profile: fine). */
static int check_decoder(VplBackend *vb, const keyd_guid *profile, sd_bus_error *error) {
        VplDecoder d;

        if (!profile)
                return 0;
        d = vpl_decoder_from_guid(profile);
        if (d < 0)
                return bus_error_setf(error, -EPROTONOSUPPORT,
                                      "the vpl backend knows no VA-API decoder for this decoder profile");
        if (!(vb->va.caps.decoders & (1u << d)))
                return bus_error_setf(error, -EPROTONOSUPPORT,
                                      "this GPU's VA driver has no %s decoder (VA profile %d with VAEntrypointVLD), "
                                      "so it cannot protect one",
                                      vpl_decoder_to_string(d), (int) vpl_decoder_va_profile(d));
        return 0;
}

/* Whether a session with (or without) a decoder profile gets a protected
 * session: ProtectedContent for a decoder, TEEComm for the TEE alone. */
static bool hw_protection_available(VplBackend *vb, const keyd_guid *profile) {
        return profile ? vb->va.caps.protected_content : vb->va.caps.tee_comm;
}

static int check_crypto_type(const keyd_guid *crypto_type, sd_bus_error *error) {
        /* Discovery refused a driver without AES-128-CTR, so the one crypto
         * type keyd knows is served whenever this backend runs. */
        if (!is_aes128_ctr(crypto_type))
                return bus_error_setf(error, -EPROTONOSUPPORT,
                                      "the vpl backend serves D3D11_CRYPTO_TYPE_AES128_CTR only");
        return 0;
}

static int vpl_get_caps(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile, BackendCaps *ret,
                        sd_bus_error *error) {
        VplBackend *vb = vpl(b);
        int r;

        r = check_decoder(vb, profile, error);
        if (r < 0)
                return r;

        /* keyd holds no protected memory for GPU sessions, and VA-API does
         * not report the GPU's: protected_memory_size is 0 on this backend. */
        if (!crypto_type) {
                *ret = (BackendCaps) {
                        .caps = KEYD_CONTENT_PROTECTION_CAPS_HARDWARE,
                        .key_exchange_type_count = 0,
                        .block_alignment_size = 1,
                };
                return 0;
        }
        r = check_crypto_type(crypto_type, error);
        if (r < 0)
                return r;

        *ret = (BackendCaps) {
                .caps = vpl_caps_content_protection(&vb->va.caps),
                .key_exchange_type_count = hw_protection_available(vb, profile) ? 1 : 0,
                .block_alignment_size = vpl_caps_block_alignment(&vb->va.caps),
        };
        return 0;
}

static int vpl_get_key_exchange(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                                uint32_t index, KeyExchange *ret, sd_bus_error *error) {
        VplBackend *vb = vpl(b);
        uint32_t count;
        int r;

        r = check_decoder(vb, profile, error);
        if (r < 0)
                return r;
        r = check_crypto_type(crypto_type, error);
        if (r < 0)
                return r;

        count = hw_protection_available(vb, profile) ? 1 : 0;
        if (index >= count)
                return bus_error_setf(error, -EINVAL,
                                      "index %" PRIu32 " is out of range; this device offers %" PRIu32
                                      " key exchange type%s here%s",
                                      index, count, count == 1 ? "" : "s", count == 1 ? ", index 0" : "");
        *ret = KEY_EXCHANGE_HW_PROTECTION;
        return 0;
}

static int vpl_check_support(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                             KeyExchange key_exchange, sd_bus_error *error) {
        VplBackend *vb = vpl(b);
        int r;

        r = check_crypto_type(crypto_type, error);
        if (r < 0)
                return r;
        r = check_decoder(vb, profile, error);
        if (r < 0)
                return r;

        if (key_exchange_is_rsaes_oaep(key_exchange))
                return bus_error_setf(error, -EPROTONOSUPPORT,
                                      "%s is not available on the vpl backend: the session key lives in the GPU's "
                                      "TEE and VA-API offers no RSAES-OAEP exchange; use "
                                      "D3D11_KEY_EXCHANGE_HW_PROTECTION, or run keyd with --backend=software",
                                      known_guid_by_key_exchange(key_exchange)->name);

        if (!hw_protection_available(vb, profile))
                return bus_error_setf(error, -EPROTONOSUPPORT,
                                      "this GPU's VA driver offers no VAEntrypointProtectedTEEComm for a session "
                                      "without a decoder profile; give the decoder profile the session protects");
        return 0;
}

static int vpl_get_private_data_size(Backend *b, KeyExchange key_exchange, uint32_t *ret_input,
                                     uint32_t *ret_output, sd_bus_error *error) {
        /* VAProtectedSessionExecuteBuffer has no driver-private header. */
        *ret_input = 0;
        *ret_output = 0;
        return 0;
}

static void vpl_session_close(Backend *b, Session *s) {
        VplBackend *vb = vpl(b);
        VplSession *vs = s->backend_data;

        /* The oneVPL session holds the PXP context of the protected session:
         * close it first, then the protected session and its config. */
        vpl_mfx_session_close(&vs->mfx);
        vpl_protected_session_destroy(&vb->va, &vs->protected_session);
        free(vs);
        s->backend_data = NULL;
}

static int vpl_session_open(Backend *b, Session *s, sd_bus_error *error) {
        VplBackend *vb = vpl(b);
        _cleanup_free_ char *reason = NULL;
        VplSession *vs;
        int r;

        if (s->key_exchange != KEY_EXCHANGE_HW_PROTECTION)
                return bus_error_setf(error, -EPROTONOSUPPORT, "the vpl backend serves HW_PROTECTION sessions only");

        vs = calloc(1, sizeof(*vs));
        if (!vs)
                return bus_error_setf(error, -ENOMEM, "out of memory for the session");
        vs->protected_session = VPL_PROTECTED_SESSION_NULL;
        s->backend_data = vs;

        r = vpl_protected_session_create(&vb->va,
                                         s->has_decoder_profile ? VAEntrypointProtectedContent
                                                                : VAEntrypointProtectedTEEComm,
                                         &vs->protected_session, &reason);
        if (r >= 0 && s->has_decoder_profile)
                r = vpl_mfx_session_open(&vb->runtime, &vb->va, &vs->protected_session, &vs->mfx, &reason);
        if (r < 0) {
                vpl_session_close(b, s);
                if (r == -ENOMEM && !reason)
                        return bus_error_setf(error, r, "out of memory creating the GPU session");
                return bus_error_setf(error, r, "%s; no session was created", reason ?: "unknown failure");
        }
        return 0;
}

static int vpl_get_certificate(Backend *b, Session *s, const uint8_t **ret, size_t *ret_size, sd_bus_error *error) {
        return bus_error_setf(error, -EOPNOTSUPP,
                              "the vpl backend has no certificate: RSAES-OAEP sessions are served by the software "
                              "backend only");
}

static int vpl_negotiate(Backend *b, Session *s, const uint8_t *data, size_t size, sd_bus_error *error) {
        return bus_error_setf(error, -EPROTONOSUPPORT,
                              "the vpl backend performs no RSAES-OAEP key exchange; use ExecuteHWProtectionFunction");
}

/* The data path of daemon-side surfaces is the software backend's. On the
 * GPU, decrypted content only ever lands in protected video memory bound
 * to a decoder context, which keyd's surfaces are not; pretending otherwise
 * would mean decrypting on the CPU behind the client's back. */
#define NOT_ON_GPU(method)                                                                              \
        bus_error_setf(error, -EOPNOTSUPP,                                                              \
                       method " is not implemented on the vpl backend: the GPU decrypts into protected " \
                       "video memory attached to a decoder, not into keyd's surfaces")

static int vpl_start_key_refresh(Backend *b, Session *s, uint8_t random[AES_CTR_KEY_SIZE], sd_bus_error *error) {
        return NOT_ON_GPU("StartSessionKeyRefresh");
}

static int vpl_finish_key_refresh(Backend *b, Session *s, sd_bus_error *error) {
        return NOT_ON_GPU("FinishSessionKeyRefresh");
}

static void vpl_drop_key(Backend *b, Session *s) {
        /* keyd holds no key for a GPU session; the TEE does. */
}

static int vpl_get_encryption_blt_key(Backend *b, Session *s, uint8_t out[AES_CTR_KEY_SIZE], sd_bus_error *error) {
        return NOT_ON_GPU("GetEncryptionBltKey");
}

static int vpl_decryption_blt(Backend *b, Session *s, Surface *surface, const uint8_t *data, size_t size,
                              const EncryptedBlockInfo *info, const uint8_t *content_key,
                              const uint8_t iv[AES_CTR_IV_SIZE], sd_bus_error *error) {
        return NOT_ON_GPU("DecryptionBlt");
}

static int vpl_encryption_blt(Backend *b, Session *s, Surface *surface, const uint8_t iv[AES_CTR_IV_SIZE],
                              uint8_t *out, sd_bus_error *error) {
        return NOT_ON_GPU("EncryptionBlt");
}

static int vpl_execute_hw_protection(Backend *b, Session *s, const HwProtectionCall *call, HwProtectionResult *ret,
                                     sd_bus_error *error) {
        VplBackend *vb = vpl(b);
        VplSession *vs = s->backend_data;

        return vpl_protected_session_execute(&vb->va, &vs->protected_session, call, ret, error);
}

static const BackendOps vpl_ops = {
        .name = "vpl",
        .free = vpl_free,
        .get_caps = vpl_get_caps,
        .get_key_exchange = vpl_get_key_exchange,
        .check_support = vpl_check_support,
        .get_private_data_size = vpl_get_private_data_size,
        .session_open = vpl_session_open,
        .session_close = vpl_session_close,
        .get_certificate = vpl_get_certificate,
        .negotiate = vpl_negotiate,
        .start_key_refresh = vpl_start_key_refresh,
        .finish_key_refresh = vpl_finish_key_refresh,
        .drop_key = vpl_drop_key,
        .get_encryption_blt_key = vpl_get_encryption_blt_key,
        .decryption_blt = vpl_decryption_blt,
        .encryption_blt = vpl_encryption_blt,
        .execute_hw_protection = vpl_execute_hw_protection,
        /* Decoding here would mean decoding into protected video memory:
         * oneVPL's protected decode on an Intel GPU. Nothing keyd is tested
         * on can run that, so there is no such code (docs/intel-hardware.md). */
        .no_decode_reason = "decoding into protected video memory needs an Intel GPU and oneVPL's protected "
                            "decode (MFX_PROTECTION_*), which keyd does not implement: no machine it is "
                            "built and tested on can run it; use --backend=software to decode in keyd's "
                            "sandboxed keyd-decoder",
};

/* The whole chain once, torn down again: a oneVPL session on keyd's VA
 * display holding the PXP context of a ProtectedContent session. A kernel
 * without working PXP fails here, at vaCreateProtectedSession. */
static int probe_protected_session(VplBackend *vb, char **reason) {
        VplProtectedSession ps = VPL_PROTECTED_SESSION_NULL;
        VplMfxSession ms = {};
        _cleanup_free_ char *why = NULL;
        int r;

        r = vpl_protected_session_create(&vb->va, VAEntrypointProtectedContent, &ps, &why);
        if (r < 0)
                return vpl_reason(reason, r, "protected session probe failed: %s (kernel without PXP, or PXP not "
                                             "ready)",
                                  why ?: "out of memory");

        r = vpl_mfx_session_open(&vb->runtime, &vb->va, &ps, &ms, &why);
        vpl_mfx_session_close(&ms);
        vpl_protected_session_destroy(&vb->va, &ps);
        if (r < 0)
                return vpl_reason(reason, r, "%s", why ?: "out of memory");
        return 0;
}

static const char *decoders_to_string(uint32_t decoders, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = 0;
        for (VplDecoder d = 0; d < _VPL_DECODER_MAX; d++)
                if (decoders & (1u << d))
                        used += (size_t) snprintf(buf + used, size - MIN(used, size), "%s%s", used ? ", " : "",
                                                  vpl_decoder_to_string(d));
        return used ? buf : "none";
}

int vpl_backend_open(const BackendConfig *config, Backend **ret, char **reason) {
        VplBackend *vb;
        char decoders[128];
        int r;

        vb = calloc(1, sizeof(*vb));
        if (!vb)
                return -ENOMEM;
        vb->backend.ops = &vpl_ops;
        vb->backend.type = BACKEND_VPL;
        vb->node.fd = -1;

        r = vpl_render_node_open(config->render_node, &vb->node, reason);
        if (r >= 0)
                r = vpl_render_node_check_pxp(&vb->node, reason);
        if (r >= 0)
                r = vpl_va_open(&vb->node, &vb->va, reason);
        if (r >= 0)
                r = vpl_va_query_caps(&vb->va, reason);
        if (r >= 0)
                r = vpl_runtime_discover(config->vpl_implementation, &vb->runtime, reason);
        if (r >= 0)
                r = probe_protected_session(vb, reason);
        if (r < 0) {
                if (r == -ENOMEM && !*reason)
                        (void) vpl_reason(reason, r, "out of memory");
                vpl_free(&vb->backend);
                return r;
        }

        log_info("vpl backend ready: oneVPL runtime \"%s\" (API %u.%u) on %s (kernel driver %s), VA-API %d.%d "
                 "driver \"%s\"; protected content AES-128-CTR%s, TEE communication %s; decoders: %s.",
                 vb->runtime.name, vb->runtime.api_version.Major, vb->runtime.api_version.Minor, vb->node.path,
                 vb->node.driver ?: "unknown", vb->va.major, vb->va.minor, vb->va.vendor,
                 (vb->va.caps.sample_types & VA_PC_SAMPLE_TYPE_SUBSAMPLE) ? " with subsamples" : "",
                 vb->va.caps.tee_comm ? "yes" : "no",
                 decoders_to_string(vb->va.caps.decoders, decoders, sizeof(decoders)));
        *ret = &vb->backend;
        return 0;
}
