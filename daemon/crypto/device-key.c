/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The software backend's device key.
 *
 * GnuTLS generates and parses the key and certificate; the private-key
 * operations run on nettle (rsa_compute_root_tr, through rsa-oaep.c), so
 * the key is handed over to nettle once at load. Both files live in the
 * state directory:
 *
 *   device-key.pem   PKCS #8 PEM, unencrypted, mode 0600
 *   device-cert.der  self-signed X.509 v3, DER
 *
 * New files are written to a temporary file, fsync'd and renamed into
 * place without replacing anything, so a crash never leaves a half-written
 * key behind. A file that is there but wrong is an error naming the file:
 * keyd never silently replaces a device key, since every certificate a
 * client has seen would stop matching.
 *
 * This file does not log; everything a person needs goes into the error
 * message.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/bignum.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "device-key.h"
#include "macro.h"
#include "secure-memory.h"

#define DEVICE_CERT_CN "keyd software device"
/* RFC 5280 4.1.2.5: 99991231235959Z, "no well-defined expiration date",
 * meant for device certificates like this one. */
#define DEVICE_CERT_NOT_AFTER ((time_t) 253402300799LL)
/* Far larger than any PEM RSA key or certificate keyd writes (~3.3 KiB for
 * RSA-4096), small enough that a wrong file is not read into memory whole. */
#define DEVICE_FILE_MAX (64 * 1024)

typedef struct FileData {
        uint8_t *data;
        size_t size;
        bool secure;            /* data is secure_alloc'd */
} FileData;

static void file_data_done(FileData *f) {
        if (f->secure)
                secure_free(f->data);
        else
                free(f->data);
        *f = (FileData) {};
}

DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_x509_privkey_t, gnutls_x509_privkey_deinit);
DEFINE_TRIVIAL_CLEANUP_FUNC(gnutls_x509_crt_t, gnutls_x509_crt_deinit);

/* Free a GnuTLS buffer, wiping it first: it may hold key material. */
static void datum_wipe(gnutls_datum_t *d) {
        if (d->data) {
                gnutls_memset(d->data, 0, d->size);
                gnutls_free(d->data);
        }
        d->data = NULL;
        d->size = 0;
}

_printf_(3, 4) static int set_error(char **error_message, int r, const char *format, ...) {
        va_list ap;

        if (error_message) {
                free(*error_message);
                va_start(ap, format);
                if (vasprintf(error_message, format, ap) < 0)
                        *error_message = NULL;
                va_end(ap);
        }
        return r;
}

void device_key_random(void *ctx, size_t n, uint8_t *dst) {
        /* nettle's random functions cannot fail. If the system CSPRNG does,
         * carrying on with predictable blinding or seeds is worse than
         * stopping. */
        if (gnutls_rnd(GNUTLS_RND_RANDOM, dst, n) < 0)
                abort();
}

/* Read a whole regular file of at most DEVICE_FILE_MAX bytes. Key files go
 * to locked memory. -ENOENT when it does not exist; other failures set the
 * error message. */
