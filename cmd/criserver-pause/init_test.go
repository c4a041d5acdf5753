package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary is the init when it is run with -- and this variable.
func TestMain(m *testing.M) {
	if os.Getenv("CRISERVER_PAUSE_TEST_INIT") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Exit(runInit(os.Args[i+1:]))
			}
		}
	}
	os.Exit(m.Run())
}

func initCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"--"}, args...)...)
	cmd.Env = append(os.Environ(), "CRISERVER_PAUSE_TEST_INIT=1")
	return cmd
}

func exitOf(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return exit.ExitCode()
}

func TestInitExitCodes(t *testing.T) {
	for script, want := range map[string]int{"exit 0": 0, "exit 7": 7, "kill -KILL $$": 128 + 9} {
		if got := exitOf(t, initCmd("sh", "-c", script).Run()); got != want {
			t.Errorf("%s: exit %d, want %d", script, got, want)
		}
	}
	out, err := initCmd("no-such-command").CombinedOutput()
	if got := exitOf(t, err); got != 127 || !strings.Contains(string(out), "no-such-command") {
		t.Errorf("a missing command: exit %d, %q", got, out)
	}
	if out, err := initCmd("sh", "-c", "echo $0 $1", "a", "b").Output(); err != nil || string(out) != "a b\n" {
		t.Errorf("args: %q %v", out, err)
	}
}

// A signal to the init reaches the command, whose code comes back.
func TestInitForwardsSignals(t *testing.T) {
	cmd := initCmd("sh", "-c", `trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if string(buf[:n]) != "ready\n" {
		t.Fatalf("read %q", buf[:n])
	}
	time.Sleep(50 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	n, _ = out.Read(buf)
	if got := exitOf(t, cmd.Wait()); got != 3 || string(buf[:n]) != "got TERM\n" {
		t.Errorf("exit %d, %q", got, buf[:n])
	}
}
