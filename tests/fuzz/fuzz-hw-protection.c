/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer harness for libkeyd's HW_PROTECTION marshalling
 * (client/hw-protection.c): the caller's D3D11_KEY_EXCHANGE_HW_PROTECTION_DATA
 * with its variable-length input and output structures, turned into an
 * ExecuteHWProtectionFunction call, and keyd's reply written back.
 *
 * The structures are allocated at exactly the size their fields claim
 * (ASan sees any read or write beyond), the reply is built from the input
 * (well typed or not, sizes that fit or lie), and each step is checked
 * against what the header promises:
 * - the argument checks give E_POINTER / E_INVALIDARG exactly when they should;
 * - the call carries the function id, the private data size, exactly the
 *   input's bytes, and MaxHWProtectionDataSize;
 * - a reply that does not fit writes nothing at all; one that fits is
 *   copied exactly, and nothing past it is touched. */

#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "session-data.h"

/* Big enough for the limit checks, small enough to allocate per input. */
#define MAX_FUZZ_INPUT (64u * 1024u)

static sd_bus *bus; /* only for making messages; nothing is ever sent */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        int fds[2];

        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
        FUZZ_CHECK(sd_bus_new(&bus) >= 0);
        FUZZ_CHECK(sd_bus_set_fd(bus, fds[0], fds[0]) >= 0);
        FUZZ_CHECK(sd_bus_start(bus) >= 0);
        return 0;
}

static uint32_t fuzz_size(FuzzInput *in) {
        uint8_t choice = fuzz_u8(in);

        switch (choice % 8) {
        case 0:
                return fuzz_u32(in); /* anything, up to UINT32_MAX */
        case 1:
                return 0;
        case 2:
                return KEYD_MAX_ARRAY_SIZE / 2 + fuzz_u8(in) % 3; /* two of them add up to about the limit */
        default:
                return fuzz_u16(in) % 512;
        }
}

static void check_call(sd_bus_message *m, const keyd_key_exchange_hw_protection_data *data, uint64_t input_size) {
        uint32_t function_id, private_size, max_output;
        const void *bytes;
        size_t n;

        FUZZ_CHECK(sd_bus_message_seal(m, 1, 0) >= 0);
        FUZZ_CHECK(sd_bus_message_rewind(m, true) >= 0);
        FUZZ_CHECK(streq(sd_bus_message_get_signature(m, true), "uuayu"));
        FUZZ_CHECK(sd_bus_message_read(m, "uu", &function_id, &private_size) > 0);
        FUZZ_CHECK(sd_bus_message_read_array(m, 'y', &bytes, &n) >= 0);
        FUZZ_CHECK(sd_bus_message_read(m, "u", &max_output) > 0);

        FUZZ_CHECK(function_id == data->HWProtectionFunctionID);
        FUZZ_CHECK(private_size == data->pInputData->PrivateDataSize);
        FUZZ_CHECK(n == input_size);
        FUZZ_CHECK(n == 0 || memcmp(bytes, data->pInputData->pbInput, n) == 0);
        FUZZ_CHECK(max_output == data->pOutputData->MaxHWProtectionDataSize);
}

typedef struct ReplySpec {
        bool well_typed;
        uint32_t private_size, hw_size;
        uint64_t execution_time;
        size_t output_size;
        int32_t status;
} ReplySpec;

