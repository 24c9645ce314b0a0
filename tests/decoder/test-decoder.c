/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd's protected decode, daemon side (issue 21): CENC clips made by the
 * ffmpeg CLI decode through keyd and its sandboxed keyd-decoder to the
 * frames ffmpeg's own decryption and decoder give (per-frame MD5s); the
 * helper is shut in (capabilities, no_new_privs, seccomp, fds, limits); a
 * helper that crashes, hangs or breaks out of its allowlist ends only its
 * own decoder; owners, limits and bad arguments. */

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nettle/ctr.h>

#include "abuse-util.h"
#include "decode-util.h"
#include <libavutil/log.h>

static char *h264_path, *hevc10_path;

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

/* Whether fd is a frame pool's memfd (only the helper can write it) or
 * one sealed for good; fails the test on anything else. */
static bool is_pool_frame(int fd) {
        int seals = fcntl(fd, F_GET_SEALS);

        ck_assert_int_ge(seals, 0);
        ck_assert_msg((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW), "seals %#x", seals);
        if (seals & F_SEAL_WRITE)
                return false;
        ck_assert_msg((seals & (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)) == (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL),
                      "a frame keyd can write that is not sealed against everyone else: seals %#x", seals);
        return true;
}

/* Decode the whole stream through keyd, then compare every frame's MD5
 * with ffmpeg's, in order, and the pts with the samples'. pool: the frame
 * pool's size, or -1 for libkeyd's default (8); frames are released as they
 * come, so their pool memfds are written again and again. */
static void decode_and_compare_after(const char *path, uint32_t format, const keyd_guid *profile,
                                     size_t seek_from, int pool) {
        keyd_client *c = open_client();
        uint8_t wrapped[16];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = NULL;
        keyd_video_frame *f;
        TestStream st;
        char **expected;
        size_t n_expected, n = 0, n_pool = 0;

        read_stream(path, &st);
        expected = ffmpeg_frame_md5s(path, &n_expected);
        ck_assert_uint_eq(n_expected, st.n_samples);

        ck_assert_hr(keyd_create_video_decoder(s, profile, st.width, st.height, st.config_size, st.config, &d),
                     KEYD_S_OK);
        if (pool >= 0)
                ck_assert_hr(keyd_decoder_set_frame_pool(d, (uint32_t) pool), KEYD_S_OK);
        /* A seek back to the start: what was decoded before is dropped. */
        if (seek_from > 0) {
                for (size_t i = seek_from; i < st.n_samples; i++)
                        ck_assert_hr(decode_sample(d, wrapped, &st.samples[i]), KEYD_S_OK);
                ck_assert_hr(keyd_decoder_flush(d), KEYD_S_OK);
                ck_assert_hr(keyd_decoder_get_frame(d, &f), KEYD_S_FALSE);
        }
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
                        n_pool += is_pool_frame(f->Fd);
                        keyd_video_frame_release(f);
                        n++;
                }
        }
        ck_assert_uint_eq(n, n_expected);
        if (pool == 0)
                ck_assert_uint_eq(n_pool, 0);
        else
                /* Not all: a frame finished while the client still holds
                 * every pool frame (or before keyd told the helper it gave
                 * them back) comes in a memfd of its own. */
                ck_assert_uint_gt(n_pool, 0);

        for (size_t i = 0; i < n_expected; i++)
                free(expected[i]);
        free(expected);
        stream_free(&st);
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}

static void decode_and_compare(const char *path, uint32_t format, const keyd_guid *profile, int pool) {
        decode_and_compare_after(path, format, profile, 0, pool);
}

START_TEST(test_h264_matches_ffmpeg) {
        decode_and_compare(h264_path, KEYD_FORMAT_NV12, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, -1);
}
END_TEST

/* Without a pool: every frame in a memfd of its own, sealed for good. */
START_TEST(test_h264_without_pool_matches_ffmpeg) {
        decode_and_compare(h264_path, KEYD_FORMAT_NV12, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, 0);
}
END_TEST

/* 16 frame threads hold 15 frames back: the drain takes several Drain
 * calls of at most 8 frames each, and the helper more frames than it has
 * fds at once if it did not hand them over as it goes. */
static void setup_many_threads(void) {
        static const char *const args[] = { "--decoder-threads=16", NULL };

        start_bus_and_keyd(args);
}

START_TEST(test_h264_many_threads_matches_ffmpeg) {
        decode_and_compare(h264_path, KEYD_FORMAT_NV12, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, -1);
}
END_TEST

/* Flush with 15 frames inside the decoder, then the stream from its start. */
START_TEST(test_h264_flush_then_from_start) {
        decode_and_compare_after(h264_path, KEYD_FORMAT_NV12, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, 5, 2);
}
END_TEST

START_TEST(test_hevc_main10_matches_ffmpeg) {
        decode_and_compare(hevc10_path, KEYD_FORMAT_P010, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10, -1);
}
END_TEST

START_TEST(test_hevc_main10_without_pool_matches_ffmpeg) {
        decode_and_compare(hevc10_path, KEYD_FORMAT_P010, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10, 0);
}
END_TEST

/* ---- helpers for the tests below ---- */

static TestStream h264;

static keyd_video_decoder *h264_decoder(keyd_crypto_session *s) {
        keyd_video_decoder *d = NULL;

        ck_assert_hr(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, h264.width, h264.height,
                                               h264.config_size, h264.config, &d),
                     KEYD_S_OK);
        return d;
}

