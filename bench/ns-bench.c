/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-bench-ns — the kernel's floor under what nscell does, measured with
 * the same clock, and the host-side load for the scale figures.
 *
 *   floor [-n N] [-t]      clone3(NEWPID|NEWNS); the child makes / slave,
 *                          mounts proc on /proc and tmpfs on /tmp, [-t: runs
 *                          /bin/true inside], exits; the parent reaps it.
 *                          One line per cell: total ns.
 *   join [-n N]            one held floor cell; per iteration pidfd_open +
 *                          setns(NEWNS|NEWPID) into it, then setns back.
 *                          One line: join_ns back_ns.
 *   spawn [-n N] PATH ARG… posix_spawn + waitpid, stdio on /dev/null: ns.
 *   mounts DIR FROM COUNT  mount COUNT tmpfs on DIR/FROM… (DIR is a tmpfs).
 *   mount-event [-n N] DIR mount a tmpfs on DIR, then unmount it: mount_ns umount_ns.
 *   hold-ns N              N bare mount namespaces with / slave, held by fds.
 *   hold-floor N           N floor cells, each with its PID 1 asleep.
 *   dlopen [-n N] LIB…     in a fresh child each time: dlopen(RTLD_NOW) of the
 *                          LIBs, as pam_start does for a stack's modules: ns.
 *
 * hold-* print "held N" (hold-floor also "pid PID" per cell), then wait for
 * a line or EOF on stdin, release everything, reap, and print "released".
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "nscell-bench-ns: %s: %s\n", what, strerror(errno));
	exit(1);
}

