/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Registration of keyd's two D-Bus interfaces. */

typedef struct Manager Manager;

int manager_bus_register(Manager *m);
int session_bus_register(Manager *m);
/* PropertiesChanged for SessionCount, after a session came or went. */
void manager_bus_emit_session_count(Manager *m);

/* Bound on one `ay` argument or result (contract section 4). */
#define KEYD_AY_MAX (16u * 1024u * 1024u)
