/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* NegotiateCryptoSessionKeyExchange: the one RSA private-key operation of a
 * session. With a worker pool (keyd --workers, one per core by default) the
 * unwrap runs off the bus thread and the reply goes out when it is done;
 * the session is looked up again by id then, since its owner may have
 * closed it or gone away meanwhile. */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Session Session;

/* Answers message (now or once a worker is done) and returns >= 0, or
 * returns < 0 with error set and nothing sent. data stays valid as long as
 * message is referenced. */
int session_negotiate(Session *s, sd_bus_message *message, const uint8_t *data, size_t size,
                      sd_bus_error *error);

/* The one error for every ciphertext that does not carry a 16-byte key
 * (Manger's attack: bad padding, wrong hash, integer >= n, other length
 * all look the same). -ENOMEM stays what it is. */
int session_key_exchange_failed(Session *s, int r, sd_bus_error *error);
