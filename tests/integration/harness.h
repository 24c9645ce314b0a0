/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The integration-test harness: a private dbus-daemon on a unix socket in a
 * temporary directory and the real keyd binary serving on it, both started
 * and stopped by the test, both killed by the kernel if the test dies
 * (PR_SET_PDEATHSIG). Nothing here touches the host's system or session bus.
 *
 * One harness per test process. harness_init() makes the temporary
 * directory and the keyd state directory; call it once in main(), before
 * the Check runner forks its tests, so every test of a binary shares one
 * state directory and the device key is generated only once.
 * harness_start_bus()/harness_start_keyd() are meant for the per-test
 * (checked) fixture: they run in the forked test process, so the children
 * die with it whatever way the test ends. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* How long keyd may take to exit on SIGTERM when a test is over: under
 * ASan, LeakSanitizer checks the whole heap at exit. */
#define HARNESS_STOP_TIMEOUT_USEC (60ULL * 1000ULL * 1000ULL)

/* Generous: the first keyd of a binary generates an RSA key. */
#define HARNESS_READY_TIMEOUT_USEC (30ULL * 1000ULL * 1000ULL)

typedef struct HarnessRun {
        int status;        /* the exit status, or 128 + signal */
        char *out;         /* stdout, NUL-terminated */
        char *err;         /* stderr, NUL-terminated */
        size_t out_size;
} HarnessRun;

/* Make the temporary directory and the shared state directory (0700).
 * Aborts the program on failure: nothing can run without them. */
void harness_init(void);
/* Stop whatever still runs and remove the temporary directory. */
void harness_cleanup(void);

/* Start a private dbus-daemon; returns its address ("unix:path=...,guid=..."). */
const char *harness_start_bus(void);
/* The running bus's address, or NULL. */
const char *harness_bus_address(void);
/* Kill the dbus-daemon and reap it. */
void harness_stop_bus(void);

/* Start keyd on the bus with --bus=system --backend=software
 * --state-dir=<shared> (and --decoder-helper=$KEYD_DECODER_BINARY when that
 * is set: the build tree's helper) and extra_args (NULL-terminated, may be NULL), and
 * wait until it sends READY=1 on the harness's NOTIFY_SOCKET. Returns 0, or
 * a negative errno when keyd exited or timed out first (its log is printed
 * to stderr then). */
int harness_start_keyd(const char *const *extra_args);
pid_t harness_keyd_pid(void);
/* Send sig to keyd and wait for it to exit (up to timeout_usec; SIGKILL
 * after that). Returns its exit status, or 128 + signal when a signal ended
 * it, or -ETIMEDOUT. */
int harness_kill_keyd(int sig, uint64_t timeout_usec);
/* Wait for keyd (running) to exit by itself; like harness_kill_keyd(). */
int harness_wait_keyd_exit(uint64_t timeout_usec);
/* Wait until keyd sends a notification message holding line (e.g.
 * "STOPPING=1"). -ECHILD when keyd exited first, -ETIMEDOUT. */
int harness_wait_notify(const char *line, uint64_t timeout_usec);
/* How many of keyd's notification messages so far hold line (e.g. "WATCHDOG=1"). */
unsigned harness_count_notify(const char *line);
/* Everything keyd wrote to stderr since it was last started. */
char *harness_keyd_log(void);
/* The shared state directory. */
const char *harness_state_dir(void);
/* The harness's temporary directory (for files a test writes). */
const char *harness_tmpdir(void);

/* Stop keyd and the bus (for the per-test teardown). keyd gets SIGTERM and
 * must exit 0 (a leak under ASan makes it fail), unless the test stopped
 * the bus; a keyd that crashed at any point fails the test too: the test
 * process exits with EXIT_FAILURE then, after printing keyd's log. */
void harness_stop(void);

/* A new connection to the private bus (Hello done), for raw calls. */
int harness_open_bus(sd_bus **ret);
/* Read a property of type "u" or "t" of keyd's manager or of a session. */
int harness_get_property_u32(const char *path, const char *interface, const char *property,
                             uint32_t *ret);
/* The manager's SessionCount. */
int harness_session_count(uint32_t *ret);
/* Poll SessionCount until it equals expected (keyd learns of a client's
 * disconnection asynchronously). Returns 0, or -ETIMEDOUT with the last
 * value seen in *ret_last. */
int harness_wait_session_count(uint32_t expected, uint64_t timeout_usec, uint32_t *ret_last);

/* Run argv (argv[0] a path or a name looked up in PATH), optionally with
 * stdin_data on its stdin, and capture its output. Returns 0 when it ran
 * (whatever its exit status), a negative errno otherwise. */
int harness_run(const char *const *argv, const void *stdin_data, size_t stdin_size, HarnessRun *ret);
void harness_run_done(HarnessRun *run);

/* Write size bytes to a new file in the temporary directory; returns its
 * path (free() it). */
char *harness_write_file(const char *name, const void *data, size_t size);
/* Read a whole file; NULL on failure. */
void *harness_read_file(const char *path, size_t *ret_size);

/* The path of a built binary, from an environment variable meson sets
 * (KEYD_BINARY, KEYDCTL_BINARY...); aborts when it is not set. */
const char *harness_binary(const char *env_name);

uint64_t harness_now_usec(void);