/* The decoder's object path: its session's, then /decoder/<n>, n counting
 * from 0 in each session. */
static char *decoder_path(keyd_crypto_session *s, unsigned n) {
        char *path;

        ck_assert_int_gt(asprintf(&path, "%s/decoder/%u", keyd_crypto_session_get_object_path(s), n), 0);
        return path;
}

static pid_t helper_pid(keyd_crypto_session *s, unsigned n) {
        _cleanup_free_ char *path = decoder_path(s, n);
        uint32_t pid = 0;

        ck_assert_int_ge(harness_get_property_u32(path, "org.keyd.KeyBroker1.VideoDecoder", "HelperPID", &pid), 0);
        ck_assert_uint_gt(pid, 0);
        return (pid_t) pid;
}

/* The line of /proc/PID/<file> that starts with key, without the key. */
static char *proc_line(pid_t pid, const char *file, const char *key) {
        char path[64], line[512];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%i/%s", (int) pid, file);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s: %m", path);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0) {
                        fclose(f);
                        line[strcspn(line, "\n")] = '\0';
                        return strdup(line + strlen(key) + strspn(line + strlen(key), " \t"));
                }
        fclose(f);
        ck_abort_msg("%s has no line %s", path, key);
        return NULL;
}

/* Whether pid is gone (reaped) within a few seconds. */
static bool process_gone(pid_t pid) {
        for (unsigned i = 0; i < 200; i++) {
                if (kill(pid, 0) < 0 && errno == ESRCH)
                        return true;
                usleep(50 * 1000);
        }
        return false;
}

/* A sample in the clear holding text: what the helper's test hooks answer to. */
static HRESULT decode_clear_text(keyd_video_decoder *d, const char *text) {
        TestSample s = { .data = (uint8_t *) text, .size = strlen(text) };

        return decode_sample(d, NULL, &s);
}

/* The first few samples of the H.264 clip decode. */
static void decodes_fine(keyd_video_decoder *d, const uint8_t wrapped[16]) {
        for (size_t i = 0; i < 3; i++)
                ck_assert_hr(decode_sample(d, wrapped, &h264.samples[i]), KEYD_S_OK);
        ck_assert_hr(keyd_decoder_flush(d), KEYD_S_OK);
}

/* DecodeSample straight to keyd on bus (NULL: a connection of its own). */
static int call_decode_raw(sd_bus *bus, const char *path, const void *data, size_t size, const void *iv,
                           size_t iv_size, const void *key, size_t key_size, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        bool own = !bus;
        int r;

        if (own)
                ck_assert_int_ge(harness_open_bus(&bus), 0);
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path,
                                                        "org.keyd.KeyBroker1.VideoDecoder", "DecodeSample"), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, size), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "a(uu)", 0), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', iv, iv_size), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', key, key_size), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "x", (int64_t) 0), 0);
        r = sd_bus_call(bus, m, 10 * USEC_PER_SEC, error, &reply);
        if (own)
                sd_bus_flush_close_unref(bus);
        return r;
}

/* ---- the sandbox ---- */

