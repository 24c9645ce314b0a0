/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydtest_drv_video.so: a VA driver for keyd's tests, loaded by the real
 * libva (LIBVA_DRIVERS_PATH=<this dir>, LIBVA_DRIVER_NAME=keydtest). It is
 * no GPU: it implements VA-API's protected-session entry points in memory
 * so that the tests can watch what keyd does with them.
 *
 * What it offers: VAProfileProtected with VAEntrypointProtectedTEEComm and
 * VAEntrypointProtectedContent (AES, 128-bit blocks, CTR and CBC, full and
 * subsample), and VLD decoders for H.264 High and HEVC Main only (not
 * HEVC Main10, VP9, AV1), so that a test can see keyd refuse a profile the
 * driver cannot decode.
 *
 * What it does with a TEE call (vaProtectedSessionExecute): the output is
 * the input with every byte XORed with 0x5A, the status is 0xC0DE0000 |
 * function id; output larger than the room given is
 * VA_STATUS_ERROR_NOT_ENOUGH_BUFFER. Deterministic, so the tests can
 * check both directions.
 *
 * What it tells the tests, in the file $KEYDTEST_VA_STATE (rewritten
 * atomically after every change, "key value" lines): how many configs and
 * protected sessions were created and destroyed, how many are alive, the
 * last TEE call's function id and input bytes (hex), the attributes of the
 * last config, vaInitialize/vaTerminate counts.
 *
 * Switches, read at every call:
 *   KEYDTEST_VA_FAIL_SESSIONS=<path>  while <path> exists,
 *                                     vaCreateProtectedSession fails
 *                                     (VA_STATUS_ERROR_OPERATION_FAILED);
 *   KEYDTEST_VA_ENTRYPOINTS=tee       VAProfileProtected offers TEEComm only;
 *   KEYDTEST_VA_ENTRYPOINTS=content   VAProfileProtected offers ProtectedContent only;
 *   KEYDTEST_VA_SAMPLE_TYPES=full     ProtectedContent offers full-sample encryption only. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <va/va.h>
#include <va/va_backend.h>
#include <va/va_backend_prot.h>

#define EXPORT __attribute__((visibility("default")))

#define MAX_OBJECTS 256
#define TEE_XOR 0x5Au
#define TEE_STATUS_BASE 0xC0DE0000u
#define DRIVER_VENDOR "keyd test VA driver (no GPU)"

typedef struct Config {
        bool used;
        VAProfile profile;
        VAEntrypoint entrypoint;
        VAConfigAttrib attribs[8];
        int n_attribs;
} Config;

typedef struct ProtectedSession {
        bool used;
        VAConfigID config;
} ProtectedSession;

typedef struct Buffer {
        bool used;
        VABufferType type;
        VAContextID context;
        size_t size;
        void *data;
} Buffer;

typedef struct Driver {
        Config configs[MAX_OBJECTS];          /* id = index + 1 */
        ProtectedSession sessions[MAX_OBJECTS];
        Buffer buffers[MAX_OBJECTS];
} Driver;

/* Counters live for the whole process: keyd initialises libva once. */
static struct {
        unsigned initialized, terminated;
        unsigned configs_created, configs_destroyed;
        unsigned sessions_created, sessions_destroyed, sessions_refused;
        unsigned executes;
        uint32_t last_function_id;
        char last_input_hex[2 * 4096 + 1];
        size_t last_input_size;
        char last_config[256];
} stats;

static unsigned count_used_configs(const Driver *d) {
        unsigned n = 0;
        for (size_t i = 0; i < MAX_OBJECTS; i++)
                n += d->configs[i].used;
        return n;
}

static unsigned count_used_sessions(const Driver *d) {
        unsigned n = 0;
        for (size_t i = 0; i < MAX_OBJECTS; i++)
                n += d->sessions[i].used;
        return n;
}