static int read_state_file(int dir_fd, const char *dir, const char *name, bool secure,
                           FileData *ret, char **error_message) {
        _cleanup_(closep) int fd = -1;
        struct stat st;
        uint8_t *data;
        size_t size = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                return set_error(error_message, negative_errno(), "%s/%s: cannot open: %s",
                                 dir, name, strerror(errno));
        }

        if (fstat(fd, &st) < 0)
                return set_error(error_message, negative_errno(), "%s/%s: cannot stat: %s",
                                 dir, name, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return set_error(error_message, -EBADMSG, "%s/%s: is not a regular file; expected the file keyd wrote",
                                 dir, name);
        if (secure && (st.st_mode & 0077) != 0)
                return set_error(error_message, -EPERM,
                                 "%s/%s: has mode %04o, so others can read the device's private key; expected 0600 "
                                 "(run chmod 0600 on it, and consider the key exposed if others had access)",
                                 dir, name, (unsigned) (st.st_mode & 07777));
        if (st.st_size <= 0 || st.st_size > DEVICE_FILE_MAX)
                return set_error(error_message, -EBADMSG, "%s/%s: is %jd bytes; expected 1 to %d bytes",
                                 dir, name, (intmax_t) st.st_size, DEVICE_FILE_MAX);

        /* One byte more than the size, to notice a file that grew under us. */
        data = secure ? secure_alloc((size_t) st.st_size + 1) : calloc(1, (size_t) st.st_size + 1);
        if (!data)
                return set_error(error_message, -ENOMEM, "%s/%s: out of %smemory for %jd bytes",
                                 dir, name, secure ? "locked " : "", (intmax_t) st.st_size);
        *ret = (FileData) { .data = data, .secure = secure };

        while (size <= (size_t) st.st_size) {
                ssize_t n = read(fd, data + size, (size_t) st.st_size + 1 - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = negative_errno();
                        file_data_done(ret);
                        return set_error(error_message, r, "%s/%s: cannot read: %s", dir, name, strerror(-r));
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size != (size_t) st.st_size) {
                file_data_done(ret);
                return set_error(error_message, -EBADMSG, "%s/%s: changed size while being read; is another keyd running?",
                                 dir, name);
        }

        ret->size = size;
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Move tmp to name, failing with -EEXIST rather than replacing a file. */
static int rename_noreplace(int dir_fd, const char *tmp, const char *name) {
        if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                return negative_errno();

        /* File systems without RENAME_NOREPLACE: a hard link fails with
         * EEXIST just the same. */
        if (linkat(dir_fd, tmp, dir_fd, name, 0) < 0)
                return negative_errno();
        (void) unlinkat(dir_fd, tmp, 0);
        return 0;
}

/* The private key is only as safe as the directory it lives in: one that
 * another user owns, or that group or others may list or enter, is refused
 * before any key is read or made there (systemd's StateDirectoryMode=0700
 * gives keyd exactly that). */
static int check_state_dir(int dir_fd, const char *dir, char **error_message) {
        struct stat st;

        if (fstat(dir_fd, &st) < 0)
                return set_error(error_message, negative_errno(), "%s: cannot stat the state directory: %s",
                                 dir, strerror(errno));
        if (st.st_uid != geteuid())
                return set_error(error_message, -EPERM,
                                 "%s: the state directory belongs to uid %u, not to keyd's uid %u, so that user can "
                                 "read the device key; expected a directory of keyd's own (run chown %u %s)",
                                 dir, (unsigned) st.st_uid, (unsigned) geteuid(), (unsigned) geteuid(), dir);
        if ((st.st_mode & 0077) != 0)
                return set_error(error_message, -EPERM,
                                 "%s: the state directory has mode %04o, so other users can reach the device key; "
                                 "expected 0700 (run chmod 0700 %s, and consider a key already there exposed if "
                                 "others had access)",
                                 dir, (unsigned) (st.st_mode & 07777), dir);
        return 0;
}

/* A keyd killed between creating a temporary file and renaming it leaves
 * the temporary behind: never read, but it may hold (part of) a private
 * key. Remove such leftovers of earlier runs before anything is written.
 * Best effort: a directory we cannot clean is no reason not to start. */
static void remove_stale_temporaries(int dir_fd) {
        static const char *const prefixes[] = { ".#" DEVICE_KEY_FILE ".", ".#" DEVICE_CERT_FILE "." };
        struct dirent *de;
        int fd;
        DIR *d;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d)))
                for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                        if (strncmp(de->d_name, prefixes[i], strlen(prefixes[i])) == 0)
                                (void) unlinkat(dir_fd, de->d_name, 0);
        closedir(d);
}

/* Write a new state file: temporary file (O_EXCL, mode), fsync, rename
 * without replacing, fsync the directory. Readers see the whole file or
 * none. */
static int write_state_file(int dir_fd, const char *dir, const char *name, mode_t mode,
                            const uint8_t *data, size_t size, char **error_message) {
        _cleanup_(closep) int fd = -1;
        char tmp[256];
        uint8_t rnd[8];
        int r;

        device_key_random(NULL, sizeof(rnd), rnd);
        r = snprintf(tmp, sizeof(tmp), ".#%s.%02x%02x%02x%02x%02x%02x%02x%02x", name,
                     rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        if (r < 0 || (size_t) r >= sizeof(tmp))
                return set_error(error_message, -ENAMETOOLONG, "%s/%s: file name too long", dir, name);

        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
        if (fd < 0)
                return set_error(error_message, negative_errno(), "%s/%s: cannot create: %s",
                                 dir, tmp, strerror(errno));

        /* The umask may have taken bits away; a key file must end up 0600
         * exactly, a certificate readable as asked. */
        if (fchmod(fd, mode) < 0) {
                r = negative_errno();
                goto fail;
        }
        r = write_all(fd, data, size);
        if (r < 0)
                goto fail;
        if (fsync(fd) < 0) {
                r = negative_errno();
                goto fail;
        }

        r = rename_noreplace(dir_fd, tmp, name);
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                if (r == -EEXIST)
                        return set_error(error_message, r,
                                         "%s/%s: appeared while keyd was creating it; is another keyd running?",
                                         dir, name);
                return set_error(error_message, r, "%s/%s: cannot move %s into place: %s",
                                 dir, name, tmp, strerror(-r));
        }

        if (fsync(dir_fd) < 0)
                return set_error(error_message, negative_errno(), "%s: cannot sync the directory after writing %s: %s",
                                 dir, name, strerror(errno));
        return 0;

fail:
        (void) unlinkat(dir_fd, tmp, 0);
        return set_error(error_message, r, "%s/%s: cannot write %s: %s", dir, name, tmp, strerror(-r));
}

