/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Teaching Wine's device and immediate context the video interfaces.
 *
 * Wrapping ID3D11Device and ID3D11DeviceContext whole would mean forwarding
 * some 200 methods and keeping COM identity right across dxgi's
 * aggregation. Instead the QueryInterface slot of Wine's own vtables (one
 * static table per interface, shared by every device of the process) is
 * replaced once: the new QueryInterface answers ID3D11VideoDevice/1/2 or
 * ID3D11VideoContext/1/2/3 with a tear-off object of this proxy and hands
 * every other interface to Wine's original. dxgi's IDXGIDevice (the outer
 * object of Wine's aggregated device) asks d3d11's inner IUnknown, not the
 * ID3D11Device vtable, so its QueryInterface slot is replaced as well: the
 * video device interfaces are reachable from ID3D11Device and IDXGIDevice,
 * the video context interfaces from ID3D11DeviceContext.
 */

#include "bridge.h"

static HRESULT(STDMETHODCALLTYPE *device_query_interface)(ID3D11Device *, REFIID, void **);
static HRESULT(STDMETHODCALLTYPE *context_query_interface)(ID3D11DeviceContext *, REFIID, void **);
static HRESULT(STDMETHODCALLTYPE *dxgi_device_query_interface)(IDXGIDevice *, REFIID, void **);

static HRESULT STDMETHODCALLTYPE hooked_device_query_interface(ID3D11Device *device, REFIID riid, void **out) {
        if (out && video_device_iid(riid) && keydwine())
                return video_device_new(device, riid, out);
        return device_query_interface(device, riid, out);
}

static HRESULT STDMETHODCALLTYPE hooked_context_query_interface(ID3D11DeviceContext *context, REFIID riid,
                                                                void **out) {
        if (out && video_context_iid(riid) && keydwine())
                return video_context_new(context, riid, out);
        return context_query_interface(context, riid, out);
}

static HRESULT STDMETHODCALLTYPE hooked_dxgi_device_query_interface(IDXGIDevice *dxgi, REFIID riid, void **out) {
        ID3D11Device *device = NULL;
        HRESULT hr;

        if (!out || !video_device_iid(riid) || !keydwine())
                return dxgi_device_query_interface(dxgi, riid, out);
        hr = dxgi_device_query_interface(dxgi, &IID_ID3D11Device, (void **) &device);
        if (FAILED(hr)) {
                *out = NULL;
                return E_NOINTERFACE; /* a dxgi device of another API (d3d10 only) */
        }
        hr = video_device_new(device, riid, out);
        ID3D11Device_Release(device);
        return hr;
}

/* Replace the first slot (QueryInterface) of a vtable in Wine's read-only
 * data; *original receives what was there. */
static BOOL patch_slot(void **slot, void *hook, void **original) {
        DWORD old;

        if (!VirtualProtect(slot, sizeof(*slot), PAGE_READWRITE, &old)) {
                bridge_log(HRESULT_FROM_WIN32(GetLastError()), "VirtualProtect of Wine's d3d11 vtable failed; "
                           "expected to patch its QueryInterface. No video interfaces.");
                return FALSE;
        }
        *original = *slot;
        *slot = hook;
        VirtualProtect(slot, sizeof(*slot), old, &old);
        FlushInstructionCache(GetCurrentProcess(), slot, sizeof(*slot));
        return TRUE;
}

static BOOL CALLBACK hook_once(INIT_ONCE *once, void *param, void **context) {
        ID3D11Device *device = param;
        ID3D11DeviceContext *immediate = NULL;
        IDXGIDevice *dxgi = NULL;

        /* IDXGIDevice first, through Wine's own QueryInterface. */
        if (SUCCEEDED(ID3D11Device_QueryInterface(device, &IID_IDXGIDevice, (void **) &dxgi))) {
                patch_slot((void **) &dxgi->lpVtbl->QueryInterface, (void *) hooked_dxgi_device_query_interface,
                           (void **) &dxgi_device_query_interface);
                IDXGIDevice_Release(dxgi);
        }
        patch_slot((void **) &device->lpVtbl->QueryInterface, (void *) hooked_device_query_interface,
                   (void **) &device_query_interface);
        ID3D11Device_GetImmediateContext(device, &immediate);
        if (immediate) {
                patch_slot((void **) &immediate->lpVtbl->QueryInterface, (void *) hooked_context_query_interface,
                           (void **) &context_query_interface);
                ID3D11DeviceContext_Release(immediate);
        }
        return TRUE;
}

void hook_device(ID3D11Device *device) {
        static INIT_ONCE once = INIT_ONCE_STATIC_INIT;

        /* Every Wine device shares these vtables: patching them once covers
         * all devices the process makes. */
        InitOnceExecuteOnce(&once, hook_once, device, NULL);
}
