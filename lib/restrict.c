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
 */
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "restrict.h"

static unsigned long clone_bits(unsigned mask)
{
	unsigned long f = 0;
	if (mask & NSCELL_NS_PID)
		f |= CLONE_NEWPID;
	if (mask & NSCELL_NS_MNT)
		f |= CLONE_NEWNS;
	if (mask & NSCELL_NS_IPC)
		f |= CLONE_NEWIPC;
	if (mask & NSCELL_NS_UTS)
		f |= CLONE_NEWUTS;
	if (mask & NSCELL_NS_NET)
		f |= CLONE_NEWNET;
	if (mask & NSCELL_NS_CGROUP)
		f |= CLONE_NEWCGROUP;
	if (mask & NSCELL_NS_USER)
		f |= CLONE_NEWUSER;
	return f;
}

static bool have_sys_admin(void)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps) {
		cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &v);
		cap_free(caps);
	}
	return v == CAP_SET;
}

int nscell_restrict_namespaces(unsigned restrict_mask)
{
	unsigned long bits = clone_bits(restrict_mask);
	scmp_filter_ctx ctx;
	int rc;

	if (!bits)
		return 0;
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	/* Every architecture the kernel may run our binaries as. */
	rc = seccomp_arch_add(ctx, SCMP_ARCH_NATIVE);
	if (rc < 0 && rc != -EEXIST)
		goto out;
	/* One rule per restricted bit: any of them set refuses the call. */
	for (unsigned b = 0; b < 8 * sizeof(bits); b++) {
		unsigned long bit = 1UL << b;
		if (!(bits & bit))
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
		if (rc < 0)
			goto out;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
		if (rc < 0)
			goto out;
	}
	/* libseccomp sets no_new_privs before loading unless told otherwise;
	 * NoNewPrivs is a separate switch. Without it a filter needs
	 * CAP_SYS_ADMIN, which the PAM application (root, or at setcred the
	 * owner of the session's user namespace) has. It then binds setuid
	 * programs too, which is the point. */
	if (have_sys_admin()) {
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
		if (rc < 0)
			goto out;
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0 && rc != -EDOM) /* -EDOM: clone3 unknown to this libseccomp */
		goto out;
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return rc < 0 ? rc : 0;
}

int nscell_restrict_apply(const struct nscell_settings *s, char *err, size_t errlen)
{
	int rc;

	/* The bounding set first, while CAP_SETPCAP is certainly still ours. */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		if (!(s->drop_caps & (UINT64_C(1) << c)) || !CAP_IS_SUPPORTED(c))
			continue;
		if (cap_drop_bound(c) < 0) {
			rc = -errno;
			char *name = cap_to_name(c);
			snprintf(err, errlen, "cannot drop %s from the bounding set: %s",
				 name ? name : "a capability", strerror(-rc));
			cap_free(name);
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
