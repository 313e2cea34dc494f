/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leave what the caller set.
 *
 * A setuid program inherits through execve(2) far more than its environment
 * and fds, and every piece of it is the caller's choice (execve(2),
 * credentials(7), sched(7), prctl(2)): signal dispositions (ignored stays
 * ignored), the signal mask and pending signals, rlimits, nice, scheduling
 * policy and reset-on-fork, utilisation clamps, CPU affinity, I/O priority,
 * the NUMA memory policy, oom_score_adj, interval timers, the timer slack,
 * the personality, the child-subreaper and THP-disable flags, the machine-
 * check kill policy, x86's TSC access, securebits, the umask and the working
 * directory. Each lets the user steer root's side: an ignored SIGCHLD has
 * children reaped behind the helper's back (their pids free for the user to
 * take), oom_score_adj 1000 or RLIMIT_CPU gets a root init killed, nice 19,
 * SCHED_IDLE or one CPU starves a process other logins wait for, an
 * interval timer or RLIMIT_FSIZE delivers a fatal signal at a chosen step.
 *
 * helper_leave_caller_state() notes what the caller had (the run verb hands
 * it back to the user's command only: helper_restore_caller_*) and puts
 * root's defaults in place, before the helper does anything privileged. The
 * cell's init is forked from the helper afterwards and inherits them.
 *
 * What is not here, and why (see SECURITY.md): the cgroup (cgroup.c), fds
 * and the environment (helper.c), the session and terminal (setsid in the
 * open verb; run keeps them for job control), no_new_privs, seccomp and
 * Landlock (they need no_new_privs, which voids the setuid bit, or were set
 * by root), the cpuset and autogroup (the cgroup's, or the user's whole
 * session's), namespaces (run checks the mount namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "cleanup.h"
#include "helper.h"

#define IOPRIO_WHO_PROCESS 1
#define TIMER_SLACK_NS 50000 /* the kernel's value for init */
#define MPOL_DEFAULT 0

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

struct helper_caller helper_caller;

/* Root's side: the limits the kernel gives init (INIT_RLIMITS). The hard
 * limit keeps the caller's where that is higher, so that the run verb's
 * command can be handed the caller's limits back by lowering alone, and gets
 * no more than the caller had (an admin's pam_limits stay in force).
 * `needed`: a lower soft limit would let the caller have root's side fail or
 * be killed at a step of their choosing. The others bound what we never use
 * (core dumps of a non-dumpable process, locked memory, priorities) or what
 * root is exempt from: RLIMIT_NPROC does not apply to uid 0, and we fork only
 * after all our ids are 0; the kernel's own signals (SIGCHLD) are queued
 * whatever RLIMIT_SIGPENDING says. */
struct default_limit {
	int resource;
	const char *name;
	rlim_t soft, hard;
	bool needed;
};
static const struct default_limit default_limits[] = {
	{ RLIMIT_CPU, "RLIMIT_CPU", RLIM_INFINITY, RLIM_INFINITY, true },
	{ RLIMIT_FSIZE, "RLIMIT_FSIZE", RLIM_INFINITY, RLIM_INFINITY, true },
	{ RLIMIT_DATA, "RLIMIT_DATA", RLIM_INFINITY, RLIM_INFINITY, true },
	{ RLIMIT_STACK, "RLIMIT_STACK", 8u << 20, RLIM_INFINITY, true },
	{ RLIMIT_CORE, "RLIMIT_CORE", 0, RLIM_INFINITY, false },
	{ RLIMIT_RSS, "RLIMIT_RSS", RLIM_INFINITY, RLIM_INFINITY, false },
	{ RLIMIT_NPROC, "RLIMIT_NPROC", 0, 0, false },           /* threads-max / 2, below */
	{ RLIMIT_NOFILE, "RLIMIT_NOFILE", 1024, 4096, true },
	{ RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 8u << 20, 8u << 20, false },
	{ RLIMIT_AS, "RLIMIT_AS", RLIM_INFINITY, RLIM_INFINITY, true },
	{ RLIMIT_LOCKS, "RLIMIT_LOCKS", RLIM_INFINITY, RLIM_INFINITY, false },
	{ RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING", 0, 0, false }, /* threads-max / 2, below */
	{ RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 819200, 819200, false },
	{ RLIMIT_NICE, "RLIMIT_NICE", 0, 0, false },
	{ RLIMIT_RTPRIO, "RLIMIT_RTPRIO", 0, 0, false },
	{ RLIMIT_RTTIME, "RLIMIT_RTTIME", RLIM_INFINITY, RLIM_INFINITY, false },
};

/* What the kernel gives init for RLIMIT_NPROC and RLIMIT_SIGPENDING. */
static rlim_t half_max_threads(void)
{
	_cleanup_close_ int fd = open("/proc/sys/kernel/threads-max", O_RDONLY | O_CLOEXEC);
	char buf[32];
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return RLIM_INFINITY;
	buf[n] = '\0';
	return (rlim_t)strtoull(buf, NULL, 10) / 2 ?: RLIM_INFINITY;
}

static int fail(char *err, size_t errlen, const char *what)
{
	int e = errno ? errno : EINVAL;
	snprintf(err, errlen, "cannot reset the caller's %s: %s", what, strerror(e));
	return -e;
}

/* The signals the C library keeps for itself (glibc: 32 and 33) cannot be
 * set through sigaction(), but a caller can leave them ignored: the kernel's
 * call, with an all-zero struct, which is SIG_DFL in every architecture's
 * layout. */
static int reset_reserved_signal(int sig)
{
	unsigned long zero[16] = { 0 };
	return syscall(SYS_rt_sigaction, sig, zero, NULL, (size_t)(_NSIG / 8)) < 0 ? -errno : 0;
}

/* The signals the caller left ignored, as the kernel says (SigIgn in
 * /proc/self/status): execve() puts every handled signal back to its
 * default, so only an ignored one can differ. Returns 0, or -errno (no
 * /proc: the caller then treats every signal as possibly ignored). */
static int read_ignored(sigset_t *ret)
{
	char buf[2048], *p;
	unsigned long long mask;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strstr(buf, "\nSigIgn:\t");
	if (!p || sscanf(p + 9, "%16llx", &mask) != 1)
		return -EIO;
	sigemptyset(ret);
	for (int sig = 1; sig < _NSIG && sig <= 64; sig++)
		if (mask & (1ull << (sig - 1)))
			sigaddset(ret, sig);
	return 0;
}

static int leave_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, ign = { .sa_handler = SIG_IGN };
	sigset_t none, pending, ignored;
	bool known;

	sigprocmask(SIG_SETMASK, NULL, &helper_caller.sigmask);
	sigemptyset(&helper_caller.ignored);
	if (sigpending(&pending) < 0)
		return -errno;
	known = read_ignored(&ignored) == 0;
	/* One call per ignored signal (the default in, the caller's out), two
	 * where one is pending: ignoring discards it (the caller may have
	 * queued it behind its mask), then the default comes back. Every other
	 * signal is at its default already (execve). */
	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (known && sigismember(&ignored, sig) != 1 && sigismember(&pending, sig) != 1)
			continue;
		if (sigaction(sig, sigismember(&pending, sig) == 1 ? &ign : &dfl, &sa) < 0) {
			if (reset_reserved_signal(sig) < 0)
				return -errno;
			continue;
		}
		if (sa.sa_handler == SIG_IGN)
			sigaddset(&helper_caller.ignored, sig);
		if (sigismember(&pending, sig) == 1 && sigaction(sig, &dfl, NULL) < 0)
			return -errno;
	}
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL) < 0 ? -errno : 0;
}

