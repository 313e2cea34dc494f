/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-bench-pam — a clock around each PAM call of a login's session.
 *
 *   nscell-bench-pam cycle [-n N] [-t] [-w] [-M] [-r RHOST] [-d CONFDIR] SERVICE USER
 *       N logins, each in a fresh child process (as sshd forks a monitor per
 *       connection) that has resolved the user and their groups, as every
 *       PAM application has by then: pam_start, pam_open_session, [-t: run
 *       /bin/true in the session and wait for it], pam_close_session,
 *       pam_end, [-w: wait until the cell that this login made has ended,
 *       i.e. its init is reaped: the child is a subreaper, so the init
 *       comes back to it].
 *       Two lines per login, times in nanoseconds:
 *         start open true close end teardown open_rc close_rc
 *         exit NS   (from the login process's last word until it is reaped)
 *
 *       -M marks pam_open_session's bounds for strace: write(-1, "nscb:open-…").
 *
 *   nscell-bench-pam hold [-n N] [-r RHOST] [-d CONFDIR] SERVICE USER
 *       Opens N sessions in this one process, stepping back into its own
 *       namespaces after each (what the module's close would do), and prints
 *       "open I NS RC" per session, then "held N". At a line or EOF on stdin
 *       it closes them all ("closed NS"), waits for the inits that come back
 *       to it as subreaper ("reaped N NS") and exits.
 *
 * CONFDIR (default /etc/pam.d) is where SERVICE's stack is read from; -r sets
 * PAM_RHOST (the policy can match on it).
 * The figures are printed, never judged: a failed call shows as its PAM code.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

extern char **environ;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int no_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	return PAM_CONV_ERR;
}

static const struct pam_conv conv = { no_conv, NULL };

struct opts {
	unsigned n;
	bool run_true;
	bool wait_cell;
	bool markers;
	const char *rhost;
	const char *confdir;
	const char *service;
	const char *user;
};

static int start(const struct opts *o, pam_handle_t **ret)
{
	int rc = pam_start_confdir(o->service, o->user, &conv, o->confdir, ret);

	if (rc == PAM_SUCCESS && o->rhost)
		rc = pam_set_item(*ret, PAM_RHOST, o->rhost);
	return rc;
}

/* Run /bin/true from inside the session (it lands in the cell's pid namespace). */
static int run_true(void)
{
	char *const argv[] = { (char *)"true", NULL };
	pid_t pid;
	int status;

	if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	timed_out = 1;
}

/* Reap every child that comes back to us (cells' inits) until none is left
 * or `seconds` have passed; returns how many were reaped. */
static unsigned reap_all(unsigned seconds)
{
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	unsigned n = 0;

	timed_out = 0;
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
	for (;;) {
		if (waitpid(-1, NULL, 0) > 0)
			n++;
		else if (errno != EINTR || timed_out)
			break;
	}
	alarm(0);
	return n;
}

static int64_t wait_children(void)
{
	int64_t t0 = now_ns();

	reap_all(10);
	return now_ns() - t0;
}

/*
 * Every PAM application has resolved the user and their groups before
 * open_session (sshd's monitor in initgroups() while it reads
 * authorized_keys, su and login before they switch): NSS is warm.
 */
static void warm_nss(const char *user)
{
	struct passwd *pw = getpwnam(user);
	gid_t groups[256];
	int n = 256;

	if (pw)
		(void)getgrouplist(user, pw->pw_gid, groups, &n);
}

static void one_login(const struct opts *o, int out, int done)
{
	pam_handle_t *h = NULL;
	int64_t t[6] = { 0 };
	int64_t t0;
	int rc_open, rc_close = -1, rc;
	char line[256];

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	warm_nss(o->user);
	t0 = now_ns();
	rc = start(o, &h);
	t[0] = now_ns() - t0;
	if (rc != PAM_SUCCESS) {
		dprintf(out, "0 0 0 0 0 0 %d -1\n", 1000 + rc);
		_exit(1);
	}
	if (o->markers)
		(void)!write(-1, "nscb:open-begin", 15);
	t0 = now_ns();
	rc_open = pam_open_session(h, 0);
	t[1] = now_ns() - t0;
	if (o->markers)
		(void)!write(-1, "nscb:open-end", 13);
	if (rc_open == PAM_SUCCESS && o->run_true) {
		t0 = now_ns();
		if (run_true() < 0)
			rc_open = 2000;
		t[2] = now_ns() - t0;
	}
	if (rc_open == PAM_SUCCESS) {
		t0 = now_ns();
		rc_close = pam_close_session(h, 0);
		t[3] = now_ns() - t0;
	}
	t0 = now_ns();
	pam_end(h, rc_open);
	t[4] = now_ns() - t0;
	if (o->wait_cell)
		t[5] = wait_children();
	snprintf(line, sizeof(line), "%lld %lld %lld %lld %lld %lld %d %d\n", (long long)t[0],
		 (long long)t[1], (long long)t[2], (long long)t[3], (long long)t[4],
		 (long long)t[5], rc_open, rc_close);
	(void)!write(out, line, strlen(line));
	t0 = now_ns();
	(void)!write(done, &t0, sizeof(t0));
	_exit(0);
}

static int cycle(const struct opts *o)
{
	for (unsigned i = 0; i < o->n; i++) {
		int64_t end = 0;
		int done[2];
		pid_t pid;

		if (pipe2(done, O_CLOEXEC) < 0) {
			perror("pipe");
			return 1;
		}
		fflush(stdout);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			close(done[0]);
			one_login(o, STDOUT_FILENO, done[1]);
		}
		close(done[1]);
		if (read(done[0], &end, sizeof(end)) != sizeof(end))
			end = 0;
		close(done[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		/* From the login process's last word to its reaping: its exit. */
		if (end)
			printf("exit %lld\n", (long long)(now_ns() - end));
		/* Anything the child left (it should be nothing) comes to us. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	return 0;
}

static int hold(const struct opts *o)
{
	pam_handle_t **h = calloc(o->n, sizeof(*h));
	int *rcs = calloc(o->n, sizeof(*rcs));
	int mnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	int pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	struct rlimit rl = { 1 << 20, 1 << 20 };
	unsigned held = 0, reaped = 0;
	char buf[16];
	int64_t t0;

	if (!h || !rcs || mnt < 0 || pid < 0) {
		perror("hold");
		return 1;
	}
	/* Each held session keeps its session socket and two saved namespaces. */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		rl.rlim_cur = rl.rlim_max = 65536;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (unsigned i = 0; i < o->n; i++) {
		int rc = start(o, &h[i]);

		if (rc == PAM_SUCCESS) {
			t0 = now_ns();
			rc = pam_open_session(h[i], 0);
			printf("open %u %lld %d\n", i, (long long)(now_ns() - t0), rc);
		} else {
			printf("open %u 0 %d\n", i, 1000 + rc);
			h[i] = NULL;
		}
		fflush(stdout);
		rcs[i] = rc;
		if (rc == PAM_SUCCESS)
			held++;
		/* Back to our own namespaces before the next login's helper. */
		if (setns(mnt, CLONE_NEWNS) < 0 || setns(pid, CLONE_NEWPID) < 0 || chdir("/") < 0) {
			perror("setns back");
			return 1;
		}
	}
	printf("held %u\n", held);
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) < 0 && errno == EINTR)
		;
	t0 = now_ns();
	for (unsigned i = 0; i < o->n; i++) {
		if (!h[i])
			continue;
		if (rcs[i] == PAM_SUCCESS)
			pam_close_session(h[i], 0);
		pam_end(h[i], rcs[i]);
	}
	printf("closed %lld\n", (long long)(now_ns() - t0));
	fflush(stdout);
	reaped = reap_all(120);
	printf("reaped %u %lld\n", reaped, (long long)(now_ns() - t0));
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: nscell-bench-pam cycle|hold [-n N] [-t] [-w] [-M] [-r RHOST] [-d CONFDIR] SERVICE USER\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .n = 1, .confdir = NULL };
	const char *verb;
	int c;

	if (argc < 2)
		usage();
	verb = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "n:twMr:d:")) != -1) {
		switch (c) {
		case 'n':
			o.n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o.run_true = true;
			break;
		case 'w':
			o.wait_cell = true;
			break;
		case 'M':
			o.markers = true;
			break;
		case 'r':
			o.rhost = optarg;
			break;
		case 'd':
			o.confdir = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	o.service = argv[optind];
	o.user = argv[optind + 1];
	/* Cells' inits come back to us when their helper exits. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(verb, "cycle") == 0)
		return cycle(&o);
	if (strcmp(verb, "hold") == 0)
		return hold(&o);
	usage();
}
