/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>

/* Reply to call with one `ay` holding size bytes of data. */
int bus_reply_bytes(sd_bus_message *call, const void *data, size_t size);