static bool bits_supported(unsigned bits) {
        return bits == 2048 || bits == 3072 || bits == 4096;
}

static int generate_key(unsigned bits, gnutls_x509_privkey_t *ret, char **error_message) {
        _cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
        int r;

        r = gnutls_x509_privkey_init(&key);
        if (r < 0)
                return set_error(error_message, -ENOMEM, "cannot set up a private key: %s", gnutls_strerror(r));

        r = gnutls_x509_privkey_generate(key, GNUTLS_PK_RSA, bits, 0);
        if (r < 0)
                return set_error(error_message, -EIO, "cannot generate a %u-bit RSA key: %s", bits, gnutls_strerror(r));

        *ret = TAKE_PTR(key);
        return 0;
}

/* A self-signed certificate for key, like a GPU's: it only ever carries
 * the public key for RSAES-OAEP, hence keyEncipherment alone. */
static int make_certificate(gnutls_x509_privkey_t key, gnutls_datum_t *ret_der, char **error_message) {
        _cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
        uint8_t serial[16];
        uint8_t key_id[64];
        size_t key_id_size = sizeof(key_id);
        int r;

        /* A positive 16-byte serial (RFC 5280 4.1.2.2: at most 20 octets). */
        device_key_random(NULL, sizeof(serial), serial);
        serial[0] = (serial[0] & 0x7f) | 0x40;

        r = gnutls_x509_crt_init(&crt);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_version(crt, 3);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                          DEVICE_CERT_CN, strlen(DEVICE_CERT_CN));
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_activation_time(crt, time(NULL));
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_expiration_time(crt, DEVICE_CERT_NOT_AFTER);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_key(crt, key);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_ENCIPHERMENT);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, key_id, &key_id_size);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_size);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
        if (r < 0)
                goto fail;
        r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, ret_der);
        if (r < 0)
                goto fail;
        return 0;

fail:
        return set_error(error_message, -EIO, "cannot make the device certificate: %s", gnutls_strerror(r));
}

/* The certificate must be intact (one DER certificate and nothing else --
 * GnuTLS's parser refuses trailing bytes -- whose self-signature verifies)
 * and carry this key's public key. */
static int check_certificate(gnutls_x509_privkey_t key, const FileData *file, const char *dir,
                             char **error_message) {
        _cleanup_(gnutls_x509_crt_deinitp) gnutls_x509_crt_t crt = NULL;
        gnutls_datum_t in = { .data = file->data, .size = (unsigned) file->size };
        uint8_t crt_id[32], key_id[32];
        size_t crt_id_size = sizeof(crt_id), key_id_size = sizeof(key_id);
        unsigned status = 0;
        int r;

        r = gnutls_x509_crt_init(&crt);
        if (r < 0)
                return set_error(error_message, -ENOMEM, "cannot set up a certificate: %s", gnutls_strerror(r));

        r = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER);
        if (r < 0)
                return set_error(error_message, -EBADMSG,
                                 "%s/%s: is not a DER X.509 certificate (%s); expected the certificate keyd made. "
                                 "Remove it, and keyd makes a new one from %s",
                                 dir, DEVICE_CERT_FILE, gnutls_strerror(r), DEVICE_KEY_FILE);

        r = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, crt_id, &crt_id_size);
        if (r >= 0)
                r = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_size);
        if (r < 0 || crt_id_size != key_id_size || memcmp(crt_id, key_id, crt_id_size) != 0)
                return set_error(error_message, -EBADMSG,
                                 "%s/%s: holds a public key that is not the one in %s (the files come from different "
                                 "devices?); expected the certificate of this key. Restore the matching pair, or remove "
                                 "%s and keyd makes a new one from the key",
                                 dir, DEVICE_CERT_FILE, DEVICE_KEY_FILE, DEVICE_CERT_FILE);

        /* Check the self-signature, so that a damaged body or signature is
         * caught. DO_NOT_ALLOW_SAME makes GnuTLS verify the signature even
         * though the certificate is its own trust anchor; a device
         * certificate is no CA and has no fixed lifetime to check. */
        r = gnutls_x509_crt_verify(crt, &crt, 1,
                                   GNUTLS_VERIFY_DO_NOT_ALLOW_SAME |
                                   GNUTLS_VERIFY_DISABLE_CA_SIGN |
                                   GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                   GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
                                   &status);
        if (r < 0 || status != 0)
                return set_error(error_message, -EBADMSG,
                                 "%s/%s: its signature does not verify with its own key (%s, status 0x%x); the file "
                                 "is damaged. Remove it, and keyd makes a new one from %s",
                                 dir, DEVICE_CERT_FILE, r < 0 ? gnutls_strerror(r) : "bad signature", status,
                                 DEVICE_KEY_FILE);

        return 0;
}

