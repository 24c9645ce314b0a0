/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* D3D11's view of what the VA driver reported: the decoder profiles keyd
 * knows and the VA profiles that decode them, the capability bits and the
 * block alignment that follow from the protected-content attributes. */

#include <stdio.h>

#include "vpl-backend.h"

static const struct {
        const keyd_guid *guid;
        const char *name;
        VAProfile va_profile;
} decoders[_VPL_DECODER_MAX] = {
        /* D3D11's H.264 VLD profile decodes High profile and what it contains. */
        [VPL_DECODER_H264] = { &KEYD_DECODER_PROFILE_H264_VLD_NOFGT, "H.264", VAProfileH264High },
        [VPL_DECODER_HEVC_MAIN] = { &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN, "HEVC Main", VAProfileHEVCMain },
        [VPL_DECODER_HEVC_MAIN10] = { &KEYD_DECODER_PROFILE_HEVC_VLD_MAIN10, "HEVC Main10", VAProfileHEVCMain10 },
        [VPL_DECODER_VP9_PROFILE0] = { &KEYD_DECODER_PROFILE_VP9_VLD_PROFILE0, "VP9 profile 0", VAProfileVP9Profile0 },
        [VPL_DECODER_AV1_PROFILE0] = { &KEYD_DECODER_PROFILE_AV1_VLD_PROFILE0, "AV1 profile 0", VAProfileAV1Profile0 },
};

VplDecoder vpl_decoder_from_guid(const keyd_guid *profile) {
        for (VplDecoder d = 0; d < _VPL_DECODER_MAX; d++)
                if (guid_equal(profile, decoders[d].guid))
                        return d;
        return _VPL_DECODER_INVALID;
}

const char *vpl_decoder_to_string(VplDecoder d) {
        if (d < 0 || d >= _VPL_DECODER_MAX)
                return NULL;
        return decoders[d].name;
}

VAProfile vpl_decoder_va_profile(VplDecoder d) {
        if (d < 0 || d >= _VPL_DECODER_MAX)
                return VAProfileNone;
        return decoders[d].va_profile;
}

uint32_t vpl_caps_block_alignment(const VplVaCaps *caps) {
        /* The smallest cipher block the driver works in, in bytes. */
        if (caps->cipher_block_sizes & VA_PC_BLOCK_SIZE_128)
                return 16;
        if (caps->cipher_block_sizes & VA_PC_BLOCK_SIZE_192)
                return 24;
        if (caps->cipher_block_sizes & VA_PC_BLOCK_SIZE_256)
                return 32;
        return 0;
}

bool vpl_caps_aes128_ctr(const VplVaCaps *caps) {
        return caps->protected_content && (caps->cipher_algorithms & VA_PC_CIPHER_AES) &&
               (caps->cipher_modes & VA_PC_CIPHER_MODE_CTR) && (caps->cipher_block_sizes & VA_PC_BLOCK_SIZE_128);
}

uint32_t vpl_caps_content_protection(const VplVaCaps *caps, bool hw_protection) {
        /* The GPU decrypts (HARDWARE). Where the TEE behind the protected
         * session can be reached with vaProtectedSessionExecute, that is what
         * D3D11 calls DRM communication (HW_PROTECTION key exchange): the bit
         * is set exactly when CheckCryptoKeyExchange lists HW_PROTECTION.
         * Subsample encryption is D3D11's partial decryption. keyd claims no
         * DECRYPTION_BLT, content key or read-back capability here: those are
         * operations of the software backend's daemon-side surfaces, which the
         * GPU path does not provide (see vpl-backend.c). */
        uint32_t c = KEYD_CONTENT_PROTECTION_CAPS_HARDWARE;

        if (hw_protection)
                c |= KEYD_CONTENT_PROTECTION_CAPS_HARDWARE_DRM_COMMUNICATION;
        if (caps->sample_types & VA_PC_SAMPLE_TYPE_SUBSAMPLE)
                c |= KEYD_CONTENT_PROTECTION_CAPS_PARTIAL_DECRYPTION;
        return c;
}

/* "A|B|0x40" for the bits of v; the names are short, the result fits in 64 bytes. */
static const char *flags_to_string(uint32_t v, const char *const names[], const uint32_t bits[], size_t n,
                                   char buf[static 64]) {
        size_t used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < n && used < 48; i++) {
                if (!(v & bits[i]))
                        continue;
                used += (size_t) snprintf(buf + used, 64 - used, "%s%s", used ? "|" : "", names[i]);
                v &= ~bits[i];
        }
        if (v != 0 && used < 48)
                used += (size_t) snprintf(buf + used, 64 - used, "%s0x%x", used ? "|" : "", v);
        if (used == 0)
                snprintf(buf, 64, "none");
        return buf;
}

const char *vpl_caps_algorithms_to_string(uint32_t algorithms, char buf[static 64]) {
        static const char *const names[] = { "AES" };
        static const uint32_t bits[] = { VA_PC_CIPHER_AES };
        return flags_to_string(algorithms, names, bits, ELEMENTSOF(bits), buf);
}

const char *vpl_caps_modes_to_string(uint32_t modes, char buf[static 64]) {
        static const char *const names[] = { "ECB", "CBC", "CTR" };
        static const uint32_t bits[] = { VA_PC_CIPHER_MODE_ECB, VA_PC_CIPHER_MODE_CBC, VA_PC_CIPHER_MODE_CTR };
        return flags_to_string(modes, names, bits, ELEMENTSOF(bits), buf);
}
