#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The system test: nscell's Debian packages on a real systemd + logind host.
#
#   run.sh RELEASE        one release: 12 (bookworm) or 13 (trixie)
#   run.sh [RELEASE...]   each in turn (default: 12 13), then the counts of each
#
# Builds (or reuses) an image of the release (image.sh), builds the packages
# for that release (here, or in a build tree of that release when this
# machine runs another one), boots the image under QEMU (vm.sh), installs
# libpam-nscell and nscell the way an admin does, switches them on with
# pam-auth-update, and checks over ssh what only a real systemd host shows:
# logins land in cells, logind still tracks them, terminate-session ends the
# cell, `systemctl --user` works, and removing and purging the packages gives
# plain logins back. See README.md.
#
# Environment:
#   NSCELL_DEBS_DIR       use the .debs in this directory (for every release)
#                         instead of building them with tools/build-deb
#   NSCELL_SYSTEM_CACHE   image cache (default: tests/system/cache)
#   NSCELL_SYSTEM_STAGE   "boot": stop after the first ssh login (timing only)
#   NSCELL_SYSTEM_PREFETCH  releases whose images are built in the background
#                         while this run goes (waited for before it ends)
#   TMPDIR                where the run's temporary directory goes
#
# Exit status: 0 all passed, 1 something failed, 77 cannot run here.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)

# Several releases: each in its own run, the counts of each, then the sum.
if [ $# -ne 1 ]; then
	[ $# -gt 0 ] || set -- 12 13
	out=$(mktemp "${TMPDIR:-/tmp}/nscell-system-all.XXXXXX")
	trap 'rm -f "$out"' EXIT
	summary="" all_p=0 all_f=0 ran=0 status=0
	for r in "$@"; do
		shift
		# The next releases' images are built while this one runs.
		NSCELL_SYSTEM_PREFETCH="$*" "$here/run.sh" "$r" | tee "$out"
		rc=${PIPESTATUS[0]}
		counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
		if [ "$rc" = 77 ]; then
			summary="$summary# Debian $r: skipped ($(grep -m1 '^SKIP' "$out"))"$'\n'
			continue
		fi
		ran=1
		[ "$rc" = 0 ] || status=1
		[ -n "$counts" ] || { counts="0 passed, 1 failed"; status=1; }
		summary="$summary# Debian $r: $counts"$'\n'
		all_p=$((all_p + ${counts%% passed*}))
		f=${counts#*passed, }
		all_f=$((all_f + ${f%% failed}))
	done
	printf '%s' "$summary"
	[ "$ran" = 1 ] || exit 77
	echo "$all_p passed, $all_f failed"
	exit $status
fi

case "$1" in
12 | bookworm) release=12 codename=bookworm ;;
13 | trixie) release=13 codename=trixie ;;
*) echo "run.sh: unknown release '$1' (12, 13, bookworm or trixie)" >&2; exit 2 ;;
esac
# The release this machine runs: its packages are built here, another
# release's in a build tree of that release (image.sh --build-tree).
host_release=$(. /etc/os-release 2>/dev/null && echo "${VERSION_ID:-}")
srcroot=$(cd "$here/../.." && pwd)
cache=${NSCELL_SYSTEM_CACHE:-$here/cache}
stage=${NSCELL_SYSTEM_STAGE:-all}
t_start=$(date +%s)

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap builds the image)"
[ "$(uname -m)" = x86_64 ] || skip "needs an x86_64 host"
for tool in qemu-system-x86_64 debootstrap mke2fs unshare ssh scp ssh-keygen python3 timeout; do
	command -v "$tool" >/dev/null || skip "$tool not found (apt-get install qemu-system-x86 debootstrap openssh-client)"
done
# image_opts RELEASE: image.sh's options for RELEASE's run on this machine.
image_opts() {
	if [ -z "${NSCELL_DEBS_DIR:-}" ] && [ "$1" != "$host_release" ]; then echo --build-tree; fi
}
build_here=0 build_tree=0
if [ -z "${NSCELL_DEBS_DIR:-}" ] && [ "$stage" != boot ]; then
	if [ "$release" = "$host_release" ]; then
		build_here=1
		command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage not found (apt-get install dpkg-dev debhelper)"
	else
		build_tree=1
		# Packages built here, for an older release, are installed first and
		# then upgraded to this release's build: what a dist-upgrade does.
		if [ -n "$host_release" ] && [ "$host_release" -lt "$release" ] &&
			command -v dpkg-buildpackage >/dev/null; then
			build_here=1
		fi
	fi
fi