START_TEST(test_helper_is_shut_in) {
        keyd_client *c = open_client();
        uint8_t wrapped[16];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = h264_decoder(s);
        pid_t pid = helper_pid(s, 0);
        _cleanup_free_ char *cap_eff = proc_line(pid, "status", "CapEff:");
        _cleanup_free_ char *cap_prm = proc_line(pid, "status", "CapPrm:");
        _cleanup_free_ char *cap_bnd = proc_line(pid, "status", "CapBnd:");
        _cleanup_free_ char *cap_amb = proc_line(pid, "status", "CapAmb:");
        _cleanup_free_ char *nnp = proc_line(pid, "status", "NoNewPrivs:");
        _cleanup_free_ char *seccomp = proc_line(pid, "status", "Seccomp:");
        _cleanup_free_ char *core = proc_line(pid, "limits", "Max core file size");
        _cleanup_free_ char *nofile = proc_line(pid, "limits", "Max open files");
        _cleanup_free_ char *as = proc_line(pid, "limits", "Max address space");
        _cleanup_free_ char *log = NULL;

        /* keyd may run as root (it does under its unit): nothing of it is left. */
        ck_assert_str_eq(cap_eff, "0000000000000000");
        ck_assert_str_eq(cap_prm, "0000000000000000");
        ck_assert_str_eq(cap_bnd, "0000000000000000");
        ck_assert_str_eq(cap_amb, "0000000000000000");
        ck_assert_str_eq(nnp, "1");
        ck_assert_str_eq(seccomp, "2");
        ck_assert_msg(strncmp(core, "0", 1) == 0, "core limit: %s", core);
        ck_assert_msg(strncmp(nofile, "64 ", 3) == 0, "open files limit: %s", nofile);
        /* The sanitizer build's helper has no address space limit (ASan's shadow). */
        ck_assert_msg(strncmp(as, "4294967296", 10) == 0 || (SANITIZER_BUILD && strncmp(as, "unlimited", 9) == 0),
                      "address space limit: %s", as);

        /* It decodes under all that; then it says which fds it holds and
         * whether it is dumpable (keyd logs the test hook's answer). */
        decodes_fine(d, wrapped);
        ck_assert_hr(decode_clear_text(d, "KEYD-TEST-HOOK:fds"), KEYD_S_OK);
        log = harness_keyd_log();
        ck_assert_msg(str_contains(log, "Decoder test hook: open fds: 3; dumpable 0"), "keyd's log: %s", log);

        keyd_video_decoder_release(d);
        ck_assert(process_gone(pid));
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_open_after_filter_kills_helper) {
        keyd_client *c = open_client();
        uint8_t wrapped[16];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = h264_decoder(s), *d2;
        pid_t pid = helper_pid(s, 0);

        ck_assert_hr(decode_clear_text(d, "KEYD-TEST-HOOK:open"), KEYD_E_FAIL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "SIGSYS") &&
                              str_contains(keyd_last_error_message(), "seccomp"),
                      "message: %s", keyd_last_error_message());
        ck_assert(process_gone(pid));
        /* The decoder is dead for good; the session is not. */
        ck_assert_hr(decode_sample(d, wrapped, &h264.samples[0]), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        d2 = h264_decoder(s);
        decodes_fine(d2, wrapped);
        keyd_video_decoder_release(d2);
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* A crash in one client's decoder: that call fails with a clear E_FAIL,
 * another client's decoder goes on as if nothing happened. */
START_TEST(test_crash_ends_only_that_decoder) {
        keyd_client *a = open_client(), *b = open_client();
        uint8_t wrapped_a[16], wrapped_b[16];
        keyd_crypto_session *sa = session_with_content_key(a, wrapped_a);
        keyd_crypto_session *sb = session_with_content_key(b, wrapped_b);
        keyd_video_decoder *da = h264_decoder(sa), *db = h264_decoder(sb);
        pid_t pid_a = helper_pid(sa, 0), pid_b = helper_pid(sb, 0);

        ck_assert_hr(decode_sample(db, wrapped_b, &h264.samples[0]), KEYD_S_OK);
        ck_assert_hr(decode_clear_text(da, "KEYD-TEST-HOOK:crash"), KEYD_E_FAIL);
        /* Under ASan its SEGV handler tries to report, and the filter kills that. */
        ck_assert_msg(str_contains(keyd_last_error_message(), "SIGSEGV") ||
                              (SANITIZER_BUILD && str_contains(keyd_last_error_message(), "SIGSYS")),
                      "message: %s", keyd_last_error_message());
        ck_assert(process_gone(pid_a));
        ck_assert_int_eq(kill(pid_b, 0), 0);
        for (size_t i = 1; i < 4; i++)
                ck_assert_hr(decode_sample(db, wrapped_b, &h264.samples[i]), KEYD_S_OK);
        /* The dead decoder takes no pool either. */
        ck_assert_hr(keyd_decoder_set_frame_pool(da, 4), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_msg(str_contains(keyd_last_error_message(), "SetFramePool"), "message: %s",
                      keyd_last_error_message());

        keyd_video_decoder_release(da);
        keyd_video_decoder_release(db);
        keyd_crypto_session_release(sa);
        keyd_crypto_session_release(sb);
        keyd_client_close(a);
        keyd_client_close(b);
}
END_TEST

/* A helper that dies between calls: the next call says so (E_FAIL and
 * how), the ones after are DeviceRemoved. */
START_TEST(test_death_between_calls) {
        keyd_client *c = open_client();
        uint8_t wrapped[16];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = h264_decoder(s);
        pid_t pid = helper_pid(s, 0);

        ck_assert_hr(decode_sample(d, wrapped, &h264.samples[0]), KEYD_S_OK);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert(process_gone(pid));
        ck_assert_hr(decode_sample(d, wrapped, &h264.samples[1]), KEYD_E_FAIL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "SIGKILL") &&
                              str_contains(keyd_last_error_message(), "after the last call"),
                      "message: %s", keyd_last_error_message());
        ck_assert_hr(decode_sample(d, wrapped, &h264.samples[1]), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

#ifdef KEYD_TEST_HOOKS
/* How often pattern occurs in keyd's writable memory (the test build's
 * CountPattern, as tests/hooks/test-key-wipe uses it); it travels masked. */
static uint32_t count_in_keyd(const uint8_t pattern[16]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t mask[16], masked[16];
        sd_bus *bus = NULL;
        uint64_t scanned;
        uint32_t count;

        random_bytes(mask, sizeof(mask));
        for (size_t i = 0; i < 16; i++) {
                mask[i] |= 1;
                masked[i] = pattern[i] ^ mask[i];
        }
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH,
                                                        "org.keyd.KeyBroker1.Test", "CountPattern"),
                         0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', masked, sizeof(masked)), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', mask, sizeof(mask)), 0);
        ck_assert_msg(sd_bus_call(bus, m, 60 * USEC_PER_SEC, &error, &reply) >= 0, "CountPattern: %s", error.message);
        ck_assert_int_ge(sd_bus_message_read(reply, "ut", &count, &scanned), 0);
        ck_assert_uint_gt(scanned, 1024 * 1024);
        sd_bus_flush_close_unref(bus);
        return count;
}

/* plaintext encrypted as CENC does with an 8-byte IV (counter from 0). */
static void cenc_encrypt(const uint8_t iv[8], const uint8_t *plain, uint8_t *out, size_t n) {
        uint8_t key[16], block[16], stream[16];
        struct aes128_ctx aes;

        hex_to_bytes(CONTENT_KEY_HEX, key, 16);
        aes128_set_encrypt_key(&aes, key);
        for (size_t off = 0; off < n; off += 16) {
                uint64_t count = off / 16;

                memcpy(block, iv, 8);
                for (int i = 0; i < 8; i++)
                        block[15 - i] = (uint8_t) (count >> (8 * i));
                aes128_encrypt(&aes, 16, stream, block);
                for (size_t i = 0; i < 16 && off + i < n; i++)
                        out[off + i] = plain[off + i] ^ stream[i];
        }
}

