package build

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

// isURL says whether an ADD source is fetched rather than read from the
// context.
func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

// isGit says whether an ADD source is a git repository, which ADD does
// not clone here.
func isGit(src string) bool {
	return strings.HasPrefix(src, "git@") || strings.HasPrefix(src, "git://") ||
		(isURL(src) && strings.Contains(strings.SplitN(src, "?", 2)[0], ".git#"))
}

var checksumForm = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// download fetches an ADD URL into a new directory under dir, as Docker
// does: the file as served (never unpacked), mode 0600, its time the
// Last-Modified header's (the epoch without one), named for the URL's last
// path element. Docker fetches it on every build, cache or not: what the
// cache key takes is its content, not its URL.
func (j *job) download(ctx context.Context, raw, dir string) (source, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return source{}, fmt.Errorf("%w: %s: not a URL", errdefs.ErrInvalidArgument, raw)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return source{}, fmt.Errorf("%w: %s: %v", errdefs.ErrInvalidArgument, raw, err)
	}
	resp, err := j.b.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return source{}, ctx.Err()
		}
		return source{}, fmt.Errorf("%w: %s: %v", errdefs.ErrUnavailable, raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		class := errdefs.ErrUnavailable
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			class = errdefs.ErrNotFound
		}
		return source{}, fmt.Errorf("%w: %s: the server answered %s", class, raw, resp.Status)
	}
	name := path.Base(u.Path)
	noName := name == "/" || name == "." || name == ""
	if noName {
		name = "download"
	}
	sub, err := os.MkdirTemp(dir, "url-")
	if err != nil {
		return source{}, err
	}
	p := filepath.Join(sub, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return source{}, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return source{}, ctx.Err()
		}
		return source{}, fmt.Errorf("%w: %s: %v", errdefs.ErrUnavailable, raw, err)
	}
	mtime := time.Unix(0, 0)
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = t
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		return source{}, err
	}
	return source{path: p, rel: raw, noName: noName, digest: fmt.Sprintf("sha256:%x", h.Sum(nil))}, nil
}

// verify checks a download against ADD --checksum.
func verify(s source, checksum string) error {
	if s.digest != checksum {
		return fmt.Errorf("%w: %s: digest mismatch: got %s, --checksum says %s", errdefs.ErrDataLoss, s.rel, s.digest, checksum)
	}
	return nil
}

// checkChecksum accepts ADD --checksum only in the form it can verify, and
// only for one URL (Docker's rule).
func checkChecksum(checksum string, paths []string) error {
	if checksum == "" {
		return nil
	}
	if !checksumForm.MatchString(checksum) {
		return fmt.Errorf("%w: --checksum=%s: want sha256:<64 hex digits>", errdefs.ErrInvalidArgument, checksum)
	}
	if len(paths) != 1 || !isURL(paths[0]) {
		return fmt.Errorf("%w: --checksum is for one HTTP(S) source", errdefs.ErrInvalidArgument)
	}
	return nil
}
