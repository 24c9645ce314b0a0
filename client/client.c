/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd_client: one bus connection, the lock that serialises it, and the
 * call timeout. */

#include <stdlib.h>

#include "client-internal.h"

static void bus_close_unrefp(sd_bus **bus) {
        (void) sd_bus_flush_close_unref(*bus);
}

keyd_client *keyd_client_ref(keyd_client *c) {
        __atomic_add_fetch(&c->n_ref, 1, __ATOMIC_RELAXED);
        return c;
}

keyd_client *keyd_client_unref(keyd_client *c) {
        if (!c || __atomic_sub_fetch(&c->n_ref, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;

        /* The last reference: keyd_client_close() already closed the bus. */
        (void) sd_bus_flush_close_unref(c->bus);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

static HRESULT client_new(sd_bus *bus, keyd_client **ret) {
        keyd_client *c;

        c = calloc(1, sizeof(*c));
        if (!c)
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "cannot allocate a keyd_client");
        c->n_ref = 1;
        c->timeout_usec = KEYD_DEFAULT_TIMEOUT_USEC;
        c->bus = bus;
        if (pthread_mutex_init(&c->lock, NULL) != 0) {
                free(c);
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "cannot create the keyd_client's lock");
        }
        *ret = c;
        return KEYD_S_OK;
}

/* A connection that could not be made means keyd cannot be reached. */
static HRESULT fail_connect(int r, const char *bus_description) {
        if (r == -ENOMEM)
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "cannot connect to %s: %s",
                                           bus_description, strerror(-r));
        if (r == -EINVAL)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "cannot connect to %s: not a D-Bus address "
                                           "(expected e.g. unix:path=/run/dbus/system_bus_socket)",
                                           bus_description);
        return keyd_set_last_error(KEYD_E_SERVICE_NOT_ACTIVE, "cannot connect to %s: %s",
                                   bus_description, strerror(-r));
}

_public_ HRESULT keyd_client_open(keyd_client **ret) {
        _cleanup_(bus_close_unrefp) sd_bus *bus = NULL;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!ret)
                return keyd_fail_null("keyd_client_open", "the result pointer");

        /* sd_bus_open_system() honours DBUS_SYSTEM_BUS_ADDRESS. */
        r = sd_bus_open_system_with_description(&bus, "libkeyd");
        if (r < 0)
                return fail_connect(r, "the system bus");

        hr = client_new(bus, ret);
        if (KEYD_SUCCEEDED(hr))
                bus = NULL;
        return hr;
}

_public_ HRESULT keyd_client_open_address(const char *address, keyd_client **ret) {
        _cleanup_(bus_close_unrefp) sd_bus *bus = NULL;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!address || !ret)
                return keyd_fail_null("keyd_client_open_address",
                                      !address ? "the address" : "the result pointer");

        r = sd_bus_new(&bus);
        if (r < 0)
                return fail_connect(r, address);
        (void) sd_bus_set_description(bus, "libkeyd");
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return fail_connect(r, address);
        /* A message bus, not a peer: Hello, unique names, well-known names. */
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return fail_connect(r, address);
        r = sd_bus_start(bus);
        if (r < 0)
                return fail_connect(r, address);

        hr = client_new(bus, ret);
        if (KEYD_SUCCEEDED(hr))
                bus = NULL;
        return hr;
}

_public_ keyd_client *keyd_client_close(keyd_client *client) {
        if (!client)
                return NULL;

        /* Closing the connection is what makes keyd destroy our sessions and
         * wipe their keys; the object lives on for the sessions that still
         * point to it, which now fail with DEVICE_REMOVED. */
        pthread_mutex_lock(&client->lock);
        client->bus = sd_bus_flush_close_unref(client->bus);
        pthread_mutex_unlock(&client->lock);

        return keyd_client_unref(client);
}

_public_ HRESULT keyd_client_set_timeout(keyd_client *client, uint64_t usec) {
        keyd_clear_last_error();
        if (!client)
                return keyd_fail_null("keyd_client_set_timeout", "the client");

        KEYD_CLIENT_LOCK_GUARD(client);
        client->timeout_usec = usec == 0 ? KEYD_DEFAULT_TIMEOUT_USEC : usec;
        return KEYD_S_OK;
}
