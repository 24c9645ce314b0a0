/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <string.h>
#include <sys/random.h>

#include "bus/bus-error.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "session-data.h"
#include "session.h"
#include "surface.h"

#define BLOCK_ALIGNMENT 16u

static Backend *backend_of(Session *s) {
        return s->manager->backend;
}

/* D3D11 forbids the certificate, Blt and refresh methods on HW_PROTECTION sessions. */
static int require_rsa_session(Session *s, const char *method, sd_bus_error *error) {
        if (key_exchange_is_rsaes_oaep(s->key_exchange))
                return 0;
        return bus_error_setf(error, -EBADRQC,
                              "%s is not allowed on a session created with D3D11_KEY_EXCHANGE_HW_PROTECTION; "
                              "such sessions use ExecuteHWProtectionFunction",
                              method);
}

/* The method needs a live session key. */
static int require_key(Session *s, const char *method, sd_bus_error *error) {
        int r;

        r = require_rsa_session(s, method, error);
        if (r < 0)
                return r;
        if (!s->negotiated)
                return bus_error_setf(error, -EBADRQC,
                                      "%s needs a session key; call NegotiateCryptoSessionKeyExchange first",
                                      method);
        if (s->status != KEYD_CRYPTO_SESSION_STATUS_OK)
                return bus_error_setf(error, -EBADRQC,
                                      "%s: this session's key was lost (CheckCryptoSessionStatus reports %u); "
                                      "negotiate a new key with NegotiateCryptoSessionKeyExchange",
                                      method, (unsigned) s->status);
        return 0;
}

static int require_size(const char *what, size_t size, size_t expected, sd_bus_error *error) {
        if (size == expected)
                return 0;
        return bus_error_setf(error, -EINVAL, "%s is %zu bytes; it must be exactly %zu", what, size, expected);
}

void session_lose_key(Session *s, const char *why) {
        Backend *b = backend_of(s);

        s->refresh_timer = sd_event_source_disable_unref(s->refresh_timer);
        b->ops->drop_key(b, s);
        s->status = KEYD_CRYPTO_SESSION_STATUS_KEY_LOST;
        log_notice("Session %" PRIu64 " of %s (uid %u, pid %i): key lost: %s.", s->id, s->client->name,
                   (unsigned) s->client->uid, (int) s->client->pid, why);
}

static int on_refresh_abandoned(sd_event_source *source, uint64_t usec, void *userdata) {
        Session *s = userdata;

        /* Client and daemon may now disagree about which key is live: drop it
         * rather than decrypt with the wrong one. */
        session_lose_key(s, "StartSessionKeyRefresh was not followed by FinishSessionKeyRefresh in time");
        return 0;
}

static int arm_refresh_timer(Session *s, sd_bus_error *error) {
        uint64_t timeout = s->manager->config.key_refresh_timeout_usec;
        int r;

        s->refresh_timer = sd_event_source_disable_unref(s->refresh_timer);
        r = sd_event_add_time_relative(s->manager->event, &s->refresh_timer, CLOCK_MONOTONIC, timeout, 0,
                                       on_refresh_abandoned, s);
        if (r < 0)
                return bus_error_setf(error, r, "cannot arm the key refresh timer: %s", strerror(-r));
        return 0;
}

int session_start_key_refresh(Session *s, uint32_t random_size, uint8_t out[AES_CTR_KEY_SIZE],
                              sd_bus_error *error) {
        Backend *b = backend_of(s);
        int r;

        r = require_key(s, "StartSessionKeyRefresh", error);
        if (r < 0)
                return r;
        r = require_size("random_number_size", random_size, AES_CTR_KEY_SIZE, error);
        if (r < 0)
                return r;

        r = b->ops->start_key_refresh(b, s, out, error);
        if (r < 0)
                return r;
        return arm_refresh_timer(s, error);
}

