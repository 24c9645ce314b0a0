/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libkeyd: the client side of keyd, the Linux broker for protected-video
 * crypto sessions. The calls mirror Direct3D 11's crypto-session API
 * (ID3D11VideoDevice::CreateCryptoSession, ID3D11CryptoSession,
 * ID3D11VideoContext::NegotiateCryptoSessionKeyExchange, ...): callers pass
 * sizes and buffers and get an HRESULT back. The library marshals them over
 * D-Bus to the keyd daemon (bus name org.keyd.KeyBroker1).
 *
 * Every function is safe to call from several threads; calls on one
 * keyd_client are serialised on its connection.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exported data must say so in its declaration: a library built with
 * -fvisibility=hidden cannot export it otherwise. */
#if defined(__GNUC__)
#define KEYD_EXPORT __attribute__((visibility("default")))
#else
#define KEYD_EXPORT
#endif

#ifndef _HRESULT_DEFINED
#define _HRESULT_DEFINED
typedef int32_t HRESULT;
#endif

#define KEYD_HRESULT(x) ((HRESULT) (uint32_t) (x))

#define KEYD_S_OK                        KEYD_HRESULT(0x00000000u)
#define KEYD_S_FALSE                     KEYD_HRESULT(0x00000001u)
#define KEYD_E_INVALIDARG                KEYD_HRESULT(0x80070057u)
#define KEYD_E_OUTOFMEMORY               KEYD_HRESULT(0x8007000Eu)
#define KEYD_E_NOTIMPL                   KEYD_HRESULT(0x80004001u)
#define KEYD_E_FAIL                      KEYD_HRESULT(0x80004005u)
#define KEYD_E_ACCESSDENIED              KEYD_HRESULT(0x80070005u)
#define KEYD_E_POINTER                   KEYD_HRESULT(0x80004003u)
#define KEYD_DXGI_ERROR_INVALID_CALL     KEYD_HRESULT(0x887A0001u)
#define KEYD_DXGI_ERROR_UNSUPPORTED      KEYD_HRESULT(0x887A0004u)
#define KEYD_DXGI_ERROR_DEVICE_REMOVED   KEYD_HRESULT(0x887A0005u)
/* HRESULT_FROM_WIN32(ERROR_SERVICE_NOT_ACTIVE): keyd is not on the bus. */
#define KEYD_E_SERVICE_NOT_ACTIVE        KEYD_HRESULT(0x80070426u)
/* HRESULT_FROM_WIN32(ERROR_TIMEOUT): keyd did not answer in time. */
#define KEYD_E_TIMEOUT                   KEYD_HRESULT(0x800705B4u)

#define KEYD_SUCCEEDED(hr) ((HRESULT) (hr) >= 0)
#define KEYD_FAILED(hr)    ((HRESULT) (hr) < 0)

/* A GUID with the Windows memory layout (Data1..Data4). */
typedef struct keyd_guid {
        uint32_t Data1;
        uint16_t Data2;
        uint16_t Data3;
        uint8_t Data4[8];
} keyd_guid;

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus NUL */
#define KEYD_GUID_STRING_SIZE 37

extern KEYD_EXPORT const keyd_guid KEYD_CRYPTO_TYPE_AES128_CTR;
extern KEYD_EXPORT const keyd_guid KEYD_KEY_EXCHANGE_RSAES_OAEP;        /* SHA-512, MGF1-SHA-512 */
extern KEYD_EXPORT const keyd_guid KEYD_KEY_EXCHANGE_HW_PROTECTION;
extern KEYD_EXPORT const keyd_guid KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA256; /* keyd's own */
extern KEYD_EXPORT const keyd_guid KEYD_KEY_EXCHANGE_RSAES_OAEP_SHA1;   /* keyd's own */
extern KEYD_EXPORT const keyd_guid KEYD_DECODER_PROFILE_H264_VLD_NOFGT;
extern KEYD_EXPORT const keyd_guid KEYD_DECODER_PROFILE_HEVC_VLD_MAIN;
extern KEYD_EXPORT const keyd_guid KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10;
extern KEYD_EXPORT const keyd_guid KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0;
extern KEYD_EXPORT const keyd_guid KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0;

