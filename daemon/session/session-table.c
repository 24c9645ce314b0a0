/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <search.h>

#include "session-table.h"
#include "session.h"

static int compare_session_id(const void *a, const void *b) {
        const Session *x = a, *y = b;
        return x->id < y->id ? -1 : x->id > y->id;
}

uint64_t session_table_next_id(SessionTable *t) {
        return ++t->next_id;
}

int session_table_add(SessionTable *t, Session *s) {
        Session **found = tsearch(s, &t->root, compare_session_id);
        if (!found)
                return -ENOMEM;
        if (*found != s)
                return -EEXIST;
        t->count++;
        return 0;
}

void session_table_remove(SessionTable *t, Session *s) {
        if (tfind(s, &t->root, compare_session_id) && tdelete(s, &t->root, compare_session_id))
                t->count--;
}

Session *session_table_get(SessionTable *t, uint64_t id) {
        Session key = { .id = id };
        Session **found = tfind(&key, &t->root, compare_session_id);
        return found ? *found : NULL;
}

typedef struct VisitContext {
        session_table_visit_t visit;
        void *userdata;
} VisitContext;

static void visit_node(const void *node, VISIT which, void *closure) {
        VisitContext *c = closure;
        /* Every node is seen once as postorder (inner) or leaf. */
        if (which == postorder || which == leaf)
                c->visit(*(Session *const *) node, c->userdata);
}

void session_table_foreach(SessionTable *t, session_table_visit_t visit, void *userdata) {
        VisitContext c = { visit, userdata };
        twalk_r(t->root, visit_node, &c);
}
