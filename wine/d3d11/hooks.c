/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Teaching Wine's device and immediate context the video interfaces.
 *
 * Wrapping ID3D11Device and ID3D11DeviceContext whole would mean forwarding
 * some 200 methods and keeping COM identity right across dxgi's
 * aggregation. Instead the QueryInterface slot of Wine's own vtables (one
 * static table per interface, shared by every device of the process) is
 * replaced once: the new QueryInterface answers ID3D11VideoDevice or
 * ID3D11VideoContext with a tear-off object of this proxy and hands every
 * other interface to Wine's original. Only QueryInterface through the
 * ID3D11Device* / ID3D11DeviceContext* pointers is covered; QueryInterface
 * from dxgi's IDXGIDevice goes to Wine alone.
 */

#include "bridge.h"

static HRESULT(STDMETHODCALLTYPE *device_query_interface)(ID3D11Device *, REFIID, void **);
static HRESULT(STDMETHODCALLTYPE *context_query_interface)(ID3D11DeviceContext *, REFIID, void **);

static HRESULT STDMETHODCALLTYPE hooked_device_query_interface(ID3D11Device *device, REFIID riid, void **out) {
        if (out && IsEqualGUID(riid, &IID_ID3D11VideoDevice) && keydwine()) {
                *out = NULL;
                return video_device_new(device, (ID3D11VideoDevice **) out);
        }
        return device_query_interface(device, riid, out);
}

static HRESULT STDMETHODCALLTYPE hooked_context_query_interface(ID3D11DeviceContext *context, REFIID riid,
                                                                void **out) {
        if (out && IsEqualGUID(riid, &IID_ID3D11VideoContext) && keydwine()) {
                *out = NULL;
                return video_context_new(context, (ID3D11VideoContext **) out);
        }
        return context_query_interface(context, riid, out);
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
