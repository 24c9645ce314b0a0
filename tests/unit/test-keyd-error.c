/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The error table of common/keyd-error.c against contract section 5, both
 * ways, with its errno aliases; and libkeyd's mapping of D-Bus and
 * transport failures to HRESULTs (client/error-map.c), fed real
 * sd_bus_error values. */

#include <check.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

#include "error-map.h"
#include "keyd-error.h"
#include "macro.h"

/* Contract section 5, as text. */
static const struct {
        const char *dbus_name;
        const char *hresult_name;
        uint32_t hresult;
} contract_errors[] = {
        { "org.keyd.KeyBroker1.Error.InvalidArg", "E_INVALIDARG", 0x80070057u },
        { "org.keyd.KeyBroker1.Error.OutOfMemory", "E_OUTOFMEMORY", 0x8007000Eu },
        { "org.keyd.KeyBroker1.Error.NotImplemented", "E_NOTIMPL", 0x80004001u },
        { "org.keyd.KeyBroker1.Error.Failed", "E_FAIL", 0x80004005u },
        { "org.keyd.KeyBroker1.Error.AccessDenied", "E_ACCESSDENIED", 0x80070005u },
        { "org.keyd.KeyBroker1.Error.InvalidCall", "DXGI_ERROR_INVALID_CALL", 0x887A0001u },
        { "org.keyd.KeyBroker1.Error.Unsupported", "DXGI_ERROR_UNSUPPORTED", 0x887A0004u },
        { "org.keyd.KeyBroker1.Error.DeviceRemoved", "DXGI_ERROR_DEVICE_REMOVED", 0x887A0005u },
};

START_TEST(test_table_matches_contract) {
        ck_assert_int_eq(_KEYD_ERROR_MAX, (int) ELEMENTSOF(contract_errors));

        for (size_t i = 0; i < ELEMENTSOF(contract_errors); i++) {
                int by_name = keyd_error_from_dbus_name(contract_errors[i].dbus_name);
                int by_hresult = keyd_error_from_hresult(contract_errors[i].hresult);
                const KeydErrorInfo *info;

                ck_assert_msg(by_name >= 0, "%s unknown", contract_errors[i].dbus_name);
                ck_assert_int_eq(by_name, by_hresult);

                info = keyd_error_info(by_name);
                ck_assert_str_eq(info->dbus_name, contract_errors[i].dbus_name);
                ck_assert_str_eq(info->hresult_name, contract_errors[i].hresult_name);
                ck_assert_uint_eq(info->hresult, contract_errors[i].hresult);
                ck_assert(!isempty(info->description));

                /* The errno that stands for it inside the daemon comes back to it. */
                ck_assert_int_eq(keyd_error_from_errno(info->errnum), by_name);
                ck_assert_int_eq(keyd_error_from_errno(-info->errnum), by_name);

                /* The public names agree with the table. */
                ck_assert_str_eq(keyd_hresult_to_string((HRESULT) contract_errors[i].hresult),
                                 contract_errors[i].hresult_name);
                ck_assert_str_eq(keyd_hresult_to_description((HRESULT) contract_errors[i].hresult),
                                 info->description);
        }
}
END_TEST

START_TEST(test_table_header_constants) {
        /* The HRESULT macros of keyd.h are the table's values. */
        static const struct {
                HRESULT hr;
                const char *name;
        } header[] = {
                { KEYD_E_INVALIDARG, "org.keyd.KeyBroker1.Error.InvalidArg" },
                { KEYD_E_OUTOFMEMORY, "org.keyd.KeyBroker1.Error.OutOfMemory" },
                { KEYD_E_NOTIMPL, "org.keyd.KeyBroker1.Error.NotImplemented" },
                { KEYD_E_FAIL, "org.keyd.KeyBroker1.Error.Failed" },
                { KEYD_E_ACCESSDENIED, "org.keyd.KeyBroker1.Error.AccessDenied" },
                { KEYD_DXGI_ERROR_INVALID_CALL, "org.keyd.KeyBroker1.Error.InvalidCall" },
                { KEYD_DXGI_ERROR_UNSUPPORTED, "org.keyd.KeyBroker1.Error.Unsupported" },
                { KEYD_DXGI_ERROR_DEVICE_REMOVED, "org.keyd.KeyBroker1.Error.DeviceRemoved" },
        };

        for (size_t i = 0; i < ELEMENTSOF(header); i++) {
                int e = keyd_error_from_hresult((uint32_t) header[i].hr);

                ck_assert_int_ge(e, 0);
                ck_assert_str_eq(keyd_error_info(e)->dbus_name, header[i].name);
                ck_assert(KEYD_FAILED(header[i].hr));
        }
}
END_TEST

