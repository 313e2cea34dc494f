/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * RestrictNamespaces: lib/restrict.c's fixed BPF program decides every call
 * as the libseccomp filter of the same rules did (built here exactly as
 * nscell built it before), for every restricted set, on every ABI a process
 * on this machine can call through: the native one, x32's numbers on x86_64,
 * i386 (and a few foreign architectures, which must be killed too). Both
 * programs run in a small classic-BPF interpreter over a grid of calls.
 * Then the filter is installed in a child and the kernel is asked.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restrict.h"
#include "test-util.h"

#define KILLED 0xdead0000u /* either kill action: the ABI check in both */

/* What nscell_restrict_namespaces() loaded with libseccomp up to 0.2. */
static size_t libseccomp_filter(unsigned mask, struct sock_filter *out, size_t max)
{
	static const unsigned long flag[] = {
		CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS,
		CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWUSER,
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd = memfd_create("bpf", MFD_CLOEXEC);
	ssize_t n;
	int rc;

	assert_non_null(ctx);
	assert_true(fd >= 0);
	rc = seccomp_arch_add(ctx, SCMP_ARCH_NATIVE);
	assert_true(rc == 0 || rc == -EEXIST);
	for (unsigned b = 0; b < 7; b++) {
		if (!(mask & (1u << b)))
			continue;
		assert_int_equal(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
						  SCMP_A0(SCMP_CMP_MASKED_EQ, flag[b], flag[b])), 0);
		assert_int_equal(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
						  SCMP_A0(SCMP_CMP_MASKED_EQ, flag[b], flag[b])), 0);
	}
	assert_int_equal(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), 0);
	assert_int_equal(seccomp_export_bpf(ctx, fd), 0);
	n = pread(fd, out, max * sizeof(*out), 0);
	assert_true(n > 0 && n % (ssize_t)sizeof(*out) == 0 && (size_t)n < max * sizeof(*out));
	close(fd);
	seccomp_release(ctx);
	return (size_t)n / sizeof(*out);
}

/* Classic BPF as the kernel runs it for seccomp (the subset both use). */
static uint32_t run_bpf(const struct sock_filter *p, size_t len, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

	for (size_t pc = 0; pc < len; pc++) {
		const struct sock_filter *i = &p[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;
		bool jump;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (BPF_MODE(i->code) == BPF_ABS) {
				assert_true(BPF_SIZE(i->code) == BPF_W && i->k % 4 == 0 && i->k < sizeof(*d));
				memcpy(&a, (const char *)d + i->k, 4);
			} else if (BPF_MODE(i->code) == BPF_IMM) {
				a = i->k;
			} else if (BPF_MODE(i->code) == BPF_MEM) {
				a = mem[i->k];
			} else {
				fail_msg("ld mode %#x", i->code);
			}
			continue;
		case BPF_LDX:
			x = BPF_MODE(i->code) == BPF_MEM ? mem[i->k] : i->k;
			continue;
		case BPF_ST:
			mem[i->k] = a;
			continue;
		case BPF_STX:
			mem[i->k] = x;
			continue;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_AND: a &= src; break;
			case BPF_OR: a |= src; break;
			default: fail_msg("alu op %#x", i->code);
			}
			continue;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				x = a;
			else
				a = x;
			continue;
		case BPF_JMP:
			if (BPF_OP(i->code) == BPF_JA) {
				pc += i->k;
				continue;
			}
			switch (BPF_OP(i->code)) {
			case BPF_JEQ: jump = a == src; break;
			case BPF_JGT: jump = a > src; break;
			case BPF_JGE: jump = a >= src; break;
			case BPF_JSET: jump = (a & src) != 0; break;
			default: fail_msg("jmp op %#x", i->code); return 0;
			}
			pc += jump ? i->jt : i->jf;
			continue;
		case BPF_RET: {
			uint32_t r = BPF_RVAL(i->code) == BPF_A ? a : i->k;
			uint32_t action = r & SECCOMP_RET_ACTION_FULL;
			if (action == SECCOMP_RET_KILL_THREAD || action == SECCOMP_RET_KILL_PROCESS)
				return KILLED;
			return r;
		}
		default:
			fail_msg("insn %#x", i->code);
		}
	}
	fail_msg("ran off the end of the program");
	return 0;
}

