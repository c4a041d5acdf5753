#!/usr/bin/env bash
# run.sh runs the CRI conformance suite (critest of cri-tools v1.34.0, not its
# benchmarks) against a criserver of its own, then removes everything it made,
# whatever critest's result. Its exit code is critest's.
#
#   test/critest/run.sh [CRITEST FLAGS...]    # e.g. -ginkgo.focus 'HostIpc'
#
# With CRITEST_PREBUILT=1 it builds nothing and runs what bin/ holds (the
# node VM runs it so, see test/node/run.sh); CRITEST_BUILD_ONLY=1 only builds;
# CRITEST_DAEMON_ARGS are added to the daemon's flags.
#
# What it sets up, all torn down by cleanup():
#   - the daemon with its own root, state and socket under a temp dir,
#     and a CNI network of its own: bridge $bridge, subnet $subnet;
#   - a registry on 127.0.0.1 with critest's images rebuilt from a busybox
#     built for critest (test/critest/busybox/build.sh, cached in bin/), as the
#     daemon's mirror of every registry critest names;
#   - critest's own host files (seccomp profiles, mount points), in the temp dir.
# test/critest/skip.txt lists the specs skipped, each with its reason.
# The daemon's log and critest's output stay in bin/critest-report/.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
GO=${GO:-go}
bin=$repo/bin
report=$bin/critest-report
bridge=critest0
subnet=198.18.100.0/24
netname=criserver-critest
lock=/run/lock/criserver-critest.lock

log() { printf 'critest: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# build makes what a run needs in bin/: the daemon, critest, crictl, the
# registry and critest's busybox.
build() {
	log "building"
	run_quiet ${MAKE:-make} -s build GO="$GO" || die "make build failed"
	run_quiet bash -c "cd test/critest && $GO test -c -o '$bin/critest' sigs.k8s.io/cri-tools/cmd/critest &&
		$GO build -o '$bin/crictl' sigs.k8s.io/cri-tools/cmd/crictl" || die "building critest failed"
	# The registry command is a module of its own that uses the main module: a
	# throwaway workspace builds it against this tree without touching its go.mod.
	local work
	work=$(mktemp -d /tmp/criserver-critest-build.XXXXXX) || die "mktemp failed"
	printf 'go %s\n\nuse (\n\t%s\n\t%s\n)\n' "$(sed -n 's/^go //p' go.mod)" "$repo" "$repo/test/critest/registry" >"$work/go.work"
	run_quiet env GOWORK="$work/go.work" "$GO" build -o "$bin/critest-registry" ./test/critest/registry
	local rc=$?
	rm -rf "$work"
	[ "$rc" = 0 ] || die "building test/critest/registry failed"
	test/critest/busybox/build.sh "$bin/critest-busybox/busybox" || die "building busybox failed"
}

# run_quiet runs a command and shows its output only when it fails.
run_quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		return 1
	fi
}

if [ -n "${CRITEST_BUILD_ONLY:-}" ]; then
	build
	exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root (namespaces, mounts, CNI, iptables)"

# One run at a time: runs share the bridge, the subnet and critest's host ports.
exec 9>"$lock" || die "cannot open $lock"
flock -n 9 || die "another run holds $lock"

start=$SECONDS
tmp=$(mktemp -d /tmp/criserver-critest.XXXXXX) || die "mktemp failed"
# Searchable by others, as /var/lib and /run are: pods with their own user
# namespace reach their root filesystems as an unprivileged host ID.
chmod 711 "$tmp"
daemon_pid= registry_pid= sock=$tmp/criserver.sock state=$tmp/state
shm_before=$(ipcs -m 2>/dev/null | awk '$2 ~ /^[0-9]+$/ {print $2}' | sort)


