/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl roundtrip: prove end to end that keyd holds the key we wrapped.
 * We encrypt a random buffer here (AES-128-CTR, with the partial-encryption
 * pattern, under the session key or a content key), DecryptionBlt it into a
 * surface, ask for a read-back key (GetEncryptionBltKey makes a new one),
 * read the surface back with EncryptionBlt under the IV keyd chooses, unwrap
 * the read-back key and decrypt: the bytes must be the ones we started with. The plaintext
 * never crosses the bus. Keys live in locked memory and are never printed. */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <nettle/aes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aes-ctr.h"
#include "keydctl.h"
#include "macro.h"
#include "secure-memory.h"

#define KEY_SIZE 16U
#define DEFAULT_SIZE (1024U * 1024U)

/* Key material of one round trip, in one locked allocation. */
typedef struct Keys {
        uint8_t session_key[KEY_SIZE];
        uint8_t content_key[KEY_SIZE];    /* CK, for --content-key */
        uint8_t wrapped_content_key[KEY_SIZE]; /* AES-128-ECB-Encrypt(session key, CK): what DecryptionBlt gets */
        uint8_t data_key[KEY_SIZE];       /* what the data is encrypted with: CK or the session key */
        uint8_t wrapped_blt_key[KEY_SIZE];
        uint8_t blt_key[KEY_SIZE];
        AesCtr ctr;
        struct aes128_ctx ecb;
} Keys;

typedef struct Roundtrip {
        uint32_t size;
        EncryptedBlockInfo pattern;
        bool content_key;
        const keyd_guid *key_exchange;
} Roundtrip;

static int fail_errno(const char *what) {
        keydctl_error("%s: %m\n", what);
        return -KEYDCTL_EXIT_FAILURE;
}

static int random_fill(void *p, size_t n, gnutls_rnd_level_t level, const char *what) {
        int r = gnutls_rnd(level, p, n);
        if (r < 0) {
                keydctl_error("cannot make %s: %s\n", what, gnutls_strerror(r));
                return -KEYDCTL_EXIT_FAILURE;
        }
        return 0;
}

static double now_sec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void print_rate(const char *what, uint32_t size, double seconds) {
        printf("%-22s %" PRIu32 " bytes in %.3f ms, %.1f MB/s\n", what, size, seconds * 1e3,
               seconds > 0 ? (double) size / 1e6 / seconds : 0.0);
}

/* --size: bytes, or with a K or M suffix (KiB, MiB). */
static int parse_size(const char *s, uint32_t *ret) {
        unsigned long long v, unit = 1;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == 0 && end != s && (streq(end, "K") || streq(end, "KiB")))
                unit = 1024;
        else if (errno == 0 && end != s && (streq(end, "M") || streq(end, "MiB")))
                unit = 1024 * 1024;
        else if (errno != 0 || end == s || *end != '\0')
                unit = 0;
        if (unit == 0 || s[0] == '-' || v == 0 || v > UINT32_MAX / unit || (v * unit) % 16 != 0)
                return keydctl_usage("--size=%s: expected a positive multiple of 16 bytes below 4 GiB "
                                     "(K and M suffixes allowed)\n", s);
        *ret = (uint32_t) (v * unit);
        return 0;
}

static int parse_pattern(const char *s, EncryptedBlockInfo *ret) {
        unsigned long long c, k, e;
        int n = -1;

        if (s[0] == '-' || sscanf(s, "%llu:%llu:%llu%n", &c, &k, &e, &n) != 3 || n < 0 || s[n] != '\0' ||
            c > UINT32_MAX || k > UINT32_MAX || e > UINT32_MAX)
                return keydctl_usage("--pattern=%s: expected C:S:E, NumEncryptedBytesAtBeginning:"
                                     "NumBytesInSkipPattern:NumBytesInEncryptPattern (e.g. 16:16:32; 0:0:0 = all "
                                     "encrypted)\n", s);
        *ret = (EncryptedBlockInfo) { (uint32_t) c, (uint32_t) k, (uint32_t) e };
        return 0;
}

