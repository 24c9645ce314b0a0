/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The vpl backend, end to end, on a machine without an Intel GPU: the real
 * keyd (--backend=vpl or auto) on a private dbus-daemon, the real libvpl
 * dispatcher loading keyd's test runtime, the real libva loading keyd's
 * test VA driver. What these tests show is that keyd drives VA-API's
 * protected-session API and the oneVPL dispatcher as intended and reports
 * what they say; they say nothing about Intel's runtime, driver or
 * firmware, which have never run under keyd. */

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "gpu-harness.h"
#include "macro.h"

#define USEC_PER_SEC 1000000ULL

#define CAPS_HARDWARE 0x2u
#define CAPS_PARTIAL_DECRYPTION 0x8u
#define CAPS_HARDWARE_DRM_COMMUNICATION 0x4000u

#define E_INVALIDARG 0x80070057u
#define E_FAIL 0x80004005u
#define DXGI_ERROR_UNSUPPORTED 0x887A0004u

/* What the test VA driver does to a TEE call (keydtest-va-driver.c). */
#define TEE_XOR 0x5Au
#define TEE_STATUS_BASE 0xC0DE0000u

static void setup(void) {
        harness_start_bus();
        gpu_setup_environment(true);
}

static void setup_without_runtime(void) {
        harness_start_bus();
        gpu_setup_environment(false);
}

static void teardown(void) {
        harness_stop();
}

static void start_vpl(void) {
        ck_assert_msg(gpu_start_keyd("vpl", NULL) == 0, "keyd --backend=vpl did not start on the test doubles");
}

static void random_bytes(void *p, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = getrandom((char *) p + done, n - done, 0);
                ck_assert_int_gt(k, 0);
                done += (size_t) k;
        }
}

static char *hex(const uint8_t *p, size_t n) {
        static const char digits[] = "0123456789abcdef";
        char *s = malloc(2 * n + 1);

        ck_assert_ptr_nonnull(s);
        for (size_t i = 0; i < n; i++) {
                s[2 * i] = digits[p[i] >> 4];
                s[2 * i + 1] = digits[p[i] & 15];
        }
        s[2 * n] = 0;
        return s;
}

/* keyd --backend=X must exit before READY=1; its log is returned. */
static char *expect_start_failure(const char *backend) {
        int r = gpu_start_keyd(backend, NULL);

        ck_assert_msg(r < 0, "keyd --backend=%s started although it should not have", backend);
        return harness_keyd_log();
}

/* ---- the backend runs, and says what the driver offers ---- */

START_TEST(test_backend_is_vpl) {
        _cleanup_free_ char *name = NULL, *log = NULL;

        start_vpl();
        name = gpu_backend_name();
        ck_assert_str_eq(name, "vpl");

        log = harness_keyd_log();
        ck_assert_msg(strstr(log, "vpl backend ready: oneVPL runtime \"" KEYDTEST_IMPL_NAME "\""),
                      "keyd's log does not name the test runtime:\n%s", log);
        ck_assert_msg(strstr(log, "keyd test VA driver (no GPU)"), "keyd's log does not name the VA driver:\n%s", log);

        /* The start-up probe: one oneVPL session with keyd's VA display and a
         * PXP context, one protected session, all gone again. */
        ck_assert_uint_eq(gpu_runtime_count("open "), 1);
        ck_assert_uint_eq(gpu_runtime_count("va_display 1 keyd test VA driver (no GPU)"), 1);
        ck_assert_uint_eq(gpu_runtime_count("pxp_context 1 "), 1);
        ck_assert_uint_eq(gpu_runtime_count("close 1"), 1);
        ck_assert_uint_eq(gpu_va_number("initialized"), 1);
        ck_assert_uint_eq(gpu_va_number("sessions_created"), 1);
        ck_assert_uint_eq(gpu_va_number("sessions_destroyed"), 1);
        ck_assert_uint_eq(gpu_va_number("configs_alive"), 0);
}
END_TEST

/* keydctl status tells the vpl backend (hardware protection) from the
 * software reference. */
