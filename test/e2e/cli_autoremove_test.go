package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// create --rm, start -a and wait: the daemon removes the container when it
// exits, but not before the CLI that follows it has its output and code.

func TestCLICreateRmStartAttach(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	// A command quicker than any poll, again and again: the daemon must
	// hold the removal for the CLI's wait, taken before the start.
	for i := range 5 {
		d.mustCLI("create", "--rm", "--name", "once", "busybox", "sh", "-c", "echo hello; exit 3")
		if r := d.cli("start", "-a", "once"); r.code != 3 || r.stdout != "hello\n" {
			t.Fatalf("start -a %d of a create --rm: exit %d, stdout %q, stderr %q", i, r.code, r.stdout, r.stderr)
		}
		// start -a returns once the daemon has removed it.
		if !d.podsAndLogsGone() {
			t.Fatalf("after start -a %d, the create --rm container is still there", i)
		}
	}
	if r := d.cli("create", "--rm", "--restart", "always", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "conflict") {
		t.Fatalf("create --rm --restart always: exit %d, %q", r.code, r.stderr)
	}
	d.wantNothingLeft(t)

	// wait has the code of an --rm container, which goes as wait ends.
	d.mustCLI("run", "-d", "--rm", "--name", "waited", "busybox", "sh", "-c", "sleep 1; exit 4")
	if out := d.mustCLI("wait", "waited"); out != "4\n" {
		t.Fatalf("wait of an --rm container printed %q, want 4", out)
	}
	if !d.podsAndLogsGone() {
		t.Fatal("after wait, the --rm container is still there")
	}

	// The removal is the daemon's: a CLI killed while it follows lets it
	// go, and the container still goes when it exits.
	d.mustCLI("create", "--rm", "--name", "orphan", "busybox", "sh", "-c", "echo ready; sleep 1")
	f := d.follow(t, "start", "-a", "orphan")
	f.expect("ready")
	f.signal(syscall.SIGKILL)
	f.exit()
	eventually(t, "the container the killed CLI followed is removed when it exits", d.podsAndLogsGone)

	// So too when the daemon is killed while a CLI holds the removal: the
	// next one removes what exited meanwhile.
	d.mustCLI("create", "--rm", "--name", "crash", "busybox", "sh", "-c", "echo ready; sleep 1")
	f = d.follow(t, "start", "-a", "crash")
	f.expect("ready")
	d.kill()
	if code, _ := f.exit(); code == 0 {
		t.Error("start -a exited 0 when the daemon died under it")
	}
	time.Sleep(1500 * time.Millisecond) // the container exits while the daemon is down
	d.start()
	eventually(t, "the restarted daemon removes the create --rm container that exited", d.podsAndLogsGone)
	d.wantNothingLeft(t)
}
