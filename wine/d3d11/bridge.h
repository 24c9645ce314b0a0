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
#include <d3d11.h>

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
        HRESULT (*encryption_blt)(keyd_crypto_session *s, UINT surface, UINT iv_size, const void *iv, UINT data_size,
                                  void *data);
        void (*release_session)(keyd_crypto_session *s);
        const char *(*last_error_message)(void);
} keydwine_api;

/* The helper's functions, loaded on first use; NULL (said once on stderr)
 * when keydwine.dll.so cannot be loaded. */
const keydwine_api *keydwine(void);

/* "keyd-d3d11: 0xHRESULT: " + the message on stderr: where D3D11 has no
 * HRESULT to return (DecryptionBlt, EncryptionBlt, ...), this is the only
 * trace. */
void bridge_log(HRESULT hr, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* bridge_log of a failed keyd call: "0xHRESULT: METHOD: keyd's sentence". */
void bridge_log_failure(const char *method, HRESULT hr);

/* ---- forward.c ---- */

/* Wine's own d3d11.dll, loaded by its full path on first use. */
HMODULE real_d3d11(void);

/* ---- hooks.c ---- */

/* Make QueryInterface on this device and on its immediate context answer
 * ID3D11VideoDevice and ID3D11VideoContext. */
void hook_device(ID3D11Device *device);

/* ---- video-device.c, video-context.c, crypto-session.c ---- */

HRESULT video_device_new(ID3D11Device *device, ID3D11VideoDevice **ret);
HRESULT video_context_new(ID3D11DeviceContext *context, ID3D11VideoContext **ret);
HRESULT crypto_session_new(ID3D11Device *device, const GUID *crypto_type, const GUID *decoder_profile,
                           const GUID *key_exchange_type, ID3D11CryptoSession **ret);
/* The libkeyd session behind one of our ID3D11CryptoSession objects, or
 * NULL for any other object (a foreign or NULL pointer). */
keyd_crypto_session *crypto_session_keyd(ID3D11CryptoSession *iface);

/* ---- protected-surface.c ---- */

/* The keyd surface that stands for this texture in this session, created
 * (holding zeros) the first time it is asked for. */
HRESULT protected_surface_get(ID3D11CryptoSession *session, ID3D11Texture2D *texture, UINT *ret_surface,
                              UINT *ret_size);
/* The texture's bytes, rows packed (width * bytes per pixel each); the
 * caller frees *ret with free(). */
HRESULT texture_read_bytes(ID3D11Texture2D *texture, BYTE **ret, UINT *ret_size);
/* Write size bytes, rows packed, into the texture. */
HRESULT texture_write_bytes(ID3D11Texture2D *texture, const BYTE *data, UINT size);
/* Bytes of the texture's first subresource, rows packed; 0 for formats
 * the bridge does not know. */
UINT texture_byte_size(ID3D11Texture2D *texture);
