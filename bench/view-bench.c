/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-bench-view — what the view costs the setup of a cell, apart from
 * everything else a login does.
 *
 *   nscell-bench-view [-n N] POLICY USER
 *
 * Decides for USER with POLICY, then N rounds of two children each, in
 * turn: each makes a new mount namespace with / slave, as the setup child
 * does, and times helper/view.c's view_setup() in it, once with the
 * decided settings and once with the view keys at their defaults (the
 * call that returns at once). One line per round: none_ns view_ns.
 * Mounts die with each child's namespace.
 *
 * A forked child faults in each page of code it runs for the first time
 * (fork copies no page tables of program text). By view_setup(), cell.c's
 * setup child has formatted its tmpfs options with snprintf(); each child
 * here does the same first, untimed, so the figure is what the view adds
 * to that child and not the C library's formatting code. Linked as the
 * helper is (bind now, bench/meson.build).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"
#include "identity.h"
#include "policy.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t one(const struct helper_login *l)
{
	int p[2];
	int64_t ns = -1;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char err[256];
		int64_t t0, t;

		close(p[0]);
		/* as cell.c's tmpfs_options() does before the view */
		snprintf(err, sizeof(err), "mode=%04o,size=%" PRIu64, 01777u, (uint64_t)1 << 30);
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
			_exit(1);
		t0 = now_ns();
		if (view_setup(l, err, sizeof(err)) < 0) {
			fprintf(stderr, "nscell-bench-view: %s\n", err);
			_exit(1);
		}
		t = now_ns() - t0;
		(void)!write(p[1], &t, sizeof(t));
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &ns, sizeof(ns)) != sizeof(ns))
		ns = -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return ns;
}

int main(int argc, char **argv)
{
	struct nscell_policy *policy = NULL;
	struct nscell_identity *id = NULL;
	struct nscell_diag diag = {};
	struct nscell_decision d;
	struct nscell_login login;
	struct nscell_settings none;
	struct helper_login with = {}, without = {};
	int n = 100, opt;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			n = atoi(optarg);
	if (argc - optind != 2) {
		fprintf(stderr, "usage: nscell-bench-view [-n N] POLICY USER\n");
		return 2;
	}
	if (nscell_policy_load(argv[optind], NULL, 0, &policy, &diag) < 0 ||
	    nscell_identity_resolve(argv[optind + 1], &nscell_nss_libc, &id) < 0) {
		fprintf(stderr, "nscell-bench-view: cannot read the policy or the user\n");
		return 1;
	}
	nscell_identity_to_login(id, "sshd", NULL, NULL, &login);
	if (nscell_policy_decide(policy, &login, &d) < 0)
		return 1;
	none = d.settings;
	none.protect_home = NSCELL_PROTECT_HOME_NO;
	none.protect_system = NSCELL_PROTECT_SYSTEM_NO;
	memset(none.view_paths, 0, sizeof(none.view_paths));
	with = (struct helper_login) { .id = id, .settings = &d.settings };
	without = (struct helper_login) { .id = id, .settings = &none };
	for (int i = 0; i < n; i++) {
		int64_t a = one(&without), b = one(&with);
		if (a < 0 || b < 0)
			return 1;
		printf("%lld %lld\n", (long long)a, (long long)b);
	}
	nscell_policy_free(policy);
	nscell_identity_free(id);
	return 0;
}