/* The decrypted sample is wiped from keyd's memory once the helper has it.
 * Control: while a helper hangs on a sample (test hook), the same kind of
 * plaintext is found, so the scan does reach where keyd keeps it. */
START_TEST(test_plaintext_wiped) {
        keyd_client *c = open_client();
        uint8_t wrapped[16], marker[16], iv[8], plain[96], cipher[96];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = h264_decoder(s);
        keyd_subsample_mapping_block map = { 0, sizeof(plain) };
        TestSample sample = { .data = cipher, .size = sizeof(cipher), .iv_size = 8, .subsamples = &map,
                              .n_subsamples = 1 };
        HRESULT hr;
        pid_t child;
        bool seen = false;

        random_bytes(marker, sizeof(marker));
        random_bytes(iv, sizeof(iv));
        memcpy(sample.iv, iv, 8);

        /* A (meaningless) encrypted sample whose plaintext holds the marker. */
        memset(plain, 0, sizeof(plain));
        for (size_t off = 16; off + 16 <= sizeof(plain); off += 16)
                memcpy(plain + off, marker, 16);
        cenc_encrypt(iv, plain, cipher, sizeof(plain));
        hr = decode_sample(d, wrapped, &sample);
        ck_assert_msg(hr == KEYD_S_OK || hr == KEYD_E_INVALIDARG, "0x%08X: %s", (unsigned) hr,
                      keyd_last_error_message());
        ck_assert_uint_eq(count_in_keyd(marker), 0);

        /* The control: the same, beginning with the hang hook's text, in a
         * child that waits for the deadline. */
        memcpy(plain, "KEYD-TEST-HOOK:hang", strlen("KEYD-TEST-HOOK:hang"));
        cenc_encrypt(iv, plain, cipher, sizeof(plain));
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                /* A connection of its own: sd-bus connections do not survive fork(). */
                keyd_client *cc = open_client();
                uint8_t wrapped_child[16];
                keyd_crypto_session *cs = session_with_content_key(cc, wrapped_child);
                keyd_video_decoder *cd = h264_decoder(cs);

                _exit(KEYD_SUCCEEDED(decode_sample(cd, wrapped_child, &sample)) ? 1 : 0);
        }
        for (unsigned i = 0; i < 100 && !seen; i++) {
                seen = count_in_keyd(marker) > 0;
                if (!seen)
                        usleep(50 * 1000);
        }
        ck_assert_msg(seen, "the plaintext of a sample being decoded is not found in keyd: the scan proves nothing");
        {
                int status = -1;

                ck_assert_int_eq(waitpid(child, &status, 0), child);
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the hung sample did not fail");
        }
        ck_assert_uint_eq(count_in_keyd(marker), 0);

        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST
#endif

static void setup_short_deadline(void) {
        static const char *const args[] = { "--decoder-deadline-ms=2000", NULL };

        start_bus_and_keyd(args);
}

/* A hung helper is killed at keyd's deadline and its call fails with
 * E_FAIL saying so; keyd goes on serving. No bound on how long that takes
 * is checked here: only what happens. */
START_TEST(test_hang_is_killed_at_deadline) {
        keyd_client *c = open_client();
        uint8_t wrapped[16];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = h264_decoder(s), *d2;
        keyd_crypto_session_status status;
        pid_t pid = helper_pid(s, 0);

        ck_assert_hr(decode_clear_text(d, "KEYD-TEST-HOOK:hang"), KEYD_E_FAIL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "deadline of 2000 ms"), "message: %s",
                      keyd_last_error_message());
        ck_assert(process_gone(pid));
        ck_assert_hr(keyd_decoder_drain(d), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_hr(keyd_check_crypto_session_status(s, &status), KEYD_S_OK);
        d2 = h264_decoder(s);
        decodes_fine(d2, wrapped);
        keyd_video_decoder_release(d2);
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- owners, limits, bad arguments ---- */

START_TEST(test_other_client_is_denied) {
        keyd_client *c = open_client();
        uint8_t wrapped[16], iv[8] = {};
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d = h264_decoder(s);
        _cleanup_free_ char *path = decoder_path(s, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;

        /* call_decode_raw uses a connection of its own: another client. */
        ck_assert_int_lt(call_decode_raw(NULL, path, h264.samples[0].data, h264.samples[0].size, iv, 8, NULL, 0, &error), 0);
        ck_assert_str_eq(error.name, "org.keyd.KeyBroker1.Error.AccessDenied");
        ck_assert_msg(str_contains(error.message, "0x80070005: "), "message: %s", error.message);
        sd_bus_error_free(&error);
        /* Still the owner's. */
        decodes_fine(d, wrapped);
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* ---- the frame pool, on the bus ---- */

/* CreateVideoDecoder for the H.264 clip on session over bus; the path (free() it). */
static char *raw_create_h264_decoder(sd_bus *bus, const char *session) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *p;
        int r;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, session, KEYD_SESSION_INTERFACE,
                                                        "CreateVideoDecoder"), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "suu", "1b81be68-a0c7-11d3-b984-00c04f2e73c5", h264.width,
                                               h264.height), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', h264.config, h264.config_size), 0);
        r = sd_bus_call(bus, m, 30 * USEC_PER_SEC, &error, &reply);
        ck_assert_msg(r >= 0, "CreateVideoDecoder: %s", error.message);
        ck_assert_int_ge(sd_bus_message_read(reply, "o", &p), 0);
        return strdup(p);
}

