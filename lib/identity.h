/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who a login is: uid, primary gid and every group name, resolved through NSS
 * (so LDAP/SSSD groups count). The NSS calls go through an ops table so unit
 * tests can stub them.
 */
#pragma once

#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

#include "policy.h"

struct nscell_nss_ops {
	int (*getpwnam_r)(const char *name, struct passwd *pwd, char *buf, size_t buflen,
			  struct passwd **result);
	int (*getgrouplist)(const char *user, gid_t group, gid_t *groups, int *ngroups);
	int (*getgrgid_r)(gid_t gid, struct group *grp, char *buf, size_t buflen,
			  struct group **result);
};

/* The real NSS functions of libc. */
extern const struct nscell_nss_ops nscell_nss_libc;

struct nscell_identity {
	char *user;
	uid_t uid;
	gid_t gid;
	char *home;
	char *shell;
	gid_t *gids;   /* primary first */
	char **groups; /* names, same order as gids; a gid without a name is "#<gid>" */
	size_t n_groups;
};

/* Returns 0, -ENOENT if the user does not exist, or another -errno. */
int nscell_identity_resolve(const char *user, const struct nscell_nss_ops *ops,
			    struct nscell_identity **ret);

/*
 * The same without groups: the passwd entry only (gids holds the primary gid,
 * groups is NULL), for the login path when the policy matches no Group:
 * a fresh process pays for loading NSS group modules on its first lookup.
 * nscell_identity_add_groups() completes it later if needed.
 */
int nscell_identity_resolve_user(const char *user, const struct nscell_nss_ops *ops,
				 struct nscell_identity **ret);
/* The same from a passwd entry resolved elsewhere (nscell-open: by its root
 * caller, in the same way): no NSS call. 0 or -ENOMEM. */
int nscell_identity_from_passwd(const char *user, uid_t uid, gid_t gid, const char *home,
				const char *shell, struct nscell_identity **ret);
int nscell_identity_add_groups(struct nscell_identity *id, const struct nscell_nss_ops *ops);
/* The gids (primary first) resolved elsewhere (nscell-open: by its root
 * caller); names stay unknown. 0 or -ENOMEM. */
int nscell_identity_set_gids(struct nscell_identity *id, const gid_t *gids, size_t n);
void nscell_identity_free(struct nscell_identity *id);

/* Fill a struct nscell_login from an identity; strings stay owned by the identity. */
void nscell_identity_to_login(const struct nscell_identity *id, const char *service,
			      const char *rhost, const char *tty, struct nscell_login *ret);
