package build

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/criserver/criserver/internal/errdefs"
)

func TestDownload(t *testing.T) {
	modified := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dir/file.tar":
			w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
			w.Write([]byte("body"))
		case "/":
			w.Write([]byte("index"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	j := &job{b: &Builder{http: srv.Client()}}
	dir := t.TempDir()
	s, err := j.download(context.Background(), srv.URL+"/dir/file.tar", dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.path)
	if err != nil || filepath.Base(s.path) != "file.tar" || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(modified) || s.noName {
		t.Errorf("download: %+v %v %v", s, fi, err)
	}
	const bodySum = "sha256:230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5"
	if s.digest != bodySum || verify(s, bodySum) != nil {
		t.Errorf("digest %s", s.digest)
	}
	if err := verify(s, "sha256:0000000000000000000000000000000000000000000000000000000000000000"); !errors.Is(err, errdefs.ErrDataLoss) {
		t.Errorf("a wrong checksum: %v", err)
	}

	s, err = j.download(context.Background(), srv.URL+"/", dir)
	if err != nil || !s.noName {
		t.Errorf("a URL without a file name: %+v %v", s, err)
	}
	if fi, err := os.Stat(s.path); err != nil || !fi.ModTime().Equal(time.Unix(0, 0)) {
		t.Errorf("without Last-Modified the time is the epoch: %v %v", fi, err)
	}
	if _, err := j.download(context.Background(), srv.URL+"/missing", dir); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	srv.Close()
	if _, err := j.download(context.Background(), srv.URL+"/dir/file.tar", dir); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("a server gone: %v", err)
	}
}

func TestCheckChecksum(t *testing.T) {
	sum := "sha256:230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5"
	for _, c := range []struct {
		sum   string
		paths []string
		ok    bool
	}{
		{"", []string{"a", "b"}, true},
		{sum, []string{"http://h/x"}, true},
		{sum, []string{"local"}, false},
		{sum, []string{"http://h/x", "http://h/y"}, false},
		{"md5:abc", []string{"http://h/x"}, false},
	} {
		err := checkChecksum(c.sum, c.paths)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q %v: %v", c.sum, c.paths, err)
		}
	}
}
