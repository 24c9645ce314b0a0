/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Every export of Wine 8.0's d3d11.dll, forwarded to it. A .def forwarder
 * ("d3d11.Name") cannot name a module by path and would resolve to this
 * proxy itself, so each export is a small trampoline that looks the real
 * function up (once per call site is enough: GetProcAddress is cheap) and
 * jumps to it with the caller's registers and stack untouched.
 *
 * dxgi reaches d3d11 through GetProcAddress on the module named d3d11.dll
 * (D3D11CoreRegisterLayers, D3D11CoreGetLayeredDeviceSize,
 * D3D11CoreCreateLayeredDevice): those must be here too, or Wine's
 * D3D11CreateDevice fails.
 */

#include "bridge.h"

static HMODULE load_real(void) {
        WCHAR path[MAX_PATH];
        UINT n = GetSystemDirectoryW(path, MAX_PATH);
        HMODULE module;

        /* C:\windows\system32\d3d11.dll is Wine's builtin: by its full path it
         * loads beside this proxy instead of resolving to it. */
        if (n == 0 || n + sizeof("\\d3d11.dll") > MAX_PATH) {
                bridge_log(HRESULT_FROM_WIN32(GetLastError()),
                           "GetSystemDirectoryW failed; expected the path of system32");
                return NULL;
        }
        lstrcatW(path, L"\\d3d11.dll");
        module = LoadLibraryW(path);
        if (!module)
                bridge_log(HRESULT_FROM_WIN32(GetLastError()), "cannot load Wine's d3d11.dll from %ls; expected "
                           "Wine's builtin there", path);
        return module;
}

static HMODULE real;

static BOOL CALLBACK load_once(INIT_ONCE *once, void *param, void **context) {
        real = load_real();
        return TRUE;
}

HMODULE real_d3d11(void) {
        static INIT_ONCE once = INIT_ONCE_STATIC_INIT;

        InitOnceExecuteOnce(&once, load_once, NULL, NULL);
        return real;
}

/* Called by the trampolines: the real function, or one that fails. */
void *forward_resolve(const char *name);

static HRESULT WINAPI unavailable(void) {
        return E_FAIL;
}

void *forward_resolve(const char *name) {
        HMODULE module = real_d3d11();
        void *f = module ? (void *) GetProcAddress(module, name) : NULL;

        if (!f) {
                bridge_log(E_FAIL, "Wine's d3d11.dll has no %s (expected every export of Wine 8.0's "
                           "d3d11.spec); the call returns E_FAIL", name);
                return (void *) unavailable;
        }
        return f;
}

/* The four integer argument registers are saved around the lookup; the
 * stack stays 16-byte aligned for the call (8 for the return address + 32
 * pushed + 40 = 80) with the 32-byte shadow space the Windows x64 ABI asks
 * for. No d3d11 export takes floating-point arguments. */
#define FORWARD(name)                                                   \
        __asm__(".globl " #name "\n"                                    \
                ".def " #name "; .scl 2; .type 32; .endef\n"            \
                #name ":\n"                                             \
                "\tpush %rcx\n\tpush %rdx\n\tpush %r8\n\tpush %r9\n"    \
                "\tsub $40, %rsp\n"                                     \
                "\tlea forward_name_" #name "(%rip), %rcx\n"            \
                "\tcall forward_resolve\n"                              \
                "\tadd $40, %rsp\n"                                     \
                "\tpop %r9\n\tpop %r8\n\tpop %rdx\n\tpop %rcx\n"        \
                "\tjmp *%rax\n"                                         \
                ".section .rdata,\"dr\"\n"                              \
                "forward_name_" #name ": .asciz \"" #name "\"\n"        \
                ".text\n")

