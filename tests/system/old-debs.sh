#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# old-debs.sh COMMIT CACHE: the .debs of an earlier release, built once.
#
# The upgrade check installs a package built from git history (the 0.1.0
# release) before this checkout's. Building it costs half a minute, so the
# result is kept in CACHE/debs-<host release>/<commit>/ and reused by every
# later run; the commit is the key (its tree never changes). The source is
# `git archive COMMIT` (no worktree: the repository's metadata is left as it
# is), built with that commit's own tools/build-deb on this machine.
# Prints the directory. Exit status 0, or 1 with the build's log on stderr.
set -euo pipefail

commit=$1 cache=$2
here=$(cd "$(dirname "$0")" && pwd)
host_release=$(. /etc/os-release 2>/dev/null && echo "${VERSION_ID:-unknown}")
full=$(git -C "$here" rev-parse --verify --quiet "$commit^{commit}") || {
	echo "old-debs.sh: commit $commit is not in this checkout's history" >&2
	exit 1
}
dir=$cache/debs-$host_release/$full
mkdir -p "$cache/debs-$host_release"
exec 9>"$cache/debs-$host_release/.lock"
flock 9 # one build per cache, however many runs ask
if ls "$dir"/nscell_*.deb >/dev/null 2>&1; then
	echo "$dir"
	exit 0
fi
work=$(mktemp -d "$cache/debs-$host_release/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" "$work/tmp"
# From the top: in a subdirectory, git archive takes only that subtree.
git -C "$here/../.." archive "$full" | tar -x -C "$work/src"
# The cache may lie inside a checkout (tests/system/cache by default): git
# must not take the extracted tree for part of that one, or the old
# build-deb copies the outer checkout's file list, which has none of it.
if ! GIT_CEILING_DIRECTORIES=$work TMPDIR=$work/tmp "$work/src/tools/build-deb" --no-check "$work/out" >"$work/build.log" 2>&1; then
	cat "$work/build.log" >&2
	exit 1
fi
mv "$work/out" "$dir"
echo "$dir"
