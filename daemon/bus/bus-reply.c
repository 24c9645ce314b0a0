/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-reply.h"
#include "macro.h"

int bus_reply_bytes(sd_bus_message *call, const void *data, size_t size) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', data, size);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
