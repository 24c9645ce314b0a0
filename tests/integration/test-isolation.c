/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Isolation and abuse against the real keyd:
 * - a client running as another user (nobody) cannot use, by any method,
 *   the sessions and surfaces of root's connection, reads only their public
 *   properties, and is held to its own quotas; root cannot use its sessions
 *   either;
 * - the limits hold under load: 20 connections racing for sessions, one
 *   connection flooding negotiations while another works, the per-client
 *   queue bound;
 * - oversized messages, deep containers, wrong signatures, fds where bytes
 *   are expected and bytes (or the wrong kind of fd) where a memfd is:
 *   each refused, and a bystander's session keeps working after each, with
 *   no fd leaked in keyd. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abuse-util.h"
#include "harness.h"
#include "test-util.h"

/* How long a call may take before the test gives up on it: a bound on
 * liveness, not on speed. A 32 MiB message under ASan, with both cores
 * saturated by CPU hogs and other builds, took over 30 s. */
#define CALL_TIMEOUT_USEC (120 * USEC_PER_SEC)
#define NOBODY_UID 65534
#define NOBODY_GID 65534

static void teardown(void) {
        harness_stop();
}

/* ---- raw calls ---- */

static int raw_open(sd_bus **ret) {
        return harness_open_bus(ret);
}

/* A memfd holding size bytes of 0x42, with seals. */
static int memfd_with_seals(size_t size, int seals) {
        int fd = memfd_create("test-isolation", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        uint8_t buf[4096];

        if (fd < 0)
                return -errno;
        memset(buf, 0x42, sizeof(buf));
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, buf, MIN(sizeof(buf), size - done));
                if (n <= 0) {
                        close(fd);
                        return -EIO;
                }
                done += (size_t) n;
        }
        if (fcntl(fd, F_ADD_SEALS, seals) < 0) {
                close(fd);
                return -errno;
        }
        return fd;
}

/* Sealed for DecryptionBltFd. */
static int sealed_memfd(size_t size) {
        return memfd_with_seals(size, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW);
}

/* A destination for EncryptionBltToFd. */
static int destination_memfd(size_t size) {
        return memfd_with_seals(size, F_SEAL_SHRINK | F_SEAL_GROW);
}

/* Every method of org.keyd.KeyBroker1.CryptoSession, with well-formed
 * arguments: refusing them is then about who calls, not about what. */
static const char *const session_methods[] = {
        "GetCertificate",        "NegotiateCryptoSessionKeyExchange", "ExecuteHWProtectionFunction",
        "StartSessionKeyRefresh", "FinishSessionKeyRefresh",          "GetEncryptionBltKey",
        "CreateSurface",         "DestroySurface",                    "DecryptionBlt",
        "DecryptionBltFd",       "EncryptionBlt",                     "EncryptionBltToFd",
        "CheckCryptoSessionStatus", "CreateVideoDecoder",              "Close",
};

static int append_session_args(sd_bus_message *m, const char *method, uint32_t surface) {
        static const uint8_t iv[IV_SIZE], data[MODULUS_SIZE];
        int r = 0;

        if (streq(method, "NegotiateCryptoSessionKeyExchange"))
                r = sd_bus_message_append_array(m, 'y', data, sizeof(data));
        else if (streq(method, "ExecuteHWProtectionFunction")) {
                r = sd_bus_message_append(m, "uu", 1, 0);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', "abc", 3);
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", 16);
        } else if (streq(method, "StartSessionKeyRefresh") || streq(method, "GetEncryptionBltKey") ||
                   streq(method, "CreateSurface"))
                r = sd_bus_message_append(m, "u", 16);
        else if (streq(method, "DestroySurface"))
                r = sd_bus_message_append(m, "u", surface);
        else if (streq(method, "DecryptionBlt") || streq(method, "DecryptionBltFd")) {
                if (streq(method, "DecryptionBlt")) {
                        r = sd_bus_message_append(m, "u", surface);
                        if (r >= 0)
                                r = sd_bus_message_append_array(m, 'y', data, 16);
                } else {
                        int fd = sealed_memfd(16);
                        if (fd < 0)
                                return fd;
                        r = sd_bus_message_append(m, "uh", surface, fd);
                        close(fd);
                }
                if (r >= 0)
                        r = sd_bus_message_append(m, "(uuu)", 0, 0, 0);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', data, 0);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', iv, sizeof(iv));
        } else if (streq(method, "EncryptionBlt"))
                r = sd_bus_message_append(m, "u", surface);
        else if (streq(method, "EncryptionBltToFd")) {
                int fd = destination_memfd(16);
                if (fd < 0)
                        return fd;
                r = sd_bus_message_append(m, "uh", surface, fd);
                close(fd);
        } else if (streq(method, "CreateVideoDecoder")) {
                /* D3D11_DECODER_PROFILE_H264_VLD_NOFGT, no codec configuration. */
                r = sd_bus_message_append(m, "suu", "1b81be68-a0c7-11d3-b984-00c04f2e73c5", 320, 240);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', data, 0);
        }
        return r;
}

/* Call method on the session at path (of keyd at destination); returns the
 * result of sd_bus_call, with the error in *error. */
static int call_session_method(sd_bus *bus, const char *destination, const char *path, const char *method,
                               uint32_t surface, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, destination, path, KEYD_SESSION_INTERFACE, method);
        if (r >= 0)
                r = append_session_args(m, method, surface);
        if (r < 0)
                return sd_bus_error_set_errno(error, r);
        return sd_bus_call(bus, m, CALL_TIMEOUT_USEC, error, &reply);
}

/* The properties every connection may read, and no others. */
static const char *const public_session_properties[] = {
        "CryptoType", "DecoderProfile", "KeyExchangeType", "CertificateSize", "Handle", "Owner", "OwnerUID", "Status",
};

/* NULL when GetAll on path returns exactly the public properties, else a
 * sentence saying what differs (free() it). */
static char *check_get_all(sd_bus *bus, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bool seen[ELEMENTSOF(public_session_properties)] = {};
        const char *name;
        char *msg = NULL;
        int r;

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply,
                               "s", KEYD_SESSION_INTERFACE);
        if (r < 0) {
                r = asprintf(&msg, "GetAll on %s: %s: %s", path, error.name, error.message);
                sd_bus_error_free(&error);
                return r < 0 ? strdup("GetAll failed") : msg;
        }
        if (sd_bus_message_enter_container(reply, 'a', "{sv}") <= 0)
                return strdup("GetAll's reply is not a{sv}");
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                size_t i;

                if (sd_bus_message_read(reply, "s", &name) <= 0 || sd_bus_message_skip(reply, "v") < 0 ||
                    sd_bus_message_exit_container(reply) < 0)
                        return strdup("GetAll's reply cannot be read");
                for (i = 0; i < ELEMENTSOF(public_session_properties); i++)
                        if (streq(name, public_session_properties[i]))
                                break;
                if (i == ELEMENTSOF(public_session_properties))
                        return asprintf(&msg, "GetAll shows another connection the property %s", name) < 0 ? NULL
                                                                                                             : msg;
                seen[i] = true;
        }
        for (size_t i = 0; i < ELEMENTSOF(public_session_properties); i++)
                if (!seen[i])
                        return asprintf(&msg, "GetAll lacks %s", public_session_properties[i]) < 0 ? NULL : msg;
        return NULL;
}

/* ---- a client running as nobody ---- */

#define USER_MAX_SESSIONS 4U
#define USER_QUOTA 65536U

