package imagestore

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/criserver/criserver/internal/errdefs"
)

// Auth is what the caller gave to authenticate to the registry.
type Auth struct {
	Username      string
	Password      string
	Auth          string // base64 "user:password", as in Docker's config.json
	IdentityToken string
	RegistryToken string
}

func (a Auth) authenticator() authn.Authenticator {
	if a == (Auth{}) {
		return authn.Anonymous
	}
	cfg := authn.AuthConfig{
		Username:      a.Username,
		Password:      a.Password,
		IdentityToken: a.IdentityToken,
		RegistryToken: a.RegistryToken,
	}
	// The token flow needs a username and password, so split "auth" here
	// rather than rely on every transport understanding it.
	if cfg.Username == "" && a.Auth != "" {
		if raw, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			if u, p, ok := strings.Cut(string(raw), ":"); ok {
				cfg.Username, cfg.Password = u, p
			}
		}
	}
	return authn.FromConfig(cfg)
}

// fingerprint keeps pulls with different credentials from sharing one download:
// a caller without access must not be handed an image someone else could pull.
func (a Auth) fingerprint() string {
	h := sha256.Sum256([]byte(strings.Join([]string{a.Username, a.Password, a.Auth, a.IdentityToken, a.RegistryToken}, "\x00")))
	return fmt.Sprintf("%x", h[:8])
}

// source is one place an image can come from: a mirror or its own registry.
type source struct {
	ref    name.Reference
	opts   []remote.Option
	mirror string
}

func defaultPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// sources lists the mirrors of the reference's registry, then the registry.
// Credentials go to the registry only: mirrors are the operator's, and the
// pod's secret was issued for the registry it names.
func (s *Store) sources(ctx context.Context, ref reference.Named, auth Auth) ([]source, error) {
	domain := reference.Domain(ref)
	var out []source
	for _, m := range s.opts.mirrors[domain] {
		u, err := url.Parse(m)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%w: mirror %q for %s is not an http(s) URL", errdefs.ErrInvalidArgument, m, domain)
		}
		var nopts []name.Option
		if u.Scheme == "http" {
			nopts = append(nopts, name.Insecure)
		}
		r, err := remoteRef(u.Host+"/"+reference.Path(ref), ref, nopts...)
		if err != nil {
			return nil, err
		}
		out = append(out, source{ref: r, opts: s.remoteOptions(ctx, authn.Anonymous, u.Scheme == "http"), mirror: m})
	}
	var nopts []name.Option
	insecure := s.opts.insecure[domain]
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := remoteRef(ref.Name(), ref, nopts...)
	if err != nil {
		return nil, err
	}
	return append(out, source{ref: r, opts: s.remoteOptions(ctx, auth.authenticator(), insecure)}), nil
}

// remoteRef builds go-containerregistry's reference for repo with ref's tag or digest.
func remoteRef(repo string, ref reference.Named, opts ...name.Option) (name.Reference, error) {
	suffix := ""
	if d, ok := ref.(reference.Digested); ok {
		suffix = "@" + d.Digest().String()
	} else if t, ok := ref.(reference.Tagged); ok {
		suffix = ":" + t.Tag()
	}
	r, err := name.ParseReference(repo+suffix, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errdefs.ErrInvalidArgument, err)
	}
	return r, nil
}

func (s *Store) remoteOptions(ctx context.Context, auth authn.Authenticator, insecure bool) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithPlatform(s.opts.platform),
		remote.WithTransport(s.transport(insecure)),
		remote.WithUserAgent("criserver"),
	}
}

// transport is the HTTP transport to a registry.
func (s *Store) transport(insecure bool) http.RoundTripper {
	base := remote.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator listed this registry as insecure
	}
	return &limitTransport{next: base, max: s.opts.maxManifest}
}

// limitTransport refuses manifests and indexes larger than max before they
// are read into memory.
type limitTransport struct {
	next http.RoundTripper
	max  int64
}

var errTooLarge = fmt.Errorf("%w: manifest larger than the 4 MiB limit", errdefs.ErrInvalidArgument)

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/manifests/") {
		return resp, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, errTooLarge
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errTooLarge
	}
	return n, err
}

// classify gives registry failures the error class callers act on.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: registry refused the credentials for %s: %v", errdefs.ErrUnauthenticated, what, err)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s: %v", errdefs.ErrNotFound, what, err)
		}
		for _, d := range terr.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return fmt.Errorf("%w: %s: %v", errdefs.ErrNotFound, what, err)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("%w: registry refused the credentials for %s: %v", errdefs.ErrUnauthenticated, what, err)
			}
		}
	}
	// go-containerregistry reports a digest mismatch only in its message.
	if msg := err.Error(); strings.Contains(msg, "error verifying sha256 checksum") || strings.Contains(msg, "does not match requested digest") || strings.Contains(msg, "does not match expected size") {
		return fmt.Errorf("%w: %s: %v", errdefs.ErrDataLoss, what, err)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %s: %v", errdefs.ErrUnavailable, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
