/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "bus/bus-error.h"
#include "decode/decoder-process.h"
#include "config.h"
#include "bus/bus-objects.h"
#include "log.h"
#include "manager.h"
#include "secure-memory.h"
#include "session/client.h"
#include "session/readback-memfd.h"
#include "test-hooks.h"

int manager_new(const ManagerConfig *config, Manager **ret) {
        Manager *m;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->config = *config;
        m->readback_inotify_fd = -1;
        m->config.state_dir = strdup(config->state_dir);
        if (!m->config.state_dir) {
                free(m);
                return -ENOMEM;
        }

        r = sd_event_default(&m->event);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        /* Under WatchdogSec= the loop itself pings systemd: a stuck loop gets keyd restarted. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0) {
                manager_free(m);
                return r;
        }

        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        /* Every session's keys are wiped here, on every way out. Workers first:
         * their jobs complete (as cancelled) while the sessions still exist. */
        m->workers = worker_pool_free(m->workers);
        client_free_all(m);
        decoder_reapers_free(m);
        readback_memfd_free_all(m);  /* after the clients: their memfds outlive them */
        sd_event_source_disable_unref(m->idle_timer);
        sd_event_source_disable_unref(m->idle_drain);

        sd_bus_slot_unref(m->manager_vtable_slot);
        sd_bus_slot_unref(m->session_vtable_slot);
        sd_bus_slot_unref(m->session_enumerator_slot);
        sd_bus_slot_unref(m->decoder_vtable_slot);
        sd_bus_slot_unref(m->decoder_enumerator_slot);
        sd_bus_slot_unref(m->disconnect_slot);
        sd_bus_flush_close_unref(m->bus);

        backend_free(m->backend);
        sd_event_unref(m->event);
        free(m->config.state_dir);
        free(m);
        return NULL;
}

static int on_bus_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        /* Sessions cannot outlive their connection to the bus: exit, and let
         * systemd start keyd again once the bus is back. */
        log_error("Lost the connection to the bus (dbus-daemon restarted or gone); exiting.");
        sd_event_exit(m->event, -ECONNRESET);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received SIG%s; closing %zu session(s) and exiting.", sigabbrev_np((int) si->ssi_signo),
                 m->sessions.count);
        (void) sd_notify(false, "STOPPING=1");
        sd_event_exit(m->event, 0);
        return 0;
}

static int manager_connect_bus(Manager *m) {
        int r;

        /* sd_bus_open_system() honours DBUS_SYSTEM_BUS_ADDRESS, so private test
         * buses work without --bus=session. */
        if (m->config.bus_type == BUS_SYSTEM)
                r = sd_bus_open_system_with_description(&m->bus, "keyd");
        else
                r = sd_bus_open_user_with_description(&m->bus, "keyd");
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the %s bus: %m",
                                       m->config.bus_type == BUS_SYSTEM ? "system" : "session");

        r = sd_bus_match_signal(m->bus, &m->disconnect_slot, "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local", "Disconnected",
                                on_bus_disconnected, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for bus disconnection: %m");

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        return 0;
}

/* Before anything is made: another keyd on this bus means this one would
 * only fail to own the name once its backend and device key were set up.
 * The name is requested for real later, once the objects exist; a keyd
 * that wins a race in between still makes sd_bus_request_name() fail. */
static int manager_check_name_free(Manager *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int has_owner, r;

        r = sd_bus_call_method(m->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", KEYD_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to reach the %s bus (NameHasOwner %s): %s",
                                       m->config.bus_type == BUS_SYSTEM ? "system" : "session", KEYD_BUS_NAME,
                                       error.message ?: strerror(-r));
        r = sd_bus_message_read(reply, "b", &has_owner);
        if (r < 0)
                return log_error_errno(r, "Failed to read the bus's NameHasOwner reply: %m");
        if (has_owner)
                return log_error_errno(-EEXIST, "Another process already owns %s on this bus; is keyd running? "
                                       "Not starting (no device key made or loaded).", KEYD_BUS_NAME);
        return 0;
}

static int manager_setup_signals(Manager *m) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to block SIGTERM and SIGINT: %m");

        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGTERM: %m");
        r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGINT: %m");
        return 0;
}

