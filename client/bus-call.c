/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "client-internal.h"
#include "guid.h"

keyd_client *keyd_client_lock(keyd_client *c) {
        pthread_mutex_lock(&c->lock);
        return c;
}

void keyd_client_unlockp(keyd_client **c) {
        if (*c)
                pthread_mutex_unlock(&(*c)->lock);
}

int keyd_client_new_call(keyd_client *c, sd_bus_message **ret, const char *destination,
                         const char *path, const char *interface, const char *member) {
        if (!c->bus)
                return -ENOTCONN;
        return sd_bus_message_new_method_call(c->bus, ret, destination, path, interface, member);
}

/* Whether name has an owner on the bus: 1, 0, or a negative errno when the
 * bus cannot tell. */
static int name_has_owner(keyd_client *c, const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int has_owner, r;

        r = sd_bus_message_new_method_call(c->bus, &m, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "NameHasOwner");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_call(c->bus, m, c->timeout_usec, NULL, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "b", &has_owner);
        if (r < 0)
                return r;
        return !!has_owner;
}

int keyd_client_call(keyd_client *c, sd_bus_message *m, sd_bus_message **ret_reply, sd_bus_error *error) {
        const char *destination;
        int r;

        if (!c->bus)
                return -ENOTCONN;

        r = sd_bus_call(c->bus, m, c->timeout_usec, error, ret_reply);
        if (r >= 0)
                return r;

        /* NoReply also comes from the bus when the callee disconnects in the
         * middle of the call: a keyd that crashed is not a slow keyd. */
        destination = sd_bus_message_get_destination(m);
        if (destination && keyd_map_call_error(KEYD_CALL_MANAGER, r, error) == KEYD_E_TIMEOUT &&
            name_has_owner(c, destination) == 0) {
                sd_bus_error_free(error);
                (void) sd_bus_error_setf(error, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                         "%s left the bus without answering", destination);
                return -ENXIO;
        }
        return r;
}

int keyd_client_get_property(keyd_client *c, const char *destination, const char *path,
                             const char *interface, const char *property, char type, void *ret,
                             sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char contents[2] = { type, '\0' };
        int r;

        r = keyd_client_new_call(c, &m, destination, path, "org.freedesktop.DBus.Properties", "Get");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", interface, property);
        if (r < 0)
                return r;
        r = keyd_client_call(c, m, &reply, error);
        if (r < 0)
                return r;
        /* A reply of another shape is keyd breaking the contract, not a
         * missing name (sd-bus says -ENXIO for a type mismatch). */
        r = sd_bus_message_enter_container(reply, 'v', contents);
        if (r <= 0)
                return -EBADMSG;
        r = sd_bus_message_read_basic(reply, type, ret);
        if (r <= 0)
                return -EBADMSG;
        return 0;
}

void keyd_guid_to_wire(const keyd_guid *g, char buf[static KEYD_GUID_STRING_SIZE]) {
        if (g)
                guid_format(g, buf);
        else
                buf[0] = '\0';
}