static void write_state(const Driver *d) {
        const char *path = getenv("KEYDTEST_VA_STATE");
        char tmp[4096];
        FILE *f;

        if (!path || !*path)
                return;
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "we");
        if (!f)
                return;
        fprintf(f,
                "initialized %u\nterminated %u\n"
                "configs_created %u\nconfigs_destroyed %u\nconfigs_alive %u\n"
                "sessions_created %u\nsessions_destroyed %u\nsessions_refused %u\nsessions_alive %u\n"
                "executes %u\nlast_function_id %u\nlast_input_size %zu\nlast_input %s\nlast_config %s\n",
                stats.initialized, stats.terminated, stats.configs_created, stats.configs_destroyed,
                d ? count_used_configs(d) : 0, stats.sessions_created, stats.sessions_destroyed,
                stats.sessions_refused, d ? count_used_sessions(d) : 0, stats.executes, stats.last_function_id,
                stats.last_input_size, stats.last_input_size ? stats.last_input_hex : "-",
                stats.last_config[0] ? stats.last_config : "-");
        if (fclose(f) == 0)
                (void) rename(tmp, path);
}

static Driver *driver_of(VADriverContextP ctx) {
        return ctx->pDriverData;
}

static bool env_is(const char *name, const char *value) {
        const char *e = getenv(name);
        return e && strcmp(e, value) == 0;
}

/* ---- configuration ---- */

static const VAProfile profiles[] = { VAProfileProtected, VAProfileH264High, VAProfileHEVCMain };

static VAStatus kt_QueryConfigProfiles(VADriverContextP ctx, VAProfile *list, int *n) {
        memcpy(list, profiles, sizeof(profiles));
        *n = (int) (sizeof(profiles) / sizeof(profiles[0]));
        return VA_STATUS_SUCCESS;
}

static VAStatus kt_QueryConfigEntrypoints(VADriverContextP ctx, VAProfile profile, VAEntrypoint *list, int *n) {
        *n = 0;
        switch (profile) {
        case VAProfileProtected:
                if (!env_is("KEYDTEST_VA_ENTRYPOINTS", "content"))
                        list[(*n)++] = VAEntrypointProtectedTEEComm;
                if (!env_is("KEYDTEST_VA_ENTRYPOINTS", "tee"))
                        list[(*n)++] = VAEntrypointProtectedContent;
                return VA_STATUS_SUCCESS;
        case VAProfileH264High:
        case VAProfileHEVCMain:
                list[(*n)++] = VAEntrypointVLD;
                return VA_STATUS_SUCCESS;
        default:
                return VA_STATUS_ERROR_UNSUPPORTED_PROFILE;
        }
}

static uint32_t supported_value(VAProfile profile, VAEntrypoint entrypoint, VAConfigAttribType type) {
        if (profile != VAProfileProtected || entrypoint != VAEntrypointProtectedContent)
                return VA_ATTRIB_NOT_SUPPORTED;
        switch ((int) type) {
        case VAConfigAttribProtectedContentCipherAlgorithm:
                return VA_PC_CIPHER_AES;
        case VAConfigAttribProtectedContentCipherBlockSize:
                return VA_PC_BLOCK_SIZE_128;
        case VAConfigAttribProtectedContentCipherMode:
                return VA_PC_CIPHER_MODE_CBC | VA_PC_CIPHER_MODE_CTR;
        case VAConfigAttribProtectedContentCipherSampleType:
                if (env_is("KEYDTEST_VA_SAMPLE_TYPES", "full"))
                        return VA_PC_SAMPLE_TYPE_FULLSAMPLE;
                return VA_PC_SAMPLE_TYPE_FULLSAMPLE | VA_PC_SAMPLE_TYPE_SUBSAMPLE;
        case VAConfigAttribProtectedContentUsage:
                return VA_PC_USAGE_DEFAULT;
        default:
                return VA_ATTRIB_NOT_SUPPORTED;
        }
}

