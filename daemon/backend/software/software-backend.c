/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The software backend: a complete reference implementation of the D3D11
 * crypto-session model in the daemon's own locked memory. One RSA device
 * key (crypto/device-key.c) plays the GPU's certificate; each session's
 * secrets live in a SessionSecrets block from secure memory. */

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "bus/bus-error.h"
#include "crypto/device-key.h"
#include "log.h"
#include "secure-memory.h"
#include "session/session-negotiate.h"
#include "session/session.h"
#include "software-data.h"
#include "software-secrets.h"
#include "test-hooks.h"

#define SOFTWARE_CAPS                                                                            \
        (KEYD_CONTENT_PROTECTION_CAPS_SOFTWARE | KEYD_CONTENT_PROTECTION_CAPS_PARTIAL_DECRYPTION | \
         KEYD_CONTENT_PROTECTION_CAPS_CONTENT_KEY | KEYD_CONTENT_PROTECTION_CAPS_FRESHEN_SESSION_KEY | \
         KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK |                                      \
         KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK_KEY |                                  \
         KEYD_CONTENT_PROTECTION_CAPS_DECRYPTION_BLT)

#define SOFTWARE_BLOCK_ALIGNMENT 16u

/* The key exchanges this backend offers, in CheckCryptoKeyExchange order. */
static const KeyExchange software_key_exchanges[] = {
        KEY_EXCHANGE_RSAES_OAEP_SHA512,
        KEY_EXCHANGE_RSAES_OAEP_SHA256,
        KEY_EXCHANGE_RSAES_OAEP_SHA1,
        KEY_EXCHANGE_HW_PROTECTION,
};

typedef struct SoftwareBackend {
        Backend backend;
        DeviceKey *key;
        uint64_t protected_memory_size;
} SoftwareBackend;

static SoftwareBackend *software(Backend *b) {
        return (SoftwareBackend *) b;
}

static void software_free(Backend *b) {
        SoftwareBackend *sb = software(b);

        device_key_free(sb->key);
        free(sb);
}

static int software_get_caps(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                             BackendCaps *ret, sd_bus_error *error) {
        SoftwareBackend *sb = software(b);

        if (!crypto_type) {
                /* No encryption: the device still offers protected (software) memory,
                 * but there is nothing to exchange keys for. */
                *ret = (BackendCaps) {
                        .caps = KEYD_CONTENT_PROTECTION_CAPS_SOFTWARE,
                        .key_exchange_type_count = 0,
                        .block_alignment_size = 1,
                        .protected_memory_size = sb->protected_memory_size,
                };
                return 0;
        }

        *ret = (BackendCaps) {
                .caps = SOFTWARE_CAPS,
                .key_exchange_type_count = ELEMENTSOF(software_key_exchanges),
                .block_alignment_size = SOFTWARE_BLOCK_ALIGNMENT,
                .protected_memory_size = sb->protected_memory_size,
        };
        return 0;
}

static int software_get_key_exchange(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                                     uint32_t index, KeyExchange *ret, sd_bus_error *error) {
        if (index >= ELEMENTSOF(software_key_exchanges))
                return bus_error_setf(error, -EINVAL,
                                      "index %" PRIu32 " is out of range; this device offers %zu key "
                                      "exchange types, index 0 to %zu",
                                      index, ELEMENTSOF(software_key_exchanges),
                                      ELEMENTSOF(software_key_exchanges) - 1);
        *ret = software_key_exchanges[index];
        return 0;
}

static int software_check_support(Backend *b, const keyd_guid *crypto_type, const keyd_guid *profile,
                                  KeyExchange key_exchange, sd_bus_error *error) {
        /* The software backend serves every crypto type, profile and key
         * exchange keyd knows: it brokers keys and decodes nothing itself. */
        return 0;
}

static int software_get_private_data_size(Backend *b, KeyExchange key_exchange, uint32_t *ret_input,
                                          uint32_t *ret_output, sd_bus_error *error) {
        /* No driver-private header precedes the data of any exchange here. */
        *ret_input = 0;
        *ret_output = 0;
        return 0;
}

static int software_session_open(Backend *b, Session *s, sd_bus_error *error) {
        SessionSecrets *secrets;

        /* No RSA operation, no disk access: sessions are cheap. */
        secrets = secure_alloc(sizeof(SessionSecrets));
        if (!secrets)
                return bus_error_setf(error, -ENOMEM,
                                      "cannot allocate locked memory for the session's keys (%m); raise "
                                      "keyd's memory lock limit (LimitMEMLOCK=)");
        s->backend_data = secrets;
        return 0;
}

static void software_session_close(Backend *b, Session *s) {
        /* secure_free wipes the session key, the read-back key and all else. */
#ifdef KEYD_TEST_HOOKS
        test_hooks_secrets_freed(s->id, s->backend_data, sizeof(SessionSecrets));
#endif
        s->backend_data = secure_free(s->backend_data);
}

static int software_get_certificate(Backend *b, Session *s, const uint8_t **ret, size_t *ret_size,
                                    sd_bus_error *error) {
        SoftwareBackend *sb = software(b);

        *ret = sb->key->certificate;
        *ret_size = sb->key->certificate_size;
        return 0;
}

