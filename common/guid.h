/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* GUID text form and the GUIDs keyd knows (contract section 6). */

#include <errno.h>
#include <stdbool.h>

#include "keyd/keyd.h"

typedef enum GuidKind {
        GUID_KIND_CRYPTO_TYPE,
        GUID_KIND_KEY_EXCHANGE,
        GUID_KIND_DECODER_PROFILE,
} GuidKind;

/* How a key exchange GUID wraps the session key. */
typedef enum KeyExchange {
        KEY_EXCHANGE_RSAES_OAEP_SHA512,   /* D3D11_KEY_EXCHANGE_RSAES_OAEP */
        KEY_EXCHANGE_RSAES_OAEP_SHA256,   /* keyd's own */
        KEY_EXCHANGE_RSAES_OAEP_SHA1,     /* keyd's own */
        KEY_EXCHANGE_HW_PROTECTION,       /* D3D11_KEY_EXCHANGE_HW_PROTECTION */
        _KEY_EXCHANGE_MAX,
        _KEY_EXCHANGE_INVALID = -EINVAL,
} KeyExchange;

typedef struct KnownGuid {
        const char *name;          /* "D3D11_KEY_EXCHANGE_RSAES_OAEP" */
        const keyd_guid *guid;
        GuidKind kind;
        int value;                 /* KeyExchange for GUID_KIND_KEY_EXCHANGE */
} KnownGuid;

/* Strict parse: 36 characters, hex digits in the right places, any case,
 * optionally inside one pair of braces. Returns 0 or -EINVAL. */
int guid_parse(const char *s, keyd_guid *ret);
void guid_format(const keyd_guid *g, char buf[static KEYD_GUID_STRING_SIZE]);
bool guid_equal(const keyd_guid *a, const keyd_guid *b);

/* The known GUID of this kind equal to g, or NULL. */
const KnownGuid *known_guid_lookup(const keyd_guid *g, GuidKind kind);
const KnownGuid *known_guid_by_key_exchange(KeyExchange k);
const char *guid_kind_to_string(GuidKind kind);

bool key_exchange_is_rsaes_oaep(KeyExchange k);
