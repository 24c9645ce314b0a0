/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "bus/bus-error.h"
#include "bus/memfd.h"
#include "config.h"
#include "secure-memory.h"
#include "session/session.h"
#include "session/surface.h"
#include "software-data.h"
#include "software-secrets.h"
#include "work/worker-pool.h"

/* VA-API's generic TEE function ids (VAProtectedSessionExecuteBuffer). */
#define TEE_FUNCTION_PASS_THROUGH 1u
#define TEE_FUNCTION_FIRMWARE_VERSION 2u

static SessionSecrets *secrets_of(Session *s) {
        return s->backend_data;
}

int software_start_key_refresh(Backend *b, Session *s, uint8_t random[AES_CTR_KEY_SIZE], sd_bus_error *error) {
        SessionSecrets *secrets = secrets_of(s);

        if (gnutls_rnd(GNUTLS_RND_KEY, secrets->refresh_random, sizeof(secrets->refresh_random)) < 0)
                return bus_error_setf(error, -EIO, "cannot draw the refresh random number");

        /* A second Start replaces the first R: only the latest may be finished. */
        memcpy(random, secrets->refresh_random, AES_CTR_KEY_SIZE);
        secrets->refresh_pending = true;
        return 0;
}

int software_finish_key_refresh(Backend *b, Session *s, sd_bus_error *error) {
        SessionSecrets *secrets = secrets_of(s);

        /* D3D11 (StartSessionKeyRefresh, and the DDI's FinishSessionKeyRefresh):
         * the new session key is the previous one XOR R, in place. The
         * read-back key stays. */
        for (size_t i = 0; i < SESSION_KEY_SIZE; i++)
                secrets->session_key[i] ^= secrets->refresh_random[i];
        secure_wipe(secrets->refresh_random, sizeof(secrets->refresh_random));
        secrets->refresh_pending = false;
        return 0;
}

void software_drop_key(Backend *b, Session *s) {
        SessionSecrets *secrets = secrets_of(s);

        if (secrets)
                secure_wipe(secrets, sizeof(*secrets));
}

int software_get_encryption_blt_key(Backend *b, Session *s, uint8_t out[AES_CTR_KEY_SIZE], sd_bus_error *error) {
        SessionSecrets *secrets = secrets_of(s);

        /* D3D11: "each time this method is called, the driver generates a
         * new key"; EncryptionBlt uses the newest. The old K_blt is
         * overwritten in place. */
        if (session_secrets_new_blt_key(secrets) < 0)
                return bus_error_setf(error, -EIO, "cannot draw random bytes for a new read-back key");

        /* K_blt leaves the daemon only wrapped with the session key. */
        aes128_ecb_encrypt_block(secrets->session_key, secrets->blt_key, out);
        return 0;
}

/* Bytes read and decrypted at a time: small enough to stay in the cache
 * between a memfd's pread() and the decryption, large enough that the
 * pread() and the hand-out per piece cost little next to it (64 per 8 MiB). */
#define BLT_PIECE (128u * 1024u)

/* A DecryptionBlt in BLT_PIECE pieces, shared between the event loop thread
 * and the workers that are free (worker_pool_run_pieces()): a large one
 * then takes the time of its share of the cores, not of one, while keyd's
 * own thread would wait on it anyway. Each participant decrypts with its
 * own copy of the stream, moved to where its piece begins. */
typedef struct BltPieces {
        const AesCtr *start;          /* the stream at byte 0 of the data; only copied */
        bool check_holes;             /* task 0 is the memfd's hole check, the pieces follow */
        sd_bus_error hole_error;      /* task 0's own */
        AesCtr *streams;              /* one per participant, locked memory */
        const EncryptedBlockInfo *info;
        const BltInput *in;
        uint8_t *surface;
        atomic_int error;             /* the first failure, negative errno; 0 */
        atomic_size_t error_offset;
} BltPieces;

