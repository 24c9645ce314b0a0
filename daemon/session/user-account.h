/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What one user (uid) holds in keyd over all of its connections: sessions,
 * and memory charged to it (surfaces, in whole locked pages). A user opening
 * more connections gets no more than --max-sessions-per-user and
 * --max-memory-per-user, so that no user can take what keyd has for all of
 * them. An account lives as long as a connection of its user does. */

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Manager Manager;

typedef struct UserAccount {
        Manager *manager;
        uid_t uid;
        unsigned n_refs;
        unsigned n_sessions;
        uint64_t memory_bytes;
} UserAccount;

/* uid's account, made on first use; one reference for the caller. */
int user_account_ref(Manager *m, uid_t uid, UserAccount **ret);
/* Drop a reference; the account goes with the last one. Returns NULL. */
UserAccount *user_account_unref(UserAccount *a);

/* Room for one more session of this user, or OutOfMemory in error. */
int user_account_check_session(UserAccount *a, sd_bus_error *error);
/* Charge bytes (already in whole pages where it is locked memory) for what,
 * or OutOfMemory in error when the user's --max-memory-per-user would be
 * passed. */
int user_account_charge(UserAccount *a, uint64_t bytes, const char *what, sd_bus_error *error);
void user_account_uncharge(UserAccount *a, uint64_t bytes);
