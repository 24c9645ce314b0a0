/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>

#include "guid.h"
#include "macro.h"

const keyd_guid KEYD_CRYPTO_TYPE_AES128_CTR =
        { 0x9b6bd711, 0x4f74, 0x41c9, { 0x9e, 0x7b, 0x0b, 0xe2, 0xd7, 0xd9, 0x3b, 0x4f } };
const keyd_guid KEYD_KEY_EXCHANGE_RSAES_OAEP =
        { 0xc1949895, 0xd72a, 0x4a1d, { 0x8e, 0x5d, 0xed, 0x85, 0x7d, 0x17, 0x15, 0x20 } };
const keyd_guid KEYD_KEY_EXCHANGE_HW_PROTECTION =
        { 0xb1170d8a, 0x628d, 0x4da3, { 0xad, 0x3b, 0x82, 0xdd, 0xb0, 0x8b, 0x49, 0x70 } };
const keyd_guid KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256 =
        { 0xb0a11c63, 0xbe8b, 0x47a7, { 0xa4, 0xc1, 0x6d, 0x05, 0x59, 0x4e, 0xd9, 0xd2 } };
const keyd_guid KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1 =
        { 0x08067281, 0xbc1f, 0x40f8, { 0x8c, 0x01, 0x7b, 0xd2, 0xb0, 0x10, 0xca, 0xff } };
const keyd_guid KEYD_DECODER_PROFILE_H264_VLD_NOFGT =
        { 0x1b81be68, 0xa0c7, 0x11d3, { 0xb9, 0x84, 0x00, 0xc0, 0x4f, 0x2e, 0x73, 0xc5 } };
const keyd_guid KEYD_DECODER_PROFILE_HEVC_VLD_MAIN =
        { 0x5b11d51b, 0x2f4c, 0x4452, { 0xbc, 0xc3, 0x09, 0xf2, 0xa1, 0x16, 0x0c, 0xc0 } };
const keyd_guid KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10 =
        { 0x107af0e0, 0xef1a, 0x4d19, { 0xab, 0xa8, 0x67, 0xa1, 0x63, 0x07, 0x3d, 0x13 } };
const keyd_guid KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0 =
        { 0x463707f8, 0xa1d0, 0x4585, { 0x87, 0x6d, 0x83, 0xaa, 0x6d, 0x60, 0xb8, 0x9e } };
const keyd_guid KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0 =
        { 0xb8be4ccb, 0xcf53, 0x46ba, { 0x8d, 0x59, 0xd6, 0xb8, 0xa6, 0xda, 0x5d, 0x2a } };

static const KnownGuid known_guids[] = {
        { "D3D11_CRYPTO_TYPE_AES128_CTR", &KEYD_CRYPTO_TYPE_AES128_CTR, GUID_KIND_CRYPTO_TYPE, 0 },
        { "D3D11_KEY_EXCHANGE_RSAES_OAEP", &KEYD_KEY_EXCHANGE_RSAES_OAEP, GUID_KIND_KEY_EXCHANGE,
          KEY_EXCHANGE_RSAES_OAEP_SHA512 },
        { "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256", &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256,
          GUID_KIND_KEY_EXCHANGE, KEY_EXCHANGE_RSAES_OAEP_SHA256 },
        { "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1", &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1,
          GUID_KIND_KEY_EXCHANGE, KEY_EXCHANGE_RSAES_OAEP_SHA1 },
        { "D3D11_KEY_EXCHANGE_HW_PROTECTION", &KEYD_KEY_EXCHANGE_HW_PROTECTION, GUID_KIND_KEY_EXCHANGE,
          KEY_EXCHANGE_HW_PROTECTION },
        { "D3D11_DECODER_PROFILE_H264_VLD_NOFGT", &KEYD_DECODER_PROFILE_H264_VLD_NOFGT,
          GUID_KIND_DECODER_PROFILE, 0 },
        { "D3D11_DECODER_PROFILE_HEVC_VLD_MAIN", &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN,
          GUID_KIND_DECODER_PROFILE, 0 },
        { "D3D11_DECODER_PROFILE_HEVC_VLD_MAIN10", &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10,
          GUID_KIND_DECODER_PROFILE, 0 },
        { "D3D11_DECODER_PROFILE_VP9_VLD_PROFILE0", &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0,
          GUID_KIND_DECODER_PROFILE, 0 },
        { "D3D11_DECODER_PROFILE_AV1_VLD_PROFILE0", &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0,
          GUID_KIND_DECODER_PROFILE, 0 },
};

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

