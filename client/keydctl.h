/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What keydctl's commands share: the global options, opening a client,
 * and reporting a failed HRESULT. */

#include <stdint.h>

#include "keyd/keyd.h"

typedef struct Keydctl {
        const char *address;     /* --address, NULL for the system bus */
        uint64_t timeout_usec;   /* --timeout, 0 for the library's default */
} Keydctl;

/* Print "keydctl: WHAT: 0xHRESULT NAME: description" and the library's
 * last error message; returns -1 for the caller to pass on. */
int keydctl_fail(HRESULT hr, const char *what);
/* Open a keyd_client as the global options say; prints on failure. */
int keydctl_open_client(const Keydctl *ctl, keyd_client **ret);
/* A decoder profile from a GUID or a short name (h264, hevc, hevc10, vp9,
 * av1, none). *ret is NULL for "none". Prints on failure. */
int keydctl_parse_profile(const char *s, keyd_guid *buf, const keyd_guid **ret);
/* The GUID's name from the contract's table, or its text form. */
const char *keydctl_guid_name(const keyd_guid *g, char buf[static KEYD_GUID_STRING_SIZE]);

/* sha512, sha256 or sha1: the RSAES-OAEP key exchange GUID. Prints on failure. */
int keydctl_parse_key_exchange(const char *s, const keyd_guid **ret);

/* A session's device certificate, as the caller of
 * NegotiateCryptoSessionKeyExchange needs it. */
typedef struct KeydctlCertificate {
        uint8_t *der;            /* malloc()ed */
        uint32_t size;
        unsigned rsa_bits;       /* the size of its RSA modulus */
} KeydctlCertificate;

void keydctl_certificate_done(KeydctlCertificate *c);
/* GetCertificateSize, GetCertificate, and the RSA key's size. Prints on failure. */
int keydctl_get_certificate(keyd_crypto_session *session, KeydctlCertificate *ret);
/* The data for NegotiateCryptoSessionKeyExchange: key wrapped to the
 * certificate with RSAES-OAEP as key_exchange says, into a malloc()ed
 * *ret_data of *ret_data_size bytes. Prints on failure. */
int keydctl_wrap_key(const KeydctlCertificate *certificate, const keyd_guid *key_exchange, const uint8_t *key,
                     uint32_t key_size, uint8_t **ret_data, uint32_t *ret_data_size);

/* OK, KEY_LOST, KEY_AND_CONTENT_LOST, or "unknown". */
const char *keydctl_status_name(uint32_t status);

int verb_negotiate(const Keydctl *ctl, int argc, char *argv[]);
int verb_roundtrip(const Keydctl *ctl, int argc, char *argv[]);
int verb_sessions(const Keydctl *ctl, int argc, char *argv[]);
