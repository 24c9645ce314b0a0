/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The device key store, on real files in a temporary state directory:
 * creation, modes, reloading, and every kind of damaged or mismatched file
 * the loader must refuse without making a new key.
 */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/bignum.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device-key.h"
#include "secure-memory.h"

static const OaepParams sha512_params = { .hash = OAEP_HASH_SHA512, .mgf1_hash = OAEP_HASH_SHA512 };

static char state_dir_buf[64];
static const char *state_dir;   /* state_dir_buf, unless a test points it elsewhere */
static size_t memory_base;

static void path_of(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", state_dir, name);
}

static size_t read_file(const char *name, uint8_t *buf, size_t max) {
        char path[128];
        FILE *f;
        size_t n;

        path_of(path, sizeof(path), name);
        f = fopen(path, "re");
        ck_assert_msg(f, "cannot open %s: %s", path, strerror(errno));
        n = fread(buf, 1, max, f);
        ck_assert_msg(fgetc(f) == EOF, "%s larger than %zu bytes", path, max);
        fclose(f);
        return n;
}

/* Overwrite in place, keeping the file's mode. */
static void write_file(const char *name, const void *buf, size_t n) {
        char path[128];
        int fd;

        path_of(path, sizeof(path), name);
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "cannot open %s: %s", path, strerror(errno));
        ck_assert_int_eq(write(fd, buf, n), (ssize_t) n);
        ck_assert_int_eq(close(fd), 0);
}

static void remove_file(const char *name) {
        char path[128];

        path_of(path, sizeof(path), name);
        ck_assert_msg(unlink(path) == 0, "cannot remove %s: %s", path, strerror(errno));
}

static mode_t file_mode(const char *name) {
        char path[128];
        struct stat st;

        path_of(path, sizeof(path), name);
        ck_assert_msg(lstat(path, &st) == 0, "cannot stat %s: %s", path, strerror(errno));
        ck_assert(S_ISREG(st.st_mode));
        return st.st_mode & 07777;
}

/* Names in the state directory (temporary files included), sorted and
 * joined with spaces. */
static void list_dir(char *buf, size_t size) {
        struct dirent **entries;
        int n;

        n = scandir(state_dir, &entries, NULL, alphasort);
        ck_assert_int_ge(n, 0);
        buf[0] = 0;
        for (int i = 0; i < n; i++) {
                if (!streq(entries[i]->d_name, ".") && !streq(entries[i]->d_name, "..")) {
                        ck_assert_uint_lt(strlen(buf) + strlen(entries[i]->d_name) + 2, size);
                        strcat(buf, entries[i]->d_name);
                        strcat(buf, " ");
                }
                free(entries[i]);
        }
        free(entries);
}

