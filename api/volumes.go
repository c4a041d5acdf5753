package api

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
)

// Named volumes live in the daemon: directories under its root that outlive
// the containers that use them. A container asks for them with
// VolumesAnnotation; the CLI's volume commands call the Volumes service
// below, a second small addition to the CRI socket.
const (
	// VolumesAnnotation on a container config mounts named volumes:
	// "NAME:/container/path[:ro][:nocopy],..." Each volume is created on
	// first use; an empty one gets a copy of what the image holds at the
	// path (unless nocopy). The daemon counts the container as a user of
	// the volume until the container is removed. An entry without a NAME
	// (":/path") is an anonymous volume: the daemon names it (64 random
	// hex digits, as Docker does) when it creates the container, and
	// labels it AnonymousVolumeLabel.
	VolumesAnnotation = "io.criserver.volumes"
	// AnonymousVolumeLabel marks a volume made for one container, Docker's
	// label: volume prune takes only these unless told all, and an
	// auto-removed pod takes its containers' with it.
	AnonymousVolumeLabel = "com.docker.volume.anonymous"
)

// The Volumes service's methods. Each takes and answers well-known types,
// as PullProgressMethod does: a Struct holding the JSON form of the types
// below (ToStruct, FromStruct), or a StringValue naming a volume.
const (
	// VolumeCreateMethod takes a VolumeCreate and answers its Volume;
	// creating an existing volume answers it as it is.
	VolumeCreateMethod = "/criserver.v1.Volumes/Create"
	// VolumeInspectMethod takes a name (StringValue) and answers a Volume.
	VolumeInspectMethod = "/criserver.v1.Volumes/Inspect"
	// VolumeListMethod takes an Empty and answers a VolumeList.
	VolumeListMethod = "/criserver.v1.Volumes/List"
	// VolumeRemoveMethod takes a name (StringValue) and answers an Empty;
	// a volume in use is FailedPrecondition.
	VolumeRemoveMethod = "/criserver.v1.Volumes/Remove"
	// VolumePruneMethod takes a VolumePrune (an Empty is one without All:
	// both are empty on the wire), removes the anonymous volumes no
	// container uses (every unused one with All), as Docker 23's prune,
	// and answers a VolumePruneReport.
	VolumePruneMethod = "/criserver.v1.Volumes/Prune"
	// VolumeUsageMethod takes an Empty and answers a VolumeList whose
	// volumes have UsageData, for system df; it walks every volume's files.
	VolumeUsageMethod = "/criserver.v1.Volumes/Usage"
)

// Volume is a named volume as docker volume inspect shows one.
type Volume struct {
	CreatedAt  string            `json:"CreatedAt"` // RFC 3339
	Driver     string            `json:"Driver"`    // always "local"
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"` // always "local"
	// UsageData is filled only by VolumeUsageMethod, as Docker fills it
	// only for system df.
	UsageData *VolumeUsage `json:"UsageData,omitempty"`
}

// VolumeUsage is a volume's disk use and how many containers hold it.
type VolumeUsage struct {
	Size     int64 `json:"Size"`
	RefCount int64 `json:"RefCount"`
}

// VolumeCreate asks for a volume; an empty name gets a random one.
type VolumeCreate struct {
	Name   string            `json:"Name"`
	Labels map[string]string `json:"Labels"`
}

// VolumeList is every volume, by name.
type VolumeList struct {
	Volumes []Volume `json:"Volumes"`
}

// VolumePrune says what Prune is to remove: with All, named volumes too.
type VolumePrune struct {
	All bool `json:"all,omitempty"`
}

// VolumePruneReport says what Prune removed.
type VolumePruneReport struct {
	VolumesDeleted []string `json:"VolumesDeleted"`
	SpaceReclaimed uint64   `json:"SpaceReclaimed"`
}

// ToStruct encodes any of the types above for the wire.
func ToStruct(v any) (*structpb.Struct, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return structpb.NewStruct(m)
}

// FromStruct decodes what ToStruct wrote into v. A field of the wrong type
// is an error rather than a zero, so a daemon and CLI that drift apart say
// so.
func FromStruct(s *structpb.Struct, v any) error {
	b, err := s.MarshalJSON()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidVolumeName refuses a name Docker would refuse for a local volume.
func ValidVolumeName(name string) error {
	if !volumeName.MatchString(name) {
		return fmt.Errorf("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name)
	}
	return nil
}

// VolumeMount is one entry of VolumesAnnotation.
type VolumeMount struct {
	Name          string // empty for an anonymous volume
	ContainerPath string
	ReadOnly      bool
	NoCopy        bool // never copy the image's files in
}

// String is the entry's annotation form.
func (m VolumeMount) String() string {
	s := m.Name + ":" + m.ContainerPath
	if m.ReadOnly {
		s += ":ro"
	}
	if m.NoCopy {
		s += ":nocopy"
	}
	return s
}

// FormatVolumeMounts is the annotation's value for ms.
func FormatVolumeMounts(ms []VolumeMount) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ",")
}

// ParseVolumeMounts reads VolumesAnnotation's value. Container paths are
// absolute, cleaned, not "/", and appear once.
func ParseVolumeMounts(s string) ([]VolumeMount, error) {
	var out []VolumeMount
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		f := strings.Split(entry, ":")
		if len(f) < 2 {
			return nil, fmt.Errorf("%s %q: want NAME:/PATH[:ro][:nocopy]", VolumesAnnotation, entry)
		}
		m := VolumeMount{Name: f[0], ContainerPath: f[1]}
		if err := ValidVolumeName(m.Name); m.Name != "" && err != nil {
			return nil, fmt.Errorf("%s %q: %w", VolumesAnnotation, entry, err)
		}
		if !path.IsAbs(m.ContainerPath) || path.Clean(m.ContainerPath) == "/" {
			return nil, fmt.Errorf("%s %q: the container path must be absolute and not /", VolumesAnnotation, entry)
		}
		m.ContainerPath = path.Clean(m.ContainerPath)
		for _, o := range f[2:] {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			case "nocopy":
				m.NoCopy = true
			default:
				return nil, fmt.Errorf("%s %q: option %q is not ro, rw or nocopy", VolumesAnnotation, entry, o)
			}
		}
		if seen[m.ContainerPath] {
			return nil, fmt.Errorf("%s: duplicate mount point: %s", VolumesAnnotation, m.ContainerPath)
		}
		seen[m.ContainerPath] = true
		out = append(out, m)
	}
	return out, nil
}
