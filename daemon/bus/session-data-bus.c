/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Each handler reads its arguments, checks ownership, lets the session
 * layer validate and act, then replies. Secrets handed out (the random
 * number, the wrapped read-back key) are wiped from our buffers. */

#include <stdlib.h>

#include "bus-error.h"
#include "bus-objects.h"
#include "bus-reply.h"
#include "memfd.h"
#include "secure-memory.h"
#include "session-data-bus.h"
#include "session/session-data.h"
#include "manager.h"
#include "session/session.h"

int method_start_session_key_refresh(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        uint8_t random[AES_CTR_KEY_SIZE];
        uint32_t size;
        int r;

        r = sd_bus_message_read(message, "u", &size);
        if (r < 0)
                return r;
        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        r = session_start_key_refresh(s, size, random, error);
        if (r >= 0)
                r = bus_reply_bytes(message, random, sizeof(random));
        secure_wipe(random, sizeof(random));
        return r;
}

int method_finish_session_key_refresh(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        int r;

        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;
        r = session_finish_key_refresh(s, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

int method_get_encryption_blt_key(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        uint8_t key[AES_CTR_KEY_SIZE];
        uint32_t size;
        int r;

        r = sd_bus_message_read(message, "u", &size);
        if (r < 0)
                return r;
        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        r = session_get_encryption_blt_key(s, size, key, error);
        if (r >= 0)
                r = bus_reply_bytes(message, key, sizeof(key));
        secure_wipe(key, sizeof(key));
        return r;
}

int method_create_surface(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        uint32_t size, id;
        int r;

        r = sd_bus_message_read(message, "u", &size);
        if (r < 0)
                return r;
        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        r = session_create_surface(s, size, &id, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "u", id);
}

int method_destroy_surface(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        uint32_t id;
        int r;

        r = sd_bus_message_read(message, "u", &id);
        if (r < 0)
                return r;
        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        r = session_destroy_surface(s, id, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

/* "(uuu) block_info, ay content_key, ay iv", the tail of both DecryptionBlt forms. */
static int read_decryption_tail(sd_bus_message *message, DecryptionBltArgs *args) {
        const void *p;
        int r;

        r = sd_bus_message_read(message, "(uuu)", &args->block_info.encrypted_bytes_at_beginning,
                                &args->block_info.bytes_in_skip_pattern,
                                &args->block_info.bytes_in_encrypt_pattern);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &p, &args->content_key_size);
        if (r < 0)
                return r;
        args->content_key = p;
        r = sd_bus_message_read_array(message, 'y', &p, &args->iv_size);
        if (r < 0)
                return r;
        args->iv = p;
        return 0;
}

int method_decryption_blt(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        DecryptionBltArgs args = { .data_fd = -1 };
        const void *data;
        int r;

        r = sd_bus_message_read(message, "u", &args.surface);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &data, &args.data_size);
        if (r < 0)
                return r;
        args.data = data;
        r = read_decryption_tail(message, &args);
        if (r < 0)
                return r;

        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;
        if (args.data_size > KEYD_AY_MAX)
                return bus_error_setf(error, -EINVAL,
                                      "data is %zu bytes; an ay argument takes at most %u, use DecryptionBltFd "
                                      "with a sealed memfd",
                                      args.data_size, KEYD_AY_MAX);

        r = session_decryption_blt(s, &args, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

int method_decryption_blt_fd(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        DecryptionBltArgs args = {};
        int r;

        r = sd_bus_message_read(message, "uh", &args.surface, &args.data_fd);
        if (r < 0)
                return r;
        r = read_decryption_tail(message, &args);
        if (r < 0)
                return r;

        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        /* The session layer then checks the size against the surface like
         * for the ay form; the backend reads the memfd (see memfd.h) and
         * looks for holes in it while its workers decrypt. */
        r = memfd_check_sealed_layout(args.data_fd, s->manager->config.max_surface_bytes_per_client, "data",
                                      &args.data_size, error);
        if (r < 0)
                return r;

        r = session_decryption_blt(s, &args, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int reply_encryption_blt(sd_bus_message *message, const uint8_t *data, size_t size,
                                const uint8_t iv[AES_CTR_IV_SIZE]) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0 && data)
                r = sd_bus_message_append_array(reply, 'y', size ? data : (const void *) "", size);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', iv, AES_CTR_IV_SIZE);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int method_encryption_blt(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        _cleanup_free_ uint8_t *out = NULL;
        uint8_t iv[AES_CTR_IV_SIZE];
        size_t size;
        uint32_t id;
        int r;

        r = sd_bus_message_read(message, "u", &id);
        if (r < 0)
                return r;
        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        r = session_check_encryption_blt(s, id, "EncryptionBlt", &size, error);
        if (r < 0)
                return r;
        if (size > KEYD_AY_MAX)
                return bus_error_setf(error, -EINVAL,
                                      "surface %u is %zu bytes; an ay result holds at most %u, use "
                                      "EncryptionBltToFd with a memfd of the surface's size",
                                      id, size, KEYD_AY_MAX);

        /* Only ciphertext goes in here; the plaintext stays in the surface. */
        out = malloc(size ?: 1);
        if (!out)
                return bus_error_setf(error, -ENOMEM, "out of memory for %zu bytes of EncryptionBlt output", size);
        r = session_encryption_blt(s, id, "EncryptionBlt", out, iv, error);
        if (r < 0)
                return r;
        return reply_encryption_blt(message, out, size, iv);
}

int method_encryption_blt_to_fd(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        MappedMemfd map = {};
        uint8_t iv[AES_CTR_IV_SIZE];
        size_t size;
        uint32_t id;
        int fd, r;

        r = sd_bus_message_read(message, "uh", &id, &fd);
        if (r < 0)
                return r;
        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;

        r = session_check_encryption_blt(s, id, "EncryptionBltToFd", &size, error);
        if (r < 0)
                return r;

        /* The client supplies the pages, written and sealed to their size:
         * keyd writes the ciphertext into them and, once it has replied,
         * holds neither the file nor any page of it. */
        r = memfd_map_destination(fd, size, "destination", &map, error);
        if (r < 0)
                return r;
        r = session_encryption_blt(s, id, "EncryptionBltToFd", map.data, iv, error);
        memfd_unmap(&map);
        if (r < 0)
                return r;
        return reply_encryption_blt(message, NULL, 0, iv);
}

int method_execute_hw_protection_function(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Session *s = userdata;
        HwProtectionCall call = {};
        HwProtectionResult result = {};
        const void *input;
        int r;

        r = sd_bus_message_read(message, "uu", &call.function_id, &call.private_data_size);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &input, &call.input_size);
        if (r < 0)
                return r;
        call.input = input;
        r = sd_bus_message_read(message, "u", &call.max_output_size);
        if (r < 0)
                return r;

        r = session_check_owner(s, message, error);
        if (r < 0)
                return r;
        if (call.input_size > KEYD_AY_MAX)
                return bus_error_setf(error, -EINVAL, "input is %zu bytes; an ay argument takes at most %u",
                                      call.input_size, KEYD_AY_MAX);

        r = session_execute_hw_protection(s, &call, &result, error);
        if (r < 0)
                return r;

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "uut", result.private_data_size, result.hw_protection_data_size,
                                          result.execution_time_100ns);
        if (r >= 0)
                r = sd_bus_message_append_array(reply, 'y', result.output ?: (void *) "", result.output_size);
        if (r >= 0)
                r = sd_bus_message_append(reply, "i", result.status);
        if (result.output)
                secure_wipe(result.output, result.output_size);
        free(result.output);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
