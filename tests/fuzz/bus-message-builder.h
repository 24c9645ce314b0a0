/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Builds D-Bus method calls to keyd from a stream of random bytes: which
 * object, interface and member, which signature (keyd's own for the member,
 * a mutation of it, or arbitrary type characters), and values for it, by a
 * small interpreter over the signature's characters. Shared by the
 * libFuzzer harness fuzz-bus-methods (bytes from libFuzzer) and the
 * bus-level fuzz client (bytes from a seeded PRNG). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define KEYD_BUS_NAME "org.keyd.KeyBroker1"
#define KEYD_MANAGER_PATH "/org/keyd/KeyBroker1"
#define KEYD_MANAGER_INTERFACE "org.keyd.KeyBroker1.Manager"
#define KEYD_SESSION_PATH_PREFIX "/org/keyd/KeyBroker1/session"
#define KEYD_SESSION_INTERFACE "org.keyd.KeyBroker1.CryptoSession"

/* Contract section 4: one ay argument holds at most 16 MiB. */
#define BUILDER_AY_MAX (16u * 1024u * 1024u)

typedef struct ByteSource {
        /* Fills n bytes; past the end of a finite source, zeros. */
        void (*fill)(void *userdata, void *buf, size_t n);
        void *userdata;
} ByteSource;

typedef struct BuilderConfig {
        /* Object paths the builder may aim at besides the fixed ones (the
         * sessions the caller created, others' sessions...). */
        const char *const *paths;
        size_t n_paths;
        /* Allow ay arguments just over BUILDER_AY_MAX (a 16 MiB message);
         * off for fast in-process fuzzing where most inputs should be small. */
        bool allow_huge;
} BuilderConfig;

typedef struct BuiltCall {
        sd_bus_message *message;
        const char *member;     /* points into the message */
        bool is_create;         /* a well-formed CreateCryptoSession */
        bool huge;              /* holds an ay over BUILDER_AY_MAX */
} BuiltCall;

uint8_t source_u8(const ByteSource *src);
uint32_t source_u32(const ByteSource *src);
uint64_t source_u64(const ByteSource *src);

/* A new method call on bus (destination destination, may be NULL), or 0
 * with ret->message NULL when the random choices made no valid message
 * (sd-bus refused a signature or a value): the caller skips it. */
int builder_new_call(sd_bus *bus, const char *destination, const ByteSource *src, const BuilderConfig *config,
                     BuiltCall *ret);

/* The signature keyd declares for a member, or NULL. (Well-formed key
 * exchanges, which need the device key, are the callers' business.) */
const char *builder_method_signature(const char *member);

/* Checks that a keyd error reply follows the contract (section 5): a name
 * from keyd's table has a message beginning with its HRESULT, "0x%08X: ",
 * then a sentence. Returns false (and says why on stderr) when not. */
bool builder_error_is_well_formed(const sd_bus_error *error);