/* Sample s in the clear: CENC 'cenc' decrypted here (its encrypted ranges
 * are one AES-CTR keystream from its IV), for raw calls that send samples
 * in the clear. free() it. */
static uint8_t *clear_sample(const TestSample *s) {
        uint8_t key[16], ctr[16] = {}, *out = malloc(s->size), *enc = malloc(s->size);
        struct aes128_ctx aes;
        size_t n_enc = 0, off = 0;

        ck_assert(out && enc);
        hex_to_bytes(CONTENT_KEY_HEX, key, 16);
        aes128_set_encrypt_key(&aes, key);
        memcpy(ctr, s->iv, s->iv_size);
        memcpy(out, s->data, s->size);
        for (uint32_t i = 0; i < MAX(s->n_subsamples, 1u); i++) {
                size_t clear = s->n_subsamples ? s->subsamples[i].ClearSize : 0,
                       encrypted = s->n_subsamples ? s->subsamples[i].EncryptedSize : s->size;

                memcpy(enc + n_enc, s->data + off + clear, encrypted);
                n_enc += encrypted;
                off += clear + encrypted;
        }
        ctr_crypt(&aes, (nettle_cipher_func *) aes128_encrypt, 16, ctr, n_enc, enc, enc);
        n_enc = off = 0;
        for (uint32_t i = 0; i < MAX(s->n_subsamples, 1u); i++) {
                size_t clear = s->n_subsamples ? s->subsamples[i].ClearSize : 0,
                       encrypted = s->n_subsamples ? s->subsamples[i].EncryptedSize : s->size;

                memcpy(out + off + clear, enc + n_enc, encrypted);
                n_enc += encrypted;
                off += clear + encrypted;
        }
        free(enc);
        return out;
}

/* A frame from a raw reply: its own dup of the memfd, mapped, its MD5 taken
 * when it came (a pool frame given back is written again) and its inode. */
typedef struct RawFrame {
        keyd_video_frame f;           /* filled by hand: never keyd_video_frame_release() it */
        char md5[33];
        ino_t ino;
} RawFrame;

static void raw_frame_free(RawFrame *r) {
        if (r->f.pData)
                munmap((void *) r->f.pData, r->f.DataSize);
        if (r->f.Fd >= 0)
                close(r->f.Fd);
        r->f.pData = NULL;
        r->f.Fd = -1;
}

/* Sample i of the H.264 clip, in the clear, through DecodeSample on bus;
 * the frames of the reply are appended to frames. */
static void raw_decode(sd_bus *bus, const char *path, size_t i, RawFrame *frames, size_t *n, size_t max) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_free_ uint8_t *clear = clear_sample(&h264.samples[i]);
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path,
                                                        "org.keyd.KeyBroker1.VideoDecoder", "DecodeSample"), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', clear, h264.samples[i].size), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "a(uu)ayayx", 0, 0, 0, h264.samples[i].pts), 0);
        r = sd_bus_call(bus, m, 10 * USEC_PER_SEC, &error, &reply);
        ck_assert_msg(r >= 0, "DecodeSample %zu: %s", i, error.message);
        ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "(huuua(tu)x)"), 0);
        while ((r = sd_bus_message_enter_container(reply, 'r', "huuua(tu)x")) > 0) {
                RawFrame *rf;
                uint64_t offset;
                uint32_t pitch;
                struct stat st;
                int fd;

                ck_assert_uint_lt(*n, max);
                rf = &frames[(*n)++];
                *rf = (RawFrame) { .f.Fd = -1 };
                ck_assert_int_ge(sd_bus_message_read(reply, "huuu", &fd, &rf->f.Format, &rf->f.Width, &rf->f.Height),
                                 0);
                ck_assert_int_ge(sd_bus_message_enter_container(reply, 'a', "(tu)"), 0);
                while (sd_bus_message_read(reply, "(tu)", &offset, &pitch) > 0) {
                        rf->f.PlaneOffset[rf->f.PlaneCount] = offset;
                        rf->f.PlanePitch[rf->f.PlaneCount++] = pitch;
                }
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                ck_assert_int_ge(sd_bus_message_read(reply, "x", &rf->f.Pts), 0);
                ck_assert_int_ge(sd_bus_message_exit_container(reply), 0);
                rf->f.Fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                ck_assert_int_ge(rf->f.Fd, 0);
                ck_assert_int_eq(fstat(rf->f.Fd, &st), 0);
                rf->ino = st.st_ino;
                rf->f.DataSize = (uint64_t) st.st_size;
                rf->f.pData = mmap(NULL, rf->f.DataSize, PROT_READ, MAP_SHARED, rf->f.Fd, 0);
                ck_assert(rf->f.pData != MAP_FAILED);
                frame_md5(&rf->f, rf->md5);
        }
        ck_assert_int_ge(r, 0);
}