static void setup(void) {
        snprintf(state_dir_buf, sizeof(state_dir_buf), "/tmp/keyd-test-device-key-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(state_dir_buf));
        state_dir = state_dir_buf;
        memory_base = secure_memory_in_use();
}

static void remove_dir(const char *dir) {
        struct dirent *de;
        DIR *d = opendir(dir);

        if (!d)
                return;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        (void) rmdir(dir);
}

static void teardown(void) {
        remove_dir(state_dir_buf);
}

static DeviceKey *load_ok(unsigned bits) {
        _cleanup_(freep) char *error = NULL;
        DeviceKey *k = NULL;
        int r;

        r = device_key_load_or_create(state_dir, bits, &k, &error);
        ck_assert_msg(r == 0, "device_key_load_or_create failed: %d %s", r, error ?: "(no message)");
        ck_assert_ptr_nonnull(k);
        ck_assert_ptr_null(error);
        return k;
}

/* Loading must fail with r, naming `file` in the message (which contains
 * `detail`), and leave the directory exactly as it was. */
static void load_fails(unsigned bits, int expected, const char *file, const char *detail) {
        _cleanup_(freep) char *error = NULL;
        char before[512], after[512];
        DeviceKey *k = NULL;
        int r;

        list_dir(before, sizeof(before));
        r = device_key_load_or_create(state_dir, bits, &k, &error);
        list_dir(after, sizeof(after));

        ck_assert_msg(r == expected, "expected %d (%s), got %d: %s", expected, strerror(-expected), r,
                      error ?: "(no message)");
        ck_assert_ptr_null(k);
        ck_assert_msg(error, "no error message");
        ck_assert_msg(strstr(error, file), "error message does not name %s: %s", file, error);
        ck_assert_msg(!detail || strstr(error, detail), "error message lacks \"%s\": %s", detail, error);
        ck_assert_msg(streq(before, after), "directory changed from \"%s\" to \"%s\"", before, after);
        ck_assert_uint_eq(secure_memory_in_use(), memory_base);
}

static void encrypt_to(const DeviceKey *k, const uint8_t msg[16], uint8_t *ct) {
        ck_assert_int_eq(rsa_oaep_encrypt(&k->pub, &sha512_params, NULL, device_key_random,
                                          msg, 16, ct, k->pub.size), 0);
}

static void assert_decrypts(DeviceKey *k, const uint8_t *ct, const uint8_t msg[16]) {
        uint8_t out[32];
        size_t n = 0;

        ck_assert_int_eq(device_key_oaep_decrypt(k, &sha512_params, ct, k->pub.size, out, sizeof(out), &n), 0);
        ck_assert_uint_eq(n, 16);
        ck_assert(memcmp(out, msg, 16) == 0);
}

/* The certificate as GnuTLS sees it: what we promise about it. */
static void check_certificate_contents(const DeviceKey *k) {
        gnutls_x509_crt_t crt;
        gnutls_datum_t der = { .data = k->certificate, .size = (unsigned) k->certificate_size };
        gnutls_datum_t m, e;
        char cn[128];
        size_t cn_size = sizeof(cn);
        unsigned usage = 0, critical = 0, bits = 0;
        uint8_t n_bytes[512];

        ck_assert_int_eq(gnutls_x509_crt_init(&crt), 0);
        ck_assert_int_eq(gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER), 0);
        ck_assert_int_eq(gnutls_x509_crt_get_version(crt), 3);
        ck_assert_int_eq(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_size), 0);
        ck_assert_str_eq(cn, "keyd software device");
        ck_assert_int_eq(gnutls_x509_crt_get_key_usage(crt, &usage, &critical), 0);
        ck_assert_uint_eq(usage, GNUTLS_KEY_KEY_ENCIPHERMENT);
        ck_assert_int_eq(gnutls_x509_crt_get_signature_algorithm(crt), GNUTLS_SIGN_RSA_SHA256);
        ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(crt, &bits), GNUTLS_PK_RSA);
        ck_assert_uint_eq(bits, k->bits);
        ck_assert(gnutls_x509_crt_get_expiration_time(crt) > gnutls_x509_crt_get_activation_time(crt) +
                  (time_t) 50 * 365 * 24 * 3600);

        /* The certificate's key is the one that decrypts. */
        ck_assert_int_eq(gnutls_x509_crt_get_pk_rsa_raw(crt, &m, &e), 0);
        nettle_mpz_get_str_256(k->pub.size, n_bytes, k->pub.n);
        ck_assert_uint_ge(m.size, k->pub.size);
        ck_assert(memcmp(m.data + (m.size - k->pub.size), n_bytes, k->pub.size) == 0);
        gnutls_free(m.data);
        gnutls_free(e.data);
        gnutls_x509_crt_deinit(crt);
}