static void decrypt_piece(void *userdata, size_t task, unsigned slot) {
        BltPieces *p = userdata;
        size_t piece, off, n;
        AesCtr *c = &p->streams[slot];
        const uint8_t *src;
        int r;

        if (p->check_holes) {
                if (task == 0) {
                        /* The bus reference refuses a memfd with holes; the
                         * walk takes as long as a few pieces, so it runs
                         * beside them. Only this task moves the file offset. */
                        (void) memfd_check_no_holes(p->in->fd, (off_t) p->in->size, "data", &p->hole_error);
                        return;
                }
                task--;
        }
        piece = task;
        off = piece * BLT_PIECE;
        n = MIN(p->in->size - off, (size_t) BLT_PIECE);
        src = p->in->data ? p->in->data + off : NULL;

        if (p->in->fd >= 0) {
                /* Read into the surface, decrypt it there while it is in the cache. */
                r = memfd_read_at(p->in->fd, p->surface + off, n, off);
                if (r < 0) {
                        int none = 0;

                        if (atomic_compare_exchange_strong(&p->error, &none, r))
                                atomic_store(&p->error_offset, off);
                        return;
                }
                src = p->surface + off;
        }
        memcpy(c, p->start, sizeof(*c));
        aes_ctr_seek(c, aes_ctr_pattern_keystream_offset(p->info, off));
        aes_ctr_apply_pattern_at(c, p->info, off, p->surface + off, src, n);
}

static int decrypt_in_pieces(const AesCtr *start, const EncryptedBlockInfo *info, const BltInput *in,
                             uint8_t *surface, sd_bus_error *error) {
        size_t n_pieces = (in->size + BLT_PIECE - 1) / BLT_PIECE,
               n_streams = in->helpers ? worker_pool_threads(in->helpers) + 1 : 1;
        _cleanup_(secure_freep) AesCtr *streams = NULL;
        BltPieces p = { .start = start, .info = info, .in = in, .surface = surface,
                        .check_holes = in->fd >= 0, .hole_error = SD_BUS_ERROR_NULL };
        size_t n_tasks = n_pieces + (p.check_holes ? 1 : 0);
        int r;

        streams = secure_alloc(n_streams * sizeof(AesCtr));
        if (!streams)
                return bus_error_setf(error, -ENOMEM, "out of locked memory for the decryption keys");
        p.streams = streams;

        if (in->helpers)
                worker_pool_run_pieces(in->helpers, n_tasks, decrypt_piece, &p);
        else
                for (size_t i = 0; i < n_tasks; i++)
                        decrypt_piece(&p, i, 0);
        secure_wipe(streams, n_streams * sizeof(AesCtr));

        if (sd_bus_error_is_set(&p.hole_error)) {
                /* The client's mistake, said as memfd_check_no_holes() says it;
                 * what was decrypted from the rest goes. */
                secure_wipe(surface, in->size);
                r = sd_bus_error_move(error, &p.hole_error);
                return r < 0 ? r : -EINVAL;
        }
        r = atomic_load(&p.error);
        if (r < 0) {
                /* Leave no mix of ciphertext and plaintext behind. */
                secure_wipe(surface, in->size);
                return bus_error_setf(error, r, "cannot read the data memfd at byte %zu: %s",
                                      atomic_load(&p.error_offset), strerror(-r));
        }
        return 0;
}

/* The keystream that decrypts the data of a DecryptionBlt or a sample, in
 * locked memory. D3D11: the application encrypts its content key with the
 * session key and passes the ciphertext, W = AES-128-ECB-Encrypt(session
 * key, CK). The driver decrypts it back to CK, which decrypts the data;
 * without a content key, the session key decrypts it. */
static int content_ctr_new(Session *s, const uint8_t *content_key, const uint8_t iv[AES_CTR_IV_SIZE],
                           AesCtr **ret, sd_bus_error *error) {
        SessionSecrets *secrets = secrets_of(s);
        _cleanup_(secure_freep) AesCtr *ctr = NULL;
        _cleanup_(secure_freep) uint8_t *key = NULL;

        ctr = secure_alloc(sizeof(AesCtr));
        key = secure_alloc(SESSION_KEY_SIZE);
        if (!ctr || !key)
                return bus_error_setf(error, -ENOMEM, "out of locked memory for the decryption keys");

        if (content_key)
                aes128_ecb_decrypt_block(secrets->session_key, content_key, key);
        else
                memcpy(key, secrets->session_key, SESSION_KEY_SIZE);
        aes_ctr_init(ctr, key, iv);

        *ret = TAKE_PTR(ctr);
        return 0;
}

