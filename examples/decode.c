/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Play a CENC-encrypted MP4 (H.264 or HEVC Main) through keyd: keyd decrypts
 * and decodes each sample; only decoded frames come back.
 * Build: cc decode.c $(pkg-config --cflags --libs keyd libavformat libavcodec libavutil)
 * Run:   ./decode enc.mp4 00112233445566778899aabbccddeeff */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libavformat/avformat.h>
#include <libavutil/encryption_info.h>
#include <keyd/keyd.h>

/* Negotiate KEY as the session key: samples decrypt with it (no content key). */
static HRESULT negotiate(keyd_crypto_session *session, const uint8_t key[16]) {
        uint8_t cert[8192], data[1024];
        uint32_t cert_size = 0, data_size = 0;
        HRESULT hr = keyd_crypto_session_get_certificate_size(session, &cert_size);

        if (KEYD_SUCCEEDED(hr) && cert_size > sizeof(cert))
                hr = KEYD_E_OUTOFMEMORY;
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_crypto_session_get_certificate(session, cert_size, cert);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_get_key_exchange_data_size(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, &data_size);
        if (KEYD_SUCCEEDED(hr) && data_size > sizeof(data))
                hr = KEYD_E_OUTOFMEMORY;
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, 16, data_size, data);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_negotiate_crypto_session_key_exchange(session, data_size, data);
        return hr;
}

/* Every frame keyd has ready: S_OK, then S_FALSE when there are no more. */
static HRESULT take_frames(keyd_video_decoder *decoder, unsigned *frames) {
        keyd_video_frame *frame;
        HRESULT hr;

        while ((hr = keyd_decoder_get_frame(decoder, &frame)) == KEYD_S_OK) {
                printf("frame %u: pts %lld, %ux%u %s\n", (*frames)++, (long long) frame->Pts,
                       (unsigned) frame->Width, (unsigned) frame->Height,
                       frame->Format == KEYD_FORMAT_P010 ? "P010" : "NV12");
                keyd_video_frame_release(frame);
        }
        return hr == KEYD_S_FALSE ? KEYD_S_OK : hr;
}

/* One sample, as the demuxer hands it over: still encrypted, with its IV and
 * subsample map. */
static HRESULT decode_sample(keyd_video_decoder *decoder, const AVPacket *pkt) {
        keyd_subsample_mapping_block map[256];
        const uint8_t *side;
        size_t side_size;
        AVEncryptionInfo *info = NULL;
        uint32_t count = 0;
        HRESULT hr;

        side = av_packet_get_side_data(pkt, AV_PKT_DATA_ENCRYPTION_INFO, &side_size);
        if (side && !(info = av_encryption_info_get_side_data(side, side_size)))
                return KEYD_E_OUTOFMEMORY;
        for (; info && count < info->subsample_count && count < 256; count++)
                map[count] = (keyd_subsample_mapping_block) { info->subsamples[count].bytes_of_clear_data,
                                                              info->subsamples[count].bytes_of_protected_data };

        hr = keyd_decoder_begin_frame(decoder, 0, NULL);   /* 0, NULL: the session key */
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_decoder_submit_buffer(decoder, (uint32_t) pkt->size, pkt->data, info ? info->iv_size : 0,
                                                info ? info->iv : NULL, count, map, pkt->pts);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_decoder_end_frame(decoder);
        av_encryption_info_free(info);
        return hr;
}

int main(int argc, char *argv[]) {
        AVFormatContext *format = NULL;
        AVPacket *pkt = av_packet_alloc();
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        keyd_video_decoder *decoder = NULL;
        const keyd_guid *profile = &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN;
        AVCodecParameters *par;
        unsigned frames = 0, byte;
        uint8_t key[16];
        HRESULT hr = KEYD_S_OK;
        int index = -1;

        if (argc != 3) {
                fprintf(stderr, "Usage: %s FILE.mp4 KEY (32 hex digits)\n", argv[0]);
                return EXIT_FAILURE;
        }
        for (int i = 0; i < 16; i++)
                if (sscanf(argv[2] + 2 * i, "%2x", &byte) != 1)
                        hr = KEYD_E_INVALIDARG;
                else
                        key[i] = (uint8_t) byte;
        if (KEYD_SUCCEEDED(hr) && avformat_open_input(&format, argv[1], NULL, NULL) == 0)
                index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (KEYD_FAILED(hr) || index < 0 || !pkt) {
                fprintf(stderr, "%s: not an MP4 file with video, or KEY is not 32 hex digits\n", argv[1]);
                return EXIT_FAILURE;
        }
        par = format->streams[index]->codecpar;
        if (par->codec_id == AV_CODEC_ID_H264)
                profile = &KEYD_DECODER_PROFILE_H264_VLD_NOFGT;

        hr = keyd_client_open(&client);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, profile,
                                                &KEYD_KEY_EXCHANGE_RSAES_OAEP, &session);
        if (KEYD_SUCCEEDED(hr))
                hr = negotiate(session, key);
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_create_video_decoder(session, profile, (uint32_t) par->width, (uint32_t) par->height,
                                               (uint32_t) par->extradata_size, par->extradata, &decoder);
        while (KEYD_SUCCEEDED(hr) && av_read_frame(format, pkt) >= 0) {
                if (pkt->stream_index == index)
                        hr = decode_sample(decoder, pkt);
                if (KEYD_SUCCEEDED(hr))
                        hr = take_frames(decoder, &frames);
                av_packet_unref(pkt);
        }
        if (KEYD_SUCCEEDED(hr))
                hr = keyd_decoder_drain(decoder);   /* the frames the decoder held back */
        if (KEYD_SUCCEEDED(hr))
                hr = take_frames(decoder, &frames);

        if (KEYD_SUCCEEDED(hr))
                printf("0x%08X: %u frames decoded inside keyd\n", (unsigned) hr, frames);
        else
                fprintf(stderr, "0x%08X: %s (%s)\n", (unsigned) hr, keyd_last_error_message(),
                        keyd_hresult_to_string(hr));

        explicit_bzero(key, sizeof(key));
        keyd_video_decoder_release(decoder);
        keyd_crypto_session_release(session);
        keyd_client_close(client);
        av_packet_free(&pkt);
        avformat_close_input(&format);
        return KEYD_SUCCEEDED(hr) ? EXIT_SUCCESS : EXIT_FAILURE;
}
