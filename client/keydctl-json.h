/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small JSON writer for keydctl --json: one document on one line, in
 * the order the caller writes it. key is the member name inside an object
 * and NULL inside an array or at the top. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 8

typedef struct Json {
        FILE *f;
        unsigned depth;
        bool has_members[JSON_MAX_DEPTH];
} Json;

void json_begin(Json *j, FILE *f);
/* Ends the document with a newline. */
void json_end(Json *j);
void json_object_open(Json *j, const char *key);
void json_object_close(Json *j);
void json_array_open(Json *j, const char *key);
void json_array_close(Json *j);
/* NULL writes null. */
void json_string(Json *j, const char *key, const char *value);
void json_uint(Json *j, const char *key, uint64_t value);
void json_bool(Json *j, const char *key, bool value);
