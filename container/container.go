package container

import (
	"maps"
	"slices"
	"time"

	"github.com/criserver/criserver/oci"
)

// State of a container.
type State string

const (
	StateCreating State = "creating"
	StateCreated  State = "created"
	StateRunning  State = "running"
	StateExited   State = "exited"
)

// Config is what a container is asked to be, in plain values.
type Config struct {
	SandboxID string
	Name      string
	Attempt   uint32
	Image     string // the image as the caller named it
	// UserImage is the image as a person named it, before the caller
	// resolved it (CRI's user_specified_image); empty when not given.
	UserImage string `json:",omitempty"`
	LogPath   string // absolute path of the CRI log file; empty for none
	StdinOnce bool
	// TargetID is the container whose PID namespace a NamespaceTarget
	// container joins.
	TargetID    string
	Labels      map[string]string
	Annotations map[string]string
	// CDIDevices are the qualified names (vendor/class=device) of the
	// Container Device Interface devices the container gets.
	CDIDevices []string `json:",omitempty"`
	// Volumes are the named volumes the container mounts; Create adds
	// their bind mounts to Spec.
	Volumes []VolumeMount `json:",omitempty"`
	// Checkpoint is the path of a checkpoint archive to restore (the
	// request's image was one); Image is then the archive's base image.
	Checkpoint string `json:",omitempty"`
	// Spec carries the process, mounts, devices, security context and
	// resources; the controller fills in the rest (IDs, rootfs, sandbox).
	Spec oci.ContainerConfig
}

// VolumeMount mounts a named volume.
type VolumeMount struct {
	Name          string
	ContainerPath string
	ReadOnly      bool
	NoCopy        bool // never copy the image's files in
	// Anonymous is a volume made for this container alone: the daemon
	// named it at creation, and a failed creation or an auto-removal
	// takes it away.
	Anonymous bool `json:",omitempty"`
}

// Container is a container as the daemon records it.
type Container struct {
	ID         string    `json:"id"`
	Config     Config    `json:"config"`
	ImageID    string    `json:"imageID"`
	ImageRef   string    `json:"imageRef"` // the repo digest it was created from, when known
	State      State     `json:"state"`
	CreatedAt  time.Time `json:"createdAt"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	ExitCode   int32     `json:"exitCode"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	Pid        int       `json:"pid,omitempty"`
	// Paused says the runtime has frozen its processes (Pause).
	Paused bool `json:"paused,omitempty"`
	// StopRequested says a client stopped it (Stop, which a pod's stop
	// and removal also call), so that a restart policy leaves it be.
	StopRequested  bool   `json:"stopRequested,omitempty"`
	RuntimeHandler string `json:"runtimeHandler"`
	CgroupsPath    string `json:"cgroupsPath"`
	StopSignal     string `json:"stopSignal,omitempty"`
	User           User   `json:"user"`     // the identity the process runs as
	Dir            string `json:"dir"`      // bundle: config.json, rootfs, upper, work
	StateDir       string `json:"stateDir"` // monitor: socket, exit file
	// Restore says its start restores a checkpoint (see restore.go)
	// instead of starting a created process.
	Restore bool `json:"restore,omitempty"`
}

func (c *Container) clone() *Container {
	x := *c
	x.Config.Labels = maps.Clone(c.Config.Labels)
	x.Config.Annotations = maps.Clone(c.Config.Annotations)
	x.Config.Volumes = slices.Clone(c.Config.Volumes)
	return &x
}

// Bundle is the container's OCI bundle directory.
func (c *Container) Bundle() string { return c.Dir }

// Rootfs is where the container's root filesystem is mounted.
func (c *Container) Rootfs() string { return c.Dir + "/rootfs" }

func (c *Container) monitorDir() string { return c.StateDir }

// User is the resolved identity of the container's process.
type User struct {
	UID, GID       uint32
	AdditionalGids []uint32
}

// EventType is a container lifecycle event, for kubelet's evented PLEG.
type EventType int

const (
	EventCreated EventType = iota
	EventStarted
	EventStopped
	EventDeleted
)

// Event says what happened to which container.
type Event struct {
	Type      EventType
	Container *Container
	At        time.Time
}
