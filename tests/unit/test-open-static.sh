#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The musl build of nscell-open must never resolve a user or a group itself:
# musl's NSS reads /etc/passwd and /etc/group only, which is wrong for
# LDAP/SSSD users. What it needs comes in the module's request; anything
# else is handed to nscell-open-full (helper/open.c). It is static (no
# interpreter) and links no name-service or loader function.
# Usage: test-open-static.sh NM READELF NSCELL_OPEN
set -eu
nm=$1 readelf=$2 bin=$3
if "$readelf" -l "$bin" | grep -q INTERP; then
	echo "FAIL $bin has a program interpreter: not static" >&2
	exit 1
fi
syms=$("$nm" "$bin")
[ -n "$syms" ] || { echo "no symbols read from $bin (stripped?)" >&2; exit 1; }
bad=$(printf '%s\n' "$syms" | awk '{print $NF}' |
	grep -E '^(getpw|getgr|getsp|initgroups|getgrouplist|setpwent|setgrent|dlopen|dlsym|__nss)' || true)
if [ -n "$bad" ]; then
	printf 'FAIL %s references: %s\n' "$bin" "$(echo $bad)" >&2
	exit 1
fi
echo "ok   $bin: static, $(printf '%s\n' "$syms" | wc -l) symbols, none for NSS or dlopen"
