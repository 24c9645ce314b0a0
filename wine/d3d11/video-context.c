/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ID3D11VideoContext: the crypto-session half (key exchange, key refresh,
 * DecryptionBlt, EncryptionBlt, GetEncryptionBltKey) goes to keyd. Decoding
 * and video processing are not keyd's: those methods answer E_NOTIMPL (or
 * do nothing where they return void), as Wine's own later video context
 * does. A tear-off object like the video device (video-device.c).
 */

#include <stdlib.h>
#include <string.h>

#include "bridge.h"

typedef struct video_context {
        ID3D11VideoContext iface;
        LONG refcount;
        ID3D11DeviceContext *context;
} video_context;

static video_context *impl(ID3D11VideoContext *iface) {
        return CONTAINING_RECORD(iface, video_context, iface);
}

static HRESULT STDMETHODCALLTYPE vc_query_interface(ID3D11VideoContext *iface, REFIID riid, void **out) {
        if (!out)
                return E_POINTER;
        if (IsEqualGUID(riid, &IID_ID3D11VideoContext) || IsEqualGUID(riid, &IID_IUnknown)) {
                ID3D11VideoContext_AddRef(iface);
                *out = iface;
                return S_OK;
        }
        return ID3D11DeviceContext_QueryInterface(impl(iface)->context, riid, out);
}

static ULONG STDMETHODCALLTYPE vc_add_ref(ID3D11VideoContext *iface) {
        return InterlockedIncrement(&impl(iface)->refcount);
}

static ULONG STDMETHODCALLTYPE vc_release(ID3D11VideoContext *iface) {
        video_context *vc = impl(iface);
        ULONG n = InterlockedDecrement(&vc->refcount);

        if (n == 0) {
                ID3D11DeviceContext_Release(vc->context);
                free(vc);
        }
        return n;
}

static void STDMETHODCALLTYPE vc_get_device(ID3D11VideoContext *iface, ID3D11Device **device) {
        ID3D11DeviceContext_GetDevice(impl(iface)->context, device);
}

static HRESULT STDMETHODCALLTYPE vc_get_private_data(ID3D11VideoContext *iface, REFGUID guid, UINT *size,
                                                     void *data) {
        return DXGI_ERROR_NOT_FOUND;
}

/* The libkeyd session of an ID3D11CryptoSession this proxy made; a NULL or
 * foreign pointer is logged and gives NULL. */
static keyd_crypto_session *session_of(const char *method, ID3D11CryptoSession *session) {
        keyd_crypto_session *s = crypto_session_keyd(session);

        if (!s)
                bridge_log(E_INVALIDARG, "%s: pCryptoSession is %s, expected a session from "
                           "ID3D11VideoDevice::CreateCryptoSession", method,
                           session ? "not a keyd crypto session" : "NULL");
        return s;
}

static HRESULT STDMETHODCALLTYPE vc_negotiate_crypto_session_key_exchange(ID3D11VideoContext *iface,
                                                                          ID3D11CryptoSession *session,
                                                                          UINT data_size, void *data) {
        keyd_crypto_session *s = session_of("NegotiateCryptoSessionKeyExchange", session);

        return s ? keydwine()->negotiate(s, data_size, data) : E_INVALIDARG;
}

static HRESULT STDMETHODCALLTYPE vc_get_encryption_blt_key(ID3D11VideoContext *iface, ID3D11CryptoSession *session,
                                                           UINT key_size, void *key) {
        keyd_crypto_session *s = session_of("GetEncryptionBltKey", session);

        return s ? keydwine()->get_encryption_blt_key(s, key_size, key) : E_INVALIDARG;
}

static void STDMETHODCALLTYPE vc_start_session_key_refresh(ID3D11VideoContext *iface, ID3D11CryptoSession *session,
                                                           UINT random_number_size, void *random_number) {
        keyd_crypto_session *s = session_of("StartSessionKeyRefresh", session);
        HRESULT hr;

        if (!s)
                return;
        hr = keydwine()->start_session_key_refresh(s, random_number_size, random_number);
        if (FAILED(hr))
                bridge_log_failure("StartSessionKeyRefresh", hr);
}

static void STDMETHODCALLTYPE vc_finish_session_key_refresh(ID3D11VideoContext *iface, ID3D11CryptoSession *session) {
        keyd_crypto_session *s = session_of("FinishSessionKeyRefresh", session);
        HRESULT hr;

        if (!s)
                return;
        hr = keydwine()->finish_session_key_refresh(s);
        if (FAILED(hr))
                bridge_log_failure("FinishSessionKeyRefresh", hr);
}

/* The source texture's bytes are the encrypted data; the destination
 * texture stands for a keyd surface that receives the plaintext. The
 * plaintext stays in keyd: the destination texture's own memory in Wine is
 * not written (no decoder reads it here). */