static const char *const user_args[] = { "--max-sessions-per-client=4", "--max-surface-bytes-per-client=65536",
                                         NULL };

static void setup_user(void) {
        start_bus_and_keyd(user_args);
}

/* What the nobody child learns from root before it forks. */
typedef struct RootSessions {
        char keyd[64];          /* keyd's unique name */
        char owner[64];         /* root's connection */
        char rsa_path[128];     /* an RSAES-OAEP session with a surface */
        char hw_path[128];      /* a HW_PROTECTION session */
        uint32_t surface;
} RootSessions;

typedef struct Report {
        int fd;
        unsigned failures;
} Report;

_printf_(2, 3) static void report_fail(Report *rep, const char *format, ...) {
        char line[1024];
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(line, sizeof(line) - 1, format, ap);
        va_end(ap);
        if (n < 0)
                return;
        n = MIN(n, (int) sizeof(line) - 2);
        line[n++] = '\n';
        if (write(rep->fd, line, (size_t) n) != n)
                _exit(99);
        rep->failures++;
}

#define CHILD_CHECK(rep, cond, ...)                    \
        do {                                           \
                if (!(cond))                           \
                        report_fail(rep, __VA_ARGS__); \
        } while (0)

/* The nobody child's view of root's sessions: every method refused, the
 * public properties readable, none writable. */
static void nobody_pokes_root(Report *rep, const RootSessions *root) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *paths[] = { root->rsa_path, root->hw_path };
        uint32_t status_before = 99, status_after = 98, uid = 1;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *owner = NULL, *get_all = NULL;
        int r;

        r = raw_open(&bus);
        if (r < 0) {
                report_fail(rep, "nobody cannot connect to the bus: %s", strerror(-r));
                return;
        }

        for (size_t p = 0; p < ELEMENTSOF(paths); p++)
                for (size_t i = 0; i < ELEMENTSOF(session_methods); i++) {
                        /* Both addressings: the well-known name, and keyd's unique name as libkeyd does. */
                        const char *destinations[] = { KEYD_BUS_NAME, root->keyd };

                        for (size_t d = 0; d < ELEMENTSOF(destinations); d++) {
                                r = call_session_method(bus, destinations[d], paths[p], session_methods[i],
                                                        root->surface, &error);
                                CHILD_CHECK(rep,
                                            r < 0 && sd_bus_error_has_name(&error, ERROR_ACCESS_DENIED) &&
                                                    strncmp(error.message, "0x80070005: ", 12) == 0,
                                            "nobody's %s on root's %s: r=%d %s: %s (expected AccessDenied)",
                                            session_methods[i], paths[p], r, error.name ?: "-",
                                            error.message ?: "-");
                                sd_bus_error_free(&error);
                        }
                }

        /* Readable for inspection: the public properties, exactly those. */
        r = sd_bus_get_property_trivial(bus, KEYD_BUS_NAME, root->rsa_path, KEYD_SESSION_INTERFACE, "OwnerUID", &error,
                                        'u', &uid);
        CHILD_CHECK(rep, r >= 0 && uid == 0, "nobody reads OwnerUID of root's session: r=%d uid=%u %s", r, uid,
                    error.message ?: "");
        sd_bus_error_free(&error);
        r = sd_bus_get_property_string(bus, KEYD_BUS_NAME, root->rsa_path, KEYD_SESSION_INTERFACE, "Owner", &error,
                                       &owner);
        CHILD_CHECK(rep, r >= 0 && owner && streq(owner, root->owner), "nobody reads Owner: r=%d %s (root is %s)", r,
                    owner ?: error.message ?: "", root->owner);
        sd_bus_error_free(&error);
        for (size_t p = 0; p < ELEMENTSOF(paths); p++) {
                get_all = check_get_all(bus, paths[p]);
                CHILD_CHECK(rep, !get_all, "nobody on %s: %s", paths[p], get_all);
                free(TAKE_PTR(get_all));
        }

        /* ... and not writable. */
        r = sd_bus_get_property_trivial(bus, KEYD_BUS_NAME, root->rsa_path, KEYD_SESSION_INTERFACE, "Status", &error,
                                        'u', &status_before);
        sd_bus_error_free(&error);
        r = sd_bus_set_property(bus, KEYD_BUS_NAME, root->rsa_path, KEYD_SESSION_INTERFACE, "Status", &error, "u", 2);
        CHILD_CHECK(rep, r < 0, "nobody could set Status of root's session");
        sd_bus_error_free(&error);
        r = sd_bus_get_property_trivial(bus, KEYD_BUS_NAME, root->rsa_path, KEYD_SESSION_INTERFACE, "Status", &error,
                                        'u', &status_after);
        CHILD_CHECK(rep, r >= 0 && status_after == status_before && status_after == 0,
                    "Status of root's session went from %u to %u", status_before, status_after);
        sd_bus_error_free(&error);
}

/* nobody's own work through libkeyd, under its own quotas; returns its
 * RSAES-OAEP session (left open for root to poke) and its surface. */
static keyd_crypto_session *nobody_works(Report *rep, keyd_client *c, uint32_t *ret_surface) {
        keyd_crypto_session *s[USER_MAX_SESSIONS + 1] = {};
        uint8_t key[KEY_SIZE], data[MODULUS_SIZE], cert[4096], iv[IV_SIZE] = { 7 }, wrapped[KEY_SIZE], kblt[KEY_SIZE];
        uint8_t plain[1024], ct[1024], back[1024];
        uint32_t cert_size = 0, surface = 0, extra;
        HRESULT hr;

        /* root holds 2 sessions: nobody still gets its own 4, and no more. */
        for (unsigned i = 0; i < USER_MAX_SESSIONS; i++) {
                hr = keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                                &s[i]);
                CHILD_CHECK(rep, hr == KEYD_S_OK, "nobody's session %u: 0x%08X %s", i, (unsigned) hr,
                            keyd_last_error_message());
        }
        hr = keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                        &s[USER_MAX_SESSIONS]);
        CHILD_CHECK(rep, hr == KEYD_E_OUTOFMEMORY && str_contains(keyd_last_error_message(), "MaxSessionsPerClient"),
                    "nobody's session %u of %u: 0x%08X \"%s\"", USER_MAX_SESSIONS + 1, USER_MAX_SESSIONS,
                    (unsigned) hr, keyd_last_error_message());
        if (!s[0])
                return NULL;

        /* The whole surface quota, and not a byte more. */
        hr = keyd_create_surface(s[0], USER_QUOTA, &surface);
        CHILD_CHECK(rep, hr == KEYD_S_OK, "nobody's surface of its whole quota: 0x%08X %s", (unsigned) hr,
                    keyd_last_error_message());
        hr = keyd_create_surface(s[1] ?: s[0], 16, &extra);
        CHILD_CHECK(rep, hr == KEYD_E_OUTOFMEMORY && str_contains(keyd_last_error_message(), "quota"),
                    "nobody's surface past its quota: 0x%08X \"%s\"", (unsigned) hr, keyd_last_error_message());

        /* The data path works for nobody: negotiate, decrypt into the surface, read it back. */
        hr = keyd_crypto_session_get_certificate_size(s[0], &cert_size);
        if (hr == KEYD_S_OK && cert_size <= sizeof(cert))
                hr = keyd_crypto_session_get_certificate(s[0], cert_size, cert);
        random_bytes(key, sizeof(key));
        if (hr == KEYD_S_OK)
                hr = keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, sizeof(key),
                                           sizeof(data), data);
        if (hr == KEYD_S_OK)
                hr = keyd_negotiate_crypto_session_key_exchange(s[0], sizeof(data), data);
        CHILD_CHECK(rep, hr == KEYD_S_OK, "nobody negotiates: 0x%08X %s", (unsigned) hr, keyd_last_error_message());
        random_bytes(plain, sizeof(plain));
        ref_ctr(key, iv, ct, plain, sizeof(plain));
        hr = keyd_decryption_blt(s[0], surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(ct), ct);
        CHILD_CHECK(rep, hr == KEYD_S_OK, "nobody's DecryptionBlt: 0x%08X %s", (unsigned) hr,
                    keyd_last_error_message());
        {
                static uint8_t whole[USER_QUOTA];

                hr = keyd_get_encryption_blt_key(s[0], sizeof(wrapped), wrapped);
                if (hr == KEYD_S_OK)
                        hr = keyd_encryption_blt(s[0], surface, sizeof(iv), iv, sizeof(whole), whole);
                CHILD_CHECK(rep, hr == KEYD_S_OK, "nobody's read-back: 0x%08X %s", (unsigned) hr,
                            keyd_last_error_message());
                ref_ecb_decrypt(key, wrapped, kblt);
                ref_ctr(kblt, iv, back, whole, sizeof(back));
                CHILD_CHECK(rep, memcmp(back, plain, sizeof(plain)) == 0, "nobody's surface does not hold its data");
        }

        for (unsigned i = 1; i < USER_MAX_SESSIONS; i++)
                keyd_crypto_session_release(s[i]);
        *ret_surface = surface;
        return s[0];
}