/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", any case, optionally in
 * braces. KEYD_E_INVALIDARG for anything else, KEYD_E_POINTER for NULL. */
HRESULT keyd_guid_from_string(const char *s, keyd_guid *ret);
/* Lowercase form into buf (at least KEYD_GUID_STRING_SIZE bytes). */
HRESULT keyd_guid_to_string(const keyd_guid *guid, char *buf, size_t size);
int keyd_guid_equal(const keyd_guid *a, const keyd_guid *b);

/* D3D11_CONTENT_PROTECTION_CAPS values */
#define KEYD_CONTENT_PROTECTION_CAPS_SOFTWARE                       0x00000001u
#define KEYD_CONTENT_PROTECTION_CAPS_HARDWARE                       0x00000002u
#define KEYD_CONTENT_PROTECTION_CAPS_PROTECTION_ALWAYS_ON           0x00000004u
#define KEYD_CONTENT_PROTECTION_CAPS_PARTIAL_DECRYPTION             0x00000008u
#define KEYD_CONTENT_PROTECTION_CAPS_CONTENT_KEY                    0x00000010u
#define KEYD_CONTENT_PROTECTION_CAPS_FRESHEN_SESSION_KEY            0x00000020u
#define KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK            0x00000040u
#define KEYD_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK_KEY        0x00000080u
#define KEYD_CONTENT_PROTECTION_CAPS_SEQUENTIAL_CTR_IV              0x00000100u
#define KEYD_CONTENT_PROTECTION_CAPS_ENCRYPT_SLICEDATA_ONLY         0x00000200u
#define KEYD_CONTENT_PROTECTION_CAPS_DECRYPTION_BLT                 0x00000400u
#define KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_PROTECT_UNCOMPRESSED  0x00000800u
#define KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_PROTECTED_MEMORY_PAGEABLE 0x00001000u
#define KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_TEARDOWN              0x00002000u
#define KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_DRM_COMMUNICATION     0x00004000u

/* D3D11_VIDEO_CONTENT_PROTECTION_CAPS */
typedef struct keyd_content_protection_caps {
        uint32_t Caps;
        uint32_t KeyExchangeTypeCount;
        uint32_t BlockAlignmentSize;
        uint64_t ProtectedMemorySize;
} keyd_content_protection_caps;

/* D3D11_CRYPTO_SESSION_STATUS */
typedef enum keyd_crypto_session_status {
        KEYD_CRYPTO_SESSION_STATUS_OK = 0,
        KEYD_CRYPTO_SESSION_STATUS_KEY_LOST = 1,
        KEYD_CRYPTO_SESSION_STATUS_KEY_AND_CONTENT_LOST = 2,
} keyd_crypto_session_status;

typedef struct keyd_client keyd_client;
typedef struct keyd_crypto_session keyd_crypto_session;

/* Default time a call waits for keyd before it fails with KEYD_E_TIMEOUT. */
#define KEYD_DEFAULT_TIMEOUT_USEC (10ULL * 1000ULL * 1000ULL)

/* Connect to keyd on the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured). */
HRESULT keyd_client_open(keyd_client **ret);
/* Connect to keyd on the bus at a D-Bus address ("unix:path=..."). */
HRESULT keyd_client_open_address(const char *address, keyd_client **ret);
/* Disconnect. keyd destroys every session this client still owns and wipes
 * its keys. Sessions not yet released stay valid objects, but their calls
 * fail with KEYD_DXGI_ERROR_DEVICE_REMOVED. Returns NULL. */
keyd_client *keyd_client_close(keyd_client *client);
/* How long each call waits for an answer (0 = KEYD_DEFAULT_TIMEOUT_USEC). */
HRESULT keyd_client_set_timeout(keyd_client *client, uint64_t usec);

/* ID3D11VideoDevice::GetContentProtectionCaps. pCryptoType NULL = no
 * encryption; pDecoderProfile NULL = no decoding. */
HRESULT keyd_get_content_protection_caps(keyd_client *client,
                                         const keyd_guid *pCryptoType,
                                         const keyd_guid *pDecoderProfile,
                                         keyd_content_protection_caps *pCaps);