static int leave_rlimits(char *err, size_t errlen)
{
	rlim_t half = half_max_threads();

	for (size_t i = 0; i < NSCELL_ELEMENTSOF(default_limits); i++) {
		const struct default_limit *d = &default_limits[i];
		struct rlimit *was = &helper_caller.rlimits[d->resource], now;

		if (getrlimit(d->resource, was) < 0)
			return fail(err, errlen, d->name);
		now.rlim_cur = d->soft;
		now.rlim_max = d->hard;
		if (d->resource == RLIMIT_NPROC || d->resource == RLIMIT_SIGPENDING)
			now.rlim_cur = now.rlim_max = half;
		if (was->rlim_max > now.rlim_max)
			now.rlim_max = was->rlim_max;
		if (setrlimit(d->resource, &now) == 0)
			continue;
		if (errno != EPERM)
			return fail(err, errlen, d->name);
		/* Raising a hard limit needs CAP_SYS_RESOURCE, which a container
		 * may lack (sudo lowers RLIMIT_CORE's to 0): below the caller's
		 * hard limit, where that is harmless. */
		if (d->needed && was->rlim_max < now.rlim_cur) {
			snprintf(err, errlen,
				 "cannot reset the caller's %s: its hard limit %llu is lower than the %llu root's side needs, and raising it is not permitted (no CAP_SYS_RESOURCE)",
				 d->name, (unsigned long long)was->rlim_max,
				 (unsigned long long)now.rlim_cur);
			return -EPERM;
		}
		now.rlim_max = was->rlim_max;
		if (now.rlim_cur > now.rlim_max)
			now.rlim_cur = now.rlim_max;
		if (setrlimit(d->resource, &now) < 0)
			return fail(err, errlen, d->name);
	}
	helper_caller.have_rlimits = true;
	return 0;
}