START_TEST(test_unknown_names_and_hresults) {
        static const char *const not_ours[] = {
                "org.keyd.KeyBroker1.Error.",
                "org.keyd.KeyBroker1.Error.invalidarg",
                "org.keyd.KeyBroker1.Error.InvalidArgs",
                "org.keyd.KeyBroker1.Error.InvalidArg.Extra",
                "InvalidArg",
                "org.freedesktop.DBus.Error.InvalidArgs",
                "org.keyd.KeyBroker2.Error.InvalidArg",
                "",
        };

        for (size_t i = 0; i < ELEMENTSOF(not_ours); i++)
                ck_assert_msg(keyd_error_from_dbus_name(not_ours[i]) == -ENOENT, "\"%s\" known", not_ours[i]);
        ck_assert_int_eq(keyd_error_from_dbus_name(NULL), -ENOENT);

        ck_assert_int_eq(keyd_error_from_hresult(0), -ENOENT);
        ck_assert_int_eq(keyd_error_from_hresult(0x80004003u), -ENOENT); /* E_POINTER: library only */
        ck_assert_int_eq(keyd_error_from_hresult(0x80070426u), -ENOENT);
        ck_assert_int_eq(keyd_error_from_hresult(0x887A0002u), -ENOENT);
}
END_TEST

START_TEST(test_errno_aliases) {
        ck_assert_int_eq(keyd_error_from_errno(EDQUOT), KEYD_ERROR_OUT_OF_MEMORY);
        ck_assert_int_eq(keyd_error_from_errno(-EDQUOT), KEYD_ERROR_OUT_OF_MEMORY);
        ck_assert_int_eq(keyd_error_from_errno(EUSERS), KEYD_ERROR_OUT_OF_MEMORY);
        ck_assert_int_eq(keyd_error_from_errno(-EUSERS), KEYD_ERROR_OUT_OF_MEMORY);
        ck_assert_int_eq(keyd_error_from_errno(EPERM), KEYD_ERROR_ACCESS_DENIED);
        ck_assert_int_eq(keyd_error_from_errno(-EPERM), KEYD_ERROR_ACCESS_DENIED);

        ck_assert_int_eq(keyd_error_from_errno(-EINVAL), KEYD_ERROR_INVALID_ARG);
        ck_assert_int_eq(keyd_error_from_errno(-ENOMEM), KEYD_ERROR_OUT_OF_MEMORY);
        ck_assert_int_eq(keyd_error_from_errno(-EOPNOTSUPP), KEYD_ERROR_NOT_IMPLEMENTED);
        ck_assert_int_eq(keyd_error_from_errno(-EIO), KEYD_ERROR_FAILED);
        ck_assert_int_eq(keyd_error_from_errno(-EACCES), KEYD_ERROR_ACCESS_DENIED);
        ck_assert_int_eq(keyd_error_from_errno(-EBADRQC), KEYD_ERROR_INVALID_CALL);
        ck_assert_int_eq(keyd_error_from_errno(-EPROTONOSUPPORT), KEYD_ERROR_UNSUPPORTED);
        ck_assert_int_eq(keyd_error_from_errno(-ENODEV), KEYD_ERROR_DEVICE_REMOVED);

        /* Errnos without an entry of their own are Failed. */
        ck_assert_int_eq(keyd_error_from_errno(-ENOENT), KEYD_ERROR_FAILED);
        ck_assert_int_eq(keyd_error_from_errno(-EBADMSG), KEYD_ERROR_FAILED);
        ck_assert_int_eq(keyd_error_from_errno(-ETIMEDOUT), KEYD_ERROR_FAILED);
        ck_assert_int_eq(keyd_error_from_errno(0), KEYD_ERROR_FAILED);

        /* Out-of-range ids do not read past the table. */
        ck_assert_str_eq(keyd_error_info(_KEYD_ERROR_MAX)->dbus_name, "org.keyd.KeyBroker1.Error.Failed");
        ck_assert_str_eq(keyd_error_info((KeydError) -1)->dbus_name, "org.keyd.KeyBroker1.Error.Failed");
}
END_TEST

