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
 * It also checks the later interfaces (ID3D11VideoDevice1/2 and
 * ID3D11VideoContext1/2/3, from ID3D11Device, IDXGIDevice and the context),
 * that keyd's IV lands in EncryptionBlt's pIV and every GetEncryptionBltKey
 * gives a new key, read-back into a CPU_ACCESS_READ-only staging texture,
 * that a failed void call shows in the next CheckCryptoSessionStatus,
 * that a texture whose size wraps 32 bits is refused without a crash, and
 * round trips in the video formats Wine creates (NV12, YUY2).
 *
 * Exit status: 0 when every check passed, 1 otherwise.
 */

#define COBJMACROS
#include <windows.h>
#include <bcrypt.h>
#include <d3d11_4.h>
#include <dxgi.h>
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

/* What mingw-w64 10's headers lack, from Microsoft's d3d11_4.h. */
static const GUID iid_video_device2 = /* IID_ID3D11VideoDevice2 */
        { 0x59c0cb01, 0x35f0, 0x4a70, { 0x8f, 0x67, 0x87, 0x90, 0x5c, 0x90, 0x6a, 0x53 } };
static const GUID iid_video_context2 = /* IID_ID3D11VideoContext2 */
        { 0xc4e7374c, 0x6243, 0x4d1b, { 0xae, 0x87, 0x52, 0xb4, 0xf7, 0x40, 0xe2, 0x61 } };
static const GUID iid_video_context3 = /* IID_ID3D11VideoContext3 */
        { 0xa9e2faa0, 0xcb39, 0x418f, { 0xa0, 0xb7, 0xd8, 0xaa, 0xd4, 0xde, 0x67, 0x2e } };
typedef struct video_device2_vtbl { /* ID3D11VideoDevice2Vtbl */
        ID3D11VideoDevice1Vtbl base;
        HRESULT(STDMETHODCALLTYPE *CheckFeatureSupport)(ID3D11VideoDevice1 *, UINT, void *, UINT);
        HRESULT(STDMETHODCALLTYPE *NegotiateCryptoSessionKeyExchangeMT)(ID3D11VideoDevice1 *, ID3D11CryptoSession *,
                                                                        UINT, UINT, void *);
} video_device2_vtbl;
typedef struct video_context3_vtbl { /* ID3D11VideoContext3Vtbl */
        ID3D11VideoContext2Vtbl base;
        HRESULT(STDMETHODCALLTYPE *DecoderBeginFrame1)(ID3D11VideoContext2 *, ID3D11VideoDecoder *,
                                                       ID3D11VideoDecoderOutputView *, UINT, const void *, UINT,
                                                       const UINT *, ID3D11Buffer *const *);
        HRESULT(STDMETHODCALLTYPE *SubmitDecoderBuffers2)(ID3D11VideoContext2 *, ID3D11VideoDecoder *, UINT,
                                                          const void *);
} video_context3_vtbl;
typedef struct decoder_histogram { /* D3D11_FEATURE_DATA_VIDEO_DECODER_HISTOGRAM */
        D3D11_VIDEO_DECODER_DESC DecoderDesc;
        UINT Components, BinCount, CounterBitDepth;
} decoder_histogram;

#define WIDTH 16
#define HEIGHT 4
#define SURFACE_BYTES (WIDTH * HEIGHT * 4) /* DXGI_FORMAT_R8G8B8A8_UNORM */
#define MAX_BYTES 1024                     /* of any texture a round trip uses */

/* A texture format and its bytes, rows packed, computed here from the
 * format's definition (not asked of the bridge). */
typedef struct format {
        DXGI_FORMAT format;
        const char *name;
        UINT width, height;
        UINT row_bytes, rows; /* rows: a planar format's chroma rows included */
} format;

static const format rgba = { DXGI_FORMAT_R8G8B8A8_UNORM, "R8G8B8A8_UNORM", WIDTH, HEIGHT, WIDTH * 4, HEIGHT };

static int failures;
/* For round trips into formats Wine may not copy: the video context1 to
 * ask CheckCryptoSessionStatus, and whether its E_FAIL is accepted in place
 * of the plaintext. */
static ID3D11VideoContext1 *status_context;
static BOOL tolerate_copy_failure;

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

static HRESULT try_texture(ID3D11Device *device, const format *f, D3D11_USAGE usage, UINT cpu_access, UINT bind,
                           ID3D11Texture2D **ret) {
        D3D11_TEXTURE2D_DESC desc = {
                .Width = f->width, .Height = f->height, .MipLevels = 1, .ArraySize = 1,
                .Format = f->format, .SampleDesc = { 1, 0 },
                .Usage = usage, .BindFlags = bind, .CPUAccessFlags = cpu_access,
        };

        *ret = NULL;
        return ID3D11Device_CreateTexture2D(device, &desc, NULL, ret);
}