static int write_self(const char *name, const char *text)
{
	/* /proc/self names no pid: no recycled pid can stand in for us. */
	_cleanup_close_ int fd = open(name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	return write(fd, text, len) == (ssize_t)len ? 0 : -errno;
}

/* Utilisation clamps (sched_setattr, no wrapper in glibc): -1 is "the
 * system default", both ends. Kernels without them say so; nothing to undo. */
struct clamp_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};
#define SCHED_FLAG_KEEP_ALL 0x18
#define SCHED_FLAG_UTIL_CLAMP 0x60

static int reset_util_clamp(void)
{
	struct clamp_attr a = {
		.size = sizeof(a),
		.sched_flags = SCHED_FLAG_KEEP_ALL | SCHED_FLAG_UTIL_CLAMP,
		.sched_util_min = (uint32_t)-1,
		.sched_util_max = (uint32_t)-1,
	};
	if (syscall(SYS_sched_setattr, 0, &a, 0) == 0 || errno == EOPNOTSUPP || errno == ENOSYS ||
	    errno == E2BIG)
		return 0;
	return -errno;
}

static int leave_scheduling(char *err, size_t errlen)
{
	struct sched_param zero = { 0 };
	cpu_set_t all;

	errno = 0;
	helper_caller.nice = getpriority(PRIO_PROCESS, 0);
	if (errno)
		return fail(err, errlen, "nice value");
	/* The kernel's calls: musl's wrappers are ENOSYS (POSIX's are per
	 * process, Linux's per thread; we have one thread). */
	helper_caller.sched_policy = (int)syscall(SYS_sched_getscheduler, 0);
	if (helper_caller.sched_policy < 0 ||
	    syscall(SYS_sched_getparam, 0, &helper_caller.sched_param) < 0)
		return fail(err, errlen, "scheduling policy");
	/* SCHED_OTHER without SCHED_RESET_ON_FORK clears that flag too. */
	if (syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &zero) < 0)
		return fail(err, errlen, "scheduling policy");
	if (setpriority(PRIO_PROCESS, 0, 0) < 0)
		return fail(err, errlen, "nice value");
	if (reset_util_clamp() < 0)
		return fail(err, errlen, "utilisation clamps");

	helper_caller.have_affinity =
		sched_getaffinity(0, sizeof(helper_caller.affinity), &helper_caller.affinity) == 0;
	/* Every CPU: the kernel keeps those of our cpuset (the cgroup's). */
	memset(&all, 0xff, sizeof(all));
	if (sched_setaffinity(0, sizeof(all), &all) < 0)
		return fail(err, errlen, "CPU affinity");

	helper_caller.ioprio = (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	/* Class "none": the I/O priority follows the nice value, now 0. */
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, 0) < 0 && errno != ENOSYS)
		return fail(err, errlen, "I/O priority");
	/* NUMA: a binding to one node could starve us of memory. */
	if (syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0) < 0 && errno != ENOSYS)
		return fail(err, errlen, "memory policy");
	helper_caller.timerslack = (unsigned long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	/* Not 0: that is the value inherited at fork, i.e. the caller's. */
	if (prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0) < 0)
		return fail(err, errlen, "timer slack");
	return 0;
}

