/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* keydctl certificate: the device certificate keyd returns from
 * GetCertificate (the same for every session), for a developer's own key
 * wrapping code: DER or PEM to stdout, or what it holds as JSON. A session
 * is created to ask for it and released. */

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "keydctl-json.h"
#include "keydctl.h"

static void x509_crt_deinitp(gnutls_x509_crt_t *crt) {
        if (*crt)
                gnutls_x509_crt_deinit(*crt);
}

static void datum_freep(gnutls_datum_t *d) {
        gnutls_free(d->data);
        d->data = NULL;
}

static int fail_gnutls(int r, const char *what) {
        keydctl_error("%s: %s\n", what, gnutls_strerror(r));
        return -KEYDCTL_EXIT_FAILURE;
}

/* ISO 8601 in UTC, as openssl and gnutls print validity for people. */
static void json_time(Json *j, const char *key, time_t t) {
        char buf[sizeof("9999-12-31T23:59:59Z") + 8];
        struct tm tm;

        if (t == (time_t) -1 || !gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                json_string(j, key, NULL);
        else
                json_string(j, key, buf);
}

static int print_json(const KeydctlCertificate *c) {
        _cleanup_(x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
        _cleanup_(datum_freep) gnutls_datum_t subject = {}, issuer = {}, pem = {};
        const gnutls_datum_t der = { .data = c->der, .size = c->size };
        uint8_t fingerprint[32];
        size_t fingerprint_size = sizeof(fingerprint);
        char hex[2 * sizeof(fingerprint) + 1];
        Json j;
        int r;

        r = gnutls_x509_crt_init(&crt);
        if (r < 0)
                return fail_gnutls(r, "cannot read the certificate");
        r = gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER);
        if (r < 0)
                return fail_gnutls(r, "the certificate keyd sent is not DER X.509");
        r = gnutls_x509_crt_get_dn3(crt, &subject, 0);
        if (r < 0)
                return fail_gnutls(r, "cannot read the certificate's subject");
        r = gnutls_x509_crt_get_issuer_dn3(crt, &issuer, 0);
        if (r < 0)
                return fail_gnutls(r, "cannot read the certificate's issuer");
        r = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fingerprint, &fingerprint_size);
        if (r < 0)
                return fail_gnutls(r, "cannot compute the certificate's fingerprint");
        r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem);
        if (r < 0)
                return fail_gnutls(r, "cannot write the certificate as PEM");
        for (size_t i = 0; i < fingerprint_size; i++)
                sprintf(hex + 2 * i, "%02x", fingerprint[i]);

        json_begin(&j, stdout);
        json_object_open(&j, NULL);
        json_uint(&j, "size", c->size);
        json_string(&j, "key_algorithm", "RSA");
        json_uint(&j, "rsa_bits", c->rsa_bits);
        json_string(&j, "subject", (const char *) subject.data);
        json_string(&j, "issuer", (const char *) issuer.data);
        json_time(&j, "not_before", gnutls_x509_crt_get_activation_time(crt));
        json_time(&j, "not_after", gnutls_x509_crt_get_expiration_time(crt));
        json_string(&j, "sha256_fingerprint", hex);
        json_string(&j, "pem", (const char *) pem.data);
        json_object_close(&j);
        json_end(&j);
        return 0;
}

static int print_pem(const KeydctlCertificate *c) {
        _cleanup_(datum_freep) gnutls_datum_t pem = {};
        const gnutls_datum_t der = { .data = c->der, .size = c->size };
        int r;

        r = gnutls_pem_base64_encode2("CERTIFICATE", &der, &pem);
        if (r < 0)
                return fail_gnutls(r, "cannot write the certificate as PEM");
        fwrite(pem.data, 1, pem.size, stdout);
        return 0;
}

static int fetch_certificate(const Keydctl *ctl, KeydctlCertificate *ret) {
        keyd_crypto_session *session = NULL;
        keyd_client *client;
        HRESULT hr;
        int r;

        r = keydctl_open_client(ctl, &client);
        if (r < 0)
                return r;
        hr = keyd_create_crypto_session(client, &KEYD_CRYPTO_TYPE_AES128_CTR, NULL, &KEYD_KEY_EXCHANGE_RSAES_OAEP,
                                        &session);
        if (KEYD_FAILED(hr))
                r = keydctl_fail(hr, "CreateCryptoSession failed");
        else {
                r = keydctl_get_certificate(session, ret);
                keyd_crypto_session_release(session);
        }
        keyd_client_close(client);
        return r;
}

int verb_certificate(const Keydctl *ctl, int argc, char *argv[]) {
        _cleanup_(keydctl_certificate_done) KeydctlCertificate certificate = {};
        int r;

        if (ctl->pem + ctl->der + ctl->json > 1)
                return keydctl_usage("certificate takes one of --der, --pem and --json\n");
        /* Binary on a terminal garbles it and helps nobody. */
        if (!ctl->pem && !ctl->json && isatty(STDOUT_FILENO))
                return keydctl_usage("certificate: standard output is a terminal; DER is binary: redirect it "
                                     "to a file (keydctl certificate >cert.der), or use --pem or --json\n");

        r = fetch_certificate(ctl, &certificate);
        if (r < 0)
                return r;

        if (ctl->json)
                return print_json(&certificate);
        if (ctl->pem)
                return print_pem(&certificate);
        fwrite(certificate.der, 1, certificate.size, stdout);
        return 0;
}
