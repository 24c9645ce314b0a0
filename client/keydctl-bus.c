/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl's own bus connection (for what libkeyd has no call for: the
 * manager's properties, the session list) and the diagnosis of a keyd that
 * cannot be reached: no bus, no keyd and nothing to start it, or a keyd the
 * bus tried to start and could not. */

#include <stdio.h>
#include <stdlib.h>

#include "client-internal.h"
#include "keydctl.h"

static int connect_bus(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (!address)
                r = sd_bus_open_system_with_description(&bus, "keydctl");
        else {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int keydctl_open_bus(const Keydctl *ctl, sd_bus **ret) {
        int r = connect_bus(ctl->address, ret);

        if (r < 0) {
                keyd_set_last_error(KEYD_E_SERVICE_NOT_ACTIVE, "cannot connect to %s: %s",
                                    ctl->address ?: "the system bus", strerror(-r));
                return keydctl_fail(KEYD_E_SERVICE_NOT_ACTIVE, "cannot connect to the bus");
        }
        return 0;
}

/* > 0 when the bus has an activation file for keyd's name. */
static int keyd_is_activatable(sd_bus *bus, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "ListActivatableNames", error, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "s", &name)) > 0)
                if (streq(name, KEYD_BUS_NAME))
                        return 1;
        return r;
}

/* > 0 when keyd's name has an owner. */
static int keyd_has_owner(sd_bus *bus, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int has = 0, r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", error, &reply, "s", KEYD_BUS_NAME);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "b", &has);
        if (r < 0)
                return r;
        return has;
}

void keydctl_explain_not_running(const char *address) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *system_address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        int r;

        r = connect_bus(address, &bus);
        if (r < 0) {
                if (address)
                        fprintf(stderr, "keydctl: no D-Bus bus answers at %s (%s): check --address, or start "
                                "the dbus-daemon that listens there\n", address, strerror(-r));
                else
                        fprintf(stderr, "keydctl: the system bus is not running (%s: %s): start it with "
                                "\"systemctl start dbus\"\n",
                                system_address ?: "unix:path=/run/dbus/system_bus_socket", strerror(-r));
                return;
        }

        r = keyd_has_owner(bus, &error);
        if (r > 0) {
                fprintf(stderr, "keydctl: keyd is on the bus now (it was starting or restarting): try again\n");
                return;
        }
        if (r >= 0)
                r = keyd_is_activatable(bus, &error);
        if (r < 0)
                fprintf(stderr, "keydctl: keyd is not on the bus, and the bus does not say whether it can "
                        "start keyd: %s\n", error.message ?: strerror(-r));
        else if (r == 0 && address)
                fprintf(stderr, "keydctl: keyd is not running on %s, and the bus cannot start it: it has no "
                        "D-Bus activation file for " KEYD_BUS_NAME ". Start keyd on that bus "
                        "(DBUS_SYSTEM_BUS_ADDRESS=%s keyd), or add keyd's activation file "
                        "(" KEYD_BUS_NAME ".service) to the bus's service directory\n", address, address);
        else if (r == 0)
                fprintf(stderr, "keydctl: keyd is not running, and the system bus cannot start it: it has no "
                        "D-Bus activation file for " KEYD_BUS_NAME ". Start keyd with \"systemctl start "
                        "keyd\", or install keyd's activation file (" KEYD_BUS_NAME ".service in "
                        "/usr/share/dbus-1/system-services) and unit (keyd.service)\n");
        else
                fprintf(stderr, "keydctl: the bus has an activation file for keyd but could not start it (the "
                        "bus's reason is above): see \"systemctl status keyd\" and \"journalctl -u keyd\"%s\n",
                        address ? ", or the activation file's Exec= line on that bus" : "");
}
