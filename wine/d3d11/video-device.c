/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ID3D11VideoDevice, ID3D11VideoDevice1 and ID3D11VideoDevice2 (one object,
 * one vtable: each interface's vtable extends the one before): the
 * content-protection queries, CreateCryptoSession,
 * GetCryptoSessionPrivateDataSize and NegotiateCryptoSessionKeyExchangeMT go
 * to keyd. Decoders, video processors and authenticated channels are not
 * keyd's here: those methods answer E_NOTIMPL (docs/wine-bridge.md says
 * why), GetVideoDecoderProfileCount has no profiles, and the decoder
 * queries answer as a driver without decoders does.
 *
 * A tear-off object: each QueryInterface from the device makes one, which
 * holds a reference on the device and forwards QueryInterface for anything
 * but its own interfaces back to it.
 */

#include <stdlib.h>

#include "bridge.h"

typedef struct video_device {
        ID3D11VideoDevice1 iface; /* its lpVtbl is a bridge_video_device2_vtbl */
        LONG refcount;
        ID3D11Device *device;
} video_device;

static video_device *impl(ID3D11VideoDevice1 *iface) {
        return CONTAINING_RECORD(iface, video_device, iface);
}

BOOL video_device_iid(REFIID riid) {
        return IsEqualGUID(riid, &IID_ID3D11VideoDevice) || IsEqualGUID(riid, &IID_ID3D11VideoDevice1) ||
               IsEqualGUID(riid, &bridge_IID_ID3D11VideoDevice2);
}

static HRESULT STDMETHODCALLTYPE vd_query_interface(ID3D11VideoDevice1 *iface, REFIID riid, void **out) {
        if (!out)
                return E_POINTER;
        if (video_device_iid(riid) || IsEqualGUID(riid, &IID_IUnknown)) {
                ID3D11VideoDevice1_AddRef(iface);
                *out = iface;
                return S_OK;
        }
        return ID3D11Device_QueryInterface(impl(iface)->device, riid, out);
}

static ULONG STDMETHODCALLTYPE vd_add_ref(ID3D11VideoDevice1 *iface) {
        return InterlockedIncrement(&impl(iface)->refcount);
}

static ULONG STDMETHODCALLTYPE vd_release(ID3D11VideoDevice1 *iface) {
        video_device *vd = impl(iface);
        ULONG n = InterlockedDecrement(&vd->refcount);

        if (n == 0) {
                ID3D11Device_Release(vd->device);
                free(vd);
        }
        return n;
}

static HRESULT STDMETHODCALLTYPE vd_get_content_protection_caps(ID3D11VideoDevice1 *iface, const GUID *crypto_type,
                                                                const GUID *decoder_profile,
                                                                D3D11_VIDEO_CONTENT_PROTECTION_CAPS *caps) {
        return keydwine()->get_content_protection_caps(crypto_type, decoder_profile, caps);
}

static HRESULT STDMETHODCALLTYPE vd_check_crypto_key_exchange(ID3D11VideoDevice1 *iface, const GUID *crypto_type,
                                                              const GUID *decoder_profile, UINT index,
                                                              GUID *key_exchange_type) {
        return keydwine()->check_crypto_key_exchange(crypto_type, decoder_profile, index, key_exchange_type);
}

static HRESULT STDMETHODCALLTYPE vd_create_crypto_session(ID3D11VideoDevice1 *iface, const GUID *crypto_type,
                                                          const GUID *decoder_profile,
                                                          const GUID *key_exchange_type,
                                                          ID3D11CryptoSession **ret) {
        if (!ret)
                return E_POINTER;
        *ret = NULL;
        return crypto_session_new(impl(iface)->device, crypto_type, decoder_profile, key_exchange_type, ret);
}

static UINT STDMETHODCALLTYPE vd_get_video_decoder_profile_count(ID3D11VideoDevice1 *iface) {
        return 0;
}

/* ---- ID3D11VideoDevice1 ---- */

static HRESULT STDMETHODCALLTYPE vd_get_crypto_session_private_data_size(ID3D11VideoDevice1 *iface,
                                                                         const GUID *crypto_type,
                                                                         const GUID *decoder_profile,
                                                                         const GUID *key_exchange_type,
                                                                         UINT *input_size, UINT *output_size) {
        return keydwine()->get_crypto_session_private_data_size(crypto_type, decoder_profile, key_exchange_type,
                                                                input_size, output_size);
}

/* No decoder profile exists here (GetVideoDecoderProfileCount is 0), so
 * every profile is one the driver does not know: E_INVALIDARG, the one
 * failure D3D11 documents for this method. */
static HRESULT STDMETHODCALLTYPE vd_get_video_decoder_caps(ID3D11VideoDevice1 *iface, const GUID *decoder_profile,
                                                           UINT width, UINT height, const DXGI_RATIONAL *frame_rate,
                                                           UINT bit_rate, const GUID *crypto_type, UINT *caps) {
        if (caps)
                *caps = 0;
        bridge_log(E_INVALIDARG, "GetVideoDecoderCaps: the keyd bridge has no video decoder profiles "
                   "(GetVideoDecoderProfileCount is 0); expected a profile from GetVideoDecoderProfile");
        return E_INVALIDARG;
}

