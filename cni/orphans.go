package cni

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// AwaitPlugins waits for CNI plugins still running for the given sandboxes:
// a daemon killed during an ADD leaves its plugin running, and a DEL run
// beside that ADD (by recovery) tears down what the ADD then builds again
// (the bridge plugin's masquerade chain, say). Plugins that outlive the
// plugin timeout are killed with their process groups. Plugins are found by
// the CNI_CONTAINERID in their environment.
func (m *Manager) AwaitPlugins(ctx context.Context, sandboxIDs []string) {
	if len(sandboxIDs) == 0 {
		return
	}
	want := map[string]bool{}
	for _, id := range sandboxIDs {
		want["CNI_CONTAINERID="+id] = true
	}
	deadline := time.Now().Add(m.pluginTimeout)
	for {
		pids := pluginsOf(want)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			for _, pid := range pids {
				m.log.Warn("killing a CNI plugin left running by an earlier daemon", "pid", pid)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
		m.log.Info("waiting for CNI plugins left running by an earlier daemon", "pids", pids)
		time.Sleep(50 * time.Millisecond)
	}
}

// pluginsOf lists the processes whose environment holds one of want.
func pluginsOf(want map[string]bool) []int {
	envs, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []int
	for _, e := range envs {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(b, []byte{0}) {
			if want[string(kv)] {
				if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(e))); err == nil {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids
}
