/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the session calls of libkeyd (session.c, session-data.c,
 * hw-protection.c) share besides client-internal.h: the table of surfaces,
 * and the HW_PROTECTION form of NegotiateCryptoSessionKeyExchange that
 * session.c hands over to. */

#include "client-internal.h"

/* A memfd holding a copy of data, sealed against writes, shrinking and
 * growing as keyd requires. Returns the fd or a negative errno. */
int memfd_new_sealed(const void *data, size_t size);

struct keyd_surface_size {
        uint32_t id;
        uint32_t size;
};

/* keyd_negotiate_crypto_session_key_exchange() on a HW_PROTECTION session:
 * pData is a keyd_key_exchange_hw_protection_data. */
HRESULT keyd_hw_protection_negotiate(keyd_crypto_session *session, uint32_t DataSize, void *pData);

/* Its three steps that touch no bus (tests/fuzz/fuzz-hw-protection drives
 * them): check the caller's structures (the input's size in
 * *ret_input_size); append ExecuteHWProtectionFunction's arguments to m from
 * them; read keyd's reply into them, writing nothing unless it fits. */
HRESULT keyd_hw_protection_check_args(uint32_t DataSize, const void *pData, uint64_t *ret_input_size);
int keyd_hw_protection_append_call(sd_bus_message *m, const keyd_key_exchange_hw_protection_data *data,
                                   uint64_t input_size);
HRESULT keyd_hw_protection_apply_reply(sd_bus_message *reply, keyd_key_exchange_hw_protection_data *data,
                                       uint64_t round_trip, const char *method);
