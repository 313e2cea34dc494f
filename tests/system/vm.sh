# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# Boots the image made by image.sh under QEMU and talks to it over ssh.
# Sourced by run.sh; needs $VM_IMAGE (the image directory) and $VM_TMP (a
# private temporary directory that the caller removes). Sets VM_PORT, VM_PID.
#
# - Software emulation (TCG): /dev/kvm may exist on a host whose KVM cannot
#   run a stock kernel, and TCG behaves the same everywhere.
# - The kernel boots directly (-kernel/-initrd); the disk is opened with
#   snapshot=on, so the cached image never changes (QEMU keeps the writes in
#   a deleted file under $TMPDIR, which is $VM_TMP).
# - Network: QEMU user mode with restrict=on (the guest reaches nothing), and
#   only the guest's port 22 forwarded from 127.0.0.1:$VM_PORT.

VM_PID=
VM_PORT=
VM_MUX_PID=
VM_MEMORY=${NSCELL_VM_MEMORY:-1024}
VM_CPU=${NSCELL_VM_CPU:-max}
VM_BOOT_TIMEOUT=${NSCELL_VM_BOOT_TIMEOUT:-300}

vm_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# vm_start: boots the guest and returns once root can log in over ssh.
vm_start() {
	tries=0
	while :; do
		VM_PORT=$(vm_free_port)
		sed "s/^\[127.0.0.1\]:\*/[127.0.0.1]:$VM_PORT/" "$VM_IMAGE/known_hosts" >"$VM_TMP/known_hosts"
		: >"$VM_TMP/console.log"
		TMPDIR=$VM_TMP qemu-system-x86_64 \
			-nodefaults -no-user-config -no-reboot \
			-machine q35 -accel tcg,thread=multi -cpu "$VM_CPU" -smp 2 -m "$VM_MEMORY" \
			-display none -monitor none -serial "file:$VM_TMP/console.log" \
			-kernel "$VM_IMAGE/vmlinuz" -initrd "$VM_IMAGE/initrd.img" \
			-append "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet systemd.show_status=false" \
			-drive "file=$VM_IMAGE/rootfs.raw,format=raw,if=virtio,snapshot=on" \
			-netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:$VM_PORT-:22" \
			-device virtio-net-pci,netdev=net0 \
			-device virtio-rng-pci \
			</dev/null >"$VM_TMP/qemu.log" 2>&1 &
		VM_PID=$!
		sleep 1
		kill -0 "$VM_PID" 2>/dev/null && break
		wait "$VM_PID" || :
		VM_PID=
		tries=$((tries + 1))
		if [ $tries -ge 5 ]; then
			cat "$VM_TMP/qemu.log" >&2
			echo "vm: qemu did not start" >&2
			return 1
		fi
	done

	vm_boot_start=$(date +%s)
	vm_ct=2
	while :; do
		# A short ConnectTimeout: until the guest's network is up, QEMU
		# accepts the connection and nothing answers. It grows by a second
		# (up to 10 s) after each try that ran into it: a guest busy booting
		# under emulation on a loaded host can take longer than 2 s to send
		# sshd's banner (OpenSSH 10 starts sshd-session for each one).
		vm_try=$(date +%s)
		if VM_CONNECT_TIMEOUT=$vm_ct vm_ssh_quiet root true; then
			vm_start_mux
			return 0
		fi
		if [ $(($(date +%s) - vm_try)) -ge "$vm_ct" ] && [ "$vm_ct" -lt 10 ]; then
			vm_ct=$((vm_ct + 1))
		fi
		if ! kill -0 "$VM_PID" 2>/dev/null; then
			echo "vm: qemu exited during boot; console:" >&2
			tail -n 40 "$VM_TMP/console.log" >&2
			cat "$VM_TMP/qemu.log" >&2
			return 1
		fi
		if [ $(($(date +%s) - vm_boot_start)) -gt "$VM_BOOT_TIMEOUT" ]; then
			echo "vm: no ssh login after ${VM_BOOT_TIMEOUT} s; console:" >&2
			tail -n 40 "$VM_TMP/console.log" >&2
			return 1
		fi
		sleep 0.5
	done
}

# One ssh connection as root that root's commands reuse (vm_ssh); a child of
# ours, so that vm_stop can end it (ControlPersist would daemonize it).
vm_start_mux() {
	# shellcheck disable=SC2046
	ssh $(vm_ssh_opts) -o ControlMaster=yes -o ControlPath="$VM_TMP/root.mux" -N \
		-p "$VM_PORT" root@127.0.0.1 </dev/null >/dev/null 2>&1 &
	VM_MUX_PID=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -S "$VM_TMP/root.mux" ] && return 0
		sleep 0.5
	done
	return 0 # without it, root's commands log in one by one
}

vm_stop() {
	if [ -n "$VM_MUX_PID" ]; then
		kill "$VM_MUX_PID" 2>/dev/null || :
		wait "$VM_MUX_PID" 2>/dev/null || :
		VM_MUX_PID=
	fi
	if [ -n "$VM_PID" ]; then
		kill "$VM_PID" 2>/dev/null || :
		wait "$VM_PID" 2>/dev/null || :
		VM_PID=
	fi
}

vm_ssh_opts() {
	echo "-F /dev/null -i $VM_IMAGE/id_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes" \
		"-o UserKnownHostsFile=$VM_TMP/known_hosts -o StrictHostKeyChecking=yes" \
		"-o ConnectTimeout=${VM_CONNECT_TIMEOUT:-10} -o ServerAliveInterval=10 -o LogLevel=ERROR"
}

# vm_ssh USER COMMAND...: runs COMMAND in the guest as USER, given up after
# $VM_SSH_TIMEOUT seconds (default 60). Every call is a new login, except for
# root: root's commands share one connection (a new channel each, no new PAM
# session), which saves a key exchange per command under emulation.
vm_ssh() {
	vm_user=$1
	shift
	vm_mux=
	if [ "$vm_user" = root ]; then
		vm_mux="-o ControlMaster=no -o ControlPath=$VM_TMP/root.mux"
	fi
	# shellcheck disable=SC2046,SC2086
	timeout "${VM_SSH_TIMEOUT:-60}" ssh $(vm_ssh_opts) $vm_mux -p "$VM_PORT" "$vm_user@127.0.0.1" "$@" </dev/null
}

vm_ssh_quiet() {
	vm_ssh "$@" >/dev/null 2>&1
}

# vm_copy DIR FILE... : copies files into the guest's DIR (relative to
# root's home, which must exist).
vm_copy() {
	vm_dest=$1
	shift
	# shellcheck disable=SC2046
	scp -q $(vm_ssh_opts) -P "$VM_PORT" "$@" "root@127.0.0.1:$vm_dest/"
}