VM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/nscell-system.XXXXXX")
bg_pids=() prefetch=()
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# An image build is never cut short (it cleans up after itself).
	for p in "${prefetch[@]}"; do wait "${p#*:}" 2>/dev/null; done
	vm_stop
	rm -rf "$VM_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source-path=SCRIPTDIR source=vm.sh
. "$here/vm.sh"

n=0 failed=0 passed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...: passes when COMMAND exits 0
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; return 1; fi
}
note() { echo "# $*"; }
finish() {
	local p
	for p in "${prefetch[@]}"; do
		if wait "${p#*:}"; then
			note "the Debian ${p%%:*} image, in the background: $(grep -o 'built in [0-9]* s' "$VM_TMP/prefetch-${p%%:*}.log" || echo 'in the cache already')"
		else
			note "the background build of the Debian ${p%%:*} image failed:"
			sed 's/^/#   /' "$VM_TMP/prefetch-${p%%:*}.log"
		fi
	done
	prefetch=()
	note "timings: ${timings:-}total $(($(date +%s) - t_start)) s"
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}
timings=
timed() { timings="$timings$1 $2 s, "; }

# guest helpers -------------------------------------------------------------
# apt and the maintainer scripts (perl, dpkg's database) under emulation on a
# loaded host: a purge took 40 s with load 4 and went past 60 s with more.
apt_timeout=600
as_root() { vm_ssh root "$@"; }
as_user() { vm_ssh alice "$@"; }

# Host-side pid of every nscell-init in the guest, one per line.
cell_inits() {
	as_root 'for d in /proc/[0-9]*; do c=; { read -r c <$d/comm; } 2>/dev/null; [ "$c" = nscell-init ] && echo ${d#/proc/}; done; true'
}
# Waits up to $1 seconds for `cell_inits` to be empty.
wait_no_cells() {
	local i
	for ((i = 0; i < $1 * 2; i++)); do
		[ -z "$(cell_inits)" ] && return 0
		sleep 0.5
	done
	return 1
}
# A login that stays: runs `sleep 600` as alice, in the background; sets held_pid.
hold_session() {
	: >"$VM_TMP/held.$1.out"
	# shellcheck disable=SC2046
	timeout 900 ssh $(vm_ssh_opts) -p "$VM_PORT" alice@127.0.0.1 'echo held; exec sleep 600' \
		</dev/null >"$VM_TMP/held.$1.out" 2>&1 &
	held_pid=$!
	bg_pids+=("$held_pid")
	local i
	for ((i = 0; i < 60; i++)); do
		grep -q held "$VM_TMP/held.$1.out" && return 0
		sleep 0.5
	done
	return 1
}
# alice's newest ssh login session in logind, or nothing. By its class and
# service: systemd 256 and later also list the user manager's own session
# (class "manager") among alice's.
alice_session() {
	as_root 'for s in $(loginctl list-sessions --no-legend | awk "\$3 == \"alice\" { print \$1 }" | sort -n); do
		[ "$(loginctl show-session "$s" -p Class --value)" = user ] &&
			[ "$(loginctl show-session "$s" -p Service --value)" = sshd ] && echo "$s"
	done | tail -n 1'
}

note "Debian $release ($codename)"

# 1. the image ----------------------------------------------------------------
# Images of later releases build beside this one's (most of the time goes to
# the mirror and dpkg, not the CPU the VM needs).
for r in ${NSCELL_SYSTEM_PREFETCH:-}; do
	[ "$r" = "$release" ] && continue
	# shellcheck disable=SC2046
	"$here/image.sh" $(image_opts "$r") "$r" "$cache" >"$VM_TMP/prefetch-$r.log" 2>&1 &
	prefetch+=("$r:$!")
done
t=$(date +%s)
tree_opt=
[ "$build_tree" = 1 ] && tree_opt=--build-tree
if ! VM_IMAGE=$("$here/image.sh" $tree_opt "$release" "$cache"); then
	not_ok "the Debian $release image builds (image.sh; see its log above)"
	finish
fi
timed "image" $(($(date +%s) - t))
note "image: $VM_IMAGE"