static ID3D11Texture2D *texture(ID3D11Device *device, const format *f, D3D11_USAGE usage, UINT cpu_access,
                                UINT bind) {
        ID3D11Texture2D *t = NULL;
        HRESULT hr = try_texture(device, f, usage, cpu_access, bind, &t);

        if (FAILED(hr)) {
                printf("FAIL: CreateTexture2D(%s %ux%u): hr 0x%08lX\n", f->name, f->width, f->height,
                       (unsigned long) hr);
                ExitProcess(1);
        }
        return t;
}

/* Map a staging texture and copy its packed rows in or out (the chroma
 * plane follows the luma plane at the same pitch, as D3D11 maps it). */
static void map_rows(ID3D11DeviceContext *context, ID3D11Texture2D *t, const format *f, BYTE *bytes, BOOL write) {
        D3D11_MAPPED_SUBRESOURCE mapped;
        HRESULT hr = ID3D11DeviceContext_Map(context, (ID3D11Resource *) t, 0, write ? D3D11_MAP_WRITE : D3D11_MAP_READ,
                                             0, &mapped);

        check_hr(hr, S_OK, write ? "Map of a staging texture for writing" : "Map of a staging texture for reading");
        if (FAILED(hr))
                return;
        for (UINT y = 0; y < f->rows; y++) {
                BYTE *row = (BYTE *) mapped.pData + (size_t) y * mapped.RowPitch;

                if (write)
                        memcpy(row, bytes + y * f->row_bytes, f->row_bytes);
                else
                        memcpy(bytes + y * f->row_bytes, row, f->row_bytes);
        }
        ID3D11DeviceContext_Unmap(context, (ID3D11Resource *) t, 0);
}

static UINT format_bytes(const format *f) {
        return f->row_bytes * f->rows;
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
        BYTE gathered[MAX_BYTES] = { 0 }, encrypted[MAX_BYTES];
        size_t count = 0;

        for (size_t i = 0; i < n; i++)
                if (is_encrypted(info, i))
                        gathered[count++] = plain[i];
        aes_ctr(key, iv, gathered, encrypted, count);
        count = 0;
        for (size_t i = 0; i < n; i++)
                cipher[i] = is_encrypted(info, i) ? encrypted[count++] : plain[i];
}

static BOOL all_zero(const BYTE *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return FALSE;
        return TRUE;
}

/* The session's next CheckCryptoSessionStatus: hr as expected, status OK. */
static void check_status(ID3D11VideoContext1 *video1, ID3D11CryptoSession *session, HRESULT expected,
                         const char *what) {
        D3D11_CRYPTO_SESSION_STATUS status = (D3D11_CRYPTO_SESSION_STATUS) 77;
        char line[256];
        HRESULT hr = ID3D11VideoContext1_CheckCryptoSessionStatus(video1, session, &status);

        snprintf(line, sizeof(line), "CheckCryptoSessionStatus after %s", what);
        check_hr(hr, expected, line);
        snprintf(line, sizeof(line), "CheckCryptoSessionStatus after %s: status %d, expected OK (0)", what,
                 (int) status);
        check(status == D3D11_CRYPTO_SESSION_STATUS_OK, line);
}

/* Encrypt random plaintext (under the content key when there is one, else
 * the session key; only the ranges info names), DecryptionBlt it into a
 * protected texture of format f, EncryptionBlt it back out into a staging
 * texture with dst_access, undo the read-back encryption with the IV keyd
 * wrote to the zeroed pIV and compare. */
