/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl sessions: the sessions keyd holds, read from its objects the way
 * busctl would (introspection for the list, properties for the details).
 * Sessions are readable by anyone; only their owner may call them. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "client-internal.h"
#include "keydctl-json.h"
#include "keydctl.h"

typedef struct SessionInfo {
        char *path;
        uint64_t handle;
        char *owner;
        uint32_t owner_uid;
        char *key_exchange;
        uint32_t status;
} SessionInfo;

static void session_info_done(SessionInfo *i) {
        free(i->path);
        free(i->owner);
        free(i->key_exchange);
}

static void strv_freep(char ***p) {
        if (*p)
                for (char **s = *p; *s; s++)
                        free(*s);
        free(*p);
}

/* The names of the child nodes in introspection XML (<node name="..."/>). */
static int child_nodes(const char *xml, char ***ret) {
        static const char tag[] = "<node name=\"";
        _cleanup_(strv_freep) char **names = NULL;
        size_t n = 0;

        for (const char *p = strstr(xml, tag); p; p = strstr(p, tag)) {
                const char *start = p + strlen(tag), *end = strchr(start, '"');
                char **grown;

                if (!end)
                        break;
                grown = realloc(names, (n + 2) * sizeof(char *));
                if (!grown)
                        return -ENOMEM;
                names = grown;
                names[n] = strndup(start, end - start);
                names[n + 1] = NULL;
                if (!names[n])
                        return -ENOMEM;
                n++;
                p = end;
        }
        if (!names) {
                names = calloc(1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(names);
        return (int) n;
}

static int compare_names(const void *a, const void *b) {
        return strverscmp(*(char *const *) a, *(char *const *) b);
}

static int read_session(sd_bus *bus, uint64_t timeout, const char *path, SessionInfo *info,
                        sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                           "GetAll");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", KEYD_SESSION_INTERFACE);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, timeout, error, &reply);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r <= 0)
                return -EBADMSG;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name, *contents, *s;

                r = sd_bus_message_read(reply, "s", &name);
                if (r <= 0)
                        return -EBADMSG;
                r = sd_bus_message_peek_type(reply, NULL, &contents);
                if (r <= 0)
                        return -EBADMSG;

                if (streq(name, "Handle") && streq(contents, "t"))
                        r = sd_bus_message_read(reply, "v", "t", &info->handle);
                else if (streq(name, "OwnerUID") && streq(contents, "u"))
                        r = sd_bus_message_read(reply, "v", "u", &info->owner_uid);
                else if (streq(name, "Status") && streq(contents, "u"))
                        r = sd_bus_message_read(reply, "v", "u", &info->status);
                else if ((streq(name, "Owner") || streq(name, "KeyExchangeType")) && streq(contents, "s")) {
                        char **target = streq(name, "Owner") ? &info->owner : &info->key_exchange;

                        r = sd_bus_message_read(reply, "v", "s", &s);
                        if (r > 0) {
                                free(*target);
                                *target = strdup(s);
                                if (!*target)
                                        return -ENOMEM;
                        }
                } else
                        r = sd_bus_message_skip(reply, "v");
                if (r <= 0)
                        return -EBADMSG;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return -EBADMSG;
        }
        if (r < 0)
                return -EBADMSG;
        return 0;
}

static const char *key_exchange_name(const char *s, char buf[static KEYD_GUID_STRING_SIZE]) {
        keyd_guid g;

        if (!s)
                return "-";
        if (KEYD_FAILED(keyd_guid_from_string(s, &g)))
                return s;
        return keydctl_guid_name(&g, buf);
}

static void print_json_session(Json *j, const SessionInfo *info) {
        char buf[KEYD_GUID_STRING_SIZE], handle[sizeof("0x") + 16];

        /* A string: JSON readers that hold numbers as doubles (jq,
         * JavaScript) would round a 64-bit handle. */
        snprintf(handle, sizeof(handle), "0x%016" PRIx64, info->handle);
        json_object_open(j, NULL);
        json_string(j, "path", info->path);
        json_string(j, "handle", handle);
        json_string(j, "owner", info->owner);
        json_uint(j, "owner_uid", info->owner_uid);
        json_string(j, "key_exchange_type", info->key_exchange);
        json_string(j, "key_exchange_name", info->key_exchange ? key_exchange_name(info->key_exchange, buf) : NULL);
        json_uint(j, "status", info->status);
        json_string(j, "status_name", keydctl_status_name(info->status));
        json_object_close(j);
}

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

