/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * keyd's d3d11.dll proxy for Wine: a PE DLL (built with mingw-w64) that an
 * application loads in place of d3d11.dll (WINEDLLOVERRIDES=d3d11=n,b with
 * the proxy beside the .exe). It loads Wine's own d3d11.dll, forwards every
 * export to it, and adds what Wine 8.0's d3d11 lacks: ID3D11VideoDevice,
 * ID3D11VideoContext and ID3D11CryptoSession, whose crypto-session methods
 * reach keyd through keydwine.dll.so (a Winelib module that links libkeyd).
 */

#define COBJMACROS
#define CONST_VTABLE /* our vtables are const data */
#include <windows.h>
#include <d3d11_4.h>

/* ---- what mingw-w64 10's headers lack (Microsoft's d3d11_4.h) ---- */

/* {59c0cb01-35f0-4a70-8f67-87905c906a53} */
static const GUID bridge_IID_ID3D11VideoDevice2 =
        { 0x59c0cb01, 0x35f0, 0x4a70, { 0x8f, 0x67, 0x87, 0x90, 0x5c, 0x90, 0x6a, 0x53 } };
/* {c4e7374c-6243-4d1b-ae87-52b4f740e261} (declared by mingw-w64, in no import library) */
static const GUID bridge_IID_ID3D11VideoContext2 =
        { 0xc4e7374c, 0x6243, 0x4d1b, { 0xae, 0x87, 0x52, 0xb4, 0xf7, 0x40, 0xe2, 0x61 } };
/* {a9e2faa0-cb39-418f-a0b7-d8aad4de672e} */
static const GUID bridge_IID_ID3D11VideoContext3 =
        { 0xa9e2faa0, 0xcb39, 0x418f, { 0xa0, 0xb7, 0xd8, 0xaa, 0xd4, 0xde, 0x67, 0x2e } };

/* ID3D11VideoDevice2: ID3D11VideoDevice1 and two methods. */
typedef struct bridge_video_device2_vtbl {
        ID3D11VideoDevice1Vtbl base;
        HRESULT(STDMETHODCALLTYPE *CheckFeatureSupport)(ID3D11VideoDevice1 *iface, UINT feature, void *data,
                                                        UINT data_size);
        HRESULT(STDMETHODCALLTYPE *NegotiateCryptoSessionKeyExchangeMT)(ID3D11VideoDevice1 *iface,
                                                                        ID3D11CryptoSession *session, UINT flags,
                                                                        UINT data_size, void *data);
} bridge_video_device2_vtbl;

/* ID3D11VideoContext3: ID3D11VideoContext2 and two decoder methods. */
typedef struct bridge_video_context3_vtbl {
        ID3D11VideoContext2Vtbl base;
        void *DecoderBeginFrame1;
        void *SubmitDecoderBuffers2;
} bridge_video_context3_vtbl;

/* D3D11_FEATURE_VIDEO_DECODER_HISTOGRAM's D3D11_FEATURE_DATA_VIDEO_DECODER_HISTOGRAM */
#define BRIDGE_FEATURE_VIDEO_DECODER_HISTOGRAM 0
typedef struct bridge_feature_data_video_decoder_histogram {
        D3D11_VIDEO_DECODER_DESC DecoderDesc;
        UINT Components; /* D3D11_VIDEO_DECODER_HISTOGRAM_COMPONENT_FLAGS */
        UINT BinCount;
        UINT CounterBitDepth;
} bridge_feature_data_video_decoder_histogram;

/* ---- keydwine.dll.so, the Winelib side (helper.c) ---- */

typedef struct keyd_crypto_session keyd_crypto_session; /* opaque, libkeyd's */

typedef struct keydwine_api {
        HRESULT (*get_content_protection_caps)(const GUID *crypto_type, const GUID *decoder_profile,
                                               D3D11_VIDEO_CONTENT_PROTECTION_CAPS *caps);
        HRESULT (*check_crypto_key_exchange)(const GUID *crypto_type, const GUID *decoder_profile, UINT index,
                                             GUID *key_exchange_type);
        HRESULT (*create_crypto_session)(const GUID *crypto_type, const GUID *decoder_profile,
                                         const GUID *key_exchange_type, keyd_crypto_session **ret);
        HRESULT (*get_certificate_size)(keyd_crypto_session *s, UINT *size);
        HRESULT (*get_certificate)(keyd_crypto_session *s, UINT size, BYTE *certificate);
        HRESULT (*get_handle)(keyd_crypto_session *s, UINT64 *handle);
        HRESULT (*negotiate)(keyd_crypto_session *s, UINT size, void *data);
        HRESULT (*start_session_key_refresh)(keyd_crypto_session *s, UINT size, void *random_number);
        HRESULT (*finish_session_key_refresh)(keyd_crypto_session *s);
        HRESULT (*get_encryption_blt_key)(keyd_crypto_session *s, UINT size, void *key);
        HRESULT (*create_surface)(keyd_crypto_session *s, UINT size, UINT *surface);
        HRESULT (*destroy_surface)(keyd_crypto_session *s, UINT surface);
        HRESULT (*decryption_blt)(keyd_crypto_session *s, UINT surface, const D3D11_ENCRYPTED_BLOCK_INFO *block_info,
                                  UINT content_key_size, const void *content_key, UINT iv_size, const void *iv,
                                  UINT data_size, const void *data);
        /* keyd chooses the IV and writes it to iv (D3D11: "the driver generates the IV"). */
        HRESULT (*encryption_blt)(keyd_crypto_session *s, UINT surface, UINT iv_size, void *iv, UINT data_size,
                                  void *data);
        HRESULT (*get_crypto_session_private_data_size)(const GUID *crypto_type, const GUID *decoder_profile,
                                                        const GUID *key_exchange_type, UINT *input_size,
                                                        UINT *output_size);
        HRESULT (*check_crypto_session_status)(keyd_crypto_session *s, D3D11_CRYPTO_SESSION_STATUS *status);
        void (*release_session)(keyd_crypto_session *s);
        const char *(*last_error_message)(void);
} keydwine_api;