static bool entrypoint_offered(VAProfile profile, VAEntrypoint entrypoint) {
        VAEntrypoint list[4];
        int n = 0;

        if (kt_QueryConfigEntrypoints(NULL, profile, list, &n) != VA_STATUS_SUCCESS)
                return false;
        for (int i = 0; i < n; i++)
                if (list[i] == entrypoint)
                        return true;
        return false;
}

static VAStatus kt_GetConfigAttributes(VADriverContextP ctx, VAProfile profile, VAEntrypoint entrypoint,
                                       VAConfigAttrib *list, int n) {
        if (!entrypoint_offered(profile, entrypoint))
                return VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT;
        for (int i = 0; i < n; i++)
                list[i].value = supported_value(profile, entrypoint, list[i].type);
        return VA_STATUS_SUCCESS;
}

static VAStatus kt_CreateConfig(VADriverContextP ctx, VAProfile profile, VAEntrypoint entrypoint,
                                VAConfigAttrib *attribs, int n, VAConfigID *ret) {
        Driver *d = driver_of(ctx);
        size_t used = 0;

        if (!entrypoint_offered(profile, entrypoint))
                return VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT;
        if (n < 0 || n > 8)
                return VA_STATUS_ERROR_INVALID_PARAMETER;
        /* Each requested value must be one the driver offers. */
        for (int i = 0; i < n; i++) {
                uint32_t offered = supported_value(profile, entrypoint, attribs[i].type);
                if (offered == VA_ATTRIB_NOT_SUPPORTED || (attribs[i].value & ~offered) != 0)
                        return VA_STATUS_ERROR_ATTR_NOT_SUPPORTED;
        }

        for (size_t i = 0; i < MAX_OBJECTS; i++) {
                Config *c = &d->configs[i];
                if (c->used)
                        continue;
                *c = (Config) { .used = true, .profile = profile, .entrypoint = entrypoint, .n_attribs = n };
                if (n > 0)
                        memcpy(c->attribs, attribs, (size_t) n * sizeof(*attribs));
                *ret = (VAConfigID) (i + 1);
                stats.configs_created++;

                used = (size_t) snprintf(stats.last_config, sizeof(stats.last_config), "entrypoint=%s",
                                         entrypoint == VAEntrypointProtectedTEEComm   ? "tee"
                                         : entrypoint == VAEntrypointProtectedContent ? "content"
                                                                                      : "other");
                for (int k = 0; k < n && used < sizeof(stats.last_config) - 24; k++)
                        used += (size_t) snprintf(stats.last_config + used, sizeof(stats.last_config) - used,
                                                  ",%d=0x%x", (int) attribs[k].type, attribs[k].value);
                write_state(d);
                return VA_STATUS_SUCCESS;
        }
        return VA_STATUS_ERROR_ALLOCATION_FAILED;
}

static Config *config_get(Driver *d, VAConfigID id) {
        if (id == 0 || id > MAX_OBJECTS || !d->configs[id - 1].used)
                return NULL;
        return &d->configs[id - 1];
}

static VAStatus kt_DestroyConfig(VADriverContextP ctx, VAConfigID id) {
        Driver *d = driver_of(ctx);
        Config *c = config_get(d, id);

        if (!c)
                return VA_STATUS_ERROR_INVALID_CONFIG;
        /* Like a real driver: a config still used by a session stays. */
        for (size_t i = 0; i < MAX_OBJECTS; i++)
                if (d->sessions[i].used && d->sessions[i].config == id)
                        return VA_STATUS_ERROR_OPERATION_FAILED;
        c->used = false;
        stats.configs_destroyed++;
        write_state(d);
        return VA_STATUS_SUCCESS;
}

static VAStatus kt_QueryConfigAttributes(VADriverContextP ctx, VAConfigID id, VAProfile *profile,
                                         VAEntrypoint *entrypoint, VAConfigAttrib *list, int *n) {
        Config *c = config_get(driver_of(ctx), id);

        if (!c)
                return VA_STATUS_ERROR_INVALID_CONFIG;
        *profile = c->profile;
        *entrypoint = c->entrypoint;
        memcpy(list, c->attribs, (size_t) c->n_attribs * sizeof(*list));
        *n = c->n_attribs;
        return VA_STATUS_SUCCESS;
}

