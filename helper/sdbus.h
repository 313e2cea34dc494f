/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsystemd's sd-bus, loaded only when the helper must talk to systemd
 * (linked in, it would cost every helper start its load time).
 */
#pragma once

#if HAVE_SD_BUS
#include <stdint.h>
#include <systemd/sd-bus.h>

struct helper_sdbus {
	void *lib;
	int (*new_)(sd_bus **);
	int (*set_address)(sd_bus *, const char *);
	int (*start)(sd_bus *);
	int (*message_new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *,
				       const char *, const char *);
	int (*message_append)(sd_bus_message *, const char *, ...);
	int (*message_open_container)(sd_bus_message *, char, const char *);
	int (*message_close_container)(sd_bus_message *);
	int (*call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
	int (*message_read)(sd_bus_message *, const char *, ...);
	int (*match_signal)(sd_bus *, sd_bus_slot **, const char *, const char *, const char *,
			    const char *, sd_bus_message_handler_t, void *);
	int (*process)(sd_bus *, sd_bus_message **);
	int (*wait)(sd_bus *, uint64_t);
	sd_bus *(*flush_close_unref)(sd_bus *);
	sd_bus_message *(*message_unref)(sd_bus_message *);
	void (*error_free)(sd_bus_error *);
};

/* dlopen() libsystemd.so.0 and find every function above: 0, -ENOENT (not
 * installed) or -ENOSYS (too old). The library stays loaded. */
int helper_sdbus_load(struct helper_sdbus *s);

/* A connection to systemd's private socket (root only, no bus daemon
 * needed): 0 or -errno. */
int helper_sdbus_connect(const struct helper_sdbus *s, sd_bus **ret);
#endif
