#!/usr/bin/env bash
# run.sh boots the node VM and runs the node suite (test/node) inside it:
# a Debian 12 guest with its own kernel, systemd as PID 1 and cgroup v2
# with every controller, which this build host (cgroup v1, no systemd)
# cannot offer. The host has no usable KVM (its /dev/kvm runs only PVM
# guest kernels), so qemu emulates (TCG): processes start 50-100x slower,
# and the suite is a focused one.
#
#   test/node/run.sh
#   NODE_TEST_RUN=TestCheckpoint NODE_CRITEST_FOCUS=none test/node/run.sh   # one test, no critest
#
# What it does, each step with a clear message when it cannot:
#   - installs qemu, debootstrap and e2fsprogs from Debian when missing;
#   - builds the guest image once from Debian's packages (debootstrap, about
#     2.5 minutes) and caches it in bin/node-vm/<key>, the key naming the
#     package list;
#   - builds the daemon, monitor and pause binaries and the suite's test
#     binary, statically, into a share the guest mounts over 9p;
#   - boots the image (changes are discarded: -snapshot) with a unit that
#     runs the suite and powers off; copies out the suite's output and the
#     daemon's logs into bin/node-report/; its exit code is the suite's.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
GO=${GO:-go}
cache=$repo/bin/node-vm
report=$repo/bin/node-report
limit=${NODE_TIMEOUT:-1500} # seconds the guest may run
# The critest specs run in the guest, a ginkgo focus: all of them by
# default ("none" runs none).
critest_focus=${NODE_CRITEST_FOCUS:-.}
# The Go node suite's -test.run: all of it by default.
test_run=${NODE_TEST_RUN:-}

log() { printf 'node: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, image build)"
start=$SECONDS

host_pkgs="qemu-system-x86 qemu-utils debootstrap e2fsprogs xz-utils"
missing=
for p in $host_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
	log "installing:$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		die "cannot install$missing from Debian"
fi

# The guest: what a node has. crun is Debian's (1.8), runc is Debian's;
# criu (3.17) for checkpoint and restore, which works on the guest's 6.1
# kernel (not on the build host's, whose vDSO layout it predates).
guest_pkgs="systemd-sysv,dbus,udev,iproute2,kmod,linux-image-amd64,apparmor,runc,crun,containernetworking-plugins,iptables,busybox-static,criu"
mirror=${NODE_MIRROR:-http://deb.debian.org/debian}
# The image changes with the package list, the guest script and the
# version below (bump it when build_image changes).
key=$(printf '%s\n%s\n%s\n' "$guest_pkgs" "$(sha256sum test/node/guest.sh | cut -c1-64)" v2 | sha256sum | cut -c1-12)
img=$cache/$key

work=$(mktemp -d /tmp/criserver-node.XXXXXX) || die "mktemp failed"
qemu_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
	# A failed debootstrap leaves its proc and sys mounts in the rootfs.
	grep " $work/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l
	rm -rf "$work"
}
trap cleanup EXIT

build_image() {
	local rootfs=$work/rootfs
	log "building the guest image (debootstrap bookworm from $mirror, about 2.5 minutes)"
	debootstrap --variant=minbase --include="$guest_pkgs" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
		tail -20 "$work/debootstrap.log" >&2
		die "debootstrap failed"
	}
	echo criserver-node >"$rootfs/etc/hostname"
	printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' >"$rootfs/etc/fstab"
	chroot "$rootfs" passwd -d root >/dev/null
	install -m 755 test/node/guest.sh "$rootfs/usr/local/sbin/criserver-node"
	cat >"$rootfs/etc/systemd/system/criserver-node.service" <<-EOF
		[Unit]
		Description=criserver node suite
		[Service]
		Type=simple
		ExecStart=/usr/local/sbin/criserver-node
		[Install]
		WantedBy=multi-user.target
	EOF
	ln -sf /etc/systemd/system/criserver-node.service "$rootfs/etc/systemd/system/multi-user.target.wants/"
	# The serial getty hangs up the console, and nobody logs in.
	ln -sf /dev/null "$rootfs/etc/systemd/system/serial-getty@ttyS0.service"
	local stage=$work/image
	mkdir -p "$stage"
	# Booted directly as an ELF (PVH): decompressing the bzImage costs
	# seconds of emulated time on every boot.
	local vmlinuz off
	vmlinuz=$(ls "$rootfs"/boot/vmlinuz-* | head -1)
	off=$(grep -abo $'\xfd7zXZ' "$vmlinuz" | head -1 | cut -d: -f1)
	tail -c +$((off + 1)) "$vmlinuz" | xz -dc >"$stage/vmlinux" 2>/dev/null
	[ -s "$stage/vmlinux" ] || die "cannot extract the guest kernel from $vmlinuz"
	cp "$rootfs"/boot/initrd.img-* "$stage/initrd.img"
	truncate -s 4G "$stage/root.img"
	mkfs.ext4 -q -F -L noderoot -d "$rootfs" "$stage/root.img" || die "mkfs.ext4 failed"
	rm -rf "$cache" # images of other keys
	mkdir -p "$cache"
	mv "$stage" "$img"
}