int software_decryption_blt(Backend *b, Session *s, Surface *surface, const BltInput *in,
                            const EncryptedBlockInfo *info, const uint8_t *content_key,
                            const uint8_t iv[AES_CTR_IV_SIZE], sd_bus_error *error) {
        _cleanup_(secure_freep) AesCtr *ctr = NULL;
        int r;

        r = content_ctr_new(s, content_key, iv, &ctr, error);
        if (r < 0)
                return r;

        r = decrypt_in_pieces(ctr, info, in, surface->data, error);
        aes_ctr_done(ctr);
        return r;
}

int software_decrypt_sample(Backend *b, Session *s, const uint8_t *content_key, const uint8_t iv[AES_CTR_IV_SIZE],
                            const uint32_t *subsamples, size_t n, const uint8_t *src, size_t size, uint8_t *dst,
                            sd_bus_error *error) {
        _cleanup_(secure_freep) AesCtr *ctr = NULL;
        size_t offset = 0;
        int r;

        r = content_ctr_new(s, content_key, iv, &ctr, error);
        if (r < 0)
                return r;

        if (n == 0) {
                aes_ctr_xor(ctr, dst, src, size);
                aes_ctr_done(ctr);
                return 0;
        }
        /* CENC 'cenc': the encrypted ranges of a sample are one keystream,
         * the clear ranges are skipped without using any of it. */
        for (size_t i = 0; i < n; i++) {
                size_t clear = subsamples[2 * i], encrypted = subsamples[2 * i + 1];

                memcpy(dst + offset, src + offset, clear);
                offset += clear;
                aes_ctr_xor(ctr, dst + offset, src + offset, encrypted);
                offset += encrypted;
        }
        aes_ctr_done(ctr);
        return 0;
}

int software_encryption_blt(Backend *b, Session *s, Surface *surface, const uint8_t iv[AES_CTR_IV_SIZE],
                            uint8_t *out, sd_bus_error *error) {
        SessionSecrets *secrets = secrets_of(s);
        _cleanup_(secure_freep) AesCtr *ctr = NULL;

        ctr = secure_alloc(sizeof(AesCtr));
        if (!ctr)
                return bus_error_setf(error, -ENOMEM, "out of locked memory for the read-back key");

        aes_ctr_init(ctr, secrets->blt_key, iv);
        aes_ctr_xor(ctr, out, surface->data, surface->size);
        aes_ctr_done(ctr);
        return 0;
}

static uint64_t now_100ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 10000000u + (uint64_t) ts.tv_nsec / 100u;
}

int software_execute_hw_protection(Backend *b, Session *s, const HwProtectionCall *call,
                                   HwProtectionResult *ret, sd_bus_error *error) {
        const uint8_t *payload = call->input + call->private_data_size;
        size_t payload_size = call->input_size - call->private_data_size;
        static const char version[] = "keyd " KEYD_VERSION " software TEE";
        const void *out = NULL;
        size_t out_size = 0;
        uint64_t start = now_100ns();

        *ret = (HwProtectionResult) {};

        switch (call->function_id) {
        case TEE_FUNCTION_PASS_THROUGH:
                out = payload, out_size = payload_size;
                break;
        case TEE_FUNCTION_FIRMWARE_VERSION:
                out = version, out_size = strlen(version);
                break;
        default:
                /* The TEE refuses the function; the call itself succeeded. */
                ret->status = (int32_t) KEYD_E_INVALIDARG;
                ret->execution_time_100ns = now_100ns() - start;
                return 0;
        }

        if (out_size > call->max_output_size)
                return bus_error_setf(error, -EINVAL,
                                      "function %u produces %zu bytes of output; max_output_size allows %u",
                                      call->function_id, out_size, call->max_output_size);

        ret->output = malloc(out_size ?: 1);
        if (!ret->output)
                return bus_error_setf(error, -ENOMEM, "out of memory for the function's output");
        memcpy(ret->output, out, out_size);
        ret->output_size = out_size;
        ret->hw_protection_data_size = (uint32_t) out_size;
        ret->private_data_size = 0;
        ret->status = (int32_t) KEYD_S_OK;
        ret->execution_time_100ns = now_100ns() - start;
        return 0;
}