# remove_portmap_rules deletes the nat rules the portmap plugin made for
# our network (their comments name it) and the chains they jump to.
remove_portmap_rules() {
	local line chains=()
	while IFS= read -r line; do
		chains+=("$(sed -nE 's/.* -j (CNI-[A-Z]+-[0-9a-f]+).*/\1/p' <<<"$line")")
		eval "iptables -w -t nat ${line/-A /-D }" 2>/dev/null
	done < <(iptables-save -t nat 2>/dev/null | grep -F "name: \\\"$netname\\\"")
	for c in "${chains[@]}"; do
		[ -n "$c" ] || continue
		iptables -w -t nat -F "$c" 2>/dev/null
		iptables -w -t nat -X "$c" 2>/dev/null
	done
	[ ${#chains[@]} -eq 0 ] || log "removed ${#chains[@]} leftover portmap rule(s) of $netname"
}

cleanup() {
	local rc=$? p f cmd
	trap - EXIT INT TERM
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		timeout 180 "$bin/crictl" --runtime-endpoint "unix://$sock" --timeout 60s rmp -f -a >/dev/null 2>&1 ||
			log "removing pods failed"
		kill -TERM "$daemon_pid" 2>/dev/null
		for _ in $(seq 60); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	# What the daemon should have removed, and a killed run leaves behind.
	for rt in runc crun; do
		[ -d "$state/runtime/$rt" ] || continue
		for id in $("$rt" --root "$state/runtime/$rt" list -q 2>/dev/null); do
			log "leaked $rt container $id"
			"$rt" --root "$state/runtime/$rt" delete --force "$id" >/dev/null 2>&1
		done
	done
	for f in /proc/[0-9]*/cmdline; do
		p=${f#/proc/} p=${p%/cmdline} cmd=$({ tr '\0' ' ' <"$f"; } 2>/dev/null)
		[[ $cmd == *"$tmp/"* ]] || continue
		log "leaked process $p: ${cmd:0:120}"
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$registry_pid" ]; then
		kill -TERM "$registry_pid" 2>/dev/null
		wait "$registry_pid" 2>/dev/null
	fi
	findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r | while IFS= read -r m; do
		umount -l "$m" 2>/dev/null
	done
	ip link del "$bridge" 2>/dev/null && log "deleted bridge $bridge"
	remove_portmap_rules
	# The HostIpc specs make shared memory segments on the host and leave them.
	for id in $(comm -13 <(printf '%s\n' "$shm_before") <(ipcs -m | awk '$2 ~ /^[0-9]+$/ && $5 == 1048576 && $6 == 0 {print $2}' | sort)); do
		ipcrm -m "$id" 2>/dev/null
	done
	rm -rf "$tmp"
	rm -f "$lock" # last: a run that starts now finds the bridge and rules gone
	log "done in $((SECONDS - start))s"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A killed run leaves its bridge and rules behind; we hold the lock, so they
# are stale.
if ip link show "$bridge" >/dev/null 2>&1; then
	log "removing stale bridge $bridge"
	ip link del "$bridge"
fi
remove_portmap_rules
if ip route show | grep -q "^${subnet%/*}"; then
	die "subnet $subnet is routed already: $(ip route show | grep "^${subnet%/*}")"
fi
for port in 12000 12001 12002 12003; do
	if ss -Hltn "sport = :$port" | grep -q .; then die "critest needs host port $port free"; fi
done

if [ -n "${CRITEST_PREBUILT:-}" ]; then
	# The node VM has no Go: the host built everything into bin/.
	for f in criserver criserverd criserver-monitor criserver-pause critest crictl critest-registry critest-busybox/busybox; do
		[ -x "$bin/$f" ] || die "CRITEST_PREBUILT: $bin/$f is missing"
	done
else
	build
fi

log "starting the registry"
"$bin/critest-registry" -busybox "$bin/critest-busybox/busybox" >"$tmp/registry.out" 2>"$tmp/registry.log" &
registry_pid=$!
mirrors=()
for _ in $(seq 240); do
	grep -q '^ready' "$tmp/registry.out" && break
	kill -0 "$registry_pid" 2>/dev/null || { cat "$tmp/registry.log" >&2; die "the registry exited"; }
	sleep 0.5
done
while read -r _ m; do mirrors+=(--registry-mirror "$m"); done < <(grep '^mirror ' "$tmp/registry.out")
[ ${#mirrors[@]} -gt 0 ] || die "the registry printed no mirror"

mkdir -p "$tmp/net.d" "$tmp/hosttmp" "$report" && rm -f "$report"/*
cat >"$tmp/net.d/10-critest.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$netname", "plugins": [
  {"type": "bridge", "bridge": "$bridge", "isGateway": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$subnet"}]], "dataDir": "$tmp/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
EOF

log "starting the daemon"
"$bin/criserver" serve --root "$tmp/root" --state "$state" --socket "$sock" \
	--cni-conf-dir "$tmp/net.d" --log-level "${CRITEST_LOG_LEVEL:-info}" "${mirrors[@]}" ${CRITEST_DAEMON_ARGS:-} \
	2>"$report/criserver.log" &
daemon_pid=$!
ready=
for _ in $(seq "${CRITEST_READY_TRIES:-100}"); do
	"$bin/crictl" --runtime-endpoint "unix://$sock" --timeout 1s version >/dev/null 2>&1 && ready=1 && break
	kill -0 "$daemon_pid" 2>/dev/null || { tail -n 20 "$report/criserver.log" >&2; die "the daemon exited"; }
	sleep 0.2
done
[ -n "$ready" ] || die "the daemon does not answer on $sock"

# skip.txt: one regex per line, "# reason" after it.
skip=$(sed -E 's/(^|[[:space:]]+)#.*$//; /^[[:space:]]*$/d' test/critest/skip.txt | paste -sd'|')
# critest sets no timeout on a stream: a spec stuck on one would hold the
# whole run, so the suite has a deadline and a stuck spec reports where it is.
args=(-runtime-endpoint "unix://$sock" -image-endpoint "unix://$sock" -ginkgo.junit-report "$report/junit.xml"
	-ginkgo.no-color -ginkgo.timeout "${CRITEST_TIMEOUT:-15m}" -ginkgo.poll-progress-after 3m)
[ -z "$skip" ] || args+=(-ginkgo.skip "$skip")

log "running critest"
TMPDIR=$tmp/hosttmp "$bin/critest" "${args[@]}" "$@" 2>&1 | tee "$report/critest.out"
rc=${PIPESTATUS[0]}
if ! kill -0 "$daemon_pid" 2>/dev/null; then
	wait "$daemon_pid"
	log "the daemon exited during the run (status $?): specs after that failed to connect; see $report/criserver.log"
	daemon_pid=
fi

# The plain closing line, from ginkgo's "Ran N of M Specs" and its counts.
ran=$(sed -nE 's/^Ran ([0-9]+) of ([0-9]+) Specs.*/\1 \2/p' "$report/critest.out" | tail -n1)
counts=$(grep -E '^(SUCCESS|FAIL)!.* -- [0-9]+ Passed' "$report/critest.out" | tail -n1)
passed=$(sed -nE 's/.* ([0-9]+) Passed.*/\1/p' <<<"$counts")
failed=$(sed -nE 's/.* ([0-9]+) Failed.*/\1/p' <<<"$counts")
skipped=$(sed -nE 's/.* ([0-9]+) Skipped.*/\1/p' <<<"$counts")
if [ -n "$ran" ]; then
	log "ran ${ran% *} of ${ran#* } specs in $((SECONDS - start))s"
	echo "critest: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
fi
exit "$rc"
