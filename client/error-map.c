/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stdio.h>

#include "error-map.h"
#include "keyd-error.h"

#define DBUS_ERROR_PREFIX "org.freedesktop.DBus.Error."

/* One buffer per thread: calls on different threads must not see each
 * other's errors, and a fixed buffer needs no destructor at thread exit. */
static __thread char last_error[1024];

static bool dbus_error_is(const sd_bus_error *error, const char *suffix) {
        const char *name = error ? error->name : NULL;

        return name && strncmp(name, DBUS_ERROR_PREFIX, strlen(DBUS_ERROR_PREFIX)) == 0 &&
               streq(name + strlen(DBUS_ERROR_PREFIX), suffix);
}

static bool dbus_error_has_prefix(const sd_bus_error *error, const char *prefix) {
        return error && error->name && strncmp(error->name, prefix, strlen(prefix)) == 0;
}

/* Errnos: sd-bus reports local failures (a broken connection, a call that
 * timed out on our side) with an errno and an error it derives from it,
 * either a standard name or "System.Error.E...". */
static HRESULT map_errno(KeydCallTarget target, int r) {
        switch (abs(r)) {
        case ETIMEDOUT:
        case ETIME:
                return KEYD_E_TIMEOUT;
        case ECONNRESET:
        case ECONNABORTED:
        case ENETRESET:
        case ENOTCONN:
        case EPIPE:
        case ESHUTDOWN:
                /* The connection is gone: whatever it held is gone too. */
                return KEYD_DXGI_ERROR_DEVICE_REMOVED;
        case EHOSTUNREACH:   /* sd-bus's errno for ServiceUnknown */
        case ENXIO:          /* ... and for NameHasNoOwner */
                return target == KEYD_CALL_MANAGER ? KEYD_E_SERVICE_NOT_ACTIVE
                                                   : KEYD_DXGI_ERROR_DEVICE_REMOVED;
        case ENOMEM:
        case ENOBUFS:
                return KEYD_E_OUTOFMEMORY;
        case EACCES:
        case EPERM:
                return KEYD_E_ACCESSDENIED;
        case EINVAL:
                return KEYD_E_INVALIDARG;
        default:
                return KEYD_E_FAIL;
        }
}

HRESULT keyd_map_call_error(KeydCallTarget target, int r, const sd_bus_error *error) {
        int e;

        /* keyd's own errors carry their HRESULT in the name. */
        e = keyd_error_from_dbus_name(error ? error->name : NULL);
        if (e >= 0)
                return (HRESULT) keyd_error_info(e)->hresult;

        /* No keyd on the bus (or, for a session, not the keyd that made it). */
        if (dbus_error_is(error, "ServiceUnknown") || dbus_error_is(error, "NameHasNoOwner") ||
            dbus_error_has_prefix(error, DBUS_ERROR_PREFIX "Spawn."))
                return target == KEYD_CALL_MANAGER ? KEYD_E_SERVICE_NOT_ACTIVE
                                                   : KEYD_DXGI_ERROR_DEVICE_REMOVED;

        /* The object is not there: for a session, it was closed by keyd
         * (owner gone, daemon restarted); for the manager, this keyd does not
         * speak our interface. */
        if (dbus_error_is(error, "UnknownObject") || dbus_error_is(error, "UnknownMethod") ||
            dbus_error_is(error, "UnknownInterface") || dbus_error_is(error, "UnknownProperty")) {
                if (target == KEYD_CALL_SESSION)
                        return KEYD_DXGI_ERROR_DEVICE_REMOVED;
                return dbus_error_is(error, "UnknownObject") ? KEYD_E_FAIL : KEYD_E_NOTIMPL;
        }

        if (dbus_error_is(error, "Disconnected"))
                return KEYD_DXGI_ERROR_DEVICE_REMOVED;
        if (dbus_error_is(error, "NoReply") || dbus_error_is(error, "Timeout") ||
            dbus_error_is(error, "TimedOut"))
                return KEYD_E_TIMEOUT;
        if (dbus_error_is(error, "AccessDenied"))
                return KEYD_E_ACCESSDENIED;
        if (dbus_error_is(error, "NoMemory") || dbus_error_is(error, "LimitsExceeded"))
                return KEYD_E_OUTOFMEMORY;
        if (dbus_error_is(error, "InvalidArgs"))
                return KEYD_E_INVALIDARG;

        /* A local failure: sd-bus sets a name derived from the errno, or none.
         * A remote error we do not know is E_FAIL whatever errno sd-bus
         * derived from it (it calls org.freedesktop.DBus.Error.Failed EACCES). */
        if (!error || !error->name || dbus_error_has_prefix(error, "System.Error."))
                return r < 0 ? map_errno(target, r) : KEYD_E_FAIL;

        return KEYD_E_FAIL;
}

