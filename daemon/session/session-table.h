/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Every open session of the daemon, by id (the last element of its object
 * path). A balanced tree (glibc tsearch): O(log n) lookups for the bus
 * layer's object lookups, and in-order walks for the node enumerator. */

#include <stddef.h>
#include <stdint.h>

typedef struct Session Session;

typedef struct SessionTable {
        void *root;
        size_t count;
        uint64_t next_id;
} SessionTable;

/* A fresh id, never 0, never reused while the daemon runs. */
uint64_t session_table_next_id(SessionTable *t);
int session_table_add(SessionTable *t, Session *s);
void session_table_remove(SessionTable *t, Session *s);
Session *session_table_get(SessionTable *t, uint64_t id);

typedef void (*session_table_visit_t)(Session *s, void *userdata);
/* In id order. The visitor must not change the table. */
void session_table_foreach(SessionTable *t, session_table_visit_t visit, void *userdata);