static const uint32_t arches[] = {
	AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM,
	AUDIT_ARCH_RISCV64, 0,
};

static const uint64_t args0[] = {
	0, SIGCHLD, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD,
	CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP,
	CLONE_NEWUSER, CLONE_NEWUSER | CLONE_NEWNS, CLONE_NEWTIME, 0xffffffffu,
	0xffffffff00000000u, 0xffffffff00000000u | CLONE_NEWUSER, UINT64_MAX,
};

static void test_same_decisions_as_libseccomp(void **state)
{
	static const unsigned masks[] = {
		NSCELL_NS_USER, NSCELL_NS_NET, NSCELL_NS_USER | NSCELL_NS_NET, NSCELL_NS_ALL,
		NSCELL_NS_PID, NSCELL_NS_MNT, NSCELL_NS_IPC, NSCELL_NS_UTS, NSCELL_NS_CGROUP,
		NSCELL_NS_ALL & ~NSCELL_NS_USER,
	};
	/* The native numbers, their x32 forms, i386's numbers, and others. */
	uint32_t nrs[64];
	size_t n_nrs = 0;
	static const uint32_t base[] = {
		__NR_clone, __NR_unshare, __NR_clone3, __NR_setns, __NR_getpid, 0, 1,
		120 /* i386 clone */, 310 /* i386 unshare */, 435, 999, 0x3fffffff, 0xffffffff,
	};
	unsigned compared = 0;

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		nrs[n_nrs++] = base[i];
		nrs[n_nrs++] = base[i] | 0x40000000u;
	}

	for (size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		struct sock_filter ours[NSCELL_RESTRICT_FILTER_MAX], theirs[256];
		ssize_t n_ours = nscell_restrict_filter(masks[m], ours, NSCELL_RESTRICT_FILTER_MAX);
		size_t n_theirs = libseccomp_filter(masks[m], theirs, 256);

		assert_true(n_ours > 0);
		for (size_t a = 0; a < sizeof(arches) / sizeof(arches[0]); a++)
			for (size_t n = 0; n < n_nrs; n++)
				for (size_t k = 0; k < sizeof(args0) / sizeof(args0[0]); k++) {
					struct seccomp_data d = {
						.nr = (int)nrs[n],
						.arch = arches[a],
						.args = { args0[k], 1, 2, 3, 4, 5 },
					};
					uint32_t want = run_bpf(theirs, n_theirs, &d);
					uint32_t got = run_bpf(ours, (size_t)n_ours, &d);
					if (got != want)
						fail_msg("mask %#x arch %#x nr %#x arg0 %#llx: ours %#x, libseccomp %#x",
							 masks[m], arches[a], nrs[n], (unsigned long long)args0[k],
							 got, want);
					compared++;
				}
	}
	print_message("%u calls decided alike\n", compared);
}

/* The decisions themselves, so that the comparison cannot hide a filter
 * that lets everything through (or nothing). */