static void round_trip_full(ID3D11Device *device, ID3D11DeviceContext *context, ID3D11VideoContext *video,
                            ID3D11CryptoSession *session, const BYTE session_key[16], const BYTE *content_key,
                            D3D11_ENCRYPTED_BLOCK_INFO *info, const format *f, UINT dst_access,
                            D3D11_USAGE protected_usage, UINT protected_access, UINT protected_bind,
                            const char *what) {
        BYTE plain[MAX_BYTES], cipher[MAX_BYTES], readback[MAX_BYTES], back[MAX_BYTES];
        BYTE iv[16] = { 0 }, iv_out[16] = { 0 }, wrapped[16], blt_key[16], wrapped_content_key[16];
        ID3D11Texture2D *src, *protected_tex, *dst;
        UINT n = format_bytes(f);
        char line[200];
        HRESULT hr;

        random_bytes(plain, n);
        random_bytes(iv, 8);
        encrypt_partially(content_key ? content_key : session_key, iv, info, plain, cipher, n);
        /* D3D11: "Encrypt the content key using the session key". */
        if (content_key)
                aes_ecb(TRUE, session_key, content_key, wrapped_content_key);

        src = texture(device, f, D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE, 0);
        map_rows(context, src, f, cipher, TRUE);
        protected_tex = texture(device, f, protected_usage, protected_access, protected_bind);
        dst = texture(device, f, D3D11_USAGE_STAGING, dst_access, 0);

        ID3D11VideoContext_DecryptionBlt(video, session, src, protected_tex, info, content_key ? 16 : 0,
                                         content_key ? wrapped_content_key : NULL, sizeof(iv), iv);

        hr = ID3D11VideoContext_GetEncryptionBltKey(video, session, sizeof(wrapped), wrapped);
        snprintf(line, sizeof(line), "GetEncryptionBltKey (%s)", what);
        check_hr(hr, S_OK, line);
        aes_ecb(FALSE, session_key, wrapped, blt_key);

        ID3D11VideoContext_EncryptionBlt(video, session, protected_tex, dst, sizeof(iv_out), iv_out);
        if (tolerate_copy_failure) {
                D3D11_CRYPTO_SESSION_STATUS status;

                hr = ID3D11VideoContext1_CheckCryptoSessionStatus(status_context, session, &status);
                snprintf(line, sizeof(line), "EncryptionBlt (%s): S_OK, or E_FAIL reported by "
                         "CheckCryptoSessionStatus; got 0x%08lX", what, (unsigned long) hr);
                check(hr == S_OK || hr == E_FAIL, line);
                if (hr == E_FAIL) {
                        printf("note: this Wine could not copy into the read-only %s staging texture; the bridge "
                               "reported it\n", f->name);
                        goto done;
                }
        }
        snprintf(line, sizeof(line), "EncryptionBlt wrote the driver's IV into the zeroed pIV (%s)", what);
        check(!all_zero(iv_out, 8) && all_zero(iv_out + 8, 8), line);
        map_rows(context, dst, f, readback, FALSE);
        aes_ctr(blt_key, iv_out, readback, back, n);

        snprintf(line, sizeof(line), "DecryptionBlt then EncryptionBlt give back the %u plaintext bytes (%s)", n, what);
        check(memcmp(back, plain, n) == 0, line);
        snprintf(line, sizeof(line), "EncryptionBlt's output is not the plaintext itself (%s)", what);
        check(memcmp(readback, plain, n) != 0, line);

done:
        SecureZeroMemory(blt_key, sizeof(blt_key));
        ID3D11Texture2D_Release(dst);
        ID3D11Texture2D_Release(protected_tex);
        ID3D11Texture2D_Release(src);
}

static void round_trip(ID3D11Device *device, ID3D11DeviceContext *context, ID3D11VideoContext *video,
                       ID3D11CryptoSession *session, const BYTE session_key[16], const BYTE *content_key,
                       D3D11_ENCRYPTED_BLOCK_INFO *info, const format *f, UINT dst_access, const char *what) {
        round_trip_full(device, context, video, session, session_key, content_key, info, f, dst_access,
                        D3D11_USAGE_DEFAULT, 0, D3D11_BIND_SHADER_RESOURCE, what);
}

static void round_trip_kind(ID3D11Device *device, ID3D11DeviceContext *context, ID3D11VideoContext *video,
                            ID3D11CryptoSession *session, const BYTE session_key[16], const format *f,
                            D3D11_USAGE usage, UINT access, UINT bind, const char *what) {
        round_trip_full(device, context, video, session, session_key, NULL, NULL, f, D3D11_CPU_ACCESS_READ, usage,
                        access, bind, what);
}

/* Two read-backs of one protected texture in a row, each after its own
 * GetEncryptionBltKey, with zeroed IVs: D3D11's driver makes a new key on
 * every GetEncryptionBltKey and generates every IV. */
static void two_read_backs(ID3D11Device *device, ID3D11DeviceContext *context, ID3D11VideoContext *video,
                           ID3D11CryptoSession *session, const BYTE session_key[16]) {
        BYTE plain[SURFACE_BYTES], cipher[SURFACE_BYTES], readback[SURFACE_BYTES], back[SURFACE_BYTES];
        BYTE iv[16] = { 0 }, ivs[2][16], wrapped[2][16], keys[2][16];
        ID3D11Texture2D *src, *protected_tex, *dst;
        UINT64 first = 0, second = 0;
        HRESULT hr;

        random_bytes(plain, sizeof(plain));
        random_bytes(iv, 8);
        aes_ctr(session_key, iv, plain, cipher, sizeof(plain));
        src = texture(device, &rgba, D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_WRITE, 0);
        map_rows(context, src, &rgba, cipher, TRUE);
        protected_tex = texture(device, &rgba, D3D11_USAGE_DEFAULT, 0, D3D11_BIND_SHADER_RESOURCE);
        ID3D11VideoContext_DecryptionBlt(video, session, src, protected_tex, NULL, 0, NULL, sizeof(iv), iv);

        for (int i = 0; i < 2; i++) {
                char line[160];

                memset(ivs[i], 0, 16);
                hr = ID3D11VideoContext_GetEncryptionBltKey(video, session, 16, wrapped[i]);
                check_hr(hr, S_OK,
                         i == 0 ? "GetEncryptionBltKey (first of two)" : "GetEncryptionBltKey (second of two)");
                aes_ecb(FALSE, session_key, wrapped[i], keys[i]);
                dst = texture(device, &rgba, D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_READ, 0);
                ID3D11VideoContext_EncryptionBlt(video, session, protected_tex, dst, 16, ivs[i]);
                map_rows(context, dst, &rgba, readback, FALSE);
                ID3D11Texture2D_Release(dst);
                aes_ctr(keys[i], ivs[i], readback, back, sizeof(back));
                snprintf(line, sizeof(line),
                         "read-back %d of two decrypts (bcrypt, its own key and IV) to the plaintext", i + 1);
                check(memcmp(back, plain, sizeof(plain)) == 0, line);
        }
        check(memcmp(keys[0], keys[1], 16) != 0, "two GetEncryptionBltKey calls give two different read-back keys");
        check(memcmp(ivs[0], ivs[1], 16) != 0, "two read-backs with zeroed pIV get two different IVs");
        for (int i = 0; i < 8; i++) {
                first = first << 8 | ivs[0][i];
                second = second << 8 | ivs[1][i];
        }
        check(second == first + 1 && all_zero(ivs[0] + 8, 8) && all_zero(ivs[1] + 8, 8),
              "the second IV member is the first plus one, both with Count 0 (keyd's contract)");
        SecureZeroMemory(keys, sizeof(keys));
        ID3D11Texture2D_Release(protected_tex);
        ID3D11Texture2D_Release(src);
}

