/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The render node keyd drives. keyd opens it itself, because keyd is the
 * process that owns the protected sessions, and hands the fd to libva. By
 * default it is the first /dev/dri/renderD* whose kernel driver is Intel's
 * (i915 or xe), as sysfs says; --render-node=PATH names one instead.
 *
 * Not verified on hardware: the sysfs walk and the PXP query have only run
 * on a machine without /dev/dri (where the first fails as it should) and
 * against a --render-node that is not a DRM device (where the second is
 * skipped). */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <i915_drm.h>

#include "log.h"
#include "vpl-backend.h"

#define SYSFS_DRM_DIR "/sys/class/drm"
#define DRI_DIR "/dev/dri"
#define RENDER_PREFIX "renderD"

#ifndef I915_PARAM_PXP_STATUS
/* Newer kernels' uapi (the Meteor Lake PXP work, around 6.3); libdrm
 * 2.4.114's copy of i915_drm.h predates it. */
#define I915_PARAM_PXP_STATUS 58
#endif

static bool is_intel_driver(const char *driver) {
        return streq_ptr(driver, "i915") || streq_ptr(driver, "xe");
}

/* The last component of the sysfs driver link at path, e.g. "i915". */
static int read_driver_link(const char *path, char **ret) {
        char target[PATH_MAX];
        const char *base;
        ssize_t n;

        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        base = strrchr(target, '/');
        *ret = strdup(base ? base + 1 : target);
        return *ret ? 0 : -ENOMEM;
}

static int driver_of_char_device(dev_t rdev, char **ret) {
        char path[128];

        snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device/driver", major(rdev), minor(rdev));
        return read_driver_link(path, ret);
}

static int compare_uint(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;
        return x < y ? -1 : x > y;
}

/* The renderD* minors sysfs lists, ascending. */
static int list_render_minors(unsigned **ret, size_t *ret_n) {
        _cleanup_free_ unsigned *minors = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;

        d = opendir(SYSFS_DRM_DIR);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char *end;
                unsigned long v;

                if (strncmp(de->d_name, RENDER_PREFIX, strlen(RENDER_PREFIX)) != 0)
                        continue;
                errno = 0;
                v = strtoul(de->d_name + strlen(RENDER_PREFIX), &end, 10);
                if (errno != 0 || *end != 0 || v > UINT_MAX)
                        continue;
                if (n == allocated) {
                        size_t a = allocated ? allocated * 2 : 8;
                        unsigned *p = realloc(minors, a * sizeof(*p));
                        if (!p) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        minors = p, allocated = a;
                }
                minors[n++] = (unsigned) v;
        }
        closedir(d);

        if (n > 0)
                qsort(minors, n, sizeof(*minors), compare_uint);
        *ret = TAKE_PTR(minors);
        *ret_n = n;
        return 0;
}

/* The first Intel render node, as "/dev/dri/renderDN" with its driver. */
static int find_intel_render_node(char **ret_path, char **ret_driver, char **reason) {
        _cleanup_free_ unsigned *minors = NULL;
        _cleanup_free_ char *seen = NULL;
        size_t n = 0;
        int r;

        r = list_render_minors(&minors, &n);
        if (r < 0 && r != -ENOENT)
                return vpl_reason(reason, r, "no render node: cannot list %s: %s", SYSFS_DRM_DIR, strerror(-r));
        if (n == 0)
                return vpl_reason(reason, -ENODEV,
                                  "no render node: %s lists no " RENDER_PREFIX "* device (no GPU, or its DRM "
                                  "driver is not loaded); name one with --render-node=",
                                  SYSFS_DRM_DIR);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *driver = NULL, *link = NULL, *item = NULL;

                if (asprintf(&link, SYSFS_DRM_DIR "/" RENDER_PREFIX "%u/device/driver", minors[i]) < 0)
                        return -ENOMEM;
                r = read_driver_link(link, &driver);
                if (r == -ENOMEM)
                        return r;

                if (is_intel_driver(driver)) {
                        if (asprintf(ret_path, DRI_DIR "/" RENDER_PREFIX "%u", minors[i]) < 0)
                                return -ENOMEM;
                        *ret_driver = TAKE_PTR(driver);
                        return 0;
                }

                /* Remember what was there, for the message. */
                if (asprintf(&item, "%s%s" RENDER_PREFIX "%u (%s)", seen ?: "", seen ? ", " : "", minors[i],
                             driver ?: "no driver") < 0)
                        return -ENOMEM;
                free(seen);
                seen = TAKE_PTR(item);
        }

        return vpl_reason(reason, -ENODEV,
                          "no Intel render node: %s has %s, none driven by i915 or xe; name one with "
                          "--render-node=",
                          DRI_DIR, seen);
}

