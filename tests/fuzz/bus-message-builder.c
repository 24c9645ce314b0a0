/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dbus/dbus.h>

#include "bus-message-builder.h"
#include "keyd-error.h"
#include "macro.h"

typedef struct Method {
        const char *interface;
        const char *member;
        const char *signature;
} Method;

#define PROPERTIES "org.freedesktop.DBus.Properties"
#define KEYD_DECODER_INTERFACE "org.keyd.KeyBroker1.VideoDecoder"

/* Everything keyd serves (contract sections 3 and 4) and what sd-bus adds. */
static const Method methods[] = {
        { KEYD_MANAGER_INTERFACE, "GetContentProtectionCaps", "ss" },
        { KEYD_MANAGER_INTERFACE, "CheckCryptoKeyExchange", "ssu" },
        { KEYD_MANAGER_INTERFACE, "GetCryptoSessionPrivateDataSize", "sss" },
        { KEYD_MANAGER_INTERFACE, "CreateCryptoSession", "sss" },
        { KEYD_SESSION_INTERFACE, "GetCertificate", "" },
        { KEYD_SESSION_INTERFACE, "NegotiateCryptoSessionKeyExchange", "ay" },
        { KEYD_SESSION_INTERFACE, "ExecuteHWProtectionFunction", "uuayu" },
        { KEYD_SESSION_INTERFACE, "StartSessionKeyRefresh", "u" },
        { KEYD_SESSION_INTERFACE, "FinishSessionKeyRefresh", "" },
        { KEYD_SESSION_INTERFACE, "GetEncryptionBltKey", "u" },
        { KEYD_SESSION_INTERFACE, "CreateSurface", "u" },
        { KEYD_SESSION_INTERFACE, "DestroySurface", "u" },
        { KEYD_SESSION_INTERFACE, "DecryptionBlt", "uay(uuu)ayay" },
        { KEYD_SESSION_INTERFACE, "DecryptionBltFd", "uh(uuu)ayay" },
        { KEYD_SESSION_INTERFACE, "EncryptionBlt", "u" },
        { KEYD_SESSION_INTERFACE, "EncryptionBltToFd", "uh" },
        { KEYD_SESSION_INTERFACE, "CheckCryptoSessionStatus", "" },
        { KEYD_SESSION_INTERFACE, "Close", "" },
        { KEYD_SESSION_INTERFACE, "CreateVideoDecoder", "suuay" },
        { KEYD_DECODER_INTERFACE, "DecodeSample", "aya(uu)ayayx" },
        { KEYD_DECODER_INTERFACE, "DecodeSampleFd", "ha(uu)ayayx" },
        { KEYD_DECODER_INTERFACE, "Drain", "" },
        { KEYD_DECODER_INTERFACE, "Flush", "" },
        { KEYD_DECODER_INTERFACE, "Close", "" },
        { PROPERTIES, "Get", "ss" },
        { PROPERTIES, "GetAll", "s" },
        { PROPERTIES, "Set", "ssv" },
        { "org.freedesktop.DBus.Introspectable", "Introspect", "" },
        { "org.freedesktop.DBus.Peer", "Ping", "" },
        { "org.freedesktop.DBus.Peer", "GetMachineId", "" },
        { "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "" },
        /* Last, so that the seed corpus keeps meaning what it meant. */
        { KEYD_DECODER_INTERFACE, "SetFramePool", "u" },
        { KEYD_DECODER_INTERFACE, "ReleaseFrames", "ah" },
};

#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static const char *const strings[] = {
        /* GUIDs keyd knows, in the accepted spellings */
        "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f",
        "c1949895-d72a-4a1d-8e5d-ed857d171520",
        "b1170d8a-628d-4da3-ad3b-82ddb08b4970",
        "b0a11c63-be8b-47a7-a4c1-6d05594ed9d2",
        "08067281-bc1f-40f8-8c01-7bd2b010caff",
        "1b81be68-a0c7-11d3-b984-00c04f2e73c5",
        "5b11d51b-2f4c-4452-bcc3-09f2a1160cc0",
        "107af0e0-ef1a-4d19-aba8-67a163073d13",
        "463707f8-a1d0-4585-876d-83aa6d60b89e",
        "b8be4ccb-cf53-46ba-8d59-d6b8a6da5d2a",
        "{9B6BD711-4F74-41C9-9E7B-0BE2D7D93B4F}",
        "C1949895-D72A-4A1D-8E5D-ED857D171520",
        /* well-formed but unknown, malformed, empty */
        "00000000-0000-0000-0000-000000000000",
        "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4",
        "9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f0",
        "{9b6bd711-4f74-41c9-9e7b-0be2d7d93b4f",
        "9b6bd711x4f74-41c9-9e7b-0be2d7d93b4f",
        "9b6bd711-4f74-41c9-9e7b-0be2d7d93g4f",
        "",
        /* interfaces and properties, for Get/GetAll/Set */
        KEYD_MANAGER_INTERFACE,
        KEYD_SESSION_INTERFACE,
        "Version",
        "Backend",
        "SessionCount",
        "MaxSessionsPerClient",
        "CryptoType",
        "DecoderProfile",
        "KeyExchangeType",
        "CertificateSize",
        "Handle",
        "Owner",
        "OwnerUID",
        "Status",
};