/* ReleaseFrames(fds) on bus: its result, with error. */
static int release_frames(sd_bus *bus, const char *path, const int *fds, size_t n, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path,
                                                        "org.keyd.KeyBroker1.VideoDecoder", "ReleaseFrames"), 0);
        ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "h"), 0);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_ge(sd_bus_message_append(m, "h", fds[i]), 0);
        ck_assert_int_ge(sd_bus_message_close_container(m), 0);
        return sd_bus_call(bus, m, 10 * USEC_PER_SEC, error, NULL);
}

static void assert_error(int r, sd_bus_error *error, const char *name, const char *text) {
        ck_assert_int_lt(r, 0);
        ck_assert_str_eq(error->name, name);
        ck_assert_msg(str_contains(error->message, text), "message: %s", error->message);
        sd_bus_error_free(error);
}

/* SetFramePool and ReleaseFrames: pool frames only the helper can write,
 * memfds of their own when the client holds the whole pool, a frame given
 * back written again with the right picture, and every bad give-back
 * refused whole. */
START_TEST(test_frame_pool_rules) {
        _cleanup_free_ char *session = NULL, *path = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL, *other = NULL;
        RawFrame frames[64];
        size_t n = 0, n_expected, next = 0, reused = 0;
        char **expected = ffmpeg_frame_md5s(h264_path, &n_expected);
        int fds[2], own, r;

        ck_assert_int_ge(harness_open_bus(&bus), 0);
        ck_assert_int_ge(harness_open_bus(&other), 0);
        session = raw_create_session(bus, RSAES_OAEP);
        path = raw_create_h264_decoder(bus, session);

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, path, "org.keyd.KeyBroker1.VideoDecoder", "SetFramePool", &error,
                               NULL, "u", 17);
        assert_error(r, &error, ERROR_INVALID_ARG, "0 (no pool) to 16");
        r = sd_bus_call_method(other, KEYD_BUS_NAME, path, "org.keyd.KeyBroker1.VideoDecoder", "SetFramePool", &error,
                               NULL, "u", 2);
        assert_error(r, &error, ERROR_ACCESS_DENIED, "belongs to another connection");
        ck_assert_int_ge(sd_bus_call_method(bus, KEYD_BUS_NAME, path, "org.keyd.KeyBroker1.VideoDecoder",
                                            "SetFramePool", &error, NULL, "u", 2),
                         0);

        /* Holding every frame: the first two are the pool's, the next ones
         * come in memfds of their own. */
        while (n < 4)
                raw_decode(bus, path, next++, frames, &n, ELEMENTSOF(frames));
        ck_assert(is_pool_frame(frames[0].f.Fd));
        ck_assert(is_pool_frame(frames[1].f.Fd));
        ck_assert(frames[0].ino != frames[1].ino);
        for (size_t i = 2; i < n; i++)
                ck_assert(!is_pool_frame(frames[i].f.Fd));

        /* Nobody but the helper writes a pool frame. */
        ck_assert(mmap(NULL, frames[0].f.DataSize, PROT_READ | PROT_WRITE, MAP_SHARED, frames[0].f.Fd, 0) ==
                  MAP_FAILED);
        ck_assert_int_eq(errno, EPERM);
        ck_assert_int_lt(pwrite(frames[0].f.Fd, "x", 1, 0), 0);
        ck_assert_int_eq(errno, EPERM);

        /* Bad give-backs: each refused, and refused whole. */
        own = memfd_create("not-a-frame", MFD_CLOEXEC);
        ck_assert_int_ge(own, 0);
        r = release_frames(bus, path, &own, 1, &error);
        assert_error(r, &error, ERROR_INVALID_ARG, "frame 1 of 1 is not a pool frame of this decoder");
        r = release_frames(bus, path, &frames[2].f.Fd, 1, &error);
        assert_error(r, &error, ERROR_INVALID_ARG, "not a pool frame");
        fds[0] = fds[1] = frames[0].f.Fd;
        r = release_frames(bus, path, fds, 2, &error);
        assert_error(r, &error, ERROR_INVALID_ARG, "given back twice");
        fds[1] = own;
        r = release_frames(bus, path, fds, 2, &error);
        assert_error(r, &error, ERROR_INVALID_ARG, "frame 2 of 2");
        r = release_frames(other, path, &frames[0].f.Fd, 1, &error);
        assert_error(r, &error, ERROR_ACCESS_DENIED, "belongs to another connection");
        close(own);

        /* Frame 0 back (it was not given back by the refused calls), once. */
        ck_assert_int_ge(release_frames(bus, path, &frames[0].f.Fd, 1, &error), 0);
        r = release_frames(bus, path, &frames[0].f.Fd, 1, &error);
        assert_error(r, &error, ERROR_INVALID_ARG, "not a pool frame of this decoder that the client holds");
        raw_frame_free(&frames[0]);

        /* Decoding on, the next pool frame is frame 0's memfd written again
         * (frame 1's is still held), and every picture is ffmpeg's. */
        while (next < h264.n_samples) {
                size_t before = n;

                raw_decode(bus, path, next++, frames, &n, ELEMENTSOF(frames));
                for (size_t i = before; i < n; i++)
                        if (is_pool_frame(frames[i].f.Fd)) {
                                ck_assert(frames[i].ino != frames[1].ino);
                                reused++;
                                /* Give it back at once: it comes again. */
                                ck_assert_int_ge(release_frames(bus, path, &frames[i].f.Fd, 1, &error), 0);
                                raw_frame_free(&frames[i]);
                        }
        }
        ck_assert_uint_gt(reused, 1);
        /* Frame 1, held all along, was never written again. */
        {
                char md5[33];

                frame_md5(&frames[1].f, md5);
                ck_assert_str_eq(md5, frames[1].md5);
        }
        ck_assert_uint_le(n, n_expected);
        for (size_t i = 0; i < n; i++) {
                ck_assert_msg(streq(frames[i].md5, expected[i]), "frame %zu: keyd's MD5 %s, ffmpeg's %s", i,
                              frames[i].md5, expected[i]);
                raw_frame_free(&frames[i]);
        }

        for (size_t i = 0; i < n_expected; i++)
                free(expected[i]);
        free(expected);
        sd_bus_flush_close_unref(other);
        sd_bus_flush_close_unref(bus);
}
END_TEST