const char *keyd_error_message_sentence(const char *message) {
        const char *p;

        if (!message)
                return "";

        /* "0x80070057: data is 255 bytes; ..." -> "data is 255 bytes; ..." */
        if (message[0] == '0' && (message[1] == 'x' || message[1] == 'X')) {
                p = message + 2;
                for (unsigned i = 0; i < 8; i++, p++)
                        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                              (*p >= 'A' && *p <= 'F')))
                                return message;
                if (p[0] == ':') {
                        p++;
                        while (*p == ' ')
                                p++;
                        return p;
                }
        }
        return message;
}

void keyd_clear_last_error(void) {
        last_error[0] = '\0';
}

HRESULT keyd_set_last_error(HRESULT hr, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        (void) vsnprintf(last_error, sizeof(last_error), format, ap);
        va_end(ap);
        return hr;
}

static const char *transport_explanation(HRESULT hr, KeydCallTarget target) {
        switch (hr) {
        case KEYD_E_SERVICE_NOT_ACTIVE:
                return "keyd (org.keyd.KeyBroker1) is not running on this bus";
        case KEYD_DXGI_ERROR_DEVICE_REMOVED:
                return target == KEYD_CALL_SESSION
                               ? "the session is gone (keyd closed it, restarted, or the connection was lost)"
                               : "the connection to the bus was lost";
        case KEYD_E_TIMEOUT:
                return "keyd did not answer in time";
        case KEYD_E_ACCESSDENIED:
                return "the bus policy does not allow this call";
        default:
                return NULL;
        }
}

HRESULT keyd_fail_call(KeydCallTarget target, int r, const sd_bus_error *error, const char *what) {
        HRESULT hr = keyd_map_call_error(target, r, error);
        const char *name = error && error->name ? error->name : NULL;
        const char *message = error && error->message ? error->message : NULL;
        const char *explanation;

        if (keyd_error_from_dbus_name(name) >= 0)
                /* keyd's sentence says it all. */
                return keyd_set_last_error(hr, "%s: %s", what,
                                           message ? keyd_error_message_sentence(message)
                                                   : keyd_hresult_to_description(hr));

        explanation = transport_explanation(hr, target);
        if (name)
                return keyd_set_last_error(hr, "%s: %s%s%s: %s", what,
                                           explanation ?: "", explanation ? ": " : "", name,
                                           message ?: "no message");
        return keyd_set_last_error(hr, "%s: %s%s%s", what, explanation ?: "", explanation ? ": " : "",
                                   strerror(abs(r ?: EIO)));
}

HRESULT keyd_fail_null(const char *function, const char *what) {
        return keyd_set_last_error(KEYD_E_POINTER, "%s: %s is NULL", function, what);
}

HRESULT keyd_fail_reply(const char *method, int r) {
        return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd's reply does not match the contract: %s", method,
                                   strerror(abs(r)));
}

_public_ const char *keyd_last_error_message(void) {
        return last_error;
}
