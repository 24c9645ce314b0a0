/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A Windows program (PE, built with mingw-w64, no Wine headers) that uses
 * Direct3D 11's crypto-session API the way a protected-video player does,
 * and checks every result. It does not know keyd exists: under Wine with
 * keyd's d3d11.dll proxy beside it, the calls reach keyd.
 *
 * Expected bytes come from Windows' own crypto (bcrypt AES, CryptoAPI or
 * bcrypt RSAES-OAEP), never from keyd: the program encrypts the content
 * itself, lets the "driver" decrypt it into a protected texture
 * (DecryptionBlt), reads it back encrypted under the read-back key
 * (EncryptionBlt, GetEncryptionBltKey) and decrypts that itself.
 *
 * Exit status: 0 when every check passed, 1 otherwise.
 */

#define COBJMACROS
#include <windows.h>
#include <bcrypt.h>
#include <d3d11.h>
#include <stdio.h>
#include <string.h>
#include <wincrypt.h>

/* mingw-w64's d3d11.h declares the interfaces but not these GUIDs. */
static const GUID crypto_type_aes128_ctr = /* D3D11_CRYPTO_TYPE_AES128_CTR */
        { 0x9b6bd711, 0x4f74, 0x41c9, { 0x9e, 0x7b, 0x0b, 0xe2, 0xd7, 0xd9, 0x3b, 0x4f } };
static const GUID key_exchange_rsaes_oaep = /* D3D11_KEY_EXCHANGE_RSAES_OAEP (SHA-512) */
        { 0xc1949895, 0xd72a, 0x4a1d, { 0x8e, 0x5d, 0xed, 0x85, 0x7d, 0x17, 0x15, 0x20 } };
static const GUID key_exchange_rsaes_oaep_sha1 = /* keyd's own: OAEP with SHA-1 */
        { 0x08067281, 0xbc1f, 0x40f8, { 0x8c, 0x01, 0x7b, 0xd2, 0xb0, 0x10, 0xca, 0xff } };
static const GUID unknown_guid = /* well-formed, known to no one */
        { 0x12345678, 0x1234, 0x1234, { 0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc } };

#define WIDTH 16
#define HEIGHT 4
#define SURFACE_BYTES (WIDTH * HEIGHT * 4) /* DXGI_FORMAT_R8G8B8A8_UNORM */

static int failures;

static void check(BOOL ok, const char *what) {
        printf("%s: %s\n", ok ? "ok" : "FAIL", what);
        fflush(stdout);
        if (!ok)
                failures++;
}

static void check_hr(HRESULT got, HRESULT expected, const char *what) {
        char line[256];

        snprintf(line, sizeof(line), "%s: hr 0x%08lX, expected 0x%08lX", what, (unsigned long) got,
                 (unsigned long) expected);
        check(got == expected, line);
}

static void random_bytes(void *p, ULONG n) {
        NTSTATUS st = BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG);

        if (st != 0) {
                printf("FAIL: BCryptGenRandom: status 0x%08lX\n", (unsigned long) st);
                ExitProcess(1);
        }
}

/* ---- AES-128 from bcrypt ---- */

static void aes_ecb(BOOL encrypt, const BYTE key[16], const BYTE in[16], BYTE out[16]) {
        BCRYPT_ALG_HANDLE alg = NULL;
        BCRYPT_KEY_HANDLE k = NULL;
        ULONG n = 0;
        NTSTATUS st;

        st = BCryptOpenAlgorithmProvider(&alg, BCRYPT_AES_ALGORITHM, NULL, 0);
        if (st == 0)
                st = BCryptSetProperty(alg, BCRYPT_CHAINING_MODE, (BYTE *) BCRYPT_CHAIN_MODE_ECB,
                                       sizeof(BCRYPT_CHAIN_MODE_ECB), 0);
        if (st == 0)
                st = BCryptGenerateSymmetricKey(alg, &k, NULL, 0, (BYTE *) key, 16, 0);
        if (st == 0)
                st = encrypt ? BCryptEncrypt(k, (BYTE *) in, 16, NULL, NULL, 0, out, 16, &n, 0)
                             : BCryptDecrypt(k, (BYTE *) in, 16, NULL, NULL, 0, out, 16, &n, 0);
        if (k)
                BCryptDestroyKey(k);
        if (alg)
                BCryptCloseAlgorithmProvider(alg, 0);
        if (st != 0 || n != 16) {
                printf("FAIL: bcrypt AES-128-ECB: status 0x%08lX\n", (unsigned long) st);
                ExitProcess(1);
        }
}