static bool drop_to_nobody(void) {
        return setgroups(0, NULL) == 0 && setresgid(NOBODY_GID, NOBODY_GID, NOBODY_GID) == 0 &&
               setresuid(NOBODY_UID, NOBODY_UID, NOBODY_UID) == 0 && geteuid() == NOBODY_UID;
}

/* The child: report lines on report_fd, "OWN <path> <surface>" once its own
 * session is ready, then wait for a byte on go_fd before it exits. */
_Noreturn static void nobody_child(const RootSessions *root, int report_fd, int go_fd) {
        Report rep = { .fd = report_fd };
        keyd_client *c = NULL;
        keyd_crypto_session *own = NULL;
        uint32_t surface = 0;
        char line[256], byte;
        HRESULT hr;
        int n;

        if (!drop_to_nobody()) {
                report_fail(&rep, "cannot become nobody: %m");
                _exit(2);
        }

        nobody_pokes_root(&rep, root);

        hr = keyd_client_open_address(harness_bus_address(), &c);
        CHILD_CHECK(&rep, hr == KEYD_S_OK, "nobody's libkeyd client: 0x%08X %s", (unsigned) hr,
                    keyd_last_error_message());
        if (c)
                own = nobody_works(&rep, c, &surface);

        n = snprintf(line, sizeof(line), "OWN %s %" PRIu32 "\n", own ? keyd_crypto_session_get_object_path(own) : "-",
                     surface);
        if (write(report_fd, line, (size_t) n) != n)
                _exit(3);
        if (read(go_fd, &byte, 1) != 1)
                _exit(4);

        /* root's attempts changed nothing of ours. */
        if (own) {
                keyd_crypto_session_status status = 9;

                hr = keyd_check_crypto_session_status(own, &status);
                CHILD_CHECK(&rep, hr == KEYD_S_OK && status == KEYD_CRYPTO_SESSION_STATUS_OK,
                            "nobody's session after root's attempts: 0x%08X, status %d", (unsigned) hr, (int) status);
                hr = keyd_destroy_surface(own, surface);
                CHILD_CHECK(&rep, hr == KEYD_S_OK, "nobody destroys its surface after root's attempts: 0x%08X %s",
                            (unsigned) hr, keyd_last_error_message());
                keyd_crypto_session_release(own);
        }
        keyd_client_close(c);
        _exit(rep.failures == 0 ? 0 : 1);
}

/* Every method the session object has must be in session_methods. */
static void check_method_list_complete(sd_bus *bus, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *xml, *start, *end;
        unsigned found = 0;

        ck_assert_int_ge(sd_bus_call_method(bus, KEYD_BUS_NAME, path, "org.freedesktop.DBus.Introspectable",
                                            "Introspect", NULL, &reply, ""),
                         0);
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &xml), 0);
        start = strstr(xml, "<interface name=\"" KEYD_SESSION_INTERFACE "\">");
        ck_assert_ptr_nonnull(start);
        end = strstr(start, "</interface>");
        ck_assert_ptr_nonnull(end);
        for (const char *p = strstr(start, "<method name=\""); p && p < end; p = strstr(p + 1, "<method name=\"")) {
                const char *name = p + strlen("<method name=\"");
                size_t len = strcspn(name, "\"");
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(session_methods); i++)
                        known = known || (strlen(session_methods[i]) == len && strncmp(session_methods[i], name, len) == 0);
                ck_assert_msg(known, "the session interface has a method the isolation test does not try: %.*s",
                              (int) len, name);
                found++;
        }
        ck_assert_uint_eq(found, ELEMENTSOF(session_methods));
}

