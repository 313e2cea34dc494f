#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# image.sh [--build-tree] RELEASE CACHE_DIR
#
# Makes sure CACHE_DIR/RELEASE/<key>/ holds a bootable image of Debian RELEASE
# (12, bookworm, or 13, trixie) for the system test and prints that directory.
# <key> is a hash of this file, the release and the options (and, with
# --build-tree, of the Build-Depends of debian/control), so editing the recipe
# builds a new image and an unchanged recipe reuses the old one.
#
# The directory holds:
#   rootfs.raw          ext4 file system image (sparse), the guest's /dev/vda
#   vmlinuz, initrd.img the guest's kernel and an initramfs with virtio_blk+ext4
#   id_ed25519[.pub]    the key that logs in as root and as the test user
#   known_hosts         the guest's host key, for "[127.0.0.1]:*"
#   build.log           what debootstrap and apt printed
#   build/              with --build-tree: a tree of the same release with the
#                       package's Build-Depends and lintian, for
#                       `tools/build-deb --root` (a release the host is not)
#
# The guest: debootstrap --variant=minbase of the release from deb.debian.org
# plus systemd, logind, dbus, openssh-server and a kernel; systemd-networkd
# does DHCP on the QEMU user-mode network; sshd accepts only keys. It has no
# package mirror: whatever it needs later is copied in over ssh. The build
# tree is a copy of the same debootstrap (one download for both).
#
# Needs root, debootstrap, mke2fs (e2fsprogs >= 1.43 for -d) and unshare. The
# build runs in its own pid and mount namespace, so every process and mount it
# makes is gone when it ends, whatever happens. Nothing is written outside
# CACHE_DIR (staging happens in CACHE_DIR/RELEASE/<key>.tmp.<pid>, removed at
# the end; CACHE_DIR/RELEASE/.lock serializes concurrent builds of a release).
set -eu

MIRROR=${NSCELL_VM_MIRROR:-http://deb.debian.org/debian}
# Installed by debootstrap (minbase has apt, bash, coreutils, passwd, login...).
INCLUDE=systemd,systemd-sysv,udev,dbus,dbus-user-session,libpam-systemd,openssh-server,procps,iproute2,kmod,initramfs-tools,zstd
IMAGE_SIZE=2G
TEST_USER=alice

die() { echo "image.sh: $*" >&2; exit 1; }

suite_of() {
	case "$1" in
	12 | bookworm) echo bookworm ;;
	13 | trixie) echo trixie ;;
	*) return 1 ;;
	esac
}

# build_tree TREE CONTROL: the package's Build-Depends and lintian in TREE (a
# copy of the fresh debootstrap, with /proc and /dev mounted by the caller).
build_tree() {
	mkdir -p "$1/tmp/nscell-src/debian"
	cp "$2" "$1/tmp/nscell-src/debian/control"
	chroot "$1" apt-get update -q
	DEBIAN_FRONTEND=noninteractive chroot "$1" \
		apt-get build-dep -y -q --no-install-recommends /tmp/nscell-src
	DEBIAN_FRONTEND=noninteractive chroot "$1" \
		apt-get install -y -q --no-install-recommends lintian
	chroot "$1" apt-get clean
	rm -rf "$1"/var/lib/apt/lists/* "$1/tmp/nscell-src" "$1/etc/dpkg/dpkg.cfg.d/nscell-image"
}

if [ "${1:-}" = "--inner" ]; then
	# Runs inside `unshare --pid --mount --fork`: PID 1 of a fresh pid namespace.
	stage=$2 log=$3 SUITE=$4 control=$5
	root=$stage/root
	mkdir -p "$root"
	{
		echo "== debootstrap $SUITE from $MIRROR"
		debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$MIRROR"

		# No service may start inside the chroot while packages are installed.
		printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
		chmod 755 "$root/usr/sbin/policy-rc.d"
		# Nor need dpkg sync every file it unpacks: a failed build is thrown
		# away whole.
		echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/nscell-image"

		# The build tree fills while the kernel goes into the guest's tree
		# (both mostly wait for the mirror and dpkg's fsyncs).
		tree_pid=
		if [ -n "$control" ]; then
			echo "== build tree (log: build-tree.log)"
			cp -a "$root" "$stage/build"
			mount -t proc proc "$stage/build/proc"
			mount --bind /dev "$stage/build/dev"
			build_tree "$stage/build" "$control" >"$stage/build-tree.log" 2>&1 &
			tree_pid=$!
		fi

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
		rm -rf "$root"/var/lib/apt/lists/* "$root/usr/sbin/policy-rc.d" \
			"$root/etc/dpkg/dpkg.cfg.d/nscell-image"
		umount "$root/dev" "$root/sys" "$root/proc"
		if [ -n "$tree_pid" ]; then
			tree_ok=0
			wait "$tree_pid" && tree_ok=1
			cat "$stage/build-tree.log"
			rm -f "$stage/build-tree.log"
			umount "$stage/build/dev" "$stage/build/proc"
			[ "$tree_ok" = 1 ] || { echo "== the build tree failed"; exit 1; }
		fi

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
		# OpenSSH 9.8 and later refuse a source address for a while after
		# connections that end before authenticating (here: boot-time tries
		# whose banner came too late) or whose session process was killed
		# (terminate-session). Every connection of the test comes from
		# QEMU's one NAT address, so penalties would lock the test out.
		if grep -qa persourcepenalties "$root/usr/sbin/sshd"; then
			echo 'PerSourcePenalties no' >>"$root/etc/ssh/sshd_config.d/10-nscell-test.conf"
		fi
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

with_tree=0
if [ "${1:-}" = --build-tree ]; then
	with_tree=1
	shift
fi
[ $# -eq 2 ] || die "usage: image.sh [--build-tree] RELEASE CACHE_DIR"
suite=$(suite_of "$1") || die "unknown release '$1' (12, 13, bookworm or trixie)"
case "$suite" in bookworm) release=12 ;; trixie) release=13 ;; esac
cache=$2
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
for t in debootstrap mke2fs unshare flock ssh-keygen sha256sum; do
	command -v "$t" >/dev/null || die "$t not found"
done

self=$(readlink -f "$0")
control=
deps=
if [ "$with_tree" = 1 ]; then
	control=$(dirname "$self")/../../debian/control
	[ -f "$control" ] || die "no $control"
	control=$(readlink -f "$control")
	deps=$(sed -n '/^Build-Depends:/,/^[^ ]/p' "$control")
fi
key=$({ cat "$self"; echo "$suite $with_tree"; echo "$deps"; } | sha256sum | cut -c1-16)
mkdir -p "$cache"
cache=$(readlink -f "$cache")
# Images of the layout before releases (CACHE_DIR/<key>/) go.
for old in "$cache"/????????????????; do
	[ ! -d "$old" ] || rm -rf "$old"
done
cache=$cache/$release
mkdir -p "$cache"
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
	"$self" --inner "$stage" "$log" "$suite" "$control"; then
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