static pid_t clone_ns(uint64_t flags, int *ret_pidfd)
{
	struct clone_args args = {
		.flags = flags | (ret_pidfd ? CLONE_PIDFD : 0),
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* What every cell needs, the way nscell's helper does it. */
static void cell_mounts(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		_exit(10);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		_exit(11);
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		_exit(12);
}

static int spawn_wait(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&fa, 0, 1);
	posix_spawn_file_actions_adddup2(&fa, 0, 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -rc;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

static int floor_cells(unsigned n, bool run_true)
{
	for (unsigned i = 0; i < n; i++) {
		int64_t t0 = now_ns();
		int status;
		pid_t pid = clone_ns(CLONE_NEWPID | CLONE_NEWNS, NULL);

		if (pid < 0)
			die("clone3");
		if (pid == 0) {
			char *const argv[] = { (char *)"/bin/true", NULL };
			cell_mounts();
			_exit(run_true ? (spawn_wait(argv) == 0 ? 0 : 13) : 0);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				die("waitpid");
		printf("%lld %d\n", (long long)(now_ns() - t0), WEXITSTATUS(status));
	}
	return 0;
}

/* A floor cell whose PID 1 sleeps until killed; returns its pid. */
static pid_t held_floor_cell(int *ret_pidfd)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe");
	pid = clone_ns(CLONE_NEWPID | CLONE_NEWNS, ret_pidfd);
	if (pid < 0)
		die("clone3");
	if (pid == 0) {
		cell_mounts();
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		(void)!write(p[1], "k", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		die("floor cell setup");
	close(p[0]);
	return pid;
}

static int join(unsigned n)
{
	int self_mnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	int self_pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	pid_t cell = held_floor_cell(NULL);

	if (self_mnt < 0 || self_pid < 0)
		die("open own namespaces");
	for (unsigned i = 0; i < n; i++) {
		int64_t t0 = now_ns(), t1;
		int fd = (int)syscall(SYS_pidfd_open, cell, 0);

		if (fd < 0 || setns(fd, CLONE_NEWNS | CLONE_NEWPID) < 0)
			die("join");
		t1 = now_ns();
		if (setns(self_mnt, CLONE_NEWNS) < 0 || setns(self_pid, CLONE_NEWPID) < 0)
			die("setns back");
		close(fd);
		printf("%lld %lld\n", (long long)(t1 - t0), (long long)(now_ns() - t1));
	}
	kill(cell, SIGKILL);
	waitpid(cell, NULL, 0);
	return 0;
}

static int spawn(unsigned n, char **argv)
{
	for (unsigned i = 0; i < n; i++) {
		int64_t t0 = now_ns();
		int st = spawn_wait(argv);
		printf("%lld %d\n", (long long)(now_ns() - t0), st);
	}
	return 0;
}

static int mounts(const char *dir, unsigned from, unsigned count)
{
	char path[4096];

	for (unsigned i = from; i < from + count; i++) {
		snprintf(path, sizeof(path), "%s/%u", dir, i);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			die("mkdir");
		if (mount("nscb-extra", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0)
			die("mount");
	}
	return 0;
}

static int mount_event(unsigned n, const char *dir)
{
	for (unsigned i = 0; i < n; i++) {
		int64_t t0 = now_ns(), t1;
		if (mount("nscb-event", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0)
			die("mount");
		t1 = now_ns();
		if (umount2(dir, 0) < 0)
			die("umount");
		printf("%lld %lld\n", (long long)(t1 - t0), (long long)(now_ns() - t1));
	}
	return 0;
}

static void wait_stdin(void)
{
	char buf[16];
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) < 0 && errno == EINTR)
		;
}

static void raise_nofile(void)
{
	struct rlimit rl = { 1 << 20, 1 << 20 };
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		rl.rlim_cur = rl.rlim_max = 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int hold_ns(unsigned n)
{
	int *fds = calloc(n, sizeof(int));

	if (!fds)
		die("calloc");
	raise_nofile();
	for (unsigned i = 0; i < n; i++) {
		int ready[2], go[2];
		char c, path[64];
		pid_t pid;

		if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
			die("pipe");
		pid = clone_ns(CLONE_NEWNS, NULL);
		if (pid < 0)
			die("clone3");
		if (pid == 0) {
			if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
				_exit(10);
			(void)!write(ready[1], "k", 1);
			close(go[1]);
			(void)!read(go[0], &c, 1);
			_exit(0);
		}
		close(ready[1]);
		close(go[0]);
		if (read(ready[0], &c, 1) != 1)
			die("namespace setup");
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die("open ns");
		close(go[1]);
		close(ready[0]);
		waitpid(pid, NULL, 0);
	}
	printf("held %u\n", n);
	wait_stdin();
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	printf("released\n");
	return 0;
}

static int hold_floor(unsigned n)
{
	pid_t *pids = calloc(n, sizeof(pid_t));

	if (!pids)
		die("calloc");
	for (unsigned i = 0; i < n; i++) {
		pids[i] = held_floor_cell(NULL);
		printf("pid %d\n", (int)pids[i]);
	}
	printf("held %u\n", n);
	wait_stdin();
	for (unsigned i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	printf("released\n");
	return 0;
}

static int load_libs(unsigned n, char **libs, int n_libs)
{
	for (unsigned i = 0; i < n; i++) {
		int p[2];
		long long ns = -1;
		pid_t pid;

		if (pipe(p) < 0)
			die("pipe");
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int64_t t0 = now_ns();
			for (int k = 0; k < n_libs; k++)
				if (!dlopen(libs[k], RTLD_NOW | RTLD_LOCAL))
					_exit(1);
			ns = now_ns() - t0;
			(void)!write(p[1], &ns, sizeof(ns));
			_exit(0);
		}
		close(p[1]);
		if (read(p[0], &ns, sizeof(ns)) != sizeof(ns))
			ns = -1;
		close(p[0]);
		waitpid(pid, NULL, 0);
		printf("%lld\n", ns);
	}
	return 0;
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: nscell-bench-ns floor|join|spawn|mounts|mount-event|hold-ns|hold-floor|dlopen ...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned n = 1;
	bool run_true = false;
	const char *verb;
	int c;

	if (argc < 2)
		usage();
	verb = argv[1];
	optind = 2;
	/* '+': stop at the first operand (spawn's command has options of its own). */
	while ((c = getopt(argc, argv, "+n:t")) != -1) {
		if (c == 'n')
			n = (unsigned)strtoul(optarg, NULL, 10);
		else if (c == 't')
			run_true = true;
		else
			usage();
	}
	argv += optind;
	argc -= optind;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (strcmp(verb, "floor") == 0)
		return floor_cells(n, run_true);
	if (strcmp(verb, "join") == 0)
		return join(n);
	if (strcmp(verb, "spawn") == 0 && argc >= 1)
		return spawn(n, argv);
	if (strcmp(verb, "mounts") == 0 && argc == 3)
		return mounts(argv[0], (unsigned)strtoul(argv[1], NULL, 10),
			      (unsigned)strtoul(argv[2], NULL, 10));
	if (strcmp(verb, "mount-event") == 0 && argc == 1)
		return mount_event(n, argv[0]);
	if (strcmp(verb, "hold-ns") == 0 && argc == 1)
		return hold_ns((unsigned)strtoul(argv[0], NULL, 10));
	if (strcmp(verb, "dlopen") == 0 && argc >= 1)
		return load_libs(n, argv, argc);
	if (strcmp(verb, "hold-floor") == 0 && argc == 1)
		return hold_floor((unsigned)strtoul(argv[0], NULL, 10));
	usage();
}