/* ID3D11VideoDevice::CheckCryptoKeyExchange */
HRESULT keyd_check_crypto_key_exchange(keyd_client *client,
                                       const keyd_guid *pCryptoType,
                                       const keyd_guid *pDecoderProfile,
                                       uint32_t Index,
                                       keyd_guid *pKeyExchangeType);

/* ID3D11VideoDevice1::GetCryptoSessionPrivateDataSize */
HRESULT keyd_get_crypto_session_private_data_size(keyd_client *client,
                                                  const keyd_guid *pCryptoType,
                                                  const keyd_guid *pDecoderProfile,
                                                  const keyd_guid *pKeyExchangeType,
                                                  uint32_t *pPrivateInputSize,
                                                  uint32_t *pPrivateOutputSize);

/* ID3D11VideoDevice::CreateCryptoSession */
HRESULT keyd_create_crypto_session(keyd_client *client,
                                   const keyd_guid *pCryptoType,
                                   const keyd_guid *pDecoderProfile,
                                   const keyd_guid *pKeyExchangeType,
                                   keyd_crypto_session **ppCryptoSession);

/* ID3D11CryptoSession::GetCertificateSize / GetCertificate. The certificate
 * is DER X.509 holding the device's RSA public key. CertificateSize must be
 * the size GetCertificateSize reported. */
HRESULT keyd_crypto_session_get_certificate_size(keyd_crypto_session *session,
                                                 uint32_t *pCertificateSize);
HRESULT keyd_crypto_session_get_certificate(keyd_crypto_session *session,
                                            uint32_t CertificateSize,
                                            uint8_t *pCertificate);

/* ID3D11CryptoSession::GetCryptoType / GetDecoderProfile / GetCryptoSessionHandle */
HRESULT keyd_crypto_session_get_crypto_type(keyd_crypto_session *session, keyd_guid *pCryptoType);
HRESULT keyd_crypto_session_get_decoder_profile(keyd_crypto_session *session, keyd_guid *pDecoderProfile);
HRESULT keyd_crypto_session_get_handle(keyd_crypto_session *session, uint64_t *pCryptoSessionHandle);
/* The D-Bus object path of the session, for busctl users. */
const char *keyd_crypto_session_get_object_path(keyd_crypto_session *session);

/* ID3D11VideoContext::NegotiateCryptoSessionKeyExchange. For RSAES-OAEP
 * sessions pData holds DataSize bytes of ciphertext (the modulus length,
 * 256 for RSA-2048); on success the buffer holds the daemon's reply. For
 * HW_PROTECTION sessions pData is a keyd_key_exchange_hw_protection_data
 * (see below). */
HRESULT keyd_negotiate_crypto_session_key_exchange(keyd_crypto_session *session,
                                                   uint32_t DataSize,
                                                   void *pData);

/* ID3D11VideoContext1::CheckCryptoSessionStatus */
HRESULT keyd_check_crypto_session_status(keyd_crypto_session *session,
                                         keyd_crypto_session_status *pStatus);

/* ---- HW_PROTECTION sessions ----
 *
 * On a session created with KEYD_KEY_EXCHANGE_HW_PROTECTION,
 * keyd_negotiate_crypto_session_key_exchange() takes
 * DataSize == sizeof(keyd_key_exchange_hw_protection_data) and pData pointing
 * at that structure (D3D11_KEY_EXCHANGE_HW_PROTECTION_DATA). The library sends
 * the input structure's PrivateDataSize + HWProtectionDataSize bytes of pbInput
 * to keyd's trusted execution environment and writes the answer back into
 * *pOutputData and Status:
 *
 * - The caller allocates the output structure with room for
 *   PrivateDataSize + MaxHWProtectionDataSize bytes from pbOutput on (that is,
 *   offsetof(keyd_key_exchange_hw_protection_output_data, pbOutput) + those
 *   bytes), and sets PrivateDataSize (from GetCryptoSessionPrivateDataSize's
 *   private output size) and MaxHWProtectionDataSize.
 * - On return, PrivateDataSize and HWProtectionDataSize hold the sizes of what
 *   was written to pbOutput (private data first, then the function's output),
 *   ExecutionTime the time the function ran and TransportTime the rest of the
 *   round trip, both in 100 ns units.
 * - The call's HRESULT says whether the function could be run; Status is the
 *   function's own result (E_INVALIDARG for an unknown function id).
 *   An output larger than MaxHWProtectionDataSize is E_INVALIDARG, and
 *   nothing is written then.
 * - No function returns more than 16 MiB (16777216 bytes). On the vpl
 *   backend, which sets aside MaxHWProtectionDataSize bytes before the GPU
 *   runs the function, a MaxHWProtectionDataSize above that is E_INVALIDARG
 *   before anything runs. */

