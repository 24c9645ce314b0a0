/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* NegotiateCryptoSessionKeyExchange on a D3D11_KEY_EXCHANGE_HW_PROTECTION
 * session: pData is a D3D11_KEY_EXCHANGE_HW_PROTECTION_DATA whose input and
 * output structures the caller allocated with their variable-length byte
 * arrays. We marshal them to keyd's ExecuteHWProtectionFunction and write
 * the answer back in place, as the D3D11 runtime does for a driver. */

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "session-data.h"

static uint64_t now_100ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 10000000U + (uint64_t) ts.tv_nsec / 100U;
}

typedef struct HwProtectionReply {
        uint32_t private_data_size;
        uint32_t hw_protection_data_size;
        uint64_t execution_time;
        const uint8_t *output;
        size_t output_size;
        int32_t status;
} HwProtectionReply;

static int read_reply(sd_bus_message *reply, HwProtectionReply *ret) {
        const void *output;
        int r;

        r = sd_bus_message_read(reply, "uut", &ret->private_data_size, &ret->hw_protection_data_size,
                                &ret->execution_time);
        if (r <= 0)
                return r ?: -EBADMSG;
        r = sd_bus_message_read_array(reply, 'y', &output, &ret->output_size);
        if (r < 0)
                return r;
        ret->output = output;
        r = sd_bus_message_read(reply, "i", &ret->status);
        if (r <= 0)
                return r ?: -EBADMSG;
        return 0;
}

/* Whether what keyd answered fits the caller's output structure. Nothing is
 * written before this says yes. */
static HRESULT check_reply_fits(const HwProtectionReply *reply,
                                const keyd_key_exchange_hw_protection_output_data *out, const char *method) {
        if ((uint64_t) reply->private_data_size + reply->hw_protection_data_size != reply->output_size)
                return keyd_set_last_error(KEYD_E_FAIL,
                                           "%s: keyd's reply does not match the contract: %zu bytes of output for "
                                           "%" PRIu32 " bytes of private data and %" PRIu32 " of function data",
                                           method, reply->output_size, reply->private_data_size,
                                           reply->hw_protection_data_size);
        if (reply->hw_protection_data_size > out->MaxHWProtectionDataSize)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: the function produced %" PRIu32 " bytes of output; "
                                           "MaxHWProtectionDataSize allows %" PRIu32,
                                           method, reply->hw_protection_data_size, out->MaxHWProtectionDataSize);
        if (reply->private_data_size > out->PrivateDataSize)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: keyd returned %" PRIu32 " bytes of private data; the output's "
                                           "PrivateDataSize reserves %" PRIu32
                                           " (ask GetCryptoSessionPrivateDataSize)",
                                           method, reply->private_data_size, out->PrivateDataSize);
        return KEYD_S_OK;
}

HRESULT keyd_hw_protection_check_args(uint32_t DataSize, const void *pData, uint64_t *ret_input_size) {
        static const char method[] = "NegotiateCryptoSessionKeyExchange";
        const keyd_key_exchange_hw_protection_data *data = pData;
        const keyd_key_exchange_hw_protection_input_data *in;
        uint64_t input_size;

        if (!pData)
                return keyd_fail_null(method, "pData");
        if (DataSize != sizeof(keyd_key_exchange_hw_protection_data))
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: DataSize is %" PRIu32 " bytes; on a HW_PROTECTION session pData "
                                           "is a keyd_key_exchange_hw_protection_data of %zu bytes",
                                           method, DataSize, sizeof(keyd_key_exchange_hw_protection_data));
        in = data->pInputData;
        if (!in)
                return keyd_fail_null(method, "pInputData");
        if (!data->pOutputData)
                return keyd_fail_null(method, "pOutputData");

        input_size = (uint64_t) in->PrivateDataSize + in->HWProtectionDataSize;
        if (input_size > KEYD_MAX_ARRAY_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: the input is %" PRIu64 " bytes (PrivateDataSize %" PRIu32
                                           " + HWProtectionDataSize %" PRIu32 "); keyd takes at most %u",
                                           method, input_size, in->PrivateDataSize, in->HWProtectionDataSize,
                                           KEYD_MAX_ARRAY_SIZE);
        *ret_input_size = input_size;
        return KEYD_S_OK;
}

int keyd_hw_protection_append_call(sd_bus_message *m, const keyd_key_exchange_hw_protection_data *data,
                                   uint64_t input_size) {
        int r;

        r = sd_bus_message_append(m, "uu", data->HWProtectionFunctionID, data->pInputData->PrivateDataSize);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(m, 'y', data->pInputData->pbInput, (size_t) input_size);
        if (r < 0)
                return r;
        return sd_bus_message_append(m, "u", data->pOutputData->MaxHWProtectionDataSize);
}

HRESULT keyd_hw_protection_apply_reply(sd_bus_message *reply, keyd_key_exchange_hw_protection_data *data,
                                       uint64_t round_trip, const char *method) {
        keyd_key_exchange_hw_protection_output_data *out = data->pOutputData;
        HwProtectionReply result = {};
        HRESULT hr;
        int r;

        r = read_reply(reply, &result);
        if (r < 0)
                return keyd_fail_reply(method, r);
        hr = check_reply_fits(&result, out, method);
        if (KEYD_FAILED(hr))
                return hr;

        /* Private data first, then the function's output, as D3D11 lays out pbOutput. */
        if (result.output_size > 0)
                memcpy(out->pbOutput, result.output, result.output_size);
        out->PrivateDataSize = result.private_data_size;
        out->HWProtectionDataSize = result.hw_protection_data_size;
        out->ExecutionTime = result.execution_time;
        /* Whatever of the round trip the function did not take was transport. */
        out->TransportTime = round_trip > result.execution_time ? round_trip - result.execution_time : 0;
        data->Status = (HRESULT) result.status;
        return KEYD_S_OK;
}

HRESULT keyd_hw_protection_negotiate(keyd_crypto_session *session, uint32_t DataSize, void *pData) {
        static const char method[] = "NegotiateCryptoSessionKeyExchange";
        keyd_key_exchange_hw_protection_data *data = pData;
        uint64_t input_size, start, round_trip;
        HRESULT hr;
        int r;

        hr = keyd_hw_protection_check_args(DataSize, pData, &input_size);
        if (KEYD_FAILED(hr))
                return hr;

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = keyd_session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        r = keyd_session_new_call(session, &m, "ExecuteHWProtectionFunction");
        if (r >= 0)
                /* DRM commands may carry secrets: sd-bus wipes the message when it frees it. */
                r = sd_bus_message_sensitive(m);
        if (r >= 0)
                r = keyd_hw_protection_append_call(m, data, input_size);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);

        start = now_100ns();
        hr = keyd_session_send(session, m, &reply, method);
        round_trip = now_100ns() - start;
        if (KEYD_FAILED(hr))
                return hr;
        (void) sd_bus_message_sensitive(reply);

        return keyd_hw_protection_apply_reply(reply, data, round_trip, method);
}
