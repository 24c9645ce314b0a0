/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Registration of keyd's two D-Bus interfaces. */

#include <systemd/sd-bus.h>

typedef struct Manager Manager;

int manager_bus_register(Manager *m);
int session_bus_register(Manager *m);
/* org.keyd.KeyBroker1.VideoDecoder on .../session/<id>/decoder/<n> */
int decoder_bus_register(Manager *m);
/* CryptoSession.CreateVideoDecoder (daemon/bus/decoder-bus.c) */
int method_create_video_decoder(sd_bus_message *message, void *userdata, sd_bus_error *error);
/* PropertiesChanged for SessionCount, after a session came or went. */
void manager_bus_emit_session_count(Manager *m);

/* Bound on one `ay` argument or result (contract section 4). */
#define KEYD_AY_MAX (16u * 1024u * 1024u)