/* AES-128-CTR as D3D11_AES_CTR_IV defines it (keyd's contract): the 16-byte
 * counter block is the 8-byte IV then an 8-byte big-endian block count. */
static void aes_ctr(const BYTE key[16], const BYTE iv[16], const BYTE *in, BYTE *out, size_t n) {
        BYTE counter[16], stream[16];

        memcpy(counter, iv, 16);
        for (size_t off = 0; off < n; off += 16) {
                aes_ecb(TRUE, key, counter, stream);
                for (size_t i = 0; i < 16 && off + i < n; i++)
                        out[off + i] = in[off + i] ^ stream[i];
                for (int i = 15; i >= 8; i--)
                        if (++counter[i] != 0)
                                break;
        }
}

/* ---- RSAES-OAEP of the session key to the certificate ---- */

static PCCERT_CONTEXT parse_certificate(const BYTE *der, UINT size) {
        PCCERT_CONTEXT cert = CertCreateCertificateContext(X509_ASN_ENCODING, der, size);

        check(cert != NULL, "crypt32 parses GetCertificate's DER X.509 certificate");
        return cert;
}

/* bcrypt with SHA-512 OAEP (D3D11_KEY_EXCHANGE_RSAES_OAEP). Returns the
 * NTSTATUS: Wine 8.0's BCryptEncrypt has no OAEP (STATUS_NOT_IMPLEMENTED). */
static NTSTATUS oaep_sha512_bcrypt(PCCERT_CONTEXT cert, const BYTE key[16], BYTE *out, ULONG size) {
        BCRYPT_OAEP_PADDING_INFO padding = { BCRYPT_SHA512_ALGORITHM, NULL, 0 };
        BCRYPT_KEY_HANDLE k = NULL;
        ULONG n = 0;
        NTSTATUS st;

        if (!CryptImportPublicKeyInfoEx2(X509_ASN_ENCODING, &cert->pCertInfo->SubjectPublicKeyInfo, 0, NULL, &k))
                return (NTSTATUS) 0xC0000001L; /* STATUS_UNSUCCESSFUL */
        st = BCryptEncrypt(k, (BYTE *) key, 16, &padding, NULL, 0, out, size, &n, BCRYPT_PAD_OAEP);
        BCryptDestroyKey(k);
        if (st == 0 && n != size)
                st = (NTSTATUS) 0xC0000001L;
        return st;
}

/* CryptoAPI's CRYPT_OAEP: SHA-1 and MGF1-SHA-1, output little-endian. */
static BOOL oaep_sha1_cryptoapi(PCCERT_CONTEXT cert, const BYTE key[16], BYTE *out, DWORD size) {
        HCRYPTPROV prov = 0;
        HCRYPTKEY k = 0;
        DWORD n = 16;
        BOOL ok;

        ok = CryptAcquireContextW(&prov, NULL, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES, CRYPT_VERIFYCONTEXT) &&
             CryptImportPublicKeyInfo(prov, X509_ASN_ENCODING, &cert->pCertInfo->SubjectPublicKeyInfo, &k);
        if (ok) {
                memcpy(out, key, 16);
                ok = CryptEncrypt(k, 0, TRUE, CRYPT_OAEP, out, &n, size) && n == size;
        }
        if (k)
                CryptDestroyKey(k);
        if (prov)
                CryptReleaseContext(prov, 0);
        if (!ok) {
                printf("FAIL: CryptEncrypt(CRYPT_OAEP): error %lu\n", (unsigned long) GetLastError());
                return FALSE;
        }
        for (DWORD i = 0; i < size / 2; i++) {
                BYTE t = out[i];
                out[i] = out[size - 1 - i];
                out[size - 1 - i] = t;
        }
        return TRUE;
}

