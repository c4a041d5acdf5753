package api

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

func TestPullProgressRoundTrip(t *testing.T) {
	for _, p := range []PullProgress{
		{},
		{Pulling: true},
		{Pulling: true, Layers: []LayerProgress{
			{Digest: "sha256:aa", Size: 3 << 20, Done: 1 << 20, State: "downloading"},
			{Digest: "sha256:bb", Size: 0, Done: 0, State: "waiting"},
			{Digest: "sha256:cc", Size: 1 << 40, Done: 1 << 40, State: "done"},
		}},
	} {
		s, err := p.Struct()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodePullProgress(s)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("%+v came back as %+v, %v", p, got, err)
		}
	}
}

func TestPullProgressRefusesDrift(t *testing.T) {
	for name, m := range map[string]map[string]any{
		"pulling as a string":  {"pulling": "yes"},
		"layer not an object":  {"pulling": true, "layers": []any{"sha256:aa"}},
		"layer without digest": {"pulling": true, "layers": []any{map[string]any{"size": 1.0}}},
	} {
		s, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodePullProgress(s); err == nil || !strings.Contains(err.Error(), "pull progress") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
