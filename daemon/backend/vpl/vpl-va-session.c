/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One VA protected session per crypto session, and the TEE call through it.
 *
 * A crypto session created with a decoder profile is meant to protect that
 * decoder, so it gets the ProtectedContent entry point (AES-128-CTR, the
 * session a decode context is attached to); without a decoder profile it
 * only talks to the TEE and gets the TEEComm entry point. va_prot.h allows
 * vaProtectedSessionExecute on both, so ExecuteHWProtectionFunction works
 * the same on either.
 *
 * Only run against keyd's test VA driver. That Intel's driver maps the
 * execute buffer back after vaProtectedSessionExecute (to read the output
 * size and status it wrote) matches its published source but has not been
 * run on hardware. */

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "bus/bus-error.h"
#include "bus/bus-objects.h"
#include "log.h"
#include "secure-memory.h"
#include "vpl-backend.h"

int vpl_va_status_to_errno(VAStatus status) {
        switch (status) {
        case VA_STATUS_SUCCESS:
                return 0;
        case VA_STATUS_ERROR_ALLOCATION_FAILED:
        case VA_STATUS_ERROR_MAX_NUM_EXCEEDED:
                /* The GPU has a fixed number of protected sessions: a limit. */
                return -ENOMEM;
        case VA_STATUS_ERROR_UNIMPLEMENTED:
        case VA_STATUS_ERROR_UNSUPPORTED_PROFILE:
        case VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT:
        case VA_STATUS_ERROR_ATTR_NOT_SUPPORTED:
        case VA_STATUS_ERROR_UNSUPPORTED_BUFFERTYPE:
                return -EPROTONOSUPPORT;
        case VA_STATUS_ERROR_NOT_ENOUGH_BUFFER:
                return -EINVAL;
        default:
                return -EIO;
        }
}

static int config_attributes(const VplVa *va, VAEntrypoint entrypoint, VAConfigAttrib attribs[static 4]) {
        if (entrypoint != VAEntrypointProtectedContent)
                return 0;

        /* The decrypt path keyd's crypto type names: AES-128-CTR, subsample
         * (D3D11's partial decryption) where the driver has it. */
        attribs[0] = (VAConfigAttrib) { VAConfigAttribProtectedContentCipherAlgorithm, VA_PC_CIPHER_AES };
        attribs[1] = (VAConfigAttrib) { VAConfigAttribProtectedContentCipherBlockSize, VA_PC_BLOCK_SIZE_128 };
        attribs[2] = (VAConfigAttrib) { VAConfigAttribProtectedContentCipherMode, VA_PC_CIPHER_MODE_CTR };
        attribs[3] = (VAConfigAttrib) {
                VAConfigAttribProtectedContentCipherSampleType,
                (va->caps.sample_types & VA_PC_SAMPLE_TYPE_SUBSAMPLE) ? VA_PC_SAMPLE_TYPE_SUBSAMPLE
                                                                     : VA_PC_SAMPLE_TYPE_FULLSAMPLE,
        };
        return 4;
}

static const char *entrypoint_name(VAEntrypoint e) {
        return e == VAEntrypointProtectedContent ? "VAEntrypointProtectedContent" : "VAEntrypointProtectedTEEComm";
}

int vpl_protected_session_create(VplVa *va, VAEntrypoint entrypoint, VplProtectedSession *ret, char **reason) {
        VplProtectedSession ps = VPL_PROTECTED_SESSION_NULL;
        VAConfigAttrib attribs[4];
        int n_attribs = config_attributes(va, entrypoint, attribs);
        VAStatus st;

        ps.entrypoint = entrypoint;
        st = vaCreateConfig(va->display, VAProfileProtected, entrypoint, n_attribs ? attribs : NULL, n_attribs,
                            &ps.config);
        if (st != VA_STATUS_SUCCESS)
                return vpl_reason(reason, vpl_va_status_to_errno(st),
                                  "the GPU driver refused a protected-session configuration (vaCreateConfig with "
                                  "%s: %s)",
                                  entrypoint_name(entrypoint), vaErrorStr(st));

        st = vaCreateProtectedSession(va->display, ps.config, &ps.id);
        if (st != VA_STATUS_SUCCESS) {
                (void) vaDestroyConfig(va->display, ps.config);
                return vpl_reason(reason, vpl_va_status_to_errno(st),
                                  "the GPU driver could not create a protected session (vaCreateProtectedSession "
                                  "with %s: %s)",
                                  entrypoint_name(entrypoint), vaErrorStr(st));
        }

        log_debug("vpl: VA protected session %u created (%s, config %u).", ps.id, entrypoint_name(entrypoint),
                  ps.config);
        *ret = ps;
        return 0;
}

void vpl_protected_session_destroy(VplVa *va, VplProtectedSession *ps) {
        VAStatus st;

        if (ps->id != VA_INVALID_ID) {
                st = vaDestroyProtectedSession(va->display, ps->id);
                if (st != VA_STATUS_SUCCESS)
                        log_warning("vpl: vaDestroyProtectedSession(%u) failed: %s.", ps->id, vaErrorStr(st));
                else
                        log_debug("vpl: VA protected session %u destroyed.", ps->id);
        }
        if (ps->config != VA_INVALID_ID) {
                st = vaDestroyConfig(va->display, ps->config);
                if (st != VA_STATUS_SUCCESS)
                        log_warning("vpl: vaDestroyConfig(%u) failed: %s.", ps->config, vaErrorStr(st));
        }
        *ps = VPL_PROTECTED_SESSION_NULL;
}

