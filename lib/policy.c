/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading the policy from disk: the main file, then the drop-in directory's
 * *.conf files in strcmp() order, all into one policy.
 *
 * Files are opened once and checked on the open fd (fstat), never by path
 * again. O_NONBLOCK keeps a FIFO planted where a drop-in is expected from
 * blocking a login; it does nothing to regular files. With
 * NSCELL_POLICY_CHECK_OWNER, symlinks are not followed and every file and the
 * directory must be root's and not writable by group or others: the policy
 * decides how root's helper sets up sessions, so only root may write it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "policy-admin.h"
#include "policy-parse.h"

size_t nscell_policy_n_files(const struct nscell_policy *p)
{
	return p ? p->n_files : 0;
}

const char *nscell_policy_file(const struct nscell_policy *p, size_t i)
{
	return p && i < p->n_files ? p->files[i] : NULL;
}

size_t nscell_policy_n_blocks(const struct nscell_policy *p)
{
	return p ? p->n_blocks : 0;
}

int nscell_policy_parse_buffer(const char *name, const char *buf, size_t len,
			       struct nscell_policy **ret, struct nscell_diag *diag)
{
	struct nscell_parser p;
	int r;

	if (!name || (!buf && len > 0) || !ret)
		return -EINVAL;

	r = nscell_parser_init(&p);
	if (r < 0)
		return r;
	if (nscell_parser_add_file(&p, name))
		nscell_parser_feed(&p, buf ?: "", len);
	r = nscell_parser_finish(&p, ret, diag);
	nscell_parser_done(&p);
	return r;
}

/* Read at most limit + 1 bytes: enough to know the file is too large. */
static int read_all(int fd, size_t size_hint, size_t limit, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = (size_hint < limit ? size_hint : limit) + 1;

	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == size) {
			if (size > limit)
				break;
			size_t n = size * 2 > limit + 1 ? limit + 1 : size * 2;
			char *b = realloc(buf, n);
			if (!b)
				return -ENOMEM;
			buf = b;
			size = n;
		}
		ssize_t k = read(fd, buf + len, size - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t) k;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static void note_io_error(struct nscell_parser *p, int r)
{
	if (r == -ENOMEM)
		p->error = r;
	else if (p->io_error == 0)
		p->io_error = r;
}

/* The ownership rule shared by the files and the drop-in directory. */
static void check_owner(struct nscell_parser *p, unsigned file_no, const char *what,
			const struct stat *st)
{
	if (st->st_uid != 0)
		(void) nscell_diag_errorf(&p->diag, file_no, what, 0, 0,
					  "owned by uid %u, the helper will refuse it; expected owner root",
					  (unsigned) st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		(void) nscell_diag_errorf(&p->diag, file_no, what, 0, 0,
					  "writable by group or others (mode %04o), the helper will refuse it; expected chmod go-w",
					  (unsigned) (st->st_mode & 07777));
}

/*
 * Read one file into the parser. For a drop-in (is_dropin), anything that
 * is not a regular file is skipped without a word: the directory may hold
 * dpkg leftovers and editors' files, and only *.conf regular files count.
 */
static void read_policy_file(struct nscell_parser *p, int dirfd, const char *name, const char *display,
			     unsigned flags, bool is_dropin)
{
	bool check_owner_flag = flags & NSCELL_POLICY_CHECK_OWNER;
	int open_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	if (check_owner_flag || is_dropin)
		open_flags |= O_NOFOLLOW;
	fd = openat(dirfd, name, open_flags);
	/* A symlink is skipped like any non-regular entry; a file that vanished
	 * since the directory was listed (dpkg renaming it) was never there. */
	if (fd < 0 && is_dropin && (errno == ELOOP || errno == ENOENT))
		return;
	if (fd >= 0 && fstat(fd, &st) < 0) {
		r = -errno;
		if (nscell_parser_add_file(p, display))
			nscell_parser_file_error(p, "cannot stat: %s; expected a readable policy file", strerror(-r));
		note_io_error(p, r);
		return;
	}
	if (fd >= 0 && is_dropin && !S_ISREG(st.st_mode))
		return;

	if (!nscell_parser_add_file(p, display))
		return;

	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP && check_owner_flag)
			nscell_parser_file_error(p, "is a symbolic link, the helper will refuse it; expected a regular file");
		else
			nscell_parser_file_error(p, "cannot open: %s; expected a readable policy file", strerror(-r));
		note_io_error(p, r);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		nscell_parser_file_error(p, "not a regular file%s; expected a regular file",
					 check_owner_flag ? ", the helper will refuse it" : "");
		return;
	}
	if (check_owner_flag)
		check_owner(p, p->file_no, display, &st);

	if ((uint64_t) st.st_size > NSCELL_POLICY_FILE_MAX) {
		/* Not read at all: one error says it all. */
		nscell_parser_file_error(p, "file is larger than 1 MiB (%jd bytes); expected a smaller policy file",
					 (intmax_t) st.st_size);
		return;
	}
	r = read_all(fd, (size_t) st.st_size, NSCELL_POLICY_FILE_MAX, &buf, &len);
	if (r < 0) {
		nscell_parser_file_error(p, "cannot read: %s; expected a readable policy file", strerror(-r));
		note_io_error(p, r);
		return;
	}
	nscell_parser_feed(p, buf, len);
}