/* A texture whose byte size wraps a 32-bit UINT, which Wine 8.0 creates:
 * 16385x16384 R32G32B32A32, past D3D11's 16384 limit (16385 * 16 * 16384 =
 * 2^32 + 262144 bytes). As DecryptionBlt's source and as EncryptionBlt's
 * destination the bridge must refuse it (E_INVALIDARG, seen through
 * CheckCryptoSessionStatus) without touching its memory. (Within the
 * limit only 16384x16384 R32G32B32A32, exactly 2^32 bytes, would wrap,
 * and Wine 8.0 refuses to create that one: E_INVALIDARG.) */
static void oversized_textures(ID3D11Device *device, ID3D11VideoContext *video, ID3D11VideoContext1 *video1,
                               ID3D11CryptoSession *session) {
        static const format huge[] = {
                { DXGI_FORMAT_R32G32B32A32_UINT, "R32G32B32A32_UINT", 16385, 16384, 16385 * 16, 16384 },
        };
        ID3D11Texture2D *protected_tex = texture(device, &rgba, D3D11_USAGE_DEFAULT, 0, D3D11_BIND_SHADER_RESOURCE);

        for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
                ID3D11Texture2D *big = NULL;
                BYTE iv[16] = { 0 };
                char what[128];
                HRESULT hr;

                hr = try_texture(device, &huge[i], D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE,
                                 0, &big);
                snprintf(what, sizeof(what), "Wine creates a %ux%u %s staging texture (hr 0x%08lX; the test needs one)",
                         huge[i].width, huge[i].height, huge[i].name, (unsigned long) hr);
                check(SUCCEEDED(hr), what);
                if (FAILED(hr))
                        continue;
                ID3D11VideoContext_DecryptionBlt(video, session, big, protected_tex, NULL, 0, NULL, sizeof(iv), iv);
                snprintf(what, sizeof(what), "DecryptionBlt from a %ux%u %s texture", huge[i].width, huge[i].height,
                         huge[i].name);
                check_status(video1, session, E_INVALIDARG, what);
                ID3D11VideoContext_EncryptionBlt(video, session, protected_tex, big, sizeof(iv), iv);
                snprintf(what, sizeof(what), "EncryptionBlt into a %ux%u %s texture", huge[i].width, huge[i].height,
                         huge[i].name);
                check_status(video1, session, E_INVALIDARG, what);
                ID3D11Texture2D_Release(big);
        }
        ID3D11Texture2D_Release(protected_tex);
}

/* Protected textures in video formats, where Wine creates them: each
 * kind of texture a round trip needs (a staging source and destination, a
 * protected texture of any usage) is tried and reported. */