/* Bignums an RSA operation may need at once, in reserve chunks: measured
 * with nettle's rsa_decrypt_tr, a 4096-bit key needs at most 78 KiB of
 * GMP memory (its largest block 9984 bytes, 4992 for 2048 bits); 16 chunks
 * of 16 KiB also cover a fresh slab for each of the 8 size classes. */
#define GMP_RESERVE_CHUNKS_PER_OPERATION 16u

static bool have_cap_ipc_lock(void) {
        struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

        if (syscall(SYS_capget, &header, data) < 0)
                return false;
        return data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
}

/* One limit on all locked memory, and the reserve that lets GMP never see
 * that limit in the middle of an RSA operation. */
static int manager_setup_locked_memory(Manager *m) {
        struct rlimit rl;
        uint64_t limit = m->config.max_locked_memory;
        size_t chunks;
        int r;

        /* Without CAP_IPC_LOCK, mlock fails past RLIMIT_MEMLOCK where keyd
         * could not say why: stay below it. */
        if (!have_cap_ipc_lock() && getrlimit(RLIMIT_MEMLOCK, &rl) >= 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < limit) {
                log_notice("RLIMIT_MEMLOCK is %llu bytes, below --max-locked-memory=%" PRIu64 "; keyd locks at "
                           "most %llu bytes.",
                           (unsigned long long) rl.rlim_cur, limit, (unsigned long long) rl.rlim_cur);
                limit = rl.rlim_cur;
                m->config.max_locked_memory = limit;
        }
        /* Before the device key is loaded: its bignums count like the rest. */
        secure_memory_set_limit((size_t) limit);

        chunks = (size_t) (m->config.n_workers + 1) * GMP_RESERVE_CHUNKS_PER_OPERATION;
        r = secure_memory_reserve(chunks);
        if (r < 0)
                return log_error_errno(r, "Failed to lock %zu bytes as the reserve for RSA operations (raise "
                                       "LimitMEMLOCK= or --max-locked-memory=): %m",
                                       chunks * SECURE_RESERVE_CHUNK);
        return 0;
}

int manager_start(Manager *m) {
        BackendConfig backend_config = {
                .state_dir = m->config.state_dir,
                .rsa_bits = m->config.rsa_bits,
                .protected_memory_size = m->config.max_surface_bytes_per_client,
                .render_node = m->config.render_node,
                .vpl_implementation = m->config.vpl_implementation,
        };
        int r;

        r = manager_setup_signals(m);
        if (r < 0)
                return r;

        r = bus_error_register_map();
        if (r < 0)
                return log_error_errno(r, "Failed to register keyd's D-Bus errors: %m");

        r = manager_setup_locked_memory(m);
        if (r < 0)
                return r;

        /* The bus first: a keyd that cannot serve must not make a device
         * key (an RSA key is seconds of work, and a key made into the wrong
         * state directory is a key to throw away). */
        r = manager_connect_bus(m);
        if (r < 0)
                return r;
        r = manager_check_name_free(m);
        if (r < 0)
                return r;

        r = backend_open(m->config.backend_type, &backend_config, &m->backend);
        if (r < 0)
                return r;  /* logged */

        if (m->config.n_workers > 0) {
                r = worker_pool_new(m->event, m->config.n_workers, &m->workers);
                if (r < 0)
                        return log_error_errno(r, "Failed to start %u worker threads: %m", m->config.n_workers);
        }

        r = manager_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register %s: %m", KEYD_MANAGER_PATH);
        r = session_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the session objects: %m");
        r = decoder_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the decoder objects: %m");
#ifdef KEYD_TEST_HOOKS
        r = test_hooks_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the test hooks: %m");
#endif

        /* Objects first, then the name: a caller who sees the name finds them. */
        r = sd_bus_request_name(m->bus, KEYD_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Another process already owns %s on this bus; is keyd running?",
                                       KEYD_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to own %s (check the bus policy "
                                       "/usr/share/dbus-1/system.d/org.keyd.KeyBroker1.conf): %m",
                                       KEYD_BUS_NAME);

        log_info("keyd %s serving %s on the %s bus with the %s backend.", KEYD_VERSION, KEYD_BUS_NAME,
                 m->config.bus_type == BUS_SYSTEM ? "system" : "session", m->backend->ops->name);
        (void) sd_notify(false, "READY=1");
        m->ready = true;
        manager_update_status(m);
        return 0;
}

/* At most this many bus messages per turn of the event loop while draining
 * on the way out, so that a flood of calls cannot keep the loop from
 * answering the watchdog (sd_event pings it between turns). */
#define IDLE_DRAIN_BATCH 64u

/* The name is given up: answer what is queued, a batch per turn, then
 * either go, or stay when one of those calls opened a session. */
static int on_idle_drain(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        int r = 1;

        for (unsigned i = 0; i < IDLE_DRAIN_BATCH && m->sessions.count == 0; i++) {
                r = sd_bus_process(m->bus, NULL);
                if (r <= 0)
                        break;
        }
        if (r > 0 && m->sessions.count == 0)
                return 0;  /* more queued: the loop comes round again (the source stays on) */

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);

        if (m->sessions.count > 0) {
                /* One of those calls opened a session: stay, and take the name back. */
                r = sd_bus_request_name(m->bus, KEYD_BUS_NAME, 0);
                if (r < 0)
                        return log_error_errno(r, "Failed to own %s again: %m", KEYD_BUS_NAME);
                return 0;
        }

        log_info("No crypto session open for %" PRIu64 " s; exiting until the bus activates keyd again.",
                 m->config.exit_idle_usec / 1000000u);
        (void) sd_notify(false, "STOPPING=1");
        sd_event_exit(m->event, 0);
        return 0;
}