/* D3D11_KEY_EXCHANGE_HW_PROTECTION_INPUT_DATA */
typedef struct keyd_key_exchange_hw_protection_input_data {
        uint32_t PrivateDataSize;
        uint32_t HWProtectionDataSize;
        uint8_t pbInput[4];              /* really PrivateDataSize + HWProtectionDataSize bytes */
} keyd_key_exchange_hw_protection_input_data;

/* D3D11_KEY_EXCHANGE_HW_PROTECTION_OUTPUT_DATA */
typedef struct keyd_key_exchange_hw_protection_output_data {
        uint32_t PrivateDataSize;
        uint32_t MaxHWProtectionDataSize;
        uint32_t HWProtectionDataSize;
        uint64_t TransportTime;
        uint64_t ExecutionTime;
        uint8_t pbOutput[4];             /* really PrivateDataSize + MaxHWProtectionDataSize bytes */
} keyd_key_exchange_hw_protection_output_data;

/* D3D11_KEY_EXCHANGE_HW_PROTECTION_DATA */
typedef struct keyd_key_exchange_hw_protection_data {
        uint32_t HWProtectionFunctionID;
        keyd_key_exchange_hw_protection_input_data *pInputData;
        keyd_key_exchange_hw_protection_output_data *pOutputData;
        HRESULT Status;
} keyd_key_exchange_hw_protection_data;

/* ---- The protected data path (RSAES-OAEP sessions, after a successful
 * NegotiateCryptoSessionKeyExchange) ---- */

/* ID3D11VideoContext::StartSessionKeyRefresh: RandomNumberSize must be 16;
 * pRandomNumber receives R. After keyd_finish_session_key_refresh() the
 * session key is (old session key) XOR R, byte by byte, as D3D11 specifies;
 * until then the old key stays live. A second Start replaces R. */
HRESULT keyd_start_session_key_refresh(keyd_crypto_session *session,
                                       uint32_t RandomNumberSize,
                                       void *pRandomNumber);
/* ID3D11VideoContext::FinishSessionKeyRefresh */
HRESULT keyd_finish_session_key_refresh(keyd_crypto_session *session);

/* ID3D11VideoContext::GetEncryptionBltKey: KeySize must be 16. As D3D11's
 * driver does, every call makes a new read-back key K_blt; pReadbackKey
 * receives it encrypted with the session key, AES-128-ECB-Encrypt(session
 * key, K_blt): decrypt it with the session key. keyd_encryption_blt() uses
 * the newest K_blt: output made before the call needs the key before it.
 * Before the first call, keyd uses the K_blt it drew at the key exchange
 * (and at each later successful exchange); the application learns it only
 * through this call, which then replaces it. */
HRESULT keyd_get_encryption_blt_key(keyd_crypto_session *session,
                                    uint32_t KeySize,
                                    void *pReadbackKey);

/* A protected surface of Size bytes (a multiple of the block alignment, 16)
 * in keyd's memory, counted against the client's ProtectedMemorySize. It
 * holds zeros. *pSurface receives its id within the session. */
HRESULT keyd_create_surface(keyd_crypto_session *session, uint32_t Size, uint32_t *pSurface);
HRESULT keyd_destroy_surface(keyd_crypto_session *session, uint32_t Surface);

/* D3D11_ENCRYPTED_BLOCK_INFO */
typedef struct keyd_encrypted_block_info {
        uint32_t NumEncryptedBytesAtBeginning;
        uint32_t NumBytesInSkipPattern;
        uint32_t NumBytesInEncryptPattern;
} keyd_encrypted_block_info;

/* Data above this size travels through a memfd rather than inside the
 * D-Bus message (DecryptionBltFd, EncryptionBltToFd); above 16 MiB it must. */