START_TEST(test_keydctl_status_says_hardware) {
        _cleanup_free_ char *address = NULL;
        HarnessRun run;

        start_vpl();
        ck_assert_int_gt(asprintf(&address, "--address=%s", harness_bus_address()), 0);

        const char *text[] = { harness_binary("KEYDCTL_BINARY"), address, "status", NULL };
        ck_assert_int_eq(harness_run(text, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 0, "keydctl status exited %d:\n%s", run.status, run.err);
        ck_assert_msg(strstr(run.out, "Backend:               vpl") && strstr(run.out, "Protection:            hardware"),
                      "%s", run.out);
        ck_assert_msg(strstr(run.out, " HARDWARE") && !strstr(run.out, "software reference"), "%s", run.out);
        harness_run_done(&run);

        const char *json[] = { harness_binary("KEYDCTL_BINARY"), address, "status", "--json", NULL };
        ck_assert_int_eq(harness_run(json, NULL, 0, &run), 0);
        ck_assert_msg(run.status == 0, "keydctl status --json exited %d:\n%s", run.status, run.err);
        ck_assert_msg(strstr(run.out, "\"backend\":\"vpl\",\"hardware\":true,"), "%s", run.out);
        harness_run_done(&run);
}
END_TEST

START_TEST(test_caps_from_driver) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus;
        uint32_t caps[3];
        uint64_t memory;

        start_vpl();
        bus = gpu_connect();

        /* The driver offers AES, 128-bit blocks, CTR, subsamples, TEEComm. */
        ck_assert_int_ge(gpu_get_caps(bus, GUID_AES128_CTR, GUID_H264, caps, &memory, &error), 0);
        ck_assert_uint_eq(caps[0], CAPS_HARDWARE | CAPS_HARDWARE_DRM_COMMUNICATION | CAPS_PARTIAL_DECRYPTION);
        ck_assert_uint_eq(caps[1], 1);
        ck_assert_uint_eq(caps[2], 16);
        ck_assert_uint_eq(memory, 0);

        ck_assert_int_ge(gpu_get_caps(bus, GUID_AES128_CTR, "", caps, &memory, &error), 0);
        ck_assert_uint_eq(caps[1], 1);

        /* The test driver has no AV1 and no HEVC Main10 decoder. */
        ck_assert_int_lt(gpu_get_caps(bus, GUID_AES128_CTR, GUID_AV1, caps, &memory, &error), 0);
        ck_assert_str_eq(error.name, "org.keyd.KeyBroker1.Error.Unsupported");
        ck_assert_msg(strstr(error.message, "no AV1 profile 0 decoder"), "%s", error.message);
        sd_bus_error_free(&error);

        _cleanup_free_ char *path = NULL;
        ck_assert_int_lt(gpu_create_session(bus, GUID_AES128_CTR, GUID_HEVC_MAIN10, GUID_HW_PROTECTION, &path, &error), 0);
        ck_assert_uint_eq(gpu_error_hresult(&error), DXGI_ERROR_UNSUPPORTED);
        sd_bus_error_free(&error);

        sd_bus_flush_close_unref(bus);
}
END_TEST

START_TEST(test_caps_follow_sample_types) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus;
        uint32_t caps[3];
        uint64_t memory;

        /* A driver with full-sample encryption only: no partial decryption. */
        ck_assert_int_eq(setenv("KEYDTEST_VA_SAMPLE_TYPES", "full", 1), 0);
        start_vpl();
        bus = gpu_connect();
        ck_assert_int_ge(gpu_get_caps(bus, GUID_AES128_CTR, GUID_H264, caps, &memory, &error), 0);
        ck_assert_uint_eq(caps[0], CAPS_HARDWARE | CAPS_HARDWARE_DRM_COMMUNICATION);
        sd_bus_flush_close_unref(bus);
}
END_TEST

START_TEST(test_no_tee_entrypoint) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        sd_bus *bus;
        uint32_t caps[3];
        uint64_t memory;

        /* ProtectedContent only: sessions for a decoder still work, sessions
         * without a decoder profile (TEE only) have no key exchange. */
        ck_assert_int_eq(setenv("KEYDTEST_VA_ENTRYPOINTS", "content", 1), 0);
        start_vpl();
        bus = gpu_connect();

        ck_assert_int_ge(gpu_get_caps(bus, GUID_AES128_CTR, "", caps, &memory, &error), 0);
        ck_assert_uint_eq(caps[1], 0);
        ck_assert_int_lt(gpu_create_session(bus, GUID_AES128_CTR, "", GUID_HW_PROTECTION, &path, &error), 0);
        ck_assert_uint_eq(gpu_error_hresult(&error), DXGI_ERROR_UNSUPPORTED);
        ck_assert_msg(strstr(error.message, "VAEntrypointProtectedTEEComm"), "%s", error.message);
        sd_bus_error_free(&error);

        ck_assert_int_ge(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &path, &error), 0);
        sd_bus_flush_close_unref(bus);
}
END_TEST