START_TEST(test_other_user) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *raw = NULL;
        _cleanup_free_ char *run_dir = strdup(harness_tmpdir()), *reports = NULL;
        keyd_client *c = open_client();
        keyd_crypto_session *rsa = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        keyd_crypto_session *hw = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        RootSessions root = {};
        Bystander by = {};
        const char *name;
        int report[2], go[2], status;
        char buf[4096], own_path[128] = "";
        size_t n_reports = 0;
        uint32_t own_surface = 0, uid = 0;
        pid_t pid;

        /* root's session, negotiated, with a surface holding data. */
        by = (Bystander) { .client = c, .session = rsa };
        {
                uint8_t data[MODULUS_SIZE];

                random_bytes(by.key, sizeof(by.key));
                wrap_key_for(rsa, by.key, data);
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(rsa, sizeof(data), data), KEYD_S_OK);
                ck_assert_hr(keyd_create_surface(rsa, BYSTANDER_SURFACE_SIZE, &by.surface), KEYD_S_OK);
        }
        bystander_check(&by, "setting up");

        ck_assert_int_eq(raw_open(&raw), 0);
        check_method_list_complete(raw, keyd_crypto_session_get_object_path(rsa));
        {
                _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
                _cleanup_free_ char *owner = NULL;

                ck_assert_int_ge(sd_bus_get_name_creds(raw, KEYD_BUS_NAME, SD_BUS_CREDS_UNIQUE_NAME, &creds), 0);
                ck_assert_int_ge(sd_bus_creds_get_unique_name(creds, &name), 0);
                snprintf(root.keyd, sizeof(root.keyd), "%s", name);
                ck_assert_int_ge(sd_bus_get_property_string(raw, KEYD_BUS_NAME, keyd_crypto_session_get_object_path(rsa),
                                                            KEYD_SESSION_INTERFACE, "Owner", NULL, &owner),
                                 0);
                snprintf(root.owner, sizeof(root.owner), "%s", owner);
        }
        snprintf(root.rsa_path, sizeof(root.rsa_path), "%s", keyd_crypto_session_get_object_path(rsa));
        snprintf(root.hw_path, sizeof(root.hw_path), "%s", keyd_crypto_session_get_object_path(hw));
        root.surface = by.surface;

        /* nobody must reach the bus socket: the harness's directories are
         * 0700; let others traverse them (the state directory stays 0700). */
        ck_assert_ptr_nonnull(run_dir);
        ck_assert_int_eq(chmod(harness_tmpdir(), 0711), 0);
        ck_assert_int_eq(chmod(dirname(run_dir), 0711), 0);

        ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(report[0]);
                close(go[1]);
                nobody_child(&root, report[1], go[0]);
        }
        close(report[1]);
        close(go[0]);

        /* Read the child's reports up to its OWN line. */
        for (;;) {
                ssize_t k = read(report[0], buf, sizeof(buf) - 1);
                char *own;

                ck_assert_msg(k > 0, "the nobody child ended early; it reported: %s", reports ?: "nothing");
                buf[k] = 0;
                reports = reports ? (char *) realloc(reports, n_reports + (size_t) k + 1) : malloc((size_t) k + 1);
                ck_assert_ptr_nonnull(reports);
                memcpy(reports + n_reports, buf, (size_t) k + 1);
                n_reports += (size_t) k;
                own = strstr(reports, "OWN ");
                if (own && strchr(own, '\n')) {
                        ck_assert_int_eq(sscanf(own, "OWN %127s %" SCNu32, own_path, &own_surface), 2);
                        *own = 0;
                        n_reports = (size_t) (own - reports);
                        break;
                }
        }
        ck_assert_msg(streq(reports, ""), "as nobody: %s", reports);
        ck_assert_msg(!streq(own_path, "-"), "nobody has no session of its own");

        /* root sees nobody's session as nobody's, and can use none of it. */
        ck_assert_int_ge(sd_bus_get_property_trivial(raw, KEYD_BUS_NAME, own_path, KEYD_SESSION_INTERFACE, "OwnerUID",
                                                     NULL, 'u', &uid),
                         0);
        ck_assert_uint_eq(uid, NOBODY_UID);
        for (size_t i = 0; i < ELEMENTSOF(session_methods); i++) {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int r = call_session_method(raw, KEYD_BUS_NAME, own_path, session_methods[i], own_surface, &error);

                ck_assert_msg(r < 0 && sd_bus_error_has_name(&error, ERROR_ACCESS_DENIED),
                              "root's %s on nobody's session: r=%d %s: %s", session_methods[i], r, error.name ?: "-",
                              error.message ?: "-");
                sd_bus_error_free(&error);
        }
        {
                _cleanup_free_ char *get_all = check_get_all(raw, own_path);
                ck_assert_msg(!get_all, "root on nobody's session: %s", get_all);
        }

        ck_assert_int_eq(write(go[1], "g", 1), 1);
        close(go[1]);
        free(reports);
        reports = NULL;
        n_reports = 0;
        for (ssize_t k; (k = read(report[0], buf, sizeof(buf) - 1)) > 0;) {
                buf[k] = 0;
                ck_abort_msg("as nobody, after root's attempts: %s", buf);
        }
        close(report[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the nobody child exited with status 0x%x", status);

        /* root's session and surface are as they were. */
        bystander_check(&by, "nobody's attempts on root's session");
        ck_assert_int_eq(harness_wait_session_count(2, 10 * USEC_PER_SEC, &uid), 0);

        keyd_crypto_session_release(hw);
        bystander_close(&by);
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, &uid), 0);
}
END_TEST

/* ---- limits under load ---- */

#define N_RACERS 20
#define RACE_PER_CLIENT 8
#define RACE_TOTAL 100

static const char *const race_args[] = { "--max-sessions-per-client=8", "--max-sessions=100", NULL };

static void setup_race(void) {
        start_bus_and_keyd(race_args);
}

typedef struct Racer {
        keyd_client *client;
        keyd_crypto_session *s[RACE_PER_CLIENT + 1];
        unsigned created, refused_total, refused_per_client, churned;
        char bad[512];                /* the first unexpected answer */
        pthread_barrier_t *barrier;
        atomic_bool *churn_stop;
        pthread_t thread;
} Racer;

static const keyd_guid *race_exchange(unsigned i) {
        static const keyd_guid *const e[] = { &KEYD_KEY_EXCHANGE_RSAES_OAEP, &KEYD_KEY_EXCHANGE_HW_PROTECTION,
                                              &KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1 };
        return e[i % ELEMENTSOF(e)];
}

/* One attempt; refusals must be E_OUTOFMEMORY naming the limit. */
static bool racer_create(Racer *r, unsigned slot) {
        HRESULT hr = keyd_create_crypto_session(r->client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, race_exchange(slot),
                                                &r->s[slot]);
        const char *msg = keyd_last_error_message();

        if (hr == KEYD_S_OK) {
                r->created++;
                return true;
        }
        r->s[slot] = NULL;
        if (hr == KEYD_E_OUTOFMEMORY && str_contains(msg, "in all"))
                r->refused_total++;
        else if (hr == KEYD_E_OUTOFMEMORY && str_contains(msg, "MaxSessionsPerClient"))
                r->refused_per_client++;
        else if (!r->bad[0])
                snprintf(r->bad, sizeof(r->bad), "CreateCryptoSession: 0x%08X (%s): %s", (unsigned) hr,
                         keyd_hresult_to_string(hr), msg);
        return false;
}

static void *racer_run(void *userdata) {
        Racer *r = userdata;

        pthread_barrier_wait(r->barrier);
        for (unsigned i = 0; i < RACE_PER_CLIENT; i++)
                (void) racer_create(r, i);
        pthread_barrier_wait(r->barrier);
        /* The test counts what round 1 made. */
        pthread_barrier_wait(r->barrier);

        /* Churn: close one, open one, all at once, until told to stop. */
        for (unsigned n = 0; !atomic_load(r->churn_stop); n++) {
                unsigned slot = n % RACE_PER_CLIENT;

                if (r->s[slot]) {
                        r->s[slot] = keyd_crypto_session_release(r->s[slot]);
                        r->created--;
                }
                if (racer_create(r, slot))
                        r->churned++;
        }
        return NULL;
}

typedef struct Monitor {
        atomic_bool stop;
        uint32_t max_seen;
        unsigned samples;
        int error;
        pthread_t thread;
} Monitor;

static void *monitor_run(void *userdata) {
        Monitor *m = userdata;

        while (!atomic_load(&m->stop)) {
                uint32_t v;
                int r = harness_session_count(&v);

                if (r < 0) {
                        m->error = r;
                        break;
                }
                m->max_seen = MAX(m->max_seen, v);
                m->samples++;
        }
        return NULL;
}

