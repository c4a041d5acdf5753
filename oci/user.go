package oci

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/criserver/criserver/internal/errdefs"
)

// maxID is the largest UID or GID a container may use. The kernel takes up
// to 2^32-2, but runc refuses anything past int32 and Kubernetes validates
// runAsUser to the same range; an ID that wraps when something narrows it to
// int32 is how CVE-2024-40635 turned a huge UID into root.
const maxID = math.MaxInt32

// ResolveUser resolves the container's user and groups inside rootfs.
//
// The user is RunAsUsername, else RunAsUser, else the image's USER ("uid",
// "name", "uid:gid", "name:group"), else root. The primary group is
// RunAsGroup, else the group of an image USER (only when the user came from
// the image too, as containerd does), else the user's passwd entry, else 0.
// AdditionalGids hold the primary group (as containerd does since
// CVE-2023-25173), the /etc/group memberships of the user name unless
// StrictSupplementalGroups, and SupplementalGroups, sorted and deduplicated.
func ResolveUser(rootfs string, sec Security, imageUser string) (specs.User, error) {
	// The CRI (and critest) want a group only with an explicit user: a group
	// paired with whatever user the image names is a request kubelet refuses
	// too.
	if sec.RunAsGroup != nil && sec.RunAsUser == nil && sec.RunAsUsername == "" {
		return specs.User{}, fmt.Errorf("%w: RunAsGroup is set without RunAsUser or RunAsUsername", errdefs.ErrInvalidArgument)
	}
	userPart, groupPart, err := pickUser(sec, imageUser)
	if err != nil {
		return specs.User{}, err
	}
	db := &etcDB{root: rootfs}

	uid, name, passwdGID, err := resolveUserPart(db, userPart)
	if err != nil {
		return specs.User{}, err
	}

	gid := uint32(0)
	switch {
	case sec.RunAsGroup != nil:
		if gid, err = checkID(*sec.RunAsGroup, "RunAsGroup"); err != nil {
			return specs.User{}, err
		}
	case groupPart != "":
		if gid, err = resolveGroupPart(db, groupPart); err != nil {
			return specs.User{}, err
		}
	case passwdGID != nil:
		gid = *passwdGID
	}

	gids := []uint32{gid}
	if !sec.StrictSupplementalGroups && name != "" {
		member, err := db.memberships(name)
		if err != nil {
			return specs.User{}, err
		}
		gids = append(gids, member...)
	}
	for _, g := range sec.SupplementalGroups {
		v, err := checkID(g, "supplemental group")
		if err != nil {
			return specs.User{}, err
		}
		gids = append(gids, v)
	}
	slices.Sort(gids)
	return specs.User{UID: uid, GID: gid, AdditionalGids: slices.Compact(gids)}, nil
}

// pickUser returns the user and group strings to resolve. An empty user
// means root.
func pickUser(sec Security, imageUser string) (userPart, groupPart string, err error) {
	switch {
	case sec.RunAsUsername != "":
		if strings.Contains(sec.RunAsUsername, ":") {
			return "", "", fmt.Errorf("%w: RunAsUsername %q holds a ':'", errdefs.ErrInvalidArgument, sec.RunAsUsername)
		}
		return sec.RunAsUsername, "", nil
	case sec.RunAsUser != nil:
		if _, err := checkID(*sec.RunAsUser, "RunAsUser"); err != nil {
			return "", "", err
		}
		return strconv.FormatInt(*sec.RunAsUser, 10), "", nil
	case imageUser != "":
		parts := strings.Split(imageUser, ":")
		if len(parts) > 2 || parts[0] == "" || (len(parts) == 2 && parts[1] == "") {
			return "", "", fmt.Errorf("%w: image USER %q is not user, user:group", errdefs.ErrInvalidArgument, imageUser)
		}
		if len(parts) == 2 {
			return parts[0], parts[1], nil
		}
		return parts[0], "", nil
	}
	return "", "", nil
}

// resolveUserPart turns a user name or number into a UID, the name to look
// up group memberships with (empty when unknown) and, when the image's
// passwd has an entry for the user, that entry's GID.
func resolveUserPart(db *etcDB, userPart string) (uid uint32, name string, passwdGID *uint32, err error) {
	if userPart == "" {
		userPart = "0"
	}
	var entry *passwdEntry
	if n, numeric, err := parseNumericID(userPart, "user"); err != nil {
		return 0, "", nil, err
	} else if numeric {
		uid = n
		if entry, err = db.userByID(int64(n)); err != nil {
			return 0, "", nil, err
		}
	} else {
		if entry, err = db.userByName(userPart); err != nil {
			return 0, "", nil, err
		}
		if entry == nil {
			return 0, "", nil, fmt.Errorf("%w: user %q is not in the image's /etc/passwd", errdefs.ErrNotFound, userPart)
		}
		if uid, err = checkID(entry.uid, "UID of user "+strconv.Quote(userPart)); err != nil {
			return 0, "", nil, err
		}
	}
	if entry == nil {
		return uid, "", nil, nil
	}
	g, err := checkID(entry.gid, "GID of user "+strconv.Quote(entry.name))
	if err != nil {
		return 0, "", nil, err
	}
	return uid, entry.name, &g, nil
}

// resolveGroupPart turns a group name or number into a GID.
func resolveGroupPart(db *etcDB, groupPart string) (uint32, error) {
	if n, numeric, err := parseNumericID(groupPart, "group"); err != nil || numeric {
		return n, err
	}
	entry, err := db.groupByName(groupPart)
	if err != nil {
		return 0, err
	}
	if entry == nil {
		return 0, fmt.Errorf("%w: group %q is not in the image's /etc/group", errdefs.ErrNotFound, groupPart)
	}
	return checkID(entry.gid, "GID of group "+strconv.Quote(groupPart))
}

// parseNumericID reports whether s is a number and, if it is, checks its
// range. A string of digits too long for int64 is a number out of range, not
// a name.
func parseNumericID(s, what string) (uint32, bool, error) {
	if strings.TrimLeft(s, "0123456789") != "" && !isSignedNumber(s) {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%w: %s ID %q is out of range 0-%d", errdefs.ErrInvalidArgument, what, s, maxID)
	}
	v, err := checkID(n, what+" ID")
	return v, true, err
}

// isSignedNumber catches "-1" and "+5", which must be refused as IDs rather
// than looked up as names.
func isSignedNumber(s string) bool {
	return len(s) > 1 && (s[0] == '-' || s[0] == '+') && strings.TrimLeft(s[1:], "0123456789") == ""
}

// checkID refuses IDs outside 0..maxID.
func checkID(v int64, what string) (uint32, error) {
	if v < 0 || v > maxID {
		return 0, fmt.Errorf("%w: %s %d is out of range 0-%d", errdefs.ErrInvalidArgument, what, v, maxID)
	}
	return uint32(v), nil
}