/* [A-Za-z0-9_.-]+\.conf: what dpkg (.dpkg-old, .dpkg-dist), editors (~, .swp)
 * and half-written files (.tmp) never produce. */
static bool dropin_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len <= 5 || strcmp(name + len - 5, ".conf") != 0)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * The valid names in the directory open on fd, read with getdents64 into a
 * buffer on this frame: a login's process pays for no DIR stream (its 32 kB
 * buffer and the fstat and fcntl calls of fdopendir) to list what is
 * usually an empty directory. Not inlined, so that the buffer is off the
 * stack while the files are parsed (the parse is the deepest the stack of
 * a login's process goes in pam_nscell). Returns 0 or -errno (-ENOMEM:
 * nothing is returned; another error: the names read before it).
 */
static __attribute__((noinline)) int list_dropins(int fd, char ***ret, size_t *ret_n)
{
	char buf[2048] __attribute__((aligned(8)));
	char **names = NULL;
	size_t n_names = 0;
	ssize_t len;

	while ((len = getdents64(fd, buf, sizeof(buf))) != 0) {
		if (len < 0) {
			if (errno == EINTR)
				continue;
			*ret = names;
			*ret_n = n_names;
			return -errno;
		}
		for (ssize_t pos = 0; pos < len;) {
			const struct dirent64 *de = (const struct dirent64 *) (buf + pos);

			pos += de->d_reclen;
			if (!dropin_name_valid(de->d_name))
				continue;
			char **n = reallocarray(names, n_names + 1, sizeof(char *));
			if (!n || !(n[n_names] = strdup(de->d_name))) {
				free_names(n ?: names, n_names);
				return -ENOMEM;
			}
			names = n;
			n_names++;
		}
	}
	*ret = names;
	*ret_n = n_names;
	return 0;
}

static void read_dropin_dir(struct nscell_parser *p, const char *dir, unsigned flags)
{
	/* Errors about the directory sort after the main file's. */
	unsigned file_no = (unsigned) p->policy->n_files + 1;
	_cleanup_close_ int fd = -1;
	char **names = NULL;
	size_t n_names = 0;
	struct stat st;
	int r;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | ((flags & NSCELL_POLICY_CHECK_OWNER) ? O_NOFOLLOW : 0));
	if (fd < 0) {
		if (errno == ENOENT)
			return; /* no drop-ins */
		r = -errno;
		(void) nscell_diag_errorf(&p->diag, file_no, dir, 0, 0, "cannot open drop-in directory: %s; expected a readable directory",
					  strerror(-r));
		note_io_error(p, r);
		return;
	}
	if (fstat(fd, &st) < 0) {
		note_io_error(p, -errno);
		return;
	}
	if (flags & NSCELL_POLICY_CHECK_OWNER)
		check_owner(p, file_no, dir, &st);

	r = list_dropins(fd, &names, &n_names);
	if (r == -ENOMEM) {
		p->error = r;
		return;
	}
	if (r < 0) {
		(void) nscell_diag_errorf(&p->diag, file_no, dir, 0, 0, "cannot list drop-in directory: %s; expected a readable directory",
					  strerror(-r));
		note_io_error(p, r);
	}

	if (n_names > 0)
		qsort(names, n_names, sizeof(char *), compare_names);

	size_t dir_len = strlen(dir);
	bool slash = dir_len > 0 && dir[dir_len - 1] == '/';
	for (size_t i = 0; i < n_names && p->error == 0; i++) {
		_cleanup_free_ char *display = NULL;

		if (asprintf(&display, "%s%s%s", dir, slash ? "" : "/", names[i]) < 0) {
			display = NULL;
			p->error = -ENOMEM;
			break;
		}
		read_policy_file(p, fd, names[i], display, flags, true);
	}
	free_names(names, n_names);
}

int nscell_policy_load(const char *main_path, const char *dropin_dir, unsigned flags,
		       struct nscell_policy **ret, struct nscell_diag *diag)
{
	struct nscell_parser p;
	int r;

	if (!main_path || !ret)
		return -EINVAL;

	r = nscell_parser_init(&p);
	if (r < 0)
		return r;

	read_policy_file(&p, AT_FDCWD, main_path, main_path, flags, false);
	/* Without the main file there is no policy to add drop-ins to. */
	if (p.io_error == 0 && p.error == 0 && dropin_dir)
		read_dropin_dir(&p, dropin_dir, flags);

	r = nscell_parser_finish(&p, ret, diag);
	nscell_parser_done(&p);
	return r;
}

int nscell_policy_load_files(const char *const *paths, size_t n, unsigned flags,
			     struct nscell_policy **ret, struct nscell_diag *diag)
{
	struct nscell_parser p;
	int r;

	if (!paths || n == 0 || !ret)
		return -EINVAL;

	r = nscell_parser_init(&p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && p.error == 0; i++)
		read_policy_file(&p, AT_FDCWD, paths[i], paths[i], flags, false);
	r = nscell_parser_finish(&p, ret, diag);
	nscell_parser_done(&p);
	return r;
}
