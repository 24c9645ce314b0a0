/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "keyd-error.h"
#include "macro.h"

/* Set error to keyd's D-Bus error for the negative errno r (through the one
 * table in common/keyd-error.c), with the message "0xHRESULT: <sentence>".
 * Returns r, so handlers can `return bus_error_setf(error, -EINVAL, ...)`. */
int bus_error_setf(sd_bus_error *error, int r, const char *fmt, ...) _printf_(3, 4);

/* Register keyd's names with sd-bus so that sd_bus_error_get_errno() and
 * friends map them back to the table's errno. */
int bus_error_register_map(void);
