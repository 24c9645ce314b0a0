/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a software session keeps secret. Always allocated with
 * secure_alloc (locked, not dumped) and wiped by secure_free. */

#include <stdbool.h>
#include <stdint.h>

#define SESSION_KEY_SIZE 16

typedef struct SessionSecrets {
        uint8_t session_key[SESSION_KEY_SIZE];
        uint8_t blt_key[SESSION_KEY_SIZE];        /* K_blt, the read-back key */
        uint8_t blt_key_next[SESSION_KEY_SIZE];   /* a new K_blt while it is drawn */
        uint8_t refresh_random[SESSION_KEY_SIZE]; /* R of a started key refresh */
        bool has_key;
        bool refresh_pending;
} SessionSecrets;

/* Install a freshly negotiated session key and draw a new read-back key. */
int session_secrets_set_key(SessionSecrets *s, const uint8_t key[SESSION_KEY_SIZE]);
/* Draw a new read-back key K_blt in place of the current one (which is
 * overwritten); on failure the current one stays. */
int session_secrets_new_blt_key(SessionSecrets *s);
