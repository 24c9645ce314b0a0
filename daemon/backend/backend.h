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

#include "aes-ctr.h"
#include "guid.h"

typedef struct Backend Backend;
typedef struct Session Session;
typedef struct Surface Surface;

/* ExecuteHWProtectionFunction's arguments and results (contract section 4). */
typedef struct HwProtectionCall {
        uint32_t function_id;
        uint32_t private_data_size;   /* bytes of driver-private data at the start of input */
        const uint8_t *input;
        size_t input_size;
        uint32_t max_output_size;
} HwProtectionCall;

typedef struct HwProtectionResult {
        uint32_t private_data_size;
        uint32_t hw_protection_data_size;
        uint64_t execution_time_100ns;
        uint8_t *output;              /* malloc'd; output_size bytes */
        size_t output_size;
        int32_t status;               /* HRESULT of the function itself */
} HwProtectionResult;

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
        const char *render_node;         /* vpl: the DRM render node, NULL for the first Intel one */
        const char *vpl_implementation;  /* vpl: oneVPL implementation name filter (tests), or NULL */
} BackendConfig;

/* DecryptionBlt's ciphertext: in memory (the ay form, fd -1), or in a
 * sealed memfd that memfd_check_sealed_layout() checked (the Fd form, data
 * NULL). A backend reads the memfd itself, in pieces, with memfd_read_at():
 * straight into the surface, each piece decrypted in place while it is
 * still in the cache, and no mapping of the client's file to fault in and
 * tear down. It also checks the memfd for holes (memfd_check_no_holes(),
 * beside the decryption), and on a hole fails and wipes what it wrote. */
typedef struct WorkerPool WorkerPool;

typedef struct BltInput {
        const uint8_t *data;
        int fd;
        size_t size;
        /* Free workers that may take pieces of a large blt, or NULL. */
        WorkerPool *helpers;
} BltInput;

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

        /* Optional split of negotiate() for backends whose unwrap is pure
         * computation, so that it can run on a worker thread (daemon/work/):
         * negotiate_check (event loop thread) checks the data's size;
         * unwrap_key (any thread, touches no session) returns 0 with the key or
         * -EBADMSG for every ciphertext that does not carry a 16-byte key;
         * install_key (event loop thread) makes it the session's key. */
        int (*negotiate_check)(Backend *b, Session *s, size_t size, sd_bus_error *error);
        int (*unwrap_key)(Backend *b, KeyExchange key_exchange, const uint8_t *data, size_t size,
                          uint8_t key[AES_CTR_KEY_SIZE]);
        int (*install_key)(Backend *b, Session *s, const uint8_t key[AES_CTR_KEY_SIZE], sd_bus_error *error);

        /* The data path. The session layer has already checked ownership, the
         * key-exchange type, that a key is present and the argument sizes. */
        int (*start_key_refresh)(Backend *b, Session *s, uint8_t random[AES_CTR_KEY_SIZE],
                                 sd_bus_error *error);
        int (*finish_key_refresh)(Backend *b, Session *s, sd_bus_error *error);
        /* Forget the session key and the read-back key (status KEY_LOST). */
        void (*drop_key)(Backend *b, Session *s);
        int (*get_encryption_blt_key)(Backend *b, Session *s, uint8_t out[AES_CTR_KEY_SIZE],
                                      sd_bus_error *error);
        /* content_key: 16 bytes as the client sent them, the content key
         * encrypted with the session key (D3D11); the backend decrypts it.
         * NULL: the session key decrypts. in->size <= surface->size. */
        int (*decryption_blt)(Backend *b, Session *s, Surface *surface, const BltInput *in,
                              const EncryptedBlockInfo *info, const uint8_t *content_key,
                              const uint8_t iv[AES_CTR_IV_SIZE], sd_bus_error *error);
        /* out receives surface->size bytes: the ay reply's buffer, or the
         * client's destination memfd mapped (EncryptionBltToFd). */
        int (*encryption_blt)(Backend *b, Session *s, Surface *surface, const uint8_t iv[AES_CTR_IV_SIZE],
                              uint8_t *out, sd_bus_error *error);
        int (*execute_hw_protection)(Backend *b, Session *s, const HwProtectionCall *call,
                                     HwProtectionResult *ret, sd_bus_error *error);

        /* Protected decode (daemon/decode/). A backend that cannot decode
         * says why here (CreateVideoDecoder answers Unsupported with it) and
         * has no decrypt_sample. */
        const char *no_decode_reason;
        /* Decrypt one CENC ('cenc', AES-128-CTR) sample of size bytes from
         * src into dst (locked memory): the (clear, encrypted) pairs of
         * subsamples (n of them, covering size exactly; none: all of it
         * encrypted) with one keystream over the encrypted ranges, from the
         * 16-byte counter block iv. content_key as for decryption_blt. The
         * caller checked the session key is live. */
        int (*decrypt_sample)(Backend *b, Session *s, const uint8_t *content_key,
                              const uint8_t iv[AES_CTR_IV_SIZE], const uint32_t *subsamples, size_t n,
                              const uint8_t *src, size_t size, uint8_t *dst, sd_bus_error *error);
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
