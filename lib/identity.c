/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resolving a login name to uid, gid and group names through NSS.
 *
 * Buffers start small and grow on ERANGE: LDAP and SSSD entries can be far
 * larger than sysconf() suggests. A group without a name gets "#<gid>", but
 * an NSS failure is an error, never "no groups": a transient LDAP outage must
 * not change which Match block a user falls into.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "identity.h"

#define NSS_BUFFER_START 1024
#define NSS_BUFFER_MAX (1024 * 1024) /* an entry larger than this is not an account */
#define GROUPS_MAX 65536             /* NGROUPS_MAX on Linux */

const struct nscell_nss_ops nscell_nss_libc = {
	.getpwnam_r = getpwnam_r,
	.getgrouplist = getgrouplist,
	.getgrgid_r = getgrgid_r,
};

void nscell_identity_free(struct nscell_identity *id)
{
	if (!id)
		return;
	if (id->groups)
		for (size_t i = 0; i < id->n_groups; i++)
			free(id->groups[i]);
	free(id->groups);
	free(id->gids);
	free(id->user);
	free(id->home);
	free(id->shell);
	free(id);
}

static int grow(char **buf, size_t *size)
{
	char *b;

	if (*size >= NSS_BUFFER_MAX)
		return -ERANGE;
	b = realloc(*buf, *size * 2);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*size *= 2;
	return 0;
}

/* Some NSS modules say "not found" with an errno instead of a NULL result. */
static bool nss_not_found(int r)
{
	return r == ENOENT || r == ESRCH;
}

static int lookup_user(const char *user, const struct nscell_nss_ops *ops, struct nscell_identity *id)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = NSS_BUFFER_START;
	struct passwd pw, *res = NULL;
	int r;

	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		r = ops->getpwnam_r(user, &pw, buf, size, &res);
		if (r != ERANGE)
			break;
		r = grow(&buf, &size);
		if (r < 0)
			return r;
	}
	if ((r == 0 && !res) || nss_not_found(r))
		return -ENOENT;
	if (r != 0)
		return -r;

	id->uid = pw.pw_uid;
	id->gid = pw.pw_gid;
	id->user = strdup(pw.pw_name);
	id->home = strdup(pw.pw_dir ?: "");
	id->shell = strdup(pw.pw_shell ?: "");
	if (!id->user || !id->home || !id->shell)
		return -ENOMEM;
	return 0;
}

static int lookup_gids(const struct nscell_nss_ops *ops, struct nscell_identity *id)
{
	int n = 32, count;
	gid_t *gids = NULL;

	for (;;) {
		gid_t *g = reallocarray(gids, (size_t) n, sizeof(gid_t));
		if (!g) {
			free(gids);
			return -ENOMEM;
		}
		gids = g;

		int ng = n;
		count = ops->getgrouplist(id->user, id->gid, gids, &ng);
		if (count >= 0) {
			count = ng < count ? ng : count;
			break;
		}
		/* Too small: glibc says how many there are; others may not. */
		if (n >= GROUPS_MAX) {
			free(gids);
			return -E2BIG;
		}
		n = ng > n ? ng : n * 2;
		if (n > GROUPS_MAX)
			n = GROUPS_MAX;
	}

	/* The primary group first, then each supplementary group once. */
	id->gids = calloc((size_t) count + 1, sizeof(gid_t));
	if (!id->gids) {
		free(gids);
		return -ENOMEM;
	}
	id->gids[id->n_groups++] = id->gid;
	for (int i = 0; i < count; i++) {
		bool seen = false;
		for (size_t j = 0; j < id->n_groups && !seen; j++)
			seen = id->gids[j] == gids[i];
		if (!seen)
			id->gids[id->n_groups++] = gids[i];
	}
	free(gids);
	return 0;
}

