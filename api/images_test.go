package api

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

func TestImageMessagesRoundTrip(t *testing.T) {
	for _, m := range []any{
		&TagRequest{Source: "busybox", Target: "127.0.0.1:5000/team/bb:v1"},
		&LoginRequest{Server: "docker.io", Auth: Auth{Username: "alice", Password: "s3cret"}},
		&PushProgress{Layers: []LayerProgress{{Digest: "sha256:aa", Size: 1 << 40, Done: 3, State: "pushing"}}, Ref: "r", Digest: "sha256:bb", Size: 527},
		&SaveRequest{Names: []string{"a", "b"}},
		&LoadResponse{Images: []LoadedImage{{ID: "sha256:cc", Tags: []string{"docker.io/library/busybox:latest"}}, {ID: "sha256:dd"}}},
	} {
		s, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		got := reflect.New(reflect.TypeOf(m).Elem()).Interface()
		if err := Decode(s, got); err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("%+v came back as %+v, %v", m, got, err)
		}
	}
}

func TestDecodeRefusesWrongTypes(t *testing.T) {
	s, _ := structpb.NewStruct(map[string]any{"names": "not a list"})
	if err := Decode(s, &SaveRequest{}); err == nil || !strings.Contains(err.Error(), "SaveRequest") {
		t.Fatalf("got %v", err)
	}
}
