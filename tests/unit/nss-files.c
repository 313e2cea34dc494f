/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "nss-files.h"

static const char *nss_dir;

static FILE *open_db(const char *name)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", nss_dir, name) < 0)
		return NULL;
	return fopen(path, "re");
}

static int files_getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen,
			    struct passwd **result)
{
	_cleanup_fclose_ FILE *f = open_db("passwd");
	int r;

	*result = NULL;
	if (!f)
		return errno;
	while ((r = fgetpwent_r(f, pwd, buf, buflen, result)) == 0)
		if (strcmp(pwd->pw_name, name) == 0)
			return 0;
	*result = NULL;
	return r == ENOENT ? 0 : r;
}

static int files_getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t buflen,
			    struct group **result)
{
	_cleanup_fclose_ FILE *f = open_db("group");
	int r;

	*result = NULL;
	if (!f)
		return errno;
	while ((r = fgetgrent_r(f, grp, buf, buflen, result)) == 0)
		if (grp->gr_gid == gid)
			return 0;
	*result = NULL;
	return r == ENOENT ? 0 : r;
}

/* Like glibc: the given group first, then every group listing the user. */
static int files_getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	_cleanup_fclose_ FILE *f = open_db("group");
	struct group grp, *res;
	char buf[4096];
	int n = 0;

	if (*ngroups > 0)
		groups[0] = group;
	n = 1;
	while (f && fgetgrent_r(f, &grp, buf, sizeof(buf), &res) == 0) {
		if (grp.gr_gid == group)
			continue;
		for (char **m = grp.gr_mem; m && *m; m++)
			if (strcmp(*m, user) == 0) {
				if (n < *ngroups)
					groups[n] = grp.gr_gid;
				n++;
				break;
			}
	}
	if (n > *ngroups) {
		*ngroups = n;
		return -1;
	}
	*ngroups = n;
	return n;
}

static const struct nscell_nss_ops files_ops = {
	.getpwnam_r = files_getpwnam_r,
	.getgrouplist = files_getgrouplist,
	.getgrgid_r = files_getgrgid_r,
};

const struct nscell_nss_ops *nscell_test_nss_files(const char *dir)
{
	nss_dir = dir;
	return &files_ops;
}
