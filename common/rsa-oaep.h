/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* RSAES-OAEP (PKCS #1 v2.2, RFC 8017 section 7.1) on nettle's RSA.
 *
 * GnuTLS 3.7 and nettle 3.8 (Debian 12) have no OAEP, so the EME-OAEP
 * encoding lives here. Decryption uses nettle's blinded, side-channel
 * resistant rsa_compute_root_tr, and checks the padding without branches
 * on secret data: every invalid ciphertext fails the same way, in time that
 * does not depend on where the decoding failed (Manger's attack). */

#include <nettle/nettle-types.h>
#include <nettle/rsa.h>
#include <stddef.h>
#include <stdint.h>

typedef enum OaepHash {
        OAEP_HASH_SHA1,
        OAEP_HASH_SHA256,
        OAEP_HASH_SHA512,
        _OAEP_HASH_MAX,
} OaepHash;

typedef struct OaepParams {
        OaepHash hash;       /* hashes the label */
        OaepHash mgf1_hash;  /* MGF1's hash */
        const uint8_t *label;
        size_t label_size;
} OaepParams;

size_t oaep_hash_size(OaepHash h);
const char *oaep_hash_to_string(OaepHash h);

/* Encrypt msg for pub. ct receives exactly pub->size bytes (ct_size must be
 * pub->size). -EMSGSIZE when msg is too long for the key and hash,
 * -EINVAL on bad arguments. */
int rsa_oaep_encrypt(const struct rsa_public_key *pub,
                     const OaepParams *params,
                     void *random_ctx, nettle_random_func *random,
                     const uint8_t *msg, size_t msg_size,
                     uint8_t *ct, size_t ct_size);

/* Decrypt ct (exactly pub->size bytes, else -EINVAL). On success writes the
 * message to msg (room for msg_max bytes) and its length to *ret_size and
 * returns 0. Every ciphertext that does not decode -- integer not below the
 * modulus, nonzero first byte, wrong label hash, missing 0x01 separator,
 * message longer than msg_max -- returns -EBADMSG, and nothing else is
 * observable. Intermediate values live in secure memory and are wiped. */
int rsa_oaep_decrypt(const struct rsa_public_key *pub,
                     const struct rsa_private_key *key,
                     const OaepParams *params,
                     void *random_ctx, nettle_random_func *random,
                     const uint8_t *ct, size_t ct_size,
                     uint8_t *msg, size_t msg_max, size_t *ret_size);

/* The same for a message of exactly msg_size bytes (a session key): one of
 * any other length fails inside the same constant-time mask as a bad
 * padding, -EBADMSG with nothing written, and its length never shows. Use
 * this, not rsa_oaep_decrypt() and a length check after it: that check
 * would run only for well-formed messages, a second kind of failure. */
int rsa_oaep_decrypt_exact(const struct rsa_public_key *pub,
                           const struct rsa_private_key *key,
                           const OaepParams *params,
                           void *random_ctx, nettle_random_func *random,
                           const uint8_t *ct, size_t ct_size,
                           uint8_t *msg, size_t msg_size);
