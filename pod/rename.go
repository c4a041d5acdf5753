package pod

import (
	"context"
	"fmt"

	"github.com/criserver/criserver/internal/errdefs"
)

// RenamePod gives a pod another name, reserved as a new pod's would be: a
// name another pod of the namespace holds is AlreadyExists. CRI has no
// rename (kubelet never renames); this is Docker's rename of a CLI
// container, whose pod bears its name.
func (s *Service) RenamePod(_ context.Context, id, name string) error {
	if name == "" {
		return fmt.Errorf("%w: a pod needs a name", errdefs.ErrInvalidArgument)
	}
	defer s.locks.Lock(id)()
	sb, err := s.sandboxes.Get(id)
	if err != nil {
		return err
	}
	renamed := sb.Config
	renamed.Name = name
	oldKey, newKey := sandboxName(&sb.Config), sandboxName(&renamed)
	if err := s.sandboxNames.Rename(oldKey, newKey, id); err != nil {
		return err
	}
	if err := s.sandboxes.Rename(id, name); err != nil {
		_ = s.sandboxNames.Rename(newKey, oldKey, id)
		return err
	}
	return nil
}

// RenameContainer gives a container another name; a name another
// container of its pod has (at any attempt) is AlreadyExists.
func (s *Service) RenameContainer(_ context.Context, id, name string) error {
	if name == "" {
		return fmt.Errorf("%w: a container needs a name", errdefs.ErrInvalidArgument)
	}
	c, err := s.containers.Get(id)
	if err != nil {
		return err
	}
	// Ordered with a restart's replacement, which copies the name.
	defer s.recreating.Lock(c.Config.SandboxID)()
	if c, err = s.containers.Get(id); err != nil {
		return err
	}
	for _, o := range s.containersOf(c.Config.SandboxID) {
		if o.ID != id && o.Config.Name == name {
			return fmt.Errorf("%w: the container name %q is held by %s in the same pod", errdefs.ErrAlreadyExists, name, o.ID)
		}
	}
	oldKey := containerName(c.Config.SandboxID, c.Config.Name, c.Config.Attempt)
	newKey := containerName(c.Config.SandboxID, name, c.Config.Attempt)
	if err := s.containerNames.Rename(oldKey, newKey, id); err != nil {
		return err
	}
	if err := s.containers.Rename(id, name); err != nil {
		_ = s.containerNames.Rename(newKey, oldKey, id)
		return err
	}
	return nil
}
