/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer harness for keyd's method handlers, driven with arbitrary
 * messages over an in-process sd-bus pair.
 *
 * One process holds both ends of a socketpair. On one end keyd's own
 * Manager (the real daemon sources, all but main.c, with the software
 * backend and a device key generated once into a temporary directory)
 * registers its manager and session vtables and serves, on a thread of its
 * own, exactly as on the system bus (it is a bus client: Hello, AddMatch,
 * GetConnectionCredentials...). The other end plays the bus daemon: it
 * answers those calls, stands for three pretend client connections (the
 * sender of each message), sends NameOwnerChanged when one of them
 * disconnects (which makes keyd destroy its sessions), and sends what the
 * fuzz input describes, built by the same message builder as the bus-level
 * fuzz client (bus-message-builder.c).
 *
 * keyd needs the other end to answer while one of its handlers waits for
 * the bus (GetConnectionCredentials is a synchronous call), hence the
 * thread. Everything still happens in one order: one socket, and after each
 * operation the harness waits for keyd to answer a Ping sent behind it.
 *
 * Besides ASan/UBSan/LSan, each input checks that every keyd error reply
 * follows the contract's "0xHRESULT: sentence" form, that keyd answers at
 * all (no hang), and that once all clients are gone no session, client or
 * byte of locked memory is left (locked memory is keyd's own allocator,
 * which LeakSanitizer cannot see). Key exchanges run on keyd's bus thread
 * (no worker pool) so that every run of an input is the same. */

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.h"
#include "bus-message-builder.h"
#include "bus/bus-error.h"
#include "bus/bus-objects.h"
#include "device-key.h"
#include "fuzz.h"
#include "log.h"
#include "manager.h"
#include "rsa-oaep.h"
#include "secure-memory.h"
#include "session/client.h"

#define MAX_OPS 48
#define MAX_PATHS 16
#define N_CLIENTS 3
/* keyd answers everything at once; this only catches a hang. */
#define ANSWER_TIMEOUT_USEC (20ULL * 1000 * 1000)

static Manager *manager;
static DeviceKey *device_key;   /* a second copy of the device key, for wrapping session keys */
static char state_dir[] = "/tmp/keyd-fuzz-bus-XXXXXX";
static size_t secure_baseline;
static bool verbose;            /* KEYD_FUZZ_LOG: keyd's log and every reply on stderr */

typedef struct Fuzz Fuzz;

typedef struct Pending {
        Fuzz *fuzz;
        bool is_create;
        char member[64];
} Pending;

/* A pretend client connection. A disconnected one comes back under a new
 * unique name, as a new connection would. */
typedef struct PretendClient {
        char name[32];
        unsigned generation;
        bool connected;
} PretendClient;

struct Fuzz {
        FuzzInput in;
        sd_bus *bus;            /* our end: the bus daemon and the clients */
        sd_bus *keyd_bus;       /* keyd's end, used by the keyd thread only while it runs */
        pthread_t keyd_thread;
        int wake_fd;
        atomic_bool quit;
        PretendClient clients[N_CLIENTS];
        char *paths[MAX_PATHS];
        size_t n_paths;
        Pending pending[MAX_OPS];
        size_t n_pending;
        bool ping_answered;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void cleanup(void) {
        device_key = device_key_free(device_key);
        manager = manager_free(manager);
        (void) nftw(state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        ManagerConfig config = {
                .bus_type = BUS_SYSTEM,
                .backend_type = BACKEND_SOFTWARE,
                .state_dir = state_dir,
                .rsa_bits = 2048,
                /* Small limits, so that inputs reach them. */
                .max_sessions_per_client = 3,
                .max_sessions = 5,
                .max_surface_bytes_per_client = 64 * 1024,
                .max_sessions_per_user = 4,
                .max_memory_per_user = 96 * 1024,
                .max_locked_memory = 64 * 1024 * 1024,
                .key_refresh_timeout_usec = 30 * 1000 * 1000,
                .n_workers = 0,
                .max_queued_per_client = 4,
        };
        BackendConfig backend_config = {
                .state_dir = state_dir,
                .rsa_bits = 2048,
                .protected_memory_size = config.max_surface_bytes_per_client,
        };
        _cleanup_free_ char *message = NULL;

        verbose = getenv("KEYD_FUZZ_LOG");
        if (!verbose)
                log_set_max_level(LOG_CRIT);
        /* As keyd's main() does: bignums in locked memory. */
        secure_memory_install_gmp();

        FUZZ_CHECK(mkdtemp(state_dir));
        atexit(cleanup);
        FUZZ_CHECK(manager_new(&config, &manager) >= 0);
        FUZZ_CHECK(bus_error_register_map() >= 0);
        FUZZ_CHECK(backend_open(BACKEND_SOFTWARE, &backend_config, &manager->backend) >= 0);
        FUZZ_CHECK(device_key_load_or_create(state_dir, 2048, &device_key, &message) >= 0);

        secure_baseline = secure_memory_in_use();
        return 0;
}

static void fill_from_input(void *userdata, void *buf, size_t n) {
        FuzzInput *in = userdata;
        uint8_t *p = buf;

        for (size_t i = 0; i < n; i++)
                p[i] = fuzz_u8(in);
}

static void input_random(void *ctx, size_t n, uint8_t *dst) {
        fill_from_input(ctx, dst, n);
}

/* ---- the bus daemon's part ---- */

static PretendClient *client_by_name(Fuzz *f, const char *name) {
        for (size_t i = 0; i < N_CLIENTS; i++)
                if (f->clients[i].connected && streq(f->clients[i].name, name))
                        return &f->clients[i];
        return NULL;
}

static int reply_no_owner(sd_bus_message *m, const char *name) {
        return sd_bus_reply_method_errorf(m, "org.freedesktop.DBus.Error.NameHasNoOwner",
                                          "Could not get owner of name '%s': no such name", name);
}

static int bus_hello(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", ":1.0");
}

static int bus_match(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, NULL);
}

static int bus_get_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fuzz *f = userdata;
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        if (!client_by_name(f, name))
                return reply_no_owner(m, name);
        return sd_bus_reply_method_return(m, "s", name);
}