static int parse_key(const FileData *file, const char *dir, gnutls_x509_privkey_t *ret,
                     unsigned *ret_bits, char **error_message) {
        _cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
        gnutls_datum_t in = { .data = file->data, .size = (unsigned) file->size };
        unsigned bits = 0;
        int r;

        r = gnutls_x509_privkey_init(&key);
        if (r < 0)
                return set_error(error_message, -ENOMEM, "cannot set up a private key: %s", gnutls_strerror(r));

        r = gnutls_x509_privkey_import2(key, &in, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
        if (r < 0)
                return set_error(error_message, -EBADMSG,
                                 "%s/%s: is not a readable PEM private key (%s); expected the unencrypted RSA key "
                                 "keyd wrote. Restore it from a backup; only if the device key is to change, remove "
                                 "it and %s",
                                 dir, DEVICE_KEY_FILE, gnutls_strerror(r), DEVICE_CERT_FILE);

        r = gnutls_x509_privkey_get_pk_algorithm2(key, &bits);
        if (r != GNUTLS_PK_RSA)
                return set_error(error_message, -EBADMSG, "%s/%s: holds a %s key; expected an RSA key",
                                 dir, DEVICE_KEY_FILE,
                                 r < 0 ? "unreadable" : gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t) r));
        if (!bits_supported(bits))
                return set_error(error_message, -EBADMSG, "%s/%s: holds a %u-bit RSA key; expected 2048, 3072 or 4096 bits",
                                 dir, DEVICE_KEY_FILE, bits);

        r = gnutls_x509_privkey_verify_params(key);
        if (r < 0)
                return set_error(error_message, -EBADMSG, "%s/%s: the RSA key's numbers are inconsistent (%s); the file is damaged",
                                 dir, DEVICE_KEY_FILE, gnutls_strerror(r));

        *ret = TAKE_PTR(key);
        *ret_bits = bits;
        return 0;
}

static void mpz_wipe(mpz_t x) {
        size_t n = mpz_size(x);

        if (n > 0)
                secure_wipe(mpz_limbs_modify(x, (mp_size_t) n), n * sizeof(mp_limb_t));
        mpz_set_ui(x, 0);
}

/* Hand the key to nettle. GnuTLS's CRT values are not used: which prime
 * its coefficient inverts has differed between formats and versions, so a,
 * b and c are computed here from d, p and q in nettle's convention. */
