/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl caps: what keyd offers for AES128-CTR, with or without a decoder
 * profile. */

#include <inttypes.h>
#include <stdio.h>

#include "keydctl-caps.h"
#include "keydctl.h"

static const struct {
        uint32_t flag;
        const char *name;
} caps_names[] = {
        { KEYD_CONTENT_PROTECTION_CAPS_SOFTWARE, "SOFTWARE" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE, "HARDWARE" },
        { KEYD_CONTENT_PROTECTION_CAPS_PROTECTION_ALWAYS_ON, "PROTECTION_ALWAYS_ON" },
        { KEYD_CONTENT_PROTECTION_CAPS_PARTIAL_DECRYPTION, "PARTIAL_DECRYPTION" },
        { KEYD_CONTENT_PROTECTION_CAPS_CONTENT_KEY, "CONTENT_KEY" },
        { KEYD_CONTENT_PROTECTION_CAPS_FRESHEN_SESSION_KEY, "FRESHEN_SESSION_KEY" },
        { KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK, "ENCRYPTED_READ_BACK" },
        { KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK_KEY, "ENCRYPTED_READ_BACK_KEY" },
        { KEYD_CONTENT_PROTECTION_CAPS_SEQUENTIAL_CTR_IV, "SEQUENTIAL_CTR_IV" },
        { KEYD_CONTENT_PROTECTION_CAPS_ENCRYPT_SLICEDATA_ONLY, "ENCRYPT_SLICEDATA_ONLY" },
        { KEYD_CONTENT_PROTECTION_CAPS_DECRYPTION_BLT, "DECRYPTION_BLT" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_PROTECT_UNCOMPRESSED, "HARDWARE_PROTECT_UNCOMPRESSED" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_PROTECTED_MEMORY_PAGEABLE,
          "HARDWARE_PROTECTED_MEMORY_PAGEABLE" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_TEARDOWN, "HARDWARE_TEARDOWN" },
        { KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_DRM_COMMUNICATION, "HARDWARE_DRM_COMMUNICATION" },
};

int keydctl_read_caps(keyd_client *client, const keyd_guid *profile, KeydctlCaps *ret) {
        KeydctlCaps c = {};
        HRESULT hr;

        hr = keyd_get_content_protection_caps(client, &KEYD_CRYPTO_TYPE_AES128_CTR, profile, &c.caps);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "GetContentProtectionCaps failed");

        c.n_key_exchanges = MIN(c.caps.KeyExchangeTypeCount, KEYDCTL_MAX_KEY_EXCHANGES);
        for (uint32_t i = 0; i < c.n_key_exchanges; i++) {
                hr = keyd_check_crypto_key_exchange(client, &KEYD_CRYPTO_TYPE_AES128_CTR, profile, i,
                                                    &c.key_exchanges[i]);
                if (KEYD_FAILED(hr))
                        return keydctl_fail(hr, "CheckCryptoKeyExchange failed");
        }
        *ret = c;
        return 0;
}

void keydctl_print_caps(const KeydctlCaps *c) {
        char s[KEYD_GUID_STRING_SIZE];
        uint32_t known = 0, caps = c->caps.Caps;

        printf("Caps:                  0x%08" PRIx32, caps);
        for (size_t i = 0; i < ELEMENTSOF(caps_names); i++) {
                known |= caps_names[i].flag;
                if (caps & caps_names[i].flag)
                        printf(" %s", caps_names[i].name);
        }
        if (caps & ~known)
                printf(" (unknown bits 0x%08" PRIx32 ")", caps & ~known);
        printf("\n");

        printf("Key exchange types:    %" PRIu32 "\n", c->caps.KeyExchangeTypeCount);
        for (uint32_t i = 0; i < c->n_key_exchanges; i++) {
                (void) keyd_guid_to_string(&c->key_exchanges[i], s, sizeof(s));
                printf("  %2" PRIu32 ": %s", i, s);
                const char *name = keydctl_guid_name(&c->key_exchanges[i], s);
                if (name != s)
                        printf(" %s", name);
                printf("\n");
        }
        printf("Block alignment size:  %" PRIu32 "\n", c->caps.BlockAlignmentSize);
        printf("Protected memory size: %" PRIu64 " bytes\n", c->caps.ProtectedMemorySize);
}

void keydctl_json_caps(Json *j, const char *key, const KeydctlCaps *c) {
        char s[KEYD_GUID_STRING_SIZE];

        json_object_open(j, key);
        json_uint(j, "caps", c->caps.Caps);
        json_array_open(j, "caps_names");
        for (size_t i = 0; i < ELEMENTSOF(caps_names); i++)
                if (c->caps.Caps & caps_names[i].flag)
                        json_string(j, NULL, caps_names[i].name);
        json_array_close(j);
        json_uint(j, "key_exchange_type_count", c->caps.KeyExchangeTypeCount);
        json_array_open(j, "key_exchange_types");
        for (uint32_t i = 0; i < c->n_key_exchanges; i++) {
                json_object_open(j, NULL);
                (void) keyd_guid_to_string(&c->key_exchanges[i], s, sizeof(s));
                json_string(j, "guid", s);
                const char *name = keydctl_guid_name(&c->key_exchanges[i], s);
                json_string(j, "name", name != s ? name : NULL);
                json_object_close(j);
        }
        json_array_close(j);
        json_uint(j, "block_alignment_size", c->caps.BlockAlignmentSize);
        json_uint(j, "protected_memory_size", c->caps.ProtectedMemorySize);
        json_object_close(j);
}

int verb_caps(const Keydctl *ctl, int argc, char *argv[]) {
        keyd_guid profile_buf;
        const keyd_guid *profile = NULL;
        char s[KEYD_GUID_STRING_SIZE];
        keyd_client *client;
        KeydctlCaps caps;
        int r;

        if (ctl->profile) {
                r = keydctl_parse_profile(ctl->profile, &profile_buf, &profile);
                if (r < 0)
                        return r;
        }

        r = keydctl_open_client(ctl, &client);
        if (r < 0)
                return r;
        r = keydctl_read_caps(client, profile, &caps);
        keyd_client_close(client);
        if (r < 0)
                return r;

        if (ctl->json) {
                Json j;

                json_begin(&j, stdout);
                json_object_open(&j, NULL);
                json_string(&j, "crypto_type", keydctl_guid_name(&KEYD_CRYPTO_TYPE_AES128_CTR, s));
                json_string(&j, "decoder_profile", profile ? keydctl_guid_name(profile, s) : NULL);
                keydctl_json_caps(&j, "content_protection", &caps);
                json_object_close(&j);
                json_end(&j);
                return 0;
        }

        printf("Crypto type:           %s\n", keydctl_guid_name(&KEYD_CRYPTO_TYPE_AES128_CTR, s));
        printf("Decoder profile:       %s\n", profile ? keydctl_guid_name(profile, s) : "none");
        keydctl_print_caps(&caps);
        return 0;
}
