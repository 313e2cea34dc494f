/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user's side of `nscell enter` never gets root's terminal.
 *
 * A process given root's tty as an fd, or in root's session with it as its
 * controlling terminal, can push input into it (TIOCSTI) that root's shell
 * runs once enter returns, or keep reading what root types next. So, as
 * `su --pty` and `machinectl shell` do, the command runs in a new session on
 * a new pty (or on pipes, when stdin is not a terminal), and this process
 * copies bytes between root's fds and that pty from root's side:
 *
 *   stdin a terminal: a new pty, its slave the child's controlling terminal
 *     and fds 0-2; root's terminal in raw mode while relaying (restored on
 *     every way out but SIGKILL), its window size passed on at start and on
 *     SIGWINCH, its modes copied to the pty at start. Three ^] within a
 *     second kill the command: root can always leave, whatever it does.
 *   otherwise: three pipes; the child is still in a session of its own,
 *     without a controlling terminal.
 *
 * Relaying ends when the command exits: what it wrote until then is passed
 * on (what is buffered, no more than a bound), then this side's ends are
 * closed, so a process it left behind reads nothing root types later and
 * can no longer write to root's terminal or pipes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <termios.h>

struct cli_relay {
	bool pty;
	int master;       /* pty: the master, ours */
	int child_fd[3];  /* what the child gets as 0, 1, 2 */
	int ours[3];      /* pipes: our ends (stdin's write end, stdout's and stderr's read ends) */
	bool raw;         /* root's terminal is in raw mode: restore `saved` */
	bool escaped;     /* root typed ^] three times: the command was killed */
	struct termios saved;
	char tty_name[64]; /* pty: the slave's name, for the session's record */
};

/* Before the fork: the pty (or pipes). Returns 0 or -errno, with a sentence in err. */
int cli_relay_open(struct cli_relay *r, char *err, size_t errlen);

/* In the child, before anything else: a new session, the pty as its
 * controlling terminal, fds 0-2 from the relay, every other fd close-on-exec
 * (the ones the child still needs until exec stay open). Returns 0 or -errno. */
int cli_relay_child(struct cli_relay *r);

/*
 * cli_relay_run - relay until `pid` (our child) exits; SIGTERM, SIGHUP,
 * SIGINT and SIGQUIT sent to us are passed on to its process group; a
 * SIGTSTP from outside stops us with root's terminal restored. The signals
 * of cli_relay_signals() must be blocked by the caller. Stores the wait
 * status. Returns 0 or -errno.
 */
int cli_relay_run(struct cli_relay *r, pid_t pid, int *ret_status);

/* Restores root's terminal and closes everything; safe to call more than once. */
void cli_relay_close(struct cli_relay *r);

/* The signals cli_relay_run() reads, to be blocked before the fork. */
void cli_relay_signals(sigset_t *ret);
