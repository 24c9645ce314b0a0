/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpu-harness.h"
#include "macro.h"

#define KEYD_BUS_NAME "org.keyd.KeyBroker1"
#define KEYD_MANAGER_PATH "/org/keyd/KeyBroker1"
#define KEYD_MANAGER_INTERFACE "org.keyd.KeyBroker1.Manager"
#define KEYD_SESSION_INTERFACE "org.keyd.KeyBroker1.CryptoSession"

static struct {
        char *render_node;
        char *va_state;
        char *runtime_log;
        char *fail_flag;
        char *empty_dir;
} G;

static char *path_in_tmpdir(const char *name) {
        char *p = NULL;

        ck_assert_int_ge(asprintf(&p, "%s/%s", harness_tmpdir(), name), 0);
        return p;
}

static void set(const char *name, const char *value) {
        ck_assert_msg(setenv(name, value, 1) == 0, "setenv %s: %m", name);
}

void gpu_setup_environment(bool with_runtime) {
        const char *dir = getenv("KEYDTEST_GPU_DIR"), *preload = getenv("KEYDTEST_DRM_OVERRIDE");
        int fd;

        ck_assert_msg(dir && preload, "KEYDTEST_GPU_DIR and KEYDTEST_DRM_OVERRIDE are not set; run the gpu "
                                      "tests with `meson test --suite gpu`");

        G.render_node = path_in_tmpdir("fake-renderD128");
        G.va_state = path_in_tmpdir("va-state");
        G.runtime_log = path_in_tmpdir("runtime.log");
        G.fail_flag = path_in_tmpdir("fail-sessions");
        G.empty_dir = path_in_tmpdir("no-runtimes");

        /* A plain file stands in for the render node; the LD_PRELOADed
         * override makes libdrm call it a render node, for keyd only. */
        fd = open(G.render_node, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_msg(fd >= 0, "cannot create %s: %m", G.render_node);
        close(fd);
        ck_assert(mkdir(G.empty_dir, 0700) == 0 || errno == EEXIST);

        set("LD_PRELOAD", preload);
        set("KEYDTEST_FAKE_RENDER_NODE", G.render_node);
        set("LIBVA_DRIVERS_PATH", dir);
        set("LIBVA_DRIVER_NAME", "keydtest");
        set("KEYDTEST_VA_STATE", G.va_state);
        set("KEYDTEST_VA_FAIL_SESSIONS", G.fail_flag);
        set("KEYDTEST_RUNTIME_LOG", G.runtime_log);
        /* The dispatcher also looks in LD_LIBRARY_PATH and the system
         * directories; keyd's --vpl-implementation= filter keeps an installed
         * runtime out, and keyd needs no LD_LIBRARY_PATH. */
        set("ONEVPL_SEARCH_PATH", with_runtime ? dir : G.empty_dir);
        (void) unsetenv("LD_LIBRARY_PATH");
        (void) unsetenv("KEYDTEST_VA_ENTRYPOINTS");
        (void) unsetenv("KEYDTEST_VA_SAMPLE_TYPES");
        (void) unsetenv("KEYDTEST_RUNTIME_REJECT_PXP");
}

int gpu_start_keyd(const char *backend, const char *const *extra) {
        _cleanup_free_ char *backend_arg = NULL, *node_arg = NULL;
        const char *argv[16];
        size_t n = 0;

        ck_assert_int_ge(asprintf(&backend_arg, "--backend=%s", backend), 0);
        ck_assert_int_ge(asprintf(&node_arg, "--render-node=%s", G.render_node), 0);
        argv[n++] = backend_arg;
        argv[n++] = node_arg;
        argv[n++] = "--vpl-implementation=" KEYDTEST_IMPL_NAME;
        for (size_t i = 0; extra && extra[i]; i++) {
                ck_assert_uint_lt(n + 1, ELEMENTSOF(argv));
                argv[n++] = extra[i];
        }
        argv[n] = NULL;
        return harness_start_keyd(argv);
}

const char *gpu_fake_render_node(void) {
        return G.render_node;
}

const char *gpu_fail_sessions_flag(void) {
        return G.fail_flag;
}

char *gpu_va_string(const char *key) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0, n = strlen(key);

        text = harness_read_file(G.va_state, &size);
        ck_assert_msg(text, "the test VA driver wrote no state to %s; did keyd load it?", G.va_state);

        for (char *line = text; line && *line;) {
                char *next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (strncmp(line, key, n) == 0 && line[n] == ' ')
                        return strdup(line + n + 1);
                line = next;
        }
        ck_abort_msg("the test VA driver's state has no \"%s\"", key);
        return NULL;
}