START_TEST(test_rsaes_oaep_unsupported) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        sd_bus *bus;

        start_vpl();
        bus = gpu_connect();
        ck_assert_int_lt(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_RSAES_OAEP, &path, &error), 0);
        ck_assert_str_eq(error.name, "org.keyd.KeyBroker1.Error.Unsupported");
        ck_assert_uint_eq(gpu_error_hresult(&error), DXGI_ERROR_UNSUPPORTED);
        ck_assert_msg(strstr(error.message, "D3D11_KEY_EXCHANGE_RSAES_OAEP is not available on the vpl backend"),
                      "%s", error.message);
        sd_bus_error_free(&error);
        /* No VA object was made for the refused session. */
        ck_assert_uint_eq(gpu_va_number("sessions_created"), 1);
        sd_bus_flush_close_unref(bus);
}
END_TEST

/* ---- the HW_PROTECTION exchange, bytes both ways ---- */

static void exchange_once(sd_bus *bus, const char *path, uint32_t function_id, size_t size) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ uint8_t *input = malloc(size ?: 1);
        _cleanup_free_ char *sent = NULL, *seen = NULL;
        HwResult res;
        unsigned long executes = gpu_va_number("executes");

        ck_assert_ptr_nonnull(input);
        random_bytes(input, size);

        ck_assert_msg(gpu_execute(bus, path, function_id, input, size, (uint32_t) size + 7, &res, &error) >= 0,
                      "ExecuteHWProtectionFunction: %s", error.message);

        /* The driver saw exactly the caller's bytes and function id ... */
        ck_assert_uint_eq(gpu_va_number("executes"), executes + 1);
        ck_assert_uint_eq(gpu_va_number("last_function_id"), function_id);
        ck_assert_uint_eq(gpu_va_number("last_input_size"), size);
        if (size > 0) {
                sent = hex(input, size);
                seen = gpu_va_string("last_input");
                ck_assert_str_eq(seen, sent);
        }

        /* ... and its answer came back unchanged: input XOR 0x5A, its status. */
        ck_assert_uint_eq(res.output_size, size);
        ck_assert_uint_eq(res.hw_protection_data_size, size);
        ck_assert_uint_eq(res.private_data_size, 0);
        ck_assert_uint_eq((uint32_t) res.status, TEE_STATUS_BASE | function_id);
        for (size_t i = 0; i < size; i++)
                ck_assert_msg(res.output[i] == (uint8_t) (input[i] ^ TEE_XOR), "output byte %zu is 0x%02x, not 0x%02x",
                              i, res.output[i], input[i] ^ TEE_XOR);
        free(res.output);
}

START_TEST(test_hw_protection_exchange) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *config = NULL;
        sd_bus *bus;

        start_vpl();
        bus = gpu_connect();

        /* With a decoder profile: a ProtectedContent session with the
         * AES-128-CTR attributes, and a oneVPL session holding its PXP context. */
        ck_assert_msg(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &path, &error) >= 0,
                      "CreateCryptoSession: %s", error.message);
        config = gpu_va_string("last_config");
        /* 45..48: cipher algorithm AES, block 128, mode CTR, subsample */
        ck_assert_str_eq(config, "entrypoint=content,45=0x1,46=0x1,47=0x4,48=0x2");
        ck_assert_uint_eq(gpu_va_number("sessions_alive"), 1);
        ck_assert_uint_eq(gpu_runtime_count("open 2"), 1);
        ck_assert_uint_eq(gpu_runtime_count("va_display 2 keyd test VA driver (no GPU)"), 1);
        /* The second protected session the driver made has id 0x1000 again
         * (the probe's was freed): 4096. */
        ck_assert_uint_eq(gpu_runtime_count("pxp_context 2 4096"), 1);

        exchange_once(bus, path, 1, 300);
        exchange_once(bus, path, 0x2a, 4000);
        exchange_once(bus, path, 3, 0);
        exchange_once(bus, path, 1, 1);

        ck_assert_int_ge(gpu_close_session(bus, path, &error), 0);
        ck_assert_uint_eq(gpu_va_number("sessions_alive"), 0);
        ck_assert_uint_eq(gpu_va_number("configs_alive"), 0);
        ck_assert_uint_eq(gpu_runtime_count("close 2"), 1);
        sd_bus_flush_close_unref(bus);
}
END_TEST