START_TEST(test_create_and_reload) {
        uint8_t msg[16], ct[256], cert[8192];
        _cleanup_(freep) uint8_t *first_cert = NULL;
        size_t cert_size;
        char listing[512];
        DeviceKey *k;

        k = load_ok(2048);
        ck_assert_uint_eq(k->bits, 2048);
        ck_assert_uint_eq(k->pub.size, 256);
        check_certificate_contents(k);

        /* Exactly the two files, with the promised modes, and the stored
         * certificate is the one handed out. */
        list_dir(listing, sizeof(listing));
        ck_assert_str_eq(listing, DEVICE_CERT_FILE " " DEVICE_KEY_FILE " ");
        ck_assert_uint_eq(file_mode(DEVICE_KEY_FILE), 0600);
        ck_assert_uint_eq(file_mode(DEVICE_CERT_FILE), 0644);
        cert_size = read_file(DEVICE_CERT_FILE, cert, sizeof(cert));
        ck_assert_uint_eq(cert_size, k->certificate_size);
        ck_assert(memcmp(cert, k->certificate, cert_size) == 0);

        first_cert = malloc(cert_size);
        memcpy(first_cert, k->certificate, cert_size);
        device_key_random(NULL, sizeof(msg), msg);
        encrypt_to(k, msg, ct);
        assert_decrypts(k, ct, msg);
        device_key_free(k);
        ck_assert_uint_eq(secure_memory_in_use(), memory_base);

        /* A restart: same certificate, and the key decrypts what was
         * encrypted to the old instance. bits only applies to new keys. */
        k = load_ok(3072);
        ck_assert_uint_eq(k->bits, 2048);
        ck_assert_uint_eq(k->certificate_size, cert_size);
        ck_assert(memcmp(k->certificate, first_cert, cert_size) == 0);
        assert_decrypts(k, ct, msg);
        device_key_free(k);

        list_dir(listing, sizeof(listing));
        ck_assert_str_eq(listing, DEVICE_CERT_FILE " " DEVICE_KEY_FILE " ");
        ck_assert_uint_eq(secure_memory_in_use(), memory_base);
}
END_TEST

START_TEST(test_modes_despite_umask) {
        mode_t old = umask(0077);
        DeviceKey *k = load_ok(2048);

        umask(old);
        ck_assert_uint_eq(file_mode(DEVICE_KEY_FILE), 0600);
        ck_assert_uint_eq(file_mode(DEVICE_CERT_FILE), 0644);
        device_key_free(k);

        /* And with a permissive umask, the key still is 0600. */
        remove_file(DEVICE_KEY_FILE);
        remove_file(DEVICE_CERT_FILE);
        old = umask(0);
        k = load_ok(2048);
        umask(old);
        ck_assert_uint_eq(file_mode(DEVICE_KEY_FILE), 0600);
        device_key_free(k);
}
END_TEST

START_TEST(test_damaged_key) {
        uint8_t pem[8192], cert[8192];
        size_t pem_size, cert_size;
        DeviceKey *k = load_ok(2048);

        device_key_free(k);
        pem_size = read_file(DEVICE_KEY_FILE, pem, sizeof(pem));
        cert_size = read_file(DEVICE_CERT_FILE, cert, sizeof(cert));

        /* Garbage. */
        write_file(DEVICE_KEY_FILE, "this is not a key\n", 18);
        load_fails(2048, -EBADMSG, DEVICE_KEY_FILE, "PEM");

        /* Cut in half. */
        write_file(DEVICE_KEY_FILE, pem, pem_size / 2);
        load_fails(2048, -EBADMSG, DEVICE_KEY_FILE, NULL);

        /* A flipped Base64 character in the middle: the numbers change. */
        pem[pem_size / 2] = pem[pem_size / 2] == 'A' ? 'B' : 'A';
        write_file(DEVICE_KEY_FILE, pem, pem_size);
        load_fails(2048, -EBADMSG, DEVICE_KEY_FILE, NULL);

        /* Empty. */
        write_file(DEVICE_KEY_FILE, "", 0);
        load_fails(2048, -EBADMSG, DEVICE_KEY_FILE, "bytes");

        /* Nothing was replaced: the certificate is the original. */
        uint8_t now[8192];
        ck_assert_uint_eq(read_file(DEVICE_CERT_FILE, now, sizeof(now)), cert_size);
        ck_assert(memcmp(now, cert, cert_size) == 0);
}
END_TEST

START_TEST(test_key_readable_by_others) {
        char path[128];
        DeviceKey *k = load_ok(2048);

        device_key_free(k);
        path_of(path, sizeof(path), DEVICE_KEY_FILE);
        ck_assert_int_eq(chmod(path, 0644), 0);
        load_fails(2048, -EPERM, DEVICE_KEY_FILE, "0644");
}
END_TEST

