package e2e

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fileServer serves one file at /files/data.tar, whose body the test
// changes, and counts its downloads; / is a page with no file name.
type fileServer struct {
	*httptest.Server
	mu        sync.Mutex
	body      string
	downloads int
}

func newFileServer(t *testing.T, body string, modified time.Time) *fileServer {
	fs := &fileServer{body: body}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/data.tar":
		case "/":
			w.Write([]byte("index\n"))
			return
		default:
			http.NotFound(w, r)
			return
		}
		fs.mu.Lock()
		defer fs.mu.Unlock()
		fs.downloads++
		w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
		w.Write([]byte(fs.body))
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fileServer) set(body string) { fs.mu.Lock(); fs.body = body; fs.mu.Unlock() }
func (fs *fileServer) count() int      { fs.mu.Lock(); defer fs.mu.Unlock(); return fs.downloads }

// ADD of a URL, as Docker's: the file as served (a tar stays a tar), mode
// 0600, its time Last-Modified, named for the URL when DEST ends in /;
// fetched on every build, the step cached while the content is the same;
// --checksum verified; a 404 or a wrong checksum names the line.
func TestCLIBuildAddURL(t *testing.T) {
	d := newDaemon(t)
	modified := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	tarBody := tarOf(t, false, map[string]string{"inner": "would be unpacked from a local tar\n"})
	srv := newFileServer(t, tarBody, modified)
	url := srv.URL + "/files/data.tar"
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nADD " + url + " /dl/\nADD " + url + " /named\nRUN ls /dl > /listing\n" +
			"CMD [\"sh\", \"-c\", \"stat -c '%n %a %u %g %Y %s' /dl/data.tar /named; cat /listing\"]\n",
	})
	d.mustCLI("build", "-t", "added", dir)
	size := len(tarBody)
	want := fmt.Sprintf("/dl/data.tar 600 0 0 %[1]d %[2]d\n/named 600 0 0 %[1]d %[2]d\ndata.tar\n", modified.Unix(), size)
	if got := d.mustCLI("run", "--rm", "added"); got != want {
		t.Errorf("run: %q, want %q", got, want)
	}
	if n := srv.count(); n != 2 {
		t.Errorf("%d downloads for two ADDs", n)
	}

	// Fetched again, the same content: every step from the cache.
	if out := d.mustCLI("build", "-t", "added", dir); strings.Count(out, "Using cache") != 4 || srv.count() != 4 {
		t.Errorf("an unchanged URL: %d downloads, want 4:\n%s", srv.count(), out)
	}
	srv.set("new content\n")
	out := d.mustCLI("build", "-t", "added", dir)
	if strings.Count(out, "Using cache") != 0 {
		t.Errorf("a changed download was taken from the cache:\n%s", out)
	}
	if got := d.mustCLI("run", "--rm", "added", "cat", "/named"); got != "new content\n" {
		t.Errorf("after the change: %q", got)
	}

	sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("new content\n")))
	checked := writeTree(t, map[string]string{"Dockerfile": "FROM busybox\nADD --checksum=" + sum + " " + url + " /checked\n"})
	d.mustCLI("build", "-t", "checked", checked)
	if got := d.mustCLI("run", "--rm", "checked", "cat", "/checked"); got != "new content\n" {
		t.Errorf("checked: %q", got)
	}
	srv.set("tampered\n")
	for _, c := range []struct{ dockerfile, want string }{
		{"FROM busybox\nADD --checksum=" + sum + " " + url + " /checked\n", "Dockerfile:2: ADD --checksum=" + sum + " " + url + " /checked: data loss: " + url + ": digest mismatch: got sha256:"},
		{"FROM busybox\nRUN true\nADD " + srv.URL + "/missing /x\n", "Dockerfile:3: ADD " + srv.URL + "/missing /x: not found: " + srv.URL + "/missing: the server answered 404 Not Found"},
		{"FROM busybox\nADD " + srv.URL + "/ /dir/\n", "Dockerfile:2: ADD " + srv.URL + "/ /dir/: invalid argument: cannot determine a file name from " + srv.URL + "/: give the destination one"},
		{"FROM busybox\nCOPY " + url + " /x\n", "COPY takes no URL"},
		{"FROM busybox\nADD --checksum=" + sum + " Dockerfile /x\n", "--checksum is for one HTTP(S) source"},
	} {
		df := filepath.Join(t.TempDir(), "Dockerfile")
		if err := os.WriteFile(df, []byte(c.dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		r := d.cli("build", "-f", df, filepath.Dir(df))
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, want %q in:\n%s", c.dockerfile, r.code, c.want, r.stderr)
		}
	}
	d.wantNothingLeft(t)
	if ents, err := os.ReadDir(filepath.Join(d.root, "build", "tmp")); err != nil || len(ents) != 0 {
		t.Errorf("build/tmp holds %v (%v)", ents, err)
	}
}