static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        if (m->sessions.count > 0)
                return 0;

        /* Give up the name before going: a call made from now on makes the bus
         * activate keyd again instead of reaching one that is on its way out.
         * Calls already routed to us came before the reply to ReleaseName, so
         * they are in our queue: answer them first (on_idle_drain). */
        r = sd_bus_release_name(m->bus, KEYD_BUS_NAME);
        if (r < 0)
                log_warning_errno(r, "Failed to release %s before exiting on idle: %m", KEYD_BUS_NAME);

        if (!m->idle_drain) {
                r = sd_event_add_defer(m->event, &m->idle_drain, on_idle_drain, m);
                if (r < 0) {
                        log_error_errno(r, "Failed to drain the bus before exiting on idle: %m");
                        sd_event_exit(m->event, r);
                        return 0;
                }
        }
        r = sd_event_source_set_enabled(m->idle_drain, SD_EVENT_ON);
        if (r < 0) {
                log_error_errno(r, "Failed to drain the bus before exiting on idle: %m");
                sd_event_exit(m->event, r);
        }
        return 0;
}

/* Armed from the moment the last session closes; disarmed while any is open. */
static void manager_arm_idle(Manager *m) {
        int r;

        if (m->config.exit_idle_usec == 0)
                return;

        if (m->sessions.count > 0) {
                (void) sd_event_source_set_enabled(m->idle_timer, SD_EVENT_OFF);
                return;
        }

        if (m->idle_timer) {
                r = sd_event_source_set_time_relative(m->idle_timer, m->config.exit_idle_usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(m->idle_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(m->event, &m->idle_timer, CLOCK_MONOTONIC,
                                               m->config.exit_idle_usec, 0, on_idle, m);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the idle timer; keyd will not exit on idle: %m");
}

void manager_update_status(Manager *m) {
        /* Nothing to tell before READY=1, nor while everything is torn down. */
        if (!m->ready || sd_event_get_state(m->event) == SD_EVENT_FINISHED)
                return;

        (void) sd_notifyf(false, "STATUS=Serving with the %s backend; %zu crypto session(s) open.",
                          m->backend->ops->name, m->sessions.count);
        /* Only a change is news: a signal at start would reach a watcher that
         * subscribed after it saw the name, racing with keyd's first flush. */
        if (m->sessions.count != m->announced_session_count) {
                m->announced_session_count = m->sessions.count;
                manager_bus_emit_session_count(m);
        }
        manager_arm_idle(m);
}

int manager_run(Manager *m) {
        /* The exit code handed to sd_event_exit(); causes are logged where they happen. */
        return sd_event_loop(m->event);
}