/* The client's mapping of one D-Bus error, as sd-bus hands it over: the
 * error set from the name and message, r the errno sd-bus derives from it. */
static HRESULT map_remote(KeydCallTarget target, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_error_set(&error, name, "0x80070057: a sentence");

        ck_assert_int_lt(r, 0);
        return keyd_map_call_error(target, r, &error);
}

/* A local failure: sd-bus reports the errno and derives the error from it. */
static HRESULT map_local(KeydCallTarget target, int r) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        ck_assert_int_eq(sd_bus_error_set_errno(&error, r), r);
        return keyd_map_call_error(target, r, &error);
}

START_TEST(test_client_maps_keyd_errors) {
        for (size_t i = 0; i < ELEMENTSOF(contract_errors); i++) {
                /* Exactly, whoever was called: keyd's names are never reinterpreted. */
                ck_assert_int_eq(map_remote(KEYD_CALL_MANAGER, contract_errors[i].dbus_name),
                                 (HRESULT) contract_errors[i].hresult);
                ck_assert_int_eq(map_remote(KEYD_CALL_SESSION, contract_errors[i].dbus_name),
                                 (HRESULT) contract_errors[i].hresult);
        }
}
END_TEST

START_TEST(test_client_maps_service_absent) {
        /* The service absent: not active for the manager, the session gone for a session. */
        ck_assert_int_eq(map_remote(KEYD_CALL_MANAGER, SD_BUS_ERROR_SERVICE_UNKNOWN), KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_int_eq(map_remote(KEYD_CALL_MANAGER, SD_BUS_ERROR_NAME_HAS_NO_OWNER), KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_int_eq(map_remote(KEYD_CALL_MANAGER, "org.freedesktop.DBus.Error.Spawn.ChildExited"),
                         KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_int_eq(map_remote(KEYD_CALL_SESSION, SD_BUS_ERROR_SERVICE_UNKNOWN),
                         KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_int_eq(map_remote(KEYD_CALL_SESSION, SD_BUS_ERROR_NAME_HAS_NO_OWNER),
                         KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_uint_eq((uint32_t) KEYD_E_SERVICE_NOT_ACTIVE, 0x80070426u);
}
END_TEST

START_TEST(test_client_maps_vanished_session) {
        ck_assert_int_eq(map_remote(KEYD_CALL_SESSION, SD_BUS_ERROR_UNKNOWN_OBJECT), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_int_eq(map_remote(KEYD_CALL_SESSION, SD_BUS_ERROR_UNKNOWN_METHOD), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_int_eq(map_remote(KEYD_CALL_SESSION, SD_BUS_ERROR_UNKNOWN_INTERFACE),
                         KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_int_eq(map_remote(KEYD_CALL_SESSION, SD_BUS_ERROR_UNKNOWN_PROPERTY),
                         KEYD_DXGI_ERROR_DEVICE_REMOVED);
        ck_assert_uint_eq((uint32_t) KEYD_DXGI_ERROR_DEVICE_REMOVED, 0x887A0005u);

        /* On the manager these mean a keyd that does not speak this interface. */
        ck_assert_int_eq(map_remote(KEYD_CALL_MANAGER, SD_BUS_ERROR_UNKNOWN_METHOD), KEYD_E_NOTIMPL);
        ck_assert_int_eq(map_remote(KEYD_CALL_MANAGER, SD_BUS_ERROR_UNKNOWN_INTERFACE), KEYD_E_NOTIMPL);
        ck_assert_int_eq(map_remote(KEYD_CALL_MANAGER, SD_BUS_ERROR_UNKNOWN_OBJECT), KEYD_E_FAIL);
}
END_TEST

START_TEST(test_client_maps_connection_lost) {
        for (KeydCallTarget t = KEYD_CALL_MANAGER; t <= KEYD_CALL_SESSION; t++) {
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_DISCONNECTED), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                ck_assert_int_eq(map_local(t, -ECONNRESET), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                ck_assert_int_eq(map_local(t, -ENOTCONN), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                ck_assert_int_eq(map_local(t, -EPIPE), KEYD_DXGI_ERROR_DEVICE_REMOVED);
                /* sd-bus refuses a closed connection without setting an error. */
                ck_assert_int_eq(keyd_map_call_error(t, -ENOTCONN, NULL), KEYD_DXGI_ERROR_DEVICE_REMOVED);
        }
}
END_TEST

START_TEST(test_client_maps_timeout) {
        for (KeydCallTarget t = KEYD_CALL_MANAGER; t <= KEYD_CALL_SESSION; t++) {
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_NO_REPLY), KEYD_E_TIMEOUT);
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_TIMEOUT), KEYD_E_TIMEOUT);
                ck_assert_int_eq(map_remote(t, "org.freedesktop.DBus.Error.TimedOut"), KEYD_E_TIMEOUT);
                ck_assert_int_eq(map_local(t, -ETIMEDOUT), KEYD_E_TIMEOUT);
                ck_assert_int_eq(keyd_map_call_error(t, -ETIMEDOUT, NULL), KEYD_E_TIMEOUT);
        }
        ck_assert_uint_eq((uint32_t) KEYD_E_TIMEOUT, 0x800705B4u);
}
END_TEST

START_TEST(test_client_maps_bus_errors) {
        for (KeydCallTarget t = KEYD_CALL_MANAGER; t <= KEYD_CALL_SESSION; t++) {
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_ACCESS_DENIED), KEYD_E_ACCESSDENIED);
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_NO_MEMORY), KEYD_E_OUTOFMEMORY);
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_LIMITS_EXCEEDED), KEYD_E_OUTOFMEMORY);
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_INVALID_ARGS), KEYD_E_INVALIDARG);

                /* Anything else is E_FAIL -- even names sd-bus maps to an
                 * errno that would mean something else (Failed is EACCES). */
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_FAILED), KEYD_E_FAIL);
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_AUTH_FAILED), KEYD_E_FAIL);
                ck_assert_int_eq(map_remote(t, SD_BUS_ERROR_NOT_SUPPORTED), KEYD_E_FAIL);
                ck_assert_int_eq(map_remote(t, "com.example.Error.Whatever"), KEYD_E_FAIL);
                ck_assert_int_eq(map_remote(t, "org.keyd.KeyBroker1.Error.NoSuchThing"), KEYD_E_FAIL);
                ck_assert_int_eq(map_local(t, -EIO), KEYD_E_FAIL);
                ck_assert_int_eq(keyd_map_call_error(t, 0, NULL), KEYD_E_FAIL);
        }
}
END_TEST

