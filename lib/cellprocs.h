/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A cell's processes as the host sees them, from /proc: which processes are
 * in the cell's pid namespace, their host and cell pids (NSpid), and the
 * memory they use (Pss from smaps_rollup; VmRSS where that cannot be read).
 *
 * The cell's pid namespace is taken from its init, and the init is checked
 * to be that cell's before anything is believed: its command line is
 * "nscell-init\0<id>\0" and it is PID 1 of its namespace. Every per-process
 * read goes through an fd of /proc/<pid> whose pid namespace is checked
 * first, so a pid reused between the scan and the read is not mistaken for a
 * process of the cell.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nscell_ns_id {
	dev_t dev;
	ino_t ino;
};

static inline bool nscell_ns_id_eq(const struct nscell_ns_id *a, const struct nscell_ns_id *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/*
 * nscell_cell_init_open - open /proc/<pid> and check that it is the init of
 * cell `id`. Returns 0 with an fd pinning that process (reads through it fail
 * once it has gone, whatever reuses its pid) and its pid namespace, -ESRCH if
 * it is not (or no longer) that init, or another -errno.
 */
int nscell_cell_init_open(pid_t pid, const char *id, int *ret_procfd, struct nscell_ns_id *ret_pidns);

/*
 * nscell_cell_init_pidfd - a pidfd of the init opened above: pidfd_open(pid),
 * then the check once more through procfd. A process that still answers
 * through procfd after the pidfd was made is the one the pidfd refers to.
 * Returns 0, -ESRCH if the init has gone, or another -errno.
 */
int nscell_cell_init_pidfd(int procfd, pid_t pid, const char *id, int *ret_pidfd);

/* Every process on the host with its pid namespace, sorted by pid. */
struct nscell_host_proc {
	pid_t pid;
	struct nscell_ns_id pidns;
};
struct nscell_host_procs {
	struct nscell_host_proc *v;
	size_t n;
};
int nscell_host_procs_scan(struct nscell_host_procs *ret);
void nscell_host_procs_free(struct nscell_host_procs *h);

enum {
	NSCELL_PROC_CMDLINE = 1u << 0,
	NSCELL_PROC_MEMORY = 1u << 1,
};

struct nscell_proc_info {
	pid_t pid;      /* host */
	pid_t ppid;     /* host */
	pid_t cell_pid; /* the last NSpid entry: the pid inside the cell */
	uid_t uid;      /* real uid, as the host sees it */
	char state;
	char comm[32];
	char *cmdline;  /* NSCELL_PROC_CMDLINE: arguments joined by spaces, raw bytes: escape to print */
	uint64_t memory; /* NSCELL_PROC_MEMORY: bytes */
	bool memory_pss; /* ... Pss (else VmRSS) */
};

/*
 * nscell_proc_info_read - what /proc says of host process `pid`, provided it
 * is (still) in pid namespace `pidns`. Returns 0, -ESRCH if it has gone or
 * is in another namespace, or another -errno.
 */
int nscell_proc_info_read(pid_t pid, const struct nscell_ns_id *pidns, unsigned flags,
			  struct nscell_proc_info *ret);
void nscell_proc_info_done(struct nscell_proc_info *p);
