/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Names and descriptions of the HRESULTs libkeyd returns. The ones keyd
 * sends as D-Bus errors come from the error table in common/, so the
 * daemon and the library describe them the same way. */

#include "keyd-error.h"
#include "macro.h"

typedef struct HresultInfo {
        HRESULT hr;
        const char *name;
        const char *description;
} HresultInfo;

/* The HRESULTs that are not D-Bus errors of keyd: success and the ones the
 * library itself produces. */
static const HresultInfo library_hresults[] = {
        { KEYD_S_OK, "S_OK", "the call succeeded" },
        { KEYD_E_POINTER, "E_POINTER", "a pointer given to libkeyd was NULL" },
        { KEYD_E_SERVICE_NOT_ACTIVE, "HRESULT_FROM_WIN32(ERROR_SERVICE_NOT_ACTIVE)",
          "keyd is not running: nothing owns org.keyd.KeyBroker1 on the bus (or there is no bus)" },
        { KEYD_E_TIMEOUT, "HRESULT_FROM_WIN32(ERROR_TIMEOUT)",
          "keyd did not answer within the client's timeout" },
};

static const HresultInfo *library_hresult(HRESULT hr) {
        for (size_t i = 0; i < ELEMENTSOF(library_hresults); i++)
                if (library_hresults[i].hr == hr)
                        return &library_hresults[i];
        return NULL;
}

_public_ const char *keyd_hresult_to_string(HRESULT hr) {
        const HresultInfo *info = library_hresult(hr);
        int e;

        if (info)
                return info->name;
        e = keyd_error_from_hresult((uint32_t) hr);
        if (e >= 0)
                return keyd_error_info(e)->hresult_name;
        return "unknown HRESULT";
}

_public_ const char *keyd_hresult_to_description(HRESULT hr) {
        const HresultInfo *info = library_hresult(hr);
        int e;

        if (info)
                return info->description;
        e = keyd_error_from_hresult((uint32_t) hr);
        if (e >= 0)
                return keyd_error_info(e)->description;
        return KEYD_SUCCEEDED(hr) ? "a success code keyd does not define"
                                  : "an error code keyd does not define";
}
