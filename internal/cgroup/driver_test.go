package cgroup

import (
	"errors"
	"strings"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

// The systemd form is found where systemd puts it: every dash of a slice
// name is a level, and the scope is prefix-name.
func TestSystemdPathsOnDisk(t *testing.T) {
	for _, tc := range []struct{ path, dir, slice string }{
		{"/kubepods/pod1/abc", "/kubepods/pod1/abc", ""},
		{"criserver.slice:criserver:abc", "/criserver.slice/criserver-abc.scope", "criserver.slice"},
		{"kubepods-burstable-pod1.slice:criserver:abc",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/criserver-abc.scope", "kubepods-burstable-pod1.slice"},
		{"-.slice:criserver:abc", "/criserver-abc.scope", "-.slice"},
	} {
		if got := fsPath(tc.path); got != tc.dir {
			t.Errorf("fsPath(%q) = %q, want %q", tc.path, got, tc.dir)
		}
		if got := Slice(tc.path); got != tc.slice {
			t.Errorf("Slice(%q) = %q, want %q", tc.path, got, tc.slice)
		}
	}
	if got := OOMFile("a-b.slice:criserver:abc"); !strings.Contains(got, "/a.slice/a-b.slice/criserver-abc.scope/") {
		t.Errorf("OOMFile of a scope: %q", got)
	}
}

// Each driver takes the parent kubelet sends with it and names the
// mismatch, which is a kubelet configured for the other driver.
func TestParentByDriver(t *testing.T) {
	for _, tc := range []struct {
		d          Driver
		in, want   string
		errMention string
	}{
		{Cgroupfs, "", "", ""},
		{Cgroupfs, "/kubepods/burstable/pod1", "/kubepods/burstable/pod1", ""},
		{Cgroupfs, "kubepods-burstable-pod1.slice", "", "cgroupfs driver"},
		{Cgroupfs, "kubepods", "", "absolute"},
		{Cgroupfs, "/kubepods/../../etc", "", "absolute"},
		{Cgroupfs, "/kubepods/", "", "absolute"},
		{Cgroupfs, "/a:b", "", "absolute"},
		{Cgroupfs, "/kube\x00pods", "", "NUL"},
		{Systemd, "", DefaultSlice, ""},
		{Systemd, "kubepods-burstable-pod1.slice", "kubepods-burstable-pod1.slice", ""},
		{Systemd, "/kubepods/burstable/pod1", "", "slice name"},
		{Systemd, "/test.slice", "test.slice", ""},
		{Systemd, "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice", "kubepods-besteffort-pod1.slice", ""},
		{Systemd, "/a.slice/../b.slice", "", "slice name"},
		{Systemd, "/", "", "slice name"},
		{Systemd, "kubepods", "", "slice name"},
		{Systemd, "a--b.slice", "", "slice name"},
		{Systemd, "-a.slice", "", "slice name"},
		{Systemd, "a-.slice", "", "slice name"},
		{Systemd, "a:b.slice", "", "slice name"},
		{Systemd, "../x.slice/y.slice", "", "slice name"},
	} {
		got, err := tc.d.Parent(tc.in)
		if tc.errMention == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s.Parent(%q) = %q, %v; want %q", tc.d, tc.in, got, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.errMention) {
			t.Errorf("%s.Parent(%q) = %q, %v; want InvalidArgument mentioning %q", tc.d, tc.in, got, err, tc.errMention)
		}
	}
}

func TestDriverCheck(t *testing.T) {
	if err := Cgroupfs.Check(); err != nil {
		t.Error(err)
	}
	if err := Driver("upstart").Check(); err == nil {
		t.Error("an unknown driver passed")
	}
}
