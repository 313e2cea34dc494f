#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# pam_nscell.so is loaded into every login through PAM, exempt ones included:
# it may need libpam and the C library, nothing else (no libcap, no
# libseccomp: lib/capability.c and lib/restrict.c do their part by syscall).
# Usage: test-module-libs.sh READELF PAM_NSCELL_SO
set -eu
needed=$("$1" -d "$2" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "no NEEDED entries read from $2" >&2; exit 1; }
bad=0
for lib in $needed; do
	case $lib in
	libpam.so.*|libc.so.*) echo "ok   $lib" ;;
	# A sanitized build's own runtime (tools/test-sanitized), never shipped.
	libasan.so.*|libubsan.so.*) echo "ok   $lib (sanitizer runtime)" ;;
	*) echo "FAIL $2 needs $lib" >&2; bad=1 ;;
	esac
done
exit $bad