static void test_decisions(void **state)
{
	struct sock_filter p[NSCELL_RESTRICT_FILTER_MAX];
	ssize_t n = nscell_restrict_filter(NSCELL_NS_USER | NSCELL_NS_NET, p, NSCELL_RESTRICT_FILTER_MAX);
	struct seccomp_data d = { .arch = AUDIT_ARCH_X86_64 };
	const uint32_t eperm = SECCOMP_RET_ERRNO | EPERM;

	assert_true(n > 0);
#if defined(__x86_64__)
	d.nr = __NR_unshare, d.args[0] = CLONE_NEWUSER;
	assert_int_equal(run_bpf(p, (size_t)n, &d), eperm);
	d.args[0] = CLONE_NEWNS | CLONE_NEWNET;
	assert_int_equal(run_bpf(p, (size_t)n, &d), eperm);
	d.args[0] = CLONE_NEWNS | CLONE_NEWUTS;
	assert_int_equal(run_bpf(p, (size_t)n, &d), SECCOMP_RET_ALLOW);
	d.nr = __NR_clone, d.args[0] = CLONE_NEWUSER | SIGCHLD;
	assert_int_equal(run_bpf(p, (size_t)n, &d), eperm);
	d.args[0] = SIGCHLD;
	assert_int_equal(run_bpf(p, (size_t)n, &d), SECCOMP_RET_ALLOW);
	d.nr = __NR_clone3;
	assert_int_equal(run_bpf(p, (size_t)n, &d), SECCOMP_RET_ERRNO | ENOSYS);
	d.nr = __NR_getpid;
	assert_int_equal(run_bpf(p, (size_t)n, &d), SECCOMP_RET_ALLOW);
	d.nr = __NR_unshare | 0x40000000, d.args[0] = CLONE_NEWUSER; /* x32 */
	assert_int_equal(run_bpf(p, (size_t)n, &d), KILLED);
	d.nr = __NR_getpid | 0x40000000;
	assert_int_equal(run_bpf(p, (size_t)n, &d), KILLED);
	d.arch = AUDIT_ARCH_I386, d.nr = 310 /* unshare */, d.args[0] = CLONE_NEWUSER;
	assert_int_equal(run_bpf(p, (size_t)n, &d), KILLED);
	d.nr = 20; /* getpid */
	assert_int_equal(run_bpf(p, (size_t)n, &d), KILLED);
#endif
	assert_int_equal(nscell_restrict_filter(0, p, NSCELL_RESTRICT_FILTER_MAX), 0);
	assert_int_equal(nscell_restrict_filter(NSCELL_NS_USER, p, 3), -ENOBUFS);
}

/* In a child: install the filter (with no_new_privs, as for a user), then
 * run `probe`; returns its wait status. */
static int in_filtered_child(unsigned mask, int (*probe)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (nscell_restrict_namespaces(mask) < 0)
			_exit(100);
		_exit(probe());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int probe_unshare_user(void)
{
	return unshare(CLONE_NEWUSER) < 0 && errno == EPERM ? 0 : 1;
}

static int probe_clone3(void)
{
	struct clone_args { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
			    stack_size, tls; } args = { .exit_signal = SIGCHLD };
	return syscall(__NR_clone3, &args, sizeof(args)) < 0 && errno == ENOSYS ? 0 : 1;
}

static int probe_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(7);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 7 ? 0 : 1;
}

#if defined(__x86_64__)
static int probe_x32(void)
{
	syscall(__NR_getpid | 0x40000000);
	return 1; /* not reached: killed */
}

static int probe_int80_getpid(void)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	return r == getpid() ? 0 : 1;
}
#endif

static void test_in_the_kernel(void **state)
{
	int status;

	status = in_filtered_child(NSCELL_NS_USER, probe_unshare_user);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = in_filtered_child(NSCELL_NS_USER, probe_clone3);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = in_filtered_child(NSCELL_NS_ALL, probe_fork);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#if defined(__x86_64__)
	status = in_filtered_child(NSCELL_NS_USER, probe_x32);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	/* i386 through int 0x80, where this kernel runs it at all. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(probe_int80_getpid());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		status = in_filtered_child(NSCELL_NS_USER, probe_int80_getpid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	} else {
		print_message("int 0x80 does not run here (no IA32 emulation): only the interpreter checked i386\n");
	}
#endif
}

int main(void)
{
	/* Killed children leave no core file behind. */
	struct rlimit nocore = { 0, 0 };
	setrlimit(RLIMIT_CORE, &nocore);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_decisions_as_libseccomp),
		cmocka_unit_test(test_decisions),
		cmocka_unit_test(test_in_the_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
