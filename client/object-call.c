/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A call on one of keyd's objects, the manager or a session, the way every
 * API function makes it: start it, append the arguments, send it, read the
 * reply, and turn each failure into the HRESULT and the message the caller
 * gets. Everything here runs with the client's lock held. */

#include <stdarg.h>

#include "client-internal.h"

HRESULT keyd_manager_call(keyd_client *c, const char *method, sd_bus_message **ret_reply, const char *types,
                          ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = keyd_client_new_call(c, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, method);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_MANAGER, r, NULL, method);
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_MANAGER, r, NULL, method);
        r = keyd_client_call(c, m, ret_reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_MANAGER, r, &error, method);
        return KEYD_S_OK;
}

HRESULT keyd_session_check_open(keyd_crypto_session *s, const char *method) {
        if (s->client->bus)
                return KEYD_S_OK;
        return keyd_set_last_error(KEYD_DXGI_ERROR_DEVICE_REMOVED,
                                   "%s: the session's keyd_client was closed, and keyd destroyed the session "
                                   "with its connection",
                                   method);
}

int keyd_session_new_call(keyd_crypto_session *s, sd_bus_message **ret, const char *member) {
        return keyd_client_new_call(s->client, ret, s->owner, s->path, KEYD_SESSION_INTERFACE, member);
}

HRESULT keyd_session_send(keyd_crypto_session *s, sd_bus_message *m, sd_bus_message **ret_reply,
                          const char *method) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = keyd_client_call(s->client, m, ret_reply, &error);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, &error, method);
        return KEYD_S_OK;
}

HRESULT keyd_session_call(keyd_crypto_session *s, const char *method, sd_bus_message **ret_reply,
                          const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        HRESULT hr;
        int r;

        hr = keyd_session_check_open(s, method);
        if (KEYD_FAILED(hr))
                return hr;
        r = keyd_session_new_call(s, &m, method);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        }
        return keyd_session_send(s, m, ret_reply, method);
}

HRESULT keyd_session_get_property(keyd_crypto_session *s, const char *method, const char *property, char type,
                                  void *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = keyd_client_get_property(s->client, s->owner, s->path, KEYD_SESSION_INTERFACE, property, type, ret,
                                     &error);
        if (r == -EBADMSG && !sd_bus_error_is_set(&error))
                return keyd_fail_reply(method, r);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, &error, method);
        return KEYD_S_OK;
}

void keyd_close_session_object(keyd_client *c, const char *owner, const char *path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (keyd_client_new_call(c, &m, owner, path, KEYD_SESSION_INTERFACE, "Close") < 0)
                return;
        (void) keyd_client_call(c, m, NULL, NULL);
}

HRESULT keyd_reply_read(sd_bus_message *reply, const char *method, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_message_readv(reply, types, ap);
        va_end(ap);
        if (r <= 0)
                return keyd_fail_reply(method, r ?: -EBADMSG);
        return KEYD_S_OK;
}

HRESULT keyd_reply_read_bytes(sd_bus_message *reply, const char *method, const void **ret, size_t *ret_size) {
        int r;

        r = sd_bus_message_read_array(reply, 'y', ret, ret_size);
        if (r <= 0)
                return keyd_fail_reply(method, r ?: -EBADMSG);
        return KEYD_S_OK;
}