#define KEYD_BLT_MEMFD_THRESHOLD (256U * 1024U)

/* ID3D11VideoContext::DecryptionBlt: decrypt DataSize bytes of pData
 * (AES-128-CTR from the 16-byte D3D11_AES_CTR_IV pIV) into the start of
 * Surface. pEncryptedBlockInfo NULL means everything is encrypted. With a
 * content key CK, pContentKey holds CK encrypted with the session key, as in
 * D3D11: AES-128-ECB-Encrypt(session key, CK), ContentKeySize 16; keyd
 * decrypts it back to CK and CK decrypts the data. With ContentKeySize 0 and
 * pContentKey NULL, the session key decrypts. DataSize is a non-zero
 * multiple of 16, at most the surface's size. */
HRESULT keyd_decryption_blt(keyd_crypto_session *session,
                            uint32_t Surface,
                            const keyd_encrypted_block_info *pEncryptedBlockInfo,
                            uint32_t ContentKeySize,
                            const void *pContentKey,
                            uint32_t IVSize,
                            const void *pIV,
                            uint32_t DataSize,
                            const void *pData);

/* ID3D11VideoContext::EncryptionBlt: pData receives the whole surface
 * encrypted with AES-128-CTR under the newest read-back key K_blt (see
 * keyd_get_encryption_blt_key()). As in D3D11, the caller allocates pIV and
 * the driver generates the IV: IVSize must be 16, and pIV receives the
 * D3D11_AES_CTR_IV keyd chose (IV member then Count, both big-endian; the
 * session's first read-back gets a random IV member, each later one the
 * previous plus one, Count 0), which decrypts pData. DataSize must be the
 * surface's size. pIV is written only on success. Above
 * KEYD_BLT_MEMFD_THRESHOLD keyd writes the result into a memfd this library
 * makes and fills first (EncryptionBltToFd), so its pages are the caller's
 * and keyd holds nothing once it has answered. */
HRESULT keyd_encryption_blt(keyd_crypto_session *session,
                            uint32_t Surface,
                            uint32_t IVSize,
                            void *pIV,
                            uint32_t DataSize,
                            void *pData);

/* The last Release: closes the session in keyd (its keys are wiped) and
 * frees the object. Returns NULL. */
keyd_crypto_session *keyd_crypto_session_release(keyd_crypto_session *session);

/* Wrap a 16-byte AES-128 session key to the RSA public key in a DER X.509
 * certificate (as GetCertificate returns it) with the EME-OAEP variant the
 * key-exchange GUID selects. DataSize must be the modulus length, as
 * keyd_get_key_exchange_data_size() gives it; the ciphertext is written to
 * pData. For callers that want no crypto code of
 * their own. */
HRESULT keyd_wrap_session_key(const uint8_t *pCertificate, uint32_t CertificateSize,
                              const keyd_guid *pKeyExchangeType,
                              const uint8_t *pSessionKey, uint32_t SessionKeySize,
                              uint32_t DataSize, void *pData);

/* The DataSize that NegotiateCryptoSessionKeyExchange takes for
 * pKeyExchangeType with the RSA key of a DER X.509 certificate (as
 * GetCertificate returns it): the modulus length, 256 bytes for RSA-2048 and
 * 512 for RSA-4096. Size the buffer of keyd_wrap_session_key() with it.
 * E_INVALIDARG for a certificate that holds no usable RSA key, or a key
 * exchange type that wraps no session key (HW_PROTECTION); *pDataSize is 0
 * then. */
HRESULT keyd_get_key_exchange_data_size(const uint8_t *pCertificate, uint32_t CertificateSize,
                                        const keyd_guid *pKeyExchangeType, uint32_t *pDataSize);