/* The vpl backend decodes nothing (protected decode would need oneVPL on an
 * Intel GPU): CreateVideoDecoder says Unsupported and why. */
START_TEST(test_no_video_decoder) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        sd_bus *bus;

        start_vpl();
        bus = gpu_connect();
        ck_assert_msg(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &path, &error) >= 0,
                      "CreateCryptoSession: %s", error.message);
        ck_assert_int_lt(sd_bus_call_method(bus, "org.keyd.KeyBroker1", path, "org.keyd.KeyBroker1.CryptoSession",
                                            "CreateVideoDecoder", &error, &reply, "suuay", GUID_H264, 1920, 1080,
                                            (size_t) 0),
                         0);
        ck_assert_str_eq(error.name, "org.keyd.KeyBroker1.Error.Unsupported");
        ck_assert_msg(strstr(error.message, "0x887A0004: the vpl backend cannot decode") &&
                              strstr(error.message, "oneVPL's protected decode"),
                      "message: %s", error.message);
        sd_bus_error_free(&error);
        ck_assert_int_ge(gpu_close_session(bus, path, &error), 0);
        sd_bus_flush_close_unref(bus);
}
END_TEST

START_TEST(test_tee_only_session) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *config = NULL;
        sd_bus *bus;

        start_vpl();
        bus = gpu_connect();

        /* Without a decoder profile: TEEComm, no attributes, no oneVPL session. */
        ck_assert_msg(gpu_create_session(bus, GUID_AES128_CTR, "", GUID_HW_PROTECTION, &path, &error) >= 0,
                      "CreateCryptoSession: %s", error.message);
        config = gpu_va_string("last_config");
        ck_assert_str_eq(config, "entrypoint=tee");
        ck_assert_uint_eq(gpu_runtime_count("open "), 1);   /* the probe's only */

        exchange_once(bus, path, 2, 64);
        ck_assert_int_ge(gpu_close_session(bus, path, &error), 0);
        ck_assert_uint_eq(gpu_va_number("sessions_alive"), 0);
        sd_bus_flush_close_unref(bus);
}
END_TEST

START_TEST(test_output_too_large) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        uint8_t input[32] = { 1, 2, 3 };
        HwResult res;
        sd_bus *bus;

        start_vpl();
        bus = gpu_connect();
        ck_assert_int_ge(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &path, &error), 0);

        /* The driver's output is as long as the input: 16 bytes of room is too little. */
        ck_assert_int_lt(gpu_execute(bus, path, 1, input, sizeof(input), 16, &res, &error), 0);
        ck_assert_str_eq(error.name, "org.keyd.KeyBroker1.Error.InvalidArg");
        ck_assert_uint_eq(gpu_error_hresult(&error), E_INVALIDARG);
        ck_assert_msg(strstr(error.message, "max_output_size"), "%s", error.message);
        sd_bus_error_free(&error);

        /* The session still works. */
        exchange_once(bus, path, 1, sizeof(input));
        sd_bus_flush_close_unref(bus);
}
END_TEST

/* keyd allocates (and wipes) the room for the output before the driver
 * runs: max_output_size is bounded like any ay result, 16 MiB, and a larger
 * one never reaches the driver. */
