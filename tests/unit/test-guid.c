/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* GUID text form: the strict parser and the lowercase formatter of
 * common/guid.c, the known-GUID table against the contract (section 6),
 * and the public HRESULT wrappers of libkeyd. */

#include <check.h>
#include <ctype.h>
#include <stdlib.h>

#include "guid.h"
#include "macro.h"

/* Contract section 6, copied as text: the table in guid.c must agree. */
static const struct {
        const char *name;
        const char *text;
        const keyd_guid *guid;
        GuidKind kind;
} contract_guids[] = {
        { "D3D11_CRYPTO_TYPE_AES128_CTR", "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f",
          &KEYD_CRYPTO_TYPE_AES128_CTR, GUID_KIND_CRYPTO_TYPE },
        { "D3D11_KEY_EXCHANGE_RSAES_OAEP", "c1949895-d72a-4a1d-8e5d-ed857d171520",
          &KEYD_KEY_EXCHANGE_RSAES_OAEP, GUID_KIND_KEY_EXCHANGE },
        { "D3D11_KEY_EXCHANGE_HW_PROTECTION", "b1170d8a-628d-4da3-ad3b-82ddb08b4970",
          &KEYD_KEY_EXCHANGE_HW_PROTECTION, GUID_KIND_KEY_EXCHANGE },
        { "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256", "b0a11c63-be8b-47a7-a4c1-6d05594ed9d2",
          &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, GUID_KIND_KEY_EXCHANGE },
        { "KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1", "08067281-bc1f-40f8-8c01-7bd2b010caff",
          &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1, GUID_KIND_KEY_EXCHANGE },
        { "D3D11_DECODER_PROFILE_H264_VLD_NOFGT", "1b81be68-a0c7-11d3-b984-00c04f2e73c5",
          &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, GUID_KIND_DECODER_PROFILE },
        { "D3D11_DECODER_PROFILE_HEVC_VLD_MAIN", "5b11d51b-2f4c-4452-bcc3-09f2a1160cc0",
          &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN, GUID_KIND_DECODER_PROFILE },
        { "D3D11_DECODER_PROFILE_HEVC_VLD_MAIN10", "107af0e0-ef1a-4d19-aba8-67a163073d13",
          &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10, GUID_KIND_DECODER_PROFILE },
        { "D3D11_DECODER_PROFILE_VP9_VLD_PROFILE0", "463707f8-a1d0-4585-876d-83aa6d60b89e",
          &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0, GUID_KIND_DECODER_PROFILE },
        { "D3D11_DECODER_PROFILE_AV1_VLD_PROFILE0", "b8be4ccb-cf53-46ba-8d59-d6b8a6da5d2a",
          &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0, GUID_KIND_DECODER_PROFILE },
};

static const char sample[] = "c1949895-d72a-4a1d-8e5d-ed857d171520";

static void assert_parse_fails(const char *s) {
        keyd_guid g = { 0x11111111, 0x2222, 0x3333, { 4, 4, 4, 4, 4, 4, 4, 4 } };
        const keyd_guid before = g;

        ck_assert_msg(guid_parse(s, &g) == -EINVAL, "\"%s\" parsed", s);
        ck_assert_msg(guid_equal(&g, &before), "failed parse of \"%s\" changed the result", s);
        ck_assert_int_eq(keyd_guid_from_string(s, &g), KEYD_E_INVALIDARG);
        ck_assert_msg(guid_equal(&g, &before), "failed keyd_guid_from_string(\"%s\") changed the result", s);
}

