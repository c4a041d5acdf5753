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
		// No source: an anonymous volume, named by the daemon.
		"/anon/": {ContainerPath: "/anon"},
	} {
		m, err := parseVolume(s)
		if err != nil || m.volume == nil || *m.volume != want {
			t.Errorf("%s: %+v %v", s, m.volume, err)
		}
	}
	for bad, says := range map[string]string{
		"/":                "want SOURCE:CONTAINER",
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
		"type=volume,target=/anon,readonly":                            {ContainerPath: "/anon", ReadOnly: true},
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
		"type=volume,target=/":                        "a volume cannot be the root",
		"type=volume,source=v1":                       "absolute target",
		"type=volume,source=v1,target=rel":            "absolute target",
		"type=volume,source=a/b,target=/d":            "invalid characters",
		"type=bind,source=" + dir + "/nope,target=/d": "bind source path does not exist",
		"type=bind,target=/d":                         "needs source",
		"type=npipe,target=/d":                        `type "npipe" is not volume, bind or tmpfs`,
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
	err := addMounts(ctr, []string{missing + ":/x", "data:/data:ro"}, []string{"type=volume,source=cache,target=/cache", "type=bind,source=" + dir + ",target=/h"}, nil)
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
		err := addMounts(&runtimeapi.ContainerConfig{}, []string{later + ":/x"}, mounts, nil)
		if err == nil {
			t.Errorf("%v accepted", mounts)
		}
		if _, err := os.Stat(later); !os.IsNotExist(err) {
			t.Errorf("%v: made %s: %v", mounts, later, err)
		}
	}
	if err := addMounts(&runtimeapi.ContainerConfig{}, []string{"a1:/x/"}, []string{"type=volume,source=b2,target=/x"}, nil); err == nil || err.Error() != "duplicate mount point: /x" {
		t.Errorf("duplicate: %v", err)
	}
	if ctr := (&runtimeapi.ContainerConfig{}); addMounts(ctr, []string{dir + ":/x"}, nil, nil) != nil || ctr.Annotations != nil {
		t.Errorf("binds only: annotations %v", ctr.Annotations)
	}
}

func TestTmpfsMounts(t *testing.T) {
	ctr := &runtimeapi.ContainerConfig{}
	err := addMounts(ctr, nil, []string{"type=tmpfs,target=/cache,tmpfs-size=1m,tmpfs-mode=1770,readonly", "type=tmpfs,dst=/plain"},
		[]string{"/run:size=64m,mode=1777,exec", "/tmp/"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"/cache":"size=1048576,mode=1770,ro","/plain":"","/run":"size=64m,mode=1777,exec","/tmp":""}`
	if got := ctr.Annotations[api.TmpfsAnnotation]; got != want || len(ctr.Mounts) != 0 {
		t.Errorf("annotation %s, mounts %v", got, ctr.Mounts)
	}
	for _, tc := range []struct {
		tmpfs, mount []string
		want         string
	}{
		{tmpfs: []string{"run"}, want: "--tmpfs run: want an absolute container path below /"},
		{tmpfs: []string{"/"}, want: "--tmpfs /: want an absolute container path below /"},
		{tmpfs: []string{"/x:size=lots"}, want: "--tmpfs /x:size=lots: tmpfs option size=lots: want a size such as 64m"},
		{tmpfs: []string{"/x:bogus"}, want: `--tmpfs /x:bogus: tmpfs option "bogus" is not one tmpfs takes`},
		{tmpfs: []string{"/x"}, mount: []string{"type=tmpfs,target=/x"}, want: "duplicate mount point: /x"},
		{mount: []string{"type=tmpfs,source=a,target=/x"}, want: "--mount type=tmpfs,source=a,target=/x: a tmpfs has no source"},
		{mount: []string{"type=tmpfs,target=/x,tmpfs-mode=999"}, want: `--mount type=tmpfs,target=/x,tmpfs-mode=999: tmpfs-mode "999": want an octal mode`},
		{mount: []string{"type=volume,source=v,target=/x,tmpfs-size=1m"}, want: "--mount type=volume,source=v,target=/x,tmpfs-size=1m: tmpfs-size and tmpfs-mode are for type=tmpfs"},
	} {
		err := addMounts(&runtimeapi.ContainerConfig{}, nil, tc.mount, tc.tmpfs)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want %s", tc.tmpfs, tc.mount, err, tc.want)
		}
	}
}
