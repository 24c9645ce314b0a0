/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The software backend's data path: key refresh, the read-back key,
 * DecryptionBlt/EncryptionBlt on protected surfaces, and the small TEE
 * behind ExecuteHWProtectionFunction. */

#include "backend/backend.h"

int software_start_key_refresh(Backend *b, Session *s, uint8_t random[AES_CTR_KEY_SIZE], sd_bus_error *error);
int software_finish_key_refresh(Backend *b, Session *s, sd_bus_error *error);
void software_drop_key(Backend *b, Session *s);
int software_get_encryption_blt_key(Backend *b, Session *s, uint8_t out[AES_CTR_KEY_SIZE], sd_bus_error *error);
int software_decryption_blt(Backend *b, Session *s, Surface *surface, const uint8_t *data, size_t size,
                            const EncryptedBlockInfo *info, const uint8_t *content_key,
                            const uint8_t iv[AES_CTR_IV_SIZE], sd_bus_error *error);
int software_encryption_blt(Backend *b, Session *s, Surface *surface, const uint8_t iv[AES_CTR_IV_SIZE],
                            uint8_t *out, sd_bus_error *error);
int software_decrypt_sample(Backend *b, Session *s, const uint8_t *content_key, const uint8_t iv[AES_CTR_IV_SIZE],
                            const uint32_t *subsamples, size_t n, const uint8_t *src, size_t size, uint8_t *dst,
                            sd_bus_error *error);
int software_execute_hw_protection(Backend *b, Session *s, const HwProtectionCall *call,
                                   HwProtectionResult *ret, sd_bus_error *error);