static void video_formats(ID3D11Device *device, ID3D11DeviceContext *context, ID3D11VideoContext *video,
                          ID3D11CryptoSession *session, const BYTE session_key[16]) {
        static const format formats[] = {
                { DXGI_FORMAT_NV12, "NV12", WIDTH, HEIGHT, WIDTH, HEIGHT * 3 / 2 },
                { DXGI_FORMAT_P010, "P010", WIDTH, HEIGHT, WIDTH * 2, HEIGHT * 3 / 2 },
                { DXGI_FORMAT_YUY2, "YUY2", WIDTH, HEIGHT, WIDTH * 2, HEIGHT },
        };
        static const struct {
                D3D11_USAGE usage;
                UINT cpu_access, bind;
                const char *name;
        } kinds[] = {
                { D3D11_USAGE_DEFAULT, 0, D3D11_BIND_SHADER_RESOURCE, "default, shader resource" },
                { D3D11_USAGE_DEFAULT, 0, D3D11_BIND_DECODER, "default, decoder" },
                { D3D11_USAGE_DEFAULT, 0, 0, "default, no binding" },
                { D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_READ, 0, "staging, read" },
                { D3D11_USAGE_STAGING, D3D11_CPU_ACCESS_WRITE, 0, "staging, write" },
        };

        for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
                const format *f = &formats[i];
                HRESULT hr[sizeof(kinds) / sizeof(kinds[0])];
                int protected_kind = -1;
                char what[96];

                for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                        ID3D11Texture2D *t = NULL;

                        hr[k] = try_texture(device, f, kinds[k].usage, kinds[k].cpu_access, kinds[k].bind, &t);
                        printf("format %s: CreateTexture2D(%s): hr 0x%08lX\n", f->name, kinds[k].name,
                               (unsigned long) hr[k]);
                        if (t)
                                ID3D11Texture2D_Release(t);
                        if (SUCCEEDED(hr[k]) && protected_kind < 0)
                                protected_kind = (int) k;
                }
                if (FAILED(hr[3]) || FAILED(hr[4]) || protected_kind < 0) {
                        printf("note: Wine does not create the staging %s textures a round trip needs\n", f->name);
                        continue;
                }
                snprintf(what, sizeof(what), "%s %ux%u, %u bytes, protected texture %s", f->name, f->width, f->height,
                         format_bytes(f), kinds[protected_kind].name);
                round_trip_full(device, context, video, session, session_key, NULL, NULL, f,
                                D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE, kinds[protected_kind].usage,
                                kinds[protected_kind].cpu_access, kinds[protected_kind].bind, what);
                /* Into a READ-only staging texture the bridge writes through a
                 * GPU copy, which Wine 8.0 cannot do for every format: the
                 * bytes must then be right, or the failure reported. */
                snprintf(what, sizeof(what), "%s %ux%u into a CPU_ACCESS_READ-only staging texture", f->name,
                         f->width, f->height);
                tolerate_copy_failure = TRUE;
                round_trip_kind(device, context, video, session, session_key, f, kinds[protected_kind].usage,
                                kinds[protected_kind].cpu_access, kinds[protected_kind].bind, what);
                tolerate_copy_failure = FALSE;
                printf("video format round trip: %s %u bytes\n", f->name, format_bytes(f));
        }
}

/* QueryInterface(iid) on obj succeeds; the interface is released unless
 * ret takes it. */
static BOOL query(IUnknown *obj, const GUID *iid, const char *what, void **ret) {
        void *p = NULL;
        HRESULT hr = IUnknown_QueryInterface(obj, iid, &p);

        check_hr(hr, S_OK, what);
        if (FAILED(hr) || !p)
                return FALSE;
        if (ret)
                *ret = p;
        else
                IUnknown_Release((IUnknown *) p);
        return TRUE;
}

/* ID3D11VideoDevice1/2 and ID3D11VideoContext1/2/3: reachable from one
 * another, from ID3D11Device and IDXGIDevice (the video device family)
 * and from ID3D11DeviceContext (the video context family), and their
 * methods that need no session. */
