# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2001,SC2016,SC2154
#
# ProtectHome own with the homes on automounts (sourced by run.sh, which
# defines ok, not_ok, check, note, as_root, as_user): systemd's automount,
# the kernel's autofs, with a bind of a copy of alice's home on /home/alice
# (the real home stays beneath it, untouched) and, after her login started,
# another one on /home/nscell-vm-other.
#
#   1. su -l alice while /home/alice is still the untriggered autofs: the
#      helper's walk mounts it, and the home she gets is the automounted one
#   2. an ssh login (sshd reads her keys: mounted already), held while the
#      host mounts a tmpfs under her home and another user's automount is
#      made and triggered: the first comes in (Propagation slave), the
#      second never shows in her /home
# Everything is undone at the end, whatever failed.

am_src=/srv/nscell-vm-alice am_other=/srv/nscell-vm-other
am_cleanup() {
	as_root "umount /home/alice/nscell-vm-later 2>/dev/null
		for m in /home/nscell-vm-other /home/alice; do systemd-umount \$m >/dev/null 2>&1 || umount -l \$m 2>/dev/null; done
		rmdir /home/nscell-vm-other 2>/dev/null
		rm -rf $am_src $am_other; rm -f /etc/security/nscell.conf.d/50-system-test.conf; true"
}
as_root "printf 'ProtectHome own\nProtectSystem full\n' >/etc/security/nscell.conf.d/50-system-test.conf &&
	cp -a /home/alice $am_src && mkdir -p $am_other/inside &&
	systemd-mount --automount=yes --options=bind $am_src /home/alice >/dev/null" ||
	not_ok "set up an automount of a copy of alice's home on /home/alice (systemd-mount --automount=yes)"
am_state=$(as_root 'findmnt -n -o FSTYPE /home/alice | tr "\n" " "')
note "automount: /home/alice before the login: $am_state"
check "/home/alice is an autofs trigger with nothing mounted on it yet" test "$am_state" = "autofs "

am_su=$(as_root 'su -l alice -s /bin/sh -c "echo home=\$(ls -A /home | tr \"\\n\" \" \"); echo auto >\$HOME/nscell-vm-auto && echo own=written; test -s \$HOME/.ssh/authorized_keys && echo keys=yes" </dev/null 2>&1')
echo "$am_su" | sed 's/^/#   su: /'
check "su -l onto an untriggered automounted home, ProtectHome own: ls /home lists only alice" \
	test "$(echo "$am_su" | sed -n 's/^home=//p')" = alice
check "... her files are there (.ssh/authorized_keys) and a file she writes is in the automounted home" \
	test -n "$(echo "$am_su" | grep -x keys=yes)" -a "$(as_root "cat $am_src/nscell-vm-auto")" = auto

# 2. The login waits (60 s at most) for the host's mark, made after both
# later mounts, then looks.
VM_SSH_TIMEOUT=150 as_user 'echo ready >"$HOME/nscell-vm-ready"; i=0
	while [ $i -lt 120 ] && [ ! -e "$HOME/nscell-vm-later/mark" ]; do sleep 0.5; i=$((i + 1)); done
	test -e "$HOME/nscell-vm-later/mark" && echo later=in
	echo home=$(ls -A /home | tr "\n" " ")
	ls /home/nscell-vm-other >/dev/null 2>&1 && echo other=seen || echo other=absent' >"$VM_TMP/am.out" 2>&1 &
am_pid=$!
bg_pids+=("$am_pid")
VM_SSH_TIMEOUT=150 as_root "i=0; while [ \$i -lt 120 ] && [ ! -e $am_src/nscell-vm-ready ]; do sleep 0.5; i=\$((i + 1)); done
	test -e $am_src/nscell-vm-ready && mkdir /home/alice/nscell-vm-later && mount -t tmpfs tmpfs /home/alice/nscell-vm-later &&
	systemd-mount --automount=yes --options=bind $am_other /home/nscell-vm-other >/dev/null &&
	ls /home/nscell-vm-other >/dev/null && findmnt -n /home/nscell-vm-other/inside >/dev/null 2>&1; true
	test \"\$(findmnt -n -o FSTYPE /home/nscell-vm-other | tr '\n' ' ')\" != 'autofs ' &&
	echo mark >/home/alice/nscell-vm-later/mark" ||
	not_ok "the host mounts a tmpfs under alice's home and triggers another home's automount while she is logged in"
wait "$am_pid"
sed 's/^/#   ssh: /' "$VM_TMP/am.out"
check "a tmpfs the host mounts under the automounted own home after the login comes in" \
	grep -qx later=in "$VM_TMP/am.out"
check "another home automounted and triggered after the login never shows: ls /home lists only alice" \
	grep -qx 'home=alice' "$VM_TMP/am.out"
check "... and /home/nscell-vm-other is absent inside" grep -qx other=absent "$VM_TMP/am.out"
am_cleanup
check "the automounts are gone and alice's real home is back" \
	as_root 'test "$(findmnt -n -o FSTYPE /home/alice)" = "" && ! test -e /home/alice/nscell-vm-ready && ! test -e /home/nscell-vm-other'