START_TEST(test_error_message_sentence) {
        ck_assert_str_eq(keyd_error_message_sentence("0x80070057: data is 255 bytes; RSAES-OAEP takes 256"),
                         "data is 255 bytes; RSAES-OAEP takes 256");
        ck_assert_str_eq(keyd_error_message_sentence("0x887A0001:no space"), "no space");
        ck_assert_str_eq(keyd_error_message_sentence("plain sentence"), "plain sentence");
        ck_assert_str_eq(keyd_error_message_sentence("0x8007005: short"), "0x8007005: short");
        ck_assert_str_eq(keyd_error_message_sentence("0x80070057 no colon"), "0x80070057 no colon");
        ck_assert_str_eq(keyd_error_message_sentence("0x"), "0x");
        ck_assert_str_eq(keyd_error_message_sentence(""), "");
        ck_assert_str_eq(keyd_error_message_sentence(NULL), "");
}
END_TEST

START_TEST(test_fail_call_message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        HRESULT hr;

        keyd_clear_last_error();
        ck_assert_str_eq(keyd_last_error_message(), "");

        /* keyd's sentence, without the HRESULT prefix, after the method. */
        sd_bus_error_set(&error, "org.keyd.KeyBroker1.Error.InvalidArg",
                         "0x80070057: data is 255 bytes; RSAES-OAEP with this device's 2048-bit key takes 256");
        hr = keyd_fail_call(KEYD_CALL_SESSION, -EINVAL, &error, "NegotiateCryptoSessionKeyExchange");
        ck_assert_int_eq(hr, KEYD_E_INVALIDARG);
        ck_assert_str_eq(keyd_last_error_message(),
                         "NegotiateCryptoSessionKeyExchange: data is 255 bytes; RSAES-OAEP with this "
                         "device's 2048-bit key takes 256");

        /* The bus's own errors keep their name and message. */
        sd_bus_error_free(&error);
        sd_bus_error_set(&error, SD_BUS_ERROR_SERVICE_UNKNOWN, "The name is not there");
        hr = keyd_fail_call(KEYD_CALL_MANAGER, -EHOSTUNREACH, &error, "CreateCryptoSession");
        ck_assert_int_eq(hr, KEYD_E_SERVICE_NOT_ACTIVE);
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "CreateCryptoSession: "));
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), SD_BUS_ERROR_SERVICE_UNKNOWN));
        ck_assert_ptr_nonnull(strstr(keyd_last_error_message(), "The name is not there"));

        keyd_clear_last_error();
        ck_assert_str_eq(keyd_last_error_message(), "");
}
END_TEST

