/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Section 6: DecryptionBlt and EncryptionBlt through the bus, with the data
 * inside the message (`ay`) and in a sealed memfd (the *Fd variants).
 * Straight sd-bus calls, so that each path is taken on purpose.
 *
 * What the client does around each call is counted, as a caller of
 * libkeyd would pay it: the `ay` forms copy the data into (or out of) the
 * message; EncryptionBltToFd makes, fills and seals a memfd of the
 * surface's size (keyd writes into the caller's pages) and copies the
 * result out of it. DecryptionBltFd is measured twice: with a sealed memfd the producer
 * already holds (the zero-copy case the memfd path is for), and with a new
 * memfd made, filled and sealed for every call. */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bench.h"
#include "macro.h"
#include "memfd-seal.h"

const size_t bench_blt_sizes[N_BLT_SIZES] = { 64u * 1024u, 1024u * 1024u, 8u * 1024u * 1024u };

#define RSAES_OAEP_GUID "c1949895-d72a-4a1d-8e5d-ed857d171520"
#define SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

typedef struct Blt {
        sd_bus *bus;
        const char *path;
        uint32_t surface;
        size_t size;
        const uint8_t *data;       /* ciphertext, size bytes */
        int sealed_fd;             /* the same bytes in a sealed memfd */
        uint8_t iv[16];            /* D3D11_AES_CTR_IV: IV, then block count 0 */
        uint8_t readback_iv[16];   /* the IV keyd chose for the last read-back */
        uint8_t *out;              /* EncryptionBlt's result, size bytes */
} Blt;

static sd_bus_message *new_call(Blt *b, const char *method) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(b->bus, &m, KEYD_BUS_NAME, b->path, KEYD_SESSION_INTERFACE, method);
        if (r < 0)
                bench_die("cannot build %s: %s", method, strerror(-r));
        return m;
}

static void append_or_die(int r, const char *method) {
        if (r < 0)
                bench_die("cannot build %s: %s", method, strerror(-r));
}

static sd_bus_message *call(Blt *b, sd_bus_message *m, const char *method) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call(b->bus, m, 0, &error, &reply);
        if (r < 0)
                bench_die("%s on %zu bytes: %s", method, b->size, error.message ?: strerror(-r));
        return reply;
}

static int sealed_memfd(const uint8_t *data, size_t size) {
        int fd = memfd_create("keyd-bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        if (fd < 0)
                bench_die("memfd_create: %m");
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, data + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        bench_die("writing the memfd: %m");
                done += (size_t) n;
        }
        if (memfd_add_seals(fd, SEALS) < 0)
                bench_die("sealing the memfd: %m");
        return fd;
}

/* "(uuu) block_info, ay content_key, ay iv": everything encrypted, the session key decrypts. */
static void append_decryption_tail(Blt *b, sd_bus_message *m, const char *method) {
        append_or_die(sd_bus_message_append(m, "(uuu)", 0u, 0u, 0u), method);
        append_or_die(sd_bus_message_append_array(m, 'y', NULL, 0), method);
        append_or_die(sd_bus_message_append_array(m, 'y', b->iv, sizeof(b->iv)), method);
}

static void decryption_blt_ay(Blt *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_call(b, "DecryptionBlt"), *reply = NULL;

        append_or_die(sd_bus_message_append(m, "u", b->surface), "DecryptionBlt");
        append_or_die(sd_bus_message_append_array(m, 'y', b->data, b->size), "DecryptionBlt");
        append_decryption_tail(b, m, "DecryptionBlt");
        reply = call(b, m, "DecryptionBlt");
}

static void decryption_blt_with_fd(Blt *b, int fd) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_call(b, "DecryptionBltFd"), *reply = NULL;

        append_or_die(sd_bus_message_append(m, "uh", b->surface, fd), "DecryptionBltFd");
        append_decryption_tail(b, m, "DecryptionBltFd");
        reply = call(b, m, "DecryptionBltFd");
}

static void decryption_blt_fd(Blt *b) {
        decryption_blt_with_fd(b, b->sealed_fd);
}

