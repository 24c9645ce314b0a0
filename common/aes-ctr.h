/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* AES-128 in CTR mode with D3D11's counter block (D3D11_AES_CTR_IV): an
 * 8-byte IV, then an 8-byte block count, both big-endian. The count wraps
 * within its 64 bits and never carries into the IV -- which is why this is
 * not nettle's ctr_crypt(), whose counter runs over all 16 bytes.
 *
 * The stream is byte-granular: it remembers where it is inside a keystream
 * block, so data cut into ranges (partial decryption) uses the keystream
 * exactly as if the ranges were concatenated.
 *
 * An AesCtr holds an expanded key: keep it in secure memory and wipe it
 * with aes_ctr_done(). */

#include <nettle/aes.h>
#include <stddef.h>
#include <stdint.h>

#define AES_CTR_KEY_SIZE 16
#define AES_CTR_IV_SIZE 16

typedef struct AesCtr {
        struct aes128_ctx aes;
        uint8_t iv[8];
        uint64_t block;             /* count of the next keystream block to make */
        uint8_t keystream[16];
        unsigned used;              /* bytes of keystream[] already consumed (16 = none left) */
} AesCtr;

/* counter_block: the 16-byte D3D11_AES_CTR_IV (IV || big-endian block count). */
void aes_ctr_init(AesCtr *c, const uint8_t key[AES_CTR_KEY_SIZE], const uint8_t counter_block[AES_CTR_IV_SIZE]);
/* dst = src XOR keystream; dst may equal src. */
void aes_ctr_xor(AesCtr *c, uint8_t *dst, const uint8_t *src, size_t n);
void aes_ctr_done(AesCtr *c);

/* D3D11_ENCRYPTED_BLOCK_INFO */
typedef struct EncryptedBlockInfo {
        uint32_t encrypted_bytes_at_beginning;
        uint32_t bytes_in_skip_pattern;
        uint32_t bytes_in_encrypt_pattern;
} EncryptedBlockInfo;

/* Decrypt (or encrypt: CTR is symmetric) n bytes from src to dst under the
 * partial-encryption pattern: (0,0,0) means all of it is encrypted; else the
 * first encrypted_bytes_at_beginning bytes are, then skip/encrypt ranges
 * alternate (with both zero, the rest is clear). Clear bytes are copied. */
void aes_ctr_apply_pattern(AesCtr *c, const EncryptedBlockInfo *info, uint8_t *dst, const uint8_t *src, size_t n);
/* The same for bytes [offset, offset + n) of such a buffer, with c as the
 * range [0, offset) left it: a buffer can be decrypted in pieces, in order. */
void aes_ctr_apply_pattern_at(AesCtr *c, const EncryptedBlockInfo *info, uint64_t offset, uint8_t *dst,
                              const uint8_t *src, size_t n);

/* Bytes of keystream that the pattern uses before offset: where a piece
 * starting at offset picks the stream up. */
uint64_t aes_ctr_pattern_keystream_offset(const EncryptedBlockInfo *info, uint64_t offset);
/* Move a stream that nothing has used since aes_ctr_init() (or a copy of
 * one) to keystream byte keystream_offset, so that pieces of one buffer can
 * be decrypted apart, each with its own copy, in any order. */
void aes_ctr_seek(AesCtr *c, uint64_t keystream_offset);

/* out = AES-128-ECB-Encrypt(key, in), one block. */
void aes128_ecb_encrypt_block(const uint8_t key[AES_CTR_KEY_SIZE], const uint8_t in[16], uint8_t out[16]);
/* out = AES-128-ECB-Decrypt(key, in), one block: how D3D11 unwraps a key the
 * application wrapped by encrypting it with the session key. */
void aes128_ecb_decrypt_block(const uint8_t key[AES_CTR_KEY_SIZE], const uint8_t in[16], uint8_t out[16]);
