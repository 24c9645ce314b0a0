/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ID3D11VideoContext, ID3D11VideoContext1, 2 and 3 (one object, one
 * vtable: each interface's vtable extends the one before): the
 * crypto-session half (key exchange, key refresh, DecryptionBlt,
 * EncryptionBlt, GetEncryptionBltKey, CheckCryptoSessionStatus) goes to
 * keyd. Decoding and video processing are not keyd's: those methods answer
 * E_NOTIMPL (or do nothing where they return void), as Wine's own later
 * video context does. A tear-off object like the video device
 * (video-device.c).
 *
 * The void methods cannot return their failure: each failure is said on
 * stderr and kept in the session (crypto-session.c), whose next
 * CheckCryptoSessionStatus returns it.
 */

#include <stdlib.h>
#include <string.h>

#include "bridge.h"

typedef struct video_context {
        ID3D11VideoContext2 iface; /* its lpVtbl is a bridge_video_context3_vtbl */
        LONG refcount;
        ID3D11DeviceContext *context;
} video_context;

static video_context *impl(ID3D11VideoContext2 *iface) {
        return CONTAINING_RECORD(iface, video_context, iface);
}

BOOL video_context_iid(REFIID riid) {
        return IsEqualGUID(riid, &IID_ID3D11VideoContext) || IsEqualGUID(riid, &IID_ID3D11VideoContext1) ||
               IsEqualGUID(riid, &bridge_IID_ID3D11VideoContext2) || IsEqualGUID(riid, &bridge_IID_ID3D11VideoContext3);
}

static HRESULT STDMETHODCALLTYPE vc_query_interface(ID3D11VideoContext2 *iface, REFIID riid, void **out) {
        if (!out)
                return E_POINTER;
        if (video_context_iid(riid) || IsEqualGUID(riid, &IID_IUnknown)) {
                ID3D11VideoContext2_AddRef(iface);
                *out = iface;
                return S_OK;
        }
        return ID3D11DeviceContext_QueryInterface(impl(iface)->context, riid, out);
}

static ULONG STDMETHODCALLTYPE vc_add_ref(ID3D11VideoContext2 *iface) {
        return InterlockedIncrement(&impl(iface)->refcount);
}

static ULONG STDMETHODCALLTYPE vc_release(ID3D11VideoContext2 *iface) {
        video_context *vc = impl(iface);
        ULONG n = InterlockedDecrement(&vc->refcount);

        if (n == 0) {
                ID3D11DeviceContext_Release(vc->context);
                free(vc);
        }
        return n;
}

static void STDMETHODCALLTYPE vc_get_device(ID3D11VideoContext2 *iface, ID3D11Device **device) {
        ID3D11DeviceContext_GetDevice(impl(iface)->context, device);
}

static HRESULT STDMETHODCALLTYPE vc_get_private_data(ID3D11VideoContext2 *iface, REFGUID guid, UINT *size,
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

static HRESULT STDMETHODCALLTYPE vc_negotiate_crypto_session_key_exchange(ID3D11VideoContext2 *iface,
                                                                          ID3D11CryptoSession *session,
                                                                          UINT data_size, void *data) {
        keyd_crypto_session *s = session_of("NegotiateCryptoSessionKeyExchange", session);

        return s ? keydwine()->negotiate(s, data_size, data) : E_INVALIDARG;
}

static HRESULT STDMETHODCALLTYPE vc_get_encryption_blt_key(ID3D11VideoContext2 *iface, ID3D11CryptoSession *session,
                                                           UINT key_size, void *key) {
        keyd_crypto_session *s = session_of("GetEncryptionBltKey", session);

        return s ? keydwine()->get_encryption_blt_key(s, key_size, key) : E_INVALIDARG;
}

static void STDMETHODCALLTYPE vc_start_session_key_refresh(ID3D11VideoContext2 *iface, ID3D11CryptoSession *session,
                                                           UINT random_number_size, void *random_number) {
        keyd_crypto_session *s = session_of("StartSessionKeyRefresh", session);
        HRESULT hr;

        if (!s)
                return;
        hr = keydwine()->start_session_key_refresh(s, random_number_size, random_number);
        if (FAILED(hr))
                bridge_log_failure("StartSessionKeyRefresh", hr);
        crypto_session_record_failure(session, "StartSessionKeyRefresh", hr);
}

static void STDMETHODCALLTYPE vc_finish_session_key_refresh(ID3D11VideoContext2 *iface, ID3D11CryptoSession *session) {
        keyd_crypto_session *s = session_of("FinishSessionKeyRefresh", session);
        HRESULT hr;

        if (!s)
                return;
        hr = keydwine()->finish_session_key_refresh(s);
        if (FAILED(hr))
                bridge_log_failure("FinishSessionKeyRefresh", hr);
        crypto_session_record_failure(session, "FinishSessionKeyRefresh", hr);
}

/* The source texture's bytes are the encrypted data; the destination
 * texture stands for a keyd surface that receives the plaintext. The
 * plaintext stays in keyd: the destination texture's own memory in Wine is
 * not written (no decoder reads it here). */
static HRESULT decryption_blt(keyd_crypto_session *s, ID3D11CryptoSession *session, ID3D11Texture2D *src,
                              ID3D11Texture2D *dst, D3D11_ENCRYPTED_BLOCK_INFO *block_info, UINT key_size,
                              const void *key, UINT iv_size, void *iv) {
        UINT surface, surface_size, size;
        BYTE *data = NULL;
        HRESULT hr;

        if (!src || !dst) {
                bridge_log(E_INVALIDARG, "DecryptionBlt: %s is NULL, expected a texture",
                           !src ? "pSrcSurface" : "pDstSurface");
                return E_INVALIDARG;
        }
        hr = texture_read_bytes(src, &data, &size);
        if (FAILED(hr))
                return hr;
        hr = protected_surface_get("DecryptionBlt: pDstSurface", session, dst, &surface, &surface_size);
        if (SUCCEEDED(hr)) {
                hr = keydwine()->decryption_blt(s, surface, block_info, key_size, key, iv_size, iv, size, data);
                if (FAILED(hr))
                        bridge_log_failure("DecryptionBlt", hr);
        }
        free(data);
        return hr;
}

static void STDMETHODCALLTYPE vc_decryption_blt(ID3D11VideoContext2 *iface, ID3D11CryptoSession *session,
                                                ID3D11Texture2D *src, ID3D11Texture2D *dst,
                                                D3D11_ENCRYPTED_BLOCK_INFO *block_info, UINT key_size,
                                                const void *key, UINT iv_size, void *iv) {
        keyd_crypto_session *s = session_of("DecryptionBlt", session);

        HRESULT hr;

        if (!s)
                return;
        hr = decryption_blt(s, session, src, dst, block_info, key_size, key, iv_size, iv);
        crypto_session_record_failure(session, "DecryptionBlt", hr);
}

/* The protected texture's keyd surface, encrypted under the read-back key
 * from the IV keyd chooses (written to iv), lands in the destination
 * texture (at least the same byte size). */
static HRESULT encryption_blt(keyd_crypto_session *s, ID3D11CryptoSession *session, ID3D11Texture2D *src,
                              ID3D11Texture2D *dst, UINT iv_size, void *iv) {
        UINT surface, surface_size;
        D3D11_TEXTURE2D_DESC desc;
        texture_layout dst_layout;
        BYTE *data;
        HRESULT hr;

        if (!src || !dst) {
                bridge_log(E_INVALIDARG, "EncryptionBlt: %s is NULL, expected a texture",
                           !src ? "pSrcSurface" : "pDstSurface");
                return E_INVALIDARG;
        }
        if (iv_size && !iv) {
                bridge_log(E_INVALIDARG, "EncryptionBlt: pIV is NULL with IVSize %u; expected a buffer of "
                           "IVSize bytes for the driver's IV", iv_size);
                return E_INVALIDARG;
        }
        /* The destination is checked first: nothing is allocated for a
         * texture whose size does not fit. */
        ID3D11Texture2D_GetDesc(dst, &desc);
        hr = texture_layout_get("EncryptionBlt: pDstSurface", &desc, &dst_layout);
        if (FAILED(hr))
                return hr;
        hr = protected_surface_get("EncryptionBlt: pSrcSurface", session, src, &surface, &surface_size);
        if (FAILED(hr))
                return hr;
        if (dst_layout.size < surface_size) {
                bridge_log(E_INVALIDARG, "EncryptionBlt: pDstSurface holds %llu bytes, the protected surface %u: "
                           "expected a destination at least as large", (unsigned long long) dst_layout.size,
                           surface_size);
                return E_INVALIDARG;
        }
        data = calloc(1, (size_t) dst_layout.size);
        if (!data) {
                bridge_log(E_OUTOFMEMORY, "EncryptionBlt: no memory for %llu bytes; expected that much free "
                           "memory in the process",
                           (unsigned long long) dst_layout.size);
                return E_OUTOFMEMORY;
        }
        hr = keydwine()->encryption_blt(s, surface, iv_size, iv, surface_size, data);
        if (FAILED(hr))
                bridge_log_failure("EncryptionBlt", hr);
        else
                hr = texture_write_bytes(dst, data, (UINT) dst_layout.size);
        free(data);
        return hr;
}

static void STDMETHODCALLTYPE vc_encryption_blt(ID3D11VideoContext2 *iface, ID3D11CryptoSession *session,
                                                ID3D11Texture2D *src, ID3D11Texture2D *dst, UINT iv_size,
                                                void *iv) {
        keyd_crypto_session *s = session_of("EncryptionBlt", session);

        HRESULT hr;

        if (!s)
                return;
        hr = encryption_blt(s, session, src, dst, iv_size, iv);
        crypto_session_record_failure(session, "EncryptionBlt", hr);
}

/* ---- ID3D11VideoContext1 ---- */

/* keyd's status, unless a void call failed on the session since the last
 * check: then that call's HRESULT (the status is still filled in). */
static HRESULT STDMETHODCALLTYPE vc_check_crypto_session_status(ID3D11VideoContext2 *iface,
                                                                ID3D11CryptoSession *session,
                                                                D3D11_CRYPTO_SESSION_STATUS *status) {
        keyd_crypto_session *s = session_of("CheckCryptoSessionStatus", session);
        const char *failed_method;
        HRESULT hr, failure;

        if (!s)
                return E_INVALIDARG;
        if (!status) {
                bridge_log(E_POINTER, "CheckCryptoSessionStatus: pStatus is NULL, expected a "
                           "D3D11_CRYPTO_SESSION_STATUS to fill");
                return E_POINTER;
        }
        hr = keydwine()->check_crypto_session_status(s, status);
        failure = crypto_session_take_failure(session, &failed_method);
        if (FAILED(hr))
                return hr;
        if (FAILED(failure)) {
                bridge_log(failure, "CheckCryptoSessionStatus: an earlier %s on this session failed (see its "
                           "message above); expected every call since the last check to succeed",
                           failed_method ? failed_method : "call");
                return failure;
        }
        return S_OK;
}

/* Hardware keys are an IHV's secure-execution-environment feature that keyd
 * has no counterpart for (its HW_PROTECTION sessions speak through
 * ExecuteHWProtectionFunction): like a driver without the feature, no data. */
static HRESULT STDMETHODCALLTYPE vc_get_data_for_new_hardware_key(ID3D11VideoContext2 *iface,
                                                                  ID3D11CryptoSession *session, UINT input_size,
                                                                  const void *input, UINT64 *output) {
        keyd_crypto_session *s = session_of("GetDataForNewHardwareKey", session);

        if (output)
                *output = 0;
        if (!s)
                return E_INVALIDARG;
        bridge_log(E_NOTIMPL, "GetDataForNewHardwareKey: keyd has no hardware keys; expected a driver "
                   "with an IHV secure execution environment");
        return E_NOTIMPL;
}

static HRESULT STDMETHODCALLTYPE vc_not_implemented(void) {
        return E_NOTIMPL;
}

static bridge_video_context3_vtbl vtbl3;

static BOOL CALLBACK init_vtbl(INIT_ONCE *once, void *param, void **context) {
        ID3D11VideoContext2Vtbl *vtbl = &vtbl3.base;
        void **slot = (void **) &vtbl3;

        /* Every method keyd has nothing for answers E_NOTIMPL (also the void
         * ones: the caller ignores rax). */
        for (size_t i = 0; i < sizeof(vtbl3) / sizeof(void *); i++)
                slot[i] = (void *) vc_not_implemented;
        vtbl->QueryInterface = vc_query_interface;
        vtbl->AddRef = vc_add_ref;
        vtbl->Release = vc_release;
        vtbl->GetDevice = vc_get_device;
        vtbl->GetPrivateData = vc_get_private_data;
        vtbl->NegotiateCryptoSessionKeyExchange = vc_negotiate_crypto_session_key_exchange;
        vtbl->GetEncryptionBltKey = vc_get_encryption_blt_key;
        vtbl->StartSessionKeyRefresh = vc_start_session_key_refresh;
        vtbl->FinishSessionKeyRefresh = vc_finish_session_key_refresh;
        vtbl->DecryptionBlt = vc_decryption_blt;
        vtbl->EncryptionBlt = vc_encryption_blt;
        vtbl->CheckCryptoSessionStatus = vc_check_crypto_session_status;
        vtbl->GetDataForNewHardwareKey = vc_get_data_for_new_hardware_key;
        return TRUE;
}

HRESULT video_context_new(ID3D11DeviceContext *context, REFIID riid, void **ret) {
        static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
        video_context *vc;

        *ret = NULL;
        if (!video_context_iid(riid))
                return E_NOINTERFACE;
        InitOnceExecuteOnce(&once, init_vtbl, NULL, NULL);
        vc = calloc(1, sizeof(*vc));
        if (!vc)
                return E_OUTOFMEMORY;
        vc->iface.lpVtbl = &vtbl3.base;
        vc->refcount = 1;
        vc->context = context;
        ID3D11DeviceContext_AddRef(context);
        /* Every interface it answers is this one object. */
        *ret = &vc->iface;
        return S_OK;
}
