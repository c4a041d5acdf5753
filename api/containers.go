package api

import (
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"
)

// The container calls criserver adds to the CRI socket, for what CRI has no
// call for: Docker's kill -s, pause, unpause, top, rename, and a start of
// an exited container. Each takes a Struct holding a ContainerRequest.
// Signal, Pause, Resume, Rename and RenamePod answer an Empty; Recreate a
// StringValue, the new container's ID; Top a Struct holding a TopResult.
const (
	ContainersService = "criserver.v1.Containers"
	SignalMethod      = "/" + ContainersService + "/Signal"
	PauseMethod       = "/" + ContainersService + "/Pause"
	ResumeMethod      = "/" + ContainersService + "/Resume"
	// RecreateMethod replaces an exited container with a new one in the
	// same pod, with the same config and name and the next attempt
	// number, and starts it; the exited one is removed.
	RecreateMethod = "/" + ContainersService + "/Recreate"
	TopMethod      = "/" + ContainersService + "/Top"
	// RenameMethod gives a container another name; another container of
	// its pod with that name is AlreadyExists.
	RenameMethod = "/" + ContainersService + "/Rename"
	// RenamePodMethod gives the pod whose ID is the request's ID another
	// name, reserved as a new pod's would be.
	RenamePodMethod = "/" + ContainersService + "/RenamePod"
	// WaitMethod is a stream both ways, Docker's wait. The client sends a
	// ContainerRequest; the daemon answers a WaitEvent with Held once the
	// container's pod cannot be auto-removed until the stream ends, and
	// one with Exited and the code when the container exits (a created
	// one is waited for through its start). The client ends its side
	// when it has read what it needs, the container's log among them;
	// the daemon then removes an auto-remove pod whose containers have all
	// exited, and only then ends the stream. A client that goes away ends
	// the hold the same way, so the pod goes even without it.
	WaitMethod = "/" + ContainersService + "/Wait"
)

// WaitEvent is one answer of WaitMethod.
type WaitEvent struct {
	Held     bool  `json:"held,omitempty"`
	Exited   bool  `json:"exited,omitempty"`
	ExitCode int32 `json:"exitCode"`
}

// ContainerRequest names the container a call is about.
type ContainerRequest struct {
	ID     string
	Signal int    // Signal's signal number
	Name   string // Rename's and RenamePod's new name
}

// Struct encodes r for the wire.
func (r ContainerRequest) Struct() (*structpb.Struct, error) {
	return structpb.NewStruct(map[string]any{"id": r.ID, "signal": float64(r.Signal), "name": r.Name})
}

// DecodeContainerRequest reads what Struct wrote; a request with no ID is
// an error.
func DecodeContainerRequest(s *structpb.Struct) (ContainerRequest, error) {
	f := s.GetFields()
	r := ContainerRequest{ID: f["id"].GetStringValue(), Signal: int(f["signal"].GetNumberValue()), Name: f["name"].GetStringValue()}
	if r.ID == "" {
		return r, fmt.Errorf("container request: no container ID")
	}
	return r, nil
}

// TopResult is a table of a container's processes, as ps -ef prints it.
type TopResult struct {
	Titles    []string
	Processes [][]string
}

// Struct encodes t for the wire.
func (t TopResult) Struct() (*structpb.Struct, error) {
	titles := make([]any, len(t.Titles))
	for i, s := range t.Titles {
		titles[i] = s
	}
	rows := make([]any, len(t.Processes))
	for i, p := range t.Processes {
		row := make([]any, len(p))
		for j, s := range p {
			row[j] = s
		}
		rows[i] = row
	}
	return structpb.NewStruct(map[string]any{"titles": titles, "processes": rows})
}

// DecodeTopResult reads what Struct wrote; a row that does not match the
// titles is an error.
func DecodeTopResult(s *structpb.Struct) (TopResult, error) {
	var t TopResult
	f := s.GetFields()
	for _, v := range f["titles"].GetListValue().GetValues() {
		t.Titles = append(t.Titles, v.GetStringValue())
	}
	for i, v := range f["processes"].GetListValue().GetValues() {
		var row []string
		for _, c := range v.GetListValue().GetValues() {
			row = append(row, c.GetStringValue())
		}
		if len(row) != len(t.Titles) {
			return t, fmt.Errorf("top: process %d has %d fields for %d titles", i, len(row), len(t.Titles))
		}
		t.Processes = append(t.Processes, row)
	}
	return t, nil
}