/* ---- protected sessions ---- */

static bool sessions_switched_off(void) {
        const char *flag = getenv("KEYDTEST_VA_FAIL_SESSIONS");
        return flag && *flag && access(flag, F_OK) == 0;
}

static VAStatus kt_CreateProtectedSession(VADriverContextP ctx, VAConfigID config, VAProtectedSessionID *ret) {
        Driver *d = driver_of(ctx);
        Config *c = config_get(d, config);

        if (!c || c->profile != VAProfileProtected)
                return VA_STATUS_ERROR_INVALID_CONFIG;
        if (sessions_switched_off()) {
                stats.sessions_refused++;
                write_state(d);
                return VA_STATUS_ERROR_OPERATION_FAILED;
        }
        for (size_t i = 0; i < MAX_OBJECTS; i++) {
                if (d->sessions[i].used)
                        continue;
                d->sessions[i] = (ProtectedSession) { .used = true, .config = config };
                /* Ids far from the config ids, so a mix-up shows. */
                *ret = (VAProtectedSessionID) (0x1000 + i);
                stats.sessions_created++;
                write_state(d);
                return VA_STATUS_SUCCESS;
        }
        return VA_STATUS_ERROR_MAX_NUM_EXCEEDED;
}

static ProtectedSession *session_get(Driver *d, VAProtectedSessionID id) {
        if (id < 0x1000 || id >= 0x1000 + MAX_OBJECTS || !d->sessions[id - 0x1000].used)
                return NULL;
        return &d->sessions[id - 0x1000];
}

static VAStatus kt_DestroyProtectedSession(VADriverContextP ctx, VAProtectedSessionID id) {
        Driver *d = driver_of(ctx);
        ProtectedSession *s = session_get(d, id);

        if (!s)
                return VA_STATUS_ERROR_INVALID_CONTEXT;
        s->used = false;
        stats.sessions_destroyed++;
        write_state(d);
        return VA_STATUS_SUCCESS;
}

static VAStatus kt_AttachProtectedSession(VADriverContextP ctx, VAContextID context, VAProtectedSessionID id) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}

static VAStatus kt_DetachProtectedSession(VADriverContextP ctx, VAContextID context) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}

/* ---- buffers ---- */

static VAStatus kt_CreateBuffer(VADriverContextP ctx, VAContextID context, VABufferType type, unsigned int size,
                                unsigned int n, void *data, VABufferID *ret) {
        Driver *d = driver_of(ctx);
        size_t total = (size_t) size * n;

        for (size_t i = 0; i < MAX_OBJECTS; i++) {
                Buffer *b = &d->buffers[i];
                if (b->used)
                        continue;
                b->data = calloc(total ? total : 1, 1);
                if (!b->data)
                        return VA_STATUS_ERROR_ALLOCATION_FAILED;
                /* libva's contract: the driver keeps its own copy. */
                if (data)
                        memcpy(b->data, data, total);
                b->used = true;
                b->type = type;
                b->context = context;
                b->size = total;
                *ret = (VABufferID) (0x2000 + i);
                return VA_STATUS_SUCCESS;
        }
        return VA_STATUS_ERROR_ALLOCATION_FAILED;
}

static Buffer *buffer_get(Driver *d, VABufferID id) {
        if (id < 0x2000 || id >= 0x2000 + MAX_OBJECTS || !d->buffers[id - 0x2000].used)
                return NULL;
        return &d->buffers[id - 0x2000];
}

static VAStatus kt_BufferSetNumElements(VADriverContextP ctx, VABufferID id, unsigned int n) {
        return buffer_get(driver_of(ctx), id) ? VA_STATUS_ERROR_UNIMPLEMENTED : VA_STATUS_ERROR_INVALID_BUFFER;
}