static BOOL later_interfaces(ID3D11Device *device, ID3D11DeviceContext *context, ID3D11VideoDevice *video_device,
                             ID3D11VideoContext *video, ID3D11VideoDevice1 **ret_device1,
                             ID3D11VideoContext1 **ret_context1) {
        ID3D11VideoDevice1 *vd1 = NULL, *vd2 = NULL;
        ID3D11VideoContext2 *vc3 = NULL;
        ID3D11DeviceContext *context_again = NULL;
        ID3D11VideoDecoder *decoder = NULL;
        IDXGIDevice *dxgi = NULL;
        D3D11_VIDEO_DECODER_DESC decoder_desc = { { 0 }, 1920, 1080, DXGI_FORMAT_NV12 };
        D3D11_VIDEO_DECODER_CONFIG config = { 0 };
        DXGI_RATIONAL rate = { 30, 1 };
        decoder_histogram histogram;
        UINT in_size = 0xFFFFFFFF, out_size = 0xFFFFFFFF, decoder_caps = 0xFFFFFFFF;
        UINT64 hw = 1;
        HRESULT hr;

        query((IUnknown *) device, &IID_ID3D11VideoDevice1, "ID3D11Device::QueryInterface(ID3D11VideoDevice1)", NULL);
        query((IUnknown *) device, &iid_video_device2, "ID3D11Device::QueryInterface(ID3D11VideoDevice2)", NULL);
        if (!query((IUnknown *) device, &IID_IDXGIDevice, "ID3D11Device::QueryInterface(IDXGIDevice)", (void **) &dxgi))
                return FALSE;
        query((IUnknown *) dxgi, &IID_ID3D11VideoDevice, "IDXGIDevice::QueryInterface(ID3D11VideoDevice)", NULL);
        query((IUnknown *) dxgi, &IID_ID3D11VideoDevice1, "IDXGIDevice::QueryInterface(ID3D11VideoDevice1)", NULL);
        query((IUnknown *) dxgi, &iid_video_device2, "IDXGIDevice::QueryInterface(ID3D11VideoDevice2)", NULL);
        IDXGIDevice_Release(dxgi);
        if (!query((IUnknown *) video_device, &IID_ID3D11VideoDevice1,
                   "ID3D11VideoDevice::QueryInterface(ID3D11VideoDevice1)", (void **) &vd1) ||
            !query((IUnknown *) vd1, &iid_video_device2, "ID3D11VideoDevice1::QueryInterface(ID3D11VideoDevice2)",
                   (void **) &vd2))
                return FALSE;
        query((IUnknown *) vd2, &IID_ID3D11VideoDevice, "ID3D11VideoDevice2::QueryInterface(ID3D11VideoDevice)", NULL);
        query((IUnknown *) vd2, &IID_IDXGIDevice, "ID3D11VideoDevice2::QueryInterface(IDXGIDevice)", NULL);

        query((IUnknown *) context, &IID_ID3D11VideoContext1,
              "ID3D11DeviceContext::QueryInterface(ID3D11VideoContext1)", NULL);
        query((IUnknown *) context, &iid_video_context2, "ID3D11DeviceContext::QueryInterface(ID3D11VideoContext2)",
              NULL);
        query((IUnknown *) context, &iid_video_context3, "ID3D11DeviceContext::QueryInterface(ID3D11VideoContext3)",
              NULL);
        if (!query((IUnknown *) video, &iid_video_context3, "ID3D11VideoContext::QueryInterface(ID3D11VideoContext3)",
                   (void **) &vc3) ||
            !query((IUnknown *) vc3, &IID_ID3D11VideoContext1,
                   "ID3D11VideoContext3::QueryInterface(ID3D11VideoContext1)", (void **) ret_context1))
                return FALSE;
        query((IUnknown *) vc3, &iid_video_context2, "ID3D11VideoContext3::QueryInterface(ID3D11VideoContext2)", NULL);
        hr = ID3D11VideoContext2_QueryInterface(vc3, &IID_ID3D11DeviceContext, (void **) &context_again);
        check(SUCCEEDED(hr) && context_again == context,
              "ID3D11VideoContext3::QueryInterface(ID3D11DeviceContext) is the immediate context");
        if (context_again)
                ID3D11DeviceContext_Release(context_again);

        /* ---- ID3D11VideoDevice1 ---- */
        hr = ID3D11VideoDevice1_GetCryptoSessionPrivateDataSize(vd1, &crypto_type_aes128_ctr, NULL,
                                                                &key_exchange_rsaes_oaep, &in_size, &out_size);
        check_hr(hr, S_OK, "GetCryptoSessionPrivateDataSize(AES128_CTR, RSAES_OAEP)");
        printf("private data sizes: input %u, output %u\n", in_size, out_size);
        check(in_size != 0xFFFFFFFF && out_size != 0xFFFFFFFF, "GetCryptoSessionPrivateDataSize wrote both sizes");
        hr = ID3D11VideoDevice1_GetCryptoSessionPrivateDataSize(vd1, &crypto_type_aes128_ctr, NULL, &unknown_guid,
                                                                &in_size, &out_size);
        check_hr(hr, E_INVALIDARG, "GetCryptoSessionPrivateDataSize(an unknown key exchange type)");
        check(ID3D11VideoDevice1_GetVideoDecoderProfileCount(vd1) == 0, "GetVideoDecoderProfileCount is 0");
        hr = ID3D11VideoDevice1_GetVideoDecoderCaps(vd1, &unknown_guid, 1920, 1080, &rate, 0, &crypto_type_aes128_ctr,
                                                    &decoder_caps);
        check_hr(hr, E_INVALIDARG, "GetVideoDecoderCaps(a profile the driver does not have)");
        check(decoder_caps == 0, "GetVideoDecoderCaps leaves no capability bits");
        hr = ID3D11VideoDevice1_CreateVideoDecoder(vd1, &decoder_desc, &config, &decoder);
        check_hr(hr, E_NOTIMPL, "CreateVideoDecoder (no decoders in the Wine bridge)");

        /* ---- ID3D11VideoDevice2 ---- */
        memset(&histogram, 0xFF, sizeof(histogram));
        histogram.DecoderDesc = decoder_desc;
        hr = ((const video_device2_vtbl *) vd2->lpVtbl)->CheckFeatureSupport(vd2, 0, &histogram, sizeof(histogram));
        check_hr(hr, S_OK, "CheckFeatureSupport(D3D11_FEATURE_VIDEO_DECODER_HISTOGRAM)");
        check(histogram.Components == 0 && histogram.BinCount == 0,
              "CheckFeatureSupport: no decode histogram components");
        hr = ((const video_device2_vtbl *) vd2->lpVtbl)->CheckFeatureSupport(vd2, 0, &histogram, sizeof(histogram) - 1);
        check_hr(hr, E_INVALIDARG, "CheckFeatureSupport(HISTOGRAM, a size one short)");
        hr = ((const video_device2_vtbl *) vd2->lpVtbl)->CheckFeatureSupport(vd2, 1, &histogram, sizeof(histogram));
        check_hr(hr, E_INVALIDARG, "CheckFeatureSupport(an unknown D3D11_FEATURE_VIDEO)");
        hr = ((const video_device2_vtbl *) vd2->lpVtbl)->NegotiateCryptoSessionKeyExchangeMT(vd2, NULL, 0, 0, NULL);
        check_hr(hr, E_INVALIDARG, "NegotiateCryptoSessionKeyExchangeMT(NULL session)");

        /* ---- ID3D11VideoContext1 and 3 ---- */
        hr = ID3D11VideoContext1_GetDataForNewHardwareKey(*ret_context1, NULL, 0, NULL, &hw);
        check_hr(hr, E_INVALIDARG, "GetDataForNewHardwareKey(NULL session)");
        hr = ID3D11VideoContext1_CheckCryptoSessionStatus(*ret_context1, NULL, NULL);
        check_hr(hr, E_INVALIDARG, "CheckCryptoSessionStatus(NULL session)");
        hr = ((const video_context3_vtbl *) vc3->lpVtbl)->DecoderBeginFrame1(vc3, NULL, NULL, 0, NULL, 0, NULL, NULL);
        check_hr(hr, E_NOTIMPL, "ID3D11VideoContext3::DecoderBeginFrame1 (no decoders in the Wine bridge)");
        hr = ((const video_context3_vtbl *) vc3->lpVtbl)->SubmitDecoderBuffers2(vc3, NULL, 0, NULL);
        check_hr(hr, E_NOTIMPL, "ID3D11VideoContext3::SubmitDecoderBuffers2 (no decoders in the Wine bridge)");

        ID3D11VideoContext2_Release(vc3);
        ID3D11VideoDevice1_Release(vd2);
        *ret_device1 = vd1;
        return TRUE;
}