static int lookup_group_name(const struct nscell_nss_ops *ops, gid_t gid, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = NSS_BUFFER_START;
	struct group gr, *res = NULL;
	int r;

	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		r = ops->getgrgid_r(gid, &gr, buf, size, &res);
		if (r != ERANGE)
			break;
		r = grow(&buf, &size);
		if (r < 0)
			return r;
	}
	if (r != 0 && !nss_not_found(r))
		return -r;
	if (r == 0 && res && res->gr_name)
		*ret = strdup(res->gr_name);
	else if (asprintf(ret, "#%u", (unsigned) gid) < 0)
		*ret = NULL;
	return *ret ? 0 : -ENOMEM;
}

int nscell_identity_add_groups(struct nscell_identity *id, const struct nscell_nss_ops *ops)
{
	int r;

	if (id->groups)
		return 0;
	if (!ops)
		ops = &nscell_nss_libc;
	free(id->gids);
	id->gids = NULL;
	id->n_groups = 0;
	r = lookup_gids(ops, id);
	if (r < 0)
		return r;
	id->groups = calloc(id->n_groups, sizeof(char *));
	if (!id->groups)
		return -ENOMEM;
	for (size_t i = 0; i < id->n_groups; i++) {
		r = lookup_group_name(ops, id->gids[i], &id->groups[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int nscell_identity_set_gids(struct nscell_identity *id, const gid_t *gids, size_t n)
{
	gid_t *copy;

	if (id->groups || n == 0)
		return -EINVAL; /* names and gids go together */
	copy = calloc(n, sizeof(gid_t));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, gids, n * sizeof(gid_t));
	free(id->gids);
	id->gids = copy;
	id->n_groups = n;
	return 0;
}

int nscell_identity_resolve_user(const char *user, const struct nscell_nss_ops *ops,
				 struct nscell_identity **ret)
{
	struct nscell_identity *id;
	int r;

	if (!user || !user[0] || !ret)
		return -EINVAL;
	if (!ops)
		ops = &nscell_nss_libc;
	id = calloc(1, sizeof(*id));
	if (!id)
		return -ENOMEM;
	r = lookup_user(user, ops, id);
	if (r == 0) {
		id->gids = calloc(1, sizeof(gid_t));
		if (!id->gids)
			r = -ENOMEM;
	}
	if (r < 0) {
		nscell_identity_free(id);
		return r;
	}
	id->gids[0] = id->gid;
	id->n_groups = 1;
	*ret = id;
	return 0;
}

int nscell_identity_from_passwd(const char *user, uid_t uid, gid_t gid, const char *home,
				const char *shell, struct nscell_identity **ret)
{
	struct nscell_identity *id = calloc(1, sizeof(*id));

	if (!id)
		return -ENOMEM;
	id->uid = uid;
	id->gid = gid;
	id->user = strdup(user);
	id->home = strdup(home);
	id->shell = strdup(shell);
	id->gids = calloc(1, sizeof(gid_t));
	if (!id->user || !id->home || !id->shell || !id->gids) {
		nscell_identity_free(id);
		return -ENOMEM;
	}
	id->gids[0] = gid;
	id->n_groups = 1;
	*ret = id;
	return 0;
}

int nscell_identity_resolve(const char *user, const struct nscell_nss_ops *ops,
			    struct nscell_identity **ret)
{
	struct nscell_identity *id;
	int r;

	r = nscell_identity_resolve_user(user, ops, &id);
	if (r < 0)
		return r;
	r = nscell_identity_add_groups(id, ops);
	if (r < 0) {
		nscell_identity_free(id);
		return r;
	}
	*ret = id;
	return 0;
}

void nscell_identity_to_login(const struct nscell_identity *id, const char *service,
			      const char *rhost, const char *tty, struct nscell_login *ret)
{
	*ret = (struct nscell_login) {
		.user = id->user,
		.uid = id->uid,
		.groups = (const char *const *) id->groups,
		.n_groups = id->groups ? id->n_groups : 0,
		.service = service,
		.rhost = rhost,
		.tty = tty,
	};
}