static void setup_limits(void) {
        /* A sample buffer is at least 64 KiB, and counts as protected memory. */
        static const char *const args[] = { "--max-decoders-per-client=2", "--max-sample-size=4096",
                                            "--max-surface-bytes-per-client=69632", NULL };

        start_bus_and_keyd(args);
}

START_TEST(test_limits) {
        keyd_client *c = open_client();
        uint8_t wrapped[16];
        keyd_crypto_session *s = session_with_content_key(c, wrapped);
        keyd_video_decoder *d1 = h264_decoder(s), *d2 = h264_decoder(s), *d3 = NULL;
        static uint8_t big[5000];
        TestSample sample = { .data = big, .size = sizeof(big) };

        ck_assert_hr(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, 320, 240, 0, NULL, &d3),
                     KEYD_E_OUTOFMEMORY);
        ck_assert_msg(str_contains(keyd_last_error_message(), "--max-decoders-per-client"), "message: %s",
                      keyd_last_error_message());
        ck_assert_ptr_null(d3);
        keyd_video_decoder_release(d2);
        ck_assert_hr(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, 8192, 4320, 0, NULL, &d3),
                     KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "8192x4320"), "message: %s", keyd_last_error_message());
        ck_assert_hr(decode_sample(d1, NULL, &sample), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "--max-sample-size"), "message: %s",
                      keyd_last_error_message());

        /* The decrypted sample's buffer is the connection's protected memory:
         * one decoder's fits, a second one's does not. */
        ck_assert_hr(decode_clear_text(d1, "a sample in the clear"), KEYD_S_OK);
        d2 = h264_decoder(s);
        ck_assert_hr(decode_clear_text(d2, "a sample in the clear"), KEYD_E_OUTOFMEMORY);
        ck_assert_msg(str_contains(keyd_last_error_message(), "the decoder's sample buffer"), "message: %s",
                      keyd_last_error_message());
        keyd_video_decoder_release(d1);
        ck_assert_hr(decode_clear_text(d2, "a sample in the clear"), KEYD_S_OK);
        keyd_video_decoder_release(d2);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

START_TEST(test_bad_arguments) {
        keyd_client *c = open_client();
        uint8_t wrapped[16], iv[32] = {}, key[32] = {};
        keyd_crypto_session *s = session_with_content_key(c, wrapped), *fresh;
        keyd_video_decoder *d = h264_decoder(s), *d2 = NULL;
        TestSample sample = h264.samples[0];
        keyd_subsample_mapping_block map[2] = { { 10, 16 }, { 0, 1 } };
        static const keyd_guid bogus = { 0x12345678, 0x1234, 0x1234, { 1, 2, 3, 4, 5, 6, 7, 8 } };
        _cleanup_free_ char *path = decoder_path(s, 0);
        sd_bus_error error = SD_BUS_ERROR_NULL;

        /* A subsample map that does not cover the sample exactly. */
        sample.subsamples = map;
        sample.n_subsamples = 2;
        ck_assert_hr(decode_sample(d, wrapped, &sample), KEYD_E_INVALIDARG);
        ck_assert_msg(str_contains(keyd_last_error_message(), "cover it exactly"), "message: %s",
                      keyd_last_error_message());

        /* IV and content key sizes, straight to keyd (libkeyd checks the IV
         * itself): on a connection of the test's own, which owns its session. */
        {
                _cleanup_free_ char *session = NULL, *raw_path = NULL;
                sd_bus *bus = NULL;

                ck_assert_int_ge(harness_open_bus(&bus), 0);
                session = raw_create_session(bus, RSAES_OAEP);
                raw_path = raw_create_h264_decoder(bus, session);
                for (size_t n = 0; n <= 17; n++) {
                        if (n == 0 || n == 8 || n == 16)
                                continue;
                        ck_assert_int_lt(call_decode_raw(bus, raw_path, sample.data, sample.size, iv, n, NULL, 0, &error),
                                         0);
                        ck_assert_str_eq(error.name, ERROR_INVALID_ARG);
                        ck_assert_msg(str_contains(error.message, "expected 8"), "message: %s", error.message);
                        sd_bus_error_free(&error);
                }
                for (size_t n = 1; n <= 32; n += 7) {
                        ck_assert_int_lt(call_decode_raw(bus, raw_path, sample.data, sample.size, iv, 16, key, n, &error),
                                         0);
                        ck_assert_str_eq(error.name, ERROR_INVALID_ARG);
                        ck_assert_msg(str_contains(error.message, "content_key is"), "message: %s", error.message);
                        sd_bus_error_free(&error);
                }
                sd_bus_flush_close_unref(bus);
        }
        ck_assert_hr(keyd_decoder_begin_frame(d, 15, key), KEYD_E_INVALIDARG);

        /* An encrypted sample before any key exchange. */
        fresh = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        ck_assert_hr(keyd_create_video_decoder(fresh, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, h264.width, h264.height,
                                               h264.config_size, h264.config, &d2),
                     KEYD_S_OK);
        ck_assert_hr(decode_sample(d2, NULL, &h264.samples[0]), KEYD_DXGI_ERROR_INVALID_CALL);
        ck_assert_msg(str_contains(keyd_last_error_message(), "NegotiateCryptoSessionKeyExchange"), "message: %s",
                      keyd_last_error_message());
        keyd_video_decoder_release(d2);
        d2 = NULL;

        /* Profiles: unknown, known but not decoded; sizes of 0. */
        ck_assert_hr(keyd_create_video_decoder(s, &bogus, 320, 240, 0, NULL, &d2), KEYD_E_INVALIDARG);
        ck_assert_hr(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0, 320, 240, 0, NULL, &d2),
                     KEYD_DXGI_ERROR_UNSUPPORTED);
        ck_assert_hr(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, 0, 240, 0, NULL, &d2),
                     KEYD_E_INVALIDARG);
        ck_assert_ptr_null(d2);

        /* Bad input changed nothing: the decoder still decodes. */
        decodes_fine(d, wrapped);
        keyd_video_decoder_release(d);
        keyd_crypto_session_release(fresh);
        keyd_crypto_session_release(s);
        keyd_client_close(c);
}
END_TEST

