package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

func TestParseVolume(t *testing.T) {
	dir := t.TempDir()
	m, err := parseVolume(dir + ":/data:ro")
	if err != nil || m.bind == nil || m.bind.HostPath != dir || m.bind.ContainerPath != "/data" || !m.bind.Readonly {
		t.Fatalf("got %+v %v", m, err)
	}
	t.Chdir(dir)
	for src, host := range map[string]string{"./rel": filepath.Join(dir, "rel"), "sub/dir": filepath.Join(dir, "sub/dir"), ".": dir, "..": filepath.Dir(dir)} {
		if m, err := parseVolume(src + ":/x"); err != nil || m.bind == nil || m.bind.HostPath != host {
			t.Errorf("%s: %+v %v", src, m, err)
		}
	}
	for s, want := range map[string]api.VolumeMount{
		"myvol:/data":           {Name: "myvol", ContainerPath: "/data"},
		"my.vol_2:/d/:ro":       {Name: "my.vol_2", ContainerPath: "/d", ReadOnly: true},
		"cache:/c:ro,nocopy":    {Name: "cache", ContainerPath: "/c", ReadOnly: true, NoCopy: true},
		"cache:/c:nocopy,rw":    {Name: "cache", ContainerPath: "/c", NoCopy: true},
		"0123456789abcdef:/hex": {Name: "0123456789abcdef", ContainerPath: "/hex"},
	} {
		m, err := parseVolume(s)
		if err != nil || m.volume == nil || *m.volume != want {
			t.Errorf("%s: %+v %v", s, m.volume, err)
		}
	}
	for bad, says := range map[string]string{
		dir:                "anonymous volumes are not supported",
		dir + ":relative":  "absolute container path",
		dir + ":/x:rx":     `option "rx" is not ro or rw`,
		dir + ":/x:nocopy": `option "nocopy" is not ro or rw`,
		":/x":              "want a host path or volume name",
		dir + ":/x:ro:z":   "want SOURCE:CONTAINER",
		"myvol:/x:z":       `option "z" is not ro, rw or nocopy`,
		"v:/x":             "invalid characters",
		"my vol:/x":        "invalid characters",
		"myvol":            "want SOURCE:CONTAINER",
		"-myvol:/x":        "invalid characters",
		"myvol:data":       "absolute container path",
		"C:/x":             "invalid characters",
	} {
		if _, err := parseVolume(bad); err == nil || !strings.Contains(err.Error(), says) || !strings.HasPrefix(err.Error(), "-v ") {
			t.Errorf("parseVolume(%q) = %v, want %q", bad, err, says)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("parsing made %v", ents)
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	for s, want := range map[string]api.VolumeMount{
		"type=volume,source=myvol,target=/data":                        {Name: "myvol", ContainerPath: "/data"},
		"source=myvol,target=/data":                                    {Name: "myvol", ContainerPath: "/data"},
		"type=volume,src=v1,dst=/d,readonly":                           {Name: "v1", ContainerPath: "/d", ReadOnly: true},
		"type=volume,src=v1,destination=/d,ro=true,volume-nocopy=true": {Name: "v1", ContainerPath: "/d", ReadOnly: true, NoCopy: true},
		"type=volume,src=v1,target=/d,readonly=false":                  {Name: "v1", ContainerPath: "/d"},
	} {
		m, err := parseMount(s)
		if err != nil || m.volume == nil || *m.volume != want {
			t.Errorf("%s: %+v %v", s, m.volume, err)
		}
	}
	m, err := parseMount("type=bind,source=" + dir + ",target=/h,readonly")
	if err != nil || m.bind == nil || m.bind.HostPath != dir || m.bind.ContainerPath != "/h" || !m.bind.Readonly || m.mkdir {
		t.Errorf("bind: %+v %v", m, err)
	}
	for bad, says := range map[string]string{
		"type=volume,target=/d":                       "anonymous volumes are not supported",
		"type=volume,source=v1":                       "absolute target",
		"type=volume,source=v1,target=rel":            "absolute target",
		"type=volume,source=a/b,target=/d":            "invalid characters",
		"type=bind,source=" + dir + "/nope,target=/d": "bind source path does not exist",
		"type=bind,target=/d":                         "needs source",
		"type=tmpfs,target=/d":                        `type "tmpfs" is not volume or bind`,
		"type=volume,source=v1,target=/d,size=1":      `unknown option "size"`,
		"type=volume,source=v1,target=/d,ro=maybe":    `"maybe" is not true or false`,
	} {
		if _, err := parseMount(bad); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("parseMount(%q) = %v, want %q", bad, err, says)
		}
	}
}

func TestAddMounts(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "made")
	ctr := &runtimeapi.ContainerConfig{}
	err := addMounts(ctr, []string{missing + ":/x", "data:/data:ro"}, []string{"type=volume,source=cache,target=/cache", "type=bind,source=" + dir + ",target=/h"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("a missing -v host directory should be made, as Docker does: %v", err)
	}
	if len(ctr.Mounts) != 2 || ctr.Mounts[0].HostPath != missing || ctr.Mounts[1].ContainerPath != "/h" {
		t.Errorf("mounts %v", ctr.Mounts)
	}
	if got := ctr.Annotations[api.VolumesAnnotation]; got != "data:/data:ro,cache:/cache" {
		t.Errorf("annotation %q", got)
	}

	// Nothing is made when any mount is refused.
	later := filepath.Join(dir, "later")
	for _, mounts := range [][]string{{"type=bind,source=/nonexistent,target=/y"}, {"type=volume,source=v1,target=/x"}} {
		err := addMounts(&runtimeapi.ContainerConfig{}, []string{later + ":/x"}, mounts)
		if err == nil {
			t.Errorf("%v accepted", mounts)
		}
		if _, err := os.Stat(later); !os.IsNotExist(err) {
			t.Errorf("%v: made %s: %v", mounts, later, err)
		}
	}
	if err := addMounts(&runtimeapi.ContainerConfig{}, []string{"a1:/x/"}, []string{"type=volume,source=b2,target=/x"}); err == nil || err.Error() != "duplicate mount point: /x" {
		t.Errorf("duplicate: %v", err)
	}
	if ctr := (&runtimeapi.ContainerConfig{}); addMounts(ctr, []string{dir + ":/x"}, nil) != nil || ctr.Annotations != nil {
		t.Errorf("binds only: annotations %v", ctr.Annotations)
	}
}
