/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* oneVPL sessions on keyd's VA display. The start-up probe opens one to
 * prove the runtime takes keyd's VA display and a PXP context; each crypto
 * session with a decoder profile keeps one, holding the PXP context of its
 * VA protected session, closed (MFXClose) when the crypto session ends.
 *
 * What this does and does not do, plainly: keyd hands the runtime the PXP
 * context the way vpl-gpu-rt documents it for protected decoding, but keyd
 * itself decodes nothing. A decoder initialised on such a session would use
 * it; the applications that call keyd decode in their own processes, where
 * keyd's VA protected session (an id on keyd's VA display) does not exist.
 * Not verified on hardware: run only against keyd's test runtime, which
 * records the handles it is given. */

#include <stdlib.h>

#include "log.h"
#include "vpl-backend.h"

int vpl_mfx_session_open(VplRuntime *rt, VplVa *va, const VplProtectedSession *ps, VplMfxSession *ret,
                         char **reason) {
        VplMfxSession ms = {};
        mfxStatus st;
        int r;

        st = MFXCreateSession(rt->loader, rt->index, &ms.session);
        if (st != MFX_ERR_NONE)
                return vpl_reason(reason, -EIO, "the oneVPL runtime \"%s\" cannot create a session (MFXCreateSession: %s)",
                                  rt->name, vpl_mfx_status_to_string(st));

        st = MFXVideoCORE_SetHandle(ms.session, MFX_HANDLE_VA_DISPLAY, va->display);
        if (st != MFX_ERR_NONE) {
                r = vpl_reason(reason, -EIO,
                               "the oneVPL runtime \"%s\" does not take keyd's VA display "
                               "(MFXVideoCORE_SetHandle(MFX_HANDLE_VA_DISPLAY): %s)",
                               rt->name, vpl_mfx_status_to_string(st));
                vpl_mfx_session_close(&ms);
                return r;
        }

        if (ps) {
                ms.pxp = calloc(1, sizeof(*ms.pxp));
                if (!ms.pxp) {
                        vpl_mfx_session_close(&ms);
                        return -ENOMEM;
                }
                ms.pxp->protected_session = (void *) (uintptr_t) ps->id;

                st = MFXVideoCORE_SetHandle(ms.session, MFX_HANDLE_PXP_CONTEXT, ms.pxp);
                if (st != MFX_ERR_NONE) {
                        r = vpl_reason(reason, -EPROTONOSUPPORT,
                                       "the oneVPL runtime \"%s\" does not accept a PXP context, so it has no "
                                       "protected-content support (MFXVideoCORE_SetHandle(MFX_HANDLE_PXP_CONTEXT): %s)",
                                       rt->name, vpl_mfx_status_to_string(st));
                        vpl_mfx_session_close(&ms);
                        return r;
                }
        }

        *ret = ms;
        return 0;
}

void vpl_mfx_session_close(VplMfxSession *ms) {
        mfxStatus st;

        if (ms->session) {
                st = MFXClose(ms->session);
                if (st != MFX_ERR_NONE)
                        log_warning("vpl: MFXClose failed: %s.", vpl_mfx_status_to_string(st));
        }
        ms->session = NULL;
        /* Only after MFXClose: the runtime may use the context until then. */
        free(ms->pxp);
        ms->pxp = NULL;
}
