/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-bench-policy — the policy verdict of open_session, piece by piece,
 * as pam_nscell's policy_verdict() and the helper make it: the user's passwd
 * entry (nscell_identity_resolve_user), reading the policy, the groups only
 * if the policy matches on groups (nscell_identity_add_groups), deciding.
 *
 *   nscell-bench-policy [-n N] [-s] [-f] CONF USER [SERVICE]
 *
 * One line per iteration, nanoseconds, then page faults:
 *   user load groups decide isolate(0/1) user_only groups_only
 *   faults_user faults_load faults_decide
 * user_only and groups_only are the same two lookups done again with libc
 * directly: getpwnam_r alone, then getgrouplist + getgrgid_r for each group
 * (what a policy with a Group criterion adds). With -s they are done first,
 * so that in a fresh process (-n 1) they pay for NSS's first use (its
 * modules, nsswitch.conf), as the helper does, a fresh process each login.
 * With -f each iteration runs in a fresh child of a process that has
 * resolved the user and the groups: the verdict as pam_nscell makes it in a
 * PAM application's new process (sshd's monitor), NSS warm, the heap and
 * the stack's pages still to be touched.
 */
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "policy.h"

static long faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The two halves of an identity, with libc directly: ns for each. */
static void split(const char *user, long long *ret_user, long long *ret_groups)
{
	static char buf[1 << 16];
	struct passwd pw, *pres = NULL;
	struct group gr, *gres = NULL;
	gid_t gids[512];
	int n = 512;
	long long t0 = now_ns(), t1;

	getpwnam_r(user, &pw, buf, sizeof(buf), &pres);
	t1 = now_ns();
	*ret_user = t1 - t0;
	if (!pres) {
		*ret_groups = 0;
		return;
	}
	if (getgrouplist(user, pw.pw_gid, gids, &n) < 0)
		n = 0;
	for (int i = 0; i < n; i++)
		getgrgid_r(gids[i], &gr, buf, sizeof(buf), &gres);
	*ret_groups = now_ns() - t1;
}

int main(int argc, char **argv)
{
	unsigned n = 1;
	bool split_first = false, fresh = false;
	int c;

	while ((c = getopt(argc, argv, "n:sf")) != -1) {
		if (c == 'n') {
			n = (unsigned)strtoul(optarg, NULL, 10);
		} else if (c == 's') {
			split_first = true;
		} else if (c == 'f') {
			fresh = true;
		} else {
			fprintf(stderr, "usage: nscell-bench-policy [-n N] [-s] [-f] CONF USER [SERVICE]\n");
			return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: nscell-bench-policy [-n N] [-s] [-f] CONF USER [SERVICE]\n");
		return 2;
	}
	const char *conf = argv[optind], *user = argv[optind + 1];
	const char *service = argc - optind > 2 ? argv[optind + 2] : "sshd";
	char *dropin = NULL;

	if (asprintf(&dropin, "%s.d", conf) < 0)
		return 1;
	if (fresh) {
		long long tu, tg;
		split(user, &tu, &tg); /* NSS warm, as in the application */
		fflush(stdout);
	}
	for (unsigned i = 0; i < n; i++) {
		pid_t child = fresh ? fork() : 0;
		if (child < 0)
			return 1;
		if (child > 0) {
			int status;
			if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				return 1;
			continue;
		}
		struct nscell_identity *id = NULL;
		struct nscell_policy *p = NULL;
		struct nscell_diag diag = { 0 };
		struct nscell_decision d;
		struct nscell_login login;
		long long t0, t1, t2, t3, t4, tu = 0, tg = 0;
		long f0, f1, f2, f4;
		int rc;

		if (split_first)
			split(user, &tu, &tg);
		f0 = faults();
		t0 = now_ns();
		rc = nscell_identity_resolve_user(user, &nscell_nss_libc, &id);
		t1 = now_ns();
		f1 = faults();
		if (rc < 0) {
			fprintf(stderr, "cannot resolve %s\n", user);
			return 1;
		}
		rc = nscell_policy_load(conf, dropin, NSCELL_POLICY_CHECK_OWNER, &p, &diag);
		t2 = now_ns();
		f2 = faults();
		if (rc < 0) {
			fprintf(stderr, "policy: %s\n", diag.n_lines ? diag.lines[0] : "error");
			return 1;
		}
		if (nscell_policy_matches_groups(p) && nscell_identity_add_groups(id, &nscell_nss_libc) < 0) {
			fprintf(stderr, "cannot resolve the groups of %s\n", user);
			return 1;
		}
		t3 = now_ns();
		nscell_identity_to_login(id, service, NULL, NULL, &login);
		rc = nscell_policy_decide(p, &login, &d);
		t4 = now_ns();
		f4 = faults();
		if (!split_first)
			split(user, &tu, &tg);
		printf("%lld %lld %lld %lld %d %lld %lld %ld %ld %ld\n", t1 - t0, t2 - t1, t3 - t2, t4 - t3,
		       rc == 0 && d.settings.isolate, tu, tg, f1 - f0, f2 - f1, f4 - f2);
		nscell_policy_free(p);
		nscell_identity_free(id);
		if (fresh) {
			fflush(stdout);
			_exit(0);
		}
	}
	free(dropin);
	return 0;
}
