/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include "aes-ctr.h"
#include "macro.h"
#include "secure-memory.h"

/* Keystream is made this many blocks at a time, so nettle's AES (AES-NI
 * where the CPU has it) runs over a batch rather than one block per call. */
#define BATCH_BLOCKS 64

void aes_ctr_init(AesCtr *c, const uint8_t key[AES_CTR_KEY_SIZE], const uint8_t counter_block[AES_CTR_IV_SIZE]) {
        aes128_set_encrypt_key(&c->aes, key);
        memcpy(c->iv, counter_block, 8);
        c->block = 0;
        for (unsigned i = 8; i < 16; i++)
                c->block = (c->block << 8) | counter_block[i];
        c->used = 16;
}

void aes_ctr_done(AesCtr *c) {
        secure_wipe(c, sizeof(*c));
}

/* Make n_blocks keystream blocks from c->block on (the count wraps mod 2^64).
 * The IV and the count are read once: out may alias anything, so the
 * compiler would load them again for every block. */
static void make_keystream(AesCtr *c, uint8_t *out, size_t n_blocks) {
        uint64_t iv, block = c->block;

        memcpy(&iv, c->iv, 8);
        for (size_t i = 0; i < n_blocks; i++) {
                uint64_t be = htobe64(block + i);

                memcpy(out + 16 * i, &iv, 8);
                memcpy(out + 16 * i + 8, &be, 8);
        }
        aes128_encrypt(&c->aes, 16 * n_blocks, out, out);
        c->block += n_blocks;
}

/* Sixteen bytes at a time (SSE2 on x86-64, NEON on arm64), through
 * unaligned loads. The byte loop that was here cost more than the AES
 * itself, and nettle's memxor()/memxor3() held keyd's CTR to half of
 * nettle's own ctr_crypt() on 8 MiB buffers on an AMD EPYC VM; a word at a
 * time then took as many samples as the AES (perf, keyd-bench section 6). */
typedef uint8_t Vec16 __attribute__((vector_size(16)));

static void xor_bytes(uint8_t *dst, const uint8_t *src, const uint8_t *ks, size_t n) {
        size_t i = 0;

        for (; i + 16 <= n; i += 16) {
                Vec16 a, b;

                memcpy(&a, src + i, 16);
                memcpy(&b, ks + i, 16);
                a ^= b;
                memcpy(dst + i, &a, 16);
        }
        for (; i < n; i++)
                dst[i] = src[i] ^ ks[i];
}

void aes_ctr_xor(AesCtr *c, uint8_t *dst, const uint8_t *src, size_t n) {
        uint8_t batch[16 * BATCH_BLOCKS];

        /* Finish the keystream block left over from the previous range. */
        if (c->used < 16) {
                size_t k = MIN(n, (size_t) (16 - c->used));
                xor_bytes(dst, src, c->keystream + c->used, k);
                c->used += (unsigned) k;
                dst += k, src += k, n -= k;
        }

        while (n >= 16) {
                size_t blocks = MIN(n / 16, (size_t) BATCH_BLOCKS);
                make_keystream(c, batch, blocks);
                xor_bytes(dst, src, batch, 16 * blocks);
                dst += 16 * blocks, src += 16 * blocks, n -= 16 * blocks;
        }

        if (n > 0) {
                make_keystream(c, c->keystream, 1);
                xor_bytes(dst, src, c->keystream, n);
                c->used = (unsigned) n;
        }

        secure_wipe(batch, sizeof(batch));
}

void aes_ctr_seek(AesCtr *c, uint64_t keystream_offset) {
        /* The count wraps within its 64 bits, as the stream's own does. */
        c->block += keystream_offset / 16;
        c->used = 16;
        if (keystream_offset % 16 != 0) {
                make_keystream(c, c->keystream, 1);
                c->used = (unsigned) (keystream_offset % 16);
        }
}

static void copy_clear(uint8_t *dst, const uint8_t *src, size_t n) {
        if (dst != src)
                memmove(dst, src, n);
}

/* How many bytes from offset on are treated alike, and whether they are
 * encrypted. SIZE_MAX: all the rest. */
static size_t pattern_run(const EncryptedBlockInfo *info, uint64_t offset, bool *ret_encrypted) {
        uint64_t begin = info->encrypted_bytes_at_beginning, skip = info->bytes_in_skip_pattern,
                 encrypt = info->bytes_in_encrypt_pattern, period, at;

        if (begin == 0 && skip == 0 && encrypt == 0) {
                *ret_encrypted = true;
                return SIZE_MAX;
        }
        if (offset < begin) {
                *ret_encrypted = true;
                return (size_t) (begin - offset);
        }
        if (encrypt == 0) {
                /* No encrypted ranges follow: the rest is in the clear. */
                *ret_encrypted = false;
                return SIZE_MAX;
        }

        period = skip + encrypt;
        at = (offset - begin) % period;
        *ret_encrypted = at >= skip;
        return (size_t) (at < skip ? skip - at : period - at);
}

uint64_t aes_ctr_pattern_keystream_offset(const EncryptedBlockInfo *info, uint64_t offset) {
        uint64_t begin = info->encrypted_bytes_at_beginning, skip = info->bytes_in_skip_pattern,
                 encrypt = info->bytes_in_encrypt_pattern, period, periods, at;

        if (begin == 0 && skip == 0 && encrypt == 0)
                return offset;
        if (offset <= begin)
                return offset;
        if (encrypt == 0)
                return begin;
        /* As pattern_run() walks it: skip bytes, then encrypt bytes, repeated. */
        period = skip + encrypt;
        periods = (offset - begin) / period;
        at = (offset - begin) % period;
        return begin + periods * encrypt + (at > skip ? at - skip : 0);
}

void aes_ctr_apply_pattern_at(AesCtr *c, const EncryptedBlockInfo *info, uint64_t offset, uint8_t *dst,
                              const uint8_t *src, size_t n) {
        while (n > 0) {
                bool encrypted;
                size_t k = MIN(n, pattern_run(info, offset, &encrypted));

                if (encrypted)
                        aes_ctr_xor(c, dst, src, k);
                else
                        copy_clear(dst, src, k);
                dst += k, src += k, n -= k, offset += k;
        }
}

void aes_ctr_apply_pattern(AesCtr *c, const EncryptedBlockInfo *info, uint8_t *dst, const uint8_t *src, size_t n) {
        aes_ctr_apply_pattern_at(c, info, 0, dst, src, n);
}

void aes128_ecb_encrypt_block(const uint8_t key[AES_CTR_KEY_SIZE], const uint8_t in[16], uint8_t out[16]) {
        struct aes128_ctx ctx;

        aes128_set_encrypt_key(&ctx, key);
        aes128_encrypt(&ctx, 16, out, in);
        secure_wipe(&ctx, sizeof(ctx));
}

void aes128_ecb_decrypt_block(const uint8_t key[AES_CTR_KEY_SIZE], const uint8_t in[16], uint8_t out[16]) {
        struct aes128_ctx ctx;

        aes128_set_decrypt_key(&ctx, key);
        aes128_decrypt(&ctx, 16, out, in);
        secure_wipe(&ctx, sizeof(ctx));
}