START_TEST(test_library_hresult_names) {
        static const struct {
                HRESULT hr;
                const char *name;
        } library[] = {
                { KEYD_S_OK, "S_OK" },
                { KEYD_E_POINTER, "E_POINTER" },
                { KEYD_E_SERVICE_NOT_ACTIVE, "HRESULT_FROM_WIN32(ERROR_SERVICE_NOT_ACTIVE)" },
                { KEYD_E_TIMEOUT, "HRESULT_FROM_WIN32(ERROR_TIMEOUT)" },
        };

        ck_assert_uint_eq((uint32_t) KEYD_E_POINTER, 0x80004003u);
        for (size_t i = 0; i < ELEMENTSOF(library); i++) {
                ck_assert_str_eq(keyd_hresult_to_string(library[i].hr), library[i].name);
                ck_assert(!isempty(keyd_hresult_to_description(library[i].hr)));
        }
        ck_assert_str_eq(keyd_hresult_to_string(KEYD_HRESULT(0x80001234u)), "unknown HRESULT");
        ck_assert(!isempty(keyd_hresult_to_description(KEYD_HRESULT(0x80001234u))));
        ck_assert_str_eq(keyd_hresult_to_string(KEYD_HRESULT(1)), "unknown HRESULT");
}
END_TEST

static Suite *keyd_error_suite(void) {
        Suite *s = suite_create("keyd-error");
        TCase *table = tcase_create("table"), *client = tcase_create("client");

        tcase_add_test(table, test_table_matches_contract);
        tcase_add_test(table, test_table_header_constants);
        tcase_add_test(table, test_unknown_names_and_hresults);
        tcase_add_test(table, test_errno_aliases);
        suite_add_tcase(s, table);

        tcase_add_test(client, test_client_maps_keyd_errors);
        tcase_add_test(client, test_client_maps_service_absent);
        tcase_add_test(client, test_client_maps_vanished_session);
        tcase_add_test(client, test_client_maps_connection_lost);
        tcase_add_test(client, test_client_maps_timeout);
        tcase_add_test(client, test_client_maps_bus_errors);
        tcase_add_test(client, test_error_message_sentence);
        tcase_add_test(client, test_fail_call_message);
        tcase_add_test(client, test_library_hresult_names);
        suite_add_tcase(s, client);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(keyd_error_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
