#!/bin/sh
# criserver-node runs inside the node VM as a systemd unit: it mounts the
# host's share, runs the suite's script the host put there (suite.sh: it
# comes with each run, so changing it needs no new image), leaves its exit
# code and the journal on the share, and powers the guest off. Lines also
# go to the kernel log, which the console shows.
say() { echo "criserver-node: $*" >/dev/kmsg; }

mkdir -p /mnt/host
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host /mnt/host; then
	say "cannot mount the host share"
	systemctl poweroff
	exit 1
fi
systemctl is-system-running --wait >/dev/null 2>&1
say "system $(systemctl is-system-running), kernel $(uname -r), $(stat -fc %T /sys/fs/cgroup)"
sh /mnt/host/suite.sh
rc=$?
say "suite exit $rc"
mkdir -p /mnt/host/logs
journalctl -b --no-pager >/mnt/host/logs/journal.txt 2>&1
echo "$rc" >/mnt/host/rc
sync
systemctl poweroff