START_TEST(test_parse_fields) {
        keyd_guid g;

        ck_assert_int_eq(guid_parse("01234567-89ab-cdef-0123-456789abcdef", &g), 0);
        ck_assert_uint_eq(g.Data1, 0x01234567u);
        ck_assert_uint_eq(g.Data2, 0x89abu);
        ck_assert_uint_eq(g.Data3, 0xcdefu);
        const uint8_t data4[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
        ck_assert_mem_eq(g.Data4, data4, 8);

        ck_assert_int_eq(guid_parse("ffffffff-ffff-ffff-ffff-ffffffffffff", &g), 0);
        ck_assert_uint_eq(g.Data1, 0xffffffffu);
        ck_assert_uint_eq(g.Data2, 0xffffu);
        ck_assert_uint_eq(g.Data3, 0xffffu);
        for (unsigned i = 0; i < 8; i++)
                ck_assert_uint_eq(g.Data4[i], 0xff);

        ck_assert_int_eq(guid_parse("00000000-0000-0000-0000-000000000000", &g), 0);
        ck_assert_uint_eq(g.Data1, 0);
        ck_assert_uint_eq(g.Data2, 0);
}
END_TEST

START_TEST(test_parse_case_and_braces) {
        keyd_guid lower, upper, braced, braced_upper, mixed;

        ck_assert_int_eq(guid_parse(sample, &lower), 0);
        ck_assert_int_eq(guid_parse("C1949895-D72A-4A1D-8E5D-ED857D171520", &upper), 0);
        ck_assert_int_eq(guid_parse("{c1949895-d72a-4a1d-8e5d-ed857d171520}", &braced), 0);
        ck_assert_int_eq(guid_parse("{C1949895-D72A-4A1D-8E5D-ED857D171520}", &braced_upper), 0);
        ck_assert_int_eq(guid_parse("c1949895-D72a-4A1d-8e5D-Ed857d171520", &mixed), 0);

        ck_assert(guid_equal(&lower, &KEYD_KEY_EXCHANGE_RSAES_OAEP));
        ck_assert(guid_equal(&upper, &lower));
        ck_assert(guid_equal(&braced, &lower));
        ck_assert(guid_equal(&braced_upper, &lower));
        ck_assert(guid_equal(&mixed, &lower));
}
END_TEST

START_TEST(test_parse_malformed) {
        static const char *const bad[] = {
                "",
                "c",
                "{}",
                "{",
                "}",
                /* one character short and one too many */
                "c1949895-d72a-4a1d-8e5d-ed857d17152",
                "c1949895-d72a-4a1d-8e5d-ed857d1715200",
                /* dashes moved, missing, doubled or replaced */
                "c194989-5d72a-4a1d-8e5d-ed857d171520",
                "c1949895d-72a-4a1d-8e5d-ed857d171520",
                "c1949895-d72a4-a1d-8e5d-ed857d171520",
                "c1949895-d72a-4a1d8-e5d-ed857d171520",
                "c1949895-d72a-4a1d-8e5de-d857d171520",
                "c1949895d72a4a1d8e5ded857d171520",
                "c1949895d72a-4a1d-8e5d-ed857d1715201",
                "c1949895--72a-4a1d-8e5d-ed857d171520",
                "c1949895_d72a-4a1d-8e5d-ed857d171520",
                "c1949895-d72a-4a1d-8e5d:ed857d171520",
                "c1949895 d72a 4a1d 8e5d ed857d171520",
                /* not hex, in each field */
                "g1949895-d72a-4a1d-8e5d-ed857d171520",
                "c194989x-d72a-4a1d-8e5d-ed857d171520",
                "c1949895-z72a-4a1d-8e5d-ed857d171520",
                "c1949895-d72a-4a1G-8e5d-ed857d171520",
                "c1949895-d72a-4a1d-8e5.-ed857d171520",
                "c1949895-d72a-4a1d-8e5d-ed857d17152g",
                "c1949895-d72a-4a1d-8e5d-ed857d1715 0",
                "c1949895-d72a-4a1d-8e5d- ed857d17152",
                "+1949895-d72a-4a1d-8e5d-ed857d171520",
                "0x949895-d72a-4a1d-8e5d-ed857d171520",
                "c1949895-d72a-4a1d-8e5d-ed857d1715\xc3\xa9",
                /* braces: missing one, wrong kind, doubled, inside */
                "{c1949895-d72a-4a1d-8e5d-ed857d171520",
                "c1949895-d72a-4a1d-8e5d-ed857d171520}",
                "(c1949895-d72a-4a1d-8e5d-ed857d171520)",
                "[c1949895-d72a-4a1d-8e5d-ed857d171520]",
                "}c1949895-d72a-4a1d-8e5d-ed857d171520{",
                "{{c1949895-d72a-4a1d-8e5d-ed857d171520}}",
                "{c1949895-d72a-4a1d-8e5d-ed857d17152}0",
                /* leading and trailing junk */
                " c1949895-d72a-4a1d-8e5d-ed857d171520",
                "c1949895-d72a-4a1d-8e5d-ed857d171520 ",
                "c1949895-d72a-4a1d-8e5d-ed857d171520\n",
                "c1949895-d72a-4a1d-8e5d-ed857d171520x",
                "{c1949895-d72a-4a1d-8e5d-ed857d171520}x",
                "x{c1949895-d72a-4a1d-8e5d-ed857d171520}",
                "c1949895-d72a-4a1d-8e5d-ed857d171520-0000",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_parse_fails(bad[i]);
}
END_TEST

START_TEST(test_parse_embedded_nul) {
        /* The parser sees a C string: a NUL inside is the end, so this is
         * too short, not a GUID with junk after it. */
        const char s[] = "c1949895-d72a-4a1d-8e5d\0ed857d171520";
        keyd_guid g;

        ck_assert_int_eq(guid_parse(s, &g), -EINVAL);
}
END_TEST

START_TEST(test_parse_null) {
        keyd_guid g;

        ck_assert_int_eq(guid_parse(NULL, &g), -EINVAL);
        ck_assert_int_eq(guid_parse(sample, NULL), -EINVAL);
        ck_assert_int_eq(keyd_guid_from_string(NULL, &g), KEYD_E_POINTER);
        ck_assert_int_eq(keyd_guid_from_string(sample, NULL), KEYD_E_POINTER);
}
END_TEST

START_TEST(test_format_lowercase) {
        const keyd_guid g = { 0xABCDEF01, 0x2345, 0x6789, { 0xAB, 0xCD, 0xEF, 0x00, 0x0A, 0xB0, 0xFF, 0x01 } };
        const keyd_guid zero = {};
        char buf[KEYD_GUID_STRING_SIZE];

        guid_format(&g, buf);
        ck_assert_str_eq(buf, "abcdef01-2345-6789-abcd-ef000ab0ff01");
        for (const char *p = buf; *p; p++)
                ck_assert(!isupper((unsigned char) *p));

        /* Leading zeros are kept in every field. */
        guid_format(&zero, buf);
        ck_assert_str_eq(buf, "00000000-0000-0000-0000-000000000000");
        ck_assert_uint_eq(strlen(buf), KEYD_GUID_STRING_SIZE - 1);

        /* Uppercase in, lowercase out. */
        keyd_guid parsed;
        ck_assert_int_eq(guid_parse("{B0A11C63-BE8B-47A7-A4C1-6D05594ED9D2}", &parsed), 0);
        guid_format(&parsed, buf);
        ck_assert_str_eq(buf, "b0a11c63-be8b-47a7-a4c1-6d05594ed9d2");
}
END_TEST

START_TEST(test_to_string_api) {
        char buf[KEYD_GUID_STRING_SIZE + 4];

        memset(buf, 'x', sizeof(buf));
        ck_assert_int_eq(keyd_guid_to_string(&KEYD_CRYPTO_TYPE_AES128_CTR, buf, KEYD_GUID_STRING_SIZE),
                         KEYD_S_OK);
        ck_assert_str_eq(buf, "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f");
        ck_assert_int_eq(buf[KEYD_GUID_STRING_SIZE], 'x');

        memset(buf, 'x', sizeof(buf));
        ck_assert_int_eq(keyd_guid_to_string(&KEYD_CRYPTO_TYPE_AES128_CTR, buf, KEYD_GUID_STRING_SIZE - 1),
                         KEYD_E_INVALIDARG);
        ck_assert_int_eq(buf[0], 'x');
        ck_assert_int_eq(keyd_guid_to_string(&KEYD_CRYPTO_TYPE_AES128_CTR, buf, 0), KEYD_E_INVALIDARG);
        ck_assert_int_eq(keyd_guid_to_string(NULL, buf, sizeof(buf)), KEYD_E_POINTER);
        ck_assert_int_eq(keyd_guid_to_string(&KEYD_CRYPTO_TYPE_AES128_CTR, NULL, sizeof(buf)), KEYD_E_POINTER);
}
END_TEST

START_TEST(test_equal) {
        keyd_guid a = KEYD_KEY_EXCHANGE_RSAES_OAEP, b = a;

        ck_assert(guid_equal(&a, &b));
        ck_assert_int_eq(keyd_guid_equal(&a, &b), 1);

        /* Every byte counts. */
        for (size_t i = 0; i < sizeof(keyd_guid); i++) {
                b = a;
                ((uint8_t *) &b)[i] ^= 0x01;
                ck_assert_msg(!guid_equal(&a, &b), "byte %zu ignored", i);
                ck_assert_int_eq(keyd_guid_equal(&a, &b), 0);
        }

        ck_assert_int_eq(keyd_guid_equal(NULL, NULL), 1);
        ck_assert_int_eq(keyd_guid_equal(&a, NULL), 0);
        ck_assert_int_eq(keyd_guid_equal(NULL, &a), 0);
}
END_TEST

START_TEST(test_contract_table) {
        for (size_t i = 0; i < ELEMENTSOF(contract_guids); i++) {
                char buf[KEYD_GUID_STRING_SIZE], upper[KEYD_GUID_STRING_SIZE + 2];
                const KnownGuid *known;
                keyd_guid g;

                /* The constant is the contract's text ... */
                guid_format(contract_guids[i].guid, buf);
                ck_assert_str_eq(buf, contract_guids[i].text);

                /* ... the text parses to the constant, in any case and with braces ... */
                ck_assert_int_eq(guid_parse(contract_guids[i].text, &g), 0);
                ck_assert(guid_equal(&g, contract_guids[i].guid));
                upper[0] = '{';
                for (size_t j = 0; j < KEYD_GUID_STRING_SIZE - 1; j++)
                        upper[j + 1] = (char) toupper((unsigned char) contract_guids[i].text[j]);
                upper[KEYD_GUID_STRING_SIZE] = '}';
                upper[KEYD_GUID_STRING_SIZE + 1] = '\0';
                ck_assert_int_eq(keyd_guid_from_string(upper, &g), KEYD_S_OK);
                ck_assert(guid_equal(&g, contract_guids[i].guid));
                ck_assert_int_eq(keyd_guid_to_string(&g, buf, sizeof(buf)), KEYD_S_OK);
                ck_assert_str_eq(buf, contract_guids[i].text);

                /* ... and the table knows it under its name and kind, and
                 * under no other kind. */
                known = known_guid_lookup(&g, contract_guids[i].kind);
                ck_assert_ptr_nonnull(known);
                ck_assert_str_eq(known->name, contract_guids[i].name);
                ck_assert_ptr_eq(known->guid, contract_guids[i].guid);
                for (GuidKind k = GUID_KIND_CRYPTO_TYPE; k <= GUID_KIND_DECODER_PROFILE; k++)
                        if (k != contract_guids[i].kind)
                                ck_assert_ptr_null(known_guid_lookup(&g, k));
        }

        /* All ten are different. */
        for (size_t i = 0; i < ELEMENTSOF(contract_guids); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(contract_guids); j++)
                        ck_assert(!guid_equal(contract_guids[i].guid, contract_guids[j].guid));
}
END_TEST

START_TEST(test_key_exchange_table) {
        static const struct {
                KeyExchange k;
                const keyd_guid *guid;
                bool rsaes_oaep;
        } expected[] = {
                { KEY_EXCHANGE_RSAES_OAEP_SHA512, &KEYD_KEY_EXCHANGE_RSAES_OAEP, true },
                { KEY_EXCHANGE_RSAES_OAEP_SHA256, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256, true },
                { KEY_EXCHANGE_RSAES_OAEP_SHA1, &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1, true },
                { KEY_EXCHANGE_HW_PROTECTION, &KEYD_KEY_EXCHANGE_HW_PROTECTION, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                const KnownGuid *known = known_guid_by_key_exchange(expected[i].k);

                ck_assert_ptr_nonnull(known);
                ck_assert_ptr_eq(known->guid, expected[i].guid);
                ck_assert_int_eq(known->value, (int) expected[i].k);
                ck_assert_int_eq(key_exchange_is_rsaes_oaep(expected[i].k), expected[i].rsaes_oaep);
        }
}
END_TEST

START_TEST(test_unknown_guid) {
        keyd_guid g;

        ck_assert_int_eq(guid_parse("01234567-89ab-cdef-0123-456789abcdef", &g), 0);
        for (GuidKind k = GUID_KIND_CRYPTO_TYPE; k <= GUID_KIND_DECODER_PROFILE; k++)
                ck_assert_ptr_null(known_guid_lookup(&g, k));
}
END_TEST

static Suite *guid_suite(void) {
        Suite *s = suite_create("guid");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_parse_fields);
        tcase_add_test(tc, test_parse_case_and_braces);
        tcase_add_test(tc, test_parse_malformed);
        tcase_add_test(tc, test_parse_embedded_nul);
        tcase_add_test(tc, test_parse_null);
        tcase_add_test(tc, test_format_lowercase);
        tcase_add_test(tc, test_to_string_api);
        tcase_add_test(tc, test_equal);
        tcase_add_test(tc, test_contract_table);
        tcase_add_test(tc, test_key_exchange_table);
        tcase_add_test(tc, test_unknown_guid);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(guid_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