# 2. the packages -------------------------------------------------------------
# build_debs WHAT OUTDIR [--root TREE]: tools/build-deb, with lintian when
# there is one (always in a build tree), as checks.
build_debs() {
	local what=$1 dir=$2 rc=0 lint=
	shift 2
	t=$(date +%s)
	if [ $# -gt 0 ] || command -v lintian >/dev/null; then lint=--lintian; fi
	TMPDIR=$VM_TMP "$srcroot/tools/build-deb" --no-check $lint "$@" "$dir" >"$VM_TMP/build-deb.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
		cat "$VM_TMP/build-deb.log"
		not_ok "the packages build ($what)"
		finish
	fi
	timed "build-deb($what)" $(($(date +%s) - t))
	if [ -n "$lint" ]; then
		if [ "$rc" = 0 ]; then ok "lintian ($what): no errors"; else not_ok "lintian ($what): no errors"; fi
		grep -hE '^[EWIP]: ' "$dir"/*.lintian | sed 's/^/#   lintian /'
	fi
}
debs=${NSCELL_DEBS_DIR:-}
first_debs=
if [ "$build_tree" = 1 ]; then
	debs=$VM_TMP/debs
	build_debs "Debian $release, build tree" "$debs" --root "$VM_IMAGE/build"
fi
if [ "$build_here" = 1 ]; then
	if [ "$build_tree" = 1 ]; then
		first_debs=$VM_TMP/debs-$host_release
		build_debs "Debian $host_release, this machine" "$first_debs"
	else
		debs=$VM_TMP/debs
		build_debs "Debian $release, this machine" "$debs"
	fi
fi
# find_debs DIR: sets pam_deb and main_deb, or fails.
find_debs() {
	pam_deb=$(ls "$1"/libpam-nscell_*.deb 2>/dev/null | head -n 1)
	main_deb=$(ls "$1"/nscell_*.deb 2>/dev/null | head -n 1)
	[ -n "$pam_deb" ] && [ -n "$main_deb" ]
}
if [ "$stage" != boot ]; then
	for d in $first_debs $debs; do
		if ! find_debs "$d"; then
			not_ok "libpam-nscell and nscell .debs in $d"
			finish
		fi
		note "packages: $d: $(basename "$pam_deb") $(basename "$main_deb")"
	done
fi

t=$(date +%s)
if ! vm_start; then
	not_ok "the VM boots to an ssh login"
	finish
fi
timed "boot-to-ssh" $(($(date +%s) - t))
ok "the VM boots to an ssh login (port $VM_PORT on 127.0.0.1)"
[ "$stage" = boot ] && finish

host_pidns=$(as_root readlink /proc/1/ns/pid)
note "host pid namespace (root's view of /proc/1): $host_pidns"
stack_before=$(as_root md5sum /etc/pam.d/common-session)
auth_before=$(as_root md5sum /etc/pam.d/common-auth)

# 3. install: nothing changes yet ---------------------------------------------
# copy_debs DIR GUESTDIR: the two .debs of DIR into GUESTDIR (under root's
# home); sets guest_debs to their paths there, relative to it.
copy_debs() {
	find_debs "$1" && as_root mkdir -p "$2" &&
		vm_copy "$2" "$pam_deb" "$main_deb" || return 1
	guest_debs="./$2/$(basename "$pam_deb") ./$2/$(basename "$main_deb")"
}
t=$(date +%s)
if [ -n "$first_debs" ]; then
	copy_debs "$first_debs" "debs-$host_release" || { not_ok "copy the .debs into the guest"; finish; }
	what=" (the Debian $host_release build)"
else
	copy_debs "$debs" debs || { not_ok "copy the .debs into the guest"; finish; }
	what=
fi
if VM_SSH_TIMEOUT=$apt_timeout as_root "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $guest_debs" \
	>"$VM_TMP/install.log" 2>&1; then
	ok "apt-get install ./libpam-nscell_*.deb ./nscell_*.deb$what"
else
	cat "$VM_TMP/install.log"
	not_ok "apt-get install ./libpam-nscell_*.deb ./nscell_*.deb$what"
	finish
fi
timed "install" $(($(date +%s) - t))
check "installing leaves common-session and common-auth as they were (Default: no)" \
	test "$(as_root md5sum /etc/pam.d/common-session /etc/pam.d/common-auth)" = "$stack_before
$auth_before"
check "nscell-open is root's without a setuid bit, nscell-run-helper setuid root, /run/nscell 0700 root" \
	test "$(as_root "stat -c '%a %U %A' /usr/libexec/nscell/nscell-open /usr/libexec/nscell/nscell-run-helper /run/nscell" | tr '\n' ' ')" \
	= "755 root -rwxr-xr-x 4755 root -rwsr-xr-x 700 root drwx------ "
check "nscell-open is static (musl); nscell-open-full, which serves what needs NSS or systemd, is dynamic, root's, 0755" \
	test "$(as_root "ldd /usr/libexec/nscell/nscell-open 2>&1 | grep -c 'not a dynamic executable'; ldd /usr/libexec/nscell/nscell-open-full | grep -c libc.so; stat -c '%a %U' /usr/libexec/nscell/nscell-open-full" | tr '\n' ' ')" \
	= "1 1 755 root "
check "a login after install is still on the host (pid ns $host_pidns)" \
	test "$(as_user readlink /proc/self/ns/pid)" = "$host_pidns"

# 4. switch it on --------------------------------------------------------------
as_root pam-auth-update --enable nscell nscell-restore >"$VM_TMP/pau.log" 2>&1 ||
	not_ok "pam-auth-update --enable nscell nscell-restore"
stack=$(as_root cat /etc/pam.d/common-session)
echo "$stack" | grep -v '^#' | sed 's/^/#   /'
# The managed Additional block, in order.
additional=$(echo "$stack" | sed -n '/^# and here are more per-package modules/,/^# end of pam-auth-update config/p' |
	grep '^session' | awk '{ $1 = ""; print substr($0, 2) }')
check "the restore entry is the first line of the Additional block" \
	test "$(echo "$additional" | head -n 1)" = "optional pam_nscell.so restore"
check "pam_nscell.so (required) is the last session line" \
	test "$(echo "$additional" | tail -n 1)" = "required pam_nscell.so"
check "pam_nscell.so comes after pam_systemd.so" \
	bash -c '[ "$(echo "$1" | grep -n pam_systemd.so | cut -d: -f1)" -lt "$(echo "$1" | grep -n "^required pam_nscell.so" | cut -d: -f1)" ]' _ "$additional"
check "common-auth ends with 'auth optional pam_nscell.so' (sshd's setcred, for user namespaces)" \
	test "$(as_root "grep '^auth' /etc/pam.d/common-auth | tail -n 1 | awk '{ print \$2, \$3 }'")" = "optional pam_nscell.so"
check "common-session-noninteractive has no pam_nscell.so (cron, sudo, systemd --user)" \
	bash -c '! grep -q pam_nscell "$1"' _ <(as_root cat /etc/pam.d/common-session-noninteractive)
# An upgrade (here: a reinstall, prerm upgrade + postinst configure) keeps it
# on. After the older release's build, this release's build goes over it.
stack_on=$(as_root md5sum /etc/pam.d/common-session)
if [ -n "$first_debs" ]; then
	check "with the Debian $host_release build, an ssh login lands in a cell (own pid namespace)" \
		test "$(as_user readlink /proc/self/ns/pid)" != "$host_pidns"
	copy_debs "$debs" debs || not_ok "copy the Debian $release .debs into the guest"
	what="installing the Debian $release build over the Debian $host_release one (as a dist-upgrade does)"
else
	what="reinstalling (as an upgrade does)"
fi
VM_SSH_TIMEOUT=$apt_timeout as_root "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall $guest_debs" \
	>"$VM_TMP/reinstall.log" 2>&1 || cat "$VM_TMP/reinstall.log"
check "$what keeps the enabled stack as it was" \
	test "$(as_root md5sum /etc/pam.d/common-session)" = "$stack_on"
# With pam_mkhomedir (Priority 0, like pam_systemd) enabled too, nscell stays last.
as_root pam-auth-update --enable mkhomedir >/dev/null 2>&1
check "with mkhomedir enabled, pam_nscell.so is still the last session line" \
	test "$(as_root "grep '^session' /etc/pam.d/common-session | tail -n 1 | awk '{ print \$2, \$3 }'")" = "required pam_nscell.so"
as_root pam-auth-update --disable mkhomedir >/dev/null 2>&1

# 5. logins land in cells -------------------------------------------------------
user_pidns=$(as_user readlink /proc/self/ns/pid)
check "alice's login is in its own pid namespace ($user_pidns, host $host_pidns)" \
	test -n "$user_pidns" -a "$user_pidns" != "$host_pidns"
ps_out=$(as_user ps ax -o pid=,comm=)
echo "$ps_out" | sed 's/^/#   ps ax: /'
check "inside, PID 1 is nscell-init" \
	test "$(echo "$ps_out" | awk '$1 == 1 { print $2 }')" = nscell-init
check "inside, no host process is visible (no systemd, no sshd listener)" \
	bash -c '! echo "$1" | grep -qw -e systemd -e systemd-logind' _ "$ps_out"
as_user 'echo x >/tmp/nscell-system-probe' >/dev/null
check "the cell's /tmp is private (a file alice writes there is not in the host's /tmp)" \
	as_root '! test -e /tmp/nscell-system-probe'
# systemctl --user from a cell reaches the user's manager through the cell's
# nscell-relay (its pid is visible, its uid alice's): see README.md.
user_state=$(as_user 'systemctl --user is-system-running 2>&1; systemctl --user show-environment >/dev/null 2>&1 && echo env-ok')
note "systemctl --user: $(echo "$user_state" | tr '\n' ' '); the relay: $(as_user 'ps -o pid=,user=,comm= -C nscell-relay' | tr -s ' ')"
check "systemctl --user works in a cell (is-system-running answers, show-environment succeeds)" \
	bash -c 'grep -qx env-ok <<<"$1" && grep -qxE "running|degraded" <<<"$1"' _ "$user_state"
unit_state=$(as_user 'mkdir -p ~/.config/systemd/user &&
	printf "[Service]\nType=simple\nExecStart=/bin/sleep 300\n" >~/.config/systemd/user/nscell-probe.service &&
	systemctl --user daemon-reload && systemctl --user start nscell-probe.service &&
	echo "state=$(systemctl --user is-active nscell-probe.service)"
	systemctl --user stop nscell-probe.service
	systemd-run --user --wait --quiet --unit=nscell-probe-run /bin/true && echo run-ok
	rm -f ~/.config/systemd/user/nscell-probe.service; systemctl --user daemon-reload' 2>&1)
note "units from a cell: $(echo "$unit_state" | tr '\n' ' ')"
check "systemctl --user start of a simple unit from inside a cell runs it (is-active: active)" \
	grep -qx state=active <<<"$unit_state"
check "systemd-run --user --wait of a transient unit from inside a cell succeeds" \
	grep -qx run-ok <<<"$unit_state"

# With a user namespace in the policy, sshd's session child enters it in
# setcred, which only the auth line of the profile reaches.
as_root 'printf "Namespaces pid mount ipc user\n" >/etc/security/nscell.conf.d/50-system-test.conf'
user_userns=$(as_user readlink /proc/self/ns/user)
host_userns=$(as_root readlink /proc/1/ns/user)
check "with 'Namespaces pid mount ipc user', an ssh login gets its own user namespace ($user_userns, host $host_userns)" \
	test -n "$user_userns" -a "$user_userns" != "$host_userns"
as_root rm -f /etc/security/nscell.conf.d/50-system-test.conf

# PrivateDevices on a real host: /dev/ptmx a node beside a devpts with
# ptmxmode=000, /dev/log a link into the journal, /dev/mqueue and
# /dev/hugepages mounts, sshd's pty allocated with the cell's /dev.
as_root 'printf "PrivateDevices yes\n" >/etc/security/nscell.conf.d/50-system-test.conf'
devs=$(as_user 'ls -A /dev | tr "\n" " "')
check "with PrivateDevices yes, the cell's /dev holds only the pseudo-devices, ptmx, pts, shm, mqueue, log and the fd links ($devs)" \
	test "$devs" = "fd full log mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero "
check "with PrivateDevices yes, ssh -tt: the terminal opens by its /dev/pts/N name and by /dev/tty, script(1) opens a new pty" \
	vm_ssh alice -tt 't=$(tty) && echo x >"$t" && echo x >/dev/tty && test -c /dev/ptmx && script -qec true /dev/null'
as_root rm -f /etc/security/nscell.conf.d/50-system-test.conf
# The view on a systemd host: pam_systemd's /run/user/UID and a real home,
# another user's home next to it.
as_root 'mkdir -p /home/nscell-vm-other && printf "ProtectHome own\nProtectSystem full\n" >/etc/security/nscell.conf.d/50-system-test.conf'
view=$(as_user 'echo "home=$(ls -A /home | tr "\n" " ")"; echo "run=$(ls -A /run/user | tr "\n" " ")"
	test -S "$XDG_RUNTIME_DIR/bus" && echo bus=yes
	touch /etc/nscell-vm-probe 2>/dev/null && echo etc=writable || echo etc=read-only
	echo vm-view >"$HOME/nscell-vm-view" && echo own=written')
echo "$view" | sed 's/^/#   view: /'
check "with ProtectHome own, ls /home in alice's login lists only alice" \
	test "$(echo "$view" | sed -n 's/^home=//p')" = "alice "
check "... /run/user lists only her own $(as_root id -u alice), and her bus socket is there" \
	test "$(echo "$view" | sed -n 's/^run=//p')" = "$(as_root id -u alice) " -a -n "$(echo "$view" | grep -x bus=yes)"
check "... /etc is read-only (ProtectSystem full)" test -n "$(echo "$view" | grep -x etc=read-only)"
check "... a file she writes in her home is in the real one" \
	as_root 'test "$(cat /home/alice/nscell-vm-view)" = vm-view'
as_root 'rm -rf /home/nscell-vm-other /home/alice/nscell-vm-view /etc/nscell-vm-probe; rm -f /etc/security/nscell.conf.d/50-system-test.conf'
# ... and with the homes on automounts (view-automount.sh)
# shellcheck source-path=SCRIPTDIR source=view-automount.sh
. "$here/view-automount.sh"

# nscell run from a systemd --user unit: the unit's cgroup is delegated to
# alice (she could freeze or kill what runs in it), so the helper must put
# itself and the cell's init into a scope of user-1000.slice of its own.
as_root 'printf "Match Service nscell-run\n    Scope user\n" >/etc/security/nscell.conf.d/50-system-test.conf'
as_root loginctl enable-linger alice # her manager outlives the ssh command
# Alice's manager is asked from the host side (root's login is exempt; setpriv
# goes through no PAM stack): what is checked here is where `nscell run`
# puts the cell, not how a cell reaches its user manager (the checks above).
as_alice_manager() { as_root "setpriv --reuid=alice --regid=alice --init-groups env XDG_RUNTIME_DIR=/run/user/\$(id -u alice) $1"; }
as_alice_manager 'systemd-run --user --unit=nscell-system-run --quiet /usr/bin/nscell run -- sleep 120' >/dev/null 2>&1
run_init=
for ((i = 0; i < 40; i++)); do
	run_init=$(as_root "for d in /proc/[0-9]*; do [ \"\$(tr '\\0' ' ' <\$d/cmdline 2>/dev/null)\" = 'nscell-init user-1000 ' ] && echo \${d#/proc/}; done; true")
	[ -n "$run_init" ] && break
	sleep 0.5
done
run_cg=$([ -n "$run_init" ] && as_root "cat /proc/$run_init/cgroup")
note "nscell run from alice's unit: init ${run_init:-none} in ${run_cg:-?}; the unit: $(as_alice_manager 'systemctl --user show -p ControlGroup --value nscell-system-run' 2>&1)"
check "nscell run from a systemd --user unit puts the cell's init in a nscell-helper-*.scope of user-1000.slice, not in the user's delegated cgroup" \
	bash -c '[[ "$1" == 0::/user.slice/user-1000.slice/nscell-helper-*.scope ]]' _ "$run_cg"
as_alice_manager 'systemctl --user stop nscell-system-run' >/dev/null 2>&1
as_root rm -f /etc/security/nscell.conf.d/50-system-test.conf
as_root loginctl disable-linger alice
wait_no_cells 15 || note "a cell was still running after the unit stopped"

# 6. logind still tracks the session; terminate-session ends the cell ----------
if hold_session 1; then
	ok "a held login (ssh alice sleep 600) is up"
else
	not_ok "a held login (ssh alice sleep 600) is up"
fi
sid=$(alice_session)
note "logind session of the held login: ${sid:-none}; all sessions (id uid user … class): $(as_root "loginctl list-sessions --no-legend | tr -s ' ' | tr '\n' ';'")"
check "loginctl lists alice's session" test -n "$sid"
if [ -n "$sid" ]; then
	leader=$(as_root loginctl show-session "$sid" -p Leader --value)
	leader_cmd=$(as_root "tr '\0' ' ' </proc/$leader/cmdline")
	leader_exe=$(as_root "readlink /proc/$leader/exe")
	leader_uid=$(as_root "stat -c %u /proc/$leader")
	leader_pkg=$(as_root "dpkg -S '$leader_exe' 2>/dev/null | cut -d: -f1")
	note "session $sid: leader $leader = '$leader_cmd' ($leader_exe of ${leader_pkg:-no package}, uid $leader_uid)"
	# By what it is: a program of openssh-server (sshd on Debian 12, its
	# sshd-session on 13) running as root, whose title names alice's
	# privileged side ("sshd: alice [priv]", "sshd-session: alice [priv]").
	check "the session's leader is sshd's privileged monitor for alice (host pid $leader)" \
		bash -c '[ "$1" = openssh-server ] && [ "$2" = 0 ] && [[ "$3" == *": alice [priv]"* ]]' \
		_ "$leader_pkg" "$leader_uid" "$leader_cmd"
	for p in $(cell_inits); do
		note "cell init (host pid $p) cgroup: $(as_root "cat /proc/$p/cgroup")"
	done
	check "the cell's init runs inside the session's scope (session-$sid.scope)" \
		as_root "for p in $(cell_inits | tr '\n' ' '); do grep -q '/session-$sid.scope\$' /proc/\$p/cgroup && exit 0; done; exit 1"
	as_root loginctl terminate-session "$sid"
	check "loginctl terminate-session ends the whole cell (no nscell-init left)" wait_no_cells 15
	check "the held ssh connection ends with the session" \
		timeout 15 bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done' _ "$held_pid"
fi

# 6b. limits: MemoryMax, TasksMax, CPUQuota through systemd (limits.sh) --------
# shellcheck source-path=SCRIPTDIR source=limits.sh
. "$here/limits.sh"
limits_checks
# shellcheck source-path=SCRIPTDIR source=limits-cgroup.sh
. "$here/limits-cgroup.sh"
limits_cgroup_checks

# 6c. PrivateLogins: who and users on a systemd host (private-logins.sh) -------
# shellcheck source-path=SCRIPTDIR source=private-logins.sh
. "$here/private-logins.sh"

# 7. remove: plain logins again; purge: the stack as before, no cells ----------
hold_session 2 || not_ok "a second held login is up"
check "before removal, a cell is running" test -n "$(cell_inits)"
if VM_SSH_TIMEOUT=$apt_timeout as_root 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q libpam-nscell nscell' >"$VM_TMP/remove.log" 2>&1; then
	ok "apt-get remove libpam-nscell nscell"
else
	cat "$VM_TMP/remove.log"
	not_ok "apt-get remove libpam-nscell nscell"
fi
check "after remove, no /etc/pam.d file mentions pam_nscell.so" \
	as_root '! grep -rq pam_nscell /etc/pam.d/'
check "after remove, a new login is plain (host pid namespace)" \
	test "$(as_user readlink /proc/self/ns/pid)" = "$host_pidns"
check "after remove, the running cell is left to end with its session" test -n "$(cell_inits)"
t=$(date +%s)
rc=0
VM_SSH_TIMEOUT=$apt_timeout as_root 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q libpam-nscell nscell' >"$VM_TMP/purge.log" 2>&1 || rc=$?
timed "purge" $(($(date +%s) - t))
if [ "$rc" = 0 ]; then
	ok "apt-get purge libpam-nscell nscell"
else
	cat "$VM_TMP/purge.log"
	not_ok "apt-get purge libpam-nscell nscell (exit status $rc)"
fi
note "purge said: $(grep '^nscell:' "$VM_TMP/purge.log" | tr '\n' ' ')"
check "after purge, no cell is left running" wait_no_cells 10
check "after purge, common-session and common-auth are byte for byte what they were" \
	test "$(as_root md5sum /etc/pam.d/common-session /etc/pam.d/common-auth)" = "$stack_before
$auth_before"
check "after purge, the policy, /run/nscell, /var/lib/nscell and the profiles are gone" \
	as_root '! test -e /etc/security/nscell.conf && ! test -e /run/nscell && ! test -e /var/lib/nscell && ! ls /usr/share/pam-configs/nscell* 2>/dev/null'
check "after purge, logins work and are plain" \
	test "$(as_user readlink /proc/self/ns/pid)" = "$host_pidns"

# 8. upgrades with a live user cell ------------------------------------------
# A cell's init outlives a package upgrade. The packages of an earlier release
# (debian/changelog), built from git history once and cached by commit
# (old-debs.sh), go on first; a Scope user login is held across the install
# of this build; the next login lands in a cell (the old one, or one of its
# own, as the helper logs: never refused), and nscell list, show, enter and
# terminate work on the old cell. From 0.1.0 (protocol version 0: the login
# gets a cell of its own) and from 0.4.0 (version 1, before JOIN_SAME: the
# login must join the old cell, asking it the 0.4.0 way). In the VM of this
# machine's release only (the old packages are built here): each costs about
# 90 s a VM, and the code it proves is the same in both.
# The VM is thrown away afterwards: no purge.
upgrade_from() { # upgrade_from COMMIT VERSION PROTOCOL MUST_JOIN
	local commit=$1 version=$2 proto=$3 must_join=$4 t old_debs old_init old_ns since new_ns helper_log what line
	t=$(date +%s)
	if ! old_debs=$("$here/old-debs.sh" "$commit" "$cache" 2>"$VM_TMP/old-debs.log"); then
		sed 's/^/#   /' "$VM_TMP/old-debs.log"
		not_ok "the $version packages build from git history (old-debs.sh)"
		return
	fi
	timed "build-deb($version, cached by commit)" $(($(date +%s) - t))
	copy_debs "$old_debs" "debs-$version" || not_ok "copy the $version .debs into the guest"
	t=$(date +%s)
	check "apt-get install of the $version packages, enabled with Scope user" \
		as_root "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades --no-install-recommends $guest_debs >/dev/null 2>&1 &&
			pam-auth-update --enable nscell nscell-restore &&
			printf 'Scope user\n' >/etc/security/nscell.conf.d/50-system-test.conf &&
			dpkg-query -W -f '\${Version}' nscell | grep -qx '$version'"
	hold_session "upgrade-$version" || not_ok "a held login with $version is up"
	old_init=$(cell_inits)
	old_ns=$(as_root "readlink /proc/$old_init/ns/pid" 2>/dev/null)
	check "with $version, the held login is in cell user-1000 (init $old_init)" \
		test -n "$old_init" -a -n "$old_ns" -a "$(echo "$old_init" | wc -l)" = 1
	as_root 'journalctl --rotate >/dev/null 2>&1; date +%s' >"$VM_TMP/upgrade-since"
	if VM_SSH_TIMEOUT=$apt_timeout as_root "DEBIAN_FRONTEND=noninteractive apt-get install -y -q $new_debs" \
		>"$VM_TMP/upgrade.log" 2>&1; then
		ok "apt-get install of this build over $version (an upgrade)"
	else
		cat "$VM_TMP/upgrade.log"
		not_ok "apt-get install of this build over $version (an upgrade)"
	fi
	check "the held login and its $version cell outlive the upgrade" \
		bash -c 'kill -0 "$1" && [ "$2" = "$3" ]' _ "$held_pid" "$old_ns" \
		"$(as_root "readlink /proc/$old_init/ns/pid" 2>/dev/null)"
	since=$(cat "$VM_TMP/upgrade-since")
	new_ns=$(as_user readlink /proc/self/ns/pid)
	helper_log=$(as_root "journalctl -q -o cat --since @$since -t nscell-helper -t nscell-open -t nscell-init 2>/dev/null | grep -E 'event=(cell-version-differs|session-joined|refused)'")
	echo "$helper_log" | sed 's/^/#   log: /'
	if [ "$new_ns" = "$old_ns" ]; then
		what="joined the $version cell"
		line="event=session-joined cell=user-1000"
	else
		what="got a cell of its own"
		line="event=cell-version-differs cell=user-1000 .*action=own-cell"
	fi
	check "a login after the upgrade is in a cell, not refused: it $what (pid ns $new_ns, $version cell $old_ns)" \
		test -n "$new_ns" -a "$new_ns" != "$host_pidns"
	[ "$must_join" = yes ] && check "... the $version cell, as its protocol is this build's" test "$new_ns" = "$old_ns"
	check "the helper logs which ($line)" bash -c 'echo "$1" | grep -qE "$2" && ! echo "$1" | grep -q event=refused' _ "$helper_log" "$line"
	list_out=$(as_root nscell list 2>&1)
	echo "$list_out" | sed 's/^/#   nscell list: /'
	check "nscell list (this build) shows the $version cell user-1000" \
		bash -c 'echo "$1" | grep -q "^user-1000 "' _ "$list_out"
	show_out=$(as_root nscell show user-1000 2>&1)
	echo "$show_out" | head -n 12 | sed 's/^/#   nscell show: /'
	check "nscell show user-1000 describes the $version cell (its init, protocol $proto, its held session)" \
		bash -c 'echo "$1" | grep -q "$2" && echo "$1" | grep -qE "^ *Protocol: *$3( |$)" && echo "$1" | grep -qi sshd' _ "$show_out" "$old_init" "$proto"
	check "nscell enter --cell user-1000 runs a command in the $version cell's namespaces" \
		test "$(as_root "nscell enter --root --cell user-1000 -- readlink /proc/self/ns/pid </dev/null" 2>&1 | tr -d '\r')" = "$old_ns"
	as_root nscell terminate user-1000 >"$VM_TMP/terminate.log" 2>&1
	check "nscell terminate user-1000 ends the $version cell and the held login" \
		timeout 15 bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done' _ "$held_pid"
	timed "upgrade from $version" $(($(date +%s) - t))
}
if [ "$release" = "$host_release" ] && [ "$build_here" = 1 ]; then
	copy_debs "$debs" debs || not_ok "copy the .debs into the guest"
	new_debs=$guest_debs
	upgrade_from 7ad7ff77c69fd21827cae14a8bbae10b39153b90 0.1.0 0 no
	upgrade_from 9f127acde77de54b3ca60bb5a81531f2a44e275a 0.4.0 1 yes
fi
finish
