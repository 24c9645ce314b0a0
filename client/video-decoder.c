/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* ID3D11VideoDecoder over keyd's VideoDecoder objects (LIBKEYD_0.2).
 * Placeholder: the calls answer E_NOTIMPL until the daemon side lands. */

#include "client-internal.h"

_public_ HRESULT keyd_create_video_decoder(keyd_crypto_session *session, const keyd_guid *pDecoderProfile,
                                           uint32_t SampleWidth, uint32_t SampleHeight, uint32_t ConfigSize,
                                           const void *pConfig, keyd_video_decoder **ppDecoder) {
        keyd_clear_last_error();
        if (ppDecoder)
                *ppDecoder = NULL;
        return keyd_set_last_error(KEYD_E_NOTIMPL, "CreateVideoDecoder: not implemented yet");
}

_public_ HRESULT keyd_decoder_begin_frame(keyd_video_decoder *decoder, uint32_t ContentKeySize,
                                          const void *pContentKey) {
        keyd_clear_last_error();
        return keyd_set_last_error(KEYD_E_NOTIMPL, "DecoderBeginFrame: not implemented yet");
}

_public_ HRESULT keyd_decoder_submit_buffer(keyd_video_decoder *decoder, uint32_t DataSize, const void *pData,
                                            uint32_t IVSize, const void *pIV, uint32_t SubSampleCount,
                                            const keyd_subsample_mapping_block *pSubSamples, int64_t Pts) {
        keyd_clear_last_error();
        return keyd_set_last_error(KEYD_E_NOTIMPL, "SubmitDecoderBuffers1: not implemented yet");
}

_public_ HRESULT keyd_decoder_end_frame(keyd_video_decoder *decoder) {
        keyd_clear_last_error();
        return keyd_set_last_error(KEYD_E_NOTIMPL, "DecoderEndFrame: not implemented yet");
}

_public_ HRESULT keyd_decoder_drain(keyd_video_decoder *decoder) {
        keyd_clear_last_error();
        return keyd_set_last_error(KEYD_E_NOTIMPL, "Drain: not implemented yet");
}

_public_ HRESULT keyd_decoder_flush(keyd_video_decoder *decoder) {
        keyd_clear_last_error();
        return keyd_set_last_error(KEYD_E_NOTIMPL, "Flush: not implemented yet");
}

_public_ HRESULT keyd_decoder_get_frame(keyd_video_decoder *decoder, keyd_video_frame **ppFrame) {
        keyd_clear_last_error();
        if (ppFrame)
                *ppFrame = NULL;
        return keyd_set_last_error(KEYD_E_NOTIMPL, "GetFrame: not implemented yet");
}

_public_ keyd_video_frame *keyd_video_frame_release(keyd_video_frame *frame) {
        return NULL;
}

_public_ keyd_video_decoder *keyd_video_decoder_release(keyd_video_decoder *decoder) {
        return NULL;
}
