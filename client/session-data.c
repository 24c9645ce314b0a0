/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The protected data path of a crypto session: key refresh, the read-back
 * key, surfaces, DecryptionBlt and EncryptionBlt (contract sections 4 and 7).
 * Blt data up to KEYD_BLT_MEMFD_THRESHOLD travels inside the message as
 * "ay"; above it, it goes through a memfd ("h"), so that a frame does not
 * pass through dbus-daemon twice: a sealed one keyd reads (DecryptionBltFd),
 * or one we make and fill for keyd to write the read-back into
 * (EncryptionBltToFd), whose pages are ours, not keyd's. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memfd-seal.h"
#include "session-data.h"

#define AES_BLOCK_SIZE 16U
#define D3D11_AES_CTR_IV_SIZE 16U
#define REQUIRED_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)
#define DESTINATION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

/* ---- key refresh and the read-back key ---- */

/* A call with one "u" argument whose reply is exactly size bytes of "ay",
 * copied to out. The reply holds key material: sd-bus wipes it on free. */
static HRESULT call_u_reply_bytes(keyd_crypto_session *s, const char *method, uint32_t size, void *out) {
        const void *data;
        size_t n;
        HRESULT hr;

        KEYD_CLIENT_LOCK_GUARD(s->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_session_call(s, method, &reply, "u", size);
        if (KEYD_FAILED(hr))
                return hr;
        (void) sd_bus_message_sensitive(reply);
        hr = keyd_reply_read_bytes(reply, method, &data, &n);
        if (KEYD_FAILED(hr))
                return hr;
        /* keyd accepts only the size it answers with. */
        if (n != size)
                return keyd_set_last_error(KEYD_E_FAIL, "%s: keyd answered %zu bytes to a request for %" PRIu32,
                                           method, n, size);
        memcpy(out, data, n);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_start_session_key_refresh(keyd_crypto_session *session, uint32_t RandomNumberSize,
                                                void *pRandomNumber) {
        static const char method[] = "StartSessionKeyRefresh";

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pRandomNumber)
                return keyd_fail_null(method, "pRandomNumber");

        /* RandomNumberSize goes out as it is: keyd says what it expected. */
        return call_u_reply_bytes(session, method, RandomNumberSize, pRandomNumber);
}

_public_ HRESULT keyd_finish_session_key_refresh(keyd_crypto_session *session) {
        static const char method[] = "FinishSessionKeyRefresh";

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        return keyd_session_call(session, method, &reply, NULL);
}

_public_ HRESULT keyd_get_encryption_blt_key(keyd_crypto_session *session, uint32_t KeySize, void *pReadbackKey) {
        static const char method[] = "GetEncryptionBltKey";

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pReadbackKey)
                return keyd_fail_null(method, "pReadbackKey");

        return call_u_reply_bytes(session, method, KeySize, pReadbackKey);
}

/* ---- surfaces ---- */

/* The size of a surface made through this object, or -ENOENT; with the lock held. */
static int64_t surface_size(keyd_crypto_session *s, uint32_t id) {
        for (size_t i = 0; i < s->n_surfaces; i++)
                if (s->surfaces[i].id == id)
                        return s->surfaces[i].size;
        return -ENOENT;
}

static void surface_forget(keyd_crypto_session *s, uint32_t id) {
        for (size_t i = 0; i < s->n_surfaces; i++)
                if (s->surfaces[i].id == id) {
                        s->surfaces[i] = s->surfaces[--s->n_surfaces];
                        return;
                }
}

