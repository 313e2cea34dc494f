/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-bench-join — what joining a live cell costs without a helper: the
 * floor of a join done by the module itself (a trim the figures propose).
 *
 *   nscell-bench-join [-n N] [-s] CELL_ID
 *
 * Per iteration, as root: connect to RUNDIR/cells/CELL_ID.sock, send JOIN
 * (-s: JOIN_SAME, as pam_nscell does, with the cell's own settings, read once
 * by SETTINGS before the first, untimed)
 * with a pidfd of this process as the opener, receive the init's pidfd,
 * setns(NEWNS|NEWPID) into the cell. That is the timed part; then it steps
 * back into its own namespaces and closes the connection (a LEAVE).
 * One line per iteration: join_ns.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cellctl.h"
#include "proto.h"

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct nscell_settings cell_part; /* -s: what the cell was made with */
static bool use_same;

static int join(const char *cell_id, int *ret_sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct nscell_cell_join j;
	struct nscell_cell_reply r;
	uint32_t op = use_same ? NSCELL_CELL_JOIN_SAME : NSCELL_CELL_JOIN;
	int fds[2], sock, self, rc;
	size_t n_fds = 0;
	ssize_t n;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/cells/%s.sock", NSCELL_RUNDIR, cell_id);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (use_same) {
		struct nscell_cell_join_same same;
		ssize_t len = nscell_cell_join_same_encode(&same, getpid(), "bench", NULL, NULL,
							   &cell_part);
		rc = len < 0 ? (int)len : nscell_send_fds(sock, &same, (size_t)len, &self, 1);
	} else {
		nscell_cell_join_encode(&j, getpid(), "bench", NULL, NULL);
		rc = nscell_send_fds(sock, &j, sizeof(j), &self, 1);
	}
	close(self);
	if (rc < 0)
		return rc;
	n = nscell_recv_fds(sock, &r, sizeof(r), fds, 2, &n_fds);
	if (n < 0)
		return (int)n;
	rc = nscell_msg_answer_check(&r, (size_t)n, op, sizeof(r));
	if (rc < 0 || n_fds < 1) {
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		return rc < 0 ? rc : -EPROTO;
	}
	rc = setns(fds[0], CLONE_NEWNS | CLONE_NEWPID) < 0 ? -errno : 0;
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	*ret_sock = sock;
	return rc;
}

int main(int argc, char **argv)
{
	unsigned n = 1;
	int c, mnt, pid;

	while ((c = getopt(argc, argv, "n:s")) != -1) {
		if (c == 's')
			use_same = true;
		else if (c == 'n')
			n = (unsigned)strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: nscell-bench-join [-n N] [-s] CELL_ID\n");
		return 2;
	}
	/* The bytes the cell was made with are the bytes it joins on. */
	if (use_same && (c = nscell_cellctl_settings(argv[optind], &cell_part)) < 0) {
		fprintf(stderr, "settings of %s: %s\n", argv[optind], strerror(-c));
		return 1;
	}
	mnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (mnt < 0 || pid < 0)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		int sock = -1;
		long long t0 = now_ns();
		int rc = join(argv[optind], &sock);
		long long t1 = now_ns();

		if (setns(mnt, CLONE_NEWNS) < 0 || setns(pid, CLONE_NEWPID) < 0 || chdir("/") < 0)
			return 1;
		if (sock >= 0)
			close(sock);
		if (rc < 0) {
			fprintf(stderr, "join %s: %s\n", argv[optind], strerror(-rc));
			return 1;
		}
		printf("%lld\n", t1 - t0);
	}
	return 0;
}
