/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The GPU tests' additions to the integration harness (tests/integration/
 * harness.h): the environment that points the real libva and the real
 * libvpl dispatcher at keyd's test doubles, the files in which those
 * doubles report what keyd did, and raw sd-bus calls on keyd's objects
 * (libkeyd has no ExecuteHWProtectionFunction form). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "harness.h"

#define KEYDTEST_IMPL_NAME "keydtest-runtime"

#define GUID_AES128_CTR "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f"
#define GUID_HW_PROTECTION "b1170d8a-628d-4da3-ad3b-82ddb08b4970"
#define GUID_RSAES_OAEP "c1949895-d72a-4a1d-8e5d-ed857d171520"
#define GUID_H264 "1b81be68-a0c7-11d3-b984-00c04f2e73c5"
#define GUID_HEVC_MAIN10 "107af0e0-ef1a-4d19-aba8-67a163073d13"
#define GUID_AV1 "b8be4ccb-cf53-46ba-8d59-d6b8a6da5d2a"

/* Point libva, the dispatcher and keyd at the test doubles; every file
 * goes into the harness's temporary directory. Call after
 * harness_start_bus() (the bus must not get LD_PRELOAD). with_runtime
 * false leaves the test runtime off ONEVPL_SEARCH_PATH. */
void gpu_setup_environment(bool with_runtime);

/* keyd with --backend=<backend> on the fake render node, choosing the test
 * runtime by name; extra (NULL-terminated, may be NULL) after those. */
int gpu_start_keyd(const char *backend, const char *const *extra);

/* The fake render node (a plain file) and the files the doubles write. */
const char *gpu_fake_render_node(void);
const char *gpu_fail_sessions_flag(void);

/* A number from the VA driver's state file ("sessions_created" ...). */
unsigned long gpu_va_number(const char *key);
/* A string from it ("last_input", "last_config"), malloc'd. */
char *gpu_va_string(const char *key);
/* The test runtime's log; "" when it wrote nothing. */
char *gpu_runtime_log(void);
/* Lines of the runtime log that begin with prefix (e.g. "open "). */
unsigned gpu_runtime_count(const char *prefix);
/* Lines of keyd's log that contain s. */
unsigned gpu_keyd_log_count(const char *s);

/* ---- raw calls ---- */

typedef struct HwResult {
        uint32_t private_data_size;
        uint32_t hw_protection_data_size;
        uint64_t execution_time_100ns;
        uint8_t *output;
        size_t output_size;
        int32_t status;
} HwResult;

sd_bus *gpu_connect(void);
/* 0 with *ret_path (malloc'd), or the negative errno of the D-Bus error in
 * *error (name and message kept for the test to look at). */
int gpu_create_session(sd_bus *bus, const char *crypto_type, const char *profile, const char *key_exchange,
                       char **ret_path, sd_bus_error *error);
int gpu_execute(sd_bus *bus, const char *path, uint32_t function_id, const void *input, size_t size,
                uint32_t max_output, HwResult *ret, sd_bus_error *error);
int gpu_close_session(sd_bus *bus, const char *path, sd_bus_error *error);
int gpu_get_caps(sd_bus *bus, const char *crypto_type, const char *profile, uint32_t ret[3], uint64_t *ret_memory,
                 sd_bus_error *error);
/* The manager's Backend property, malloc'd. */
char *gpu_backend_name(void);
/* The HRESULT at the start of a keyd error message ("0x80004005: ..."). */
uint32_t gpu_error_hresult(const sd_bus_error *error);
