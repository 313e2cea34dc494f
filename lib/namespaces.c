/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sched.h>

#include "namespaces.h"

const struct nscell_ns_type nscell_ns_types[NSCELL_NS_TYPES] = {
	{ NSCELL_NS_MNT, CLONE_NEWNS, "mnt", "mount" },
	{ NSCELL_NS_PID, CLONE_NEWPID, "pid", "pid" },
	{ NSCELL_NS_IPC, CLONE_NEWIPC, "ipc", "ipc" },
	{ NSCELL_NS_UTS, CLONE_NEWUTS, "uts", "uts" },
	{ NSCELL_NS_NET, CLONE_NEWNET, "net", "net" },
	{ NSCELL_NS_CGROUP, CLONE_NEWCGROUP, "cgroup", "cgroup" },
	{ NSCELL_NS_USER, CLONE_NEWUSER, "user", "user" },
};

const struct nscell_ns_type *nscell_ns_type_of(unsigned bit)
{
	for (size_t i = 0; i < NSCELL_NS_TYPES; i++)
		if (nscell_ns_types[i].bit == bit)
			return &nscell_ns_types[i];
	return NULL;
}

int nscell_ns_clone_flags(unsigned mask)
{
	int f = 0;

	for (size_t i = 0; i < NSCELL_NS_TYPES; i++)
		if (mask & nscell_ns_types[i].bit)
			f |= nscell_ns_types[i].clone_flag;
	return f;
}