static sd_bus_message *make_reply(FuzzInput *in, ReplySpec *spec) {
        static const char *const wrong[] = { "", "uut", "uutay", "uutayu", "uutays", "s", "uuuayi", "iutayi" };
        sd_bus_message *reply = NULL;
        uint8_t choice = fuzz_u8(in);
        const uint8_t *output;
        size_t n;

        /* Any message will do as a container of the body. */
        FUZZ_CHECK(sd_bus_message_new_signal(bus, &reply, "/", "org.keyd.Fuzz", "Reply") >= 0);

        *spec = (ReplySpec) {
                .well_typed = choice % 8 != 0,
                .private_size = fuzz_size(in),
                .hw_size = fuzz_size(in),
                .execution_time = fuzz_u64(in),
                .status = (int32_t) fuzz_u32(in),
        };
        /* Mostly an output as long as the sizes say; sometimes not. */
        if (choice % 4 != 3 && (uint64_t) spec->private_size + spec->hw_size <= MAX_FUZZ_INPUT)
                spec->output_size = (size_t) spec->private_size + spec->hw_size;
        else
                spec->output_size = fuzz_u16(in) % 1024;

        if (spec->well_typed) {
                uint8_t *buf = calloc(1, spec->output_size ?: 1);
                FUZZ_CHECK(buf);
                output = fuzz_bytes(in, spec->output_size, &n);
                memcpy(buf, output, n);
                FUZZ_CHECK(sd_bus_message_append(reply, "uut", spec->private_size, spec->hw_size,
                                                  spec->execution_time) >= 0);
                FUZZ_CHECK(sd_bus_message_append_array(reply, 'y', buf, spec->output_size) >= 0);
                FUZZ_CHECK(sd_bus_message_append(reply, "i", spec->status) >= 0);
                /* A later keyd may add results at the end (the contract
                 * grows only by adding): the library reads past them. */
                if (choice & 0x10)
                        FUZZ_CHECK(sd_bus_message_append(reply, "s", "added later") >= 0);
                free(buf);
        } else {
                const char *sig = wrong[fuzz_u8(in) % (sizeof(wrong) / sizeof(wrong[0]))];
                for (const char *t = sig; *t; t++) {
                        uint32_t v = fuzz_u32(in);
                        switch (*t) {
                        case 'a':
                                FUZZ_CHECK(sd_bus_message_append_array(reply, 'y', "abc", 3) >= 0);
                                t++; /* the 'y' */
                                break;
                        case 's':
                                FUZZ_CHECK(sd_bus_message_append(reply, "s", "not a number") >= 0);
                                break;
                        case 't':
                                FUZZ_CHECK(sd_bus_message_append(reply, "t", (uint64_t) v) >= 0);
                                break;
                        default:
                                FUZZ_CHECK(sd_bus_message_append_basic(reply, *t, &v) >= 0);
                                break;
                        }
                }
        }

        FUZZ_CHECK(sd_bus_message_seal(reply, 2, 0) >= 0);
        FUZZ_CHECK(sd_bus_message_rewind(reply, true) >= 0);
        return reply;
}

