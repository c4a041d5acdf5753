package api

import (
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"
)

// PullProgressMethod is criserver's addition to the CRI image service: CRI's
// PullImage says nothing until the pull ends, and the CLI draws a progress
// bar per layer. It takes the reference being pulled (a StringValue) and
// answers a Struct holding a PullProgress. Well-known types keep it free of
// generated code, and a client that does not know it loses nothing.
const PullProgressMethod = "/criserver.v1.Images/PullProgress"

// PullProgress is the state of the pull of one reference.
type PullProgress struct {
	Pulling bool // false when no pull of it is under way
	Layers  []LayerProgress
}

// LayerProgress is one layer of a pull.
type LayerProgress struct {
	Digest string
	Size   int64 // bytes of the compressed blob; 0 until known
	Done   int64 // bytes fetched
	State  string
}

// Struct encodes p for the wire.
func (p PullProgress) Struct() (*structpb.Struct, error) {
	layers := make([]any, len(p.Layers))
	for i, l := range p.Layers {
		layers[i] = map[string]any{"digest": l.Digest, "size": float64(l.Size), "done": float64(l.Done), "state": l.State}
	}
	return structpb.NewStruct(map[string]any{"pulling": p.Pulling, "layers": layers})
}

// DecodePullProgress reads what Struct wrote. A field of the wrong type is
// an error rather than a zero, so a daemon and CLI that drift apart say so.
func DecodePullProgress(s *structpb.Struct) (PullProgress, error) {
	var p PullProgress
	f := s.GetFields()
	if v, ok := f["pulling"]; ok {
		b, ok := v.GetKind().(*structpb.Value_BoolValue)
		if !ok {
			return p, fmt.Errorf("pull progress: pulling is %T", v.GetKind())
		}
		p.Pulling = b.BoolValue
	}
	for i, v := range f["layers"].GetListValue().GetValues() {
		m := v.GetStructValue().GetFields()
		if m == nil {
			return p, fmt.Errorf("pull progress: layer %d is not an object", i)
		}
		l := LayerProgress{Digest: m["digest"].GetStringValue(), State: m["state"].GetStringValue(),
			Size: int64(m["size"].GetNumberValue()), Done: int64(m["done"].GetNumberValue())}
		if l.Digest == "" {
			return p, fmt.Errorf("pull progress: layer %d has no digest", i)
		}
		p.Layers = append(p.Layers, l)
	}
	return p, nil
}
