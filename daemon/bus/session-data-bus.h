/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Method handlers of org.keyd.KeyBroker1.CryptoSession's data path; the
 * vtable that lists them is in session-bus.c. */

#include <systemd/sd-bus.h>

int method_start_session_key_refresh(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_finish_session_key_refresh(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_get_encryption_blt_key(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_create_surface(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_destroy_surface(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_decryption_blt(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_decryption_blt_fd(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_encryption_blt(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_encryption_blt_to_fd(sd_bus_message *message, void *userdata, sd_bus_error *error);
int method_execute_hw_protection_function(sd_bus_message *message, void *userdata, sd_bus_error *error);
