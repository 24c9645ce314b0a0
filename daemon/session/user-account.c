/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <search.h>
#include <stdlib.h>

#include "bus/bus-error.h"
#include "manager.h"
#include "user-account.h"

static int compare_uid(const void *a, const void *b) {
        uid_t x = ((const UserAccount *) a)->uid, y = ((const UserAccount *) b)->uid;
        return x < y ? -1 : x > y;
}

int user_account_ref(Manager *m, uid_t uid, UserAccount **ret) {
        UserAccount key = { .uid = uid }, *a, **found;

        found = tfind(&key, &m->user_accounts, compare_uid);
        if (found) {
                (*found)->n_refs++;
                *ret = *found;
                return 0;
        }

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        *a = (UserAccount) { .manager = m, .uid = uid, .n_refs = 1 };
        if (!tsearch(a, &m->user_accounts, compare_uid)) {
                free(a);
                return -ENOMEM;
        }
        *ret = a;
        return 0;
}

UserAccount *user_account_unref(UserAccount *a) {
        if (!a)
                return NULL;
        if (--a->n_refs > 0)
                return NULL;

        tdelete(a, &a->manager->user_accounts, compare_uid);
        free(a);
        return NULL;
}

int user_account_check_session(UserAccount *a, sd_bus_error *error) {
        unsigned max = a->manager->config.max_sessions_per_user;

        if (a->n_sessions >= max)
                return bus_error_setf(error, -EUSERS,
                                      "uid %u already has %u open crypto sessions over all its connections, the "
                                      "most keyd gives one user (--max-sessions-per-user); close sessions first",
                                      (unsigned) a->uid, a->n_sessions);
        return 0;
}

int user_account_charge(UserAccount *a, uint64_t bytes, const char *what, sd_bus_error *error) {
        uint64_t max = a->manager->config.max_memory_per_user;

        if (bytes > max || a->memory_bytes > max - bytes)
                return bus_error_setf(error, -EDQUOT,
                                      "%s would bring uid %u to %" PRIu64 " bytes of keyd's memory over all its "
                                      "connections; one user may have at most %" PRIu64
                                      " (--max-memory-per-user); destroy surfaces first",
                                      what, (unsigned) a->uid, a->memory_bytes + bytes, max);
        a->memory_bytes += bytes;
        return 0;
}

void user_account_uncharge(UserAccount *a, uint64_t bytes) {
        a->memory_bytes -= bytes;
}