/* The helper's functions, loaded on first use; NULL (said once on stderr)
 * when keydwine.dll.so cannot be loaded. */
const keydwine_api *keydwine(void);

/* "keyd-d3d11: 0xHRESULT: " + the message on stderr. Where D3D11 has no
 * HRESULT to return (DecryptionBlt, EncryptionBlt, ...), the session also
 * keeps the failure for CheckCryptoSessionStatus (crypto-session.c). */
void bridge_log(HRESULT hr, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* bridge_log of a failed keyd call: "0xHRESULT: METHOD: keyd's sentence". */
void bridge_log_failure(const char *method, HRESULT hr);

/* ---- forward.c ---- */

/* Wine's own d3d11.dll, loaded by its full path on first use. */
HMODULE real_d3d11(void);

/* ---- hooks.c ---- */

/* Make QueryInterface on this device, its IDXGIDevice and its immediate
 * context answer ID3D11VideoDevice/1/2 and ID3D11VideoContext/1/2/3. */
void hook_device(ID3D11Device *device);

/* ---- video-device.c, video-context.c, crypto-session.c ---- */

/* Whether riid is one the video device / video context object answers. */
BOOL video_device_iid(REFIID riid);
BOOL video_context_iid(REFIID riid);
/* A new video device (or context) object, as the interface riid. */
HRESULT video_device_new(ID3D11Device *device, REFIID riid, void **ret);
HRESULT video_context_new(ID3D11DeviceContext *context, REFIID riid, void **ret);
HRESULT crypto_session_new(ID3D11Device *device, const GUID *crypto_type, const GUID *decoder_profile,
                           const GUID *key_exchange_type, ID3D11CryptoSession **ret);
/* The libkeyd session behind one of our ID3D11CryptoSession objects, or
 * NULL for any other object (a foreign or NULL pointer). */
keyd_crypto_session *crypto_session_keyd(ID3D11CryptoSession *iface);
/* A void method (DecryptionBlt, EncryptionBlt, Start/FinishSessionKeyRefresh)
 * failed on this session with hr: kept (the first one) until
 * CheckCryptoSessionStatus returns it. No-op for a foreign session. */
void crypto_session_record_failure(ID3D11CryptoSession *iface, const char *method, HRESULT hr);
/* The kept failure, forgotten as it is returned (S_OK: none); *method
 * receives the name of the call that failed. */
HRESULT crypto_session_take_failure(ID3D11CryptoSession *iface, const char **method);

/* ---- protected-surface.c ---- */

/* The bytes of a texture's first subresource, rows packed. */
typedef struct texture_layout {
        UINT64 row_bytes; /* of one row */
        UINT64 rows;      /* a planar format's chroma rows included */
        UINT64 size;      /* row_bytes * rows, at most UINT32_MAX */
} texture_layout;

/* The layout of a texture of this description, in 64-bit arithmetic.
 * E_INVALIDARG, said on stderr with what (e.g. "EncryptionBlt:
 * pDstSurface") in front, for an unknown format, a dimension of 0 or
 * beyond D3D11_REQ_TEXTURE2D_U_OR_V_DIMENSION (Wine creates such
 * textures), an odd size where the video format subsamples, or more
 * than UINT32_MAX bytes. */
HRESULT texture_layout_get(const char *what, const D3D11_TEXTURE2D_DESC *desc, texture_layout *ret);

/* The keyd surface that stands for this texture in this session, created
 * (holding zeros) the first time it is asked for. */
HRESULT protected_surface_get(const char *what, ID3D11CryptoSession *session, ID3D11Texture2D *texture,
                              UINT *ret_surface, UINT *ret_size);
/* The texture's bytes, rows packed; the caller frees *ret with free(). */
HRESULT texture_read_bytes(ID3D11Texture2D *texture, BYTE **ret, UINT *ret_size);
/* Write the texture's bytes (size at least its layout's), rows packed,
 * into the texture: a staging texture without CPU write access is
 * written through a temporary one. */
HRESULT texture_write_bytes(ID3D11Texture2D *texture, const BYTE *data, UINT size);
