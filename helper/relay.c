/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user manager relay: `systemctl --user` inside a cell.
 *
 * systemctl --user connects to $XDG_RUNTIME_DIR/systemd/private and wants
 * the peer's pid from SO_PEERCRED. The user's manager runs outside the
 * cell's pid namespace, so that pid reads 0, and systemd 257 gives up
 * ("Failed to connect to user scope bus via local transport"). So a cell
 * whose user has a manager socket at creation gets a socket of its own over
 * that path (in the cell's mount namespace only), served by nscell-relay:
 * a process of the cell, running as the user, that relays each connection
 * to the real socket. systemctl sees a peer with a visible pid and its own
 * uid; the manager sees the user (AUTH EXTERNAL must name the uid that
 * connected, and it is the user's).
 *
 * Why a process of the user's own and not the cell's init: the init is
 * root with CAP_KILL only; connecting as the user would need CAP_SETUID or
 * CAP_DAC_OVERRIDE in PID 1, and every byte and fd a user sends would be
 * parsed by the process that ends every session of the cell. The relay has
 * the user's rights and no others (all ids the user's, no capabilities,
 * no_new_privs, not dumpable): what a hostile client can do to it (flood,
 * stall, crash, kill it) it can do to its own processes anyway, and the only
 * thing it reaches, the user's own manager, the user reaches from outside
 * the cell too (and from inside through the user's D-Bus). With a user
 * namespace in the policy the sessions see root as nobody: the relay's uid
 * is mapped, the init's is not. The init leaves it out of the count of the
 * cell's processes (its pid is NSCELL_RELAY_PID), so a cell still ends when its
 * sessions are gone, and its kill(-1) takes it away.
 *
 * relay-start.c starts it from the setup child (root), before the init's
 * exec: a socket of its own bound on a scratch tmpfs, the user's ids,
 * no_new_privs, exec of this small static program (~50 kB private while
 * relaying, not a copy of the helper's memory). It listen()s:
 * SO_PEERCRED of every connection is the listener's, its pid and the user.
 * Only then is the socket mounted over the private one.
 *
 * The relay: one poll() loop over fixed arrays. RELAY_CONNS_MAX connections
 * at a time (further ones wait in the backlog), each with one RELAY_BUF
 * buffer and up to RELAY_FDS_MAX descriptors per direction, mapped at
 * accept and unmapped at close: at most RELAY_CONNS_MAX times 18 kB.
 * Each connection to the real socket is made anew through the detached clone (/proc/self/fd/N/private: resolved in a mount of its own,
 * not the cell's, so not to ourselves), which also finds the socket of a
 * manager that re-executed; non-blocking, retried until RELAY_CONNECT_MS.
 * Bytes pass unchanged. SCM_RIGHTS fds (sd-bus negotiates them) pass with
 * the bytes they came with; since a stream read can join the tail of one
 * message to the next one and its fds, reads stop at D-Bus message
 * boundaries: the text of the authentication up to the client's BEGIN and
 * the server's matching replies, then the 16-byte fixed header, which gives
 * each message's length. A peer breaking the framing gets its own
 * connection closed.
 *
 * This file is the process (its fds, accept, the connect to the manager,
 * the poll loop); a connection's relaying and framing are relay-conn.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "relay-conn.h"

#define RELAY_CONNS_MAX 16
#define RELAY_CONNECT_MS 5000
#define RELAY_FD_LISTEN 3
#define RELAY_FD_UPSTREAM 4 /* detached clone of /run/user/UID/systemd */
#define RELAY_FD_READY 5    /* a pipe: one byte once listening */

static struct pair pairs[RELAY_CONNS_MAX];
static uint64_t accept_paused_until; /* out of fds or memory: not in a busy loop */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void upstream_connect(struct pair *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/private", RELAY_FD_UPSTREAM);
	if (connect(p->fd[1], (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		p->connecting = false;
		return;
	}
	/* A full backlog (EAGAIN on a non-blocking AF_UNIX connect): again
	 * later, until the deadline. Anything else, or too late: give up. */
	if ((errno != EAGAIN && errno != EINTR) || now_ms() >= p->deadline_ms)
		pair_close(p);
}

static void on_accept(void)
{
	struct pair *p = NULL;
	int c;

	for (size_t i = 0; i < RELAY_CONNS_MAX && !p; i++)
		if (!pairs[i].used)
			p = &pairs[i];
	if (!p)
		return;
	c = accept4(RELAY_FD_LISTEN, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			accept_paused_until = now_ms() + 100;
		return;
	}
	p->used = p->connecting = true;
	p->fd[0] = c;
	p->fd[1] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	p->deadline_ms = now_ms() + RELAY_CONNECT_MS;
	p->d = mmap(NULL, 2 * sizeof(struct dir), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->d == MAP_FAILED) {
		p->d = NULL;
		pair_close(p);
		return;
	}
	for (int k = 0; k < 2; k++)
		dir_reset(&p->d[k]);
	if (p->fd[1] < 0) {
		pair_close(p);
		return;
	}
	upstream_connect(p);
}

static _Noreturn void relay_loop(void)
{
	for (size_t i = 0; i < RELAY_CONNS_MAX; i++)
		pairs[i].fd[0] = pairs[i].fd[1] = -1;
	for (;;) {
		struct pollfd pfd[1 + 2 * RELAY_CONNS_MAX];
		size_t used = 0;
		bool connecting = false, paused = now_ms() < accept_paused_until;

		for (size_t i = 0; i < RELAY_CONNS_MAX; i++) {
			struct pair *p = &pairs[i];
			for (int k = 0; k < 2; k++) {
				short ev = 0;
				if (p->used && !p->connecting) {
					/* fd k is read for d[k] and written for d[1-k]. */
					if (dir_room(&p->d[k]))
						ev |= POLLIN;
					if (p->d[1 - k].len > p->d[1 - k].off)
						ev |= POLLOUT;
				}
				/* Not asked for anything: not polled (a hangup
				 * would wake us again and again). */
				pfd[1 + 2 * i + (size_t)k] = (struct pollfd){ .fd = ev ? p->fd[k] : -1,
									    .events = ev };
			}
			if (p->used) {
				used++;
				connecting |= p->connecting;
			}
		}
		pfd[0] = (struct pollfd){ .fd = used < RELAY_CONNS_MAX && !paused ? RELAY_FD_LISTEN : -1,
					  .events = POLLIN };
		if (poll(pfd, 1 + 2 * RELAY_CONNS_MAX, connecting ? 20 : paused ? 100 : -1) < 0 &&
		    errno != EINTR)
			_exit(1);
		if (pfd[0].revents & POLLIN)
			on_accept();
		for (size_t i = 0; i < RELAY_CONNS_MAX; i++) {
			struct pair *p = &pairs[i];
			if (!p->used)
				continue;
			short re[2] = { pfd[1 + 2 * i].revents, pfd[2 + 2 * i].revents };
			pair_step(p, re);
		}
	}
}

int main(int argc, char **argv)
{
	sigset_t none;
	struct stat st;

	/* Not dumpable from the start: the user's processes share our uid. */
	prctl(PR_SET_DUMPABLE, 0);
	if (argc != 1 || fstat(RELAY_FD_LISTEN, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    fstat(RELAY_FD_READY, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		static const char msg[] = "nscell-relay: started by nscell-open in a cell only\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		return 1;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fcntl(RELAY_FD_LISTEN, F_SETFL, O_NONBLOCK);
	for (int fd = RELAY_FD_LISTEN; fd <= RELAY_FD_READY; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);

	/* SO_PEERCRED of every connection is this call's: our pid, the user. */
	if (listen(RELAY_FD_LISTEN, 64) < 0)
		return 1;
	if (write(RELAY_FD_READY, "1", 1) != 1)
		return 1;
	close(RELAY_FD_READY);
	relay_loop();
}
