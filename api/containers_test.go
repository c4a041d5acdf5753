package api

import (
	"reflect"
	"testing"
)

func TestContainerCallsRoundTrip(t *testing.T) {
	r := ContainerRequest{ID: "abc", Signal: 15, Name: "web"}
	s, err := r.Struct()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeContainerRequest(s); err != nil || got != r {
		t.Errorf("%+v came back as %+v, %v", r, got, err)
	}
	empty, _ := ContainerRequest{}.Struct()
	if _, err := DecodeContainerRequest(empty); err == nil {
		t.Error("a request with no ID decoded")
	}
	top := TopResult{Titles: []string{"PID", "CMD"}, Processes: [][]string{{"1", "sleep 9"}, {"7", "sh"}}}
	s, err = top.Struct()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeTopResult(s); err != nil || !reflect.DeepEqual(got, top) {
		t.Errorf("%+v came back as %+v, %v", top, got, err)
	}
	bad, _ := TopResult{Titles: []string{"PID"}, Processes: [][]string{{"1", "x"}}}.Struct()
	if _, err := DecodeTopResult(bad); err == nil {
		t.Error("a ragged table decoded")
	}
}