static void decryption_blt_fd_fill(Blt *b) {
        _cleanup_(closep) int fd = sealed_memfd(b->data, b->size);

        decryption_blt_with_fd(b, fd);
}

static void encryption_blt_ay(Blt *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_call(b, "EncryptionBlt"), *reply = NULL;
        const void *p;
        size_t size;

        append_or_die(sd_bus_message_append(m, "u", b->surface), "EncryptionBlt");
        reply = call(b, m, "EncryptionBlt");
        if (sd_bus_message_read_array(reply, 'y', &p, &size) < 0 || size != b->size)
                bench_die("EncryptionBlt returned no %zu-byte array", b->size);
        memcpy(b->out, p, size);
        if (sd_bus_message_read_array(reply, 'y', &p, &size) < 0 || size != sizeof(b->readback_iv))
                bench_die("EncryptionBlt returned no 16-byte IV");
        memcpy(b->readback_iv, p, size);
}

static void encryption_blt_fd(Blt *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_call(b, "EncryptionBltToFd"), *reply = NULL;
        _cleanup_(closep) int fd = -1;
        const void *iv;
        size_t iv_size;
        void *p;

        /* The caller's pages: written (no holes), sealed against shrink and grow. */
        fd = memfd_create("keyd-bench-readback", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t) b->size) < 0)
                bench_die("cannot make a %zu-byte memfd: %m", b->size);
        p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                bench_die("cannot map the read-back memfd: %m");
        memset(p, 0, b->size);
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
                bench_die("cannot seal the read-back memfd: %m");

        append_or_die(sd_bus_message_append(m, "uh", b->surface, fd), "EncryptionBltToFd");
        reply = call(b, m, "EncryptionBltToFd");
        if (sd_bus_message_read_array(reply, 'y', &iv, &iv_size) < 0 || iv_size != sizeof(b->readback_iv))
                bench_die("EncryptionBltToFd returned no 16-byte IV");
        memcpy(b->readback_iv, iv, iv_size);
        memcpy(b->out, p, b->size);
        munmap(p, b->size);
}

/* MB/s (10^6 bytes/s) of op on b over about seconds, at least 3 calls;
 * ret_calls (or NULL) gets the number of timed calls. */
static double blt_rate(void (*op)(Blt *b), Blt *b, double seconds, uint64_t *ret_calls) {
        uint64_t start, deadline;
        unsigned n = 0;

        op(b);  /* warm: page faults, buffer growth */
        start = now_usec();
        deadline = start + (uint64_t) (seconds * USEC_PER_SEC);
        do {
                op(b);
                n++;
        } while (n < 3 || now_usec() < deadline);
        if (ret_calls)
                *ret_calls = n;
        return (double) n * (double) b->size / (double) (now_usec() - start);
}

static uint32_t create_surface(Blt *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_call(b, "CreateSurface"), *reply = NULL;
        uint32_t id;

        append_or_die(sd_bus_message_append(m, "u", (uint32_t) b->size), "CreateSurface");
        reply = call(b, m, "CreateSurface");
        if (sd_bus_message_read(reply, "u", &id) < 0)
                bench_die("CreateSurface returned no id");
        return id;
}

static void destroy_surface(Blt *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = new_call(b, "DestroySurface"), *reply = NULL;

        append_or_die(sd_bus_message_append(m, "u", b->surface), "DestroySurface");
        reply = call(b, m, "DestroySurface");
}

/* Both EncryptionBlt forms take their IVs from one sequence (keyd's: the
 * IV member plus one, Count 0), and so differ in every byte's keystream. */
static void check_paths_agree(Blt *b) {
        _cleanup_free_ uint8_t *first = xmalloc(b->size);
        uint8_t first_iv[16], expected[16];

        encryption_blt_ay(b);
        memcpy(first, b->out, b->size);
        memcpy(first_iv, b->readback_iv, sizeof(first_iv));
        encryption_blt_fd(b);
        memcpy(expected, first_iv, sizeof(expected));
        for (int i = 7; i >= 0 && ++expected[i] == 0; i--)
                ;
        if (memcmp(b->readback_iv, expected, sizeof(expected)) != 0)
                bench_die("EncryptionBltToFd's IV does not follow EncryptionBlt's");
        if (b->size >= 16 && memcmp(first, b->out, 16) == 0)
                bench_die("EncryptionBlt and EncryptionBltToFd gave the same bytes under different IVs");
}