START_TEST(test_damaged_certificate) {
        uint8_t cert[8192];
        size_t cert_size;
        DeviceKey *k = load_ok(2048);

        device_key_free(k);
        cert_size = read_file(DEVICE_CERT_FILE, cert, sizeof(cert));

        /* Not DER at all. */
        write_file(DEVICE_CERT_FILE, "garbage", 7);
        load_fails(2048, -EBADMSG, DEVICE_CERT_FILE, "X.509");

        /* A bit flipped in the signature, then one in the subject name:
         * still parses, no longer verifies. */
        cert[cert_size - 3] ^= 0x01;
        write_file(DEVICE_CERT_FILE, cert, cert_size);
        load_fails(2048, -EBADMSG, DEVICE_CERT_FILE, "signature");
        cert[cert_size - 3] ^= 0x01;

        uint8_t *cn = memmem(cert, cert_size, "keyd software device", 20);
        ck_assert_ptr_nonnull(cn);
        cn[0] = 'K';
        write_file(DEVICE_CERT_FILE, cert, cert_size);
        load_fails(2048, -EBADMSG, DEVICE_CERT_FILE, "signature");
        cn[0] = 'k';

        /* Trailing bytes after the certificate. */
        cert[cert_size] = 0;
        write_file(DEVICE_CERT_FILE, cert, cert_size + 1);
        load_fails(2048, -EBADMSG, DEVICE_CERT_FILE, NULL);

        /* Restored, all is well again. */
        write_file(DEVICE_CERT_FILE, cert, cert_size);
        device_key_free(load_ok(2048));
}
END_TEST

START_TEST(test_mismatched_certificate) {
        _cleanup_(freep) char *other_dir = NULL;
        char path[128];
        uint8_t cert[8192];
        size_t cert_size;
        FILE *f;

        device_key_free(load_ok(2048));

        /* A certificate from another device, valid in itself. */
        ck_assert_int_ge(asprintf(&other_dir, "%s.other", state_dir_buf), 0);
        ck_assert_int_eq(mkdir(other_dir, 0700), 0);
        state_dir = other_dir;
        device_key_free(load_ok(2048));
        cert_size = read_file(DEVICE_CERT_FILE, cert, sizeof(cert));
        state_dir = state_dir_buf;
        remove_dir(other_dir);

        path_of(path, sizeof(path), DEVICE_CERT_FILE);
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(cert, 1, cert_size, f), cert_size);
        fclose(f);

        load_fails(2048, -EBADMSG, DEVICE_CERT_FILE, DEVICE_KEY_FILE);
}
END_TEST

START_TEST(test_missing_certificate_recreated) {
        uint8_t msg[16], ct[256];
        char listing[512];
        DeviceKey *k = load_ok(2048);

        device_key_random(NULL, sizeof(msg), msg);
        encrypt_to(k, msg, ct);
        device_key_free(k);

        remove_file(DEVICE_CERT_FILE);
        k = load_ok(2048);
        list_dir(listing, sizeof(listing));
        ck_assert_str_eq(listing, DEVICE_CERT_FILE " " DEVICE_KEY_FILE " ");
        check_certificate_contents(k);
        assert_decrypts(k, ct, msg); /* the same key */
        device_key_free(k);

        /* And it is used from now on. */
        k = load_ok(2048);
        assert_decrypts(k, ct, msg);
        device_key_free(k);
}
END_TEST

START_TEST(test_certificate_without_key) {
        device_key_free(load_ok(2048));
        remove_file(DEVICE_KEY_FILE);
        load_fails(2048, -ENOKEY, DEVICE_KEY_FILE, DEVICE_CERT_FILE);
}
END_TEST

START_TEST(test_3072) {
        uint8_t msg[16], ct[384];
        DeviceKey *k = load_ok(3072);

        ck_assert_uint_eq(k->bits, 3072);
        ck_assert_uint_eq(k->pub.size, 384);
        check_certificate_contents(k);
        device_key_random(NULL, sizeof(msg), msg);
        encrypt_to(k, msg, ct);
        device_key_free(k);

        k = load_ok(2048);
        ck_assert_uint_eq(k->bits, 3072);
        assert_decrypts(k, ct, msg);
        device_key_free(k);
}
END_TEST