/* ---- textures ---- */

static ID3D11Texture2D *texture(ID3D11Device *device, D3D11_USAGE usage, UINT cpu_access, UINT bind,
                                const BYTE *initial) {
        D3D11_TEXTURE2D_DESC desc = {
                .Width = WIDTH, .Height = HEIGHT, .MipLevels = 1, .ArraySize = 1,
                .Format = DXGI_FORMAT_R8G8B8A8_UNORM, .SampleDesc = { 1, 0 },
                .Usage = usage, .BindFlags = bind, .CPUAccessFlags = cpu_access,
        };
        D3D11_SUBRESOURCE_DATA data = { initial, WIDTH * 4, 0 };
        ID3D11Texture2D *t = NULL;
        HRESULT hr = ID3D11Device_CreateTexture2D(device, &desc, initial ? &data : NULL, &t);

        if (FAILED(hr)) {
                printf("FAIL: CreateTexture2D: hr 0x%08lX\n", (unsigned long) hr);
                ExitProcess(1);
        }
        return t;
}

static void read_texture(ID3D11DeviceContext *context, ID3D11Texture2D *t, BYTE *out) {
        D3D11_MAPPED_SUBRESOURCE mapped;
        HRESULT hr = ID3D11DeviceContext_Map(context, (ID3D11Resource *) t, 0, D3D11_MAP_READ, 0, &mapped);

        check_hr(hr, S_OK, "Map of the EncryptionBlt destination");
        if (FAILED(hr))
                return;
        for (UINT y = 0; y < HEIGHT; y++)
                memcpy(out + y * WIDTH * 4, (BYTE *) mapped.pData + y * mapped.RowPitch, WIDTH * 4);
        ID3D11DeviceContext_Unmap(context, (ID3D11Resource *) t, 0);
}

/* Is byte i encrypted under D3D11_ENCRYPTED_BLOCK_INFO (NULL: all are)? */
static BOOL is_encrypted(const D3D11_ENCRYPTED_BLOCK_INFO *info, size_t i) {
        size_t period;

        if (!info || i < info->NumEncryptedBytesAtBeginning)
                return TRUE;
        period = info->NumBytesInSkipPattern + info->NumBytesInEncryptPattern;
        if (period == 0)
                return FALSE;
        return (i - info->NumEncryptedBytesAtBeginning) % period >= info->NumBytesInSkipPattern;
}

/* AES-128-CTR of the encrypted bytes only, the keystream running on across
 * ranges as if they were one buffer; the rest stays in the clear. */
static void encrypt_partially(const BYTE key[16], const BYTE iv[16], const D3D11_ENCRYPTED_BLOCK_INFO *info,
                              const BYTE *plain, BYTE *cipher, size_t n) {
        BYTE gathered[SURFACE_BYTES], encrypted[SURFACE_BYTES];
        size_t count = 0;

        for (size_t i = 0; i < n; i++)
                if (is_encrypted(info, i))
                        gathered[count++] = plain[i];
        aes_ctr(key, iv, gathered, encrypted, count);
        count = 0;
        for (size_t i = 0; i < n; i++)
                cipher[i] = is_encrypted(info, i) ? encrypted[count++] : plain[i];
}

/* Encrypt random plaintext (under the content key when there is one, else
 * the session key; only the ranges info names), DecryptionBlt it into a
 * protected texture, EncryptionBlt it back out, undo the read-back
 * encryption and compare. */