START_TEST(test_max_output_size_bounded) {
        static const uint32_t too_large[] = { 16u * 1024u * 1024u + 1u, UINT32_MAX };
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        uint8_t input[32] = { 4, 5, 6 };
        unsigned long executes;
        HwResult res;
        sd_bus *bus;

        start_vpl();
        bus = gpu_connect();
        ck_assert_int_ge(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &path, &error), 0);

        for (size_t i = 0; i < ELEMENTSOF(too_large); i++) {
                char size[16];

                executes = gpu_va_number("executes");
                ck_assert_msg(gpu_execute(bus, path, 1, input, sizeof(input), too_large[i], &res, &error) < 0,
                              "max_output_size %" PRIu32 " was accepted", too_large[i]);
                ck_assert_str_eq(error.name, "org.keyd.KeyBroker1.Error.InvalidArg");
                ck_assert_uint_eq(gpu_error_hresult(&error), E_INVALIDARG);
                snprintf(size, sizeof(size), "%" PRIu32, too_large[i]);
                ck_assert_msg(strstr(error.message, "max_output_size") && strstr(error.message, size) &&
                              strstr(error.message, "16777216"),
                              "the message names neither the size asked nor the bound: %s", error.message);
                sd_bus_error_free(&error);
                ck_assert_uint_eq(gpu_va_number("executes"), executes);
        }

        /* The bound itself is fine. */
        ck_assert_msg(gpu_execute(bus, path, 1, input, sizeof(input), 16u * 1024u * 1024u, &res, &error) >= 0,
                      "ExecuteHWProtectionFunction with 16 MiB of room: %s", error.message);
        ck_assert_uint_eq(res.output_size, sizeof(input));
        free(res.output);

        exchange_once(bus, path, 1, sizeof(input));
        sd_bus_flush_close_unref(bus);
}
END_TEST

/* ---- sessions end on every path ---- */

START_TEST(test_create_destroy_pair_up) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *paths[6] = {};
        sd_bus *bus;

        start_vpl();
        bus = gpu_connect();
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                ck_assert_int_ge(gpu_create_session(bus, GUID_AES128_CTR, i % 2 ? "" : GUID_H264, GUID_HW_PROTECTION,
                                                    &paths[i], &error),
                                 0);
        ck_assert_uint_eq(gpu_va_number("sessions_alive"), ELEMENTSOF(paths));
        ck_assert_uint_eq(gpu_va_number("configs_alive"), ELEMENTSOF(paths));

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                ck_assert_int_ge(gpu_close_session(bus, paths[i], &error), 0);
                free(paths[i]);
        }

        /* The probe's pair plus six: every create has its destroy. */
        ck_assert_uint_eq(gpu_va_number("sessions_created"), 1 + ELEMENTSOF(paths));
        ck_assert_uint_eq(gpu_va_number("sessions_destroyed"), 1 + ELEMENTSOF(paths));
        ck_assert_uint_eq(gpu_va_number("configs_created"), 1 + ELEMENTSOF(paths));
        ck_assert_uint_eq(gpu_va_number("configs_destroyed"), 1 + ELEMENTSOF(paths));
        ck_assert_uint_eq(gpu_runtime_count("open "), gpu_runtime_count("close "));
        ck_assert_uint_eq(gpu_runtime_count("open "), 1 + ELEMENTSOF(paths) / 2);
        sd_bus_flush_close_unref(bus);
}
END_TEST

START_TEST(test_owner_disconnect_destroys) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        uint32_t last = 0;
        sd_bus *owner;

        start_vpl();
        owner = gpu_connect();
        ck_assert_int_ge(gpu_create_session(owner, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &a, &error), 0);
        ck_assert_int_ge(gpu_create_session(owner, GUID_AES128_CTR, "", GUID_HW_PROTECTION, &b, &error), 0);
        ck_assert_int_ge(gpu_create_session(owner, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &c, &error), 0);
        exchange_once(owner, b, 1, 48);
        ck_assert_uint_eq(gpu_va_number("sessions_alive"), 3);

        /* The owner goes away without closing anything. */
        sd_bus_flush_close_unref(owner);
        ck_assert_msg(harness_wait_session_count(0, 10 * USEC_PER_SEC, &last) == 0,
                      "keyd still has %u sessions after their owner left", last);

        ck_assert_uint_eq(gpu_va_number("sessions_alive"), 0);
        ck_assert_uint_eq(gpu_va_number("configs_alive"), 0);
        ck_assert_uint_eq(gpu_va_number("sessions_created"), gpu_va_number("sessions_destroyed"));
        ck_assert_uint_eq(gpu_runtime_count("open "), gpu_runtime_count("close "));
        ck_assert_uint_eq(gpu_keyd_log_count("disconnected; destroying its 3 session(s)"), 1);
}
END_TEST