START_TEST(test_limits_under_load) {
        static Racer racers[N_RACERS];
        pthread_barrier_t barrier;
        atomic_bool churn_stop = false;
        Monitor mon = {};
        unsigned created = 0, refused_total = 0, refused_per_client = 0, churned = 0;
        uint32_t v = 0;

        ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, N_RACERS + 1), 0);
        for (size_t i = 0; i < N_RACERS; i++) {
                racers[i] = (Racer) { .client = open_client(), .barrier = &barrier, .churn_stop = &churn_stop };
                ck_assert_int_eq(pthread_create(&racers[i].thread, NULL, racer_run, &racers[i]), 0);
        }
        ck_assert_int_eq(pthread_create(&mon.thread, NULL, monitor_run, &mon), 0);

        /* Round 1: 20 connections x 8 sessions at once, against 100 in all. */
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        for (size_t i = 0; i < N_RACERS; i++) {
                ck_assert_msg(!racers[i].bad[0], "connection %zu: %s", i, racers[i].bad);
                ck_assert_uint_le(racers[i].created, RACE_PER_CLIENT);
                created += racers[i].created;
                refused_total += racers[i].refused_total;
        }
        ck_assert_uint_eq(created, RACE_TOTAL);
        ck_assert_uint_eq(refused_total, N_RACERS * RACE_PER_CLIENT - RACE_TOTAL);
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, RACE_TOTAL);

        /* Round 2: churn for 3 s at the limit. */
        pthread_barrier_wait(&barrier);
        usleep(3 * 1000 * 1000);
        atomic_store(&churn_stop, true);
        for (size_t i = 0; i < N_RACERS; i++)
                ck_assert_int_eq(pthread_join(racers[i].thread, NULL), 0);
        atomic_store(&mon.stop, true);
        ck_assert_int_eq(pthread_join(mon.thread, NULL), 0);

        created = refused_total = 0;
        for (size_t i = 0; i < N_RACERS; i++) {
                ck_assert_msg(!racers[i].bad[0], "connection %zu: %s", i, racers[i].bad);
                created += racers[i].created;
                refused_total += racers[i].refused_total;
                refused_per_client += racers[i].refused_per_client;
                churned += racers[i].churned;
        }
        ck_assert_int_eq(mon.error, 0);
        ck_assert_msg(mon.max_seen <= RACE_TOTAL, "SessionCount reached %u; --max-sessions is %u", mon.max_seen,
                      RACE_TOTAL);
        ck_assert_uint_le(created, RACE_TOTAL);
        ck_assert_uint_eq(refused_per_client, 0);

        /* Past its own limit, a connection is told so. */
        for (size_t i = 0; i < N_RACERS; i++)
                if (racers[i].created == RACE_PER_CLIENT) {
                        keyd_crypto_session *extra = NULL;

                        ck_assert_hr(keyd_create_crypto_session(racers[i].client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL,
                                                                &KEYD_KEY_EXCHANGE_RSAES_OAEP, &extra),
                                     KEYD_E_OUTOFMEMORY);
                        ck_assert_msg(str_contains(keyd_last_error_message(), "MaxSessionsPerClient"), "message: %s",
                                      keyd_last_error_message());
                        break;
                }

        fprintf(stderr, "limits under load: %u sessions at the end of churn, %u SessionCount samples, max %u; "
                "%u creations in churn, %u refused (in all)\n",
                created, mon.samples, mon.max_seen, churned, refused_total);

        for (size_t i = 0; i < N_RACERS; i++) {
                for (size_t k = 0; k < RACE_PER_CLIENT; k++)
                        keyd_crypto_session_release(racers[i].s[k]);
                keyd_client_close(racers[i].client);
        }
        ck_assert_msg(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v) == 0, "SessionCount stays at %u", v);
        pthread_barrier_destroy(&barrier);
}
END_TEST

/* ---- negotiations: flooding, the queue bound ---- */

typedef struct Pending {
        unsigned sent, answered, ok, queue_full;
        char other[512];
} Pending;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Pending *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        p->answered++;
        if (!e)
                p->ok++;
        else if (sd_bus_error_has_name(e, ERROR_OUT_OF_MEMORY) && strncmp(e->message, "0x8007000E: ", 12) == 0 &&
                 strstr(e->message, "key exchanges waiting"))
                p->queue_full++;
        else if (!p->other[0])
                snprintf(p->other, sizeof(p->other), "%s: %s", e->name, e->message ?: "");
        return 0;
}

static void send_negotiation(sd_bus *bus, const char *path, const uint8_t *data, Pending *p) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "NegotiateCryptoSessionKeyExchange"),
                         0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, MODULUS_SIZE), 0);
        ck_assert_int_ge(sd_bus_call_async(bus, NULL, m, on_reply, p, CALL_TIMEOUT_USEC), 0);
        p->sent++;
}

static void wait_answered(sd_bus *bus, Pending *p, unsigned until, uint64_t deadline) {
        while (p->answered < until) {
                int r;

                ck_assert_msg(harness_now_usec() < deadline, "%u of %u negotiations unanswered", p->sent - p->answered,
                              p->sent);
                r = sd_bus_process(bus, NULL);
                ck_assert_int_ge(r, 0);
                if (r == 0)
                        (void) sd_bus_wait(bus, 100000);
        }
}

#define FLOOD_USEC (6 * USEC_PER_SEC)
#define FLOOD_DEPTH 64        /* keyd's default --max-queued-per-client */
#define WORKER_MAX_LATENCY_USEC (2 * USEC_PER_SEC)

typedef struct Flooder {
        const uint8_t *data;
        Pending pending;
        atomic_bool running;
        uint64_t usec;
        pthread_t thread;
} Flooder;

static void *flooder_run(void *userdata) {
        Flooder *f = userdata;
        sd_bus *bus = NULL;
        char *path;
        uint64_t start, end;

        if (harness_open_bus(&bus) < 0)
                return NULL;
        path = raw_create_session(bus, RSAES_OAEP);
        start = harness_now_usec();
        end = start + FLOOD_USEC;
        atomic_store(&f->running, true);
        /* Keep a full queue in keyd the whole time. */
        while (harness_now_usec() < end) {
                while (f->pending.sent - f->pending.answered < FLOOD_DEPTH)
                        send_negotiation(bus, path, f->data, &f->pending);
                if (sd_bus_process(bus, NULL) == 0)
                        (void) sd_bus_wait(bus, 10000);
        }
        wait_answered(bus, &f->pending, f->pending.sent, harness_now_usec() + CALL_TIMEOUT_USEC);
        f->usec = harness_now_usec() - start;
        atomic_store(&f->running, false);
        free(path);
        sd_bus_flush_close_unref(bus);
        return NULL;
}

static void setup_default(void) {
        start_bus_and_keyd(NULL);
}

START_TEST(test_flood_vs_worker) {
        Flooder f = {};
        Bystander worker = {};
        uint8_t data[MODULUS_SIZE];
        uint64_t max_negotiate = 0, max_other = 0, sum_negotiate = 0, start;
        unsigned negotiations = 0, others = 0;

        bystander_open(&worker);
        wrap_key_for(worker.session, worker.key, data);
        f.data = data;
        ck_assert_int_eq(pthread_create(&f.thread, NULL, flooder_run, &f), 0);
        while (!atomic_load(&f.running))
                usleep(1000);

        /* The worker: negotiations (through the same worker pool) and data-path calls (on keyd's bus thread). */
        start = harness_now_usec();
        while (atomic_load(&f.running)) {
                uint8_t copy[MODULUS_SIZE];
                keyd_crypto_session_status status;
                uint64_t t = harness_now_usec(), took;

                memcpy(copy, data, sizeof(copy));
                ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(worker.session, sizeof(copy), copy), KEYD_S_OK);
                took = harness_now_usec() - t;
                max_negotiate = MAX(max_negotiate, took);
                sum_negotiate += took;
                negotiations++;

                t = harness_now_usec();
                ck_assert_hr(keyd_check_crypto_session_status(worker.session, &status), KEYD_S_OK);
                max_other = MAX(max_other, harness_now_usec() - t);
                others++;
                if (negotiations % 10 == 0) {
                        t = harness_now_usec();
                        bystander_check(&worker, "negotiations under a flood");
                        max_other = MAX(max_other, harness_now_usec() - t);
                        others++;
                }
        }
        ck_assert_int_eq(pthread_join(f.thread, NULL), 0);

        fprintf(stderr, "flood: the flooder had %u negotiations answered (%u ok, %u queue full) in %.1f s, %.0f/s; "
                "the worker %u negotiations in %.1f s, mean %.1f ms, max %.1f ms; other calls max %.1f ms\n",
                f.pending.answered, f.pending.ok, f.pending.queue_full, (double) f.usec / 1e6,
                (double) f.pending.answered * 1e6 / (double) (f.usec ?: 1), negotiations,
                (double) (harness_now_usec() - start) / 1e6, (double) sum_negotiate / 1e3 / (negotiations ?: 1),
                (double) max_negotiate / 1e3, (double) max_other / 1e3);

        ck_assert_msg(!f.pending.other[0], "the flooder got: %s", f.pending.other);
        ck_assert_uint_eq(f.pending.answered, f.pending.sent);
        ck_assert_uint_gt(f.pending.ok, 100);
        ck_assert_uint_ge(negotiations, 20);
        ck_assert_msg(max_negotiate < WORKER_MAX_LATENCY_USEC, "a worker's negotiation took %llu ms under the flood",
                      (unsigned long long) max_negotiate / 1000);
        ck_assert_msg(max_other < WORKER_MAX_LATENCY_USEC, "a worker's call took %llu ms under the flood",
                      (unsigned long long) max_other / 1000);
        bystander_close(&worker);
}
END_TEST

