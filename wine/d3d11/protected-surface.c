/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Textures as keyd sees them.
 *
 * A protected texture (DecryptionBlt's destination, EncryptionBlt's source)
 * stands for a keyd surface of the texture's byte size, created in the
 * session the first time the texture is used with it. The link lives in
 * the texture's private data as an IUnknown, so the texture's destruction
 * releases it, and the link's last Release destroys the keyd surface.
 * A texture used with another session gets a new surface there (the old
 * one is dropped: D3D11 protected memory belongs to one session).
 *
 * Bytes of a texture are those of its first subresource, rows packed
 * (width * bytes per pixel); only uncompressed formats with a whole number
 * of bytes per pixel are known (see bytes_per_pixel), and no sub-rectangle
 * (D3D11: "This method does not support writing to sub-rectangles of the
 * surface").
 */

#include <stdlib.h>
#include <string.h>

#include "bridge.h"

/* {6b3f1f2e-1c55-4d1a-9b8e-6b6579642d31}: keyd's link in a texture's private data */
static const GUID link_guid = { 0x6b3f1f2e, 0x1c55, 0x4d1a, { 0x9b, 0x8e, 0x6b, 0x65, 0x79, 0x64, 0x2d, 0x31 } };

static UINT bytes_per_pixel(DXGI_FORMAT format) {
        switch (format) {
        case DXGI_FORMAT_R8_TYPELESS:
        case DXGI_FORMAT_R8_UNORM:
        case DXGI_FORMAT_R8_UINT:
        case DXGI_FORMAT_A8_UNORM:
                return 1;
        case DXGI_FORMAT_R8G8_TYPELESS:
        case DXGI_FORMAT_R8G8_UNORM:
        case DXGI_FORMAT_R8G8_UINT:
        case DXGI_FORMAT_R16_TYPELESS:
        case DXGI_FORMAT_R16_UNORM:
        case DXGI_FORMAT_R16_UINT:
                return 2;
        case DXGI_FORMAT_R8G8B8A8_TYPELESS:
        case DXGI_FORMAT_R8G8B8A8_UNORM:
        case DXGI_FORMAT_R8G8B8A8_UINT:
        case DXGI_FORMAT_B8G8R8A8_TYPELESS:
        case DXGI_FORMAT_B8G8R8A8_UNORM:
        case DXGI_FORMAT_B8G8R8X8_UNORM:
        case DXGI_FORMAT_R32_TYPELESS:
        case DXGI_FORMAT_R32_UINT:
                return 4;
        case DXGI_FORMAT_R16G16B16A16_TYPELESS:
        case DXGI_FORMAT_R16G16B16A16_UNORM:
        case DXGI_FORMAT_R16G16B16A16_UINT:
        case DXGI_FORMAT_R32G32_TYPELESS:
        case DXGI_FORMAT_R32G32_UINT:
                return 8;
        case DXGI_FORMAT_R32G32B32A32_TYPELESS:
        case DXGI_FORMAT_R32G32B32A32_UINT:
                return 16;
        default:
                return 0;
        }
}

static UINT row_bytes(const D3D11_TEXTURE2D_DESC *desc) {
        return desc->Width * bytes_per_pixel(desc->Format);
}

UINT texture_byte_size(ID3D11Texture2D *texture) {
        D3D11_TEXTURE2D_DESC desc;

        ID3D11Texture2D_GetDesc(texture, &desc);
        return row_bytes(&desc) * desc.Height;
}

static HRESULT known_format(const char *what, const D3D11_TEXTURE2D_DESC *desc) {
        if (bytes_per_pixel(desc->Format) == 0) {
                bridge_log(E_INVALIDARG, "%s: DXGI format %u is not one the keyd bridge maps to bytes; expected "
                           "an uncompressed format such as DXGI_FORMAT_R8G8B8A8_UNORM or DXGI_FORMAT_R8_UINT",
                           what, (unsigned) desc->Format);
                return E_INVALIDARG;
        }
        return S_OK;
}

static ID3D11DeviceContext *immediate_context(ID3D11Texture2D *texture) {
        ID3D11DeviceContext *context = NULL;
        ID3D11Device *device = NULL;

        ID3D11Texture2D_GetDevice(texture, &device);
        ID3D11Device_GetImmediateContext(device, &context);
        ID3D11Device_Release(device);
        return context;
}

/* A CPU-readable copy of the texture's first subresource (or the texture
 * itself, AddRef'd, when it already is one). */
static HRESULT readable_copy(ID3D11Texture2D *texture, ID3D11DeviceContext *context, ID3D11Texture2D **ret) {
        D3D11_TEXTURE2D_DESC desc;
        ID3D11Device *device = NULL;
        HRESULT hr;

        ID3D11Texture2D_GetDesc(texture, &desc);
        if (desc.Usage == D3D11_USAGE_STAGING && (desc.CPUAccessFlags & D3D11_CPU_ACCESS_READ)) {
                ID3D11Texture2D_AddRef(texture);
                *ret = texture;
                return S_OK;
        }
        desc.MipLevels = 1;
        desc.ArraySize = 1;
        desc.Usage = D3D11_USAGE_STAGING;
        desc.BindFlags = 0;
        desc.CPUAccessFlags = D3D11_CPU_ACCESS_READ;
        desc.MiscFlags = 0;
        ID3D11Texture2D_GetDevice(texture, &device);
        hr = ID3D11Device_CreateTexture2D(device, &desc, NULL, ret);
        ID3D11Device_Release(device);
        if (FAILED(hr))
                return hr;
        ID3D11DeviceContext_CopySubresourceRegion(context, (ID3D11Resource *) *ret, 0, 0, 0, 0,
                                                  (ID3D11Resource *) texture, 0, NULL);
        return S_OK;
}

HRESULT texture_read_bytes(ID3D11Texture2D *texture, BYTE **ret, UINT *ret_size) {
        D3D11_MAPPED_SUBRESOURCE mapped;
        D3D11_TEXTURE2D_DESC desc;
        ID3D11DeviceContext *context;
        ID3D11Texture2D *copy = NULL;
        UINT row, size;
        BYTE *data;
        HRESULT hr;

        ID3D11Texture2D_GetDesc(texture, &desc);
        hr = known_format("DecryptionBlt: pSrcSurface", &desc);
        if (FAILED(hr))
                return hr;
        row = row_bytes(&desc);
        size = row * desc.Height;
        data = malloc(size);
        if (!data)
                return E_OUTOFMEMORY;

        context = immediate_context(texture);
        hr = readable_copy(texture, context, &copy);
        if (SUCCEEDED(hr))
                hr = ID3D11DeviceContext_Map(context, (ID3D11Resource *) copy, 0, D3D11_MAP_READ, 0, &mapped);
        if (SUCCEEDED(hr)) {
                for (UINT y = 0; y < desc.Height; y++)
                        memcpy(data + (size_t) y * row, (const BYTE *) mapped.pData + (size_t) y * mapped.RowPitch,
                               row);
                ID3D11DeviceContext_Unmap(context, (ID3D11Resource *) copy, 0);
        } else
                bridge_log(hr, "DecryptionBlt: cannot read pSrcSurface's bytes; expected a texture the "
                           "device can copy to a staging texture and map");
        if (copy)
                ID3D11Texture2D_Release(copy);
        ID3D11DeviceContext_Release(context);

        if (FAILED(hr)) {
                free(data);
                return hr;
        }
        *ret = data;
        *ret_size = size;
        return S_OK;
}

HRESULT texture_write_bytes(ID3D11Texture2D *texture, const BYTE *data, UINT size) {
        D3D11_MAPPED_SUBRESOURCE mapped;
        D3D11_TEXTURE2D_DESC desc;
        ID3D11DeviceContext *context;
        HRESULT hr = S_OK;
        UINT row;

        ID3D11Texture2D_GetDesc(texture, &desc);
        row = row_bytes(&desc);
        if (row == 0 || size < row * desc.Height)
                return E_INVALIDARG;
        context = immediate_context(texture);
        if (desc.Usage == D3D11_USAGE_STAGING && (desc.CPUAccessFlags & D3D11_CPU_ACCESS_WRITE)) {
                hr = ID3D11DeviceContext_Map(context, (ID3D11Resource *) texture, 0, D3D11_MAP_WRITE, 0, &mapped);
                if (SUCCEEDED(hr)) {
                        for (UINT y = 0; y < desc.Height; y++)
                                memcpy((BYTE *) mapped.pData + (size_t) y * mapped.RowPitch, data + (size_t) y * row,
                                       row);
                        ID3D11DeviceContext_Unmap(context, (ID3D11Resource *) texture, 0);
                } else
                        bridge_log(hr, "EncryptionBlt: cannot map pDstSurface for writing; expected a "
                                   "staging texture that is not mapped");
        } else
                ID3D11DeviceContext_UpdateSubresource(context, (ID3D11Resource *) texture, 0, NULL, data, row, 0);
        ID3D11DeviceContext_Release(context);
        return hr;
}

/* ---- the texture's link to its keyd surface ---- */

typedef struct surface_link {
        IUnknown iface;
        LONG refcount;
        ID3D11CryptoSession *session; /* a reference: the surface lives in it */
        UINT surface;
        UINT size;
} surface_link;

static const IUnknownVtbl link_vtbl;

static surface_link *link_impl(IUnknown *iface) {
        return CONTAINING_RECORD(iface, surface_link, iface);
}

static HRESULT STDMETHODCALLTYPE link_query_interface(IUnknown *iface, REFIID riid, void **out) {
        if (IsEqualGUID(riid, &IID_IUnknown)) {
                IUnknown_AddRef(iface);
                *out = iface;
                return S_OK;
        }
        *out = NULL;
        return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE link_add_ref(IUnknown *iface) {
        return InterlockedIncrement(&link_impl(iface)->refcount);
}

static ULONG STDMETHODCALLTYPE link_release(IUnknown *iface) {
        surface_link *link = link_impl(iface);
        ULONG n = InterlockedDecrement(&link->refcount);

        if (n == 0) {
                HRESULT hr = keydwine()->destroy_surface(crypto_session_keyd(link->session), link->surface);

                /* The session may be gone in keyd already (its client closed). */
                if (FAILED(hr) && hr != DXGI_ERROR_DEVICE_REMOVED)
                        bridge_log_failure("DestroySurface", hr);
                ID3D11CryptoSession_Release(link->session);
                free(link);
        }
        return n;
}

static const IUnknownVtbl link_vtbl = {
        .QueryInterface = link_query_interface,
        .AddRef = link_add_ref,
        .Release = link_release,
};

/* The texture's link, if it has one of ours (a reference). */
static surface_link *find_link(ID3D11Texture2D *texture) {
        IUnknown *unknown = NULL;
        UINT size = sizeof(unknown);

        if (FAILED(ID3D11Texture2D_GetPrivateData(texture, &link_guid, &size, &unknown)) || !unknown)
                return NULL;
        if (size != sizeof(unknown) || unknown->lpVtbl != &link_vtbl) {
                IUnknown_Release(unknown);
                return NULL;
        }
        return link_impl(unknown);
}

HRESULT protected_surface_get(ID3D11CryptoSession *session, ID3D11Texture2D *texture, UINT *ret_surface,
                              UINT *ret_size) {
        keyd_crypto_session *s = crypto_session_keyd(session);
        surface_link *link = find_link(texture);
        D3D11_TEXTURE2D_DESC desc;
        HRESULT hr;

        if (link && link->session == session) {
                *ret_surface = link->surface;
                *ret_size = link->size;
                IUnknown_Release(&link->iface);
                return S_OK;
        }
        if (link)
                IUnknown_Release(&link->iface);

        ID3D11Texture2D_GetDesc(texture, &desc);
        hr = known_format("protected surface", &desc);
        if (FAILED(hr))
                return hr;

        link = calloc(1, sizeof(*link));
        if (!link)
                return E_OUTOFMEMORY;
        link->iface.lpVtbl = &link_vtbl;
        link->refcount = 1;
        link->size = row_bytes(&desc) * desc.Height;
        hr = keydwine()->create_surface(s, link->size, &link->surface);
        if (FAILED(hr)) {
                bridge_log_failure("CreateSurface", hr);
                free(link);
                return hr;
        }
        link->session = session;
        ID3D11CryptoSession_AddRef(session);

        /* The texture now owns the link (and replaces any older one). */
        hr = ID3D11Texture2D_SetPrivateDataInterface(texture, &link_guid, &link->iface);
        if (SUCCEEDED(hr)) {
                *ret_surface = link->surface;
                *ret_size = link->size;
        } else
                bridge_log(hr, "SetPrivateDataInterface: cannot attach the keyd surface to the texture");
        IUnknown_Release(&link->iface);
        return hr;
}
