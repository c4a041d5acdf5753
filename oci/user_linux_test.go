package oci

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/criserver/criserver/internal/errdefs"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment, then a malformed line
malformed
alice:x:1000:1000::/home/alice:/bin/sh
bob:x:1001:1002::/home/bob:/bin/sh
huge:x:4294967295:0::/:/bin/sh
biggid:x:1003:3000000000::/:/bin/sh
overflow:x:99999999999999999999999:0::/:/bin/sh
`

const testGroup = `root:x:0:
alice:x:1000:
wheel:x:10:alice
staff:x:50:alice,bob
devs:x:2000:bob
`

// writeRootfs makes a rootfs holding files (path -> content) and returns it.
func writeRootfs(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func i64(v int64) *int64 { return &v }

func TestResolveUser(t *testing.T) {
	root := writeRootfs(t, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	tests := []struct {
		name      string
		sec       Security
		image     string
		uid, gid  uint32
		groups    []uint32
		wantErr   error
		errSubstr string
	}{
		{name: "nothing set is root", uid: 0, gid: 0, groups: []uint32{0}},
		{name: "RunAsUser takes passwd gid and group memberships", sec: Security{RunAsUser: i64(1000)},
			uid: 1000, gid: 1000, groups: []uint32{10, 50, 1000}},
		{name: "RunAsGroup and supplemental groups merge", image: "bob:devs",
			sec: Security{RunAsUser: i64(1000), RunAsGroup: i64(3000), SupplementalGroups: []int64{4000, 50}},
			uid: 1000, gid: 3000, groups: []uint32{10, 50, 3000, 4000}},
		{name: "strict supplemental groups skip /etc/group",
			sec: Security{RunAsUser: i64(1000), StrictSupplementalGroups: true, SupplementalGroups: []int64{4000}},
			uid: 1000, gid: 1000, groups: []uint32{1000, 4000}},
		{name: "uid without passwd entry gets gid 0", sec: Security{RunAsUser: i64(5555)},
			uid: 5555, gid: 0, groups: []uint32{0}},
		{name: "RunAsUsername", sec: Security{RunAsUsername: "bob"}, uid: 1001, gid: 1002, groups: []uint32{50, 1002, 2000}},
		{name: "image user name", image: "alice", uid: 1000, gid: 1000, groups: []uint32{10, 50, 1000}},
		{name: "image uid:groupname", image: "1001:devs", uid: 1001, gid: 2000, groups: []uint32{50, 2000}},
		{name: "image name:gid", image: "alice:77", uid: 1000, gid: 77, groups: []uint32{10, 50, 77}},
		{name: "RunAsGroup without a user of its own", image: "bob:devs", sec: Security{RunAsGroup: i64(9)},
			wantErr: errdefs.ErrInvalidArgument, errSubstr: "without RunAsUser"},
		{name: "unknown image user", image: "nosuch", wantErr: errdefs.ErrNotFound, errSubstr: "nosuch"},
		{name: "unknown RunAsUsername", sec: Security{RunAsUsername: "ghost"}, wantErr: errdefs.ErrNotFound, errSubstr: "ghost"},
		{name: "unknown group", image: "alice:nogroup", wantErr: errdefs.ErrNotFound, errSubstr: "nogroup"},
		{name: "RunAsUser 2^32-1", sec: Security{RunAsUser: i64(4294967295)}, wantErr: errdefs.ErrInvalidArgument},
		{name: "RunAsUser past int32", sec: Security{RunAsUser: i64(2147483648)}, wantErr: errdefs.ErrInvalidArgument},
		{name: "negative RunAsUser", sec: Security{RunAsUser: i64(-1)}, wantErr: errdefs.ErrInvalidArgument},
		{name: "negative RunAsGroup", sec: Security{RunAsUser: i64(0), RunAsGroup: i64(-5)}, wantErr: errdefs.ErrInvalidArgument},
		{name: "huge supplemental group", sec: Security{SupplementalGroups: []int64{1 << 32}}, wantErr: errdefs.ErrInvalidArgument},
		{name: "image uid 2^32", image: "4294967296", wantErr: errdefs.ErrInvalidArgument},
		{name: "image uid past int64", image: "99999999999999999999999", wantErr: errdefs.ErrInvalidArgument},
		{name: "image uid -1", image: "-1", wantErr: errdefs.ErrInvalidArgument},
		{name: "image gid 2^32-1", image: "alice:4294967295", wantErr: errdefs.ErrInvalidArgument},
		{name: "passwd entry with huge uid", image: "huge", wantErr: errdefs.ErrInvalidArgument},
		{name: "passwd entry past int64", image: "overflow", wantErr: errdefs.ErrInvalidArgument},
		{name: "passwd entry with huge gid", image: "biggid", wantErr: errdefs.ErrInvalidArgument},
		{name: "three-part image user", image: "a:b:c", wantErr: errdefs.ErrInvalidArgument},
		{name: "empty user part", image: ":5", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ResolveUser(root, tt.sec, tt.image)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("err %q does not name %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.UID != tt.uid || u.GID != tt.gid || !slices.Equal(u.AdditionalGids, tt.groups) {
				t.Fatalf("got %d:%d %v, want %d:%d %v", u.UID, u.GID, u.AdditionalGids, tt.uid, tt.gid, tt.groups)
			}
		})
	}
}

// An image's /etc/passwd that links to an absolute path must be read from
// that path inside the rootfs, never from the host (CVE-2024-5154 class).
func TestResolveUserSymlinkStaysInRootfs(t *testing.T) {
	hostDir := t.TempDir()
	hostPasswd := filepath.Join(hostDir, "passwd")
	if err := os.WriteFile(hostPasswd, []byte("carol:x:1:1::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := writeRootfs(t, map[string]string{
		strings.TrimPrefix(hostPasswd, "/"): "carol:x:1234:4321::/:/bin/sh\n",
		"etc/group":                         testGroup,
	})
	if err := os.Symlink(hostPasswd, filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	u, err := ResolveUser(root, Security{}, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if u.UID != 1234 || u.GID != 4321 {
		t.Fatalf("carol resolved to %d:%d; want 1234:4321 from the rootfs copy, not the host's 1:1", u.UID, u.GID)
	}

	// A link to a host file the rootfs lacks reads as no file at all.
	root2 := writeRootfs(t, map[string]string{"etc/group": testGroup})
	if err := os.Symlink(hostPasswd, filepath.Join(root2, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveUser(root2, Security{}, "carol"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("carol through a link to a host-only file: err = %v, want not found", err)
	}
}

func TestResolveUserBadEtcFiles(t *testing.T) {
	t.Run("larger than 1 MiB", func(t *testing.T) {
		big := strings.Repeat("#"+strings.Repeat("x", 1023)+"\n", 1024) + "alice:x:1000:1000::/:/bin/sh\n"
		root := writeRootfs(t, map[string]string{"etc/passwd": big})
		if _, err := ResolveUser(root, Security{}, "alice"); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("err = %v, want invalid argument", err)
		}
	})
	t.Run("a FIFO does not hang", func(t *testing.T) {
		root := writeRootfs(t, map[string]string{"etc/passwd": testPasswd})
		if err := syscall.Mkfifo(filepath.Join(root, "etc/group"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ResolveUser(root, Security{}, "alice"); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("err = %v, want invalid argument", err)
		}
	})
	t.Run("missing files", func(t *testing.T) {
		root := t.TempDir()
		u, err := ResolveUser(root, Security{RunAsUser: i64(7)}, "")
		if err != nil || u.UID != 7 || u.GID != 0 {
			t.Fatalf("got %+v, %v; want 7:0", u, err)
		}
		if _, err := ResolveUser(root, Security{}, "alice"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("err = %v, want not found", err)
		}
	})
	t.Run("symlink loop", func(t *testing.T) {
		root := writeRootfs(t, map[string]string{"etc/group": testGroup})
		if err := os.Symlink("../../../../etc/passwd", filepath.Join(root, "etc/passwd")); err != nil {
			t.Fatal(err)
		}
		if _, err := ResolveUser(root, Security{}, "root"); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("err = %v, want invalid argument", err)
		}
	})
}