START_TEST(test_bad_arguments) {
        _cleanup_(freep) char *error = NULL;
        DeviceKey *k = NULL;
        char listing[512];

        /* Unsupported size: nothing written. */
        ck_assert_int_eq(device_key_load_or_create(state_dir, 1024, &k, &error), -EINVAL);
        ck_assert_ptr_null(k);
        ck_assert_ptr_nonnull(strstr(error, "1024"));
        list_dir(listing, sizeof(listing));
        ck_assert_str_eq(listing, "");
        free(error);
        error = NULL;

        /* No such state directory: named in the message. */
        ck_assert_int_eq(device_key_load_or_create("/nonexistent/keyd-state", 2048, &k, &error), -ENOENT);
        ck_assert_ptr_nonnull(strstr(error, "/nonexistent/keyd-state"));

        /* No message wanted: still fine. */
        ck_assert_int_eq(device_key_load_or_create("/nonexistent/keyd-state", 2048, &k, NULL), -ENOENT);

        ck_assert_int_eq(device_key_oaep_decrypt(NULL, &sha512_params, (const uint8_t *) "", 0, NULL, 0, NULL), -EINVAL);
        ck_assert_ptr_null(device_key_free(NULL));
}
END_TEST

START_TEST(test_wrong_ciphertexts) {
        uint8_t ct[256], out[32];
        size_t n = 12345;
        DeviceKey *k = load_ok(2048);

        /* Random bytes: almost surely not OAEP; the size and output stay. */
        memset(out, 0x5a, sizeof(out));
        device_key_random(NULL, sizeof(ct), ct);
        ct[0] = 0; /* below n */
        ck_assert_int_eq(device_key_oaep_decrypt(k, &sha512_params, ct, sizeof(ct), out, sizeof(out), &n), -EBADMSG);
        ck_assert_uint_eq(n, 12345);
        for (size_t i = 0; i < sizeof(out); i++)
                ck_assert_uint_eq(out[i], 0x5a);

        ck_assert_int_eq(device_key_oaep_decrypt(k, &sha512_params, ct, 255, out, sizeof(out), &n), -EINVAL);
        device_key_free(k);
}
END_TEST

START_TEST(test_failed_write_leaves_nothing) {
        _cleanup_(freep) char *error = NULL;
        struct rlimit old, small;
        char listing[512];
        DeviceKey *k = NULL;
        int r, set_small, restore;

        /* Files may not grow beyond 100 bytes: writing the key fails half
         * way. No half-written key and no temporary file may remain. */
        ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
        small = (struct rlimit) { .rlim_cur = 100, .rlim_max = old.rlim_max };
        /* No ck_assert while the limit is small: Check writes its own record
         * of each assertion to a file, which the limit would cut short. */
        signal(SIGXFSZ, SIG_IGN);
        set_small = setrlimit(RLIMIT_FSIZE, &small);
        r = set_small == 0 ? device_key_load_or_create(state_dir, 2048, &k, &error) : -errno;
        restore = setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, SIG_DFL);
        ck_assert_int_eq(set_small, 0);
        ck_assert_int_eq(restore, 0);

        ck_assert_msg(r == -EFBIG, "expected -EFBIG, got %d: %s", r, error ?: "(no message)");
        ck_assert_ptr_null(k);
        ck_assert_msg(error && strstr(error, DEVICE_KEY_FILE), "message does not name the key file: %s", error);
        list_dir(listing, sizeof(listing));
        ck_assert_str_eq(listing, "");
        ck_assert_uint_eq(secure_memory_in_use(), memory_base);

        /* Once there is room, the key is made. */
        device_key_free(load_ok(2048));
}
END_TEST

static Suite *device_key_suite(void) {
        Suite *s = suite_create("device-key");
        TCase *tc = tcase_create("store");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_create_and_reload);
        tcase_add_test(tc, test_modes_despite_umask);
        tcase_add_test(tc, test_damaged_key);
        tcase_add_test(tc, test_key_readable_by_others);
        tcase_add_test(tc, test_damaged_certificate);
        tcase_add_test(tc, test_mismatched_certificate);
        tcase_add_test(tc, test_missing_certificate_recreated);
        tcase_add_test(tc, test_certificate_without_key);
        tcase_add_test(tc, test_3072);
        tcase_add_test(tc, test_bad_arguments);
        tcase_add_test(tc, test_wrong_ciphertexts);
        tcase_add_test(tc, test_failed_write_leaves_nothing);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        /* As keyd's main() does, before any bignum exists. */
        secure_memory_install_gmp();

        sr = srunner_create(device_key_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
