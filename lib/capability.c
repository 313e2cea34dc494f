/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capability names and the bounding set, from the kernel's own header and
 * prctl(2). The PAM module links this and not libcap: every login through
 * sshd would otherwise load libcap, exempt ones included, for two lookups
 * a table does as well. The names are libcap's ("cap_" and the kernel's
 * name in lower case), so the policy and the CLI read as before. The
 * helpers shrink their sets here too, so they need no libcap either.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capability.h"

_Static_assert(CAP_LAST_CAP < 64, "capability sets are 64-bit masks");

static const char *const names[CAP_LAST_CAP + 1] = {
	[CAP_CHOWN] = "cap_chown",
	[CAP_DAC_OVERRIDE] = "cap_dac_override",
	[CAP_DAC_READ_SEARCH] = "cap_dac_read_search",
	[CAP_FOWNER] = "cap_fowner",
	[CAP_FSETID] = "cap_fsetid",
	[CAP_KILL] = "cap_kill",
	[CAP_SETGID] = "cap_setgid",
	[CAP_SETUID] = "cap_setuid",
	[CAP_SETPCAP] = "cap_setpcap",
	[CAP_LINUX_IMMUTABLE] = "cap_linux_immutable",
	[CAP_NET_BIND_SERVICE] = "cap_net_bind_service",
	[CAP_NET_BROADCAST] = "cap_net_broadcast",
	[CAP_NET_ADMIN] = "cap_net_admin",
	[CAP_NET_RAW] = "cap_net_raw",
	[CAP_IPC_LOCK] = "cap_ipc_lock",
	[CAP_IPC_OWNER] = "cap_ipc_owner",
	[CAP_SYS_MODULE] = "cap_sys_module",
	[CAP_SYS_RAWIO] = "cap_sys_rawio",
	[CAP_SYS_CHROOT] = "cap_sys_chroot",
	[CAP_SYS_PTRACE] = "cap_sys_ptrace",
	[CAP_SYS_PACCT] = "cap_sys_pacct",
	[CAP_SYS_ADMIN] = "cap_sys_admin",
	[CAP_SYS_BOOT] = "cap_sys_boot",
	[CAP_SYS_NICE] = "cap_sys_nice",
	[CAP_SYS_RESOURCE] = "cap_sys_resource",
	[CAP_SYS_TIME] = "cap_sys_time",
	[CAP_SYS_TTY_CONFIG] = "cap_sys_tty_config",
	[CAP_MKNOD] = "cap_mknod",
	[CAP_LEASE] = "cap_lease",
	[CAP_AUDIT_WRITE] = "cap_audit_write",
	[CAP_AUDIT_CONTROL] = "cap_audit_control",
	[CAP_SETFCAP] = "cap_setfcap",
	[CAP_MAC_OVERRIDE] = "cap_mac_override",
	[CAP_MAC_ADMIN] = "cap_mac_admin",
	[CAP_SYSLOG] = "cap_syslog",
	[CAP_WAKE_ALARM] = "cap_wake_alarm",
	[CAP_BLOCK_SUSPEND] = "cap_block_suspend",
	[CAP_AUDIT_READ] = "cap_audit_read",
	[CAP_PERFMON] = "cap_perfmon",
	[CAP_BPF] = "cap_bpf",
	[CAP_CHECKPOINT_RESTORE] = "cap_checkpoint_restore",
};

int nscell_cap_last(void)
{
	return CAP_LAST_CAP;
}

const char *nscell_cap_name(int cap)
{
	if (cap < 0 || cap > CAP_LAST_CAP)
		return NULL;
	return names[cap];
}

int nscell_cap_from_name(const char *name)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (names[c] && strcasecmp(names[c], name) == 0)
			return c;
	return -EINVAL;
}

bool nscell_cap_supported(int cap)
{
	/* The running kernel may be older than the header. */
	return cap >= 0 && cap <= CAP_LAST_CAP && prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) >= 0;
}

int nscell_cap_drop_bound(int cap)
{
	return prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0 ? -errno : 0;
}

bool nscell_cap_effective(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (cap < 0 || cap > CAP_LAST_CAP || syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[cap / 32].effective & (UINT32_C(1) << (cap % 32));
}

int nscell_cap_keep(const int *caps, size_t n)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct now[_LINUX_CAPABILITY_U32S_3] = {};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &h, now) < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		int c = caps[i];
		uint32_t bit = UINT32_C(1) << (c % 32);
		if (c < 0 || c > CAP_LAST_CAP)
			return -EINVAL;
		if (now[c / 32].permitted & bit) {
			d[c / 32].permitted |= bit;
			d[c / 32].effective |= bit;
		}
	}
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}
