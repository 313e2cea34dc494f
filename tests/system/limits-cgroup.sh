# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2016,SC2154
#
# The system test's checks of limits without systemd (sourced by run.sh,
# which defines check, note, as_root): nscell's own cgroups below
# /sys/fs/cgroup/nscell.cells. The guest boots systemd, so the checks run
# su logins in a private mount namespace where /run/systemd is an empty
# tmpfs (so /run/systemd/system does not exist): there, as on a host whose
# init is not systemd, the helper takes the cgroup path (lib/limits.c) and
# pam_systemd does nothing. Everything
# happens in one guest command (a few seconds under emulation).

limits_cgroup_guest='set -u
cat >/etc/security/nscell.conf.d/50-limits-cg.conf <<EOF
Match User alice
    MemoryMax 64M
    TasksMax 200
EOF
top=/sys/fs/cgroup/nscell.cells
timeout 100 unshare -m bash -s <<"IN"
top=/sys/fs/cgroup/nscell.cells
# The journal stays reachable (/dev/log leads into /run/systemd/journal).
mkdir -p /run/nscell-cg-journal && mount --bind /run/systemd/journal /run/nscell-cg-journal || exit 1
mount -t tmpfs -o mode=0755,size=64k nscell-nosd /run/systemd || exit 1
mkdir /run/systemd/journal && mount --move /run/nscell-cg-journal /run/systemd/journal || exit 1
nscell explain --service su alice | sed -n "s/^Limits: *//p" | head -n 1 | sed "s/^/explain=/"
# A held session: where it and its init are, and its cgroup files.
su - alice -s /bin/bash -c "exec sleep 40" </dev/null >/dev/null 2>&1 &
held=$!
cg=
for i in $(seq 100); do
	s=$(pgrep -u alice -x sleep | head -n 1)
	[ -n "$s" ] && cg=$(sed -n "s/^0:://p" /proc/$s/cgroup) && break
	sleep 0.1
done
echo "held_cg=$cg"
d=/sys/fs/cgroup$cg
echo "limits=$(cat $d/memory.max $d/pids.max | tr "\n" " ")"
echo "owners=$(stat -c "%U:%a" $top $d $d/memory.max $d/pids.max $d/cgroup.procs | tr "\n" " ")"
init=
for p in $(pgrep -x nscell-init); do grep -qx "0::$cg" /proc/$p/cgroup && init=$p; done
echo "init_in=${init:-none}"
echo "list=$(nscell list --json | tr -d " \n" | grep -o "\"cgroup\":\"$cg\",[^}]*" | grep -o "\"memory_max\":[0-9]*\|\"tasks_max\":[0-9]*" | tr "\n" " ")"
kill $held
# A memory hog: killed by the kernel at MemoryMax, in a cgroup of nscells.
su - alice -s /bin/bash -c "head -c 400M /dev/zero | tail >/dev/null; echo hog=\${PIPESTATUS[1]}" </dev/null 2>&1
echo "oom=$(dmesg | grep -c "oom_memcg=/nscell.cells/u1000\.")"
# A fork bomb (dash: no fork retries) that leaves its 200 tasks behind when
# its shell gives up: stops at TasksMax 200, read from outside.
cat >/run/nscell-cg-bomb.sh <<"B"
f=$(mktemp -u); mkfifo $f; i=0; while [ $i -lt 1000 ]; do (read x <$f) & i=$((i+1)); done
B
chmod 644 /run/nscell-cg-bomb.sh
su - alice -s /bin/sh -c "sh /run/nscell-cg-bomb.sh 2>/dev/null; echo bomb-done; exec sleep 30" </dev/null >/run/nscell-cg-bomb 2>&1 &
bomb=$!
for i in $(seq 120); do grep -q bomb-done /run/nscell-cg-bomb && break; sleep 0.5; done
for d in $top/u1000.*; do [ "$(cat $d/pids.max)" = 200 ] && echo "$(cat $d/pids.current) $(sed -n "s/^max //p" $d/pids.events)"; done | sort -n -r | head -n 1 | sed "s/^/bomb=/"
kill $bomb
rm -f /run/nscell-cg-bomb /run/nscell-cg-bomb.sh
wait $held 2>/dev/null
# The cells have ended; the next login of alice removes their empty cgroups.
for i in $(seq 50); do pgrep -u alice >/dev/null || break; sleep 0.2; done
su - alice -s /bin/bash -c true </dev/null >/dev/null 2>&1
echo "left=$(ls $top | grep -c "^u1000\.")"
IN
rmdir /run/nscell-cg-journal 2>/dev/null
journalctl -q -o cat --since=-90s -t nscell-open -t su | grep -i "limits\|refused\|error" | tail -n 5 | sed "s/^/journal=/"
rm -f /etc/security/nscell.conf.d/50-limits-cg.conf
for i in $(seq 50); do pgrep -u alice -x nscell-init >/dev/null || break; sleep 0.2; done
rmdir $top/u1000.* 2>/dev/null; rmdir $top 2>/dev/null
echo "cleaned=$([ -e $top ] && echo no || echo yes)"'

limits_cgroup_checks() {
	local out t0
	t0=$(date +%s)
	out=$(VM_SSH_TIMEOUT=120 as_root "$limits_cgroup_guest" 2>&1)
	note "limits without systemd ($(($(date +%s) - t0)) s): $(echo "$out" | tr '\n' ';')"
	v() { echo "$out" | sed -n "s/^$1=//p" | head -n 1; }
	check "without systemd, nscell explain says nscell enforces the limits on a cgroup of the cell's own" \
		test "$(v explain)" = "enforced by nscell on a cgroup of the cell's own"
	check "without systemd, a session of alice's is in nscell.cells/u1000.<cell>" \
		bash -c '[[ $1 =~ ^/nscell\.cells/u1000\.session-[0-9a-f]{16}$ ]]' _ "$(v held_cg)"
	check "its cgroup has MemoryMax 64M and TasksMax 200 (memory.max, pids.max)" \
		test "$(v limits)" = "67108864 200 "
	check "nscell.cells and the cell's cgroup are root's 0755, their files root's 0644" \
		test "$(v owners)" = "root:755 root:755 root:644 root:644 root:644 "
	check "the cell's init was born in the cell's cgroup" test "$(v init_in)" != none
	check "nscell list --json reads the use and the limits from the cell's cgroup" \
		test "$(v list)" = '"memory_max":67108864 "tasks_max":200 '
	check "without systemd, a memory hog is killed at MemoryMax 64M in nscell's cgroup (hog=$(v hog), OOM kills $(v oom))" \
		bash -c '[ "$1" = 137 ] && [ "${2:-0}" -ge 1 ]' _ "$(v hog)" "$(v oom)"
	check "without systemd, a fork bomb stops at TasksMax 200 ($(v bomb))" \
		bash -c 'set -- $1; [ "${1:-0}" -ge 190 ] && [ "${1:-0}" -le 200 ] && [ "${2:-0}" -gt 0 ]' _ "$(v bomb)"
	check "the next login of alice removes the cgroups of her ended cells (left: $(v left))" \
		test "$(v left)" = 1 -o "$(v left)" = 0
	check "the guest is clean afterwards (no nscell.cells)" test "$(v cleaned)" = yes
}