/* Wrap the session key to the session's certificate and negotiate it. */
static int negotiate(keyd_crypto_session *session, const keyd_guid *key_exchange, const uint8_t *session_key) {
        _cleanup_(keydctl_certificate_done) KeydctlCertificate certificate = {};
        _cleanup_free_ uint8_t *data = NULL;
        uint32_t data_size;
        HRESULT hr;

        int r;

        r = keydctl_get_certificate(session, &certificate);
        if (r < 0)
                return r;
        r = keydctl_wrap_key(&certificate, key_exchange, session_key, KEY_SIZE, &data, &data_size);
        if (r < 0)
                return r;

        hr = keyd_negotiate_crypto_session_key_exchange(session, data_size, data);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "NegotiateCryptoSessionKeyExchange failed");
        printf("%-22s %" PRIu32 "-byte RSAES-OAEP ciphertext, S_OK\n", "Negotiate:", data_size);
        return 0;
}

/* The first offset where a and b differ, or -1. */
static int64_t first_difference(const uint8_t *a, const uint8_t *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (a[i] != b[i])
                        return (int64_t) i;
        return -1;
}

static int roundtrip(keyd_crypto_session *session, const Roundtrip *rt) {
        _cleanup_(secure_freep) Keys *keys = NULL;
        _cleanup_free_ uint8_t *plaintext = NULL, *ciphertext = NULL, *readback = NULL;
        const keyd_encrypted_block_info info = { rt->pattern.encrypted_bytes_at_beginning,
                                                 rt->pattern.bytes_in_skip_pattern,
                                                 rt->pattern.bytes_in_encrypt_pattern };
        uint8_t decrypt_iv[16], encrypt_iv[16];
        uint32_t surface;
        int64_t diff;
        double t;
        HRESULT hr;
        int r;

        keys = secure_alloc(sizeof(Keys));
        if (!keys)
                return fail_errno("cannot allocate locked memory for the keys");
        plaintext = malloc(rt->size);
        ciphertext = malloc(rt->size);
        readback = malloc(rt->size);
        if (!plaintext || !ciphertext || !readback)
                return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot allocate the buffers");

        if (random_fill(keys->session_key, KEY_SIZE, GNUTLS_RND_KEY, "a session key") < 0 ||
            random_fill(keys->content_key, KEY_SIZE, GNUTLS_RND_KEY, "a content key") < 0 ||
            random_fill(decrypt_iv, sizeof(decrypt_iv), GNUTLS_RND_NONCE, "an IV") < 0 ||
            random_fill(plaintext, rt->size, GNUTLS_RND_NONCE, "the test data") < 0)
                return -KEYDCTL_EXIT_FAILURE;

        r = negotiate(session, rt->key_exchange, keys->session_key);
        if (r < 0)
                return r;

        hr = keyd_create_surface(session, rt->size, &surface);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "CreateSurface failed");
        printf("%-22s %" PRIu32 " (%" PRIu32 " bytes)\n", "Surface:", surface, rt->size);

        /* The data key: the session key itself, or the content key, which
         * travels encrypted with the session key as D3D11 has it; keyd
         * decrypts it back. */
        if (rt->content_key) {
                memcpy(keys->data_key, keys->content_key, KEY_SIZE);
                aes128_ecb_encrypt_block(keys->session_key, keys->content_key, keys->wrapped_content_key);
        } else
                memcpy(keys->data_key, keys->session_key, KEY_SIZE);
        aes_ctr_init(&keys->ctr, keys->data_key, decrypt_iv);
        aes_ctr_apply_pattern(&keys->ctr, &rt->pattern, ciphertext, plaintext, rt->size);
        aes_ctr_done(&keys->ctr);

        t = now_sec();
        hr = keyd_decryption_blt(session, surface, &info, rt->content_key ? KEY_SIZE : 0,
                                 rt->content_key ? keys->wrapped_content_key : NULL, sizeof(decrypt_iv), decrypt_iv,
                                 rt->size, ciphertext);
        t = now_sec() - t;
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "DecryptionBlt failed");
        print_rate(rt->size > KEYD_BLT_MEMFD_THRESHOLD ? "DecryptionBlt (memfd):" : "DecryptionBlt:", rt->size, t);

        /* K_blt comes wrapped as AES-128-ECB(session key, K_blt). Each call
         * makes a new one, and EncryptionBlt uses the newest: ask first. */
        hr = keyd_get_encryption_blt_key(session, KEY_SIZE, keys->wrapped_blt_key);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "GetEncryptionBltKey failed");
        aes128_set_decrypt_key(&keys->ecb, keys->session_key);
        aes128_decrypt(&keys->ecb, KEY_SIZE, keys->blt_key, keys->wrapped_blt_key);
        printf("%-22s unwrapped with the session key\n", "Read-back key:");

        t = now_sec();
        hr = keyd_encryption_blt(session, surface, sizeof(encrypt_iv), encrypt_iv, rt->size, readback);
        t = now_sec() - t;
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "EncryptionBlt failed");
        print_rate(rt->size > KEYD_BLT_MEMFD_THRESHOLD ? "EncryptionBlt (memfd):" : "EncryptionBlt:", rt->size, t);
        /* The IV is keyd's (D3D11: the driver generates it); not a secret. */
        /* D3D11_AES_CTR_IV: the IV member, then Count, both big-endian. */
        uint64_t iv_member = 0, iv_count = 0;
        for (size_t i = 0; i < 8; i++) {
                iv_member = (iv_member << 8) | encrypt_iv[i];
                iv_count = (iv_count << 8) | encrypt_iv[8 + i];
        }
        printf("%-22s IV 0x%016" PRIx64 ", Count %" PRIu64 " (chosen by keyd)\n", "Read-back IV:", iv_member,
               iv_count);

        aes_ctr_init(&keys->ctr, keys->blt_key, encrypt_iv);
        aes_ctr_xor(&keys->ctr, readback, readback, rt->size);
        aes_ctr_done(&keys->ctr);

        hr = keyd_destroy_surface(session, surface);
        if (KEYD_FAILED(hr))
                return keydctl_fail(hr, "DestroySurface failed");

        diff = first_difference(plaintext, readback, rt->size);
        if (diff >= 0) {
                printf("%-22s MISMATCH at byte %" PRId64 " of %" PRIu32 "\n", "Result:", diff, rt->size);
                keydctl_error("the surface read back differs from the data decrypted into it\n");
                return -KEYDCTL_EXIT_FAILURE;
        }
        printf("%-22s match, %" PRIu32 " bytes\n", "Result:", rt->size);
        return 0;
}

