package container

import (
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/criserver/criserver/internal/metadata"
	"github.com/criserver/criserver/oci"
)

// The containers' bbolt schema (internal/metadata.Records):
//
//	containers/
//	├── version        -> "2"
//	└── items/
//	    └── <id>       -> recordV2, JSON
//
// recordV2 is the on-disk contract, apart from the domain type so that a
// change to Container cannot change what older and newer daemons read;
// testdata holds a record of each version that must decode. Version 2
// spells the OCI enums (mount propagation, namespace modes, seccomp type)
// by name where version 1 held their numbers: the numbers still decode, so
// opening a version 1 bucket rewrites its records by name and an older
// daemon is then refused by the version instead of misreading a record.
var schema = metadata.Schema{
	Name:    "containers",
	Version: "2",
	Migrate: metadata.Reencode[recordV2]("1"),
}

func openRecords(db *bolt.DB) (*metadata.Records[recordV2], error) {
	return metadata.NewRecords[recordV2](db, schema)
}

type recordV2 struct {
	ID             string    `json:"id"`
	Config         configV2  `json:"config"`
	ImageID        string    `json:"imageID"`
	ImageRef       string    `json:"imageRef"`
	State          string    `json:"state"`
	CreatedAt      time.Time `json:"createdAt"`
	StartedAt      time.Time `json:"startedAt,omitzero"`
	FinishedAt     time.Time `json:"finishedAt,omitzero"`
	ExitCode       int32     `json:"exitCode"`
	Reason         string    `json:"reason,omitempty"`
	Message        string    `json:"message,omitempty"`
	Pid            int       `json:"pid,omitempty"`
	Paused         bool      `json:"paused,omitempty"`        // absent from older records: not paused
	StopRequested  bool      `json:"stopRequested,omitempty"` // absent from older records: not asked
	RuntimeHandler string    `json:"runtimeHandler"`
	CgroupsPath    string    `json:"cgroupsPath"`
	StopSignal     string    `json:"stopSignal,omitempty"`
	User           userV2    `json:"user"`
	Dir            string    `json:"dir"`
	StateDir       string    `json:"stateDir"`
	// Restore is new in version 2 without a bump: absent, it reads as
	// false, which every record written before it is; a daemon from
	// before it that finds it set would start a restore's bundle as a
	// new container, and fail, the runtime not having it.
	Restore bool `json:"restore,omitempty"`
}

// configV2 keeps the field names version 1 was first written with. Spec
// is oci's own type: its enums carry their names (oci/enum_text.go), and
// the golden records pin its shape.
type configV2 struct {
	SandboxID   string              `json:"SandboxID"`
	Name        string              `json:"Name"`
	Attempt     uint32              `json:"Attempt"`
	Image       string              `json:"Image"`
	UserImage   string              `json:"UserImage,omitempty"`
	LogPath     string              `json:"LogPath"`
	StdinOnce   bool                `json:"StdinOnce"`
	TargetID    string              `json:"TargetID"`
	Labels      map[string]string   `json:"Labels"`
	Annotations map[string]string   `json:"Annotations"`
	CDIDevices  []string            `json:"CDIDevices,omitempty"` // absent from records older than CDI: none
	Volumes     []volumeMountV2     `json:"Volumes,omitempty"`    // absent from records older than named volumes: none
	Spec        oci.ContainerConfig `json:"Spec"`
}

type volumeMountV2 struct {
	Name          string `json:"Name"`
	ContainerPath string `json:"ContainerPath"`
	ReadOnly      bool   `json:"ReadOnly,omitempty"`
	NoCopy        bool   `json:"NoCopy,omitempty"`
	Anonymous     bool   `json:"Anonymous,omitempty"` // absent from records older than anonymous volumes: named
}

type userV2 struct {
	UID            uint32   `json:"UID"`
	GID            uint32   `json:"GID"`
	AdditionalGids []uint32 `json:"AdditionalGids"`
}

func toRecord(x *Container) *recordV2 {
	c := &x.Config
	return &recordV2{
		ID: x.ID, ImageID: x.ImageID, ImageRef: x.ImageRef, State: string(x.State),
		CreatedAt: x.CreatedAt, StartedAt: x.StartedAt, FinishedAt: x.FinishedAt,
		ExitCode: x.ExitCode, Reason: x.Reason, Message: x.Message, Pid: x.Pid, Paused: x.Paused, StopRequested: x.StopRequested,
		RuntimeHandler: x.RuntimeHandler, CgroupsPath: x.CgroupsPath, StopSignal: x.StopSignal,
		User: userV2{UID: x.User.UID, GID: x.User.GID, AdditionalGids: slices.Clone(x.User.AdditionalGids)},
		Dir:  x.Dir, StateDir: x.StateDir, Restore: x.Restore,
		Config: configV2{
			SandboxID: c.SandboxID, Name: c.Name, Attempt: c.Attempt, Image: c.Image, UserImage: c.UserImage,
			LogPath: c.LogPath, StdinOnce: c.StdinOnce, TargetID: c.TargetID,
			Labels: maps.Clone(c.Labels), Annotations: maps.Clone(c.Annotations), CDIDevices: slices.Clone(c.CDIDevices), Spec: c.Spec,
			Volumes: volumesV2(c.Volumes),
		},
	}
}

func volumesV2(vs []VolumeMount) []volumeMountV2 {
	var out []volumeMountV2
	for _, v := range vs {
		out = append(out, volumeMountV2(v))
	}
	return out
}

func (r *recordV2) volumes() []VolumeMount {
	var out []VolumeMount
	for _, v := range r.Config.Volumes {
		out = append(out, VolumeMount(v))
	}
	return out
}

func (r *recordV2) container() *Container {
	c := &r.Config
	return &Container{
		ID: r.ID, ImageID: r.ImageID, ImageRef: r.ImageRef, State: State(r.State),
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		ExitCode: r.ExitCode, Reason: r.Reason, Message: r.Message, Pid: r.Pid, Paused: r.Paused, StopRequested: r.StopRequested,
		RuntimeHandler: r.RuntimeHandler, CgroupsPath: r.CgroupsPath, StopSignal: r.StopSignal,
		User: User{UID: r.User.UID, GID: r.User.GID, AdditionalGids: r.User.AdditionalGids},
		Dir:  r.Dir, StateDir: r.StateDir, Restore: r.Restore,
		Config: Config{
			SandboxID: c.SandboxID, Name: c.Name, Attempt: c.Attempt, Image: c.Image, UserImage: c.UserImage,
			LogPath: c.LogPath, StdinOnce: c.StdinOnce, TargetID: c.TargetID,
			Labels: c.Labels, Annotations: c.Annotations, CDIDevices: c.CDIDevices, Spec: c.Spec,
			Volumes: r.volumes(),
		},
	}
}

func (c *Controller) save(x *Container) error { return c.records.Put(x.ID, toRecord(x)) }

func (c *Controller) deleteRecord(id string) error { return c.records.Delete(id) }

func (c *Controller) load() ([]*Container, error) {
	rs, err := c.records.All()
	if err != nil {
		return nil, err
	}
	out := make([]*Container, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.container())
	}
	return out, nil
}
