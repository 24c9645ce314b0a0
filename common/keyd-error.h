/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one table of keyd's errors: the D-Bus error name, the HRESULT the
 * client gets, and the negative errno that stands for it inside the daemon.
 * Daemon code returns -errno; the bus layer turns it into the error name
 * and "0xHRESULT: sentence" message; libkeyd turns the name back into the
 * HRESULT. Keep every wire string here (like dbus-broker's driver.c). */

#include <errno.h>
#include <stdint.h>

#include "keyd/keyd.h"

#define KEYD_ERROR_PREFIX "org.keyd.KeyBroker1.Error."

/* X(id, wire name, HRESULT symbol, HRESULT value, errno, meaning) */
#define KEYD_ERROR_TABLE(X)                                                                        \
        X(INVALID_ARG, "InvalidArg", "E_INVALIDARG", 0x80070057u, EINVAL,                           \
          "an argument is malformed, unknown or out of range")                                     \
        X(OUT_OF_MEMORY, "OutOfMemory", "E_OUTOFMEMORY", 0x8007000Eu, ENOMEM,                       \
          "out of memory, or a quota or limit of keyd was reached")                                \
        X(NOT_IMPLEMENTED, "NotImplemented", "E_NOTIMPL", 0x80004001u, EOPNOTSUPP,                  \
          "keyd does not implement this")                                                          \
        X(FAILED, "Failed", "E_FAIL", 0x80004005u, EIO,                                             \
          "keyd failed internally; its log says why")                                              \
        X(ACCESS_DENIED, "AccessDenied", "E_ACCESSDENIED", 0x80070005u, EACCES,                     \
          "the caller may not do this (the session belongs to another connection, or bus policy)") \
        X(INVALID_CALL, "InvalidCall", "DXGI_ERROR_INVALID_CALL", 0x887A0001u, EBADRQC,             \
          "the call is out of order or not allowed for this session's key exchange type")          \
        X(UNSUPPORTED, "Unsupported", "DXGI_ERROR_UNSUPPORTED", 0x887A0004u, EPROTONOSUPPORT,       \
          "the running backend cannot serve this known crypto type, profile or key exchange")      \
        X(DEVICE_REMOVED, "DeviceRemoved", "DXGI_ERROR_DEVICE_REMOVED", 0x887A0005u, ENODEV,        \
          "the session or the device behind it is gone; create a new session")

typedef enum KeydError {
#define KEYD_ERROR_ENUM(id, name, sym, hr, errnum, text) KEYD_ERROR_##id,
        KEYD_ERROR_TABLE(KEYD_ERROR_ENUM)
#undef KEYD_ERROR_ENUM
        _KEYD_ERROR_MAX,
} KeydError;

typedef struct KeydErrorInfo {
        const char *dbus_name;   /* full D-Bus error name */
        const char *hresult_name;
        uint32_t hresult;
        int errnum;              /* canonical positive errno inside the daemon */
        const char *description;
} KeydErrorInfo;

const KeydErrorInfo *keyd_error_info(KeydError e);
/* Which keyd error a (positive or negative) errno stands for. Errnos that
 * have no entry of their own are FAILED; EDQUOT and EUSERS (quotas, limits)
 * are OUT_OF_MEMORY; EPERM is ACCESS_DENIED. */
KeydError keyd_error_from_errno(int errnum);
/* The keyd error for a D-Bus error name, or -ENOENT if it is not one of keyd's. */
int keyd_error_from_dbus_name(const char *name);
/* The keyd error for an HRESULT, or -ENOENT. */
int keyd_error_from_hresult(uint32_t hresult);