_public_ HRESULT keyd_create_surface(keyd_crypto_session *session, uint32_t Size, uint32_t *pSurface) {
        static const char method[] = "CreateSurface";
        struct keyd_surface_size *surfaces;
        uint32_t id;
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pSurface)
                return keyd_fail_null(method, "pSurface");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        /* A closed session fails as such before the table grows (which
         * keyd_session_call() checks again, to no effect under the lock). */
        hr = keyd_session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        /* Room to remember the surface first: nothing can fail once keyd made it. */
        surfaces = reallocarray(session->surfaces, session->n_surfaces + 1, sizeof(*surfaces));
        if (!surfaces)
                return keyd_set_last_error(KEYD_E_OUTOFMEMORY, "%s: cannot allocate the surface table", method);
        session->surfaces = surfaces;

        hr = keyd_session_call(session, method, &reply, "u", Size);
        if (KEYD_FAILED(hr))
                return hr;
        hr = keyd_reply_read(reply, method, "u", &id);
        if (KEYD_FAILED(hr))
                return hr;

        /* An id keyd reuses would be a stale entry of ours. */
        surface_forget(session, id);
        session->surfaces[session->n_surfaces++] = (struct keyd_surface_size) { .id = id, .size = Size };
        *pSurface = id;
        return KEYD_S_OK;
}

_public_ HRESULT keyd_destroy_surface(keyd_crypto_session *session, uint32_t Surface) {
        static const char method[] = "DestroySurface";
        HRESULT hr;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");

        KEYD_CLIENT_LOCK_GUARD(session->client);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;

        hr = keyd_session_call(session, method, &reply, "u", Surface);
        if (KEYD_FAILED(hr))
                return hr;
        surface_forget(session, Surface);
        return KEYD_S_OK;
}

/* ---- bulk data through memfds ---- */

/* Whether data of size bytes goes through a memfd on this connection; with the lock held. */
static bool use_memfd(keyd_crypto_session *s, uint64_t size) {
        return size > KEYD_BLT_MEMFD_THRESHOLD && sd_bus_can_send(s->client->bus, SD_BUS_TYPE_UNIX_FD) > 0;
}

static HRESULT check_transport(keyd_crypto_session *s, uint64_t size, const char *method) {
        if (size <= KEYD_MAX_ARRAY_SIZE || use_memfd(s, size))
                return KEYD_S_OK;
        return keyd_set_last_error(KEYD_E_INVALIDARG,
                                   "%s: %" PRIu64 " bytes need a memfd, and this bus connection cannot pass file "
                                   "descriptors; at most %u bytes fit in a message",
                                   method, size, KEYD_MAX_ARRAY_SIZE);
}

/* A memfd holding data, sealed the way keyd requires: its bytes cannot
 * change while keyd decrypts them. Returns the fd or a negative errno. */
