/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * ID3D11VideoDevice: the content-protection queries and CreateCryptoSession
 * go to keyd. Decoders, video processors and authenticated channels are not
 * keyd's: those methods answer E_NOTIMPL (GetVideoDecoderProfileCount: no
 * profiles), as Wine's own later ID3D11VideoDevice does.
 *
 * A tear-off object: each QueryInterface from the device makes one, which
 * holds a reference on the device and forwards QueryInterface for anything
 * but itself back to it.
 */

#include <stdlib.h>

#include "bridge.h"

typedef struct video_device {
        ID3D11VideoDevice iface;
        LONG refcount;
        ID3D11Device *device;
} video_device;

static video_device *impl(ID3D11VideoDevice *iface) {
        return CONTAINING_RECORD(iface, video_device, iface);
}

static HRESULT STDMETHODCALLTYPE vd_query_interface(ID3D11VideoDevice *iface, REFIID riid, void **out) {
        if (!out)
                return E_POINTER;
        if (IsEqualGUID(riid, &IID_ID3D11VideoDevice) || IsEqualGUID(riid, &IID_IUnknown)) {
                ID3D11VideoDevice_AddRef(iface);
                *out = iface;
                return S_OK;
        }
        return ID3D11Device_QueryInterface(impl(iface)->device, riid, out);
}

static ULONG STDMETHODCALLTYPE vd_add_ref(ID3D11VideoDevice *iface) {
        return InterlockedIncrement(&impl(iface)->refcount);
}

static ULONG STDMETHODCALLTYPE vd_release(ID3D11VideoDevice *iface) {
        video_device *vd = impl(iface);
        ULONG n = InterlockedDecrement(&vd->refcount);

        if (n == 0) {
                ID3D11Device_Release(vd->device);
                free(vd);
        }
        return n;
}

static HRESULT STDMETHODCALLTYPE vd_get_content_protection_caps(ID3D11VideoDevice *iface, const GUID *crypto_type,
                                                                const GUID *decoder_profile,
                                                                D3D11_VIDEO_CONTENT_PROTECTION_CAPS *caps) {
        return keydwine()->get_content_protection_caps(crypto_type, decoder_profile, caps);
}

static HRESULT STDMETHODCALLTYPE vd_check_crypto_key_exchange(ID3D11VideoDevice *iface, const GUID *crypto_type,
                                                              const GUID *decoder_profile, UINT index,
                                                              GUID *key_exchange_type) {
        return keydwine()->check_crypto_key_exchange(crypto_type, decoder_profile, index, key_exchange_type);
}

static HRESULT STDMETHODCALLTYPE vd_create_crypto_session(ID3D11VideoDevice *iface, const GUID *crypto_type,
                                                          const GUID *decoder_profile,
                                                          const GUID *key_exchange_type,
                                                          ID3D11CryptoSession **ret) {
        if (!ret)
                return E_POINTER;
        *ret = NULL;
        return crypto_session_new(impl(iface)->device, crypto_type, decoder_profile, key_exchange_type, ret);
}

static UINT STDMETHODCALLTYPE vd_get_video_decoder_profile_count(ID3D11VideoDevice *iface) {
        return 0;
}

static HRESULT STDMETHODCALLTYPE vd_not_implemented(void) {
        return E_NOTIMPL;
}

static ID3D11VideoDeviceVtbl vtbl;

static BOOL CALLBACK init_vtbl(INIT_ONCE *once, void *param, void **context) {
        void **slot = (void **) &vtbl;

        /* Every method keyd has nothing for answers E_NOTIMPL (also the void
         * ones: the caller ignores rax). */
        for (size_t i = 0; i < sizeof(vtbl) / sizeof(void *); i++)
                slot[i] = (void *) vd_not_implemented;
        vtbl.QueryInterface = vd_query_interface;
        vtbl.AddRef = vd_add_ref;
        vtbl.Release = vd_release;
        vtbl.GetContentProtectionCaps = vd_get_content_protection_caps;
        vtbl.CheckCryptoKeyExchange = vd_check_crypto_key_exchange;
        vtbl.CreateCryptoSession = vd_create_crypto_session;
        vtbl.GetVideoDecoderProfileCount = vd_get_video_decoder_profile_count;
        return TRUE;
}

HRESULT video_device_new(ID3D11Device *device, ID3D11VideoDevice **ret) {
        static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
        video_device *vd;

        InitOnceExecuteOnce(&once, init_vtbl, NULL, NULL);
        vd = calloc(1, sizeof(*vd));
        if (!vd)
                return E_OUTOFMEMORY;
        vd->iface.lpVtbl = &vtbl;
        vd->refcount = 1;
        vd->device = device;
        ID3D11Device_AddRef(device);
        *ret = &vd->iface;
        return S_OK;
}