static const char *const queue_args[] = { "--max-queued-per-client=4", "--workers=1", NULL };

static void setup_queue(void) {
        start_bus_and_keyd(queue_args);
}

START_TEST(test_queue_bound) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL, *other = NULL;
        _cleanup_free_ char *path = NULL, *other_path = NULL;
        Pending burst = {}, after = {}, others = {};
        Bystander by = {};
        uint8_t data[MODULUS_SIZE];

        bystander_open(&by);
        wrap_key_for(by.session, by.key, data);
        ck_assert_int_eq(harness_open_bus(&bus), 0);
        ck_assert_int_eq(harness_open_bus(&other), 0);
        path = raw_create_session(bus, RSAES_OAEP);
        other_path = raw_create_session(other, RSAES_OAEP);

        /* 100 at once (dbus-daemon allows 128 pending replies per
         * connection): 4 wait, the rest are refused right away. */
        for (unsigned i = 0; i < 100; i++)
                send_negotiation(bus, path, data, &burst);
        ck_assert_int_ge(sd_bus_flush(bus), 0);
        /* Another connection's queue is its own. */
        send_negotiation(other, other_path, data, &others);
        wait_answered(other, &others, 1, harness_now_usec() + CALL_TIMEOUT_USEC);
        wait_answered(bus, &burst, burst.sent, harness_now_usec() + CALL_TIMEOUT_USEC);

        fprintf(stderr, "queue bound 4: of 100 negotiations sent at once, %u done, %u refused\n", burst.ok,
                burst.queue_full);
        ck_assert_msg(!burst.other[0], "unexpected answer: %s", burst.other);
        ck_assert_msg(others.ok == 1, "another connection's negotiation: %s", others.other);
        ck_assert_uint_ge(burst.ok, 4);
        ck_assert_uint_ge(burst.queue_full, 1);
        ck_assert_uint_eq(burst.ok + burst.queue_full, 100);

        /* Once drained, 4 at once all wait their turn. */
        for (unsigned i = 0; i < 4; i++)
                send_negotiation(bus, path, data, &after);
        wait_answered(bus, &after, after.sent, harness_now_usec() + CALL_TIMEOUT_USEC);
        ck_assert_msg(after.ok == 4, "4 negotiations after the burst: %u ok, %u refused; %s", after.ok, after.queue_full,
                      after.other);
        bystander_check(&by, "a connection's queue overflowed");
        bystander_close(&by);
}
END_TEST

/* ---- malformed messages ---- */

typedef struct Abuse {
        Bystander by;
        sd_bus *bus;          /* the attacker's connection */
        char *path;           /* the attacker's own RSAES-OAEP session, negotiated */
        uint32_t surface;
        int keyd_fds;         /* keyd's open fds before the abuse */
} Abuse;

static void abuse_start(Abuse *a) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        uint8_t data[MODULUS_SIZE];

        bystander_open(&a->by);
        ck_assert_int_eq(harness_open_bus(&a->bus), 0);
        a->path = raw_create_session(a->bus, RSAES_OAEP);
        wrap_key_for(a->by.session, a->by.key, data);
        ck_assert_int_ge(sd_bus_message_new_method_call(a->bus, &m, KEYD_BUS_NAME, a->path, KEYD_SESSION_INTERFACE,
                                                        "NegotiateCryptoSessionKeyExchange"),
                         0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, sizeof(data)), 0);
        ck_assert_int_ge(sd_bus_call(a->bus, m, CALL_TIMEOUT_USEC, NULL, NULL), 0);
        reply = sd_bus_message_unref(reply);
        ck_assert_int_ge(sd_bus_call_method(a->bus, KEYD_BUS_NAME, a->path, KEYD_SESSION_INTERFACE, "CreateSurface",
                                            NULL, &reply, "u", 4096),
                         0);
        ck_assert_int_ge(sd_bus_message_read(reply, "u", &a->surface), 0);
        a->keyd_fds = proc_count_fds(harness_keyd_pid());
        ck_assert_int_gt(a->keyd_fds, 0);
}

/* After each refused message: keyd still serves the bystander, and holds no more fds than before. */
static void abuse_check(Abuse *a, const char *what) {
        int fds;

        bystander_check(&a->by, what);
        fds = proc_count_fds(harness_keyd_pid());
        ck_assert_msg(fds <= a->keyd_fds, "after %s keyd has %d fds open, %d before", what, fds, a->keyd_fds);
}

static void abuse_end(Abuse *a) {
        uint32_t v;

        ck_assert_int_ge(sd_bus_call_method(a->bus, KEYD_BUS_NAME, a->path, KEYD_SESSION_INTERFACE,
                                            "CheckCryptoSessionStatus", NULL, NULL, ""),
                         0);
        ck_assert_int_eq(harness_session_count(&v), 0);
        ck_assert_uint_eq(v, 2);
        sd_bus_flush_close_unref(a->bus);
        free(a->path);
        bystander_close(&a->by);
        ck_assert_int_eq(harness_wait_session_count(0, 10 * USEC_PER_SEC, &v), 0);
}

typedef int (*Builder)(sd_bus_message *m, const void *arg);

/* Send member on path with the arguments build() appends; expect an error
 * named error_name whose message holds part (if given). */
static void expect_refused(Abuse *a, const char *path, const char *interface, const char *member, Builder build,
                           const void *arg, const char *error_name, const char *part, const char *what) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        ck_assert_int_ge(sd_bus_message_new_method_call(a->bus, &m, KEYD_BUS_NAME, path, interface, member), 0);
        r = build(m, arg);
        ck_assert_msg(r >= 0, "%s: cannot build the message: %s", what, strerror(-r));
        r = sd_bus_call(a->bus, m, CALL_TIMEOUT_USEC, &error, &reply);
        ck_assert_msg(r < 0, "%s: keyd accepted it", what);
        ck_assert_msg(sd_bus_error_has_name(&error, error_name), "%s: got %s: %s; expected %s", what, error.name,
                      error.message, error_name);
        ck_assert_msg(!part || str_contains(error.message, part), "%s: the message \"%s\" does not say \"%s\"", what,
                      error.message, part);
        sd_bus_error_free(&error);
        abuse_check(a, what);
}

