#!/bin/sh
# suite.sh is what the node VM runs (guest.sh calls it from the share): the
# Go node suite the host built, then critest (test/critest/run.sh on the
# binaries the host built) against a daemon with the systemd cgroup driver,
# kubelet's default on such a node. Its exit code is the first failure's.
say() { echo "criserver-node: $*" >/dev/kmsg; }
cd /tmp || exit 1
CRISERVER_NODE_BIN=/mnt/host/bin /mnt/host/node.test -test.v -test.timeout 20m -test.run "$(cat /mnt/host/test-run 2>/dev/null)" >/mnt/host/results.txt 2>&1
rc=$?
say "node suite exit $rc"
if [ -f /mnt/host/critest/focus ]; then
	# critest loads its AppArmor profiles with "sudo apparmor_parser"; the
	# suite is root already and the guest has no sudo.
	if ! command -v sudo >/dev/null; then
		printf '#!/bin/sh\nexec "$@"\n' >/usr/local/bin/sudo && chmod 755 /usr/local/bin/sudo
	fi
	# Process start is 50-100x slower under emulation: the daemon gets
	# two minutes to answer.
	CRITEST_PREBUILT=1 CRITEST_READY_TRIES=600 CRITEST_TIMEOUT=20m CRITEST_DAEMON_ARGS="--cgroup-driver systemd" \
		bash /mnt/host/critest/test/critest/run.sh -ginkgo.focus "$(cat /mnt/host/critest/focus)" >/mnt/host/critest.txt 2>&1
	crc=$?
	say "critest exit $crc"
	[ "$rc" != 0 ] || rc=$crc
fi
exit "$rc"
