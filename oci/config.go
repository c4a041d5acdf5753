package oci

import specs "github.com/opencontainers/runtime-spec/specs-go"

// ContainerConfig is everything BuildSpec needs to write a container's OCI
// runtime spec. Package cri fills it from the CRI request; the sandbox fields
// come from the pod the container joins.
type ContainerConfig struct {
	ID   string
	Name string // the CRI metadata name, for annotations

	// Command and Args are the CRI ones; they override the image's
	// Entrypoint and Cmd the way Kubernetes documents.
	Command    []string
	Args       []string
	Env        []string // KEY=VALUE, over the image's
	WorkingDir string   // over the image's
	TTY        bool
	Stdin      bool

	Image ImageConfig

	// RootfsPath is the container's root filesystem, already mounted.
	RootfsPath string

	Mounts  []Mount
	Devices []Device
	// Tmpfs are fresh tmpfs mounts, each replacing a default mount at
	// its path as a CRI mount does.
	Tmpfs []TmpfsMount `json:",omitempty"`
	// Rlimits replace the process's default limit of the same type.
	Rlimits []Rlimit `json:",omitempty"`
	// Init runs the command under an init (criserver-pause in its init
	// mode), bind-mounted read-only from InitPath at InitContainerPath.
	Init     bool   `json:",omitempty"`
	InitPath string `json:",omitempty"`

	Security Security

	Resources *Resources

	// CgroupsPath is the container's cgroup, relative to the cgroup root
	// ("/kubepods/podUID/ID" with the cgroupfs driver).
	CgroupsPath string

	Sandbox SandboxRef

	Annotations map[string]string
}

// ImageConfig is the part of an image's config that shapes its containers.
type ImageConfig struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string // as in the image: "uid", "name", "uid:gid", "name:group"
	StopSignal string
}

// Propagation of a bind mount.
type Propagation int

const (
	PropagationPrivate         Propagation = iota
	PropagationHostToContainer             // rslave
	PropagationBidirectional               // rshared
)

// Mount is a bind mount from the host into the container.
type Mount struct {
	ContainerPath     string
	HostPath          string
	Readonly          bool
	RecursiveReadOnly bool
	Propagation       Propagation
	// Image, for an image volume, names the image whose files the mount
	// shows, read-only; ImageSubPath picks a directory in it. The
	// container package mounts the image and fills HostPath in.
	Image        string `json:",omitempty"`
	ImageSubPath string `json:",omitempty"`
}

// TmpfsMount is a tmpfs filesystem at ContainerPath, mounted with Options
// as the kernel takes them ("size=1048576", "mode=1777", "noexec").
type TmpfsMount struct {
	ContainerPath string
	Options       []string
}

// Rlimit is one resource limit of the container's process; Type is the
// OCI name, such as "RLIMIT_NOFILE".
type Rlimit struct {
	Type       string
	Soft, Hard uint64
}

// Device is a host device node made available in the container.
type Device struct {
	ContainerPath string
	HostPath      string
	Permissions   string // "rwm" subset
}

// NamespaceMode says whose namespace a container uses.
type NamespaceMode int

const (
	NamespacePod       NamespaceMode = iota // the pod's
	NamespaceContainer                      // its own
	NamespaceNode                           // the host's
	NamespaceTarget                         // another container's (PID only)
)

// Namespaces are the container's namespace choices.
type Namespaces struct {
	Network NamespaceMode
	PID     NamespaceMode
	IPC     NamespaceMode
	// TargetPIDNSPath is the PID namespace to join when PID is NamespaceTarget.
	TargetPIDNSPath string
}

// SeccompType picks a seccomp profile.
type SeccompType int

const (
	SeccompUnconfined     SeccompType = iota
	SeccompRuntimeDefault             // moby/profiles/seccomp's default profile
	SeccompLocalhost                  // a JSON profile file on the node
)

// Security is the container's security context.
type Security struct {
	Privileged bool

	RunAsUser     *int64 // overrides the image's user
	RunAsUsername string // resolved in the image's /etc/passwd
	RunAsGroup    *int64
	// SupplementalGroups are added to the groups from the image's /etc/group.
	SupplementalGroups []int64
	// StrictSupplementalGroups ignores /etc/group (SupplementalGroupsPolicy Strict).
	StrictSupplementalGroups bool

	ReadonlyRootfs bool
	NoNewPrivs     bool

	// CapAdd and CapDrop are names with or without "CAP_", or "ALL".
	CapAdd  []string
	CapDrop []string

	Seccomp            SeccompType
	SeccompProfilePath string // for SeccompLocalhost

	// AppArmorProfile is applied only when the host has AppArmor.
	AppArmorProfile string

	// MaskedPaths and ReadonlyPaths: nil means the defaults; an empty,
	// non-nil slice means none.
	MaskedPaths   []string
	ReadonlyPaths []string

	Namespaces Namespaces
}

// Resources are cgroup limits. Zero values mean "not set".
type Resources struct {
	CPUPeriod          int64
	CPUQuota           int64
	CPUShares          int64
	MemoryLimitInBytes int64
	MemorySwapLimit    int64
	CpusetCpus         string
	CpusetMems         string
	HugepageLimits     map[string]uint64 // page size ("2MB") -> bytes
	Unified            map[string]string // cgroup v2 files
	OomScoreAdj        *int64
}

// SandboxRef is what a container takes from its pod.
type SandboxRef struct {
	// Namespace files the container joins (empty when the host's is used or
	// when the container gets its own).
	UserNSPath string
	NetNSPath  string
	IPCNSPath  string
	UTSNSPath  string
	// PIDNSPath is the pod's PID namespace when the pod shares one.
	PIDNSPath string

	HostNetwork bool
	HostIPC     bool
	HostPID     bool

	Hostname       string
	HostnamePath   string // bind-mounted to /etc/hostname
	HostsPath      string // bind-mounted to /etc/hosts
	ResolvConfPath string // bind-mounted to /etc/resolv.conf
	ShmPath        string // bind-mounted to /dev/shm

	Sysctls map[string]string

	// IDMappings are the pod's user namespace's, when it has one.
	IDMappings *IDMappings
}

// IDMappings are a user namespace's user and group ID mappings.
type IDMappings struct {
	UIDs, GIDs []specs.LinuxIDMapping
}
