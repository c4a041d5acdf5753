package oci

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/criserver/criserver/internal/errdefs"
)

// maxEtcFileSize bounds what is read of an image's /etc/passwd or /etc/group:
// both are image content, and an unbounded read of one is how CVE-2024-9676
// hung and exhausted CRI-O.
const maxEtcFileSize = 1 << 20

type passwdEntry struct {
	name     string
	uid, gid int64 // -1 when the field is not a number that fits int64
}

type groupEntry struct {
	name    string
	gid     int64
	members []string
}

// etcDB reads an image's /etc/passwd and /etc/group at most once each.
type etcDB struct {
	root   string
	passwd []passwdEntry
	group  []groupEntry
	loaded struct{ passwd, group bool }
}

func (d *etcDB) users() ([]passwdEntry, error) {
	if !d.loaded.passwd {
		data, err := readRootfsFile(d.root, "/etc/passwd")
		if err != nil {
			return nil, err
		}
		d.passwd, d.loaded.passwd = parsePasswd(data), true
	}
	return d.passwd, nil
}

func (d *etcDB) groups() ([]groupEntry, error) {
	if !d.loaded.group {
		data, err := readRootfsFile(d.root, "/etc/group")
		if err != nil {
			return nil, err
		}
		d.group, d.loaded.group = parseGroup(data), true
	}
	return d.group, nil
}

// userByName returns the first passwd entry named name, or nil.
func (d *etcDB) userByName(name string) (*passwdEntry, error) {
	users, err := d.users()
	for i := range users {
		if users[i].name == name {
			return &users[i], nil
		}
	}
	return nil, err
}

// userByID returns the first passwd entry with UID uid, or nil.
func (d *etcDB) userByID(uid int64) (*passwdEntry, error) {
	users, err := d.users()
	for i := range users {
		if users[i].uid == uid {
			return &users[i], nil
		}
	}
	return nil, err
}

// groupByName returns the first group entry named name, or nil.
func (d *etcDB) groupByName(name string) (*groupEntry, error) {
	groups, err := d.groups()
	for i := range groups {
		if groups[i].name == name {
			return &groups[i], nil
		}
	}
	return nil, err
}

// memberships returns the GIDs of the groups that list user as a member.
func (d *etcDB) memberships(user string) ([]uint32, error) {
	groups, err := d.groups()
	if err != nil {
		return nil, err
	}
	var gids []uint32
	for _, g := range groups {
		for _, m := range g.members {
			if m != user {
				continue
			}
			gid, err := checkID(g.gid, "GID of group "+strconv.Quote(g.name))
			if err != nil {
				return nil, err
			}
			gids = append(gids, gid)
			break
		}
	}
	return gids, nil
}

// readRootfsFile reads name inside root, resolving symlinks as if root were
// "/" (an image's /etc/passwd linked to "/etc/passwd" must not reach the
// host's: CVE-2024-5154). A missing file reads as empty.
func readRootfsFile(root, name string) ([]byte, error) {
	p, err := securejoin.SecureJoin(root, name)
	if err != nil {
		return nil, fmt.Errorf("%w: resolve %s in the image: %w", errdefs.ErrInvalidArgument, name, err)
	}
	// O_NOFOLLOW: SecureJoin resolved every link, so a link here now was
	// swapped in since. O_NONBLOCK: a FIFO must not hang the open.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the image's %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat the image's %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: the image's %s is not a regular file", errdefs.ErrInvalidArgument, name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxEtcFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the image's %s: %w", name, err)
	}
	if len(data) > maxEtcFileSize {
		return nil, fmt.Errorf("%w: the image's %s is larger than %d bytes", errdefs.ErrInvalidArgument, name, maxEtcFileSize)
	}
	return data, nil
}

// parsePasswd reads name:password:uid:gid:... lines, skipping blank,
// comment and malformed ones.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	for _, f := range etcLines(data) {
		if len(f) < 4 || f[0] == "" {
			continue
		}
		uid, ok1 := parseEtcID(f[2])
		gid, ok2 := parseEtcID(f[3])
		if ok1 && ok2 {
			out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid})
		}
	}
	return out
}

// parseGroup reads name:password:gid:member,member lines.
func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	for _, f := range etcLines(data) {
		if len(f) < 3 || f[0] == "" {
			continue
		}
		gid, ok := parseEtcID(f[2])
		if !ok {
			continue
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					e.members = append(e.members, m)
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// etcLines splits colon-separated lines, dropping blank and comment lines.
func etcLines(data []byte) [][]string {
	var out [][]string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

// parseEtcID parses a numeric field. Digits that overflow int64 give -1 so
// that a user with such an ID is found and then refused as out of range,
// rather than reported missing.
func parseEtcID(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1, true
	}
	return n, true
}