static const OaepParams *oaep_params_for(KeyExchange k) {
        static const OaepParams sha512 = { OAEP_HASH_SHA512, OAEP_HASH_SHA512, NULL, 0 };
        static const OaepParams sha256 = { OAEP_HASH_SHA256, OAEP_HASH_SHA256, NULL, 0 };
        static const OaepParams sha1 = { OAEP_HASH_SHA1, OAEP_HASH_SHA1, NULL, 0 };

        switch (k) {
        case KEY_EXCHANGE_RSAES_OAEP_SHA512:
                return &sha512;
        case KEY_EXCHANGE_RSAES_OAEP_SHA256:
                return &sha256;
        case KEY_EXCHANGE_RSAES_OAEP_SHA1:
                return &sha1;
        default:
                return NULL;
        }
}

static int software_negotiate_check(Backend *b, Session *s, size_t size, sd_bus_error *error) {
        SoftwareBackend *sb = software(b);

        if (size != sb->key->pub.size)
                return bus_error_setf(error, -EINVAL,
                                      "data is %zu bytes; RSAES-OAEP with this device's %u-bit key takes %zu",
                                      size, sb->key->bits, sb->key->pub.size);
        return 0;
}

/* Thread-safe: reads only the device key (nettle's root is reentrant and
 * blinded with GnuTLS's thread-safe CSPRNG) and writes only key. */
static int software_unwrap_key(Backend *b, KeyExchange key_exchange, const uint8_t *data, size_t size,
                               uint8_t key[AES_CTR_KEY_SIZE]) {
        SoftwareBackend *sb = software(b);
        const OaepParams *params = oaep_params_for(key_exchange);
        int r;

        assert(params);

        /* Exactly 16 bytes, checked inside the decoder's constant-time mask:
         * a well-formed message of another length fails as bad padding does,
         * with the same answer, in the same time. */
        r = device_key_oaep_decrypt_exact(sb->key, params, data, size, key, SESSION_KEY_SIZE);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                secure_wipe(key, SESSION_KEY_SIZE);
                return -EBADMSG;
        }
        return 0;
}

static int software_install_key(Backend *b, Session *s, const uint8_t key[AES_CTR_KEY_SIZE], sd_bus_error *error) {
        int r;

        r = session_secrets_set_key(s->backend_data, key);
        if (r < 0)
                return bus_error_setf(error, r, "cannot draw random bytes for the session's read-back key");
        return 0;
}

/* The same steps on the calling thread (keyd --workers=0). */
static int software_negotiate(Backend *b, Session *s, const uint8_t *data, size_t size, sd_bus_error *error) {
        _cleanup_(secure_freep) uint8_t *key = NULL;
        int r;

        r = software_negotiate_check(b, s, size, error);
        if (r < 0)
                return r;

        key = secure_alloc(SESSION_KEY_SIZE);
        if (!key)
                return bus_error_setf(error, -ENOMEM, "cannot allocate locked memory for the session key");

        r = software_unwrap_key(b, s->key_exchange, data, size, key);
        if (r < 0)
                return session_key_exchange_failed(s, r, error);

        return software_install_key(b, s, key, error);
}

static const BackendOps software_ops = {
        .name = "software",
        .free = software_free,
        .get_caps = software_get_caps,
        .get_key_exchange = software_get_key_exchange,
        .check_support = software_check_support,
        .get_private_data_size = software_get_private_data_size,
        .session_open = software_session_open,
        .session_close = software_session_close,
        .get_certificate = software_get_certificate,
        .negotiate = software_negotiate,
        .negotiate_check = software_negotiate_check,
        .unwrap_key = software_unwrap_key,
        .install_key = software_install_key,
        .start_key_refresh = software_start_key_refresh,
        .finish_key_refresh = software_finish_key_refresh,
        .drop_key = software_drop_key,
        .get_encryption_blt_key = software_get_encryption_blt_key,
        .decryption_blt = software_decryption_blt,
        .encryption_blt = software_encryption_blt,
        .execute_hw_protection = software_execute_hw_protection,
        .decrypt_sample = software_decrypt_sample,
};

int software_backend_open(const BackendConfig *config, Backend **ret) {
        _cleanup_free_ char *message = NULL;
        SoftwareBackend *sb;
        int r;

        sb = calloc(1, sizeof(*sb));
        if (!sb)
                return log_oom();
        sb->backend.ops = &software_ops;
        sb->backend.type = BACKEND_SOFTWARE;
        sb->protected_memory_size = config->protected_memory_size;

        r = device_key_load_or_create(config->state_dir, config->rsa_bits, &sb->key, &message);
        if (r < 0) {
                free(sb);
                return log_error_errno(r, "Cannot set up the software device key in %s: %s", config->state_dir,
                                       message ?: "unknown error");
        }

        log_info("Software backend ready: %u-bit RSA device key, %zu-byte certificate.", sb->key->bits,
                 sb->key->certificate_size);
        *ret = &sb->backend;
        return 0;
}
