// Package testimage builds small OCI images for tests from files on this
// machine (Debian's static busybox) and serves them from a registry on
// loopback, so no test needs the internet.
package testimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BusyboxPath is where Debian's busybox-static installs its binary.
const BusyboxPath = "/bin/busybox"

// Entry is one tar entry of a test layer.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when zero
	Body     string
	Mode     int64
	Linkname string
	UID, GID int
	Xattrs   map[string]string
}

// Layer builds a gzip layer from entries, in order, unchecked: tests use it to
// build hostile layers too.
func Layer(entries ...Entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Linkname, Uid: e.UID, Gid: e.GID, ModTime: mtime, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		for k, v := range e.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.Body); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// Applets are the busybox links every test image gets.
var Applets = []string{"sh", "ls", "cat", "echo", "sleep", "id", "top", "env", "true", "false", "mkdir", "touch", "wget", "nc", "ps", "hostname", "httpd", "test", "grep", "head", "tr", "unshare", "mount", "chroot"}

// BusyboxLayer is a layer with /bin/busybox, its applets as hard links and
// the usual top-level directories. It needs Debian's busybox-static.
func BusyboxLayer() (v1.Layer, error) {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("test images need busybox-static (apt-get install busybox-static): %w", err)
	}
	entries := []Entry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Body: string(bin), Mode: 0o755},
	}
	for _, a := range Applets {
		entries = append(entries, Entry{Name: "bin/" + a, Type: tar.TypeLink, Linkname: "bin/busybox"})
	}
	for _, d := range []string{"etc/", "tmp/", "var/", "root/", "home/", "proc/", "sys/", "dev/"} {
		entries = append(entries, Entry{Name: d, Type: tar.TypeDir})
	}
	entries = append(entries,
		Entry{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		Entry{Name: "etc/group", Body: "root:x:0:\nnogroup:x:65534:\n"},
	)
	return Layer(entries...)
}

// Image assembles layers into an image with the given config tweaks applied.
func Image(cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	if cfg.Env == nil {
		cfg.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// Busybox is a one-layer busybox image running sh.
func Busybox() (v1.Image, error) {
	l, err := BusyboxLayer()
	if err != nil {
		return nil, err
	}
	return Image(v1.Config{Cmd: []string{"sh"}}, l)
}

// Registry is a registry on loopback with hooks for tests.
type Registry struct {
	*httptest.Server
	Host string // "127.0.0.1:port"

	// Wrap, when set, sees every request before the registry does.
	Wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

// NewRegistry starts an in-memory registry on 127.0.0.1.
func NewRegistry() *Registry {
	r := &Registry{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.Wrap != nil {
			r.Wrap(w, req, inner)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	r.Host = strings.TrimPrefix(r.URL, "http://")
	return r
}

// SplitBlob is a Wrap that sends the blob with the given digest in two
// halves and calls pause between them, so that a test can watch a pull
// part-way through. pause should return early when the request's context
// ends.
func SplitBlob(digest string, pause func(*http.Request)) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if !strings.HasSuffix(r.URL.Path, "/blobs/"+digest) || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		pause(r)
		_, _ = w.Write(body[len(body)/2:])
	}
}

// Push uploads img as host/repo:tag (or repo@digest when tag is empty)
// and returns its manifest digest.
func (r *Registry) Push(repo, tag string, img v1.Image) (v1.Hash, error) {
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	ref := r.Host + "/" + repo + ":" + tag
	if tag == "" {
		ref = r.Host + "/" + repo + "@" + d.String()
	}
	nref, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	return d, remote.Write(nref, img)
}

// PushIndex uploads an index as host/repo:tag.
func (r *Registry) PushIndex(repo, tag string, idx v1.ImageIndex) (v1.Hash, error) {
	nref, err := name.ParseReference(r.Host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	return d, remote.WriteIndex(nref, idx)
}
