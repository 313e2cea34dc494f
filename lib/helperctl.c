/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "helperctl.h"
#include "nsjoin.h"

/* PAM_SUCCESS, without the PAM headers in lib/. */
#define NSCELL_HELPER_PAM_SUCCESS 0

/* The child of spawn_helper(), on our stack and in our memory until the
 * exec, every signal blocked (none of the application's handlers can run
 * here): fds 0-2 on /dev/null, the request socket on 3, nothing else.
 * Only system calls. */
static _Noreturn void helper_child(const char *path, int sock, volatile int *err)
{
	char *const argv[] = { (char *)"nscell-open", (char *)"open", NULL };
	char *const envp[] = { NULL };
	int null;

	/* dup2() onto itself keeps close-on-exec: clear it instead. */
	if ((sock == 3 ? fcntl(3, F_SETFD, 0) : dup2(sock, 3)) < 0)
		goto fail;
	/* Without O_CLOEXEC: it may land on 0-2 itself (the application's
	 * stdin closed), where dup2() keeps the flag; anywhere else it goes
	 * with close_range(). */
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		goto fail;
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(null, fd) < 0)
			goto fail;
	if (syscall(SYS_close_range, 4, ~0U, 0) < 0) {
		/* Before Linux 5.9. */
		struct rlimit rl;
		int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur :
										      65536;
		for (int fd = 4; fd < max; fd++)
			close(fd);
	}
	execve(path, argv, envp);
fail:
	*err = errno;
	_exit(127);
}

/* Spawn the helper without copying the caller's memory (vfork), with an
 * empty environment and the signal mask full: the helper resets every
 * signal's disposition and its mask itself, first thing (inherit.c), as it
 * must for any root caller, so the 64 sigaction() calls posix_spawn() makes
 * in the child to the same end are left out. */
static int spawn_helper(const char *path, int sock, pid_t *ret_pid)
{
	volatile int err = 0;
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		helper_child(path, sock, &err);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -errno;
	if (err) {
		/* It did not exec: reap it (it has exited by now, vfork). */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -err;
	}
	*ret_pid = pid;
	return 0;
}

int nscell_helper_reap(struct nscell_helper *h)
{
	int status = -1;

	if (h->pid <= 0)
		return -1;
	/* The answer is the authority; the exit status only confirms it (an
	 * application's own SIGCHLD handler may have reaped the helper). A
	 * helper that does not end even after SIGKILL (stuck in the kernel)
	 * must not hold the login: wait NSCELL_HELPER_REAP_MS, then leave it. */
	if (h->pidfd >= 0) {
		struct pollfd pp = { .fd = h->pidfd, .events = POLLIN };
		while (poll(&pp, 1, NSCELL_HELPER_REAP_MS) < 0 && errno == EINTR)
			;
	}
	while (waitpid(h->pid, &status, h->pidfd >= 0 ? WNOHANG : 0) < 0 && errno == EINTR)
		;
	nscell_closep(&h->pidfd);
	h->pid = 0;
	return status;
}

static void reap_helperp(struct nscell_helper *h)
{
	nscell_helper_reap(h);
}

int nscell_helper_ask(const char *path, const struct nscell_request *req,
		      struct nscell_reply *rep, int ret_fds[4], struct nscell_helper *ret_helper,
		      char *why, size_t whylen)
{
	__attribute__((cleanup(reap_helperp))) struct nscell_helper h = { 0, -1 };
	_cleanup_close_ int mine = -1, theirs = -1;
	char buf[NSCELL_REQUEST_MAX];
	int sv[2];
	size_t n_fds = 0;
	ssize_t len, n;
	pid_t pid;
	int rc, status = -1;
	struct pollfd pfd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whylen, "socketpair: %s", strerror(errno));
		return -errno;
	}
	mine = sv[0];
	theirs = sv[1];
	len = nscell_request_encode(req, buf, sizeof(buf));
	if (len < 0) {
		snprintf(why, whylen, "request too large");
		return -EIO;
	}
	rc = spawn_helper(path, theirs, &pid);
	if (rc < 0) {
		snprintf(why, whylen, "cannot run %s: %s", path, strerror(-rc));
		return -EIO;
	}
	nscell_closep(&theirs);
	theirs = -1;
	/* Pinned now: the pid stays ours until it is reaped. */
	h.pid = pid;
	h.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	n = nscell_send_fds(mine, buf, (size_t)len, NULL, 0);
	if (n == 0) {
		pfd = (struct pollfd){ .fd = mine, .events = POLLIN };
		do
			rc = poll(&pfd, 1, NSCELL_HELPER_TIMEOUT_MS);
		while (rc < 0 && errno == EINTR);
		if (rc > 0)
			n = nscell_recv_fds(mine, rep, sizeof(*rep), ret_fds, 4, &n_fds);
		else
			n = rc == 0 ? -ETIMEDOUT : -errno;
	}
	if (n == -ETIMEDOUT)
		kill(pid, SIGKILL);

	if (n < 0 || nscell_reply_check(rep, (size_t)n) < 0) {
		status = nscell_helper_reap(&h);
		for (size_t i = 0; i < n_fds; i++)
			close(ret_fds[i]);
		if (n == -ETIMEDOUT)
			snprintf(why, whylen, "%s did not answer within %d s", path,
				 NSCELL_HELPER_TIMEOUT_MS / 1000);
		else if (n <= 0 && status != -1 && WIFEXITED(status))
			snprintf(why, whylen, "%s exited with status %d without an answer", path,
				 WEXITSTATUS(status));
		else if (n <= 0 && status != -1 && WIFSIGNALED(status))
			snprintf(why, whylen, "%s was killed by signal %d", path,
				 WTERMSIG(status));
		else
			snprintf(why, whylen, "%s gave no valid answer", path);
		return -EIO;
	}
	if (rep->pam_status == NSCELL_HELPER_PAM_SUCCESS &&
	    n_fds != 2u + !!(rep->namespaces & NSCELL_NS_USER) + !!rep->settings.private_logins) {
		for (size_t i = 0; i < n_fds; i++)
			close(ret_fds[i]);
		snprintf(why, whylen, "%s answered without the cell's descriptors", path);
		return -EIO;
	}
	if (rep->pam_status == NSCELL_HELPER_PAM_SUCCESS) {
		/* After [pidfd, socket]: the user namespace and PrivateLogins'
		 * mount namespace, each where the policy has one. */
		int ns[2] = { ret_fds[2], ret_fds[3] };
		if (nscell_ns_sort_fds(ns, n_fds - 2, &ret_fds[2], &ret_fds[3]) < 0) {
			close(ret_fds[0]);
			close(ret_fds[1]);
			nscell_closep(&ret_fds[2]);
			nscell_closep(&ret_fds[3]);
			snprintf(why, whylen, "%s answered with descriptors of the wrong kind", path);
			return -EIO;
		}
	}
	snprintf(why, whylen, "%s", rep->message);
	*ret_helper = h;
	h = (struct nscell_helper){ 0, -1 };
	return 0;
}