START_TEST(test_create_session_fails_daemon_serves) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL, *failed = NULL;
        unsigned long configs_before;
        sd_bus *bus;
        FILE *f;

        start_vpl();
        bus = gpu_connect();
        configs_before = gpu_va_number("configs_created");

        /* The driver refuses protected sessions from now on. */
        f = fopen(gpu_fail_sessions_flag(), "we");
        ck_assert_ptr_nonnull(f);
        fclose(f);

        ck_assert_int_lt(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &failed, &error), 0);
        ck_assert_str_eq(error.name, "org.keyd.KeyBroker1.Error.Failed");
        ck_assert_uint_eq(gpu_error_hresult(&error), E_FAIL);
        ck_assert_msg(strstr(error.message, "could not create a protected session (vaCreateProtectedSession"),
                      "%s", error.message);
        ck_assert_msg(strstr(error.message, "no session was created"), "%s", error.message);
        sd_bus_error_free(&error);

        ck_assert_uint_eq(gpu_va_number("sessions_refused"), 1);
        /* The config made for it was destroyed again; no session is left. */
        ck_assert_uint_eq(gpu_va_number("configs_created"), configs_before + 1);
        ck_assert_uint_eq(gpu_va_number("configs_alive"), 0);
        uint32_t count = 99;
        ck_assert_int_eq(harness_session_count(&count), 0);
        ck_assert_uint_eq(count, 0);

        /* keyd still serves: the driver works again, so do sessions. */
        ck_assert_int_eq(unlink(gpu_fail_sessions_flag()), 0);
        ck_assert_msg(gpu_create_session(bus, GUID_AES128_CTR, GUID_H264, GUID_HW_PROTECTION, &path, &error) >= 0,
                      "CreateCryptoSession after the failure: %s", error.message);
        exchange_once(bus, path, 1, 100);
        ck_assert_int_gt(harness_keyd_pid(), 0);
        ck_assert_int_eq(kill(harness_keyd_pid(), 0), 0);
        sd_bus_flush_close_unref(bus);
}
END_TEST

/* ---- selection: which step failed, once ---- */

START_TEST(test_auto_without_runtime) {
        _cleanup_free_ char *name = NULL, *log = NULL;

        ck_assert_int_eq(gpu_start_keyd("auto", NULL), 0);
        name = gpu_backend_name();
        ck_assert_str_eq(name, "software");

        log = harness_keyd_log();
        ck_assert_msg(gpu_keyd_log_count("Backend auto: not using vpl (no Intel oneVPL runtime: the oneVPL dispatcher "
                                         "offers no hardware VA-API implementation from vendor 0x8086 named \""
                                         KEYDTEST_IMPL_NAME "\"") == 1,
                      "keyd's log does not say once that the runtime is missing:\n%s", log);
        /* One line about vpl, not a trail of them. */
        ck_assert_uint_eq(gpu_keyd_log_count("vpl"), 1);
        /* The VA part worked and was torn down again. */
        ck_assert_uint_eq(gpu_va_number("initialized"), 1);
        ck_assert_uint_eq(gpu_va_number("terminated"), 1);
}
END_TEST

START_TEST(test_vpl_without_runtime_fails) {
        _cleanup_free_ char *log = expect_start_failure("vpl");

        ck_assert_msg(strstr(log, "Cannot use --backend=vpl: no Intel oneVPL runtime: the oneVPL dispatcher offers no "
                                  "hardware VA-API implementation from vendor 0x8086"),
                      "keyd's log does not say why vpl cannot be used:\n%s", log);
        ck_assert_int_ne(harness_wait_keyd_exit(10 * USEC_PER_SEC), 0);
}
END_TEST

typedef struct StepCase {
        const char *env, *value;   /* the switch that breaks one step */
        const char *reason;        /* what keyd must say */
} StepCase;

static const StepCase step_cases[] = {
        { "KEYDTEST_VA_ENTRYPOINTS", "tee",
          "no protected-content entry point: the VA driver \"keyd test VA driver (no GPU)\" offers VAProfileProtected "
          "without VAEntrypointProtectedContent (only TEE communication)" },
        { "KEYDTEST_RUNTIME_REJECT_PXP", "1",
          "the oneVPL runtime \"" KEYDTEST_IMPL_NAME "\" does not accept a PXP context, so it has no protected-content "
          "support (MFXVideoCORE_SetHandle(MFX_HANDLE_PXP_CONTEXT): MFX_ERR_INVALID_HANDLE)" },
        { "LIBVA_DRIVER_NAME", "keydtest-absent", "no VA driver: vaInitialize failed" },
        { "KEYDTEST_FAKE_RENDER_NODE", "/nonexistent",
          "no VA display: libva does not take " },
        { NULL, NULL,   /* the protected-session switch, set as a file below */
          "protected session probe failed: the GPU driver could not create a protected session "
          "(vaCreateProtectedSession with VAEntrypointProtectedContent: operation failed) (kernel without PXP, or "
          "PXP not ready)" },
};

