/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How libkeyd turns a failed D-Bus call into the HRESULT the caller gets
 * (contract section 5), and the per-thread text that says what went wrong
 * (keyd_last_error_message()). Internal to libkeyd; the unit tests and
 * keydctl link it from the static libkeyd-internal. */

#include <systemd/sd-bus.h>

#include "keyd/keyd.h"
#include "macro.h"

/* Whom a call was addressed to: the absence of keyd means something else
 * for the manager (keyd is not running) than for a session (it was there,
 * and the session died with it). */
typedef enum KeydCallTarget {
        KEYD_CALL_MANAGER,
        KEYD_CALL_SESSION,
} KeydCallTarget;

/* The HRESULT for a call that failed with r (a negative errno from sd-bus)
 * and error (the D-Bus error it carried, may be NULL or unset). keyd's own
 * error names map through the error table; bus and transport errors per
 * contract section 5; anything else is E_FAIL. */
HRESULT keyd_map_call_error(KeydCallTarget target, int r, const sd_bus_error *error);

/* The message part of a keyd error, without the "0xHRESULT: " prefix keyd
 * puts in front. Never NULL. */
const char *keyd_error_message_sentence(const char *message);

/* Forget the last error of this thread (at the start of each API call). */
void keyd_clear_last_error(void);
/* Record the text for keyd_last_error_message() and return hr. */
_printf_(2, 3) HRESULT keyd_set_last_error(HRESULT hr, const char *format, ...);
/* Map a failed call, record "what: the bus's or keyd's message", and
 * return the HRESULT. */
HRESULT keyd_fail_call(KeydCallTarget target, int r, const sd_bus_error *error, const char *what);
/* E_POINTER for a NULL argument: "function: what is NULL". */
HRESULT keyd_fail_null(const char *function, const char *what);
/* E_FAIL for a reply of another shape than the contract says (r is the
 * errno sd-bus read it with): keyd and libkeyd disagree, which the caller
 * can only report. */
HRESULT keyd_fail_reply(const char *method, int r);
