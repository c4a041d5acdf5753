package cri

import (
	"maps"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
	"github.com/criserver/criserver/imagestore"
)

// toCRIImage describes a stored image the way kubelet expects.
func toCRIImage(im *imagestore.Image) *runtimeapi.Image {
	out := &runtimeapi.Image{
		Id:          im.ID,
		RepoTags:    im.RepoTags,
		RepoDigests: im.RepoDigests,
		Size:        im.Size,
		Spec:        &runtimeapi.ImageSpec{Image: im.ID},
	}
	if im.Config != nil {
		out.Uid, out.Username = imageUser(im.Config.Config.User)
		out.Spec.Annotations = maps.Clone(im.Config.Config.Labels)
	}
	if im.Parent != "" {
		if out.Spec.Annotations == nil {
			out.Spec.Annotations = map[string]string{}
		}
		out.Spec.Annotations[api.ParentImageAnnotation] = im.Parent
	}
	return out
}

// imageUser splits an image's USER ("uid", "name", "uid:gid", "name:group")
// into the numeric UID kubelet checks runAsNonRoot against, or a name.
func imageUser(user string) (*runtimeapi.Int64Value, string) {
	u, _, _ := strings.Cut(user, ":")
	if u == "" {
		return nil, ""
	}
	// A UID over int32 would wrap to 0 in some consumers (CVE-2024-40635):
	// report it as a name so runAsNonRoot cannot be fooled into root.
	if id, err := strconv.ParseUint(u, 10, 31); err == nil {
		return &runtimeapi.Int64Value{Value: int64(id)}, ""
	}
	return nil, u
}
