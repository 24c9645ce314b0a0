/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl --json output (keydctl-json.h). Strings are escaped as RFC 8259
 * asks: quote, backslash and every control character. */

#include <inttypes.h>

#include "keydctl-json.h"

void json_begin(Json *j, FILE *f) {
        *j = (Json) { .f = f };
}

void json_end(Json *j) {
        fputc('\n', j->f);
}

static void write_escaped(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        fputc('"', f);
}

/* The comma before every member but the first, and the member's name. */
static void member(Json *j, const char *key) {
        if (j->has_members[j->depth])
                fputc(',', j->f);
        j->has_members[j->depth] = true;
        if (key) {
                write_escaped(j->f, key);
                fputc(':', j->f);
        }
}

static void open_container(Json *j, const char *key, char c) {
        member(j, key);
        fputc(c, j->f);
        /* Deeper documents than keydctl writes are a bug here, not input. */
        if (j->depth + 1 < JSON_MAX_DEPTH)
                j->depth++;
        j->has_members[j->depth] = false;
}

static void close_container(Json *j, char c) {
        fputc(c, j->f);
        if (j->depth > 0)
                j->depth--;
}

void json_object_open(Json *j, const char *key) {
        open_container(j, key, '{');
}

void json_object_close(Json *j) {
        close_container(j, '}');
}

void json_array_open(Json *j, const char *key) {
        open_container(j, key, '[');
}

void json_array_close(Json *j) {
        close_container(j, ']');
}

void json_string(Json *j, const char *key, const char *value) {
        member(j, key);
        if (value)
                write_escaped(j->f, value);
        else
                fputs("null", j->f);
}

void json_uint(Json *j, const char *key, uint64_t value) {
        member(j, key);
        fprintf(j->f, "%" PRIu64, value);
}

void json_bool(Json *j, const char *key, bool value) {
        member(j, key);
        fputs(value ? "true" : "false", j->f);
}