#define N_STRINGS (sizeof(strings) / sizeof(strings[0]))

static const char *const fixed_paths[] = {
        KEYD_MANAGER_PATH,
        KEYD_SESSION_PATH_PREFIX,
        "/",
        "/org/keyd",
        KEYD_SESSION_PATH_PREFIX "/0",
        KEYD_SESSION_PATH_PREFIX "/01",
        KEYD_SESSION_PATH_PREFIX "/1",
        KEYD_SESSION_PATH_PREFIX "/2",
        KEYD_SESSION_PATH_PREFIX "/18446744073709551615",
        KEYD_SESSION_PATH_PREFIX "/18446744073709551616",
        KEYD_SESSION_PATH_PREFIX "/1/x",
};

#define N_FIXED_PATHS (sizeof(fixed_paths) / sizeof(fixed_paths[0]))

static const char *const nasty_signatures[] = {
        "aay",
        "a{sv}",
        "(uuu)",
        "v",
        "h",
        "hh",
        "ah",
        "uhh",
        "ayayayay",
        "uuuuuuuuuuuuuuuu",
        "a(uay)",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaay",
        "((((((((((((((((((((((((((((((((u))))))))))))))))))))))))))))))))",
        "a{oa{sa{sv}}}",
        "sssssss",
        "ssv",
        "ss",
        "u",
        "ay",
        "",
};

#define N_NASTY (sizeof(nasty_signatures) / sizeof(nasty_signatures[0]))

static const char type_alphabet[] = "ybnqiuxtdsoghav(){}";

uint8_t source_u8(const ByteSource *src) {
        uint8_t v;
        src->fill(src->userdata, &v, sizeof(v));
        return v;
}

