/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A backend plays the GPU driver's part: it answers capability queries and
 * holds the per-session secrets. keyd has two: "software" (a reference
 * implementation in the daemon's own locked memory) and "vpl" (Intel GPU
 * protected sessions through oneVPL and VA-API). The bus layer talks only
 * to this interface. Errors are negative errno with a sentence in
 * sd_bus_error, built with bus_error_setf() (daemon/bus/bus-error.h). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "guid.h"

typedef struct Backend Backend;
typedef struct Session Session;

typedef enum BackendType {
        BACKEND_AUTO,
        BACKEND_SOFTWARE,
        BACKEND_VPL,
        _BACKEND_TYPE_MAX,
        _BACKEND_TYPE_INVALID = -EINVAL,
} BackendType;

typedef struct BackendCaps {
        uint32_t caps;                  /* KEYD_CONTENT_PROTECTION_CAPS_* */
        uint32_t key_exchange_type_count;
        uint32_t block_alignment_size;
        uint64_t protected_memory_size;
} BackendCaps;

typedef struct BackendConfig {
        const char *state_dir;
        unsigned rsa_bits;
        uint64_t protected_memory_size;  /* per-client surface quota, reported in caps */
} BackendConfig;

typedef struct BackendOps {
        const char *name;

        void (*free)(Backend *b);

        /* crypto_type / profile are NULL for "none" (the empty string). */
        int (*get_caps)(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                        BackendCaps *ret, sd_bus_error *error);
        int (*get_key_exchange)(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                                uint32_t index, KeyExchange *ret, sd_bus_error *error);
        /* 0 when the combination can be served, -EPROTONOSUPPORT when it is known but not here. */
        int (*check_support)(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                             KeyExchange key_exchange, sd_bus_error *error);
        int (*get_private_data_size)(Backend *b, KeyExchange key_exchange,
                                     uint32_t *ret_input, uint32_t *ret_output, sd_bus_error *error);

        /* Per-session state: called when a session is created / destroyed.
         * session_close wipes every secret the session held. */
        int (*session_open)(Backend *b, Session *s, sd_bus_error *error);
        void (*session_close)(Backend *b, Session *s);

        /* The DER certificate shared by every session of this device. */
        int (*get_certificate)(Backend *b, Session *s, const uint8_t **ret, size_t *ret_size,
                               sd_bus_error *error);

        /* RSAES-OAEP key exchange: data is the wrapped session key. On success the
         * session holds the new session key and a fresh read-back key. */
        int (*negotiate)(Backend *b, Session *s, const uint8_t *data, size_t size,
                         sd_bus_error *error);
} BackendOps;

struct Backend {
        const BackendOps *ops;
        BackendType type;
};

/* Open the backend the configuration asks for. For BACKEND_AUTO, vpl when an
 * Intel runtime with protected content is found, else software (the log says
 * why). */
int backend_open(BackendType type, const BackendConfig *config, Backend **ret);
Backend *backend_free(Backend *b);

const char *backend_type_to_string(BackendType t);
BackendType backend_type_from_string(const char *s);

int software_backend_open(const BackendConfig *config, Backend **ret);

static inline void backend_freep(Backend **b) {
        backend_free(*b);
}