static int bus_get_credentials(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Fuzz *f = userdata;
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        if (!client_by_name(f, name))
                return reply_no_owner(m, name);
        /* Every pretend client is this process. */
        return sd_bus_reply_method_return(m, "a{sv}", 2, "UnixUserID", "u", (uint32_t) getuid(), "ProcessID", "u",
                                          (uint32_t) getpid());
}

static const sd_bus_vtable bus_daemon_vtable[] = {
        SD_BUS_VTABLE_START(SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Hello", "", "s", bus_hello, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("AddMatch", "s", "", bus_match, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RemoveMatch", "s", "", bus_match, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetNameOwner", "s", "s", bus_get_name_owner, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetConnectionCredentials", "s", "a{sv}", bus_get_credentials, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

/* ---- keyd's thread ---- */

static void *keyd_thread(void *userdata) {
        Fuzz *f = userdata;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = sd_bus_get_fd(f->keyd_bus), .events = (short) sd_bus_get_events(f->keyd_bus) },
                        { .fd = f->wake_fd, .events = POLLIN },
                };
                int r = sd_bus_process(f->keyd_bus, NULL);

                if (r < 0 || atomic_load(&f->quit))
                        break;
                if (r > 0)
                        continue;
                if (poll(p, 2, 1000) < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
        }
        return NULL;
}

/* ---- the clients' part ---- */

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Pending *p = userdata;
        Fuzz *f = p->fuzz;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *path;

        if (verbose)
                fprintf(stderr, "reply to %s: %s %s\n", p->member, e ? e->name : "ok", e ? e->message : "");
        if (e) {
                FUZZ_CHECK(builder_error_is_well_formed(e));
                return 0;
        }
        if (p->is_create && f->n_paths < MAX_PATHS && sd_bus_message_read(reply, "o", &path) > 0) {
                f->paths[f->n_paths] = strdup(path);
                FUZZ_CHECK(f->paths[f->n_paths]);
                f->n_paths++;
        }
        return 0;
}

static int on_ping_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Fuzz *f = userdata;

        FUZZ_CHECK(!sd_bus_message_is_method_error(reply, NULL));
        f->ping_answered = true;
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* Wait until keyd has handled everything sent so far: it answers in order,
 * so when it answers a Ping sent last, every earlier reply has arrived. */
static void settle(Fuzz *f) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        uint64_t deadline = now_usec() + ANSWER_TIMEOUT_USEC;

        FUZZ_CHECK(sd_bus_message_new_method_call(f->bus, &m, KEYD_BUS_NAME, "/", "org.freedesktop.DBus.Peer",
                                                  "Ping") >= 0);
        f->ping_answered = false;
        FUZZ_CHECK(sd_bus_call_async(f->bus, NULL, m, on_ping_reply, f, 0) >= 0);

        while (!f->ping_answered) {
                int r = sd_bus_process(f->bus, NULL);
                FUZZ_CHECK(r >= 0);
                if (r > 0)
                        continue;
                /* keyd not answering at all is a finding: a hang. */
                FUZZ_CHECK(now_usec() < deadline);
                (void) sd_bus_wait(f->bus, 100 * 1000);
        }
}

static PretendClient *pick_client(Fuzz *f) {
        PretendClient *c = &f->clients[fuzz_u8(&f->in) % N_CLIENTS];

        if (!c->connected) {
                /* A new connection of this pretend client: a new unique name. */
                snprintf(c->name, sizeof(c->name), ":1.%u", 1 + (unsigned) (c - f->clients) + N_CLIENTS * c->generation);
                c->connected = true;
        }
        return c;
}

