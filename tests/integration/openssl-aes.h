/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* AES-128 as the openssl command computes it: expected bytes for the tests
 * that owe nothing to keyd's code nor to the nettle library keyd is built
 * on. Each call runs `openssl enc` once, so use it for keys and short
 * buffers, not for megabytes. */

#include <check.h>
#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static inline void openssl_hex(const uint8_t *p, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", p[i]);
}

/* cipher: "aes-128-ecb" (iv NULL) or "aes-128-ctr" (iv: 16 bytes). */
static inline void openssl_aes128(const char *cipher, bool decrypt, const uint8_t key[16], const uint8_t *iv,
                                  const uint8_t *in, size_t n, uint8_t *out) {
        char key_hex[33], iv_hex[33], name[32];
        const char *argv[12];
        size_t k = 0;
        HarnessRun run;

        openssl_hex(key, 16, key_hex);
        snprintf(name, sizeof(name), "-%s", cipher);
        argv[k++] = "openssl";
        argv[k++] = "enc";
        argv[k++] = name;
        argv[k++] = "-nopad";
        argv[k++] = "-K";
        argv[k++] = key_hex;
        if (iv) {
                openssl_hex(iv, 16, iv_hex);
                argv[k++] = "-iv";
                argv[k++] = iv_hex;
        }
        if (decrypt)
                argv[k++] = "-d";
        argv[k] = NULL;

        ck_assert_int_eq(harness_run(argv, in, n, &run), 0);
        ck_assert_msg(run.status == 0, "openssl enc %s failed (%d): %s", name, run.status, run.err);
        ck_assert_msg(run.out_size == n, "openssl enc %s gave %zu bytes for %zu", name, run.out_size, n);
        memcpy(out, run.out, n);
        harness_run_done(&run);
}

/* One block: out = AES-128-ECB-Encrypt(key, in) / -Decrypt. */
static inline void openssl_ecb_encrypt(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) {
        openssl_aes128("aes-128-ecb", false, key, NULL, in, 16, out);
}

static inline void openssl_ecb_decrypt(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) {
        openssl_aes128("aes-128-ecb", true, key, NULL, in, 16, out);
}

/* AES-128-CTR from the 16-byte counter block iv. OpenSSL's counter runs over
 * all 16 bytes while D3D11's block count wraps within its low 8: the two
 * agree only while that count does not wrap, which is asserted here. */
static inline void openssl_ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in, size_t n,
                               uint8_t *out) {
        uint64_t count;

        memcpy(&count, iv + 8, sizeof(count));
        count = be64toh(count);
        ck_assert_msg(count <= UINT64_MAX - (n + 15) / 16,
                      "the counter would wrap within %zu bytes: openssl's CTR differs from D3D11's there", n);
        openssl_aes128("aes-128-ctr", false, key, iv, in, n, out);
}