static int build_signature(sd_bus_message *m, const void *arg) {
        /* arg: the signature to send; each basic value gets a plausible value. */
        const char *sig = arg;
        int r = 0;

        for (const char *p = sig; *p && r >= 0; p++)
                switch (*p) {
                case 's':
                        r = sd_bus_message_append_basic(m, 's', RSAES_OAEP);
                        break;
                case 'u':
                        r = sd_bus_message_append_basic(m, 'u', &(uint32_t) { 1 });
                        break;
                case 'y':
                        r = sd_bus_message_append_basic(m, 'y', &(uint8_t) { 1 });
                        break;
                case 'h': {
                        int fd = sealed_memfd(16);
                        if (fd < 0)
                                return fd;
                        r = sd_bus_message_append_basic(m, 'h', &fd);
                        close(fd);
                        break;
                }
                default:
                        return -EINVAL;
                }
        return r;
}

static int build_ay(sd_bus_message *m, size_t size) {
        void *p;

        return sd_bus_message_append_array_space(m, 'y', size, &p) < 0 ? -ENOMEM : (memset(p, 0x33, size), 0);
}

/* ay nested depth deep in arrays ("aa...ay") or structs ("((...(ay)...))"):
 * depth 31 reaches D-Bus's limit of 32 nested arrays. */
typedef struct Nesting {
        char kind;    /* 'a' or 'r' */
        unsigned depth;
} Nesting;

static int build_nested(sd_bus_message *m, const void *arg) {
        const Nesting *n = arg;
        char contents[256];
        int r;

        for (unsigned i = 0; i < n->depth; i++) {
                unsigned inner = n->depth - i - 1;
                size_t len = 0;

                if (n->kind == 'a') {
                        for (unsigned k = 0; k < inner; k++)
                                contents[len++] = 'a';
                        contents[len++] = 'a';
                        contents[len++] = 'y';
                } else {
                        for (unsigned k = 0; k < inner; k++)
                                contents[len++] = '(';
                        contents[len++] = 'a';
                        contents[len++] = 'y';
                        for (unsigned k = 0; k < inner; k++)
                                contents[len++] = ')';
                }
                contents[len] = 0;
                r = sd_bus_message_open_container(m, n->kind == 'a' ? 'a' : 'r', contents);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_append_array(m, 'y', "abcd", 4);
        for (unsigned i = 0; r >= 0 && i < n->depth; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* Variants nested depth deep, an ay at the bottom. */
static int build_variants(sd_bus_message *m, const void *arg) {
        unsigned depth = *(const unsigned *) arg;
        int r = 0;

        for (unsigned i = 0; r >= 0 && i < depth; i++)
                r = sd_bus_message_open_container(m, 'v', i + 1 < depth ? "v" : "ay");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', "abcd", 4);
        for (unsigned i = 0; r >= 0 && i < depth; i++)
                r = sd_bus_message_close_container(m);
        return r;
}

START_TEST(test_wrong_signatures) {
        static const struct {
                const char *member;
                const char *signature;
        } wrong[] = {
                { "NegotiateCryptoSessionKeyExchange", "" },
                { "NegotiateCryptoSessionKeyExchange", "s" },
                { "NegotiateCryptoSessionKeyExchange", "u" },
                { "NegotiateCryptoSessionKeyExchange", "h" },        /* an fd where bytes are expected */
                { "NegotiateCryptoSessionKeyExchange", "y" },
                { "NegotiateCryptoSessionKeyExchange", "uu" },
                { "DecryptionBlt", "uh" },                           /* an fd where bytes are expected */
                { "DecryptionBlt", "u" },
                { "EncryptionBlt", "uh" },
                { "EncryptionBlt", "uu" },
                { "EncryptionBltToFd", "u" },
                { "EncryptionBltToFd", "uu" },                       /* a number where the destination fd is expected */
                { "ExecuteHWProtectionFunction", "uuhu" },
                { "CreateSurface", "s" },
                { "CreateSurface", "h" },
                { "DestroySurface", "" },
                { "GetEncryptionBltKey", "h" },
                { "CheckCryptoSessionStatus", "u" },
                { "Close", "h" },
        };
        Abuse a = {};
        char what[256];

        abuse_start(&a);
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                snprintf(what, sizeof(what), "%s with signature \"%s\"", wrong[i].member, wrong[i].signature);
                expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, wrong[i].member, build_signature, wrong[i].signature,
                               DBUS_INVALID_ARGS, NULL, what);
        }
        /* The manager's methods likewise. */
        expect_refused(&a, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "CreateCryptoSession", build_signature, "sssu",
                       DBUS_INVALID_ARGS, NULL, "CreateCryptoSession with \"sssu\"");
        expect_refused(&a, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "CreateCryptoSession", build_signature, "ssh",
                       DBUS_INVALID_ARGS, NULL, "CreateCryptoSession with \"ssh\"");
        expect_refused(&a, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "GetContentProtectionCaps", build_signature, "h",
                       DBUS_INVALID_ARGS, NULL, "GetContentProtectionCaps with \"h\"");
        abuse_end(&a);
}
END_TEST

static int build_decryption_blt_bytes_for_fd(sd_bus_message *m, const void *arg) {
        /* DecryptionBltFd's "uh(uuu)ayay" with bytes in place of the fd. */
        static const uint8_t iv[IV_SIZE];
        const Abuse *a = arg;
        int r = sd_bus_message_append(m, "u", a->surface);

        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', "0123456789abcdef", 16);
        if (r >= 0)
                r = sd_bus_message_append(m, "(uuu)", 0, 0, 0);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', iv, 0);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', iv, sizeof(iv));
        return r;
}

typedef struct FdArg {
        const Abuse *abuse;
        int fd;
} FdArg;

static int build_decryption_blt_fd(sd_bus_message *m, const void *arg) {
        static const uint8_t iv[IV_SIZE];
        const FdArg *f = arg;
        int r = sd_bus_message_append(m, "uh", f->abuse->surface, f->fd);

        if (r >= 0)
                r = sd_bus_message_append(m, "(uuu)", 0, 0, 0);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', iv, 0);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', iv, sizeof(iv));
        return r;
}