uint32_t source_u32(const ByteSource *src) {
        uint8_t b[4];
        src->fill(src->userdata, b, sizeof(b));
        return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

uint64_t source_u64(const ByteSource *src) {
        return (uint64_t) source_u32(src) | (uint64_t) source_u32(src) << 32;
}

const char *builder_method_signature(const char *member) {
        for (size_t i = 0; i < N_METHODS; i++)
                if (strcmp(methods[i].member, member) == 0)
                        return methods[i].signature;
        return NULL;
}

/* The length of the single complete type at the start of s, 0 if there is none. */
static size_t complete_type_length(const char *s) {
        size_t n;
        char open, close;
        int depth;

        switch (*s) {
        case 0:
        case ')':
        case '}':
                return 0;
        case 'a':
                n = complete_type_length(s + 1);
                return n ? n + 1 : 0;
        case '(':
        case '{':
                open = *s;
                close = open == '(' ? ')' : '}';
                depth = 0;
                for (n = 0; s[n]; n++) {
                        if (s[n] == open)
                                depth++;
                        else if (s[n] == close && --depth == 0)
                                return n + 1;
                }
                return 0;
        default:
                return strchr(type_alphabet, *s) ? 1 : 0;
        }
}

typedef struct Builder {
        const ByteSource *src;
        const BuilderConfig *config;
        unsigned budget;      /* values left to append, so nested arrays cannot explode */
        bool huge;
} Builder;

static void random_text(Builder *b, char *buf, size_t size) {
        size_t n = source_u8(b->src) % size;

        for (size_t i = 0; i < n; i++)
                buf[i] = (char) (' ' + source_u8(b->src) % 95);
        buf[n] = 0;
}

static int append_string(Builder *b, sd_bus_message *m) {
        uint8_t choice = source_u8(b->src);
        char buf[64];

        if (choice < 200)
                return sd_bus_message_append_basic(m, 's', strings[choice % N_STRINGS]);
        if (choice < 250) {
                random_text(b, buf, sizeof(buf));
                return sd_bus_message_append_basic(m, 's', buf);
        }
        /* A long one: keyd quotes at most 64 characters of a bad GUID. */
        {
                char *s = malloc(4097);
                int r;

                if (!s)
                        return -ENOMEM;
                memset(s, 'a' + choice % 26, 4096);
                s[4096] = 0;
                r = sd_bus_message_append_basic(m, 's', s);
                free(s);
                return r;
        }
}

static const char *pick_path(Builder *b) {
        uint8_t choice = source_u8(b->src);

        if (b->config->n_paths > 0 && choice < 160)
                return b->config->paths[choice % b->config->n_paths];
        return fixed_paths[choice % N_FIXED_PATHS];
}

static size_t pick_array_size(Builder *b) {
        static const size_t sizes[] = { 0, 16, 256, 255, 257, 15, 17, 1, 512, 384, 4096 };
        uint8_t choice = source_u8(b->src);

        if (choice == 255)
                return b->config->allow_huge ? BUILDER_AY_MAX + 1 : 65536;
        if (choice < 160)
                return sizes[choice % (sizeof(sizes) / sizeof(sizes[0]))];
        return source_u8(b->src) + (size_t) (choice & 7) * 256;
}

static int append_byte_array(Builder *b, sd_bus_message *m) {
        size_t size = pick_array_size(b), head;
        uint8_t *data;
        int r;

        data = calloc(1, size ?: 1);
        if (!data)
                return -ENOMEM;
        if (size > BUILDER_AY_MAX)
                b->huge = true;
        /* Random bytes up front; the tail of big arrays stays zero (cheap). */
        head = size < 512 ? size : 512;
        b->src->fill(b->src->userdata, data, head);
        r = sd_bus_message_append_array(m, 'y', data, size);
        free(data);
        return r;
}

/* A file descriptor where keyd may expect one, or bytes: memfds of several
 * sizes, with holes or written through (choice bit 7), sealed for
 * DecryptionBltFd, for EncryptionBltToFd, partly or not at all; a
 * hugetlbfs memfd; /dev/null, a pipe, a directory. */
static int append_fd(Builder *b, sd_bus_message *m) {
        static const int seals[] = {
                F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW,  /* DecryptionBltFd's */
                F_SEAL_SHRINK,
                0,
                F_SEAL_SHRINK | F_SEAL_GROW,                 /* EncryptionBltToFd's */
        };
        uint8_t choice = source_u8(b->src);
        int fd = -1, pipefd[2], r;

        switch (choice % 8) {
        case 0:
        case 1:
        case 2:
        case 3: {
                static const size_t sizes[] = { 0, 16, 4096, 100, 2 * 1024 * 1024, 64 };
                size_t size = sizes[source_u8(b->src) % (sizeof(sizes) / sizeof(sizes[0]))];
                fd = memfd_create("keyd-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
                if (fd < 0)
                        return -errno;
                if (ftruncate(fd, (off_t) size) < 0 ||
                    ((choice & 0x80) && size > 0 && fallocate(fd, 0, 0, (off_t) size) < 0)) {
                        r = -errno;
                        close(fd);
                        return r;
                }
                /* fallocate() leaves holes to SEEK_HOLE; one written byte per page does not. */
                if (choice & 0x80)
                        for (size_t off = 0; off < size; off += 4096)
                                (void) pwrite(fd, "", 1, (off_t) off);
                if (seals[choice % 8])
                        (void) fcntl(fd, F_ADD_SEALS, seals[choice % 8]);
                break;
        }
        case 4:
                /* hugetlbfs: keyd takes tmpfs memfds only. */
                fd = memfd_create("keyd-fuzz-huge", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
                if (fd >= 0)
                        (void) fcntl(fd, F_ADD_SEALS, seals[source_u8(b->src) % 4]);
                else
                        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                break;
        case 5:
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                break;
        case 6:
                if (pipe2(pipefd, O_CLOEXEC) < 0)
                        return -errno;
                close(pipefd[1]);
                fd = pipefd[0];
                break;
        default:
                fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                break;
        }
        if (fd < 0)
                return -errno;
        r = sd_bus_message_append_basic(m, 'h', &fd); /* sd-bus duplicates it */
        close(fd);
        return r;
}

static int append_type(Builder *b, sd_bus_message *m, const char *type, size_t length, unsigned depth);

/* Each complete type of signature (length bytes), in order. */
static int append_types(Builder *b, sd_bus_message *m, const char *signature, size_t length, unsigned depth) {
        size_t done = 0;
        int r;

        while (done < length) {
                size_t n = complete_type_length(signature + done);
                if (n == 0 || done + n > length)
                        return -EINVAL;
                r = append_type(b, m, signature + done, n, depth);
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

static int append_container(Builder *b, sd_bus_message *m, char type, const char *contents, size_t length,
                            unsigned depth) {
        char *c = strndup(contents, length);
        int r;

        if (!c)
                return -ENOMEM;
        r = sd_bus_message_open_container(m, type, c);
        if (r >= 0) {
                if (type == SD_BUS_TYPE_ARRAY) {
                        unsigned count = b->budget > 0 ? source_u8(b->src) % 4 : 0;
                        for (unsigned i = 0; i < count && r >= 0; i++)
                                r = append_type(b, m, c, length, depth + 1);
                } else
                        r = append_types(b, m, c, length, depth + 1);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        free(c);
        return r;
}

static int append_variant(Builder *b, sd_bus_message *m, unsigned depth) {
        static const char *const contents[] = { "s", "u", "y", "ay", "(uuu)", "t", "b", "v", "o", "h" };
        const char *c = contents[source_u8(b->src) % (sizeof(contents) / sizeof(contents[0]))];
        int r;

        if (depth > 8)
                c = "u";
        r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, c);
        if (r < 0)
                return r;
        r = append_type(b, m, c, strlen(c), depth + 1);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_type(Builder *b, sd_bus_message *m, const char *type, size_t length, unsigned depth) {
        static const char *const signatures[] = { "", "s", "ay", "a{sv}", "(uuu)", "h" };
        uint8_t bytes[8];
        uint64_t v;

        if (b->budget == 0)
                return -E2BIG;
        b->budget--;

        switch (type[0]) {
        case 'y':
        case 'b':
        case 'n':
        case 'q':
        case 'i':
        case 'u':
        case 'x':
        case 't':
        case 'd': {
                uint8_t choice = source_u8(b->src);
                b->src->fill(b->src->userdata, bytes, sizeof(bytes));
                memcpy(&v, bytes, sizeof(v));
                /* Small numbers are where the interesting boundaries are. */
                if (choice < 128)
                        v = choice < 100 ? (uint64_t) (choice % 20) * 16 : (uint64_t) choice;
                else if (choice < 160)
                        v = UINT64_MAX - (choice % 4);
                if (type[0] == 'b')
                        v &= 1;
                if (type[0] == 'd') {
                        double d;
                        memcpy(&d, &v, sizeof(d));
                        return sd_bus_message_append_basic(m, 'd', &d);
                }
                /* append_basic reads the type's own width from the address. */
                switch (type[0]) {
                case 'y': {
                        uint8_t x = (uint8_t) v;
                        return sd_bus_message_append_basic(m, 'y', &x);
                }
                case 'n':
                case 'q': {
                        uint16_t x = (uint16_t) v;
                        return sd_bus_message_append_basic(m, type[0], &x);
                }
                case 'b':
                case 'i':
                case 'u': {
                        uint32_t x = (uint32_t) v;
                        return sd_bus_message_append_basic(m, type[0], &x);
                }
                default:
                        return sd_bus_message_append_basic(m, type[0], &v);
                }
        }
        case 's':
                return append_string(b, m);
        case 'o':
                return sd_bus_message_append_basic(m, 'o', pick_path(b));
        case 'g':
                return sd_bus_message_append_basic(
                        m, 'g', signatures[source_u8(b->src) % (sizeof(signatures) / sizeof(signatures[0]))]);
        case 'h':
                return append_fd(b, m);
        case 'v':
                return append_variant(b, m, depth);
        case 'a':
                if (length == 2 && type[1] == 'y')
                        return append_byte_array(b, m);
                return append_container(b, m, SD_BUS_TYPE_ARRAY, type + 1, length - 1, depth);
        case '(':
                return append_container(b, m, SD_BUS_TYPE_STRUCT, type + 1, length - 2, depth);
        case '{':
                return append_container(b, m, SD_BUS_TYPE_DICT_ENTRY, type + 1, length - 2, depth);
        default:
                return -EINVAL;
        }
}

/* keyd's signature for the method, a mutation of it, arbitrary type
 * characters, or one of a few nasty ones. */
static void pick_signature(Builder *b, const char *natural, char buf[static 256]) {
        uint8_t choice = source_u8(b->src);
        size_t n;

        if (choice < 170 || choice >= 250) {
                if (choice >= 250)
                        natural = nasty_signatures[source_u8(b->src) % N_NASTY];
                snprintf(buf, 256, "%s", natural);
                return;
        }
        if (choice < 210) {
                /* Mutate: replace, insert or delete one character. */
                size_t len = strlen(natural), pos = len ? source_u8(b->src) % (len + 1) : 0;
                char c = type_alphabet[source_u8(b->src) % (sizeof(type_alphabet) - 1)];

                snprintf(buf, 256, "%s", natural);
                switch (source_u8(b->src) % 3) {
                case 0:
                        if (pos < len)
                                buf[pos] = c;
                        break;
                case 1:
                        memmove(buf + pos + 1, buf + pos, len - pos + 1);
                        buf[pos] = c;
                        break;
                default:
                        if (pos < len)
                                memmove(buf + pos, buf + pos + 1, len - pos);
                        break;
                }
                return;
        }
        n = source_u8(b->src) % 9;
        for (size_t i = 0; i < n; i++)
                buf[i] = type_alphabet[source_u8(b->src) % (sizeof(type_alphabet) - 1)];
        buf[n] = 0;
}

static void random_member(Builder *b, char buf[static 32]) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        size_t n = 1 + source_u8(b->src) % 24;

        for (size_t i = 0; i < n; i++)
                buf[i] = chars[source_u8(b->src) % (sizeof(chars) - 1)];
        buf[n] = 0;
}

int builder_new_call(sd_bus *bus, const char *destination, const ByteSource *src, const BuilderConfig *config,
                     BuiltCall *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Builder b = { .src = src, .config = config, .budget = 256 };
        const Method *method = &methods[source_u8(src) % N_METHODS];
        const char *path, *interface, *member;
        char member_buf[32], signature[256], decoder_path[128];
        bool natural_path;
        uint8_t choice;
        int r;

        *ret = (BuiltCall) {};

        /* The object: the natural one for the method, mostly. */
        choice = source_u8(src);
        natural_path = choice < 200;
        if (natural_path && strcmp(method->interface, KEYD_MANAGER_INTERFACE) == 0)
                path = KEYD_MANAGER_PATH;
        else if (natural_path && strcmp(method->interface, KEYD_SESSION_INTERFACE) == 0 && config->n_paths > 0)
                path = config->paths[source_u8(src) % config->n_paths];
        else if (natural_path && strcmp(method->interface, KEYD_DECODER_INTERFACE) == 0 && config->n_paths > 0) {
                /* The first decoder of one of the sessions, made or not. */
                snprintf(decoder_path, sizeof(decoder_path), "%s/decoder/0",
                         config->paths[source_u8(src) % config->n_paths]);
                path = decoder_path;
        } else
                path = pick_path(&b);

        choice = source_u8(src);
        interface = choice < 220 ? method->interface
                  : choice < 235 ? NULL
                  : choice < 245 ? methods[choice % N_METHODS].interface
                  : "org.keyd.KeyBroker1.Nothing";

        choice = source_u8(src);
        if (choice < 235)
                member = method->member;
        else {
                random_member(&b, member_buf);
                member = member_buf;
        }

        r = sd_bus_message_new_method_call(bus, &m, destination, path, interface, member);
        if (r < 0)
                return r == -EINVAL ? 0 : r; /* an invalid random member: skip */

        pick_signature(&b, method->signature, signature);
        r = append_types(&b, m, signature, strlen(signature), 0);
        if (r < 0)
                return r == -ENOMEM ? r : 0; /* sd-bus refused the signature or a value: skip */

        /* What a real bus would refuse (and disconnect the sender for)
         * never reaches keyd, so it is not sent to keyd here either. libdbus
         * validates as dbus-daemon does; sd-bus alone lets through some that
         * it then drops on receipt (an empty struct, a member starting with
         * a digit). */
        if (!dbus_validate_path(path, NULL) || (interface && !dbus_validate_interface(interface, NULL)) ||
            !dbus_validate_member(member, NULL) || !dbus_signature_validate(signature, NULL))
                return 0;

        ret->is_create = strcmp(member, "CreateCryptoSession") == 0 && strcmp(signature, "sss") == 0;
        ret->huge = b.huge;
        ret->member = sd_bus_message_get_member(m);
        ret->message = m;
        m = NULL;
        return 0;
}

bool builder_error_is_well_formed(const sd_bus_error *error) {
        const KeydErrorInfo *info;
        char prefix[16];
        int e;

        e = keyd_error_from_dbus_name(error->name);
        if (e < 0)
                return true; /* sd-bus's or the bus's own error, not keyd's */

        info = keyd_error_info((KeydError) e);
        snprintf(prefix, sizeof(prefix), "0x%08" PRIX32 ": ", info->hresult);
        if (!error->message || strncmp(error->message, prefix, strlen(prefix)) != 0 ||
            strlen(error->message) < strlen(prefix) + 8) {
                fprintf(stderr, "keyd error %s has a message not of the form \"%s<sentence>\": \"%s\"\n", error->name,
                        prefix, error->message ?: "(null)");
                return false;
        }
        return true;
}