FORWARD(D3D11CoreCreateDevice);
FORWARD(D3D11CoreCreateLayeredDevice);
FORWARD(D3D11CoreGetLayeredDeviceSize);
FORWARD(D3D11CoreRegisterLayers);
FORWARD(D3D11On12CreateDevice);
FORWARD(D3DKMTCheckVidPnExclusiveOwnership);
FORWARD(D3DKMTCloseAdapter);
FORWARD(D3DKMTCreateAllocation);
FORWARD(D3DKMTCreateContext);
FORWARD(D3DKMTCreateDevice);
FORWARD(D3DKMTCreateSynchronizationObject);
FORWARD(D3DKMTDestroyAllocation);
FORWARD(D3DKMTDestroyContext);
FORWARD(D3DKMTDestroyDevice);
FORWARD(D3DKMTDestroySynchronizationObject);
FORWARD(D3DKMTEscape);
FORWARD(D3DKMTGetContextSchedulingPriority);
FORWARD(D3DKMTGetDeviceState);
FORWARD(D3DKMTGetDisplayModeList);
FORWARD(D3DKMTGetMultisampleMethodList);
FORWARD(D3DKMTGetRuntimeData);
FORWARD(D3DKMTGetSharedPrimaryHandle);
FORWARD(D3DKMTLock);
FORWARD(D3DKMTOpenAdapterFromGdiDisplayName);
FORWARD(D3DKMTOpenAdapterFromHdc);
FORWARD(D3DKMTOpenResource);
FORWARD(D3DKMTPresent);
FORWARD(D3DKMTQueryAdapterInfo);
FORWARD(D3DKMTQueryAllocationResidency);
FORWARD(D3DKMTQueryResourceInfo);
FORWARD(D3DKMTRender);
FORWARD(D3DKMTSetAllocationPriority);
FORWARD(D3DKMTSetContextSchedulingPriority);
FORWARD(D3DKMTSetDisplayMode);
FORWARD(D3DKMTSetDisplayPrivateDriverFormat);
FORWARD(D3DKMTSetGammaRamp);
FORWARD(D3DKMTSetVidPnSourceOwner);
FORWARD(D3DKMTSignalSynchronizationObject);
FORWARD(D3DKMTUnlock);
FORWARD(D3DKMTWaitForSynchronizationObject);
FORWARD(D3DKMTWaitForVerticalBlankEvent);
FORWARD(OpenAdapter10);
FORWARD(OpenAdapter10_2);

/* The two ways an application makes a device: forwarded, then the device
 * is taught the video interfaces. */

typedef HRESULT(WINAPI *create_device_fn)(IDXGIAdapter *, D3D_DRIVER_TYPE, HMODULE, UINT, const D3D_FEATURE_LEVEL *,
                                          UINT, UINT, ID3D11Device **, D3D_FEATURE_LEVEL *,
                                          ID3D11DeviceContext **);
typedef HRESULT(WINAPI *create_device_and_swap_chain_fn)(IDXGIAdapter *, D3D_DRIVER_TYPE, HMODULE, UINT,
                                                         const D3D_FEATURE_LEVEL *, UINT, UINT,
                                                         const DXGI_SWAP_CHAIN_DESC *, IDXGISwapChain **,
                                                         ID3D11Device **, D3D_FEATURE_LEVEL *,
                                                         ID3D11DeviceContext **);

HRESULT WINAPI D3D11CreateDevice(IDXGIAdapter *adapter, D3D_DRIVER_TYPE driver_type, HMODULE swrast, UINT flags,
                                 const D3D_FEATURE_LEVEL *feature_levels, UINT levels, UINT sdk_version,
                                 ID3D11Device **device, D3D_FEATURE_LEVEL *feature_level,
                                 ID3D11DeviceContext **context) {
        create_device_fn f = (create_device_fn) forward_resolve("D3D11CreateDevice");
        ID3D11Device *d = NULL;
        HRESULT hr;

        /* Wine's d3d11 knows nothing of VIDEO_SUPPORT; it is this proxy's
         * to honour, so Wine must not refuse the device over it. */
        hr = f(adapter, driver_type, swrast, flags & ~D3D11_CREATE_DEVICE_VIDEO_SUPPORT, feature_levels, levels,
               sdk_version, &d, feature_level, context);
        if (SUCCEEDED(hr) && d) {
                hook_device(d);
                if (device)
                        *device = d;
                else
                        ID3D11Device_Release(d);
        }
        return hr;
}

HRESULT WINAPI D3D11CreateDeviceAndSwapChain(IDXGIAdapter *adapter, D3D_DRIVER_TYPE driver_type, HMODULE swrast,
                                             UINT flags, const D3D_FEATURE_LEVEL *feature_levels, UINT levels,
                                             UINT sdk_version, const DXGI_SWAP_CHAIN_DESC *swap_chain_desc,
                                             IDXGISwapChain **swap_chain, ID3D11Device **device,
                                             D3D_FEATURE_LEVEL *feature_level, ID3D11DeviceContext **context) {
        create_device_and_swap_chain_fn f =
                (create_device_and_swap_chain_fn) forward_resolve("D3D11CreateDeviceAndSwapChain");
        ID3D11Device *d = NULL;
        HRESULT hr;

        hr = f(adapter, driver_type, swrast, flags & ~D3D11_CREATE_DEVICE_VIDEO_SUPPORT, feature_levels, levels,
               sdk_version, swap_chain_desc, swap_chain, &d, feature_level, context);
        if (SUCCEEDED(hr) && d) {
                hook_device(d);
                if (device)
                        *device = d;
                else
                        ID3D11Device_Release(d);
        }
        return hr;
}
