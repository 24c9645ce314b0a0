/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "guid.h"

/* Check a GUID argument of a method call. arg_name names it in errors.
 * "" means a NULL GUID pointer: allowed only when allow_empty, and then
 * *ret_known is NULL. A malformed GUID, or a well-formed one that is not a
 * known GUID of this kind, is InvalidArg. */
int bus_parse_guid_arg(const char *arg_name, const char *value, GuidKind kind, bool allow_empty,
                       const KnownGuid **ret_known, sd_bus_error *error);

/* Append a GUID as the lowercase string keyd sends ("" for NULL). */
int bus_append_guid(sd_bus_message *reply, const keyd_guid *guid);
