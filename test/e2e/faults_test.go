package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The fakes below stand at the daemon's process boundaries: an OCI runtime
// (a [runtimes] handler) and a CNI plugin (in a bin dir of the daemon's)
// that pass every call on to the real runc and bridge plugin, except the
// ones a test scripts to go wrong. A fault is a line "<verb> <action>" in
// the daemon's fault file: for the runtime the verb is runc's (create,
// start, kill, delete, state, update, exec), for the plugin the CNI command
// (ADD, DEL). Actions:
//
//	fail         exit 1 with an error line, as runc or a plugin would
//	hang         never finish
//	sleep N      wait N seconds, then do the real work
//	kill-daemon N    SIGKILL the daemon, wait N seconds, then do the real work
//	                 (as a crash in the middle of the call would leave it)
//	fail-after-once  do the real work, then fail; the next call is real
//	                 (a runtime that failed after changing things)
//	fail-after   do the real work, then fail, every time

const faultScript = `#!/bin/sh
verb=%s
action=
if [ -f %q ]; then
	while read -r v a n; do
		if [ "$v" = "$verb" ]; then action=$a; arg=$n; break; fi
	done < %q
fi
case "$action" in
fail)
	%s
	exit 1 ;;
hang)
	exec sleep 3600 ;;
sleep)
	sleep "$arg" ;;
kill-daemon)
	kill -9 "$(cat %q)"
	sleep "${arg:-0}" ;;
fail-after-once)
	: > %q
	%s "$@"
	echo "level=error msg=\"injected failure after $verb\"" >&2
	exit 1 ;;
fail-after)
	%s "$@"
	echo "level=error msg=\"injected failure after $verb\"" >&2
	exit 1 ;;
esac
exec %s "$@"
`

// faultFile is where the daemon's fakes read their faults.
func (d *daemon) faultFile() string { return filepath.Join(d.dir, "faults") }

// fault makes the fakes go wrong at verb; "" for action clears every fault.
func (d *daemon) fault(verb, action string) {
	d.t.Helper()
	line := ""
	if action != "" {
		line = verb + " " + action + "\n"
	}
	if err := os.WriteFile(d.faultFile(), []byte(line), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// useFakeRuntime stops the daemon and starts it again with the fault
// injecting runtime as its runc handler.
func (d *daemon) useFakeRuntime(timeout string) {
	d.t.Helper()
	d.kill()
	runc, err := exec.LookPath("runc")
	if err != nil {
		d.t.Fatal(err)
	}
	path := filepath.Join(d.dir, "fakerunc")
	d.writeFake(path, "$3", `echo "level=error msg=\"injected failure of $verb\"" >&2`, runc)
	d.useConfig(fmt.Sprintf("[runtimes]\nrunc = %q\n[timeouts]\nruntime = %q\n", path, timeout))
	d.start()
}

// useConfig makes the daemon's next start read body as its config file.
func (d *daemon) useConfig(body string) {
	d.t.Helper()
	conf := filepath.Join(d.dir, "criserver.toml")
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		d.t.Fatal(err)
	}
	d.extraArgs = append(d.extraArgs, "--config", conf)
}

// useFakePlugin stops the daemon and starts it again with the fault
// injecting bridge plugin as its network's main plugin, each plugin run
// bounded by timeout.
func (d *daemon) useFakePlugin(timeout string) {
	d.t.Helper()
	d.kill()
	d.useConfig(fmt.Sprintf("[timeouts]\nnetwork = %q\n", timeout))
	d.binDir = filepath.Join(d.dir, "cni-bin")
	os.MkdirAll(d.binDir, 0o755)
	d.writeFake(filepath.Join(d.binDir, "faultbridge"), "$CNI_COMMAND",
		`echo '{"cniVersion":"1.0.0","code":999,"msg":"injected failure of '$verb'"}'`, "/usr/lib/cni/bridge")
	d.writeNetwork("faultbridge")
	d.start()
}

// writeFake writes a fault injecting wrapper of real, which finds its
// verb in verbExpr and fails with failCmd. The daemon to kill is the one
// that runs when the fake does: its PID is in its lock file.
func (d *daemon) writeFake(path, verbExpr, failCmd, real string) {
	d.t.Helper()
	lock := filepath.Join(d.state, "criserver.lock")
	script := fmt.Sprintf(faultScript, verbExpr, d.faultFile(), d.faultFile(), failCmd, lock, d.faultFile(), real, real, real)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		d.t.Fatal(err)
	}
}
