package api

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"
)

// The image transfer service: what the CLI's tag, login, push, save and
// load ask of the daemon, on the CRI socket beside CRI itself. Like
// PullProgressMethod it uses only well-known types: requests and replies
// are Structs holding the types below (see Encode), and archives travel as
// BytesValue chunks. A client that does not know it loses nothing.
const (
	ImageTransferService = "criserver.v1.ImageTransfer"
	// TagMethod gives an image another tag: TagRequest in, TagResponse out.
	TagMethod = "/" + ImageTransferService + "/Tag"
	// LoginMethod checks credentials against a registry: LoginRequest in,
	// an empty Struct out, Unauthenticated when the registry refuses them.
	LoginMethod = "/" + ImageTransferService + "/Login"
	// PushMethod pushes an image to its registry: PushRequest in, a stream
	// of PushProgress out, the last with the pushed digest.
	PushMethod = "/" + ImageTransferService + "/Push"
	// SaveMethod writes images as an archive: SaveRequest in, a stream of
	// BytesValue chunks of the tar out.
	SaveMethod = "/" + ImageTransferService + "/Save"
	// LoadMethod imports an archive: a stream of BytesValue chunks of the
	// tar in, LoadResponse out.
	LoadMethod = "/" + ImageTransferService + "/Load"
)

// ChunkSize is how much of an archive one message carries.
const ChunkSize = 1 << 20

// Auth is what a registry is given to authenticate, as in CRI's AuthConfig.
type Auth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identityToken,omitempty"`
	RegistryToken string `json:"registryToken,omitempty"`
}

// TagRequest tags Source (an ID, tag or digest reference) as Target.
type TagRequest struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// TagResponse names the image tagged.
type TagResponse struct {
	ID string `json:"id"`
}

// LoginRequest names a registry (host[:port]; "docker.io" for Docker Hub).
type LoginRequest struct {
	Server string `json:"server"`
	Auth   Auth   `json:"auth"`
}

// PushRequest pushes the image tagged Ref to Ref's registry.
type PushRequest struct {
	Ref  string `json:"ref"`
	Auth Auth   `json:"auth"`
}

// PushProgress is the state of a push's layers. The last one of a push that
// succeeded has Digest and Size, of the manifest written.
type PushProgress struct {
	Layers []LayerProgress `json:"layers"`
	Ref    string          `json:"ref,omitempty"`
	Digest string          `json:"digest,omitempty"`
	Size   int64           `json:"size,omitempty"`
}

// SaveRequest names the images to save; a tag puts the tag in the archive.
type SaveRequest struct {
	Names []string `json:"names"`
}

// LoadResponse lists the images an archive held.
type LoadResponse struct {
	Images []LoadedImage `json:"images"`
}

// LoadedImage is one image loaded, with the tags the archive gave it.
type LoadedImage struct {
	ID   string   `json:"id"`
	Tags []string `json:"tags,omitempty"`
}

// Encode puts one of this package's messages in a Struct.
func Encode(v any) (*structpb.Struct, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%T is not an object", v)
	}
	return structpb.NewStruct(m)
}

// Decode reads what Encode wrote into v. Fields v lacks are ignored, so a
// newer peer may add some; a field of the wrong type is an error.
func Decode(s *structpb.Struct, v any) error {
	raw, err := json.Marshal(s.AsMap())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decoding %T: %w", v, err)
	}
	return nil
}
