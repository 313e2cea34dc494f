/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Why seccomp for RestrictNamespaces: it holds whether or not the session is
 * in a user namespace of its own, and for every namespace type, while the
 * per-user-namespace max_*_namespaces sysctls only bind inside a user
 * namespace nscell owns and would also stop the kernel-side work nscell does.
 * clone3() passes its flags in memory a filter cannot read, so it fails with
 * ENOSYS and the C library falls back to clone(), whose flags are filtered.
 * setns() is left alone: joining needs privilege over the target namespace,
 * which a session that cannot create namespaces does not have, and the PAM
 * module itself must setns() back at close_session.
 *
 * Why a fixed BPF program and not libseccomp: the PAM module links this, and
 * every login (exempt ones included) would load libseccomp for a filter of a
 * dozen instructions. The program is what libseccomp made of the same rules
 * for the native architecture (tests/unit/test-restrict.c compares the two,
 * call by call): a call of any other ABI (i386 through int 0x80, x32's
 * syscall numbers on x86_64) is not what the rules were written for, and
 * kills the process, as libseccomp's default for a foreign architecture did.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capability.h"
#include "namespaces.h"
#include "restrict.h"

#if defined(__x86_64__) && !defined(__ILP32__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000u
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#else
#error "RestrictNamespaces: add this architecture's AUDIT_ARCH_ (and check clone's flags are its first argument)"
#endif

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY_ERRNO(e) RET(SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

ssize_t nscell_restrict_filter(unsigned restrict_mask, struct sock_filter *buf, size_t size)
{
	/* The flags of clone() and unshare() are their first argument; every
	 * CLONE_NEW* bit is in its low 32 bits (the data is little-endian on
	 * every architecture above). */
	const __u32 bits = (__u32)nscell_ns_clone_flags(restrict_mask);
	const struct sock_filter prog[] = {
		LOAD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		RET(SECCOMP_RET_KILL_PROCESS),
		LOAD(nr),
#ifdef X32_SYSCALL_BIT
		/* x32's numbers; -1 is a call a tracer skipped (ENOSYS). */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 1, 0),
		RET(SECCOMP_RET_KILL_PROCESS),
#endif
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		DENY_ERRNO(ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 3),
		LOAD(args[0]),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, bits, 0, 1),
		DENY_ERRNO(EPERM),
		RET(SECCOMP_RET_ALLOW),
	};
	size_t n = sizeof(prog) / sizeof(prog[0]);

	if (!bits)
		return 0;
	if (size < n)
		return -ENOBUFS;
	memcpy(buf, prog, sizeof(prog));
	return (ssize_t)n;
}

int nscell_restrict_namespaces(unsigned restrict_mask)
{
	struct sock_filter insns[NSCELL_RESTRICT_FILTER_MAX];
	ssize_t n = nscell_restrict_filter(restrict_mask, insns, NSCELL_RESTRICT_FILTER_MAX);
	struct sock_fprog prog = { .filter = insns };

	if (n <= 0)
		return (int)n;
	prog.len = (unsigned short)n;
	/* Without no_new_privs a filter needs CAP_SYS_ADMIN, which the PAM
	 * application (root, or at setcred the owner of the session's user
	 * namespace) has; it then binds setuid programs too, which is the
	 * point. Only without it is no_new_privs set (NoNewPrivs is a switch
	 * of its own). */
	if (!nscell_cap_effective(CAP_SYS_ADMIN) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

int nscell_restrict_apply(const struct nscell_settings *s, char *err, size_t errlen)
{
	int rc;

	/* The bounding set first, while CAP_SETPCAP is certainly still ours. */
	for (int c = 0; c <= nscell_cap_last(); c++) {
		if (!(s->drop_caps & (UINT64_C(1) << c)) || !nscell_cap_supported(c))
			continue;
		rc = nscell_cap_drop_bound(c);
		if (rc < 0) {
			const char *name = nscell_cap_name(c);
			snprintf(err, errlen, "cannot drop %s from the bounding set: %s",
				 name ? name : "a capability", strerror(-rc));
			return rc;
		}
	}
	if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return rc;
	}
	rc = nscell_restrict_namespaces(s->restrict_namespaces);
	if (rc < 0) {
		snprintf(err, errlen, "cannot install the namespace filter: %s", strerror(-rc));
		return rc;
	}
	return 0;
}