static VAStatus kt_MapBuffer(VADriverContextP ctx, VABufferID id, void **ret) {
        Buffer *b = buffer_get(driver_of(ctx), id);

        if (!b)
                return VA_STATUS_ERROR_INVALID_BUFFER;
        *ret = b->data;
        return VA_STATUS_SUCCESS;
}

static VAStatus kt_UnmapBuffer(VADriverContextP ctx, VABufferID id) {
        return buffer_get(driver_of(ctx), id) ? VA_STATUS_SUCCESS : VA_STATUS_ERROR_INVALID_BUFFER;
}

static VAStatus kt_DestroyBuffer(VADriverContextP ctx, VABufferID id) {
        Buffer *b = buffer_get(driver_of(ctx), id);

        if (!b)
                return VA_STATUS_ERROR_INVALID_BUFFER;
        free(b->data);
        *b = (Buffer) {};
        return VA_STATUS_SUCCESS;
}

/* ---- the TEE ---- */

static void record_input(uint32_t function_id, const uint8_t *in, size_t size) {
        static const char hex[] = "0123456789abcdef";
        size_t n = size < 4096 ? size : 4096;

        stats.last_function_id = function_id;
        stats.last_input_size = size;
        for (size_t i = 0; i < n; i++) {
                stats.last_input_hex[2 * i] = hex[in[i] >> 4];
                stats.last_input_hex[2 * i + 1] = hex[in[i] & 15];
        }
        stats.last_input_hex[2 * n] = 0;
}

static VAStatus kt_ProtectedSessionExecute(VADriverContextP ctx, VAProtectedSessionID id, VABufferID buf_id) {
        Driver *d = driver_of(ctx);
        VAProtectedSessionExecuteBuffer *exec;
        const uint8_t *in;
        uint8_t *out;
        Buffer *b;

        if (!session_get(d, id))
                return VA_STATUS_ERROR_INVALID_CONTEXT;
        b = buffer_get(d, buf_id);
        if (!b || b->type != (VABufferType) VAProtectedSessionExecuteBufferType ||
            b->size < sizeof(VAProtectedSessionExecuteBuffer))
                return VA_STATUS_ERROR_INVALID_BUFFER;
        /* The buffer belongs to the session it was created for. */
        if (b->context != (VAContextID) id)
                return VA_STATUS_ERROR_INVALID_CONTEXT;

        exec = b->data;
        in = exec->input.data;
        out = exec->output.data;
        if (exec->input.data_size > 0 && !in)
                return VA_STATUS_ERROR_INVALID_PARAMETER;

        stats.executes++;
        record_input(exec->function_id, in, exec->input.data_size);

        if (exec->input.data_size > exec->output.max_data_size) {
                write_state(d);
                return VA_STATUS_ERROR_NOT_ENOUGH_BUFFER;
        }
        if (exec->input.data_size > 0 && !out)
                return VA_STATUS_ERROR_INVALID_PARAMETER;

        for (uint32_t i = 0; i < exec->input.data_size; i++)
                out[i] = in[i] ^ TEE_XOR;
        exec->output.data_size = exec->input.data_size;
        exec->status = TEE_STATUS_BASE | (exec->function_id & 0xFFFFu);
        write_state(d);
        return VA_STATUS_SUCCESS;
}

/* ---- what libva demands and the tests never use ---- */