int memfd_new_sealed(const void *data, size_t size) {
        _cleanup_(closep) int fd = -1;
        size_t done = 0;
        int r;

        fd = memfd_create("keyd-decryption-blt", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0)
                return -errno;
        /* pwrite(), not a writable mapping: F_SEAL_WRITE refuses while one exists. */
        while (done < size) {
                ssize_t k = pwrite(fd, (const uint8_t *) data + done, size - done, (off_t) done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }
        r = memfd_add_seals(fd, REQUIRED_SEALS | F_SEAL_SEAL);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

/* A memfd of size bytes for keyd to write a read-back into: every page
 * written (so allocated, and charged to us) and sealed against shrinking
 * and growing, as EncryptionBltToFd requires; *ret_map maps it for reading
 * the result. Returns the fd or a negative errno. */
static int memfd_new_destination(size_t size, void **ret_map) {
        _cleanup_(closep) int fd = -1;
        void *p;

        fd = memfd_create("keyd-encryption-blt", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0)
                return -errno;
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        /* keyd refuses holes: writing to one would allocate a page that keyd
         * pays for. ftruncate() and fallocate() leave holes; writing does not. */
        memset(p, 0, size);
        if (fcntl(fd, F_ADD_SEALS, DESTINATION_SEALS) < 0) {
                int r = -errno;
                munmap(p, size);
                return r;
        }
        *ret_map = p;
        return TAKE_FD(fd);
}

/* ---- DecryptionBlt ---- */

static HRESULT check_iv(uint32_t IVSize, const void *pIV, const char *method) {
        if (!pIV)
                return keyd_fail_null(method, "pIV");
        if (IVSize != D3D11_AES_CTR_IV_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: IVSize is %" PRIu32 " bytes; a D3D11_AES_CTR_IV is %u", method,
                                           IVSize, D3D11_AES_CTR_IV_SIZE);
        return KEYD_S_OK;
}

_public_ HRESULT keyd_decryption_blt(keyd_crypto_session *session,
                                     uint32_t Surface,
                                     const keyd_encrypted_block_info *pEncryptedBlockInfo,
                                     uint32_t ContentKeySize,
                                     const void *pContentKey,
                                     uint32_t IVSize,
                                     const void *pIV,
                                     uint32_t DataSize,
                                     const void *pData) {
        static const char method[] = "DecryptionBlt";
        /* NULL pEncryptedBlockInfo: everything is encrypted, which (0, 0, 0) says on the wire. */
        const keyd_encrypted_block_info info = pEncryptedBlockInfo ? *pEncryptedBlockInfo
                                                                   : (keyd_encrypted_block_info) {};
        _cleanup_(closep) int fd = -1;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pData && DataSize > 0)
                return keyd_fail_null(method, "pData");
        hr = check_iv(IVSize, pIV, method);
        if (KEYD_FAILED(hr))
                return hr;
        if (!pContentKey && ContentKeySize > 0)
                return keyd_fail_null(method, "pContentKey");
        if (pContentKey && ContentKeySize != AES_BLOCK_SIZE)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: ContentKeySize is %" PRIu32 " bytes; a content key is %u (or pass "
                                           "NULL and 0 for none)",
                                           method, ContentKeySize, AES_BLOCK_SIZE);

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = keyd_session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        hr = check_transport(session, DataSize, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        if (use_memfd(session, DataSize)) {
                fd = memfd_new_sealed(pData, DataSize);
                if (fd < 0)
                        return keyd_set_last_error(fd == -ENOMEM ? KEYD_E_OUTOFMEMORY : KEYD_E_FAIL,
                                                   "%s: cannot put %" PRIu32 " bytes into a sealed memfd: %s",
                                                   method, DataSize, strerror(-fd));
                r = keyd_session_new_call(session, &m, "DecryptionBltFd");
                if (r >= 0)
                        r = sd_bus_message_append(m, "uh", Surface, fd);
        } else {
                r = keyd_session_new_call(session, &m, method);
                if (r >= 0)
                        r = sd_bus_message_append(m, "u", Surface);
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'y', pData ?: (const void *) "", DataSize);
        }
        if (r >= 0)
                r = sd_bus_message_append(m, "(uuu)", info.NumEncryptedBytesAtBeginning, info.NumBytesInSkipPattern,
                                          info.NumBytesInEncryptPattern);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', pContentKey ?: (const void *) "",
                                                pContentKey ? ContentKeySize : 0);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', pIV, IVSize);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);

        return keyd_session_send(session, m, &reply, method);
}

/* ---- EncryptionBlt ---- */

/* The IV keyd chose, "ay iv" of the reply, into pIV. */
static HRESULT read_reply_iv(sd_bus_message *reply, void *pIV, const char *method) {
        const void *iv;
        size_t n;
        int r;

        r = sd_bus_message_read_array(reply, 'y', &iv, &n);
        if (r < 0)
                return keyd_fail_reply(method, r);
        if (n != D3D11_AES_CTR_IV_SIZE)
                return keyd_set_last_error(KEYD_E_FAIL,
                                           "%s: keyd answered an IV of %zu bytes; the contract says %u", method, n,
                                           D3D11_AES_CTR_IV_SIZE);
        memcpy(pIV, iv, n);
        return KEYD_S_OK;
}