/* Read n hex digits from s into *ret (n <= 8). */
static int parse_hex(const char *s, unsigned n, uint32_t *ret) {
        uint32_t v = 0;

        for (unsigned i = 0; i < n; i++) {
                int d = unhex(s[i]);
                if (d < 0)
                        return d;
                v = (v << 4) | (uint32_t) d;
        }
        *ret = v;
        return 0;
}

int guid_parse(const char *s, keyd_guid *ret) {
        keyd_guid g;
        uint32_t v;
        size_t len;
        int r;

        if (!s || !ret)
                return -EINVAL;

        len = strlen(s);
        if (len == 38 && s[0] == '{' && s[37] == '}')
                s++;
        else if (len != 36)
                return -EINVAL;

        if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
                return -EINVAL;

        r = parse_hex(s, 8, &v);
        if (r < 0)
                return r;
        g.Data1 = v;
        r = parse_hex(s + 9, 4, &v);
        if (r < 0)
                return r;
        g.Data2 = (uint16_t) v;
        r = parse_hex(s + 14, 4, &v);
        if (r < 0)
                return r;
        g.Data3 = (uint16_t) v;
        for (unsigned i = 0; i < 8; i++) {
                /* Data4: two bytes before the last dash, six after it. */
                const char *p = i < 2 ? s + 19 + 2 * i : s + 24 + 2 * (i - 2);
                r = parse_hex(p, 2, &v);
                if (r < 0)
                        return r;
                g.Data4[i] = (uint8_t) v;
        }

        *ret = g;
        return 0;
}

void guid_format(const keyd_guid *g, char buf[static KEYD_GUID_STRING_SIZE]) {
        snprintf(buf, KEYD_GUID_STRING_SIZE, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 g->Data1, g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3],
                 g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
}

bool guid_equal(const keyd_guid *a, const keyd_guid *b) {
        return a->Data1 == b->Data1 && a->Data2 == b->Data2 && a->Data3 == b->Data3 &&
               memcmp(a->Data4, b->Data4, sizeof(a->Data4)) == 0;
}

const KnownGuid *known_guid_lookup(const keyd_guid *g, GuidKind kind) {
        for (size_t i = 0; i < ELEMENTSOF(known_guids); i++)
                if (known_guids[i].kind == kind && guid_equal(known_guids[i].guid, g))
                        return &known_guids[i];
        return NULL;
}

const KnownGuid *known_guid_by_key_exchange(KeyExchange k) {
        for (size_t i = 0; i < ELEMENTSOF(known_guids); i++)
                if (known_guids[i].kind == GUID_KIND_KEY_EXCHANGE && known_guids[i].value == (int) k)
                        return &known_guids[i];
        return NULL;
}

const char *guid_kind_to_string(GuidKind kind) {
        switch (kind) {
        case GUID_KIND_CRYPTO_TYPE:
                return "crypto type";
        case GUID_KIND_KEY_EXCHANGE:
                return "key exchange type";
        case GUID_KIND_DECODER_PROFILE:
                return "decoder profile";
        }
        return "GUID";
}

bool key_exchange_is_rsaes_oaep(KeyExchange k) {
        return k == KEY_EXCHANGE_RSAES_OAEP_SHA512 || k == KEY_EXCHANGE_RSAES_OAEP_SHA256 ||
               k == KEY_EXCHANGE_RSAES_OAEP_SHA1;
}