static void round_trip(ID3D11Device *device, ID3D11DeviceContext *context, ID3D11VideoContext *video,
                       ID3D11CryptoSession *session, const BYTE session_key[16], const BYTE *content_key,
                       D3D11_ENCRYPTED_BLOCK_INFO *info, const char *what) {
        BYTE plain[SURFACE_BYTES], cipher[SURFACE_BYTES], readback[SURFACE_BYTES], back[SURFACE_BYTES];
        BYTE iv[16] = { 0 }, iv_out[16] = { 0 }, wrapped[16], blt_key[16], wrapped_content_key[16];
        ID3D11Texture2D *src, *protected_tex, *dst;
        char line[160];
        HRESULT hr;

        random_bytes(plain, sizeof(plain));
        random_bytes(iv, 8);
        random_bytes(iv_out, 8);
        encrypt_partially(content_key ? content_key : session_key, iv, info, plain, cipher, sizeof(plain));
        /* D3D11: "Encrypt the content key using the session key". */
        if (content_key)
                aes_ecb(TRUE, session_key, content_key, wrapped_content_key);

        src = texture(device, D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE, 0, cipher);
        protected_tex = texture(device, D3D11_USAGE_DEFAULT, 0, D3D11_BIND_SHADER_RESOURCE, NULL);
        dst = texture(device, D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE, 0, NULL);

        ID3D11VideoContext_DecryptionBlt(video, session, src, protected_tex, info, content_key ? 16 : 0,
                                         content_key ? wrapped_content_key : NULL, sizeof(iv), iv);

        hr = ID3D11VideoContext_GetEncryptionBltKey(video, session, sizeof(wrapped), wrapped);
        snprintf(line, sizeof(line), "GetEncryptionBltKey (%s)", what);
        check_hr(hr, S_OK, line);
        aes_ecb(FALSE, session_key, wrapped, blt_key);

        ID3D11VideoContext_EncryptionBlt(video, session, protected_tex, dst, sizeof(iv_out), iv_out);
        read_texture(context, dst, readback);
        aes_ctr(blt_key, iv_out, readback, back, sizeof(back));

        snprintf(line, sizeof(line), "DecryptionBlt then EncryptionBlt give back the %u plaintext bytes (%s)",
                 (unsigned) sizeof(plain), what);
        check(memcmp(back, plain, sizeof(plain)) == 0, line);
        snprintf(line, sizeof(line), "EncryptionBlt's output is not the plaintext itself (%s)", what);
        check(memcmp(readback, plain, sizeof(plain)) != 0, line);

        SecureZeroMemory(blt_key, sizeof(blt_key));
        ID3D11Texture2D_Release(dst);
        ID3D11Texture2D_Release(protected_tex);
        ID3D11Texture2D_Release(src);
}