START_TEST(test_deep_containers_and_fds) {
        static const Nesting nestings[] = { { 'a', 1 }, { 'a', 31 }, { 'r', 1 }, { 'r', 31 } };
        static const unsigned variant_depths[] = { 1, 2, 32 };
        Abuse a = {};
        char what[256];
        int fd, sv[2];

        abuse_start(&a);

        /* Containers where NegotiateCryptoSessionKeyExchange takes a plain ay,
         * up to the D-Bus limits (32 nested arrays, 32 structs, 64 in all). */
        for (size_t i = 0; i < ELEMENTSOF(nestings); i++) {
                snprintf(what, sizeof(what), "NegotiateCryptoSessionKeyExchange with ay inside %u nested %s",
                         nestings[i].depth, nestings[i].kind == 'a' ? "arrays" : "structs");
                expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "NegotiateCryptoSessionKeyExchange", build_nested,
                               &nestings[i], DBUS_INVALID_ARGS, NULL, what);
        }
        for (size_t i = 0; i < ELEMENTSOF(variant_depths); i++) {
                snprintf(what, sizeof(what), "NegotiateCryptoSessionKeyExchange with ay inside %u nested variants",
                         variant_depths[i]);
                expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "NegotiateCryptoSessionKeyExchange", build_variants,
                               &variant_depths[i], DBUS_INVALID_ARGS, NULL, what);
        }

        /* Bytes where DecryptionBltFd takes an fd. */
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBltFd", build_decryption_blt_bytes_for_fd, &a,
                       DBUS_INVALID_ARGS, NULL, "DecryptionBltFd with bytes for the fd");

        /* fds that are no sealed memfd (test-data-path tries pipes, /dev/null,
         * regular files and missing seals): keyd's InvalidArg. */
        fd = open(harness_tmpdir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBltFd", build_decryption_blt_fd,
                       &(FdArg) { &a, fd }, ERROR_INVALID_ARG, "memfd", "DecryptionBltFd with a directory");
        close(fd);
        fd = open(harness_tmpdir(), O_PATH | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBltFd", build_decryption_blt_fd,
                       &(FdArg) { &a, fd }, ERROR_INVALID_ARG, "memfd", "DecryptionBltFd with an O_PATH fd");
        close(fd);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBltFd", build_decryption_blt_fd,
                       &(FdArg) { &a, sv[0] }, ERROR_INVALID_ARG, "memfd", "DecryptionBltFd with a socket");
        close(sv[0]);
        close(sv[1]);
        fd = eventfd(0, EFD_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBltFd", build_decryption_blt_fd,
                       &(FdArg) { &a, fd }, ERROR_INVALID_ARG, "memfd", "DecryptionBltFd with an eventfd");
        close(fd);

        /* A sealed memfd of 1 TiB (sparse): refused by its size, never mapped. */
        fd = memfd_create("huge", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t) 1 << 40), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBltFd", build_decryption_blt_fd,
                       &(FdArg) { &a, fd }, ERROR_INVALID_ARG, "1099511627776", "DecryptionBltFd with a 1 TiB memfd");
        close(fd);

        /* F_SEAL_FUTURE_WRITE is not F_SEAL_WRITE: a writable mapping made before could still change the bytes. */
        fd = memfd_create("future", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, 16), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW), 0);
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBltFd", build_decryption_blt_fd,
                       &(FdArg) { &a, fd }, ERROR_INVALID_ARG, "F_SEAL_WRITE",
                       "DecryptionBltFd with F_SEAL_FUTURE_WRITE");
        close(fd);

        abuse_end(&a);
}
END_TEST

typedef struct SizedAy {
        const Abuse *abuse;
        size_t size;
} SizedAy;

static int build_decryption_blt_sized(sd_bus_message *m, const void *arg) {
        static const uint8_t iv[IV_SIZE];
        const SizedAy *s = arg;
        int r = sd_bus_message_append(m, "u", s->abuse->surface);

        if (r >= 0)
                r = build_ay(m, s->size);
        if (r >= 0)
                r = sd_bus_message_append(m, "(uuu)", 0, 0, 0);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', iv, 0);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', iv, sizeof(iv));
        return r;
}

static int build_negotiate_sized(sd_bus_message *m, const void *arg) {
        return build_ay(m, ((const SizedAy *) arg)->size);
}

static int build_hw_sized(sd_bus_message *m, const void *arg) {
        int r = sd_bus_message_append(m, "uu", 1, 0);

        if (r >= 0)
                r = build_ay(m, ((const SizedAy *) arg)->size);
        if (r >= 0)
                r = sd_bus_message_append(m, "u", 16);
        return r;
}

START_TEST(test_oversized_messages) {
        _cleanup_free_ char *hw_path = NULL;
        Abuse a = {};
        const size_t over = 16 * MiB + 16;
        /* dbus-daemon's default max_message_size is 32 MiB: just below it, with room for the header. */
        const size_t near_max = 32 * MiB - 4096;

        abuse_start(&a);
        hw_path = raw_create_session(a.bus, HW_PROTECTION);

        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBlt", build_decryption_blt_sized,
                       &(SizedAy) { &a, over }, ERROR_INVALID_ARG, "DecryptionBltFd", "DecryptionBlt of 16 MiB + 16");
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "DecryptionBlt", build_decryption_blt_sized,
                       &(SizedAy) { &a, near_max }, ERROR_INVALID_ARG, "DecryptionBltFd",
                       "DecryptionBlt of 32 MiB - 4 KiB");
        expect_refused(&a, a.path, KEYD_SESSION_INTERFACE, "NegotiateCryptoSessionKeyExchange", build_negotiate_sized,
                       &(SizedAy) { &a, over }, ERROR_INVALID_ARG, "16777216",
                       "NegotiateCryptoSessionKeyExchange of 16 MiB + 16");
        expect_refused(&a, hw_path, KEYD_SESSION_INTERFACE, "ExecuteHWProtectionFunction", build_hw_sized,
                       &(SizedAy) { &a, over }, ERROR_INVALID_ARG, "16777216",
                       "ExecuteHWProtectionFunction of 16 MiB + 16");

        /* Above dbus-daemon's limit: the bus refuses it (keyd never sees it). */
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_(sd_bus_flush_close_unrefp) sd_bus *big = NULL;
                sd_bus_error error = SD_BUS_ERROR_NULL;
                int r;

                ck_assert_int_eq(harness_open_bus(&big), 0);
                ck_assert_int_ge(sd_bus_message_new_method_call(big, &m, KEYD_BUS_NAME, a.path, KEYD_SESSION_INTERFACE,
                                                                "DecryptionBlt"),
                                 0);
                ck_assert_int_ge(build_decryption_blt_sized(m, &(SizedAy) { &a, 40 * MiB }), 0);
                r = sd_bus_call(big, m, CALL_TIMEOUT_USEC, &error, NULL);
                ck_assert_msg(r < 0, "a 40 MiB message was accepted");
                fprintf(stderr, "oversized: a 40 MiB message: %s: %s\n", error.name ?: strerror(-r), error.message ?: "");
                sd_bus_error_free(&error);
                abuse_check(&a, "a 40 MiB message");
        }

        ck_assert_int_ge(sd_bus_call_method(a.bus, KEYD_BUS_NAME, hw_path, KEYD_SESSION_INTERFACE, "Close", NULL, NULL,
                                            ""),
                         0);
        abuse_end(&a);
}
END_TEST

static Suite *isolation_suite(void) {
        Suite *s = suite_create("isolation");
        TCase *tc;

        tc = tcase_create("other-user");
        tcase_add_checked_fixture(tc, setup_user, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_other_user);
        suite_add_tcase(s, tc);

        tc = tcase_create("limits");
        tcase_add_checked_fixture(tc, setup_race, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_limits_under_load);
        suite_add_tcase(s, tc);

        tc = tcase_create("negotiation-load");
        tcase_add_checked_fixture(tc, setup_default, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_flood_vs_worker);
        suite_add_tcase(s, tc);

        tc = tcase_create("queue-bound");
        tcase_add_checked_fixture(tc, setup_queue, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_queue_bound);
        suite_add_tcase(s, tc);

        tc = tcase_create("malformed");
        tcase_add_checked_fixture(tc, setup_default, teardown);
        tcase_set_timeout(tc, 240);  /* room for CALL_TIMEOUT_USEC */
        tcase_add_test(tc, test_wrong_signatures);
        tcase_add_test(tc, test_deep_containers_and_fds);
        tcase_add_test(tc, test_oversized_messages);
        suite_add_tcase(s, tc);

        return s;
}

int main(void) {
        return run_suite(isolation_suite());
}
