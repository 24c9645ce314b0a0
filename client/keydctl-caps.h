/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* GetContentProtectionCaps and CheckCryptoKeyExchange for AES128-CTR, as
 * keydctl caps and keydctl status show them. */

#include "keyd/keyd.h"
#include "keydctl-json.h"

#define KEYDCTL_MAX_KEY_EXCHANGES 16U

typedef struct KeydctlCaps {
        keyd_content_protection_caps caps;
        keyd_guid key_exchanges[KEYDCTL_MAX_KEY_EXCHANGES]; /* the first of caps.KeyExchangeTypeCount */
        uint32_t n_key_exchanges;
} KeydctlCaps;

/* Both calls, for decoder profile profile (NULL for none). Prints on failure. */
int keydctl_read_caps(keyd_client *client, const keyd_guid *profile, KeydctlCaps *ret);
void keydctl_print_caps(const KeydctlCaps *c);
/* The caps as one JSON object, member key. */
void keydctl_json_caps(Json *j, const char *key, const KeydctlCaps *c);