static uint64_t now_100ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 10000000u + (uint64_t) ts.tv_nsec / 100u;
}

static void free_output(uint8_t *out, size_t size) {
        if (out)
                secure_wipe(out, size);
        free(out);
}

/* vaCreateBuffer copies the execute buffer into the driver, which writes the
 * output size and status into its copy: read them back by mapping it. */
static int read_back(VADisplay display, VABufferID buffer, VAProtectedSessionExecuteBuffer *ret, sd_bus_error *error) {
        void *p = NULL;
        VAStatus st;

        st = vaMapBuffer(display, buffer, &p);
        if (st != VA_STATUS_SUCCESS || !p)
                return bus_error_setf(error, -EIO,
                                      "the GPU driver ran the function but its result cannot be read back "
                                      "(vaMapBuffer: %s)",
                                      vaErrorStr(st));
        memcpy(ret, p, sizeof(*ret));
        (void) vaUnmapBuffer(display, buffer);
        return 0;
}

int vpl_protected_session_execute(VplVa *va, VplProtectedSession *ps, const HwProtectionCall *call,
                                  HwProtectionResult *ret, sd_bus_error *error) {
        VAProtectedSessionExecuteBuffer exec, done;
        VABufferID buffer = VA_INVALID_ID;
        uint8_t *out;
        uint64_t start;
        VAStatus st;
        int r;

        *ret = (HwProtectionResult) {};

        if (call->input_size > UINT32_MAX)
                return bus_error_setf(error, -EINVAL, "input is %zu bytes; VA-API carries at most %" PRIu32,
                                      call->input_size, UINT32_MAX);
        /* The room is allocated here, before the driver says how much it
         * wrote, and wiped in full on every path: without a bound a caller
         * makes keyd calloc and wipe up to 4 GiB per call. The output goes
         * back as an ay, bounded like every ay result; the software
         * backend's output is bounded the same way, by its ay input. */
        if (call->max_output_size > KEYD_AY_MAX)
                return bus_error_setf(error, -EINVAL,
                                      "max_output_size is %" PRIu32 " bytes; keyd returns at most %u "
                                      "(16 MiB, the bound on an ay result)",
                                      call->max_output_size, KEYD_AY_MAX);

        out = calloc(call->max_output_size ?: 1, 1);
        if (!out)
                return bus_error_setf(error, -ENOMEM, "out of memory for %" PRIu32 " bytes of output",
                                      call->max_output_size);

        /* The caller's bytes go to the driver as they are, private data and
         * all: VA-API has no driver-private header of its own, which is why
         * GetCryptoSessionPrivateDataSize reports 0 on this backend. The
         * output's data_size starts as the room given, as libva's own example
         * and Intel's driver expect; the driver sets it to what it wrote. */
        exec = (VAProtectedSessionExecuteBuffer) {
                .function_id = call->function_id,
                .input = { .data_size = (uint32_t) call->input_size, .data = (void *) call->input },
                .output = { .max_data_size = call->max_output_size, .data_size = call->max_output_size, .data = out },
        };

        st = vaCreateBuffer(va->display, ps->id, (VABufferType) VAProtectedSessionExecuteBufferType, sizeof(exec), 1,
                            &exec, &buffer);
        if (st != VA_STATUS_SUCCESS) {
                free_output(out, call->max_output_size);
                return bus_error_setf(error, vpl_va_status_to_errno(st),
                                      "the GPU driver refused the execute buffer (vaCreateBuffer: %s)", vaErrorStr(st));
        }

        start = now_100ns();
        st = vaProtectedSessionExecute(va->display, ps->id, buffer);
        ret->execution_time_100ns = now_100ns() - start;

        if (st == VA_STATUS_ERROR_NOT_ENOUGH_BUFFER)
                r = bus_error_setf(error, -EINVAL,
                                   "function %" PRIu32 " produces more output than max_output_size allows (%" PRIu32
                                   " bytes), says the GPU driver",
                                   call->function_id, call->max_output_size);
        else if (st != VA_STATUS_SUCCESS)
                r = bus_error_setf(error, vpl_va_status_to_errno(st),
                                   "the GPU's TEE did not run function %" PRIu32 " (vaProtectedSessionExecute: %s)",
                                   call->function_id, vaErrorStr(st));
        else
                r = read_back(va->display, buffer, &done, error);
        (void) vaDestroyBuffer(va->display, buffer);
        if (r < 0) {
                free_output(out, call->max_output_size);
                return r;
        }

        if (done.output.data_size > call->max_output_size) {
                free_output(out, call->max_output_size);
                return bus_error_setf(error, -EIO,
                                      "the GPU driver reports %" PRIu32 " bytes of output for function %" PRIu32
                                      " but had room for %" PRIu32,
                                      done.output.data_size, call->function_id, call->max_output_size);
        }

        /* Unchanged both ways: the bytes the TEE wrote, the status it set. */
        ret->output = out;
        ret->output_size = done.output.data_size;
        ret->hw_protection_data_size = done.output.data_size;
        ret->private_data_size = 0;
        ret->status = (int32_t) done.status;
        return 0;
}