[ -f "$img/root.img" ] || build_image
log "guest image ready ($(( SECONDS - start ))s)"

share=$work/share
mkdir -p "$share/bin" "$report"
for name in criserver criserverd criserver-monitor criserver-pause; do
	CGO_ENABLED=0 "$GO" build -ldflags=-s -o "$share/bin/$name" "./cmd/$name" || die "building $name failed"
done
CGO_ENABLED=0 "$GO" test -c -o "$share/node.test" ./test/node || die "building the suite failed"
install -m 755 test/node/suite.sh "$share/suite.sh"
printf '%s\n' "$test_run" >"$share/test-run"

# critest, run by test/critest/run.sh in the guest on binaries built here.
if [ "$critest_focus" != none ]; then
	GO=$GO CRITEST_BUILD_ONLY=1 test/critest/run.sh || die "building critest failed"
	c=$share/critest
	mkdir -p "$c/test/critest" "$c/bin/critest-busybox"
	cp test/critest/run.sh test/critest/skip.txt "$c/test/critest/"
	cp bin/critest bin/crictl bin/critest-registry "$c/bin/"
	cp bin/critest-busybox/busybox "$c/bin/critest-busybox/"
	cp "$share"/bin/* "$c/bin/"
	printf '%s\n' "$critest_focus" >"$c/focus"
fi

log "booting the guest (emulated; up to ${limit}s)"
timeout "$limit" qemu-system-x86_64 -accel tcg -m 3072 -smp 2 -nographic -nic none -no-reboot \
	-kernel "$img/vmlinux" -initrd "$img/initrd.img" \
	-append 'console=ttyS0 root=/dev/vda rw panic=-1 printk.devkmsg=on quiet systemd.show_status=0' \
	-drive file="$img/root.img",format=raw,if=virtio,cache=unsafe -snapshot \
	-virtfs local,path="$share",mount_tag=host,security_model=passthrough,id=host0 \
	</dev/null >"$work/console.log" 2>&1 &
qemu_pid=$!
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=
cp "$work/console.log" "$report/console.log"
cp "$share"/results.txt "$report/" 2>/dev/null
cp "$share"/critest.txt "$report/" 2>/dev/null
cp -r "$share"/critest/bin/critest-report "$report/" 2>/dev/null
cp -r "$share"/logs "$report/" 2>/dev/null

if [ ! -f "$share/rc" ]; then
	tail -30 "$work/console.log" >&2
	[ "$qemu_rc" = 124 ] && die "the guest did not finish within ${limit}s"
	die "the guest stopped without a result (qemu exit $qemu_rc); console in $report/console.log"
fi
rc=$(cat "$share/rc")
grep -E '^(=== RUN|--- |    --- |PASS|FAIL|ok )|_test.go:' "$share/results.txt" >&2
[ -f "$share/critest.txt" ] && grep -E '^critest: |^(SUCCESS|FAIL)!|\[FAIL\]' "$share/critest.txt" >&2
log "suite exit $rc; done in $(( SECONDS - start ))s; output in $report/"
exit "$rc"
