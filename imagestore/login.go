package imagestore

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/criserver/criserver/internal/errdefs"
)

// Login checks auth against a registry (a host[:port]; "docker.io" is
// Docker Hub) the way a pull or push would authenticate: the registry's
// token exchange when it has one, then an authenticated request to its API
// root. A registry that asks for no credentials accepts any. Plain HTTP is
// used for the registries a pull would reach over it.
func (s *Store) Login(ctx context.Context, host string, auth Auth) error {
	host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://"), "/")
	insecure := s.opts.insecure[host]
	reg, err := name.NewRegistry(host, insecureOpt(insecure)...)
	if err != nil {
		return fmt.Errorf("%w: registry %q: %v", errdefs.ErrInvalidArgument, host, err)
	}
	what := "login to " + reg.RegistryStr()
	tr, err := transport.NewWithContext(ctx, reg, auth.authenticator(), s.transport(insecure), nil)
	if err != nil {
		return classify(err, what)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return classify(err, what)
	}
	defer resp.Body.Close()
	return classify(transport.CheckError(resp, http.StatusOK), what)
}