static VAStatus kt_CreateSurfaces(VADriverContextP ctx, int w, int h, int format, int n, VASurfaceID *s) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_DestroySurfaces(VADriverContextP ctx, VASurfaceID *s, int n) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_CreateContext(VADriverContextP ctx, VAConfigID config, int w, int h, int flag, VASurfaceID *t,
                                 int n, VAContextID *ret) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_DestroyContext(VADriverContextP ctx, VAContextID context) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_BeginPicture(VADriverContextP ctx, VAContextID context, VASurfaceID target) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_RenderPicture(VADriverContextP ctx, VAContextID context, VABufferID *buffers, int n) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_EndPicture(VADriverContextP ctx, VAContextID context) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_SyncSurface(VADriverContextP ctx, VASurfaceID target) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_QuerySurfaceStatus(VADriverContextP ctx, VASurfaceID target, VASurfaceStatus *status) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_QueryImageFormats(VADriverContextP ctx, VAImageFormat *list, int *n) {
        *n = 0;
        return VA_STATUS_SUCCESS;
}
static VAStatus kt_CreateImage(VADriverContextP ctx, VAImageFormat *format, int w, int h, VAImage *image) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_DeriveImage(VADriverContextP ctx, VASurfaceID surface, VAImage *image) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_DestroyImage(VADriverContextP ctx, VAImageID image) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_SetImagePalette(VADriverContextP ctx, VAImageID image, unsigned char *palette) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_GetImage(VADriverContextP ctx, VASurfaceID surface, int x, int y, unsigned int w, unsigned int h,
                            VAImageID image) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_PutImage(VADriverContextP ctx, VASurfaceID surface, VAImageID image, int sx, int sy,
                            unsigned int sw, unsigned int sh, int dx, int dy, unsigned int dw, unsigned int dh) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_QuerySubpictureFormats(VADriverContextP ctx, VAImageFormat *list, unsigned int *flags,
                                          unsigned int *n) {
        *n = 0;
        return VA_STATUS_SUCCESS;
}
static VAStatus kt_CreateSubpicture(VADriverContextP ctx, VAImageID image, VASubpictureID *ret) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_DestroySubpicture(VADriverContextP ctx, VASubpictureID sub) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_SetSubpictureImage(VADriverContextP ctx, VASubpictureID sub, VAImageID image) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_SetSubpictureChromakey(VADriverContextP ctx, VASubpictureID sub, unsigned int min,
                                          unsigned int max, unsigned int mask) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_SetSubpictureGlobalAlpha(VADriverContextP ctx, VASubpictureID sub, float alpha) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_AssociateSubpicture(VADriverContextP ctx, VASubpictureID sub, VASurfaceID *targets, int n,
                                       short sx, short sy, unsigned short sw, unsigned short sh, short dx, short dy,
                                       unsigned short dw, unsigned short dh, unsigned int flags) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_DeassociateSubpicture(VADriverContextP ctx, VASubpictureID sub, VASurfaceID *targets, int n) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_QueryDisplayAttributes(VADriverContextP ctx, VADisplayAttribute *list, int *n) {
        *n = 0;
        return VA_STATUS_SUCCESS;
}
static VAStatus kt_GetDisplayAttributes(VADriverContextP ctx, VADisplayAttribute *list, int n) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}
static VAStatus kt_SetDisplayAttributes(VADriverContextP ctx, VADisplayAttribute *list, int n) {
        return VA_STATUS_ERROR_UNIMPLEMENTED;
}

static VAStatus kt_Terminate(VADriverContextP ctx) {
        Driver *d = driver_of(ctx);

        stats.terminated++;
        write_state(d);
        for (size_t i = 0; i < MAX_OBJECTS; i++)
                free(d->buffers[i].data);
        free(d);
        ctx->pDriverData = NULL;
        return VA_STATUS_SUCCESS;
}

#define INIT_NAME_(major, minor) __vaDriverInit_##major##_##minor
#define INIT_NAME(major, minor) INIT_NAME_(major, minor)

EXPORT VAStatus INIT_NAME(VA_MAJOR_VERSION, VA_MINOR_VERSION)(VADriverContextP ctx);