/* The later interfaces' methods on a negotiated session. */
static void session_methods(ID3D11VideoDevice1 *vd1, ID3D11VideoContext1 *vc1, ID3D11CryptoSession *session,
                            BYTE *exchange) {
        const video_device2_vtbl *v2 = (const video_device2_vtbl *) vd1->lpVtbl;
        BYTE input[4] = { 1, 2, 3, 4 };
        UINT64 hw = 1;
        HRESULT hr;

        hr = ID3D11VideoContext1_GetDataForNewHardwareKey(vc1, session, sizeof(input), input, &hw);
        check_hr(hr, E_NOTIMPL, "GetDataForNewHardwareKey (keyd has no hardware keys)");
        check(hw == 0, "GetDataForNewHardwareKey leaves no private output");
        hr = v2->NegotiateCryptoSessionKeyExchangeMT(vd1, session, 1, 256, exchange);
        check_hr(hr, E_INVALIDARG, "NegotiateCryptoSessionKeyExchangeMT(flags 1)");
        hr = v2->NegotiateCryptoSessionKeyExchangeMT(vd1, session, 0, 255, exchange);
        check_hr(hr, E_INVALIDARG, "NegotiateCryptoSessionKeyExchangeMT(255 bytes for a 2048-bit key)");
}

/* The session key wrapped to the certificate for key exchange kx. */
static BOOL wrap_session_key(GUID kx, PCCERT_CONTEXT cert, const BYTE key[16], BYTE *out) {
        if (IsEqualGUID(&kx, &key_exchange_rsaes_oaep_sha1))
                return oaep_sha1_cryptoapi(cert, key, out, 256);
        return oaep_sha512_bcrypt(cert, key, out, 256) == 0;
}

