/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl status: which keyd answers, with what backend, how busy it is
 * and what its limits are; the manager's properties and its caps. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "client-internal.h"
#include "keydctl-caps.h"
#include "keydctl.h"

typedef struct ManagerInfo {
        char *version;
        char *backend;
        uint32_t session_count;
        uint32_t max_sessions_per_client;
} ManagerInfo;

static void manager_info_done(ManagerInfo *m) {
        free(m->version);
        free(m->backend);
}

static int fail_property(int r, const sd_bus_error *error, const char *property) {
        return keydctl_fail(keyd_fail_call(KEYD_CALL_MANAGER, r, error, property),
                            "cannot read the manager's properties");
}

static int read_manager(sd_bus *bus, ManagerInfo *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_get_property_string(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "Version",
                                       &error, &ret->version);
        if (r < 0)
                return fail_property(r, &error, "Version");
        r = sd_bus_get_property_string(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "Backend",
                                       &error, &ret->backend);
        if (r < 0)
                return fail_property(r, &error, "Backend");
        r = sd_bus_get_property_trivial(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                        "SessionCount", &error, 'u', &ret->session_count);
        if (r < 0)
                return fail_property(r, &error, "SessionCount");
        r = sd_bus_get_property_trivial(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE,
                                        "MaxSessionsPerClient", &error, 'u', &ret->max_sessions_per_client);
        if (r < 0)
                return fail_property(r, &error, "MaxSessionsPerClient");
        return 0;
}

/* The vpl backend is the GPU's protected session; the software backend is
 * the reference implementation in keyd's own memory. The caps say the same
 * in D3D11's terms (HARDWARE or SOFTWARE). */
static bool is_hardware(const ManagerInfo *m, const KeydctlCaps *caps) {
        return streq(m->backend, "vpl") && (caps->caps.Caps & KEYD_CONTENT_PROTECTION_CAPS_HARDWARE);
}

static const char *protection_text(const ManagerInfo *m, const KeydctlCaps *caps) {
        if (is_hardware(m, caps))
                return "hardware (Intel GPU protected session through oneVPL and VA-API)";
        if (streq(m->backend, "software"))
                return "software reference (keys and plaintext in keyd's memory, no hardware protection)";
        return "not hardware (the caps do not say HARDWARE)";
}

static void print_json(const ManagerInfo *m, const KeydctlCaps *caps) {
        Json j;

        json_begin(&j, stdout);
        json_object_open(&j, NULL);
        json_string(&j, "version", m->version);
        json_string(&j, "backend", m->backend);
        json_bool(&j, "hardware", is_hardware(m, caps));
        json_uint(&j, "session_count", m->session_count);
        json_uint(&j, "max_sessions_per_client", m->max_sessions_per_client);
        keydctl_json_caps(&j, "content_protection", caps);
        json_object_close(&j);
        json_end(&j);
}

static void print_text(const ManagerInfo *m, const KeydctlCaps *caps) {
        printf("Version:               %s\n", m->version);
        printf("Backend:               %s\n", m->backend);
        printf("Protection:            %s\n", protection_text(m, caps));
        printf("Sessions:              %" PRIu32 " open\n", m->session_count);
        printf("Sessions per client:   at most %" PRIu32 "\n", m->max_sessions_per_client);
        printf("Surface memory:        at most %" PRIu64 " bytes per client\n", caps->caps.ProtectedMemorySize);
        printf("AES128-CTR, no decoder profile:\n");
        keydctl_print_caps(caps);
}

int verb_status(const Keydctl *ctl, int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(manager_info_done) ManagerInfo m = {};
        keyd_client *client;
        KeydctlCaps caps;
        int r;

        r = keydctl_open_bus(ctl, &bus);
        if (r < 0)
                return r;
        r = sd_bus_set_method_call_timeout(bus, ctl->timeout_usec ?: KEYD_DEFAULT_TIMEOUT_USEC);
        if (r < 0)
                return keydctl_fail(KEYD_E_FAIL, "cannot set the timeout");
        r = read_manager(bus, &m);
        if (r < 0)
                return r;

        r = keydctl_open_client(ctl, &client);
        if (r < 0)
                return r;
        r = keydctl_read_caps(client, NULL, &caps);
        keyd_client_close(client);
        if (r < 0)
                return r;

        if (ctl->json)
                print_json(&m, &caps);
        else
                print_text(&m, &caps);
        return 0;
}