unsigned long gpu_va_number(const char *key) {
        _cleanup_free_ char *v = gpu_va_string(key);
        char *end;
        unsigned long n = strtoul(v, &end, 10);

        ck_assert_msg(*v && *end == 0, "\"%s\" in the VA driver's state is \"%s\", not a number", key, v);
        return n;
}

char *gpu_runtime_log(void) {
        size_t size = 0;
        char *text = harness_read_file(G.runtime_log, &size);
        return text ?: strdup("");
}

static unsigned count_lines(const char *text, const char *needle, bool prefix) {
        unsigned n = 0;

        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);
                _cleanup_free_ char *copy = strndup(line, len);

                if (prefix ? strncmp(copy, needle, strlen(needle)) == 0 : strstr(copy, needle) != NULL)
                        n++;
                line = end ? end + 1 : NULL;
        }
        return n;
}

unsigned gpu_runtime_count(const char *prefix) {
        _cleanup_free_ char *log = gpu_runtime_log();
        return count_lines(log, prefix, true);
}

unsigned gpu_keyd_log_count(const char *s) {
        _cleanup_free_ char *log = harness_keyd_log();
        return count_lines(log ?: "", s, false);
}

/* ---- raw calls ---- */

sd_bus *gpu_connect(void) {
        sd_bus *bus = NULL;

        ck_assert_int_eq(harness_open_bus(&bus), 0);
        return bus;
}

int gpu_create_session(sd_bus *bus, const char *crypto_type, const char *profile, const char *key_exchange,
                       char **ret_path, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "CreateCryptoSession",
                               error, &reply, "sss", crypto_type, profile, key_exchange);
        if (r < 0)
                return r;
        ck_assert_int_ge(sd_bus_message_read(reply, "o", &path), 0);
        *ret_path = strdup(path);
        ck_assert_ptr_nonnull(*ret_path);
        return 0;
}

int gpu_execute(sd_bus *bus, const char *path, uint32_t function_id, const void *input, size_t size,
                uint32_t max_output, HwResult *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const void *out;
        int r;

        *ret = (HwResult) {};
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "ExecuteHWProtectionFunction"),
                         0);
        ck_assert_int_ge(sd_bus_message_append(m, "uu", function_id, 0u), 0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', input, size), 0);
        ck_assert_int_ge(sd_bus_message_append(m, "u", max_output), 0);

        r = sd_bus_call(bus, m, 0, error, &reply);
        if (r < 0)
                return r;

        ck_assert_int_ge(sd_bus_message_read(reply, "uut", &ret->private_data_size, &ret->hw_protection_data_size,
                                             &ret->execution_time_100ns),
                         0);
        ck_assert_int_ge(sd_bus_message_read_array(reply, 'y', &out, &ret->output_size), 0);
        ck_assert_int_ge(sd_bus_message_read(reply, "i", &ret->status), 0);
        ret->output = malloc(ret->output_size ?: 1);
        ck_assert_ptr_nonnull(ret->output);
        memcpy(ret->output, out, ret->output_size);
        return 0;
}

int gpu_close_session(sd_bus *bus, const char *path, sd_bus_error *error) {
        return sd_bus_call_method(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "Close", error, NULL, "");
}

int gpu_get_caps(sd_bus *bus, const char *crypto_type, const char *profile, uint32_t ret[3], uint64_t *ret_memory,
                 sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                               "GetContentProtectionCaps", error, &reply, "ss", crypto_type, profile);
        if (r < 0)
                return r;
        ck_assert_int_ge(sd_bus_message_read(reply, "uuut", &ret[0], &ret[1], &ret[2], ret_memory), 0);
        return 0;
}

char *gpu_backend_name(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus = gpu_connect();
        char *name = NULL;
        int r;

        r = sd_bus_get_property_string(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "Backend",
                                       &error, &name);
        ck_assert_msg(r >= 0, "Get Backend: %s", error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        return name;
}

uint32_t gpu_error_hresult(const sd_bus_error *error) {
        unsigned long v;
        char *end;

        ck_assert_ptr_nonnull(error->message);
        v = strtoul(error->message, &end, 16);
        ck_assert_msg(end != error->message && *end == ':', "keyd's error message does not begin with an HRESULT: %s",
                      error->message);
        return (uint32_t) v;
}