static void STDMETHODCALLTYPE vc_decryption_blt(ID3D11VideoContext *iface, ID3D11CryptoSession *session,
                                                ID3D11Texture2D *src, ID3D11Texture2D *dst,
                                                D3D11_ENCRYPTED_BLOCK_INFO *block_info, UINT key_size,
                                                const void *key, UINT iv_size, void *iv) {
        static const char method[] = "DecryptionBlt";
        keyd_crypto_session *s = session_of(method, session);
        UINT surface, surface_size, size;
        BYTE *data = NULL;
        HRESULT hr;

        if (!s)
                return;
        if (!src || !dst) {
                bridge_log(E_INVALIDARG, "%s: %s is NULL, expected a texture", method,
                           !src ? "pSrcSurface" : "pDstSurface");
                return;
        }
        hr = texture_read_bytes(src, &data, &size);
        if (FAILED(hr))
                return;
        hr = protected_surface_get(session, dst, &surface, &surface_size);
        if (SUCCEEDED(hr)) {
                hr = keydwine()->decryption_blt(s, surface, block_info, key_size, key, iv_size, iv, size, data);
                if (FAILED(hr))
                        bridge_log_failure(method, hr);
        }
        free(data);
}

/* The protected texture's keyd surface, encrypted under the read-back key,
 * lands in the destination texture (same byte size). */
static void STDMETHODCALLTYPE vc_encryption_blt(ID3D11VideoContext *iface, ID3D11CryptoSession *session,
                                                ID3D11Texture2D *src, ID3D11Texture2D *dst, UINT iv_size,
                                                void *iv) {
        static const char method[] = "EncryptionBlt";
        keyd_crypto_session *s = session_of(method, session);
        UINT surface, surface_size, dst_size;
        BYTE *data;
        HRESULT hr;

        if (!s)
                return;
        if (!src || !dst) {
                bridge_log(E_INVALIDARG, "%s: %s is NULL, expected a texture", method,
                           !src ? "pSrcSurface" : "pDstSurface");
                return;
        }
        hr = protected_surface_get(session, src, &surface, &surface_size);
        if (FAILED(hr))
                return;
        dst_size = texture_byte_size(dst);
        if (dst_size < surface_size) {
                bridge_log(E_INVALIDARG, "%s: pDstSurface holds %u bytes, the protected surface %u: expected a "
                           "destination at least as large", method, dst_size, surface_size);
                return;
        }
        data = calloc(1, dst_size);
        if (!data) {
                bridge_log(E_OUTOFMEMORY, "%s: no memory for %u bytes", method, dst_size);
                return;
        }
        hr = keydwine()->encryption_blt(s, surface, iv_size, iv, surface_size, data);
        if (FAILED(hr))
                bridge_log_failure(method, hr);
        else
                texture_write_bytes(dst, data, dst_size);
        free(data);
}

static HRESULT STDMETHODCALLTYPE vc_not_implemented(void) {
        return E_NOTIMPL;
}

static ID3D11VideoContextVtbl vtbl;

static BOOL CALLBACK init_vtbl(INIT_ONCE *once, void *param, void **context) {
        void **slot = (void **) &vtbl;

        for (size_t i = 0; i < sizeof(vtbl) / sizeof(void *); i++)
                slot[i] = (void *) vc_not_implemented;
        vtbl.QueryInterface = vc_query_interface;
        vtbl.AddRef = vc_add_ref;
        vtbl.Release = vc_release;
        vtbl.GetDevice = vc_get_device;
        vtbl.GetPrivateData = vc_get_private_data;
        vtbl.NegotiateCryptoSessionKeyExchange = vc_negotiate_crypto_session_key_exchange;
        vtbl.GetEncryptionBltKey = vc_get_encryption_blt_key;
        vtbl.StartSessionKeyRefresh = vc_start_session_key_refresh;
        vtbl.FinishSessionKeyRefresh = vc_finish_session_key_refresh;
        vtbl.DecryptionBlt = vc_decryption_blt;
        vtbl.EncryptionBlt = vc_encryption_blt;
        return TRUE;
}

HRESULT video_context_new(ID3D11DeviceContext *context, ID3D11VideoContext **ret) {
        static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
        video_context *vc;

        InitOnceExecuteOnce(&once, init_vtbl, NULL, NULL);
        vc = calloc(1, sizeof(*vc));
        if (!vc)
                return E_OUTOFMEMORY;
        vc->iface.lpVtbl = &vtbl;
        vc->refcount = 1;
        vc->context = context;
        ID3D11DeviceContext_AddRef(context);
        *ret = &vc->iface;
        return S_OK;
}