static int key_to_nettle(gnutls_x509_privkey_t key, DeviceKey *k, char **error_message) {
        gnutls_datum_t n = {}, e = {}, d = {}, p = {}, q = {}, u = {}, e1 = {}, e2 = {};
        mpz_t t;
        int r;

        r = gnutls_x509_privkey_export_rsa_raw2(key, &n, &e, &d, &p, &q, &u, &e1, &e2);
        if (r < 0) {
                r = set_error(error_message, -EIO, "cannot export the RSA key: %s", gnutls_strerror(r));
                goto finish;
        }

        nettle_mpz_set_str_256_u(k->pub.n, n.size, n.data);
        nettle_mpz_set_str_256_u(k->pub.e, e.size, e.data);
        nettle_mpz_set_str_256_u(k->priv.d, d.size, d.data);
        nettle_mpz_set_str_256_u(k->priv.p, p.size, p.data);
        nettle_mpz_set_str_256_u(k->priv.q, q.size, q.data);

        mpz_init(t);
        mpz_sub_ui(t, k->priv.p, 1);
        mpz_mod(k->priv.a, k->priv.d, t);
        mpz_sub_ui(t, k->priv.q, 1);
        mpz_mod(k->priv.b, k->priv.d, t);
        r = mpz_invert(k->priv.c, k->priv.q, k->priv.p);
        mpz_mul(t, k->priv.p, k->priv.q);
        if (r == 0 || mpz_cmp(t, k->pub.n) != 0) {
                mpz_wipe(t);
                mpz_clear(t);
                r = set_error(error_message, -EBADMSG, "the RSA key's primes do not make its modulus");
                goto finish;
        }
        mpz_wipe(t);
        mpz_clear(t);

        if (!rsa_public_key_prepare(&k->pub) || !rsa_private_key_prepare(&k->priv)) {
                r = set_error(error_message, -EBADMSG, "nettle rejects the RSA key's numbers");
                goto finish;
        }
        r = 0;

finish:
        datum_wipe(&n);
        datum_wipe(&e);
        datum_wipe(&d);
        datum_wipe(&p);
        datum_wipe(&q);
        datum_wipe(&u);
        datum_wipe(&e1);
        datum_wipe(&e2);
        return r;
}

/* Encrypt and decrypt a random value through the very code the sessions
 * use: proves the conversion, and that the key works, before any client
 * depends on it. */
static int self_test(DeviceKey *k, char **error_message) {
        const OaepParams params = { .hash = OAEP_HASH_SHA256, .mgf1_hash = OAEP_HASH_SHA256 };
        _cleanup_(secure_freep) uint8_t *ct = NULL;
        uint8_t in[16], out[16];
        size_t out_size = 0;
        int r;

        ct = secure_alloc(k->pub.size);
        if (!ct)
                return set_error(error_message, -ENOMEM, "out of locked memory for the key self-test");

        device_key_random(NULL, sizeof(in), in);
        r = rsa_oaep_encrypt(&k->pub, &params, NULL, device_key_random, in, sizeof(in), ct, k->pub.size);
        if (r >= 0)
                r = device_key_oaep_decrypt(k, &params, ct, k->pub.size, out, sizeof(out), &out_size);
        if (r >= 0 && (out_size != sizeof(in) || !secure_memeq(in, out, sizeof(in))))
                r = -EBADMSG;

        secure_wipe(in, sizeof(in));
        secure_wipe(out, sizeof(out));
        if (r < 0)
                return set_error(error_message, -EBADMSG,
                                 "the RSA key fails its self-test (decryption does not invert encryption: %s)",
                                 strerror(-r));
        return 0;
}

static DeviceKey *device_key_new(void) {
        DeviceKey *k = calloc(1, sizeof(DeviceKey));
        if (!k)
                return NULL;

        rsa_public_key_init(&k->pub);
        rsa_private_key_init(&k->priv);
        return k;
}

DeviceKey *device_key_free(DeviceKey *k) {
        if (!k)
                return NULL;

        mpz_wipe(k->priv.d);
        mpz_wipe(k->priv.p);
        mpz_wipe(k->priv.q);
        mpz_wipe(k->priv.a);
        mpz_wipe(k->priv.b);
        mpz_wipe(k->priv.c);
        rsa_private_key_clear(&k->priv);
        rsa_public_key_clear(&k->pub);
        free(k->certificate);
        free(k);
        return NULL;
}

/* key_to_nettle() and self_test() describe the key; say which one. */
static int name_key_in_error(char **error_message, int r, const char *dir, bool created) {
        _cleanup_(freep) char *m = error_message ? TAKE_PTR(*error_message) : NULL;

        if (created)
                return set_error(error_message, r, "the newly generated device key: %s", m ?: "unusable");
        return set_error(error_message, r, "%s/%s: %s", dir, DEVICE_KEY_FILE, m ?: "unusable key");
}

static int store_new_key(int dir_fd, const char *dir, gnutls_x509_privkey_t key, char **error_message) {
        _cleanup_(datum_wipe) gnutls_datum_t pem = {};
        int r;

        r = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem);
        if (r < 0)
                return set_error(error_message, -EIO, "cannot encode the new device key: %s", gnutls_strerror(r));

        return write_state_file(dir_fd, dir, DEVICE_KEY_FILE, 0600, pem.data, pem.size, error_message);
}

/* Check the stored certificate against the key, or make and store one when
 * there is none (a new key, or the file was removed). */