/* ---- ID3D11VideoDevice2 ---- */

/* D3D11_FEATURE_VIDEO_DECODER_HISTOGRAM: no decoder, so no histogram
 * components (what a driver without the feature reports). */
static HRESULT STDMETHODCALLTYPE vd_check_feature_support(ID3D11VideoDevice1 *iface, UINT feature, void *data,
                                                          UINT data_size) {
        bridge_feature_data_video_decoder_histogram *histogram = data;

        if (feature != BRIDGE_FEATURE_VIDEO_DECODER_HISTOGRAM) {
                bridge_log(E_INVALIDARG, "CheckFeatureSupport: D3D11_FEATURE_VIDEO %u is unknown; expected "
                           "D3D11_FEATURE_VIDEO_DECODER_HISTOGRAM (0)", feature);
                return E_INVALIDARG;
        }
        if (!data || data_size != sizeof(*histogram)) {
                bridge_log(E_INVALIDARG, "CheckFeatureSupport: %u bytes at %p; expected a "
                           "D3D11_FEATURE_DATA_VIDEO_DECODER_HISTOGRAM of %u bytes", data_size, data,
                           (unsigned) sizeof(*histogram));
                return E_INVALIDARG;
        }
        histogram->Components = 0;
        histogram->BinCount = 0;
        histogram->CounterBitDepth = 0;
        return S_OK;
}

/* The multithreaded form of ID3D11VideoContext::NegotiateCryptoSessionKeyExchange:
 * libkeyd is thread-safe, so it is the same call. */
static HRESULT STDMETHODCALLTYPE vd_negotiate_crypto_session_key_exchange_mt(ID3D11VideoDevice1 *iface,
                                                                             ID3D11CryptoSession *session,
                                                                             UINT flags, UINT data_size,
                                                                             void *data) {
        keyd_crypto_session *s = crypto_session_keyd(session);

        if (!s) {
                bridge_log(E_INVALIDARG, "NegotiateCryptoSessionKeyExchangeMT: pCryptoSession is %s, expected a "
                           "session from ID3D11VideoDevice::CreateCryptoSession",
                           session ? "not a keyd crypto session" : "NULL");
                return E_INVALIDARG;
        }
        if (flags != 0) {
                bridge_log(E_INVALIDARG, "NegotiateCryptoSessionKeyExchangeMT: flags 0x%X; expected "
                           "D3D11_CRYPTO_SESSION_KEY_EXCHANGE_FLAG_NONE (0)", flags);
                return E_INVALIDARG;
        }
        return keydwine()->negotiate(s, data_size, data);
}

static HRESULT STDMETHODCALLTYPE vd_not_implemented(void) {
        return E_NOTIMPL;
}

static bridge_video_device2_vtbl vtbl2;

static BOOL CALLBACK init_vtbl(INIT_ONCE *once, void *param, void **context) {
        ID3D11VideoDevice1Vtbl *vtbl = &vtbl2.base;
        void **slot = (void **) &vtbl2;

        /* Every method keyd has nothing for answers E_NOTIMPL (also the void
         * ones: the caller ignores rax). */
        for (size_t i = 0; i < sizeof(vtbl2) / sizeof(void *); i++)
                slot[i] = (void *) vd_not_implemented;
        vtbl->QueryInterface = vd_query_interface;
        vtbl->AddRef = vd_add_ref;
        vtbl->Release = vd_release;
        vtbl->GetContentProtectionCaps = vd_get_content_protection_caps;
        vtbl->CheckCryptoKeyExchange = vd_check_crypto_key_exchange;
        vtbl->CreateCryptoSession = vd_create_crypto_session;
        vtbl->GetVideoDecoderProfileCount = vd_get_video_decoder_profile_count;
        vtbl->GetCryptoSessionPrivateDataSize = vd_get_crypto_session_private_data_size;
        vtbl->GetVideoDecoderCaps = vd_get_video_decoder_caps;
        vtbl2.CheckFeatureSupport = vd_check_feature_support;
        vtbl2.NegotiateCryptoSessionKeyExchangeMT = vd_negotiate_crypto_session_key_exchange_mt;
        return TRUE;
}

HRESULT video_device_new(ID3D11Device *device, REFIID riid, void **ret) {
        static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
        video_device *vd;

        *ret = NULL;
        if (!video_device_iid(riid))
                return E_NOINTERFACE;
        InitOnceExecuteOnce(&once, init_vtbl, NULL, NULL);
        vd = calloc(1, sizeof(*vd));
        if (!vd)
                return E_OUTOFMEMORY;
        vd->iface.lpVtbl = &vtbl2.base;
        vd->refcount = 1;
        vd->device = device;
        ID3D11Device_AddRef(device);
        /* Every interface it answers is this one object. */
        *ret = &vd->iface;
        return S_OK;
}
