/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The session's data path, as the bus sees it: argument rules and call
 * order (contract sections 4 and 7), then the backend does the work. */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "aes-ctr.h"
#include "backend/backend.h"

typedef struct Session Session;

int session_start_key_refresh(Session *s, uint32_t random_size, uint8_t out[AES_CTR_KEY_SIZE],
                              sd_bus_error *error);
int session_finish_key_refresh(Session *s, sd_bus_error *error);
int session_get_encryption_blt_key(Session *s, uint32_t key_size, uint8_t out[AES_CTR_KEY_SIZE],
                                   sd_bus_error *error);
int session_create_surface(Session *s, uint32_t size, uint32_t *ret_id, sd_bus_error *error);
int session_destroy_surface(Session *s, uint32_t id, sd_bus_error *error);

typedef struct DecryptionBltArgs {
        uint32_t surface;
        const uint8_t *data;          /* the ay form; NULL for the Fd form */
        int data_fd;                  /* the Fd form: a memfd memfd_check_sealed_layout() passed (the
                                       * backend checks it for holes); else -1 */
        size_t data_size;
        EncryptedBlockInfo block_info;
        const uint8_t *content_key;
        size_t content_key_size;      /* 0 (none) or 16 */
        const uint8_t *iv;
        size_t iv_size;               /* 16 */
} DecryptionBltArgs;

int session_decryption_blt(Session *s, const DecryptionBltArgs *args, sd_bus_error *error);

/* The surface's size, after checking the session may read it back;
 * method names the bus method in error messages. */
int session_check_encryption_blt(Session *s, uint32_t surface, const char *method, size_t *ret_size,
                                 sd_bus_error *error);
/* Encrypt the surface with the read-back key into out (room for the
 * surface's size, session_check_encryption_blt) under an IV keyd chooses,
 * returned in ret_iv (a D3D11_AES_CTR_IV): the session's first read-back
 * gets a random IV member, each later one the previous plus one, Count 0. */
int session_encryption_blt(Session *s, uint32_t surface, const char *method, uint8_t *out,
                           uint8_t ret_iv[AES_CTR_IV_SIZE], sd_bus_error *error);

int session_execute_hw_protection(Session *s, const HwProtectionCall *call, HwProtectionResult *ret,
                                  sd_bus_error *error);

/* Forget the key (refresh abandoned, backend reset): status KEY_LOST. */
void session_lose_key(Session *s, const char *why);
