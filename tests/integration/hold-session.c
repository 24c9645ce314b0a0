/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd-hold-session ADDRESS [--decoder]: create a crypto session with libkeyd
 * on the bus at ADDRESS, negotiate a random key into it, print its object
 * path and handle (and with --decoder, make an H.264 video decoder on it and
 * print its path third), and keep it open until stdin is closed. For the busctl test,
 * which needs a session to look at that outlives a single busctl call. */

#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "keyd/keyd.h"

static int fail(HRESULT hr, const char *what) {
        fprintf(stderr, "keyd-hold-session: %s: 0x%08X %s: %s\n", what, (unsigned) hr, keyd_hresult_to_string(hr),
                keyd_last_error_message());
        return EXIT_FAILURE;
}

int main(int argc, char *argv[]) {
        keyd_client *client = NULL;
        keyd_crypto_session *session = NULL;
        uint8_t key[16], data[4096], *cert;
        uint32_t cert_size = 0;
        uint64_t handle = 0;
        char buf[64];
        HRESULT hr;

        keyd_video_decoder *decoder = NULL;
        bool want_decoder = argc == 3 && strcmp(argv[2], "--decoder") == 0;

        if (argc != 2 && !want_decoder) {
                fprintf(stderr, "Usage: keyd-hold-session ADDRESS [--decoder]\n");
                return EXIT_FAILURE;
        }

        hr = keyd_client_open_address(argv[1], &client);
        if (KEYD_FAILED(hr))
                return fail(hr, "cannot connect");
        hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN,
                                        &KEYD_KEY_EXCHANGE_RSAES_OAEP, &session);
        if (KEYD_FAILED(hr))
                return fail(hr, "CreateCryptoSession");

        hr = keyd_crypto_session_get_certificate_size(session, &cert_size);
        if (KEYD_FAILED(hr))
                return fail(hr, "GetCertificateSize");
        cert = malloc(cert_size);
        if (!cert)
                return fail(KEYD_E_OUTOFMEMORY, "malloc");
        hr = keyd_crypto_session_get_certificate(session, cert_size, cert);
        if (KEYD_FAILED(hr))
                return fail(hr, "GetCertificate");
        if (getrandom(key, sizeof(key), 0) != sizeof(key))
                return fail(KEYD_E_FAIL, "getrandom");
        /* 2048-bit key: 256 bytes */
        hr = keyd_wrap_session_key(cert, cert_size, &KEYD_KEY_EXCHANGE_RSAES_OAEP, key, sizeof(key), 256, data);
        if (KEYD_FAILED(hr))
                return fail(hr, "wrap");
        hr = keyd_negotiate_crypto_session_key_exchange(session, 256, data);
        if (KEYD_FAILED(hr))
                return fail(hr, "NegotiateCryptoSessionKeyExchange");
        hr = keyd_crypto_session_get_handle(session, &handle);
        if (KEYD_FAILED(hr))
                return fail(hr, "GetCryptoSessionHandle");
        free(cert);

        if (want_decoder) {
                /* No codec configuration: an Annex-B stream. */
                hr = keyd_create_video_decoder(session, &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, 320, 240, 0, NULL,
                                               &decoder);
                if (KEYD_FAILED(hr))
                        return fail(hr, "CreateVideoDecoder");
                printf("%s %" PRIu64 " %s/decoder/0\n", keyd_crypto_session_get_object_path(session), handle,
                       keyd_crypto_session_get_object_path(session));
        } else
                printf("%s %" PRIu64 "\n", keyd_crypto_session_get_object_path(session), handle);
        fflush(stdout);

        /* Hold the session until our stdin closes. */
        while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
                ;

        keyd_video_decoder_release(decoder);
        keyd_crypto_session_release(session);
        keyd_client_close(client);
        return EXIT_SUCCESS;
}
