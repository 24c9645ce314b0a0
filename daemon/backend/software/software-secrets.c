/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "secure-memory.h"
#include "software-secrets.h"

int session_secrets_new_blt_key(SessionSecrets *s) {
        /* Drawn into locked memory beside the current key, so that a failure
         * leaves the current one whole and no copy lands on the stack. */
        if (gnutls_rnd(GNUTLS_RND_KEY, s->blt_key_next, sizeof(s->blt_key_next)) < 0) {
                secure_wipe(s->blt_key_next, sizeof(s->blt_key_next));
                return -EIO;
        }
        memcpy(s->blt_key, s->blt_key_next, SESSION_KEY_SIZE);
        secure_wipe(s->blt_key_next, sizeof(s->blt_key_next));
        return 0;
}

int session_secrets_set_key(SessionSecrets *s, const uint8_t key[SESSION_KEY_SIZE]) {
        int r;

        r = session_secrets_new_blt_key(s);
        if (r < 0)
                return r;

        /* Each success replaces both keys; an unfinished refresh is void. */
        memcpy(s->session_key, key, SESSION_KEY_SIZE);
        secure_wipe(s->refresh_random, sizeof(s->refresh_random));
        s->refresh_pending = false;
        s->has_key = true;
        return 0;
}
