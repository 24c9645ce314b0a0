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
 * Bytes of a texture are those of its first subresource, rows packed:
 * uncompressed formats with a whole number of bytes per pixel, and the
 * video formats NV12, P010/P016 (a luma plane of Height rows, then a
 * chroma plane of Height/2 rows of the same width in bytes) and YUY2 (two
 * bytes per pixel). No sub-rectangle (D3D11: "This method does not support
 * writing to sub-rectangles of the surface").
 *
 * Every size is computed in 64 bits and checked before anything is
 * allocated: Wine 8.0 creates textures beyond D3D11's 16384 limit, whose
 * byte size wraps a 32-bit UINT.
 */

#include <stdint.h>
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

HRESULT texture_layout_get(const char *what, const D3D11_TEXTURE2D_DESC *desc, texture_layout *ret) {
        UINT64 width = desc->Width, height = desc->Height;
        texture_layout l = { 0 };
        BOOL even_width = FALSE, even_height = FALSE;

        switch (desc->Format) {
        case DXGI_FORMAT_NV12: /* 8-bit luma rows, then Height/2 rows of interleaved 8-bit U, V */
                l.row_bytes = width;
                l.rows = height + height / 2;
                even_width = even_height = TRUE;
                break;
        case DXGI_FORMAT_P010: /* as NV12, 16 bits a sample */
        case DXGI_FORMAT_P016:
                l.row_bytes = width * 2;
                l.rows = height + height / 2;
                even_width = even_height = TRUE;
                break;
        case DXGI_FORMAT_YUY2: /* Y0 U Y1 V: four bytes for two pixels */
                l.row_bytes = width * 2;
                l.rows = height;
                even_width = TRUE;
                break;
        default:
                l.row_bytes = width * bytes_per_pixel(desc->Format);
                l.rows = height;
                if (l.row_bytes == 0 && width != 0) {
                        bridge_log(E_INVALIDARG, "%s: DXGI format %u is not one the keyd bridge maps to bytes; "
                                   "expected an uncompressed format such as DXGI_FORMAT_R8G8B8A8_UNORM, or "
                                   "NV12, P010, P016, YUY2", what, (unsigned) desc->Format);
                        return E_INVALIDARG;
                }
        }
        if (width == 0 || height == 0 || width > D3D11_REQ_TEXTURE2D_U_OR_V_DIMENSION ||
            height > D3D11_REQ_TEXTURE2D_U_OR_V_DIMENSION) {
                bridge_log(E_INVALIDARG, "%s: the texture is %llux%llu; expected 1 to %u "
                           "(D3D11_REQ_TEXTURE2D_U_OR_V_DIMENSION) in each dimension", what,
                           (unsigned long long) width, (unsigned long long) height,
                           (unsigned) D3D11_REQ_TEXTURE2D_U_OR_V_DIMENSION);
                return E_INVALIDARG;
        }
        if ((even_width && width % 2) || (even_height && height % 2)) {
                bridge_log(E_INVALIDARG, "%s: a DXGI format %u texture of %llux%llu; expected an even %s for "
                           "this subsampled video format", what, (unsigned) desc->Format,
                           (unsigned long long) width, (unsigned long long) height,
                           even_width && width % 2 ? "width" : "height");
                return E_INVALIDARG;
        }
        /* Both factors are at most 16384 * 16 and 16384 * 3 / 2: no 64-bit overflow. */
        l.size = l.row_bytes * l.rows;
        if (l.size > UINT32_MAX) {
                bridge_log(E_INVALIDARG, "%s: the texture holds %llu bytes; expected at most %u (keyd surfaces "
                           "and the D3D11 sizes are 32-bit)", what, (unsigned long long) l.size,
                           (unsigned) UINT32_MAX);
                return E_INVALIDARG;
        }
        *ret = l;
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

/* A staging texture like the first subresource of desc, with cpu_access. */
static HRESULT staging_like(ID3D11Texture2D *texture, UINT cpu_access, ID3D11Texture2D **ret) {
        D3D11_TEXTURE2D_DESC desc;
        ID3D11Device *device = NULL;
        HRESULT hr;

        ID3D11Texture2D_GetDesc(texture, &desc);
        desc.MipLevels = 1;
        desc.ArraySize = 1;
        desc.Usage = D3D11_USAGE_STAGING;
        desc.BindFlags = 0;
        desc.CPUAccessFlags = cpu_access;
        desc.MiscFlags = 0;
        ID3D11Texture2D_GetDevice(texture, &device);
        hr = ID3D11Device_CreateTexture2D(device, &desc, NULL, ret);
        ID3D11Device_Release(device);
        return hr;
}

/* A CPU-readable copy of the texture's first subresource (or the texture
 * itself, AddRef'd, when it already is one). */
static HRESULT readable_copy(ID3D11Texture2D *texture, ID3D11DeviceContext *context, ID3D11Texture2D **ret) {
        D3D11_TEXTURE2D_DESC desc;
        HRESULT hr;

        ID3D11Texture2D_GetDesc(texture, &desc);
        if (desc.Usage == D3D11_USAGE_STAGING && (desc.CPUAccessFlags & D3D11_CPU_ACCESS_READ)) {
                ID3D11Texture2D_AddRef(texture);
                *ret = texture;
                return S_OK;
        }
        hr = staging_like(texture, D3D11_CPU_ACCESS_READ, ret);
        if (FAILED(hr))
                return hr;
        ID3D11DeviceContext_CopySubresourceRegion(context, (ID3D11Resource *) *ret, 0, 0, 0, 0,
                                                  (ID3D11Resource *) texture, 0, NULL);
        return S_OK;
}

/* Copy the packed rows of l between memory and a mapped subresource (the
 * chroma plane of a planar format follows the luma plane at the same
 * pitch, as D3D11 maps it). */
static void copy_rows(const texture_layout *l, BYTE *packed, const D3D11_MAPPED_SUBRESOURCE *mapped, BOOL to_mapped) {
        for (UINT64 y = 0; y < l->rows; y++) {
                BYTE *row = (BYTE *) mapped->pData + (size_t) (y * mapped->RowPitch);

                if (to_mapped)
                        memcpy(row, packed + (size_t) (y * l->row_bytes), (size_t) l->row_bytes);
                else
                        memcpy(packed + (size_t) (y * l->row_bytes), row, (size_t) l->row_bytes);
        }
}

HRESULT texture_read_bytes(ID3D11Texture2D *texture, BYTE **ret, UINT *ret_size) {
        D3D11_MAPPED_SUBRESOURCE mapped;
        D3D11_TEXTURE2D_DESC desc;
        ID3D11DeviceContext *context;
        ID3D11Texture2D *copy = NULL;
        texture_layout l;
        BYTE *data;
        HRESULT hr;

        ID3D11Texture2D_GetDesc(texture, &desc);
        hr = texture_layout_get("DecryptionBlt: pSrcSurface", &desc, &l);
        if (FAILED(hr))
                return hr;
        data = malloc((size_t) l.size);
        if (!data) {
                bridge_log(E_OUTOFMEMORY, "DecryptionBlt: no memory for pSrcSurface's %llu bytes; expected "
                           "that much free memory in the process",
                           (unsigned long long) l.size);
                return E_OUTOFMEMORY;
        }

        context = immediate_context(texture);
        hr = readable_copy(texture, context, &copy);
        if (SUCCEEDED(hr))
                hr = ID3D11DeviceContext_Map(context, (ID3D11Resource *) copy, 0, D3D11_MAP_READ, 0, &mapped);
        if (SUCCEEDED(hr)) {
                copy_rows(&l, data, &mapped, FALSE);
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
        *ret_size = (UINT) l.size;
        return S_OK;
}

/* CopySubresourceRegion from the temporary staging texture into the
 * read-only destination, then read the destination back: Wine 8.0's
 * wined3d cannot copy every format between staging textures (NV12 comes
 * out unchanged), and a read-back that silently leaves other bytes is what
 * must not happen. The bytes are ciphertext under the read-back key. */
static HRESULT copy_and_verify(ID3D11DeviceContext *context, ID3D11Texture2D *texture, ID3D11Texture2D *temporary,
                               const texture_layout *l, const BYTE *data) {
        D3D11_MAPPED_SUBRESOURCE mapped;
        BOOL same = TRUE;
        HRESULT hr;

        ID3D11DeviceContext_CopySubresourceRegion(context, (ID3D11Resource *) texture, 0, 0, 0, 0,
                                                  (ID3D11Resource *) temporary, 0, NULL);
        hr = ID3D11DeviceContext_Map(context, (ID3D11Resource *) texture, 0, D3D11_MAP_READ, 0, &mapped);
        if (FAILED(hr)) {
                bridge_log(hr, "EncryptionBlt: cannot map pDstSurface to check the copy into it; expected a "
                           "staging texture with D3D11_CPU_ACCESS_READ that is not mapped");
                return hr;
        }
        for (UINT64 y = 0; y < l->rows && same; y++)
                same = memcmp((const BYTE *) mapped.pData + (size_t) (y * mapped.RowPitch),
                              data + (size_t) (y * l->row_bytes), (size_t) l->row_bytes) == 0;
        ID3D11DeviceContext_Unmap(context, (ID3D11Resource *) texture, 0);
        if (!same) {
                D3D11_TEXTURE2D_DESC desc;

                ID3D11Texture2D_GetDesc(texture, &desc);
                bridge_log(E_FAIL, "EncryptionBlt: the device did not copy the read-back into pDstSurface (a "
                           "staging texture without D3D11_CPU_ACCESS_WRITE, DXGI format %u, which this Wine "
                           "cannot copy); expected a staging destination with D3D11_CPU_ACCESS_WRITE for this "
                           "format", (unsigned) desc.Format);
                return E_FAIL;
        }
        return S_OK;
}

HRESULT texture_write_bytes(ID3D11Texture2D *texture, const BYTE *data, UINT size) {
        D3D11_MAPPED_SUBRESOURCE mapped;
        D3D11_TEXTURE2D_DESC desc;
        ID3D11DeviceContext *context;
        ID3D11Texture2D *target = NULL;
        texture_layout l;
        HRESULT hr;

        ID3D11Texture2D_GetDesc(texture, &desc);
        hr = texture_layout_get("EncryptionBlt: pDstSurface", &desc, &l);
        if (FAILED(hr))
                return hr;
        if (size < l.size) {
                bridge_log(E_INVALIDARG, "EncryptionBlt: %u bytes for pDstSurface of %llu; expected at least as many",
                           size, (unsigned long long) l.size);
                return E_INVALIDARG;
        }
        context = immediate_context(texture);
        if (desc.Usage == D3D11_USAGE_DEFAULT) {
                /* Planar formats: UpdateSubresource takes the luma pitch for both planes. */
                ID3D11DeviceContext_UpdateSubresource(context, (ID3D11Resource *) texture, 0, NULL, data,
                                                      (UINT) l.row_bytes, 0);
                ID3D11DeviceContext_Release(context);
                return S_OK;
        }

        /* A staging texture the CPU may write is mapped directly. D3D11
         * asks for a staging destination, and the natural one is
         * CPU_ACCESS_READ only: that cannot be mapped for writing, so the
         * bytes go through a temporary WRITE staging texture and a GPU copy. */
        if (desc.Usage == D3D11_USAGE_STAGING && (desc.CPUAccessFlags & D3D11_CPU_ACCESS_WRITE)) {
                target = texture;
                ID3D11Texture2D_AddRef(target);
        } else if (desc.Usage == D3D11_USAGE_STAGING) {
                hr = staging_like(texture, D3D11_CPU_ACCESS_WRITE, &target);
                if (FAILED(hr))
                        bridge_log(hr, "EncryptionBlt: cannot create a staging texture to write pDstSurface "
                                   "through; expected the device to create one like it");
        } else {
                hr = E_INVALIDARG;
                bridge_log(hr, "EncryptionBlt: pDstSurface has D3D11_USAGE %u; expected D3D11_USAGE_STAGING "
                           "(or DEFAULT)", (unsigned) desc.Usage);
        }
        if (SUCCEEDED(hr)) {
                hr = ID3D11DeviceContext_Map(context, (ID3D11Resource *) target, 0, D3D11_MAP_WRITE, 0, &mapped);
                if (SUCCEEDED(hr)) {
                        copy_rows(&l, (BYTE *) data, &mapped, TRUE);
                        ID3D11DeviceContext_Unmap(context, (ID3D11Resource *) target, 0);
                        if (target != texture)
                                hr = copy_and_verify(context, texture, target, &l, data);
                } else
                        bridge_log(hr, "EncryptionBlt: cannot map pDstSurface for writing; expected a "
                                   "staging texture that is not mapped");
        }
        if (target)
                ID3D11Texture2D_Release(target);
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

HRESULT protected_surface_get(const char *what, ID3D11CryptoSession *session, ID3D11Texture2D *texture,
                              UINT *ret_surface, UINT *ret_size) {
        keyd_crypto_session *s = crypto_session_keyd(session);
        surface_link *link = find_link(texture);
        D3D11_TEXTURE2D_DESC desc;
        texture_layout layout;
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
        hr = texture_layout_get(what, &desc, &layout);
        if (FAILED(hr))
                return hr;

        link = calloc(1, sizeof(*link));
        if (!link)
                return E_OUTOFMEMORY;
        link->iface.lpVtbl = &link_vtbl;
        link->refcount = 1;
        link->size = (UINT) layout.size;
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
                bridge_log(hr, "SetPrivateDataInterface: cannot attach the keyd surface to the texture; "
                           "expected the texture to accept private data");
        IUnknown_Release(&link->iface);
        return hr;
}
