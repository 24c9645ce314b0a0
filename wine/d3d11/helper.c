/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Loading keydwine.dll.so. Wine 8.0 loads a Winelib module from WINEDLLPATH
 * only when a file of its name exists in the prefix's system directory, so
 * the proxy loads it by its full path instead: KEYD_WINE_HELPER (a Unix
 * path) or where meson installed it. LoadLibrary of a path ending in .so
 * makes Wine dlopen() it as a builtin DLL. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bridge.h"

#ifndef KEYDWINE_PATH
#error "KEYDWINE_PATH (the installed keydwine.dll.so) must be defined"
#endif

void bridge_log(HRESULT hr, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        fprintf(stderr, "keyd-d3d11: 0x%08lX: ", (unsigned long) hr);
        vfprintf(stderr, format, ap);
        fputc('\n', stderr);
        fflush(stderr);
        va_end(ap);
}

void bridge_log_failure(const char *method, HRESULT hr) {
        const keydwine_api *kw = keydwine();
        const char *message = kw ? kw->last_error_message() : "";

        /* libkeyd's sentence already begins with the method's name. */
        if (*message)
                bridge_log(hr, "%s", message);
        else
                bridge_log(hr, "%s failed in keyd without a message; expected it to succeed", method);
}

/* The Unix path as a Windows path, through Wine's own mapping (kernel32
 * exports wine_get_dos_file_name for exactly this). */
static WCHAR *dos_path(const char *unix_path) {
        WCHAR *(CDECL *to_dos)(const char *) =
                (void *) GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "wine_get_dos_file_name");

        return to_dos ? to_dos(unix_path) : NULL;
}

static BOOL load(keydwine_api *api) {
        const char *path = getenv("KEYD_WINE_HELPER");
        HMODULE module;
        WCHAR *dos;

        if (!path || !*path)
                path = KEYDWINE_PATH;
        dos = dos_path(path);
        if (!dos) {
                bridge_log(E_FAIL, "cannot map %s to a Windows path (no wine_get_dos_file_name: is this "
                           "Wine?); expected Wine. No ID3D11VideoDevice.", path);
                return FALSE;
        }
        module = LoadLibraryW(dos);
        HeapFree(GetProcessHeap(), 0, dos);
        if (!module) {
                bridge_log(HRESULT_FROM_WIN32(GetLastError()), "cannot load %s; expected keyd's keydwine.dll.so "
                           "there (or KEYD_WINE_HELPER set to it). No ID3D11VideoDevice.", path);
                return FALSE;
        }

#define RESOLVE(field, name)                                                                          \
        do {                                                                                          \
                api->field = (void *) GetProcAddress(module, name);                                   \
                if (!api->field) {                                                                    \
                        bridge_log(E_FAIL, "%s has no %s; expected keyd's keydwine.dll.so", path,   \
                                   name);                                                             \
                        return FALSE;                                                                 \
                }                                                                                     \
        } while (0)
        RESOLVE(get_content_protection_caps, "kw_get_content_protection_caps");
        RESOLVE(check_crypto_key_exchange, "kw_check_crypto_key_exchange");
        RESOLVE(create_crypto_session, "kw_create_crypto_session");
        RESOLVE(get_certificate_size, "kw_get_certificate_size");
        RESOLVE(get_certificate, "kw_get_certificate");
        RESOLVE(get_handle, "kw_get_handle");
        RESOLVE(negotiate, "kw_negotiate");
        RESOLVE(start_session_key_refresh, "kw_start_session_key_refresh");
        RESOLVE(finish_session_key_refresh, "kw_finish_session_key_refresh");
        RESOLVE(get_encryption_blt_key, "kw_get_encryption_blt_key");
        RESOLVE(create_surface, "kw_create_surface");
        RESOLVE(destroy_surface, "kw_destroy_surface");
        RESOLVE(decryption_blt, "kw_decryption_blt");
        RESOLVE(encryption_blt, "kw_encryption_blt");
        RESOLVE(get_crypto_session_private_data_size, "kw_get_crypto_session_private_data_size");
        RESOLVE(check_crypto_session_status, "kw_check_crypto_session_status");
        RESOLVE(release_session, "kw_release_session");
        RESOLVE(last_error_message, "kw_last_error_message");
#undef RESOLVE
        return TRUE;
}

static keydwine_api api;
static const keydwine_api *loaded;

static BOOL CALLBACK load_once(INIT_ONCE *once, void *param, void **context) {
        if (load(&api))
                loaded = &api;
        return TRUE;
}

const keydwine_api *keydwine(void) {
        static INIT_ONCE once = INIT_ONCE_STATIC_INIT;

        InitOnceExecuteOnce(&once, load_once, NULL, NULL);
        return loaded;
}