int verb_roundtrip(const Keydctl *ctl, int argc, char *argv[]) {
        Roundtrip rt = { .size = DEFAULT_SIZE };
        keyd_crypto_session *session = NULL;
        char s[KEYD_GUID_STRING_SIZE];
        keyd_client *client;
        HRESULT hr;
        int r;

        if (ctl->size) {
                r = parse_size(ctl->size, &rt.size);
                if (r < 0)
                        return r;
        }
        if (ctl->pattern) {
                r = parse_pattern(ctl->pattern, &rt.pattern);
                if (r < 0)
                        return r;
        }
        rt.content_key = ctl->content_key;
        r = keydctl_parse_key_exchange(ctl->key_exchange, &rt.key_exchange);
        if (r < 0)
                return r;

        r = keydctl_open_client(ctl, &client);
        if (r < 0)
                return r;

        printf("%-22s %s\n", "Key exchange:", keydctl_guid_name(rt.key_exchange, s));
        printf("%-22s %" PRIu32 " bytes\n", "Size:", rt.size);
        if (rt.pattern.encrypted_bytes_at_beginning == 0 && rt.pattern.bytes_in_skip_pattern == 0 &&
            rt.pattern.bytes_in_encrypt_pattern == 0)
                printf("%-22s all encrypted\n", "Pattern:");
        else if (rt.pattern.bytes_in_encrypt_pattern == 0)
                printf("%-22s %" PRIu32 " encrypted at the start, the rest in the clear\n", "Pattern:",
                       rt.pattern.encrypted_bytes_at_beginning);
        else
                printf("%-22s %" PRIu32 " encrypted at the start, then %" PRIu32 " clear / %" PRIu32
                       " encrypted\n", "Pattern:", rt.pattern.encrypted_bytes_at_beginning,
                       rt.pattern.bytes_in_skip_pattern, rt.pattern.bytes_in_encrypt_pattern);
        printf("%-22s %s\n", "Data key:", rt.content_key ? "a content key wrapped with the session key"
                                                          : "the session key");

        hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, rt.key_exchange, &session);
        if (KEYD_FAILED(hr))
                r = keydctl_fail(hr, "CreateCryptoSession failed");
        else {
                printf("%-22s %s\n", "Session:", keyd_crypto_session_get_object_path(session));
                r = roundtrip(session, &rt);
                keyd_crypto_session_release(session);
        }

        keyd_client_close(client);
        return r;
}
