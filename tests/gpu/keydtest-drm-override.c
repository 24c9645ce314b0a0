/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libkeydtest-drm-override.so: TEST ONLY, never linked into keyd. The GPU
 * tests LD_PRELOAD it into the keyd they start, so that libva accepts a
 * stand-in for a render node on a machine without one.
 *
 * vaGetDisplayDRM() asks libdrm's drmGetNodeTypeFromFd() what the fd is and
 * gives up unless it is a DRM node. This override answers DRM_NODE_RENDER
 * for the one file named by $KEYDTEST_FAKE_RENDER_NODE (the tests pass the
 * same path to keyd's --render-node=) and hands every other fd to the real
 * libdrm. */

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <xf86drm.h>

#define EXPORT __attribute__((visibility("default")))

static int same_file(int fd, const char *path) {
        struct stat a, b;

        if (!path || !*path || fstat(fd, &a) < 0 || stat(path, &b) < 0)
                return 0;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

EXPORT int drmGetNodeTypeFromFd(int fd);

int drmGetNodeTypeFromFd(int fd) {
        int (*real)(int);

        if (same_file(fd, getenv("KEYDTEST_FAKE_RENDER_NODE")))
                return DRM_NODE_RENDER;

        real = (int (*)(int)) dlsym(RTLD_NEXT, "drmGetNodeTypeFromFd");
        return real ? real(fd) : -1;
}
