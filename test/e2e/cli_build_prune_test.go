package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// cacheEntries counts the build cache's entries in the daemon's database,
// which the daemon must not hold (stopped).
func cacheEntries(t *testing.T, root string) int {
	t.Helper()
	db, err := bolt.Open(filepath.Join(root, "metadata.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("build")); b != nil && b.Bucket([]byte("cache")) != nil {
			n = b.Bucket([]byte("cache")).Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// entriesNow restarts the daemon around a count of the cache's entries.
func (d *daemon) entriesNow(t *testing.T) int {
	t.Helper()
	d.kill()
	n := cacheEntries(t, d.root)
	d.start()
	return n
}

var (
	cacheObjects = regexp.MustCompile(`(?m)^[0-9a-f]{64}$`)
	reclaimed    = regexp.MustCompile(`(?m)^Total reclaimed space: (.+)$`)
)

// The build cache goes with the images: image prune keeps a tagged
// build's steps (Docker's dangling images are untagged heads) and drops
// the entries of the images it removes; builder prune removes the steps no
// tagged image is built on, -a all of them; system prune -a leaves no
// blob. A rebuild after each works, from the cache where it is left.
func TestCLIBuildCachePrune(t *testing.T) {
	d := newDaemon(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo one > /one\nCOPY a.txt /\nRUN cat /a.txt > /copy\n",
		"a.txt":      "a1\n",
	})
	setA := func(v string) {
		if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := func(wantCached int) {
		t.Helper()
		out := d.mustCLI("build", "-t", "pr", dir)
		if n := strings.Count(out, "Using cache"); n != wantCached {
			t.Errorf("build took %d steps from the cache, want %d:\n%s", n, wantCached, out)
		}
	}
	build(0)
	setA("a2")
	build(1) // the old COPY and RUN are a dangling chain now
	if n := d.entriesNow(t); n != 5 {
		t.Errorf("%d cache entries, want 5", n)
	}

	out := d.mustCLI("image", "prune", "-f")
	if n := strings.Count(out, "deleted: sha256:"); n != 2 {
		t.Errorf("image prune should remove the old chain's 2 images:\n%s", out)
	}
	if n := d.entriesNow(t); n != 3 {
		t.Errorf("after image prune: %d cache entries, want the 3 of the tagged build", n)
	}
	build(3)

	setA("a1") // its entries went with the images: built again
	build(1)
	out = d.mustCLI("builder", "prune", "-f")
	if m := reclaimed.FindStringSubmatch(out); len(cacheObjects.FindAllString(out, -1)) != 2 || !strings.HasPrefix(out, "Deleted build cache objects:\n") || m == nil || m[1] == "0B" {
		t.Errorf("builder prune should remove the a2 chain's 2 steps and free their space:\n%s", out)
	}
	build(3)

	out = d.mustCLI("builder", "prune", "-a", "-f")
	if n := len(cacheObjects.FindAllString(out, -1)); n != 3 {
		t.Errorf("builder prune -a should remove the 3 entries:\n%s", out)
	}
	if got := d.mustCLI("run", "--rm", "pr", "cat", "/copy"); got != "a1\n" {
		t.Errorf("the tagged image after builder prune -a: %q", got)
	}
	if n := d.entriesNow(t); n != 0 {
		t.Errorf("after builder prune -a: %d cache entries", n)
	}
	build(0)

	out = d.mustCLI("system", "prune", "-a", "-f")
	if n := len(cacheObjects.FindAllString(out, -1)); !strings.Contains(out, "Deleted build cache objects:\n") || n != 3 {
		t.Errorf("system prune -a should list the 3 entries:\n%s", out)
	}
	if n := d.entriesNow(t); n != 0 {
		t.Errorf("after system prune -a: %d cache entries", n)
	}
	for _, sub := range []string{"images/blobs/sha256", "images/layers"} {
		if ents, err := os.ReadDir(filepath.Join(d.root, sub)); err != nil || len(ents) != 0 {
			t.Errorf("%s after system prune -a: %d entries (%v)", sub, len(ents), err)
		}
	}
	build(0)
	d.wantNothingLeft(t)
}