static int load_or_make_certificate(int dir_fd, const char *dir, gnutls_x509_privkey_t key,
                                    DeviceKey *k, char **error_message) {
        _cleanup_(file_data_done) FileData file = {};
        _cleanup_(datum_wipe) gnutls_datum_t der = {};
        const uint8_t *data = NULL;
        size_t size = 0;
        int r;

        r = read_state_file(dir_fd, dir, DEVICE_CERT_FILE, false, &file, error_message);
        if (r == -ENOENT) {
                r = make_certificate(key, &der, error_message);
                if (r < 0)
                        return r;
                r = write_state_file(dir_fd, dir, DEVICE_CERT_FILE, 0644, der.data, der.size, error_message);
                data = der.data;
                size = der.size;
        } else if (r >= 0) {
                r = check_certificate(key, &file, dir, error_message);
                data = file.data;
                size = file.size;
        }
        if (r < 0)
                return r;

        k->certificate = malloc(size);
        if (!k->certificate)
                return set_error(error_message, -ENOMEM, "out of memory for the device certificate");
        memcpy(k->certificate, data, size);
        k->certificate_size = size;
        return 0;
}

int device_key_load_or_create(const char *state_dir, unsigned bits,
                              DeviceKey **ret, char **error_message) {
        _cleanup_(gnutls_x509_privkey_deinitp) gnutls_x509_privkey_t key = NULL;
        _cleanup_(device_key_freep) DeviceKey *k = NULL;
        _cleanup_(file_data_done) FileData key_file = {};
        _cleanup_(closep) int dir_fd = -1;
        unsigned key_bits = 0;
        bool created = false;
        int r;

        if (error_message)
                *error_message = NULL;
        if (!state_dir || !ret)
                return set_error(error_message, -EINVAL, "no state directory or result given");

        dir_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return set_error(error_message, negative_errno(), "%s: cannot open the state directory: %s",
                                 state_dir, strerror(errno));

        r = check_state_dir(dir_fd, state_dir, error_message);
        if (r < 0)
                return r;

        remove_stale_temporaries(dir_fd);

        r = read_state_file(dir_fd, state_dir, DEVICE_KEY_FILE, true, &key_file, error_message);
        if (r == -ENOENT) {
                /* No key. Make one -- unless a certificate is lying around,
                 * which means the key was lost rather than never made. */
                if (faccessat(dir_fd, DEVICE_CERT_FILE, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                        return set_error(error_message, -ENOKEY,
                                         "%s/%s: is missing, but %s is there: the device key was lost. Restore it "
                                         "from a backup, or remove %s to make a new device key",
                                         state_dir, DEVICE_KEY_FILE, DEVICE_CERT_FILE, DEVICE_CERT_FILE);
                if (!bits_supported(bits))
                        return set_error(error_message, -EINVAL,
                                         "cannot make a %u-bit device key; expected 2048, 3072 or 4096 bits", bits);

                r = generate_key(bits, &key, error_message);
                key_bits = bits;
                created = true;
        } else if (r >= 0)
                r = parse_key(&key_file, state_dir, &key, &key_bits, error_message);
        if (r < 0)
                return r;

        /* Prove the key works before anything is written or handed out. */
        k = device_key_new();
        if (!k)
                return set_error(error_message, -ENOMEM, "out of memory for the device key");
        k->bits = key_bits;

        r = key_to_nettle(key, k, error_message);
        if (r >= 0)
                r = self_test(k, error_message);
        if (r < 0)
                return name_key_in_error(error_message, r, state_dir, created);

        if (created) {
                r = store_new_key(dir_fd, state_dir, key, error_message);
                if (r < 0)
                        return r;
        }

        r = load_or_make_certificate(dir_fd, state_dir, key, k, error_message);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(k);
        return 0;
}

int device_key_oaep_decrypt(DeviceKey *k, const OaepParams *params,
                            const uint8_t *ct, size_t ct_size,
                            uint8_t *msg, size_t msg_max, size_t *ret_size) {
        if (!k)
                return -EINVAL;

        return rsa_oaep_decrypt(&k->pub, &k->priv, params, NULL, device_key_random,
                                ct, ct_size, msg, msg_max, ret_size);
}

int device_key_oaep_decrypt_exact(DeviceKey *k, const OaepParams *params,
                                  const uint8_t *ct, size_t ct_size,
                                  uint8_t *msg, size_t msg_size) {
        if (!k)
                return -EINVAL;

        return rsa_oaep_decrypt_exact(&k->pub, &k->priv, params, NULL, device_key_random,
                                      ct, ct_size, msg, msg_size);
}
