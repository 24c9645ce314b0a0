/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ID3D11CryptoSession: one keyd session (libkeyd's keyd_crypto_session),
 * closed in keyd by the last Release. Private data is not kept
 * (SetPrivateData*: E_NOTIMPL, GetPrivateData: DXGI_ERROR_NOT_FOUND).
 *
 * D3D11's DecryptionBlt, EncryptionBlt, StartSessionKeyRefresh and
 * FinishSessionKeyRefresh return nothing. The first of them to fail on a
 * session is kept here, and the session's next CheckCryptoSessionStatus
 * returns its HRESULT (docs/wine-bridge.md, "Failures of the void calls").
 */

#include <stdlib.h>

#include "bridge.h"

typedef struct crypto_session {
        ID3D11CryptoSession iface;
        LONG refcount;
        ID3D11Device *device;
        keyd_crypto_session *keyd;
        GUID crypto_type;
        GUID decoder_profile; /* GUID_NULL for none */
        SRWLOCK failure_lock;
        HRESULT failure;       /* of the first failed void call not yet reported, or S_OK */
        const char *failed_method;
} crypto_session;

static const ID3D11CryptoSessionVtbl vtbl;

static crypto_session *impl(ID3D11CryptoSession *iface) {
        return CONTAINING_RECORD(iface, crypto_session, iface);
}

keyd_crypto_session *crypto_session_keyd(ID3D11CryptoSession *iface) {
        if (!iface || iface->lpVtbl != &vtbl)
                return NULL;
        return impl(iface)->keyd;
}

void crypto_session_record_failure(ID3D11CryptoSession *iface, const char *method, HRESULT hr) {
        crypto_session *cs;

        if (!crypto_session_keyd(iface) || SUCCEEDED(hr))
                return;
        cs = impl(iface);
        AcquireSRWLockExclusive(&cs->failure_lock);
        if (cs->failure == S_OK) { /* the first failure wins */
                cs->failure = hr;
                cs->failed_method = method;
        }
        ReleaseSRWLockExclusive(&cs->failure_lock);
}

HRESULT crypto_session_take_failure(ID3D11CryptoSession *iface, const char **method) {
        crypto_session *cs;
        HRESULT hr;

        *method = NULL;
        if (!crypto_session_keyd(iface))
                return S_OK;
        cs = impl(iface);
        AcquireSRWLockExclusive(&cs->failure_lock);
        hr = cs->failure;
        *method = cs->failed_method;
        cs->failure = S_OK;
        cs->failed_method = NULL;
        ReleaseSRWLockExclusive(&cs->failure_lock);
        return hr;
}

static HRESULT STDMETHODCALLTYPE cs_query_interface(ID3D11CryptoSession *iface, REFIID riid, void **out) {
        if (!out)
                return E_POINTER;
        if (IsEqualGUID(riid, &IID_ID3D11CryptoSession) || IsEqualGUID(riid, &IID_ID3D11DeviceChild) ||
            IsEqualGUID(riid, &IID_IUnknown)) {
                ID3D11CryptoSession_AddRef(iface);
                *out = iface;
                return S_OK;
        }
        *out = NULL;
        return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE cs_add_ref(ID3D11CryptoSession *iface) {
        return InterlockedIncrement(&impl(iface)->refcount);
}

static ULONG STDMETHODCALLTYPE cs_release(ID3D11CryptoSession *iface) {
        crypto_session *cs = impl(iface);
        ULONG n = InterlockedDecrement(&cs->refcount);

        if (n == 0) {
                keydwine()->release_session(cs->keyd);
                ID3D11Device_Release(cs->device);
                free(cs);
        }
        return n;
}

static void STDMETHODCALLTYPE cs_get_device(ID3D11CryptoSession *iface, ID3D11Device **device) {
        *device = impl(iface)->device;
        ID3D11Device_AddRef(*device);
}

static HRESULT STDMETHODCALLTYPE cs_get_private_data(ID3D11CryptoSession *iface, REFGUID guid, UINT *size,
                                                     void *data) {
        return DXGI_ERROR_NOT_FOUND;
}

static HRESULT STDMETHODCALLTYPE cs_set_private_data(ID3D11CryptoSession *iface, REFGUID guid, UINT size,
                                                     const void *data) {
        return E_NOTIMPL;
}

static HRESULT STDMETHODCALLTYPE cs_set_private_data_interface(ID3D11CryptoSession *iface, REFGUID guid,
                                                               const IUnknown *data) {
        return E_NOTIMPL;
}

static void STDMETHODCALLTYPE cs_get_crypto_type(ID3D11CryptoSession *iface, GUID *crypto_type) {
        *crypto_type = impl(iface)->crypto_type;
}

static void STDMETHODCALLTYPE cs_get_decoder_profile(ID3D11CryptoSession *iface, GUID *decoder_profile) {
        *decoder_profile = impl(iface)->decoder_profile;
}

static HRESULT STDMETHODCALLTYPE cs_get_certificate_size(ID3D11CryptoSession *iface, UINT *size) {
        return keydwine()->get_certificate_size(impl(iface)->keyd, size);
}

static HRESULT STDMETHODCALLTYPE cs_get_certificate(ID3D11CryptoSession *iface, UINT size, BYTE *certificate) {
        return keydwine()->get_certificate(impl(iface)->keyd, size, certificate);
}

static void STDMETHODCALLTYPE cs_get_crypto_session_handle(ID3D11CryptoSession *iface, HANDLE *handle) {
        UINT64 h = 0;
        HRESULT hr = keydwine()->get_handle(impl(iface)->keyd, &h);

        if (FAILED(hr))
                bridge_log_failure("GetCryptoSessionHandle", hr);
        *handle = (HANDLE) (ULONG_PTR) h;
}

static const ID3D11CryptoSessionVtbl vtbl = {
        .QueryInterface = cs_query_interface,
        .AddRef = cs_add_ref,
        .Release = cs_release,
        .GetDevice = cs_get_device,
        .GetPrivateData = cs_get_private_data,
        .SetPrivateData = cs_set_private_data,
        .SetPrivateDataInterface = cs_set_private_data_interface,
        .GetCryptoType = cs_get_crypto_type,
        .GetDecoderProfile = cs_get_decoder_profile,
        .GetCertificateSize = cs_get_certificate_size,
        .GetCertificate = cs_get_certificate,
        .GetCryptoSessionHandle = cs_get_crypto_session_handle,
};

HRESULT crypto_session_new(ID3D11Device *device, const GUID *crypto_type, const GUID *decoder_profile,
                           const GUID *key_exchange_type, ID3D11CryptoSession **ret) {
        keyd_crypto_session *keyd = NULL;
        crypto_session *cs;
        HRESULT hr;

        /* keyd checks every GUID (NULL included) and says what was wrong. */
        hr = keydwine()->create_crypto_session(crypto_type, decoder_profile, key_exchange_type, &keyd);
        if (FAILED(hr))
                return hr;

        cs = calloc(1, sizeof(*cs));
        if (!cs) {
                keydwine()->release_session(keyd);
                return E_OUTOFMEMORY;
        }
        cs->iface.lpVtbl = &vtbl;
        cs->refcount = 1;
        InitializeSRWLock(&cs->failure_lock);
        cs->failure = S_OK;
        cs->device = device;
        ID3D11Device_AddRef(device);
        cs->keyd = keyd;
        cs->crypto_type = *crypto_type;
        cs->decoder_profile = decoder_profile ? *decoder_profile : GUID_NULL;
        *ret = &cs->iface;
        return S_OK;
}