static int list_sessions(sd_bus *bus, uint64_t timeout, bool json) {
        _cleanup_free_ char *json_text = NULL;
        size_t json_size = 0;
        _cleanup_(fclosep) FILE *json_stream = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(strv_freep) char **names = NULL;
        const char *xml;
        unsigned shown = 0;
        Json j;
        int n, r;

        r = sd_bus_message_new_method_call(bus, &m, KEYD_BUS_NAME, KEYD_SESSION_PATH_PREFIX,
                                           "org.freedesktop.DBus.Introspectable", "Introspect");
        if (r >= 0)
                r = sd_bus_call(bus, m, timeout, &error, &reply);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT))
                /* No session object has ever been there. */
                xml = "";
        else if (r < 0)
                return keydctl_fail(keyd_fail_call(KEYD_CALL_MANAGER, r, &error, "Introspect"),
                                    "cannot list the sessions");
        else if (sd_bus_message_read(reply, "s", &xml) <= 0)
                return keydctl_fail(keyd_set_last_error(KEYD_E_FAIL, "Introspect: the reply is not a string"),
                                    "cannot list the sessions");

        n = child_nodes(xml, &names);
        if (n < 0)
                return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot list the sessions");
        qsort(names, n, sizeof(char *), compare_names);

        if (json) {
                /* The document goes out whole or not at all: a failure half
                 * way must not leave half an array on stdout. */
                json_stream = open_memstream(&json_text, &json_size);
                if (!json_stream)
                        return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot list the sessions");
                json_begin(&j, json_stream);
                json_array_open(&j, NULL);
        } else
                printf("%-36s %-18s %-10s %6s %-38s %s\n", "PATH", "HANDLE", "OWNER", "UID", "KEY EXCHANGE",
                       "STATUS");
        for (int i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error session_error = SD_BUS_ERROR_NULL;
                SessionInfo info = {};
                char buf[KEYD_GUID_STRING_SIZE];

                if (asprintf(&info.path, "%s/%s", KEYD_SESSION_PATH_PREFIX, names[i]) < 0)
                        return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot list the sessions");

                r = read_session(bus, timeout, info.path, &info, &session_error);
                if (r < 0 && sd_bus_error_has_name(&session_error, SD_BUS_ERROR_UNKNOWN_OBJECT)) {
                        /* Closed while we were looking. */
                        session_info_done(&info);
                        continue;
                }
                if (r < 0) {
                        HRESULT hr = sd_bus_error_is_set(&session_error)
                                             ? keyd_fail_call(KEYD_CALL_MANAGER, r, &session_error, "GetAll")
                                             : keyd_fail_reply("GetAll", r);
                        keydctl_error("cannot read %s\n", info.path);
                        session_info_done(&info);
                        return keydctl_fail(hr, "cannot list the sessions");
                }

                if (json)
                        print_json_session(&j, &info);
                else
                        printf("%-36s 0x%016" PRIx64 " %-10s %6" PRIu32 " %-38s %s\n", info.path, info.handle,
                               info.owner ?: "-", info.owner_uid, key_exchange_name(info.key_exchange, buf),
                               keydctl_status_name(info.status));
                shown++;
                session_info_done(&info);
        }
        if (json) {
                json_array_close(&j);
                json_end(&j);
                if (fflush(json_stream) != 0)
                        return keydctl_fail(KEYD_E_OUTOFMEMORY, "cannot list the sessions");
                fwrite(json_text, 1, json_size, stdout);
        } else
                printf("\n%u session%s.\n", shown, shown == 1 ? "" : "s");
        return 0;
}

int verb_sessions(const Keydctl *ctl, int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = keydctl_open_bus(ctl, &bus);
        if (r < 0)
                return r;
        return list_sessions(bus, ctl->timeout_usec ?: KEYD_DEFAULT_TIMEOUT_USEC, ctl->json);
}
