/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsystemd's sd-bus, loaded by soname when the helper needs systemd: to
 * move into a scope (cgroup.c) or to set a cell's limits (limits.c).
 */
#include <dlfcn.h>
#include <errno.h>

#include "sdbus.h"

#if HAVE_SD_BUS
int helper_sdbus_load(struct helper_sdbus *s)
{
	/* By soname from the system's library path: the environment is
	 * cleared and the loader ignores LD_LIBRARY_PATH in a setuid program. */
	s->lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!s->lib)
		return -ENOENT;
#define SYM(field, name)                                   \
	do {                                               \
		*(void **)&s->field = dlsym(s->lib, name); \
		if (!s->field)                             \
			return -ENOSYS;                    \
	} while (0)
	SYM(new_, "sd_bus_new");
	SYM(set_address, "sd_bus_set_address");
	SYM(start, "sd_bus_start");
	SYM(message_new_method_call, "sd_bus_message_new_method_call");
	SYM(message_append, "sd_bus_message_append");
	SYM(message_open_container, "sd_bus_message_open_container");
	SYM(message_close_container, "sd_bus_message_close_container");
	SYM(call, "sd_bus_call");
	SYM(message_read, "sd_bus_message_read");
	SYM(match_signal, "sd_bus_match_signal");
	SYM(process, "sd_bus_process");
	SYM(wait, "sd_bus_wait");
	SYM(flush_close_unref, "sd_bus_flush_close_unref");
	SYM(message_unref, "sd_bus_message_unref");
	SYM(error_free, "sd_bus_error_free");
#undef SYM
	return 0;
}

int helper_sdbus_connect(const struct helper_sdbus *s, sd_bus **ret)
{
	sd_bus *bus = NULL;
	int rc = s->new_(&bus);

	if (rc >= 0)
		rc = s->set_address(bus, "unix:path=/run/systemd/private");
	if (rc >= 0)
		rc = s->start(bus);
	if (rc < 0) {
		if (bus)
			s->flush_close_unref(bus);
		return rc;
	}
	*ret = bus;
	return 0;
}
#endif
