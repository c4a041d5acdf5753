package archive

import "fmt"

// IDMap shifts file owners between a user namespace and the host, one range
// for user IDs and one for group IDs, as a pod's user namespace maps them.
type IDMap struct{ UID, GID IDRange }

// IDRange maps Size IDs from Container (in the namespace) to Host.
type IDRange struct{ Container, Host, Size uint32 }

// overflowID is what an ID with no mapping reads as, as the kernel shows it.
const overflowID = 65534

func (r IDRange) toContainer(id int) int {
	if id >= int(r.Host) && id-int(r.Host) < int(r.Size) {
		return id - int(r.Host) + int(r.Container)
	}
	return overflowID
}

func (r IDRange) toHost(id int) (int, bool) {
	if id >= int(r.Container) && id-int(r.Container) < int(r.Size) {
		return id - int(r.Container) + int(r.Host), true
	}
	return 0, false
}

// ToContainer maps host owners to the namespace's; an owner the namespace
// does not map reads as 65534, as the kernel shows it.
func (m *IDMap) ToContainer(uid, gid int) (int, int) {
	return m.UID.toContainer(uid), m.GID.toContainer(gid)
}

// ToHost maps the namespace's owners to the host's; an owner outside the
// namespace's range is an ErrUnsafe error.
func (m *IDMap) ToHost(uid, gid int) (int, int, error) {
	hu, ok := m.UID.toHost(uid)
	if !ok {
		return 0, 0, fmt.Errorf("%w: uid %d is outside the container's user namespace", ErrUnsafe, uid)
	}
	hg, ok := m.GID.toHost(gid)
	if !ok {
		return 0, 0, fmt.Errorf("%w: gid %d is outside the container's user namespace", ErrUnsafe, gid)
	}
	return hu, hg, nil
}