/* A client that dies in the middle of a stream takes its helpers with it. */
START_TEST(test_client_death_ends_helper) {
        int pipefd[2];
        pid_t child, helper = 0;

        ck_assert_int_eq(pipe(pipefd), 0);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
                keyd_client *c = NULL;
                keyd_crypto_session *s = NULL;
                keyd_video_decoder *d = NULL;
                uint8_t wrapped[16];
                pid_t pid;

                /* No Check asserts in here: plain exits. */
                if (KEYD_FAILED(keyd_client_open_address(harness_bus_address(), &c)))
                        _exit(2);
                if (KEYD_FAILED(keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR,
                                                           &KEYD_DECODER_PROFILE_H264_VLD_NOFGT,
                                                           &KEYD_KEY_EXCHANGE_RSAES_OAEP, &s)))
                        _exit(3);
                if (KEYD_FAILED(keyd_create_video_decoder(s, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, h264.width,
                                                          h264.height, h264.config_size, h264.config, &d)))
                        _exit(4);
                memset(wrapped, 0, sizeof(wrapped));
                (void) decode_clear_text(d, "not a real sample, but it goes through the helper");
                {
                        _cleanup_free_ char *path = NULL;
                        uint32_t p = 0;

                        if (asprintf(&path, "%s/decoder/0", keyd_crypto_session_get_object_path(s)) < 0 ||
                            harness_get_property_u32(path, "org.keyd.KeyBroker1.VideoDecoder", "HelperPID", &p) < 0)
                                _exit(5);
                        pid = (pid_t) p;
                }
                if (write(pipefd[1], &pid, sizeof(pid)) != sizeof(pid))
                        _exit(6);
                _exit(0);  /* without closing anything */
        }
        close(pipefd[1]);
        ck_assert_int_eq(read(pipefd[0], &helper, sizeof(helper)), (ssize_t) sizeof(helper));
        close(pipefd[0]);
        ck_assert_int_gt(helper, 0);
        ck_assert_int_eq(waitpid(child, NULL, 0), child);
        ck_assert_msg(process_gone(helper), "keyd-decoder %i outlived its client", (int) helper);
}
END_TEST

static Suite *decoder_suite(void) {
        Suite *s = suite_create("decoder");
        TCase *tc = tcase_create("decode");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_h264_matches_ffmpeg);
        tcase_add_test(tc, test_h264_without_pool_matches_ffmpeg);
        tcase_add_test(tc, test_hevc_main10_matches_ffmpeg);
        tcase_add_test(tc, test_hevc_main10_without_pool_matches_ffmpeg);
        tcase_add_test(tc, test_frame_pool_rules);
        tcase_add_test(tc, test_other_client_is_denied);
        tcase_add_test(tc, test_bad_arguments);
        tcase_add_test(tc, test_client_death_ends_helper);
#ifdef KEYD_TEST_HOOKS
        tcase_add_test(tc, test_helper_is_shut_in);
        tcase_add_test(tc, test_open_after_filter_kills_helper);
        tcase_add_test(tc, test_crash_ends_only_that_decoder);
#endif
        tcase_add_test(tc, test_death_between_calls);
        suite_add_tcase(s, tc);

#ifdef KEYD_TEST_HOOKS
        tc = tcase_create("deadline");
        tcase_add_checked_fixture(tc, setup_short_deadline, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_hang_is_killed_at_deadline);
        tcase_add_test(tc, test_plaintext_wiped);
        suite_add_tcase(s, tc);
#endif

        tc = tcase_create("threads");
        tcase_add_checked_fixture(tc, setup_many_threads, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_h264_many_threads_matches_ffmpeg);
        tcase_add_test(tc, test_h264_flush_then_from_start);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup_limits, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_limits);
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
        {
                _cleanup_free_ char *path = strdup(h264_path);

                /* read_stream() asserts: read it in a forked-off test's way is
                 * not needed, libavformat does not fail on our own clip. */
                read_stream(path, &h264);
        }
        sr = srunner_create(decoder_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        harness_cleanup();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
