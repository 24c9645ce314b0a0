/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static int journal_stream = -1; /* -1: not checked, 0: no, 1: yes */

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

/* systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connects
 * to stdout and stderr. Only while stderr still is that stream do lines go
 * to the journal; a stderr redirected to a file or a terminal gets lines for
 * people, even with the variable inherited. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (isempty(e) || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != 0)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_open(void) {
        /* Under journald the "<N>" prefix carries the priority and no timestamp is needed. */
        journal_stream = stderr_is_journal();
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
                [LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
        };

        if (!s)
                return -EINVAL;
        if (streq(s, "error"))
                return LOG_ERR;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

static const char *level_tag(int level) {
        switch (level) {
        case LOG_DEBUG:
                return "debug";
        case LOG_INFO:
        case LOG_NOTICE:
                return NULL;
        case LOG_WARNING:
                return "warning";
        default:
                return "error";
        }
}

int log_internal(int level, int error, const char *func, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int saved_errno = errno;

        if (error < 0)
                error = -error;

        if (level <= max_level) {
                if (journal_stream < 0)
                        log_open();

                /* %m must print the error we were given, not whatever errno is. */
                errno = error;
                va_start(ap, fmt);
                (void) vsnprintf(buf, sizeof(buf), fmt, ap);
                va_end(ap);

                if (journal_stream)
                        fprintf(stderr, "<%i>%s\n", level, buf);
                else {
                        const char *tag = level_tag(level);
                        if (tag)
                                fprintf(stderr, "keyd: %s: %s\n", tag, buf);
                        else
                                fprintf(stderr, "keyd: %s\n", buf);
                }
        }

        (void) func;
        errno = error ? error : saved_errno;
        return -error;
}
