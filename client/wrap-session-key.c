/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keyd_wrap_session_key: RSAES-OAEP encryption of a session key to the
 * device certificate, for callers that want no crypto code of their own.
 * It is the caller's half of NegotiateCryptoSessionKeyExchange.
 * keyd_get_key_exchange_data_size: how large that ciphertext is, so that
 * callers size their buffer from the certificate and not from a guess. */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <nettle/bignum.h>
#include <nettle/rsa.h>

#include "error-map.h"
#include "guid.h"
#include "rsa-oaep.h"

#define SESSION_KEY_SIZE 16U

typedef struct RandomState {
        int error;   /* the first gnutls_rnd() failure, 0 if none */
} RandomState;

/* nettle_random_func on GnuTLS's generator; nettle's callback cannot fail,
 * so a failure is remembered and the result thrown away afterwards. */
static void random_gnutls(void *ctx, size_t length, uint8_t *dst) {
        RandomState *state = ctx;
        int r;

        r = gnutls_rnd(GNUTLS_RND_RANDOM, dst, length);
        if (r < 0 && state->error == 0)
                state->error = r;
}

static void crt_deinitp(gnutls_x509_crt_t *crt) {
        if (*crt)
                gnutls_x509_crt_deinit(*crt);
}

static void datum_freep(gnutls_datum_t *d) {
        gnutls_free(d->data);
        d->data = NULL;
}

static void rsa_public_key_clearp(struct rsa_public_key **pub) {
        if (*pub)
                rsa_public_key_clear(*pub);
}

/* The OAEP hashes a key-exchange GUID selects (contract section 7). */
static HRESULT oaep_params_for(const char *function, const keyd_guid *key_exchange_type, OaepParams *ret) {
        const KnownGuid *known = known_guid_lookup(key_exchange_type, GUID_KIND_KEY_EXCHANGE);
        char s[KEYD_GUID_STRING_SIZE];

        if (!known) {
                guid_format(key_exchange_type, s);
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: %s is not a key exchange type keyd knows; expected one "
                                           "of the RSAES-OAEP types",
                                           function, s);
        }

        switch ((KeyExchange) known->value) {
        case KEY_EXCHANGE_RSAES_OAEP_SHA512:
                *ret = (OaepParams) { .hash = OAEP_HASH_SHA512, .mgf1_hash = OAEP_HASH_SHA512 };
                return KEYD_S_OK;
        case KEY_EXCHANGE_RSAES_OAEP_SHA256:
                *ret = (OaepParams) { .hash = OAEP_HASH_SHA256, .mgf1_hash = OAEP_HASH_SHA256 };
                return KEYD_S_OK;
        case KEY_EXCHANGE_RSAES_OAEP_SHA1:
                *ret = (OaepParams) { .hash = OAEP_HASH_SHA1, .mgf1_hash = OAEP_HASH_SHA1 };
                return KEYD_S_OK;
        default:
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: %s wraps no session key (its data goes to "
                                           "ExecuteHWProtectionFunction); expected an RSAES-OAEP type",
                                           function, known->name);
        }
}

/* The RSA public key of a DER X.509 certificate, into pub (initialised). */
static HRESULT certificate_public_key(const char *function, const uint8_t *certificate, uint32_t size,
                                      struct rsa_public_key *pub) {
        _cleanup_(crt_deinitp) gnutls_x509_crt_t crt = NULL;
        _cleanup_(datum_freep) gnutls_datum_t modulus = {}, exponent = {};
        const gnutls_datum_t der = { .data = (unsigned char *) certificate, .size = size };
        int r;

        r = gnutls_x509_crt_init(&crt);
        if (r < 0)
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: %s", function, gnutls_strerror(r));
        r = gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER);
        if (r < 0)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: the certificate (%" PRIu32 " bytes) is not DER X.509: %s",
                                           function, size, gnutls_strerror(r));
        r = gnutls_x509_crt_get_pk_algorithm(crt, NULL);
        if (r != GNUTLS_PK_RSA)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: the certificate holds a %s key; RSAES-OAEP needs RSA",
                                           function, r < 0 ? "unreadable" : gnutls_pk_algorithm_get_name(r));
        r = gnutls_x509_crt_get_pk_rsa_raw(crt, &modulus, &exponent);
        if (r < 0)
                return keyd_set_last_error(KEYD_E_INVALIDARG, "%s: cannot read the certificate's RSA key: %s",
                                           function, gnutls_strerror(r));

        nettle_mpz_set_str_256_u(pub->n, modulus.size, modulus.data);
        nettle_mpz_set_str_256_u(pub->e, exponent.size, exponent.data);
        if (!rsa_public_key_prepare(pub))
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: the certificate's RSA key is not usable (modulus too small)",
                                           function);
        return KEYD_S_OK;
}

/* What both calls start from: the OAEP variant of the key exchange and the
 * certificate's RSA key (pub initialised by the caller), checked to be large
 * enough for that variant and a 16-byte session key. */