static void send_call(Fuzz *f, sd_bus_message *m, bool is_create) {
        /* One of the pretend clients, and now and then a message without a sender. */
        bool anonymous = fuzz_u8(&f->in) % 8 == 7;
        Pending *p;

        FUZZ_CHECK(sd_bus_message_set_sender(m, anonymous ? NULL : pick_client(f)->name) >= 0 || anonymous);
        if (f->n_pending >= MAX_OPS)
                return;
        p = &f->pending[f->n_pending++];
        *p = (Pending) { .fuzz = f, .is_create = is_create };
        snprintf(p->member, sizeof(p->member), "%s", sd_bus_message_get_member(m) ?: "?");
        if (verbose)
                fprintf(stderr, "call %s %s.%s(%s) from %s\n", sd_bus_message_get_path(m),
                        sd_bus_message_get_interface(m) ?: "-", p->member, sd_bus_message_get_signature(m, true),
                        sd_bus_message_get_sender(m) ?: "-");
        FUZZ_CHECK(sd_bus_call_async(f->bus, NULL, m, on_reply, p, 0) >= 0);
}

static void op_random_call(Fuzz *f) {
        ByteSource src = { fill_from_input, &f->in };
        BuilderConfig config = {
                .paths = (const char *const *) f->paths,
                .n_paths = f->n_paths,
                .allow_huge = false,
        };
        BuiltCall call;

        FUZZ_CHECK(builder_new_call(f->bus, KEYD_BUS_NAME, &src, &config, &call) >= 0);
        if (!call.message)
                return;
        send_call(f, call.message, call.is_create);
        sd_bus_message_unref(call.message);
}

