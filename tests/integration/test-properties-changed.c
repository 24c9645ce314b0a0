/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The manager's SessionCount announces itself: a watcher with a plain bus
 * match on PropertiesChanged sees the new count, as a value, each time a
 * session is created, released, or destroyed because its owner left. */

#include <errno.h>

#include "test-util.h"

#define PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"
#define SIGNAL_TIMEOUT_USEC (10ULL * USEC_PER_SEC)

typedef struct Watch {
        unsigned n_signals;
        int64_t last_count;    /* -1: no SessionCount seen yet */
        bool bad;              /* a signal that was not what the interface promises */
} Watch;

/* One PropertiesChanged(s interface, a{sv} changed, as invalidated). */
static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        const char *interface, *name;
        int r;

        w->n_signals++;
        r = sd_bus_message_read(m, "s", &interface);
        if (r < 0 || strcmp(interface, KEYD_MANAGER_INTERFACE) != 0)
                goto bad;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                goto bad;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                uint32_t count;

                if (sd_bus_message_read(m, "s", &name) < 0)
                        goto bad;
                if (strcmp(name, "SessionCount") != 0) {
                        if (sd_bus_message_skip(m, "v") < 0)
                                goto bad;
                } else {
                        if (sd_bus_message_read(m, "v", "u", &count) < 0)
                                goto bad;
                        w->last_count = count;
                }
                if (sd_bus_message_exit_container(m) < 0)
                        goto bad;
        }
        if (r < 0)
                goto bad;
        return 0;
bad:
        w->bad = true;
        return 0;
}

typedef struct Watcher {
        sd_bus *bus;
        sd_bus_slot *slot;
        Watch watch;
} Watcher;

static void watcher_start(Watcher *w) {
        *w = (Watcher) { .watch.last_count = -1 };
        ck_assert_int_ge(harness_open_bus(&w->bus), 0);
        /* Synchronous: the match is in place before anything is triggered. */
        ck_assert_int_ge(sd_bus_match_signal(w->bus, &w->slot, KEYD_BUS_NAME, KEYD_MANAGER_PATH,
                                             PROPERTIES_INTERFACE, "PropertiesChanged", on_properties_changed,
                                             &w->watch),
                         0);
}

static void watcher_stop(Watcher *w) {
        w->slot = sd_bus_slot_unref(w->slot);
        w->bus = sd_bus_flush_close_unref(w->bus);
}

/* Process signals until one says SessionCount is expected. */
static void expect_count(Watcher *w, uint32_t expected) {
        uint64_t deadline = harness_now_usec() + SIGNAL_TIMEOUT_USEC;

        for (;;) {
                int r = sd_bus_process(w->bus, NULL);
                ck_assert_int_ge(r, 0);
                ck_assert_msg(!w->watch.bad, "a PropertiesChanged signal of the manager was malformed");
                if (w->watch.last_count == (int64_t) expected)
                        return;
                if (r > 0)
                        continue;
                ck_assert_msg(harness_now_usec() < deadline,
                              "no PropertiesChanged with SessionCount %u within 10 s (last seen: %lld, %u signals)",
                              expected, (long long) w->watch.last_count, w->watch.n_signals);
                r = sd_bus_wait(w->bus, 100 * 1000);
                ck_assert_int_ge(r, 0);
        }
}

static void setup(void) {
        start_bus_and_keyd(NULL);
}

static void teardown(void) {
        harness_stop();
}

START_TEST(test_created_and_released) {
        Watcher w;
        keyd_client *c;
        keyd_crypto_session *a, *b;
        uint32_t count;

        watcher_start(&w);
        c = open_client();

        a = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        expect_count(&w, 1);
        b = create_session(c, &KEYD_KEY_EXCHANGE_HW_PROTECTION);
        expect_count(&w, 2);
        /* The signal carries what Get answers. */
        ck_assert_int_ge(harness_session_count(&count), 0);
        ck_assert_uint_eq(count, 2);

        keyd_crypto_session_release(a);
        expect_count(&w, 1);
        keyd_crypto_session_release(b);
        expect_count(&w, 0);

        keyd_client_close(c);
        watcher_stop(&w);
}
END_TEST

START_TEST(test_owner_disconnects) {
        Watcher w;
        keyd_client *c;
        keyd_crypto_session *s[3];

        watcher_start(&w);
        c = open_client();
        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                s[i] = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        expect_count(&w, 3);

        /* keyd learns of the disconnection from the bus, not from a call. */
        keyd_client_close(c);
        expect_count(&w, 0);

        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                keyd_crypto_session_release(s[i]);
        watcher_stop(&w);
}
END_TEST

START_TEST(test_refused_create_is_silent) {
        Watcher w;
        keyd_client *c;
        keyd_crypto_session *s = NULL;
        const keyd_guid unknown = { 0x01234567, 0x89ab, 0xcdef, { 1, 2, 3, 4, 5, 6, 7, 8 } };

        watcher_start(&w);
        c = open_client();
        /* A session that is never made changes no count, and says nothing. */
        ck_assert_int_eq(keyd_create_crypto_session(c, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &unknown, &s),
                         KEYD_E_INVALIDARG);
        s = create_session(c, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        expect_count(&w, 1);
        ck_assert_uint_eq(w.watch.n_signals, 1);

        keyd_crypto_session_release(s);
        keyd_client_close(c);
        watcher_stop(&w);
}
END_TEST

static Suite *properties_changed_suite(void) {
        Suite *s = suite_create("properties-changed");
        TCase *tc = tcase_create("session-count");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_created_and_released);
        tcase_add_test(tc, test_owner_disconnects);
        tcase_add_test(tc, test_refused_create_is_silent);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite(properties_changed_suite());
}