int main(void) {
        D3D11_VIDEO_CONTENT_PROTECTION_CAPS caps = { 0 };
        ID3D11Device *device = NULL, *device_again = NULL;
        ID3D11DeviceContext *context = NULL;
        ID3D11VideoDevice *video_device = NULL;
        ID3D11VideoDevice1 *video_device1 = NULL;
        ID3D11VideoContext *video = NULL;
        ID3D11VideoContext1 *video1 = NULL;
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
        if (!later_interfaces(device, context, video_device, video, &video_device1, &video1))
                return 1;
        status_context = video1;

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

        check_status(video1, session, S_OK, "the key exchange");
        session_methods(video_device1, video1, session, exchange);

        /* ---- bad input to the void data-path methods: no HRESULT, but no
         * crash, a message on stderr, and the session's next
         * CheckCryptoSessionStatus returns the failure (once) ---- */
        {
                ID3D11Texture2D *t = texture(device, &rgba, D3D11_USAGE_DEFAULT, 0, D3D11_BIND_SHADER_RESOURCE);
                static const format small_format = { DXGI_FORMAT_R8G8B8A8_UNORM, "R8G8B8A8_UNORM", 4, 4, 16, 4 };
                ID3D11Texture2D *small = texture(device, &small_format, D3D11_USAGE_STAGING,
                                                 D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE, 0);
                BYTE iv[16] = { 0 }, r[16];

                ID3D11VideoContext_DecryptionBlt(video, NULL, t, t, NULL, 0, NULL, sizeof(iv), iv);
                check_status(video1, session, S_OK, "a DecryptionBlt with a NULL session (nothing to report there)");
                ID3D11VideoContext_DecryptionBlt(video, session, NULL, t, NULL, 0, NULL, sizeof(iv), iv);
                check_status(video1, session, E_INVALIDARG, "a DecryptionBlt with a NULL pSrcSurface");
                check_status(video1, session, S_OK, "the failure was reported once");
                ID3D11VideoContext_DecryptionBlt(video, session, t, t, NULL, 0, NULL, 8, iv);
                ID3D11VideoContext_EncryptionBlt(video, session, t, small, sizeof(iv), iv);
                check_status(video1, session, E_INVALIDARG,
                             "a DecryptionBlt with an 8-byte IV, then a bad EncryptionBlt");
                check_status(video1, session, S_OK, "both failures (the first one reported)");
                ID3D11VideoContext_StartSessionKeyRefresh(video, session, 8, r);
                check_status(video1, session, E_INVALIDARG, "StartSessionKeyRefresh with an 8-byte random number");
                ID3D11VideoContext_FinishSessionKeyRefresh(video, session);
                check_status(video1, session, DXGI_ERROR_INVALID_CALL,
                             "FinishSessionKeyRefresh without StartSessionKeyRefresh");
                ID3D11Texture2D_Release(small);
                ID3D11Texture2D_Release(t);
                check(TRUE, "bad DecryptionBlt/EncryptionBlt arguments did not crash the program");
        }
        oversized_textures(device, video, video1, session);

        /* ---- the protected data path ---- */
        round_trip(device, context, video, session, session_key, NULL, NULL, &rgba,
                   D3D11_CPU_ACCESS_READ | D3D11_CPU_ACCESS_WRITE, "session key");
        round_trip(device, context, video, session, session_key, NULL, NULL, &rgba, D3D11_CPU_ACCESS_READ,
                   "session key, into a CPU_ACCESS_READ-only staging texture");
        random_bytes(content_key, sizeof(content_key));
        round_trip(device, context, video, session, session_key, content_key, NULL, &rgba, D3D11_CPU_ACCESS_READ,
                   "content key");
        round_trip(device, context, video, session, session_key, NULL, &partial, &rgba, D3D11_CPU_ACCESS_READ,
                   "partial: 32 encrypted, then 16 clear / 16 encrypted");
        two_read_backs(device, context, video, session, session_key);
        video_formats(device, context, video, session, session_key);

        /* D3D11: the new session key is the old one XOR the random number. */
        ID3D11VideoContext_StartSessionKeyRefresh(video, session, sizeof(random_number), random_number);
        ID3D11VideoContext_FinishSessionKeyRefresh(video, session);
        for (int i = 0; i < 16; i++)
                session_key[i] ^= random_number[i];
        round_trip(device, context, video, session, session_key, NULL, NULL, &rgba, D3D11_CPU_ACCESS_READ,
                   "refreshed session key");

        /* ID3D11VideoDevice2::NegotiateCryptoSessionKeyExchangeMT: a new
         * session key on the same session. */
        random_bytes(session_key, sizeof(session_key));
        if (!wrap_session_key(kx, cert, session_key, exchange))
                return 1;
        hr = ((const video_device2_vtbl *) video_device1->lpVtbl)
                     ->NegotiateCryptoSessionKeyExchangeMT(video_device1, session, 0, 256, exchange);
        check_hr(hr, S_OK, "NegotiateCryptoSessionKeyExchangeMT(a new wrapped session key)");
        round_trip(device, context, video, session, session_key, NULL, NULL, &rgba, D3D11_CPU_ACCESS_READ,
                   "session key of NegotiateCryptoSessionKeyExchangeMT");
        check_status(video1, session, S_OK, "every round trip");

        SecureZeroMemory(session_key, sizeof(session_key));
        SecureZeroMemory(content_key, sizeof(content_key));
        ID3D11CryptoSession_Release(session);
        CertFreeCertificateContext(cert);
        free(certificate);
        ID3D11VideoContext1_Release(video1);
        ID3D11VideoDevice1_Release(video_device1);
        ID3D11VideoContext_Release(video);
        ID3D11VideoDevice_Release(video_device);
        ID3D11DeviceContext_Release(context);
        ID3D11Device_Release(device);

        printf("%s: %d check(s) failed\n", failures ? "FAIL" : "PASS", failures);
        return failures ? 1 : 0;
}