/* EncryptionBltToFd into a memfd of ours, then its bytes into pData. */
static HRESULT encryption_blt_to_fd(keyd_crypto_session *s, uint32_t Surface, void *pIV, uint32_t DataSize,
                                    void *pData) {
        static const char method[] = "EncryptionBlt";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(closep) int fd = -1;
        void *map = NULL;
        HRESULT hr;
        int r;

        fd = memfd_new_destination(DataSize, &map);
        if (fd < 0)
                return keyd_set_last_error(fd == -ENOMEM ? KEYD_E_OUTOFMEMORY : KEYD_E_FAIL,
                                           "%s: cannot make a %" PRIu32 "-byte memfd for the result: %s", method,
                                           DataSize, strerror(-fd));

        r = keyd_session_new_call(s, &m, "EncryptionBltToFd");
        if (r >= 0)
                r = sd_bus_message_append(m, "uh", Surface, fd);
        if (r < 0) {
                munmap(map, DataSize);
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        }
        hr = keyd_session_send(s, m, &reply, method);
        if (KEYD_SUCCEEDED(hr))
                hr = read_reply_iv(reply, pIV, method);
        if (KEYD_SUCCEEDED(hr))
                memcpy(pData, map, DataSize);
        munmap(map, DataSize);
        return hr;
}

_public_ HRESULT keyd_encryption_blt(keyd_crypto_session *session,
                                     uint32_t Surface,
                                     uint32_t IVSize,
                                     void *pIV,
                                     uint32_t DataSize,
                                     void *pData) {
        static const char method[] = "EncryptionBlt";
        uint8_t iv[D3D11_AES_CTR_IV_SIZE];
        const void *data;
        int64_t known_size;
        size_t n;
        HRESULT hr;
        int r;

        keyd_clear_last_error();
        if (!session)
                return keyd_fail_null(method, "the session");
        if (!pData && DataSize > 0)
                return keyd_fail_null(method, "pData");
        hr = check_iv(IVSize, pIV, method);
        if (KEYD_FAILED(hr))
                return hr;

        KEYD_CLIENT_LOCK_GUARD(session->client);
        hr = keyd_session_check_open(session, method);
        if (KEYD_FAILED(hr))
                return hr;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;

        /* For a surface we made we know its size: refuse a wrong DataSize
         * before keyd encrypts the whole surface for nothing (and spends an
         * IV). For others, DataSize picks the transport and the answer is
         * checked. */
        known_size = surface_size(session, Surface);
        if (known_size >= 0 && known_size != DataSize)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: DataSize is %" PRIu32 " bytes; surface %" PRIu32 " is %" PRId64
                                           " bytes",
                                           method, DataSize, Surface, known_size);
        hr = check_transport(session, DataSize, method);
        if (KEYD_FAILED(hr))
                return hr;
        if (use_memfd(session, DataSize))
                return encryption_blt_to_fd(session, Surface, pIV, DataSize, pData);

        r = keyd_session_new_call(session, &m, method);
        if (r >= 0)
                r = sd_bus_message_append(m, "u", Surface);
        if (r < 0)
                return keyd_fail_call(KEYD_CALL_SESSION, r, NULL, method);
        hr = keyd_session_send(session, m, &reply, method);
        if (KEYD_FAILED(hr))
                return hr;

        r = sd_bus_message_read_array(reply, 'y', &data, &n);
        if (r < 0)
                return keyd_fail_reply(method, r);
        if (n != DataSize)
                return keyd_set_last_error(KEYD_E_INVALIDARG,
                                           "%s: DataSize is %" PRIu32 " bytes; surface %" PRIu32 " is %zu bytes",
                                           method, DataSize, Surface, n);
        /* The IV into a buffer of ours first: pIV and pData stay as they were
         * unless the whole answer is good. */
        hr = read_reply_iv(reply, iv, method);
        if (KEYD_FAILED(hr))
                return hr;
        if (n > 0)
                memcpy(pData, data, n);
        memcpy(pIV, iv, sizeof(iv));
        return KEYD_S_OK;
}
