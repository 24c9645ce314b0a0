/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What keydctl's commands share: the options, opening a client, reporting
 * errors, and the exit codes. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "keyd/keyd.h"
#include "macro.h"

/* Exit codes, from the LSB's table for init script actions (the one that
 * systemd's exit-status.h follows): 2 "invalid or excess argument(s)", 7
 * "program is not running". Commands return them negated. */
enum {
        KEYDCTL_EXIT_SUCCESS = 0,
        KEYDCTL_EXIT_FAILURE = 1,     /* keyd returned an error, or a local step failed */
        KEYDCTL_EXIT_USAGE = 2,       /* the command line is wrong */
        KEYDCTL_EXIT_NOT_RUNNING = 7, /* keyd cannot be reached: no bus, no keyd, or it did not start */
};

/* The command line, options as given (each command parses its own). */
typedef struct Keydctl {
        const char *address;     /* --address, NULL for the system bus */
        uint64_t timeout_usec;   /* --timeout, 0 for the library's default */
        bool json;               /* --json */
        const char *profile;     /* --profile */
        const char *key_exchange; /* --key-exchange */
        const char *size;        /* --size */
        const char *pattern;     /* --pattern */
        bool content_key;        /* --content-key */
        const char *data;        /* --data */
        bool pem, der;           /* --pem, --der */
        const char *key;         /* --key (play's content key, hex) */
        const char *png;         /* --png */
        const char *frame;       /* --frame */
} Keydctl;

/* Print "keydctl: FORMAT" to stderr after flushing stdout, so that what was
 * printed before stays before the error. Keeps errno for %m. */
_printf_(1, 2) void keydctl_error(const char *format, ...);
/* keydctl_error() for a wrong command line; returns -KEYDCTL_EXIT_USAGE. */
_printf_(1, 2) int keydctl_usage(const char *format, ...);

/* Print "keydctl: WHAT: 0xHRESULT NAME: description" and the library's
 * last error message; when keyd cannot be reached, also why and what to
 * do. Returns the negated exit code for the caller to pass on. */
int keydctl_fail(HRESULT hr, const char *what);
/* Open a keyd_client as the global options say; prints on failure. */
int keydctl_open_client(const Keydctl *ctl, keyd_client **ret);
/* An sd-bus connection to the bus the options say; prints on failure. */
int keydctl_open_bus(const Keydctl *ctl, sd_bus **ret);
/* Why keyd could not be reached, and what to do, on stderr. */
void keydctl_explain_not_running(const char *address);
/* A decoder profile from a GUID or a short name (h264, hevc, hevc10, vp9,
 * av1, none). *ret is NULL for "none". Prints on failure. */
int keydctl_parse_profile(const char *s, keyd_guid *buf, const keyd_guid **ret);
/* The GUID's name from the contract's table, or its text form. */
const char *keydctl_guid_name(const keyd_guid *g, char buf[static KEYD_GUID_STRING_SIZE]);

/* sha512, sha256 or sha1, in any case, with or without a dash (SHA-256):
 * the RSAES-OAEP key exchange GUID; s NULL (no --key-exchange) is sha512,
 * the default. Prints on failure. */
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

/* The commands. argv[0] is the command's name, the rest its arguments
 * (options are in ctl). Each returns 0 or a negated exit code. */
int verb_status(const Keydctl *ctl, int argc, char *argv[]);
int verb_caps(const Keydctl *ctl, int argc, char *argv[]);
int verb_negotiate(const Keydctl *ctl, int argc, char *argv[]);
int verb_roundtrip(const Keydctl *ctl, int argc, char *argv[]);
int verb_sessions(const Keydctl *ctl, int argc, char *argv[]);
int verb_certificate(const Keydctl *ctl, int argc, char *argv[]);
int verb_play(const Keydctl *ctl, int argc, char *argv[]);
