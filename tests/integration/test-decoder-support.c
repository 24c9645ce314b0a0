/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Which video decoders keyd makes, in every build: H.264 and HEVC when it
 * was built with decoding (-Ddecoder, the default where libavcodec,
 * libavutil and libseccomp are installed), Unsupported with the reason
 * when it was not; VP9 and AV1 never. tests/decoder checks the decoding
 * itself. */

#include "config.h"
#include "test-util.h"

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

START_TEST(test_profiles) {
        keyd_client *c = open_client();
        keyd_crypto_session *s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_video_decoder *d = NULL;
        HRESULT hr;

        ck_assert_hr(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0, 320, 240, 0, NULL, &d),
                     KEYD_DXGI_ERROR_UNSUPPORTED);
        ck_assert_msg(str_contains(keyd_last_error_message(), "known but not decoded"), "message: %s",
                      keyd_last_error_message());
        ck_assert_hr(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0, 320, 240, 0, NULL, &d),
                     KEYD_DXGI_ERROR_UNSUPPORTED);
        ck_assert_ptr_null(d);

        hr = keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN, 320, 240, 0, NULL, &d);
        if (HAVE_DECODER) {
                ck_assert_hr(hr, KEYD_S_OK);
                ck_assert_ptr_nonnull(d);
        } else {
                ck_assert_hr(hr, KEYD_DXGI_ERROR_UNSUPPORTED);
                ck_assert_msg(str_contains(keyd_last_error_message(), "built without decoding"), "message: %s",
                              keyd_last_error_message());
                ck_assert_ptr_null(d);
        }
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

int main(void) {
        Suite *s = suite_create("decoder-support");
        TCase *tc = tcase_create("profiles");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_profiles);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
