/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the fault and isolation tests (test-faults-more.c,
 * test-isolation.c): a "bystander" session that must keep working whatever
 * else happens to keyd, its reference crypto (nettle's AES block function
 * only), a valid wrapped key that any session of this keyd accepts, and
 * looks into keyd's /proc entry. Only for Check test processes: failures
 * abort the test with ck_assert. */

#include <dirent.h>
#include <nettle/aes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "test-util.h"

#define KEY_SIZE 16U
#define IV_SIZE 16U
#define MiB (1024U * 1024U)

#define ERROR_PREFIX "org.keyd.KeyBroker1.Error."
#define ERROR_INVALID_ARG ERROR_PREFIX "InvalidArg"
#define ERROR_OUT_OF_MEMORY ERROR_PREFIX "OutOfMemory"
#define ERROR_ACCESS_DENIED ERROR_PREFIX "AccessDenied"
#define DBUS_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"

#define AES128_CTR "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f"
#define RSAES_OAEP "c1949895-d72a-4a1d-8e5d-ed857d171520"
#define HW_PROTECTION "b1170d8a-628d-4da3-ad3b-82ddb08b4970"

/* CreateCryptoSession over a raw sd-bus connection; the new session's path (free() it). */
static inline char *raw_create_session(sd_bus *bus, const char *key_exchange) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *path;
        char *p;
        int r;

        r = sd_bus_call_method(bus, KEYD_BUS_NAME, KEYD_MANAGER_PATH, KEYD_MANAGER_INTERFACE, "CreateCryptoSession",
                               &error, &reply, "sss", AES128_CTR, "", key_exchange);
        ck_assert_msg(r >= 0, "CreateCryptoSession: %s", error.message);
        ck_assert_int_ge(sd_bus_message_read(reply, "o", &path), 0);
        p = strdup(path);
        ck_assert_ptr_nonnull(p);
        return p;
}

/* AES-128-CTR with D3D11's counter block (8-byte IV, 64-bit big-endian
 * count), for buffers that start at a count far enough from 2^64 not to
 * wrap: the tests below use a zero count. */
static inline void ref_ctr(const uint8_t key[KEY_SIZE], const uint8_t iv[IV_SIZE], uint8_t *dst, const uint8_t *src,
                           size_t n) {
        struct aes128_ctx aes;
        uint8_t block[16], ks[16];
        uint64_t count = 0;

        aes128_set_encrypt_key(&aes, key);
        for (unsigned i = 8; i < 16; i++)
                count = (count << 8) | iv[i];
        for (size_t done = 0; done < n; done += 16, count++) {
                memcpy(block, iv, 8);
                for (unsigned i = 0; i < 8; i++)
                        block[15 - i] = (uint8_t) (count >> (8 * i));
                aes128_encrypt(&aes, 16, ks, block);
                for (size_t i = 0; i < 16 && done + i < n; i++)
                        dst[done + i] = src[done + i] ^ ks[i];
        }
}

static inline void ref_ecb_decrypt(const uint8_t key[KEY_SIZE], const uint8_t in[16], uint8_t out[16]) {
        struct aes128_ctx aes;

        aes128_set_decrypt_key(&aes, key);
        aes128_decrypt(&aes, 16, out, in);
}

/* key wrapped for this keyd's device key: valid for every RSAES-OAEP
 * (SHA-512) session of it, since all share the one device certificate. */
static inline void wrap_key_for(keyd_crypto_session *s, const uint8_t key[KEY_SIZE], uint8_t data[MODULUS_SIZE]) {
        uint32_t cert_size;
        uint8_t *cert = get_certificate(s, &cert_size);

        ck_assert_hr(keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, KEY_SIZE,
                                           MODULUS_SIZE, data),
                     KEYD_S_OK);
        free(cert);
}

/* A client with one negotiated session and one surface, whose data path is
 * checked end to end after each abuse of keyd by others. */
typedef struct Bystander {
        keyd_client *client;
        keyd_crypto_session *session;
        uint8_t key[KEY_SIZE];
        uint32_t surface;
} Bystander;

#define BYSTANDER_SURFACE_SIZE 4096U

static inline void bystander_open(Bystander *b) {
        uint8_t data[MODULUS_SIZE];

        b->client = open_client();
        b->session = create_session(b->client, &KEYD_KEY_EXCHANGE_RSAES_OAEP);
        random_bytes(b->key, sizeof(b->key));
        wrap_key_for(b->session, b->key, data);
        ck_assert_hr(keyd_negotiate_crypto_session_key_exchange(b->session, sizeof(data), data), KEYD_S_OK);
        ck_assert_hr(keyd_create_surface(b->session, BYSTANDER_SURFACE_SIZE, &b->surface), KEYD_S_OK);
}