int session_finish_key_refresh(Session *s, sd_bus_error *error) {
        Backend *b = backend_of(s);
        int r;

        r = require_key(s, "FinishSessionKeyRefresh", error);
        if (r < 0)
                return r;
        if (!s->refresh_timer)
                return bus_error_setf(error, -EBADRQC,
                                      "FinishSessionKeyRefresh without StartSessionKeyRefresh; call "
                                      "StartSessionKeyRefresh first");

        r = b->ops->finish_key_refresh(b, s, error);
        if (r < 0)
                return r;
        s->refresh_timer = sd_event_source_disable_unref(s->refresh_timer);
        log_debug("Session %" PRIu64 ": session key refreshed.", s->id);
        return 0;
}

int session_get_encryption_blt_key(Session *s, uint32_t key_size, uint8_t out[AES_CTR_KEY_SIZE],
                                   sd_bus_error *error) {
        Backend *b = backend_of(s);
        int r;

        r = require_key(s, "GetEncryptionBltKey", error);
        if (r < 0)
                return r;
        r = require_size("key_size", key_size, AES_CTR_KEY_SIZE, error);
        if (r < 0)
                return r;

        return b->ops->get_encryption_blt_key(b, s, out, error);
}

int session_create_surface(Session *s, uint32_t size, uint32_t *ret_id, sd_bus_error *error) {
        Surface *surface = NULL;
        int r;

        r = require_rsa_session(s, "CreateSurface", error);
        if (r < 0)
                return r;
        if (size % BLOCK_ALIGNMENT != 0)
                return bus_error_setf(error, -EINVAL,
                                      "size is %" PRIu32 " bytes; surfaces are a multiple of the %u-byte block "
                                      "alignment (BlockAlignmentSize)",
                                      size, BLOCK_ALIGNMENT);

        r = surface_new(s, size, &surface, error);
        if (r < 0)
                return r;
        *ret_id = surface->id;
        return 0;
}

int session_destroy_surface(Session *s, uint32_t id, sd_bus_error *error) {
        Surface *surface = NULL;
        int r;

        r = surface_get(s, id, &surface, error);
        if (r < 0)
                return r;
        surface_free(surface);
        return 0;
}

static int check_block_info(const EncryptedBlockInfo *info, sd_bus_error *error) {
        if (info->encrypted_bytes_at_beginning % BLOCK_ALIGNMENT != 0 ||
            info->bytes_in_skip_pattern % BLOCK_ALIGNMENT != 0 ||
            info->bytes_in_encrypt_pattern % BLOCK_ALIGNMENT != 0)
                return bus_error_setf(error, -EINVAL,
                                      "block_info is (%" PRIu32 ", %" PRIu32 ", %" PRIu32 "); each count must be "
                                      "a multiple of the %u-byte block alignment (BlockAlignmentSize)",
                                      info->encrypted_bytes_at_beginning, info->bytes_in_skip_pattern,
                                      info->bytes_in_encrypt_pattern, BLOCK_ALIGNMENT);
        return 0;
}

static int check_decryption_blt(Session *s, const DecryptionBltArgs *args, Surface **ret_surface,
                                sd_bus_error *error) {
        Surface *surface = NULL;
        int r;

        r = require_key(s, "DecryptionBlt", error);
        if (r < 0)
                return r;
        r = surface_get(s, args->surface, &surface, error);
        if (r < 0)
                return r;
        if (args->data_size == 0)
                return bus_error_setf(error, -EINVAL, "data is empty; DecryptionBlt needs at least %u bytes",
                                      BLOCK_ALIGNMENT);
        if (args->data_size % BLOCK_ALIGNMENT != 0)
                return bus_error_setf(error, -EINVAL,
                                      "data is %zu bytes; it must be a multiple of the %u-byte block alignment "
                                      "(BlockAlignmentSize)",
                                      args->data_size, BLOCK_ALIGNMENT);
        if (args->data_size > surface->size)
                return bus_error_setf(error, -EINVAL, "data is %zu bytes; surface %" PRIu32 " holds %zu",
                                      args->data_size, args->surface, surface->size);
        r = check_block_info(&args->block_info, error);
        if (r < 0)
                return r;
        if (args->content_key_size != 0) {
                r = require_size("content_key", args->content_key_size, AES_CTR_KEY_SIZE, error);
                if (r < 0)
                        return r;
        }
        r = require_size("iv", args->iv_size, AES_CTR_IV_SIZE, error);
        if (r < 0)
                return r;

        *ret_surface = surface;
        return 0;
}