static void check_reply(FuzzInput *in, keyd_key_exchange_hw_protection_data *data, size_t out_alloc) {
        keyd_key_exchange_hw_protection_output_data *out = data->pOutputData, *before;
        uint32_t max_hw = out->MaxHWProtectionDataSize, room_private = out->PrivateDataSize;
        HRESULT status_before = data->Status, hr;
        uint64_t round_trip = fuzz_u64(in);
        ReplySpec spec;
        sd_bus_message *reply;
        bool fits;

        reply = make_reply(in, &spec);
        before = malloc(out_alloc);
        FUZZ_CHECK(before);
        memcpy(before, out, out_alloc);

        hr = keyd_hw_protection_apply_reply(reply, data, round_trip, "NegotiateCryptoSessionKeyExchange");

        fits = spec.well_typed && (uint64_t) spec.private_size + spec.hw_size == spec.output_size &&
               spec.hw_size <= max_hw && spec.private_size <= room_private;
        if (!fits) {
                FUZZ_CHECK(KEYD_FAILED(hr));
                FUZZ_CHECK(keyd_last_error_message() && *keyd_last_error_message());
                /* Nothing written. */
                FUZZ_CHECK(memcmp(before, out, out_alloc) == 0);
                FUZZ_CHECK(data->Status == status_before);
        } else {
                size_t header = offsetof(keyd_key_exchange_hw_protection_output_data, pbOutput);
                FUZZ_CHECK(hr == KEYD_S_OK);
                FUZZ_CHECK(out->PrivateDataSize == spec.private_size);
                FUZZ_CHECK(out->HWProtectionDataSize == spec.hw_size);
                FUZZ_CHECK(out->MaxHWProtectionDataSize == max_hw);
                FUZZ_CHECK(out->ExecutionTime == spec.execution_time);
                FUZZ_CHECK(out->TransportTime <= round_trip);
                FUZZ_CHECK(data->Status == (HRESULT) spec.status);
                /* The bytes past the output are the caller's, untouched. */
                FUZZ_CHECK(memcmp((uint8_t *) out + header + spec.output_size,
                                  (uint8_t *) before + header + spec.output_size,
                                  out_alloc - header - spec.output_size) == 0);
        }

        free(before);
        sd_bus_message_unref(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
        FuzzInput in = { bytes, size, 0 };
        keyd_key_exchange_hw_protection_data data = {};
        keyd_key_exchange_hw_protection_input_data *input = NULL;
        keyd_key_exchange_hw_protection_output_data *output = NULL;
        uint8_t flags = fuzz_u8(&in);
        uint32_t data_size = flags & 1 ? fuzz_u32(&in) : (uint32_t) sizeof(data);
        uint32_t in_private = fuzz_size(&in), in_hw = fuzz_size(&in);
        uint32_t out_private = fuzz_u16(&in) % 1024, out_max = fuzz_u16(&in) % 2048;
        uint64_t in_total = (uint64_t) in_private + in_hw, input_size = UINT64_MAX;
        size_t in_alloc = 0, out_alloc = 0;
        bool in_allocated;
        HRESULT hr, expected;

        data.HWProtectionFunctionID = fuzz_u32(&in);
        data.Status = (HRESULT) 0x12345678;

        /* The input structure exactly as large as its sizes say (never more
         * than MAX_FUZZ_INPUT bytes: beyond that only the size checks run). */
        in_allocated = !(flags & 2) && in_total <= MAX_FUZZ_INPUT;
        if (in_allocated) {
                size_t n;
                const uint8_t *p;

                /* (Never less than the struct itself: C needs the whole
                 * object for a member access, whatever pbInput's length.) */
                in_alloc = MAX(sizeof(*input),
                               offsetof(keyd_key_exchange_hw_protection_input_data, pbInput) + (size_t) in_total);
                input = malloc(in_alloc);
                FUZZ_CHECK(input);
                input->PrivateDataSize = in_private;
                input->HWProtectionDataSize = in_hw;
                p = fuzz_bytes(&in, (size_t) in_total, &n);
                memset(input->pbInput, 0, in_alloc - offsetof(keyd_key_exchange_hw_protection_input_data, pbInput));
                memcpy(input->pbInput, p, n);
        } else if (!(flags & 2)) {
                /* Sizes beyond what we allocate (above the limit, or just
                 * large): only the struct exists, and only the checks run. */
                input = malloc(sizeof(*input));
                FUZZ_CHECK(input);
                input->PrivateDataSize = in_private;
                input->HWProtectionDataSize = in_hw;
        }
        if (!(flags & 4)) {
                out_alloc = MAX(sizeof(*output), offsetof(keyd_key_exchange_hw_protection_output_data, pbOutput) +
                                                         (size_t) out_private + out_max);
                output = malloc(out_alloc);
                FUZZ_CHECK(output);
                memset(output, 0xee, out_alloc);
                output->PrivateDataSize = out_private;
                output->MaxHWProtectionDataSize = out_max;
        }
        data.pInputData = input;
        data.pOutputData = output;

        /* 1. The argument checks. */
        if (flags & 8)
                expected = KEYD_E_POINTER;
        else if (data_size != sizeof(data))
                expected = KEYD_E_INVALIDARG;
        else if (!input || !output)
                expected = KEYD_E_POINTER;
        else if (in_total > KEYD_MAX_ARRAY_SIZE)
                expected = KEYD_E_INVALIDARG;
        else
                expected = KEYD_S_OK;
        hr = keyd_hw_protection_check_args(data_size, flags & 8 ? NULL : &data, &input_size);
        FUZZ_CHECK(hr == expected);

        /* (Sizes within the limit but beyond what we allocated only test the checks.) */
        if (hr == KEYD_S_OK && in_allocated) {
                sd_bus_message *m = NULL;

                FUZZ_CHECK(input_size == in_total);

                /* 2. The call. */
                FUZZ_CHECK(sd_bus_message_new_method_call(bus, &m, "org.keyd.KeyBroker1",
                                                          "/org/keyd/KeyBroker1/session/1",
                                                          "org.keyd.KeyBroker1.CryptoSession",
                                                          "ExecuteHWProtectionFunction") >= 0);
                FUZZ_CHECK(keyd_hw_protection_append_call(m, &data, input_size) >= 0);
                check_call(m, &data, input_size);
                sd_bus_message_unref(m);

                /* 3. The reply, written back. */
                check_reply(&in, &data, out_alloc);
        }

        free(input);
        free(output);
        return 0;
}