static void op_create_session(Fuzz *f) {
        static const char *const exchanges[] = {
                "c1949895-d72a-4a1d-8e5d-ed857d171520",
                "b0a11c63-be8b-47a7-a4c1-6d05594ed9d2",
                "08067281-bc1f-40f8-8c01-7bd2b010caff",
                "b1170d8a-628d-4da3-ad3b-82ddb08b4970",
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        FUZZ_CHECK(sd_bus_message_new_method_call(f->bus, &m, KEYD_BUS_NAME, KEYD_MANAGER_PATH,
                                                  KEYD_MANAGER_INTERFACE, "CreateCryptoSession") >= 0);
        FUZZ_CHECK(sd_bus_message_append(m, "sss", "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f",
                                         "1b81be68-a0c7-11d3-b984-00c04f2e73c5",
                                         exchanges[fuzz_u8(&f->in) % 4]) >= 0);
        send_call(f, m, true);
}

/* A session key wrapped as the contract says, with one of the three hashes
 * (the session's own, or not). */
static void op_negotiate(Fuzz *f) {
        static const OaepParams params[] = {
                { OAEP_HASH_SHA512, OAEP_HASH_SHA512, NULL, 0 },
                { OAEP_HASH_SHA256, OAEP_HASH_SHA256, NULL, 0 },
                { OAEP_HASH_SHA1, OAEP_HASH_SHA1, NULL, 0 },
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        uint8_t key[16], ct[512];
        const char *path;

        if (f->n_paths == 0)
                return;
        path = f->paths[fuzz_u8(&f->in) % f->n_paths];
        fill_from_input(&f->in, key, sizeof(key));
        FUZZ_CHECK(rsa_oaep_encrypt(&device_key->pub, &params[fuzz_u8(&f->in) % 3], &f->in, input_random, key,
                                    sizeof(key), ct, device_key->pub.size) == 0);

        FUZZ_CHECK(sd_bus_message_new_method_call(f->bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                  "NegotiateCryptoSessionKeyExchange") >= 0);
        FUZZ_CHECK(sd_bus_message_append_array(m, 'y', ct, device_key->pub.size) >= 0);
        send_call(f, m, false);
}

/* What the bus daemon says when a client's connection goes away. */
static void disconnect_client(Fuzz *f, PretendClient *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        if (!c->connected)
                return;
        FUZZ_CHECK(sd_bus_message_new_signal(f->bus, &m, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                             "NameOwnerChanged") >= 0);
        FUZZ_CHECK(sd_bus_message_append(m, "sss", c->name, c->name, "") >= 0);
        FUZZ_CHECK(sd_bus_send(f->bus, m, NULL) >= 0);
        c->connected = false;
        c->generation++;
}

static void op_disconnect(Fuzz *f) {
        disconnect_client(f, &f->clients[fuzz_u8(&f->in) % N_CLIENTS]);
}

static void connect_pair(Fuzz *f) {
        const sd_id128_t id = SD_ID128_MAKE(6b, 65, 79, 64, 66, 75, 7a, 7a, 62, 75, 73, 6d, 65, 74, 68, 73);
        int fds[2];

        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);

        /* Our end is the bus: the server side of the authentication, the
         * sender of its own messages (org.freedesktop.DBus) unless a message
         * names a pretend client. */
        FUZZ_CHECK(sd_bus_new(&f->bus) >= 0);
        FUZZ_CHECK(sd_bus_set_fd(f->bus, fds[0], fds[0]) >= 0);
        FUZZ_CHECK(sd_bus_set_server(f->bus, true, id) >= 0);
        FUZZ_CHECK(sd_bus_set_sender(f->bus, "org.freedesktop.DBus") >= 0);
        FUZZ_CHECK(sd_bus_negotiate_fds(f->bus, true) >= 0);
        FUZZ_CHECK(sd_bus_add_object_vtable(f->bus, NULL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                            bus_daemon_vtable, f) >= 0);
        FUZZ_CHECK(sd_bus_start(f->bus) >= 0);

        /* keyd's end, a bus client as on the system bus. */
        FUZZ_CHECK(sd_bus_new(&f->keyd_bus) >= 0);
        FUZZ_CHECK(sd_bus_set_fd(f->keyd_bus, fds[1], fds[1]) >= 0);
        FUZZ_CHECK(sd_bus_set_bus_client(f->keyd_bus, true) >= 0);
        FUZZ_CHECK(sd_bus_negotiate_fds(f->keyd_bus, true) >= 0);
        FUZZ_CHECK(sd_bus_start(f->keyd_bus) >= 0);

        /* Authentication and Hello, before anything else reaches keyd. */
        while (sd_bus_is_ready(f->keyd_bus) <= 0) {
                FUZZ_CHECK(sd_bus_process(f->keyd_bus, NULL) >= 0);
                FUZZ_CHECK(sd_bus_process(f->bus, NULL) >= 0);
        }

        /* keyd's objects, as manager_start() registers them. */
        manager->bus = sd_bus_ref(f->keyd_bus);
        FUZZ_CHECK(manager_bus_register(manager) >= 0);
        FUZZ_CHECK(session_bus_register(manager) >= 0);

        f->wake_fd = eventfd(0, EFD_CLOEXEC);
        FUZZ_CHECK(f->wake_fd >= 0);
        FUZZ_CHECK(pthread_create(&f->keyd_thread, NULL, keyd_thread, f) == 0);
}

static void stop_keyd_thread(Fuzz *f) {
        uint64_t one = 1;

        atomic_store(&f->quit, true);
        FUZZ_CHECK(write(f->wake_fd, &one, sizeof(one)) == sizeof(one));
        FUZZ_CHECK(pthread_join(f->keyd_thread, NULL) == 0);
        close(f->wake_fd);
}

static void disconnect_pair(Fuzz *f) {
        /* Whatever the pretend clients left behind goes, as when keyd exits. */
        client_free_all(manager);
        manager->manager_vtable_slot = sd_bus_slot_unref(manager->manager_vtable_slot);
        manager->session_vtable_slot = sd_bus_slot_unref(manager->session_vtable_slot);
        manager->session_enumerator_slot = sd_bus_slot_unref(manager->session_enumerator_slot);
        manager->bus = sd_bus_unref(manager->bus);

        f->keyd_bus = sd_bus_flush_close_unref(f->keyd_bus);
        f->bus = sd_bus_flush_close_unref(f->bus);
        for (size_t i = 0; i < f->n_paths; i++)
                free(f->paths[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Fuzz f = { .in = { data, size, 0 } };

        connect_pair(&f);

        for (unsigned op = 0; op < MAX_OPS && fuzz_remaining(&f.in) > 0; op++) {
                switch (fuzz_u8(&f.in) % 16) {
                case 0 ... 9:
                        op_random_call(&f);
                        break;
                case 10:
                case 11:
                        op_create_session(&f);
                        break;
                case 12:
                        op_negotiate(&f);
                        break;
                case 13:
                        op_disconnect(&f);
                        break;
                default:
                        break;
                }
                /* Replies (and so the session paths) arrive as keyd answers. */
                settle(&f);
        }

        /* Every client goes away; keyd must destroy all their sessions by itself. */
        for (size_t i = 0; i < N_CLIENTS; i++)
                disconnect_client(&f, &f.clients[i]);
        settle(&f);
        stop_keyd_thread(&f);

        FUZZ_CHECK(manager->sessions.count == 0);
        FUZZ_CHECK(manager->n_clients == 0);

        disconnect_pair(&f);

        /* Nothing may outlive the clients, not even a block of locked memory
         * (keyd's own allocator, which LeakSanitizer cannot see). */
        FUZZ_CHECK(secure_memory_in_use() == secure_baseline);
        return 0;
}
