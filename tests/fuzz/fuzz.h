/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What every libFuzzer harness in tests/fuzz shares. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant the code under test broke: abort, so libFuzzer saves the
 * input as a crash. Unlike assert(), never compiled out. */
#define FUZZ_CHECK(expr)                                                                    \
        do {                                                                                \
                if (!(expr)) {                                                              \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                            \
                }                                                                           \
        } while (0)

/* Reads the fuzz input front to back; past its end every read gives zeros,
 * so a harness never has to check lengths. */
typedef struct FuzzInput {
        const uint8_t *data;
        size_t size;
        size_t pos;
} FuzzInput;

static inline size_t fuzz_remaining(const FuzzInput *in) {
        return in->size - in->pos;
}

static inline uint8_t fuzz_u8(FuzzInput *in) {
        return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint16_t fuzz_u16(FuzzInput *in) {
        return (uint16_t) (fuzz_u8(in) | (uint16_t) fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(FuzzInput *in) {
        return (uint32_t) fuzz_u16(in) | (uint32_t) fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(FuzzInput *in) {
        return (uint64_t) fuzz_u32(in) | (uint64_t) fuzz_u32(in) << 32;
}

/* Up to n bytes of the input in place (fewer at its end). */
static inline const uint8_t *fuzz_bytes(FuzzInput *in, size_t n, size_t *ret_n) {
        const uint8_t *p = in->data + in->pos;

        if (n > fuzz_remaining(in))
                n = fuzz_remaining(in);
        in->pos += n;
        *ret_n = n;
        return p;
}
