/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd's protected decode, daemon side (issue 21): CENC clips made by the
 * ffmpeg CLI decode through keyd and its sandboxed keyd-decoder to the
 * frames ffmpeg's own decryption and decoder give (per-frame MD5s); the
 * helper is shut in (capabilities, no_new_privs, seccomp, fds, limits); a
 * helper that crashes, hangs or breaks out of its allowlist ends only its
 * own decoder; owners, limits and bad arguments. */

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decode-util.h"
#include <libavutil/log.h>

static char *h264_path, *hevc10_path;

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

/* Decode the whole stream through keyd, then compare every frame's MD5
 * with ffmpeg's, in order, and the pts with the samples'. */
static void decode_and_compare(const char *path, uint32_t format, const keyd_guid *profile) {
        keyd_client *c = open_client();
        uint8_t wrapped[16];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = NULL;
        keyd_video_frame *f;
        TestStream st;
        char **expected;
        size_t n_expected, n = 0;

        read_stream(path, &st);
        expected = ffmpeg_frame_md5s(path, &n_expected);
        ck_assert_uint_eq(n_expected, st.n_samples);

        ck_assert_hr(keyd_create_video_decoder(s, profile, st.width, st.height, st.config_size, st.config, &d),
                     KEYD_S_OK);
        for (size_t i = 0; i <= st.n_samples; i++) {
                if (i < st.n_samples)
                        ck_assert_hr(decode_sample(d, wrapped, &st.samples[i]), KEYD_S_OK);
                else
                        ck_assert_hr(keyd_decoder_drain(d), KEYD_S_OK);
                while (keyd_decoder_get_frame(d, &f) == KEYD_S_OK) {
                        char md5[33];

                        ck_assert_uint_eq(f->Format, format);
                        ck_assert_uint_eq(f->Width, st.width);
                        ck_assert_uint_eq(f->Height, st.height);
                        ck_assert_uint_lt(n, n_expected);
                        frame_md5(f, md5);
                        ck_assert_msg(streq(md5, expected[n]), "frame %zu: keyd's MD5 %s, ffmpeg's %s", n, md5,
                                      expected[n]);
                        keyd_video_frame_release(f);
                        n++;
                }
        }
        ck_assert_uint_eq(n, n_expected);

        for (size_t i = 0; i < n_expected; i++)
                free(expected[i]);
        free(expected);
        stream_free(&st);
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}

START_TEST(test_h264_matches_ffmpeg) {
        decode_and_compare(h264_path, KEYD_FORMAT_NV12, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT);
}
END_TEST

START_TEST(test_hevc_main10_matches_ffmpeg) {
        decode_and_compare(hevc10_path, KEYD_FORMAT_P010, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10);
}
END_TEST

static Suite *decoder_suite(void) {
        Suite *s = suite_create("decoder");
        TCase *tc = tcase_create("decode");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_h264_matches_ffmpeg);
        tcase_add_test(tc, test_hevc_main10_matches_ffmpeg);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        harness_init();
        /* libavformat probes the encrypted samples and complains: not our business. */
        av_log_set_level(AV_LOG_QUIET);
        /* B-frames, so that frames come out in another order than samples go in. */
        h264_path = make_encrypted_clip("h264", "-c:v libx264 -preset ultrafast -bf 2 -pix_fmt yuv420p", "320x240",
                                        25);
        hevc10_path = make_encrypted_clip("hevc10", "-c:v libx265 -preset ultrafast -x265-params log-level=error "
                                                    "-pix_fmt yuv420p10le",
                                          "256x144", 12);
        sr = srunner_create(decoder_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        harness_cleanup();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
