package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// monitorPID finds the monitor process of container id.
func monitorPID(t *testing.T, id string) int {
	t.Helper()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && strings.Contains(string(b), "criserver-monitor") && strings.Contains(string(b), id) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(c)))
			return pid
		}
	}
	t.Fatalf("no monitor for %s", id)
	return 0
}

// A monitor that speaks another control protocol (one left running by an
// older build) keeps its container running across a daemon restart, and
// the container's exit is still read, from the exit file.
func TestMonitorOfAnotherProtocol(t *testing.T) {
	d := newDaemon(t)
	d.pull()
	pc := podConfig(d, "upgrade")
	pod := d.runPod(pc)
	id := d.run(pod, pc, ctrConfig("c", "sleep", "1000"))
	dir := filepath.Join(d.state, "containers", id)

	d.kill()
	if err := syscall.Kill(monitorPID(t, id), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The old monitor: it answers every request with an error, as one
	// from before the version request would.
	os.Remove(filepath.Join(dir, "monitor.sock"))
	df, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	ln, err := net.Listen("unix", fmt.Sprintf("/proc/self/fd/%d/monitor.sock", df.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				line, _ := bufio.NewReader(conn).ReadString('\n')
				fmt.Fprintf(conn, "error unknown request %q\n", strings.TrimSpace(line))
			}()
		}
	}()

	d.start()
	if st := d.status(id); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after the restart the container reads %s (exit %d, %q), want running", st.State, st.ExitCode, st.Message)
	}
	exit := `{"exitCode":7,"finishedAt":"2026-11-30T12:00:00Z","oomKilled":false}`
	if err := os.WriteFile(filepath.Join(dir, "exit.json"), []byte(exit), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the exit file's code is the container's", func() bool {
		st := d.status(id)
		return st.State == runtimeapi.ContainerState_CONTAINER_EXITED && st.ExitCode == 7
	})
}