static void break_step(const StepCase *c) {
        if (c->env)
                ck_assert_int_eq(setenv(c->env, c->value, 1), 0);
        else {
                FILE *f = fopen(gpu_fail_sessions_flag(), "we");
                ck_assert_ptr_nonnull(f);
                fclose(f);
        }
}

START_TEST(test_vpl_step_fails) {
        const StepCase *c = &step_cases[_i];
        _cleanup_free_ char *log = NULL, *expected = NULL;

        break_step(c);
        log = expect_start_failure("vpl");
        ck_assert_int_ge(asprintf(&expected, "Cannot use --backend=vpl: %s", c->reason), 0);
        ck_assert_msg(strstr(log, expected), "keyd's log does not say \"%s\":\n%s", expected, log);
        ck_assert_int_ne(harness_wait_keyd_exit(10 * USEC_PER_SEC), 0);
}
END_TEST

START_TEST(test_auto_step_falls_back) {
        const StepCase *c = &step_cases[_i];
        _cleanup_free_ char *name = NULL, *expected = NULL, *log = NULL;

        break_step(c);
        ck_assert_int_eq(gpu_start_keyd("auto", NULL), 0);
        name = gpu_backend_name();
        ck_assert_str_eq(name, "software");

        ck_assert_int_ge(asprintf(&expected, "Backend auto: not using vpl (%s", c->reason), 0);
        log = harness_keyd_log();
        ck_assert_msg(gpu_keyd_log_count(expected) == 1, "keyd's log does not say once \"%s\":\n%s", expected, log);
        ck_assert_uint_eq(gpu_keyd_log_count("vpl"), 1);
}
END_TEST

START_TEST(test_auto_without_render_node) {
        _cleanup_free_ char *name = NULL, *log = NULL;
        const char *argv[] = { "--backend=auto", NULL };

        /* Only meaningful where sysfs lists no render node at all. */
        if (access("/sys/class/drm/renderD128", F_OK) == 0) {
                fprintf(stderr, "test_auto_without_render_node: this machine has a render node; not run\n");
                return;
        }
        ck_assert_int_eq(harness_start_keyd(argv), 0);
        name = gpu_backend_name();
        ck_assert_str_eq(name, "software");
        log = harness_keyd_log();
        ck_assert_msg(gpu_keyd_log_count("Backend auto: not using vpl (no render node: /sys/class/drm lists no "
                                         "renderD* device") == 1,
                      "keyd's log does not say that there is no render node:\n%s", log);
}
END_TEST

static Suite *vpl_suite(void) {
        Suite *s = suite_create("vpl-backend");
        TCase *tc;

        tc = tcase_create("runtime");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_backend_is_vpl);
        tcase_add_test(tc, test_keydctl_status_says_hardware);
        tcase_add_test(tc, test_caps_from_driver);
        tcase_add_test(tc, test_caps_follow_sample_types);
        tcase_add_test(tc, test_no_tee_entrypoint);
        tcase_add_test(tc, test_rsaes_oaep_unsupported);
        tcase_add_test(tc, test_hw_protection_exchange);
        tcase_add_test(tc, test_tee_only_session);
        tcase_add_test(tc, test_no_video_decoder);
        tcase_add_test(tc, test_output_too_large);
        tcase_add_test(tc, test_max_output_size_bounded);
        tcase_add_test(tc, test_create_destroy_pair_up);
        tcase_add_test(tc, test_owner_disconnect_destroys);
        tcase_add_test(tc, test_create_session_fails_daemon_serves);
        tcase_add_loop_test(tc, test_vpl_step_fails, 0, (int) ELEMENTSOF(step_cases));
        tcase_add_loop_test(tc, test_auto_step_falls_back, 0, (int) ELEMENTSOF(step_cases));
        tcase_add_test(tc, test_auto_without_render_node);
        suite_add_tcase(s, tc);

        tc = tcase_create("no-runtime");
        tcase_add_checked_fixture(tc, setup_without_runtime, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_auto_without_runtime);
        tcase_add_test(tc, test_vpl_without_runtime_fails);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        harness_init();
        sr = srunner_create(vpl_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        harness_cleanup();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
