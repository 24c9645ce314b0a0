/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the data-path calls of libkeyd (session-data.c, hw-protection.c)
 * share: the preamble of a call on a session, and the HW_PROTECTION form of
 * NegotiateCryptoSessionKeyExchange that session.c hands over to. */

#include "client-internal.h"

struct keyd_surface_size {
        uint32_t id;
        uint32_t size;
};

HRESULT keyd_session_fail_null(const char *function, const char *what);
HRESULT keyd_session_fail_reply(const char *method, int r);
/* With the client's lock held: DXGI_ERROR_DEVICE_REMOVED once the session's
 * client was closed (keyd destroyed the session with the connection). */
HRESULT keyd_session_check_open(keyd_crypto_session *s, const char *method);
/* A method call on the session object, addressed to the keyd that made it. */
int keyd_session_new_call(keyd_crypto_session *s, sd_bus_message **ret, const char *method);

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