/* ---- Protected decode (LIBKEYD_0.2) ----
 *
 * keyd decrypts each sample (CENC 'cenc', AES-128-CTR) into its own locked
 * memory and decodes it in a sandboxed helper process (keyd-decoder: no
 * capabilities, no_new_privs, a seccomp allowlist without open, socket or
 * exec, nothing open but its socket to keyd). Decoded frames come back as
 * sealed, read-only memfds. Unlike DXVA, keyd parses the bitstream itself:
 * the caller submits whole samples (access units) and no picture-parameter,
 * slice-control or inverse-quantization buffers.
 *
 * A decoder belongs to the crypto session (and client) that created it; it is
 * closed with the session or when the client disconnects. If its helper
 * crashes or misses keyd's per-frame deadline, the call fails with
 * KEYD_E_FAIL and a message that says which (when it died between calls,
 * the next call does), and the decoder is dead: every later call on it
 * returns KEYD_DXGI_ERROR_DEVICE_REMOVED. Release it and
 * create a new one. Other decoders and sessions are not affected. */

/* D3D11_VIDEO_DECODER_SUB_SAMPLE_MAPPING_BLOCK: ClearSize bytes in the clear,
 * then EncryptedSize encrypted bytes. The blocks of one sample must cover it
 * exactly; the encrypted ranges of one sample form one AES-CTR keystream. */
typedef struct keyd_subsample_mapping_block {
        uint32_t ClearSize;
        uint32_t EncryptedSize;
} keyd_subsample_mapping_block;

typedef struct keyd_video_decoder keyd_video_decoder;

/* ID3D11VideoDevice::CreateVideoDecoder on a crypto session. pDecoderProfile: one of
 * KEYD_DECODER_PROFILE_H264_VLD_NOFGT / _HEVC_VLD_MAIN / _HEVC_VLD_MAIN10. SampleWidth and
 * SampleHeight: the coded size (D3D11_VIDEO_DECODER_DESC). pConfig/ConfigSize: the codec
 * configuration in the clear (avcC or hvcC box payload, i.e. AVCodecParameters.extradata),
 * may be 0/NULL for Annex-B streams. The session must have a session key
 * (a successful NegotiateCryptoSessionKeyExchange) before samples are
 * decrypted. KEYD_DXGI_ERROR_UNSUPPORTED (with keyd_last_error_message()
 * saying why) when this keyd was built without decoding or its backend
 * cannot decode; KEYD_E_OUTOFMEMORY past keyd's per-client decoder limit;
 * KEYD_E_INVALIDARG for a size above keyd's maximum resolution. */
HRESULT keyd_create_video_decoder(keyd_crypto_session *session,
                                  const keyd_guid *pDecoderProfile,
                                  uint32_t SampleWidth, uint32_t SampleHeight,
                                  uint32_t ConfigSize, const void *pConfig,
                                  keyd_video_decoder **ppDecoder);

/* ID3D11VideoContext::DecoderBeginFrame with D3D11_VIDEO_DECODER_BEGIN_FRAME_CRYPTO_SESSION:
 * the content key for the samples that follow, wrapped as DecryptionBlt's pContentKey
 * (AES-128-ECB-Encrypt(session key, CK), 16 bytes); ContentKeySize 0 / NULL = session key. */
HRESULT keyd_decoder_begin_frame(keyd_video_decoder *decoder,
                                 uint32_t ContentKeySize, const void *pContentKey);

/* ID3D11VideoContext1::SubmitDecoderBuffers1 with one bitstream buffer: one sample (one
 * access unit, length-prefixed NAL units as in the MP4), its IV (8 or 16 bytes,
 * D3D11_AES_CTR_IV; IVSize 0 = sample in the clear) and subsample map (SubSampleCount 0 =
 * encrypted whole). Pts travels with the sample and comes back on its frame.
 * An 8-byte IV is the IV member of D3D11_AES_CTR_IV with Count 0 (CENC's
 * 8-byte IV); a 16-byte IV is the whole counter block. The library copies
 * the sample; it goes to keyd at keyd_decoder_end_frame(). */
HRESULT keyd_decoder_submit_buffer(keyd_video_decoder *decoder,
                                   uint32_t DataSize, const void *pData,
                                   uint32_t IVSize, const void *pIV,
                                   uint32_t SubSampleCount,
                                   const keyd_subsample_mapping_block *pSubSamples,
                                   int64_t Pts);

/* ID3D11VideoContext::DecoderEndFrame: keyd decrypts and decodes what was submitted since
 * begin_frame; frames that became ready are queued in the client for get_frame.
 * keyd's argument checks (subsample map, IV and key sizes, limits) fail this
 * call; the decoder itself works on while the answer travels, so libavcodec
 * refusing a sample (KEYD_E_INVALIDARG, "libavcodec could not decode the
 * sample: ...") is reported by the next end_frame or drain. */