int main(void) {
        D3D11_VIDEO_CONTENT_PROTECTION_CAPS caps = { 0 };
        ID3D11Device *device = NULL, *device_again = NULL;
        ID3D11DeviceContext *context = NULL;
        ID3D11VideoDevice *video_device = NULL;
        ID3D11VideoContext *video = NULL;
        ID3D11CryptoSession *session = NULL, *bad = NULL;
        D3D_FEATURE_LEVEL level;
        PCCERT_CONTEXT cert = NULL;
        BYTE *certificate = NULL;
        BYTE session_key[16], content_key[16], exchange[512], random_number[16];
        D3D11_ENCRYPTED_BLOCK_INFO partial = { 32, 16, 16 };
        GUID kx, got;
        BOOL found_oaep = FALSE;
        UINT cert_size = 0;
        HANDLE handle = NULL;
        NTSTATUS st;
        HRESULT hr;

        hr = D3D11CreateDevice(NULL, D3D_DRIVER_TYPE_HARDWARE, NULL, D3D11_CREATE_DEVICE_VIDEO_SUPPORT, NULL, 0,
                               D3D11_SDK_VERSION, &device, &level, &context);
        check_hr(hr, S_OK, "D3D11CreateDevice (hardware, VIDEO_SUPPORT)");
        if (FAILED(hr))
                return 1;

        hr = ID3D11Device_QueryInterface(device, &IID_ID3D11VideoDevice, (void **) &video_device);
        check_hr(hr, S_OK, "ID3D11Device::QueryInterface(ID3D11VideoDevice)");
        if (FAILED(hr))
                return 1;
        hr = ID3D11DeviceContext_QueryInterface(context, &IID_ID3D11VideoContext, (void **) &video);
        check_hr(hr, S_OK, "ID3D11DeviceContext::QueryInterface(ID3D11VideoContext)");
        if (FAILED(hr))
                return 1;
        hr = ID3D11VideoDevice_QueryInterface(video_device, &IID_ID3D11Device, (void **) &device_again);
        check(SUCCEEDED(hr) && device_again == device, "ID3D11VideoDevice::QueryInterface(ID3D11Device) is the device");
        if (device_again)
                ID3D11Device_Release(device_again);

        /* ---- ID3D11VideoDevice ---- */
        hr = ID3D11VideoDevice_GetContentProtectionCaps(video_device, &crypto_type_aes128_ctr, NULL, &caps);
        check_hr(hr, S_OK, "GetContentProtectionCaps(AES128_CTR, no decoder)");
        printf("caps 0x%08X, %u key exchange type(s), block alignment %u, protected memory %llu bytes\n", caps.Caps,
               caps.KeyExchangeTypeCount, caps.BlockAlignmentSize, (unsigned long long) caps.ProtectedMemorySize);
        check((caps.Caps & D3D11_CONTENT_PROTECTION_CAPS_DECRYPTION_BLT) &&
                      (caps.Caps & D3D11_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK) &&
                      (caps.Caps & D3D11_CONTENT_PROTECTION_CAPS_ENCRYPTED_READ_BACK_KEY) &&
                      (caps.Caps & D3D11_CONTENT_PROTECTION_CAPS_CONTENT_KEY) &&
                      (caps.Caps & D3D11_CONTENT_PROTECTION_CAPS_PARTIAL_DECRYPTION) &&
                      (caps.Caps & D3D11_CONTENT_PROTECTION_CAPS_FRESHEN_SESSION_KEY),
              "caps include DECRYPTION_BLT, ENCRYPTED_READ_BACK(_KEY), CONTENT_KEY, PARTIAL_DECRYPTION and "
              "FRESHEN_SESSION_KEY");
        check(caps.BlockAlignmentSize == 16, "BlockAlignmentSize is 16");
        check(caps.KeyExchangeTypeCount >= 1, "at least one key exchange type");
        hr = ID3D11VideoDevice_GetContentProtectionCaps(video_device, &unknown_guid, NULL, &caps);
        check_hr(hr, E_INVALIDARG, "GetContentProtectionCaps(an unknown crypto type)");
        hr = ID3D11VideoDevice_GetContentProtectionCaps(video_device, &crypto_type_aes128_ctr, NULL, &caps);

        for (UINT i = 0; i < caps.KeyExchangeTypeCount; i++) {
                hr = ID3D11VideoDevice_CheckCryptoKeyExchange(video_device, &crypto_type_aes128_ctr, NULL, i, &kx);
                check_hr(hr, S_OK, "CheckCryptoKeyExchange(index below KeyExchangeTypeCount)");
                if (SUCCEEDED(hr) && IsEqualGUID(&kx, &key_exchange_rsaes_oaep))
                        found_oaep = TRUE;
        }
        check(found_oaep, "D3D11_KEY_EXCHANGE_RSAES_OAEP is among the key exchange types");
        hr = ID3D11VideoDevice_CheckCryptoKeyExchange(video_device, &crypto_type_aes128_ctr, NULL,
                                                      caps.KeyExchangeTypeCount, &kx);
        check_hr(hr, E_INVALIDARG, "CheckCryptoKeyExchange(index == KeyExchangeTypeCount)");

        hr = ID3D11VideoDevice_CreateCryptoSession(video_device, &crypto_type_aes128_ctr, NULL, &unknown_guid, &bad);
        check_hr(hr, E_INVALIDARG, "CreateCryptoSession(an unknown key exchange type)");
        check(bad == NULL, "no session object after a failed CreateCryptoSession");

        /* ---- the key exchange: D3D11's own SHA-512 OAEP where bcrypt can do
         * it, else keyd's SHA-1 variant through CryptoAPI ---- */
        random_bytes(session_key, sizeof(session_key));
        kx = key_exchange_rsaes_oaep;
        for (int attempt = 0; attempt < 2; attempt++) {
                hr = ID3D11VideoDevice_CreateCryptoSession(video_device, &crypto_type_aes128_ctr, NULL, &kx, &session);
                check_hr(hr, S_OK, attempt == 0 ? "CreateCryptoSession(AES128_CTR, RSAES_OAEP)"
                                                : "CreateCryptoSession(AES128_CTR, keyd's RSAES_OAEP_SHA1)");
                if (FAILED(hr))
                        return 1;
                hr = ID3D11CryptoSession_GetCertificateSize(session, &cert_size);
                check_hr(hr, S_OK, "GetCertificateSize");
                free(certificate);
                certificate = malloc(cert_size);
                if (!certificate || cert_size == 0)
                        return 1;
                hr = ID3D11CryptoSession_GetCertificate(session, cert_size - 1, certificate);
                check_hr(hr, E_INVALIDARG, "GetCertificate(a size one short of GetCertificateSize)");
                hr = ID3D11CryptoSession_GetCertificate(session, cert_size, certificate);
                check_hr(hr, S_OK, "GetCertificate");
                if (cert)
                        CertFreeCertificateContext(cert);
                cert = parse_certificate(certificate, cert_size);
                if (!cert)
                        return 1;
                if (attempt == 1)
                        break;
                st = oaep_sha512_bcrypt(cert, session_key, exchange, 256);
                if (st == 0) {
                        printf("bcrypt did RSAES-OAEP with SHA-512: D3D11_KEY_EXCHANGE_RSAES_OAEP\n");
                        break;
                }
                printf("note: BCryptEncrypt(BCRYPT_PAD_OAEP, SHA-512) failed with status 0x%08lX (Wine 8.0's "
                       "bcrypt has no RSA OAEP); using CryptoAPI's CRYPT_OAEP (SHA-1) and keyd's "
                       "RSAES_OAEP_SHA1 key exchange instead\n", (unsigned long) st);
                ID3D11CryptoSession_Release(session);
                session = NULL;
                kx = key_exchange_rsaes_oaep_sha1;
        }
        if (IsEqualGUID(&kx, &key_exchange_rsaes_oaep_sha1) && !oaep_sha1_cryptoapi(cert, session_key, exchange, 256))
                return 1;

        ID3D11CryptoSession_GetCryptoType(session, &got);
        check(IsEqualGUID(&got, &crypto_type_aes128_ctr), "GetCryptoType is AES128_CTR");
        ID3D11CryptoSession_GetDecoderProfile(session, &got);
        check(IsEqualGUID(&got, &GUID_NULL), "GetDecoderProfile is GUID_NULL (no decoder)");
        ID3D11CryptoSession_GetCryptoSessionHandle(session, &handle);
        check(handle != NULL, "GetCryptoSessionHandle is not NULL");

        /* Out of order: no read-back key before a key exchange. */
        hr = ID3D11VideoContext_GetEncryptionBltKey(video, session, 16, random_number);
        check_hr(hr, DXGI_ERROR_INVALID_CALL, "GetEncryptionBltKey before NegotiateCryptoSessionKeyExchange");

        hr = ID3D11VideoContext_NegotiateCryptoSessionKeyExchange(video, session, 255, exchange);
        check_hr(hr, E_INVALIDARG, "NegotiateCryptoSessionKeyExchange(255 bytes for a 2048-bit key)");
        hr = ID3D11VideoContext_NegotiateCryptoSessionKeyExchange(video, NULL, 256, exchange);
        check_hr(hr, E_INVALIDARG, "NegotiateCryptoSessionKeyExchange(NULL session)");
        hr = ID3D11VideoContext_NegotiateCryptoSessionKeyExchange(video, session, 256, exchange);
        check_hr(hr, S_OK, "NegotiateCryptoSessionKeyExchange(the wrapped session key)");

        /* ---- bad input to the void data-path methods: no HRESULT to check,
         * but no crash, a message on stderr, and the session still works
         * (the round trips below) ---- */
        {
                ID3D11Texture2D *t = texture(device, D3D11_USAGE_DEFAULT, 0, D3D11_BIND_SHADER_RESOURCE, NULL);
                ID3D11Texture2D *small = NULL;
                D3D11_TEXTURE2D_DESC desc = {
                        .Width = 4, .Height = 4, .MipLevels = 1, .ArraySize = 1,
                        .Format = DXGI_FORMAT_R8G8B8A8_UNORM, .SampleDesc = { 1, 0 },
                        .Usage = D3D11_USAGE_STAGING, .CPUAccessFlags = D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE,
                };
                BYTE iv[16] = { 0 };

                ID3D11VideoContext_DecryptionBlt(video, NULL, t, t, NULL, 0, NULL, sizeof(iv), iv);
                ID3D11VideoContext_DecryptionBlt(video, session, NULL, t, NULL, 0, NULL, sizeof(iv), iv);
                ID3D11VideoContext_DecryptionBlt(video, session, t, t, NULL, 0, NULL, 8, iv);
                hr = ID3D11Device_CreateTexture2D(device, &desc, NULL, &small);
                if (SUCCEEDED(hr)) {
                        ID3D11VideoContext_EncryptionBlt(video, session, t, small, sizeof(iv), iv);
                        ID3D11Texture2D_Release(small);
                }
                ID3D11Texture2D_Release(t);
                check(TRUE, "bad DecryptionBlt/EncryptionBlt arguments did not crash the program");
        }

        /* ---- the protected data path ---- */
        round_trip(device, context, video, session, session_key, NULL, NULL, "session key");
        random_bytes(content_key, sizeof(content_key));
        round_trip(device, context, video, session, session_key, content_key, NULL, "content key");
        round_trip(device, context, video, session, session_key, NULL, &partial,
                   "partial: 32 encrypted, then 16 clear / 16 encrypted");

        /* D3D11: the new session key is the old one XOR the random number. */
        ID3D11VideoContext_StartSessionKeyRefresh(video, session, sizeof(random_number), random_number);
        ID3D11VideoContext_FinishSessionKeyRefresh(video, session);
        for (int i = 0; i < 16; i++)
                session_key[i] ^= random_number[i];
        round_trip(device, context, video, session, session_key, NULL, NULL, "refreshed session key");

        SecureZeroMemory(session_key, sizeof(session_key));
        SecureZeroMemory(content_key, sizeof(content_key));
        ID3D11CryptoSession_Release(session);
        CertFreeCertificateContext(cert);
        free(certificate);
        ID3D11VideoContext_Release(video);
        ID3D11VideoDevice_Release(video_device);
        ID3D11DeviceContext_Release(context);
        ID3D11Device_Release(device);

        printf("%s: %d check(s) failed\n", failures ? "FAIL" : "PASS", failures);
        return failures ? 1 : 0;
}
