package proc

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

func TestRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if !Runs(os.Getpid()) {
		t.Fatal("this process does not run")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Exited and not yet reaped is a zombie: not running.
	for Runs(pid) {
	}
	cmd.Wait()
	if Runs(pid) || Runs(0) || Runs(-1) {
		t.Fatal("a process that is gone runs")
	}
}