static int leave_process_flags(char *err, size_t errlen)
{
	static const struct itimerval off;
	int bits;

	/* An interval timer would deliver SIGALRM, SIGVTALRM or SIGPROF (fatal by
	 * default) at a moment of the caller's choosing. */
	if (setitimer(ITIMER_REAL, &off, NULL) < 0 || setitimer(ITIMER_VIRTUAL, &off, NULL) < 0 ||
	    setitimer(ITIMER_PROF, &off, NULL) < 0)
		return fail(err, errlen, "interval timers");

	/* Read and reset through one open: the file takes a write at any
	 * offset, and each open of /proc costs a fresh process ~6 us. */
	{
		_cleanup_close_ int fd =
			open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		char buf[32];
		ssize_t n;

		if (fd < 0)
			return fail(err, errlen, "oom_score_adj (through /proc/self)");
		n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			helper_caller.oom_score_adj = atoi(buf);
			helper_caller.have_oom = true;
		}
		if (write(fd, "0", 1) != 1)
			return fail(err, errlen, "oom_score_adj (through /proc/self)");
	}

	helper_caller.personality = personality(0xffffffff);
	if (personality(PER_LINUX) < 0)
		return fail(err, errlen, "personality");

	bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (bits < 0 || (bits != 0 && prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) < 0)) {
		/* Locked securebits (SECBIT_NOROOT...) leave root without its
		 * capabilities; only a privileged ancestor could set them. */
		snprintf(err, errlen, "the caller's securebits 0x%x cannot be cleared: %s",
			 (unsigned)bits, strerror(errno));
		return -EPERM;
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0) < 0)
		return fail(err, errlen, "process flags (prctl)");
	/* Architecture-specific or newer than the kernel: EINVAL means there is
	 * nothing the caller could have set. */
	if (prctl(PR_MCE_KILL, PR_MCE_KILL_CLEAR, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(err, errlen, "machine-check kill policy");
#ifdef PR_SET_TSC
	if (prctl(PR_SET_TSC, PR_TSC_ENABLE, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(err, errlen, "TSC access");
#endif
	return 0;
}

int helper_leave_caller_state(char *err, size_t errlen)
{
	int rc;

	/* Timers first: none may fire while the signals are being reset. */
	rc = leave_process_flags(err, errlen);
	if (rc < 0)
		return rc;
	rc = leave_signals();
	if (rc < 0) {
		snprintf(err, errlen, "cannot reset the caller's signal dispositions: %s",
			 strerror(-rc));
		return rc;
	}
	rc = leave_rlimits(err, errlen);
	if (rc < 0)
		return rc;
	rc = leave_scheduling(err, errlen);
	if (rc < 0)
		return rc;
	helper_caller.umask = umask(077);
	if (chdir("/") < 0)
		return fail(err, errlen, "working directory");
	return 0;
}

int helper_restore_caller_limits(void)
{
	char buf[16];

	if (!helper_caller.have_rlimits)
		return 0;
	/* Our hard limits are at least the caller's: this only lowers. */
	for (size_t i = 0; i < NSCELL_ELEMENTSOF(default_limits); i++) {
		int r = default_limits[i].resource;
		if (setrlimit(r, &helper_caller.rlimits[r]) < 0)
			return -errno;
	}
	/* Without CAP_SYS_RESOURCE (not ours any more) only upwards: a caller's
	 * value below 0 leaves 0, which protects the command less. */
	if (helper_caller.have_oom) {
		snprintf(buf, sizeof(buf), "%d", helper_caller.oom_score_adj);
		write_self("/proc/self/oom_score_adj", buf);
	}
	return 0;
}

void helper_restore_caller_state(void)
{

	/* Each of these succeeds when the caller could have set it as the user
	 * (we are the user now); where it does not (a negative nice value, a
	 * real-time class the caller had from root), the command keeps root's
	 * default, which never gives it more than the caller had. */
	setpriority(PRIO_PROCESS, 0, helper_caller.nice);
	syscall(SYS_sched_setscheduler, 0, helper_caller.sched_policy, &helper_caller.sched_param);
	if (helper_caller.have_affinity)
		sched_setaffinity(0, sizeof(helper_caller.affinity), &helper_caller.affinity);
	if (helper_caller.ioprio > 0)
		syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, helper_caller.ioprio);
	prctl(PR_SET_TIMERSLACK, helper_caller.timerslack, 0, 0, 0);
	personality(helper_caller.personality);
	umask(helper_caller.umask);
	for (int sig = 1; sig <= SIGRTMAX; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		signal(sig, sigismember(&helper_caller.ignored, sig) ? SIG_IGN : SIG_DFL);
	}
	/* The mask last: nothing of ours runs between it and the exec. */
	sigprocmask(SIG_SETMASK, &helper_caller.sigmask, NULL);
}
