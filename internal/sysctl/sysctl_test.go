package sysctl

import (
	"errors"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestCheck(t *testing.T) {
	for _, ok := range []struct{ name, key string }{
		{"net.ipv4.ip_forward", "net.ipv4.ip_forward"},
		{"net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"},
		{"kernel.shm_rmid_forced", "kernel.shm_rmid_forced"},
		{"fs.mqueue.msg_max", "fs.mqueue.msg_max"},
		{"kernel.sem", "kernel.sem"},
	} {
		if key, err := Check(ok.name, "1", false, false); err != nil || key != ok.key {
			t.Errorf("%s: %q %v", ok.name, key, err)
		}
	}
	for _, bad := range []struct {
		name, value      string
		hostNet, hostIPC bool
	}{
		{"kernel.core_pattern", "x", false, false},
		{"kernel.shmfoo", "1", false, false}, // not a sysctl the IPC namespace has
		{"net.ipv4.ip_forward", "1", true, false},
		{"kernel.shmmax", "1", false, true},
		{"net.ipv4.ip_forward", "1+kernel.core_pattern=|/x", false, false},
		{"net.ipv4.ip_forward", "1\x00", false, false},
		{"net..x", "1", false, false},
		{"NET.x", "1", false, false},
		{"", "1", false, false},
	} {
		if _, err := Check(bad.name, bad.value, bad.hostNet, bad.hostIPC); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestPath(t *testing.T) {
	if p := Path(Dotted("net/ipv4/conf/eth0.100/rp_filter")); p != "/proc/sys/net/ipv4/conf/eth0.100/rp_filter" {
		t.Fatal(p)
	}
	if p := Path("kernel.shmmax"); p != "/proc/sys/kernel/shmmax" {
		t.Fatal(p)
	}
}