static HRESULT wrap_target(const char *function, const uint8_t *certificate, uint32_t certificate_size,
                           const keyd_guid *key_exchange_type, struct rsa_public_key *pub,
                           OaepParams *ret_params) {
        HRESULT hr;

        if (certificate_size == 0)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: CertificateSize is 0; expected the size GetCertificate reported",
                                           function);

        hr = oaep_params_for(function, key_exchange_type, ret_params);
        if (KEYD_FAILED(hr))
                return hr;

        hr = certificate_public_key(function, certificate, certificate_size, pub);
        if (KEYD_FAILED(hr))
                return hr;

        /* RFC 8017 7.1.1: the message fits when it is at most k - 2 hLen - 2 bytes. */
        if (pub->size < 2 * oaep_hash_size(ret_params->hash) + 2 + SESSION_KEY_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: the certificate's %zu-bit key is too small for "
                                           "RSAES-OAEP with %s and a %u-byte key",
                                           function, mpz_sizeinbase(pub->n, 2),
                                           oaep_hash_to_string(ret_params->hash), SESSION_KEY_SIZE);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_get_key_exchange_data_size(const uint8_t *pCertificate, uint32_t CertificateSize,
                                                 const keyd_guid *pKeyExchangeType, uint32_t *pDataSize) {
        static const char function[] = "keyd_get_key_exchange_data_size";
        _cleanup_(rsa_public_key_clearp) struct rsa_public_key *pub_cleanup = NULL;
        struct rsa_public_key pub;
        OaepParams params;
        HRESULT hr;

        keyd_clear_last_error();
        if (!pCertificate || !pKeyExchangeType || !pDataSize)
                return keyd_fail_null(function, !pCertificate       ? "pCertificate"
                                                : !pKeyExchangeType ? "pKeyExchangeType"
                                                                    : "pDataSize");
        *pDataSize = 0;

        rsa_public_key_init(&pub);
        pub_cleanup = &pub;
        hr = wrap_target(function, pCertificate, CertificateSize, pKeyExchangeType, &pub, &params);
        if (KEYD_FAILED(hr))
                return hr;

        /* RSAES-OAEP ciphertext is exactly the modulus length. */
        *pDataSize = (uint32_t) pub.size;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_wrap_session_key(const uint8_t *pCertificate, uint32_t CertificateSize,
                                       const keyd_guid *pKeyExchangeType,
                                       const uint8_t *pSessionKey, uint32_t SessionKeySize,
                                       uint32_t DataSize, void *pData) {
        static const char function[] = "keyd_wrap_session_key";
        _cleanup_(rsa_public_key_clearp) struct rsa_public_key *pub_cleanup = NULL;
        struct rsa_public_key pub;
        RandomState random_state = {};
        OaepParams params;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!pCertificate || !pKeyExchangeType || !pSessionKey || !pData)
                return keyd_fail_null(function, !pCertificate       ? "pCertificate"
                                                : !pKeyExchangeType ? "pKeyExchangeType"
                                                : !pSessionKey      ? "pSessionKey"
                                                                    : "pData");
        if (SessionKeySize != SESSION_KEY_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: SessionKeySize is %" PRIu32 "; the session key is AES-128, %u bytes",
                                           function, SessionKeySize, SESSION_KEY_SIZE);

        rsa_public_key_init(&pub);
        pub_cleanup = &pub;
        hr = wrap_target(function, pCertificate, CertificateSize, pKeyExchangeType, &pub, &params);
        if (KEYD_FAILED(hr))
                return hr;

        if (DataSize != pub.size)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: DataSize is %" PRIu32 " bytes; RSAES-OAEP with the certificate's "
                                           "%zu-bit key takes %zu (keyd_get_key_exchange_data_size)",
                                           function, DataSize, mpz_sizeinbase(pub.n, 2), pub.size);

        r = rsa_oaep_encrypt(&pub, &params, &random_state, random_gnutls, pSessionKey, SessionKeySize,
                             pData, DataSize);
        if (r >= 0 && random_state.error < 0)
                r = -EIO;
        if (r < 0) {
                /* Leave nothing half-made behind. */
                explicit_bzero(pData, DataSize);
                if (r == -EMSGSIZE)
                        return keyd_set_last_error(KEYD_E_INVALIDARG,
                                                   "%s: the certificate's %zu-bit key is too small for "
                                                   "RSAES-OAEP with %s and a %u-byte key",
                                                   function, mpz_sizeinbase(pub.n, 2),
                                                   oaep_hash_to_string(params.hash), SESSION_KEY_SIZE);
                if (random_state.error < 0)
                        return keyd_set_last_error(KEYD_E_FAIL, "%s: no random numbers: %s", function,
                                                   gnutls_strerror(random_state.error));
                return keyd_set_last_error(KEYD_E_FAIL, "%s: RSAES-OAEP encryption failed: %s", function,
                                           strerror(-r));
        }
        return KEYD_S_OK;
}
