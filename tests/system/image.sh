#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# image.sh CACHE_DIR
#
# Makes sure CACHE_DIR/<key>/ holds a bootable Debian 12 image for the system
# test and prints that directory. <key> is a hash of this file, so editing the
# recipe below builds a new image and an unchanged recipe reuses the old one.
#
# The directory holds:
#   rootfs.raw          ext4 file system image (sparse), the guest's /dev/vda
#   vmlinuz, initrd.img the guest's kernel and an initramfs with virtio_blk+ext4
#   id_ed25519[.pub]    the key that logs in as root and as the test user
#   known_hosts         the guest's host key, for "[127.0.0.1]:*"
#   build.log           what debootstrap and apt printed
#
# The guest: debootstrap --variant=minbase of bookworm from deb.debian.org plus
# systemd, logind, dbus, openssh-server and a kernel; systemd-networkd does
# DHCP on the QEMU user-mode network; sshd accepts only keys. It has no package
# mirror: whatever it needs later is copied in over ssh.
#
# Needs root, debootstrap, mke2fs (e2fsprogs >= 1.43 for -d) and unshare. The
# build runs in its own pid and mount namespace, so every process and mount it
# makes is gone when it ends, whatever happens. Nothing is written outside
# CACHE_DIR (staging happens in CACHE_DIR/<key>.tmp.<pid>, removed at the end;
# CACHE_DIR/.lock serializes concurrent builds).
set -eu

SUITE=bookworm
MIRROR=${NSCELL_VM_MIRROR:-http://deb.debian.org/debian}
# Installed by debootstrap (minbase has apt, bash, coreutils, passwd, login...).
INCLUDE=systemd,systemd-sysv,udev,dbus,dbus-user-session,libpam-systemd,openssh-server,procps,iproute2,kmod,initramfs-tools,zstd
IMAGE_SIZE=2G
TEST_USER=alice

die() { echo "image.sh: $*" >&2; exit 1; }

if [ "${1:-}" = "--inner" ]; then
	# Runs inside `unshare --pid --mount --fork`: PID 1 of a fresh pid namespace.
	stage=$2 log=$3
	root=$stage/root
	mkdir -p "$root"
	{
		echo "== debootstrap $SUITE from $MIRROR"
		debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$MIRROR"

		# No service may start inside the chroot while packages are installed.
		printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
		chmod 755 "$root/usr/sbin/policy-rc.d"

		# An initramfs with just what finds the root file system: virtio_blk on
		# the PCI transport and ext4 (their dependencies are added for us).
		cat >"$root/etc/initramfs-tools/conf.d/nscell-vm" <<-'EOF'
			MODULES=list
			COMPRESS=zstd
		EOF
		printf 'virtio_pci\nvirtio_blk\next4\n' >>"$root/etc/initramfs-tools/modules"

		mount -t proc proc "$root/proc"
		mount -t sysfs sysfs "$root/sys"
		mount --bind /dev "$root/dev"
		echo "== kernel"
		chroot "$root" apt-get update -q
		DEBIAN_FRONTEND=noninteractive chroot "$root" \
			apt-get install -y -q --no-install-recommends linux-image-amd64
		chroot "$root" apt-get clean
		rm -rf "$root"/var/lib/apt/lists/* "$root/usr/sbin/policy-rc.d"
		umount "$root/dev" "$root/sys" "$root/proc"

		echo "== configuration"
		echo nscell-vm >"$root/etc/hostname"
		printf '127.0.0.1\tlocalhost\n127.0.1.1\tnscell-vm\n' >"$root/etc/hosts"
		printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"
		cat >"$root/etc/systemd/network/10-qemu.network" <<-'EOF'
			[Match]
			Name=en* eth*

			[Network]
			DHCP=ipv4
		EOF
		chroot "$root" systemctl enable systemd-networkd.service
		cat >"$root/etc/ssh/sshd_config.d/10-nscell-test.conf" <<-'EOF'
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			PermitRootLogin prohibit-password
		EOF
		mkdir -p "$root/etc/systemd/journald.conf.d"
		printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/10-volatile.conf"

		ssh-keygen -q -t ed25519 -N '' -C nscell-system-test -f "$stage/id_ed25519"
		chroot "$root" useradd --create-home --shell /bin/bash "$TEST_USER"
		for home in /root "/home/$TEST_USER"; do
			owner=$(chroot "$root" stat -c %U "$home")
			mkdir -p "$root$home/.ssh"
			cp "$stage/id_ed25519.pub" "$root$home/.ssh/authorized_keys"
			chmod 700 "$root$home/.ssh"
			chmod 600 "$root$home/.ssh/authorized_keys"
			chroot "$root" chown -R "$owner:" "$home/.ssh"
		done
		printf '[127.0.0.1]:* %s\n' "$(cut -d' ' -f1-2 "$root/etc/ssh/ssh_host_ed25519_key.pub")" \
			>"$stage/known_hosts"

		echo "== kernel and initramfs"
		cp "$root/boot/vmlinuz-"* "$stage/vmlinuz"
		cp "$root/boot/initrd.img-"* "$stage/initrd.img"
		echo "== file system image"
		mke2fs -q -t ext4 -L nscell-vm -d "$root" "$stage/rootfs.raw" "$IMAGE_SIZE"
		du -sh --apparent-size "$root"
		du -sh "$stage/rootfs.raw"
		rm -rf "$root"
	} >>"$log" 2>&1
	exit 0
fi

[ $# -eq 1 ] || die "usage: image.sh CACHE_DIR"
cache=$1
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
for t in debootstrap mke2fs unshare flock ssh-keygen sha256sum; do
	command -v "$t" >/dev/null || die "$t not found"
done

self=$(readlink -f "$0")
key=$(sha256sum "$self" | cut -c1-16)
mkdir -p "$cache"
cache=$(readlink -f "$cache")
dir=$cache/$key
# One build at a time; a run that waited here then finds the image ready.
exec 9>"$cache/.lock"
flock 9
if [ -f "$dir/rootfs.raw" ]; then
	echo "$dir"
	exit 0
fi

stage=$dir.tmp.$$
rm -rf "$stage"
mkdir -p "$stage"
trap 'rm -rf "$stage"' EXIT INT TERM
log=$stage/build.log
start=$(date +%s)
echo "image.sh: building $dir (log: $log)" >&2
if ! unshare --pid --mount --fork --propagation private --mount-proc \
	"$self" --inner "$stage" "$log"; then
	tail -n 30 "$log" >&2
	die "image build failed"
fi
echo "image.sh: built in $(($(date +%s) - start)) s" >&2

# Keep only the current image (and leftovers of interrupted builds go too).
for old in "$cache"/*; do
	[ "$old" = "$stage" ] || [ ! -d "$old" ] || rm -rf "$old"
done
mv -T "$stage" "$dir"
trap - EXIT INT TERM
echo "$dir"
