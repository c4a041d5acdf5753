package api

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidVolumeName(t *testing.T) {
	for _, ok := range []string{"myvol", "a1", "My_vol.2-x", "0data"} {
		if err := ValidVolumeName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "_vol", ".vol", "-vol", "my/vol", "my vol", "vol:x", "..", "é"} {
		if err := ValidVolumeName(bad); err == nil || !strings.Contains(err.Error(), "invalid characters") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestVolumeMountsRoundTrip(t *testing.T) {
	ms := []VolumeMount{
		{Name: "data", ContainerPath: "/data"},
		{Name: "cache", ContainerPath: "/var/cache", ReadOnly: true},
		{Name: "empty", ContainerPath: "/e", NoCopy: true, ReadOnly: true},
	}
	s := FormatVolumeMounts(ms)
	if s != "data:/data,cache:/var/cache:ro,empty:/e:ro:nocopy" {
		t.Errorf("formatted %q", s)
	}
	got, err := ParseVolumeMounts(s)
	if err != nil || !reflect.DeepEqual(got, ms) {
		t.Errorf("%q came back as %+v, %v", s, got, err)
	}
	if got, err := ParseVolumeMounts(" data:/data/../x/ , "); err != nil || got[0].ContainerPath != "/x" {
		t.Errorf("cleaning: %+v %v", got, err)
	}
	if got, err := ParseVolumeMounts(""); err != nil || got != nil {
		t.Errorf("empty: %+v %v", got, err)
	}
}

func TestVolumeMountsRefused(t *testing.T) {
	for s, says := range map[string]string{
		"data":                "want NAME:/PATH",
		"data:rel":            "absolute",
		"data:/":              "absolute and not /",
		"./data:/d":           "invalid characters",
		"data:/d:rx":          `option "rx"`,
		"a1:/d,b2:/d/":        "duplicate mount point: /d",
		"/host/path:/in/ctr/": "invalid characters",
	} {
		if _, err := ParseVolumeMounts(s); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want %q", s, err, says)
		}
	}
}

func TestVolumeStructRoundTrip(t *testing.T) {
	v := Volume{CreatedAt: "2026-01-02T03:04:05Z", Driver: "local", Labels: map[string]string{"a": "b"},
		Mountpoint: "/var/lib/criserver/volumes/x/_data", Name: "x", Scope: "local"}
	s, err := ToStruct(v)
	if err != nil {
		t.Fatal(err)
	}
	var got Volume
	if err := FromStruct(s, &got); err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("%+v came back as %+v, %v", v, got, err)
	}
	r := VolumePruneReport{VolumesDeleted: []string{"a", "b"}, SpaceReclaimed: 1 << 40}
	if s, err = ToStruct(r); err != nil {
		t.Fatal(err)
	}
	var gr VolumePruneReport
	if err := FromStruct(s, &gr); err != nil || !reflect.DeepEqual(gr, r) {
		t.Errorf("%+v came back as %+v, %v", r, gr, err)
	}
	s.Fields["Name"] = s.Fields["SpaceReclaimed"]
	if err := FromStruct(s, &got); err == nil {
		t.Error("a number decoded as a name")
	}
}