int session_decryption_blt(Session *s, const DecryptionBltArgs *args, sd_bus_error *error) {
        Backend *b = backend_of(s);
        Surface *surface = NULL;
        int r;

        r = check_decryption_blt(s, args, &surface, error);
        if (r < 0)
                return r;

        return b->ops->decryption_blt(b, s, surface,
                                      &(const BltInput) { .data = args->data, .fd = args->data_fd,
                                                          .size = args->data_size,
                                                          .helpers = s->manager->workers },
                                      &args->block_info,
                                      args->content_key_size ? args->content_key : NULL, args->iv, error);
}

int session_check_encryption_blt(Session *s, uint32_t id, const char *method, size_t *ret_size,
                                 sd_bus_error *error) {
        Surface *surface = NULL;
        int r;

        r = require_key(s, method, error);
        if (r < 0)
                return r;
        r = surface_get(s, id, &surface, error);
        if (r < 0)
                return r;

        *ret_size = surface->size;
        return 0;
}

/* The IV member for this read-back: random for the session's first, then
 * the last one plus one (wrapping), so that no (K_blt, IV) pair repeats
 * within a session whatever key is current. */
static int next_readback_iv(Session *s, uint64_t *ret, sd_bus_error *error) {
        uint64_t v;
        ssize_t n;

        if (s->readback_iv_drawn) {
                *ret = s->readback_iv + 1;
                return 0;
        }
        n = getrandom(&v, sizeof(v), 0);
        if (n != (ssize_t) sizeof(v))
                return bus_error_setf(error, n < 0 ? -errno : -EIO, "cannot draw a random read-back IV");
        *ret = v;
        return 0;
}

int session_encryption_blt(Session *s, uint32_t id, const char *method, uint8_t *out,
                           uint8_t ret_iv[AES_CTR_IV_SIZE], sd_bus_error *error) {
        Backend *b = backend_of(s);
        Surface *surface = NULL;
        uint8_t iv[AES_CTR_IV_SIZE] = {};
        uint64_t member = 0;
        size_t size;
        int r;

        r = session_check_encryption_blt(s, id, method, &size, error);
        if (r < 0)
                return r;
        r = surface_get(s, id, &surface, error);
        if (r < 0)
                return r;
        r = next_readback_iv(s, &member, error);
        if (r < 0)
                return r;

        /* D3D11_AES_CTR_IV: the IV member, then Count 0, both big-endian. */
        for (unsigned i = 0; i < 8; i++)
                iv[i] = (uint8_t) (member >> (56 - 8 * i));

        r = b->ops->encryption_blt(b, s, surface, iv, out, error);
        if (r < 0)
                return r;

        /* Used now, whatever happens to the reply. */
        s->readback_iv = member;
        s->readback_iv_drawn = true;
        memcpy(ret_iv, iv, AES_CTR_IV_SIZE);
        return 0;
}

int session_execute_hw_protection(Session *s, const HwProtectionCall *call, HwProtectionResult *ret,
                                  sd_bus_error *error) {
        Backend *b = backend_of(s);

        if (s->key_exchange != KEY_EXCHANGE_HW_PROTECTION)
                return bus_error_setf(error, -EBADRQC,
                                      "ExecuteHWProtectionFunction is only allowed on sessions created with "
                                      "D3D11_KEY_EXCHANGE_HW_PROTECTION; this one uses RSAES-OAEP");
        if (call->private_data_size > call->input_size)
                return bus_error_setf(error, -EINVAL,
                                      "private_data_size is %" PRIu32 " but input holds only %zu bytes; the "
                                      "private data is the start of input",
                                      call->private_data_size, call->input_size);

        return b->ops->execute_hw_protection(b, s, call, ret, error);
}