HRESULT keyd_decoder_end_frame(keyd_video_decoder *decoder);

/* End of stream: keyd drains the decoder's delayed frames into the queue. */
HRESULT keyd_decoder_drain(keyd_video_decoder *decoder);
/* Discard everything buffered (a seek): in keyd and the frames queued in the client. */
HRESULT keyd_decoder_flush(keyd_video_decoder *decoder);

#define KEYD_FOURCC(a, b, c, d) ((uint32_t) (a) | ((uint32_t) (b) << 8) | ((uint32_t) (c) << 16) | ((uint32_t) (d) << 24))
#define KEYD_FORMAT_NV12 KEYD_FOURCC('N', 'V', '1', '2')   /* DXGI_FORMAT_NV12: Y plane, then interleaved UV */
#define KEYD_FORMAT_P010 KEYD_FOURCC('P', '0', '1', '0')   /* DXGI_FORMAT_P010: 16-bit LE, 10 bits in the high bits */

typedef struct keyd_video_frame {
        uint32_t Format;           /* KEYD_FORMAT_* */
        uint32_t Width, Height;    /* display size */
        uint32_t PlaneCount;       /* 2 for NV12 / P010 */
        uint64_t PlaneOffset[4];   /* bytes from pData */
        uint32_t PlanePitch[4];    /* bytes per row */
        int64_t Pts;               /* of the sample the frame came from */
        const uint8_t *pData;      /* read-only mapping of the sealed memfd keyd sent */
        uint64_t DataSize;
        int Fd;                    /* that memfd (the frame owns it; a pool frame's goes back
                                    * to keyd at keyd_video_frame_release()) */
} keyd_video_frame;

/* The next decoded frame in output order: S_OK and *ppFrame, or S_FALSE (1) and NULL when
 * none is ready. */
HRESULT keyd_decoder_get_frame(keyd_video_decoder *decoder, keyd_video_frame **ppFrame);
/* Unmaps the frame and closes its memfd; a pool frame's memfd goes back to
 * keyd, which writes a later frame into it. Returns NULL. */
keyd_video_frame *keyd_video_frame_release(keyd_video_frame *frame);

/* The decoder's frame pool (LIBKEYD_0.3), like D3D11's decoder output
 * surfaces: up to FrameCount (at most 16) memfds that keyd writes frames
 * into again and again, 8 from keyd_create_video_decoder() on. A pool frame
 * is sealed so that only keyd's decoder process can write it
 * (F_SEAL_FUTURE_WRITE, F_SEAL_SHRINK, F_SEAL_GROW) and it writes it only
 * after keyd_video_frame_release() gave it back: do not read the frame or a
 * dup of its Fd after that. When the caller holds every pool frame, keyd
 * sends the next ones in memfds of their own. FrameCount 0: every frame in
 * a memfd of its own, sealed for good (F_SEAL_WRITE), at the cost of
 * allocating and freeing its pages (for 1080p, about a quarter of the
 * decoding's CPU). */
HRESULT keyd_decoder_set_frame_pool(keyd_video_decoder *decoder, uint32_t FrameCount);

/* Closes the decoder in keyd (its helper process ends) and frees it, with
 * the frames still queued. Returns NULL. */
keyd_video_decoder *keyd_video_decoder_release(keyd_video_decoder *decoder);

/* "E_INVALIDARG" and friends; "unknown HRESULT" for others. Static strings. */
const char *keyd_hresult_to_string(HRESULT hr);
/* One sentence on what the HRESULT means for a keyd caller. */
const char *keyd_hresult_to_description(HRESULT hr);

/* What went wrong in the last libkeyd call made on this thread, when it
 * failed: keyd's own sentence (without its "0xHRESULT: " prefix) or the
 * library's, after the method's name, e.g. "NegotiateCryptoSessionKeyExchange:
 * data is 255 bytes; ...". "" after a call that succeeded. Valid until the
 * thread's next libkeyd call; never NULL. */
const char *keyd_last_error_message(void);

#ifdef __cplusplus
}
#endif