/* Decrypt fresh data into the surface, read it back encrypted under the
 * read-back key and compare: the whole path still works, with the key the
 * bystander negotiated. after names what just happened, for the message. */
static inline void bystander_check(Bystander *b, const char *after) {
        static uint8_t plain[BYSTANDER_SURFACE_SIZE], ct[BYSTANDER_SURFACE_SIZE], back[BYSTANDER_SURFACE_SIZE];
        uint8_t iv[IV_SIZE], wrapped[KEY_SIZE], kblt[KEY_SIZE];
        keyd_crypto_session_status status = 99;
        HRESULT hr;

        hr = keyd_check_crypto_session_status(b->session, &status);
        ck_assert_msg(hr == KEYD_S_OK && status == KEYD_CRYPTO_SESSION_STATUS_OK,
                      "after %s: the bystander's session status: 0x%08X, status %d: %s", after, (unsigned) hr,
                      (int) status, keyd_last_error_message());

        random_bytes(plain, sizeof(plain));
        random_bytes(iv, sizeof(iv));
        memset(iv + 8, 0, 8);
        ref_ctr(b->key, iv, ct, plain, sizeof(plain));
        hr = keyd_decryption_blt(b->session, b->surface, NULL, 0, NULL, sizeof(iv), iv, sizeof(ct), ct);
        ck_assert_msg(hr == KEYD_S_OK, "after %s: the bystander's DecryptionBlt: 0x%08X: %s", after, (unsigned) hr,
                      keyd_last_error_message());

        /* A new K_blt, then the read-back under it and the IV keyd chose. */
        hr = keyd_get_encryption_blt_key(b->session, sizeof(wrapped), wrapped);
        ck_assert_msg(hr == KEYD_S_OK, "after %s: the bystander's GetEncryptionBltKey: 0x%08X: %s", after,
                      (unsigned) hr, keyd_last_error_message());
        hr = keyd_encryption_blt(b->session, b->surface, sizeof(iv), iv, sizeof(back), back);
        ck_assert_msg(hr == KEYD_S_OK, "after %s: the bystander's EncryptionBlt: 0x%08X: %s", after, (unsigned) hr,
                      keyd_last_error_message());
        ref_ecb_decrypt(b->key, wrapped, kblt);
        ref_ctr(kblt, iv, back, back, sizeof(back));
        ck_assert_msg(memcmp(back, plain, sizeof(plain)) == 0,
                      "after %s: the bystander's surface does not hold what it decrypted into it", after);
}

static inline void bystander_close(Bystander *b) {
        keyd_crypto_session_release(b->session);
        keyd_client_close(b->client);
        *b = (Bystander) {};
}

/* A negotiated session of bus's own, with a surface of size bytes. */
static inline char *raw_session_with_surface(sd_bus *bus, Bystander *b, uint32_t size, uint32_t *ret_surface) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint8_t key[KEY_SIZE], data[MODULUS_SIZE];
        char *path = raw_create_session(bus, RSAES_OAEP);
        int r;

        random_bytes(key, sizeof(key));
        wrap_key_for(b->session, key, data);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE,
                                                        "NegotiateCryptoSessionKeyExchange"),
                         0);
        ck_assert_int_ge(sd_bus_message_append_array(m, 'y', data, sizeof(data)), 0);
        r = sd_bus_call(bus, m, 30 * USEC_PER_SEC, &error, NULL);
        ck_assert_msg(r >= 0, "NegotiateCryptoSessionKeyExchange: %s", error.message);
        r = sd_bus_call_method(bus, KEYD_BUS_NAME, path, KEYD_SESSION_INTERFACE, "CreateSurface", &error, &reply,
                               "u", size);
        ck_assert_msg(r >= 0, "CreateSurface: %s", error.message);
        ck_assert_int_ge(sd_bus_message_read(reply, "u", ret_surface), 0);
        return path;
}

/* A "Name:   1234 kB" line of /proc/<pid>/status, in KiB; -1 if absent. */
static inline long proc_status_kib(pid_t pid, const char *name) {
        char path[64], line[256];
        size_t len = strlen(name);
        long v = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, name, len) == 0 && line[len] == ':') {
                        v = strtol(line + len + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

/* How many file descriptors pid has open; -1 if it cannot be read. */
static inline int proc_count_fds(pid_t pid) {
        char path[64];
        struct dirent *de;
        int n = 0;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        d = opendir(path);
        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}