int vpl_render_node_open(const char *path, VplRenderNode *ret, char **reason) {
        _cleanup_free_ char *found_path = NULL, *driver = NULL;
        struct stat st;
        int fd, r;

        if (!path) {
                r = find_intel_render_node(&found_path, &driver, reason);
                if (r < 0)
                        return r;
                path = found_path;
        }

        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                if (r == -EACCES || r == -EPERM)
                        return vpl_reason(reason, r,
                                          "cannot open the render node %s: %s; keyd needs read and write access "
                                          "to it (run it as root or in the render group)",
                                          path, strerror(-r));
                return vpl_reason(reason, r, "cannot open the render node %s: %s", path, strerror(-r));
        }

        /* A node named on the command line: ask sysfs for its driver too. An
         * fd that is not a character device (tests point --render-node at a
         * plain file) has none; libva decides whether it can be used. */
        if (!driver && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
                r = driver_of_char_device(st.st_rdev, &driver);
                if (r == -ENOMEM) {
                        close(fd);
                        return r;
                }
        }

        *ret = (VplRenderNode) {
                .fd = fd,
                .path = strdup(path),
                .driver = TAKE_PTR(driver),
        };
        if (!ret->path) {
                vpl_render_node_close(ret);
                return -ENOMEM;
        }
        log_debug("vpl: render node %s, kernel driver %s.", ret->path, ret->driver ?: "unknown");
        return 0;
}

int vpl_render_node_check_pxp(const VplRenderNode *node, char **reason) {
        int value = 0;
        drm_i915_getparam_t gp = { .param = I915_PARAM_PXP_STATUS, .value = &value };
        int r;

        /* xe reports PXP through its own query interface, which keyd does not
         * use, and a node without a known driver cannot be asked: libva and
         * the protected session probe will tell. */
        if (!streq_ptr(node->driver, "i915")) {
                log_debug("vpl: not asking %s for its PXP status (kernel driver %s).", node->path,
                          node->driver ?: "unknown");
                return 0;
        }

        do
                r = ioctl(node->fd, DRM_IOCTL_I915_GETPARAM, &gp);
        while (r < 0 && (errno == EINTR || errno == EAGAIN));

        if (r < 0) {
                r = -errno;
                if (r == -ENODEV)
                        return vpl_reason(reason, r,
                                          "kernel without PXP: i915 on %s reports no PXP support (a kernel built "
                                          "without CONFIG_DRM_I915_PXP, the mei_pxp module not loaded, or a GPU "
                                          "older than Gen12)",
                                          node->path);
                if (r == -EINVAL) {
                        /* Older kernels do not know the parameter: the protected
                         * session probe is the test there. */
                        log_debug("vpl: i915 on %s cannot report its PXP status (an older kernel).",
                                  node->path);
                        return 0;
                }
                return vpl_reason(reason, r, "cannot ask i915 on %s for its PXP status: %s", node->path,
                                  strerror(-r));
        }

        if (value == 2)
                log_notice("vpl: i915 on %s says PXP is supported but not ready yet (firmware still loading); "
                           "protected sessions may fail until it is.",
                           node->path);
        else
                log_debug("vpl: i915 on %s reports PXP status %d.", node->path, value);
        return 0;
}

void vpl_render_node_close(VplRenderNode *node) {
        if (node->fd >= 0)
                close(node->fd);
        node->fd = -1;
        free(node->path);
        free(node->driver);
        node->path = node->driver = NULL;
}
