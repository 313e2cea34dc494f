/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fuzzers' leak check: which descriptors are open, one flag per fd
 * number. Take it at the start of each input and compare at its end, never
 * against a count from the first input: between inputs the fuzzer's own
 * runtime opens descriptors (its symbolizer's pipes and /dev/null, the first
 * time it prints a newly covered function), which no code under test made.
 */
#pragma once

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>

#define FUZZ_FD_SCAN 1024

struct open_fds {
	bool open[FUZZ_FD_SCAN];
};

static inline void open_fds_get(struct open_fds *ret)
{
	for (int fd = 0; fd < FUZZ_FD_SCAN; fd++)
		ret->open[fd] = fcntl(fd, F_GETFD) >= 0;
}

/* The same descriptors as `before`, no more and no fewer. */
static inline bool open_fds_unchanged(const struct open_fds *before)
{
	struct open_fds now;

	open_fds_get(&now);
	return memcmp(before->open, now.open, sizeof(now.open)) == 0;
}
