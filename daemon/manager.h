/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's top-level state: the bus connection, the event loop, the
 * backend, and the tables of sessions and clients. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "backend/backend.h"
#include "session/session-table.h"
#include "work/worker-pool.h"

#define KEYD_BUS_NAME "org.keyd.KeyBroker1"
#define KEYD_MANAGER_PATH "/org/keyd/KeyBroker1"
#define KEYD_SESSION_PATH_PREFIX "/org/keyd/KeyBroker1/session"
#define KEYD_MANAGER_INTERFACE "org.keyd.KeyBroker1.Manager"
#define KEYD_SESSION_INTERFACE "org.keyd.KeyBroker1.CryptoSession"

typedef enum BusType {
        BUS_SYSTEM,
        BUS_SESSION,
} BusType;

typedef struct ManagerConfig {
        BusType bus_type;
        BackendType backend_type;
        const char *render_node;         /* vpl: --render-node=, NULL for the first Intel one */
        const char *vpl_implementation;  /* vpl: --vpl-implementation=, NULL for any */
        char *state_dir;
        unsigned rsa_bits;
        unsigned max_sessions_per_client;
        unsigned max_sessions;
        uint64_t max_surface_bytes_per_client;  /* protected memory per connection, whole pages */
        unsigned max_sessions_per_user;
        uint64_t max_memory_per_user;    /* surfaces and unclosed read-back memfds of one uid */
        uint64_t max_locked_memory;      /* everything keyd locks, in all */
        uint64_t key_refresh_timeout_usec;
        unsigned n_workers;              /* RSA worker threads; 0 = on the bus thread */
        unsigned max_queued_per_client;  /* key exchanges waiting or running per client */
        uint64_t exit_idle_usec;         /* exit after this long with no session open; 0 = never */
        const char *decoder_helper;      /* keyd-decoder: --decoder-helper=, default KEYD_DECODER_PATH */
        uint64_t decoder_deadline_usec;  /* a helper that takes longer for one request is killed */
        unsigned max_decoders_per_client;
        unsigned max_decoder_width, max_decoder_height;
        uint64_t max_sample_size;        /* bytes of one compressed sample */
        uint64_t decoder_memory_limit;   /* RLIMIT_AS of each helper */
        unsigned decoder_threads;        /* libavcodec threads per decoder; 0 = one per CPU, at most 16 */
} ManagerConfig;

#define DEFAULT_MAX_SESSIONS_PER_CLIENT 256u
#define DEFAULT_MAX_SESSIONS 16384u
#define DEFAULT_MAX_SURFACE_BYTES_PER_CLIENT (256ull * 1024 * 1024)
#define DEFAULT_MAX_SESSIONS_PER_USER 4096u
#define DEFAULT_MAX_MEMORY_PER_USER (512ull * 1024 * 1024)
/* systemd/keyd.service.in sets LimitMEMLOCK= and MemoryMax= from this. */
#define DEFAULT_MAX_LOCKED_MEMORY (1024ull * 1024 * 1024)
#define DEFAULT_RSA_BITS 2048u
#define DEFAULT_MAX_QUEUED_PER_CLIENT 64u
#define DEFAULT_DECODER_DEADLINE_USEC (5ull * 1000 * 1000)
#define DEFAULT_MAX_DECODERS_PER_CLIENT 4u
#define DEFAULT_MAX_DECODER_WIDTH 4096u
#define DEFAULT_MAX_DECODER_HEIGHT 2304u
/* The largest `ay`; bigger samples come through DecodeSampleFd. */
#define DEFAULT_MAX_SAMPLE_SIZE (16ull * 1024 * 1024)
#define DEFAULT_DECODER_MEMORY_LIMIT (4ull * 1024 * 1024 * 1024)
/* A key refresh not finished within this time is abandoned: the key is lost. */
#define DEFAULT_KEY_REFRESH_TIMEOUT_USEC (30ull * 1000 * 1000)

typedef struct Client Client;

typedef struct Manager {
        ManagerConfig config;

        sd_event *event;
        sd_bus *bus;
        Backend *backend;
        WorkerPool *workers;

        SessionTable sessions;
        void *clients;                 /* tsearch tree of Client, by unique bus name */
        void *user_accounts;           /* tsearch tree of UserAccount, by uid */
        void *readbacks;               /* tsearch tree of ReadbackMemfd, by inotify watch */
        unsigned n_readbacks;
        uint64_t readback_bytes;       /* their pages, at most config.max_locked_memory */
        int readback_inotify_fd;
        sd_event_source *readback_inotify_source;
        unsigned n_clients;

        sd_bus_slot *manager_vtable_slot;
        sd_bus_slot *session_vtable_slot;
        sd_bus_slot *session_enumerator_slot;
        sd_bus_slot *decoder_vtable_slot;
        sd_bus_slot *decoder_enumerator_slot;
        struct DecoderReaper *decoder_reapers;  /* killed helpers not reaped yet */
        sd_bus_slot *disconnect_slot;
        sd_event_source *idle_timer;   /* --exit-idle-time, armed while no session is open */
        sd_event_source *idle_drain;   /* on while answering the last calls before the idle exit */
        bool ready;                    /* READY=1 sent: the name is ours */
        size_t announced_session_count; /* the SessionCount watchers last heard of */
} Manager;

int manager_new(const ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
/* Open the backend, connect to the bus, register the objects, take the name. */
int manager_start(Manager *m);
int manager_run(Manager *m);
/* Tell systemd (STATUS=) how many sessions are open and arm or disarm the
 * idle exit; called whenever a session is created or destroyed. */
void manager_update_status(Manager *m);

static inline void manager_freep(Manager **m) {
        manager_free(*m);
}
