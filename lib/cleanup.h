/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scope-bound cleanup, so that every early return releases what it holds.
 * TAKE_FD / TAKE_PTR hand ownership out of a scope.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

static inline void nscell_freep(void *p)
{
	free(*(void **)p);
}

static inline void nscell_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void nscell_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void nscell_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_ __attribute__((cleanup(nscell_freep)))
#define _cleanup_close_ __attribute__((cleanup(nscell_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(nscell_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(nscell_closedirp)))

#define TAKE_FD(fd)                \
	({                         \
		int _fd_ = (fd);   \
		(fd) = -1;         \
		_fd_;              \
	})

#define TAKE_PTR(p)                        \
	({                                 \
		__typeof__(p) _p_ = (p);   \
		(p) = NULL;                \
		_p_;                       \
	})

#define NSCELL_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
