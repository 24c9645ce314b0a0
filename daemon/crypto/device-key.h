/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The software backend's device key: one RSA key and a self-signed X.509
 * certificate, like a GPU's, shared by every session and kept in the state
 * directory across restarts. */

#include <nettle/rsa.h>
#include <stddef.h>
#include <stdint.h>

#include "rsa-oaep.h"

#define DEVICE_KEY_FILE "device-key.pem"
#define DEVICE_CERT_FILE "device-cert.der"

typedef struct DeviceKey {
        unsigned bits;                   /* 2048, 3072 or 4096 */
        struct rsa_public_key pub;
        struct rsa_private_key priv;     /* bignums in secure memory */
        uint8_t *certificate;            /* DER */
        size_t certificate_size;
} DeviceKey;

/* Load the key and certificate from state_dir, or make and store them
 * (key file 0600, written to a temporary file, fsync'd and renamed) when
 * neither exists. A damaged or mismatching file is an error naming the
 * file, never a silent new key. On failure *error_message (if given) gets a
 * sentence for the log (free() it). bits applies to a new key only. */
int device_key_load_or_create(const char *state_dir, unsigned bits,
                              DeviceKey **ret, char **error_message);

DeviceKey *device_key_free(DeviceKey *k);

/* The random source for RSA blinding (GnuTLS's CSPRNG). */
void device_key_random(void *ctx, size_t n, uint8_t *dst);

/* RSAES-OAEP decryption with the device key; see rsa_oaep_decrypt(). */
int device_key_oaep_decrypt(DeviceKey *k, const OaepParams *params,
                            const uint8_t *ct, size_t ct_size,
                            uint8_t *msg, size_t msg_max, size_t *ret_size);
/* The same for a message of exactly msg_size bytes; see rsa_oaep_decrypt_exact(). */
int device_key_oaep_decrypt_exact(DeviceKey *k, const OaepParams *params,
                                  const uint8_t *ct, size_t ct_size,
                                  uint8_t *msg, size_t msg_size);

static inline void device_key_freep(DeviceKey **k) {
        device_key_free(*k);
}