VAStatus INIT_NAME(VA_MAJOR_VERSION, VA_MINOR_VERSION)(VADriverContextP ctx) {
        struct VADriverVTable *vt = ctx->vtable;
        struct VADriverVTableProt *prot = ctx->vtable_prot;
        Driver *d;

        if (!prot)
                return VA_STATUS_ERROR_UNIMPLEMENTED;
        d = calloc(1, sizeof(*d));
        if (!d)
                return VA_STATUS_ERROR_ALLOCATION_FAILED;

        ctx->pDriverData = d;
        ctx->version_major = VA_MAJOR_VERSION;
        ctx->version_minor = VA_MINOR_VERSION;
        ctx->max_profiles = 8;
        ctx->max_entrypoints = 4;
        ctx->max_attributes = 8;
        ctx->max_image_formats = 1;
        ctx->max_subpic_formats = 1;
        ctx->max_display_attributes = 1;
        ctx->str_vendor = DRIVER_VENDOR;

        vt->vaTerminate = kt_Terminate;
        vt->vaQueryConfigProfiles = kt_QueryConfigProfiles;
        vt->vaQueryConfigEntrypoints = kt_QueryConfigEntrypoints;
        vt->vaGetConfigAttributes = kt_GetConfigAttributes;
        vt->vaCreateConfig = kt_CreateConfig;
        vt->vaDestroyConfig = kt_DestroyConfig;
        vt->vaQueryConfigAttributes = kt_QueryConfigAttributes;
        vt->vaCreateSurfaces = kt_CreateSurfaces;
        vt->vaDestroySurfaces = kt_DestroySurfaces;
        vt->vaCreateContext = kt_CreateContext;
        vt->vaDestroyContext = kt_DestroyContext;
        vt->vaCreateBuffer = kt_CreateBuffer;
        vt->vaBufferSetNumElements = kt_BufferSetNumElements;
        vt->vaMapBuffer = kt_MapBuffer;
        vt->vaUnmapBuffer = kt_UnmapBuffer;
        vt->vaDestroyBuffer = kt_DestroyBuffer;
        vt->vaBeginPicture = kt_BeginPicture;
        vt->vaRenderPicture = kt_RenderPicture;
        vt->vaEndPicture = kt_EndPicture;
        vt->vaSyncSurface = kt_SyncSurface;
        vt->vaQuerySurfaceStatus = kt_QuerySurfaceStatus;
        vt->vaQueryImageFormats = kt_QueryImageFormats;
        vt->vaCreateImage = kt_CreateImage;
        vt->vaDeriveImage = kt_DeriveImage;
        vt->vaDestroyImage = kt_DestroyImage;
        vt->vaSetImagePalette = kt_SetImagePalette;
        vt->vaGetImage = kt_GetImage;
        vt->vaPutImage = kt_PutImage;
        vt->vaQuerySubpictureFormats = kt_QuerySubpictureFormats;
        vt->vaCreateSubpicture = kt_CreateSubpicture;
        vt->vaDestroySubpicture = kt_DestroySubpicture;
        vt->vaSetSubpictureImage = kt_SetSubpictureImage;
        vt->vaSetSubpictureChromakey = kt_SetSubpictureChromakey;
        vt->vaSetSubpictureGlobalAlpha = kt_SetSubpictureGlobalAlpha;
        vt->vaAssociateSubpicture = kt_AssociateSubpicture;
        vt->vaDeassociateSubpicture = kt_DeassociateSubpicture;
        vt->vaQueryDisplayAttributes = kt_QueryDisplayAttributes;
        vt->vaGetDisplayAttributes = kt_GetDisplayAttributes;
        vt->vaSetDisplayAttributes = kt_SetDisplayAttributes;

        prot->version = VA_DRIVER_VTABLE_PROT_VERSION;
        prot->vaCreateProtectedSession = kt_CreateProtectedSession;
        prot->vaDestroyProtectedSession = kt_DestroyProtectedSession;
        prot->vaAttachProtectedSession = kt_AttachProtectedSession;
        prot->vaDetachProtectedSession = kt_DetachProtectedSession;
        prot->vaProtectedSessionExecute = kt_ProtectedSessionExecute;

        stats.initialized++;
        write_state(d);
        return VA_STATUS_SUCCESS;
}