void bench_blt(const BenchOptions *o, const BenchFixture *f, pid_t keyd_pid, BenchResults *res) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = bench_bus_open(f->address);
        _cleanup_free_ char *path = bench_bus_create_session(bus, RSAES_OAEP_GUID);
        double each = o->seconds / 4;

        bench_bus_negotiate(bus, path, f);

        printf("6b. Through keyd (MB/s = 10^6 bytes/s; ratio = / the best in-process nettle AES-128-CTR of 6a\n"
               "    and a run just before each size)\n");
        printf("   size      AES in-process   DecryptionBlt ay   DecryptionBltFd   DecryptionBltFd+fill   EncryptionBlt ay   EncryptionBltToFd\n");
        for (unsigned i = 0; i < N_BLT_SIZES; i++) {
                size_t size = bench_blt_sizes[i];
                _cleanup_free_ uint8_t *data = xmalloc(size), *out = xmalloc(size);
                Blt b = { .bus = bus, .path = path, .size = size, .data = data, .out = out };
                double aes, nettle_now, keyd_now;
                uint64_t keyd_cpu, calls;
                Interference other;

                /* The baseline again right beside the bus figures. */
                interference_start(&other);
                bench_local_aes_size(o, i, res, &nettle_now, &keyd_now);
                aes = res->aes_nettle_mb_s[i];

                random_fill(data, size);
                random_fill(b.iv, 8);
                b.sealed_fd = sealed_memfd(data, size);
                b.surface = create_surface(&b);

                res->dec_ay_mb_s[i] = blt_rate(decryption_blt_ay, &b, each, NULL);
                keyd_cpu = proc_cpu_usec(keyd_pid);
                calls = 0;
                res->dec_fd_mb_s[i] = blt_rate(decryption_blt_fd, &b, each, &calls);
                /* +1: blt_rate()'s warm-up call. */
                res->dec_fd_keyd_cpu_mb_s[i] = (double) (calls + 1) * (double) size /
                                               (double) MAX(proc_cpu_usec(keyd_pid) - keyd_cpu, (uint64_t) 1);
                res->dec_fd_fill_mb_s[i] = blt_rate(decryption_blt_fd_fill, &b, each, NULL);
                check_paths_agree(&b);
                res->enc_ay_mb_s[i] = blt_rate(encryption_blt_ay, &b, each, NULL);
                res->enc_fd_mb_s[i] = blt_rate(encryption_blt_fd, &b, each, NULL);

                printf("   %5zu KiB  %7.0f          %7.0f (%4.2f)     %7.0f (%4.2f)    %7.0f (%4.2f)         %7.0f (%4.2f)     %7.0f (%4.2f)   [other load %.0f%%]\n",
                       size / 1024, aes, res->dec_ay_mb_s[i], res->dec_ay_mb_s[i] / aes, res->dec_fd_mb_s[i],
                       res->dec_fd_mb_s[i] / aes, res->dec_fd_fill_mb_s[i], res->dec_fd_fill_mb_s[i] / aes,
                       res->enc_ay_mb_s[i], res->enc_ay_mb_s[i] / aes, res->enc_fd_mb_s[i],
                       res->enc_fd_mb_s[i] / aes, 100 * interference_stop(&other));
                printf("             DecryptionBltFd: keyd's CPU %.0f MB/s, in-process nettle AES-128-CTR's %.0f MB/s "
                       "(bytes over CPU time): %.2f\n",
                       res->dec_fd_keyd_cpu_mb_s[i], res->aes_nettle_cpu_mb_s[i],
                       res->dec_fd_keyd_cpu_mb_s[i] / res->aes_nettle_cpu_mb_s[i]);
                fflush(stdout);

                destroy_surface(&b);
                close(b.sealed_fd);
        }
}
