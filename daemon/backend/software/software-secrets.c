/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "secure-memory.h"
#include "software-secrets.h"

int session_secrets_set_key(SessionSecrets *s, const uint8_t key[SESSION_KEY_SIZE]) {
        uint8_t blt_key[SESSION_KEY_SIZE];

        if (gnutls_rnd(GNUTLS_RND_KEY, blt_key, sizeof(blt_key)) < 0) {
                secure_wipe(blt_key, sizeof(blt_key));
                return -EIO;
        }

        /* Each success replaces both keys; an unfinished refresh is void. */
        memcpy(s->session_key, key, SESSION_KEY_SIZE);
        memcpy(s->blt_key, blt_key, SESSION_KEY_SIZE);
        secure_wipe(blt_key, sizeof(blt_key));
        secure_wipe(s->refresh_random, sizeof(s->refresh_random));
        s->refresh_pending = false;
        s->has_key = true;
        return 0;
}
