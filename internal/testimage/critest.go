package testimage

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The images of critest (sigs.k8s.io/cri-tools v1.34.0, pkg/validate and
// pkg/framework) are rebuilt here from one static busybox, under the names
// critest pulls, with the users, groups, entrypoints and behaviour its specs
// rely on. Like the originals they are manifest lists, here of one platform.
//
// Not rebuilt: gcr.io/k8s-staging-cri-tools/test-image-digest@sha256:9700f9…,
// pinned by a digest no rebuild can reproduce, and the win-* images.

// CritestRegistries are the registry hosts critest's images are named on;
// a registry holding CritestImages serves as the mirror of each.
var CritestRegistries = []string{"registry.k8s.io", "gcr.io"}

const (
	e2eImages  = "registry.k8s.io/e2e-test-images/"
	criToolsCI = "gcr.io/k8s-staging-cri-tools/"
)

// CritestImage is one image under every name critest knows it by.
type CritestImage struct {
	Refs  []string // "registry.k8s.io/e2e-test-images/busybox:1.29-2"
	Index v1.ImageIndex
}

// critestSpec describes an image as layers added to the busybox base.
type critestSpec struct {
	refs   []string
	config v1.Config
	files  []Entry // a second layer, when not empty
}

func critestSpecs(busybox []byte) []critestSpec {
	sh := v1.Config{Cmd: []string{"sh"}}
	user := func(u string) v1.Config { return v1.Config{Cmd: []string{"sh"}, User: u} }
	marker := func(name string) []Entry { return []Entry{{Name: name}} }
	return []critestSpec{
		{refs: []string{e2eImages + "busybox:1.29-2"}, config: sh},
		{refs: []string{e2eImages + "nginx:1.14-2"}, config: nginxConfig(80), files: nginxFiles(80)},
		{refs: []string{criToolsCI + "hostnet-nginx-" + runtime.GOARCH + ":latest"}, config: nginxConfig(12003), files: nginxFiles(12003)},
		{refs: []string{e2eImages + "httpd:2.4.39-4"}, config: httpdConfig(), files: httpdFiles()},
		{refs: []string{e2eImages + "nonewprivs:1.3"}, config: v1.Config{Entrypoint: []string{"/usr/local/bin/nnp"}}, files: nnpFiles(busybox)},
		{refs: []string{criToolsCI + "test-image-user-uid:latest"}, config: user("1002")},
		{refs: []string{criToolsCI + "test-image-user-username:latest"}, config: user("www-data")},
		{refs: []string{criToolsCI + "test-image-user-uid-group:latest"}, config: user("1003:1004")},
		{refs: []string{criToolsCI + "test-image-user-username-group:latest"}, config: user("www-data:1004")},
		{refs: []string{criToolsCI + "test-image-predefined-group:latest"}, config: user("1000"), files: predefinedGroupFiles()},
		{refs: []string{criToolsCI + "test-image-1:latest"}, config: sh, files: marker("test-image-1")},
		{refs: []string{criToolsCI + "test-image-2:latest"}, config: sh, files: marker("test-image-2")},
		{refs: []string{criToolsCI + "test-image-3:latest"}, config: sh, files: marker("test-image-3")},
		{refs: []string{criToolsCI + "test-image-latest:latest"}, config: sh, files: marker("test-image-latest")},
		{refs: []string{criToolsCI + "test-image-tag:test"}, config: sh, files: marker("test")},
		{refs: []string{criToolsCI + "test-image-tag:all"}, config: sh, files: marker("all")},
		{refs: []string{criToolsCI + "test-image-tags:1", criToolsCI + "test-image-tags:2", criToolsCI + "test-image-tags:3"}, config: sh, files: marker("same-image")},
	}
}

// The busybox base: /bin/busybox, every applet a hard link to it (so that
// masking one applet's path masks only that applet), and an /etc/passwd and
// /etc/group like the busybox image's, with www-data and nobody.
const (
	critestPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`
	critestGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
mail:x:8:
kmem:x:9:
wheel:x:10:root
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
`
)

func critestBase(busybox []byte, applets []string) (v1.Layer, error) {
	entries := dirs("bin/", "dev/", "etc/", "home/", "proc/", "root/", "sys/", "usr/", "usr/sbin/", "usr/bin/",
		"var/", "var/run/", "var/spool/", "var/spool/mail/", "var/www/")
	entries = append(entries, Entry{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		Entry{Name: "bin/busybox", Body: string(busybox), Mode: 0o755})
	for _, a := range applets {
		if a != "busybox" {
			entries = append(entries, Entry{Name: "bin/" + a, Type: tar.TypeLink, Linkname: "bin/busybox"})
		}
	}
	entries = append(entries, Entry{Name: "etc/passwd", Body: critestPasswd}, Entry{Name: "etc/group", Body: critestGroup})
	return Layer(entries...)
}

func dirs(names ...string) []Entry {
	var out []Entry
	for _, n := range names {
		out = append(out, Entry{Name: n, Type: tar.TypeDir})
	}
	return out
}

// nginx stands in for nginx: a master process named nginx whose command line
// reads "nginx: master process …" (the PID specs look for both), its pid in
// /var/run/nginx.pid, serving /usr/share/nginx/html with busybox httpd on
// the port of /etc/nginx/conf.d/default.conf.
const nginxScript = `#!/bin/sh
# A stand-in for nginx, made of busybox (see internal/testimage/critest.go).
port=$(sed -n 's/^ *listen *\([0-9]*\);.*/\1/p' /etc/nginx/conf.d/default.conf)
exec /bin/sh -c '
printf nginx >/proc/self/comm
echo $$ >/var/run/nginx.pid
httpd -f -p "$1" -h /usr/share/nginx/html &
trap "kill $!; exit 0" TERM INT QUIT
wait' "nginx: master process nginx $*" "$port"
`

func nginxConfig(port int) v1.Config {
	return v1.Config{
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", port): {}},
		StopSignal:   "SIGTERM",
	}
}

func nginxFiles(port int) []Entry {
	return append(dirs("etc/nginx/", "etc/nginx/conf.d/", "usr/share/", "usr/share/nginx/", "usr/share/nginx/html/"),
		Entry{Name: "usr/sbin/nginx", Body: nginxScript, Mode: 0o755},
		Entry{Name: "etc/nginx/conf.d/default.conf", Body: fmt.Sprintf("server {\n    listen %d;\n    root /usr/share/nginx/html;\n}\n", port)},
		Entry{Name: "usr/share/nginx/html/index.html", Body: "<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>\n"},
	)
}

// httpd-foreground stands in for Apache httpd: it says "httpd" on stderr (the
// multi-container spec looks for it in the log) and serves htdocs on port 80.
const httpdScript = `#!/bin/sh
# A stand-in for Apache httpd, made of busybox (see internal/testimage/critest.go).
echo "httpd: serving /usr/local/apache2/htdocs on port 80" >&2
exec httpd -f -v -p 80 -h /usr/local/apache2/htdocs
`

func httpdConfig() v1.Config {
	return v1.Config{
		Cmd:          []string{"httpd-foreground"},
		Env:          []string{"PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HTTPD_PREFIX=/usr/local/apache2"},
		WorkingDir:   "/usr/local/apache2",
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
	}
}

func httpdFiles() []Entry {
	return append(dirs("usr/local/", "usr/local/bin/", "usr/local/apache2/", "usr/local/apache2/bin/", "usr/local/apache2/htdocs/"),
		Entry{Name: "usr/local/bin/httpd-foreground", Body: httpdScript, Mode: 0o755},
		Entry{Name: "usr/local/apache2/htdocs/index.html", Body: "<html><body><h1>It works!</h1></body></html>\n"},
	)
}

// nnp prints the effective uid of a set-user-ID-root program, as
// nonewprivs's does: 0 unless no_new_privs keeps the bit from taking effect.
// The program is a copy of busybox (built without FEATURE_SUID, so it keeps
// the uid it is given) run as id.
const nnpScript = `#!/bin/sh
# A stand-in for nonewprivs's nnp, made of busybox (see internal/testimage/critest.go).
echo "Effective uid: $(/usr/local/lib/nnp/id -u)"
`

func nnpFiles(busybox []byte) []Entry {
	return append(dirs("usr/local/", "usr/local/bin/", "usr/local/lib/", "usr/local/lib/nnp/"),
		Entry{Name: "usr/local/bin/nnp", Body: nnpScript, Mode: 0o755},
		Entry{Name: "usr/local/lib/nnp/id", Body: string(busybox), Mode: 0o4755},
	)
}

// predefinedGroupFiles adds default-user (uid 1000) and makes it a member of
// group-defined-in-image (gid 50000), as adduser and addgroup would.
func predefinedGroupFiles() []Entry {
	return append(dirs("home/", "home/default-user/"),
		Entry{Name: "etc/passwd", Body: critestPasswd + "default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n"},
		Entry{Name: "etc/group", Body: critestGroup + "default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n"},
	)
}

// CritestImages builds every image critest pulls from the static busybox at
// path (see test/critest/busybox/build.sh).
func CritestImages(busybox string) ([]CritestImage, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	base, err := critestBase(bin, strings.Fields(string(list)))
	if err != nil {
		return nil, err
	}
	var out []CritestImage
	for _, s := range critestSpecs(bin) {
		layers := []v1.Layer{base}
		if len(s.files) > 0 {
			l, err := Layer(s.files...)
			if err != nil {
				return nil, err
			}
			layers = append(layers, l)
		}
		idx, err := critestIndex(s.config, layers)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.refs[0], err)
		}
		out = append(out, CritestImage{Refs: s.refs, Index: idx})
	}
	return out, nil
}

// critestIndex wraps the image in a manifest list of this platform alone.
func critestIndex(cfg v1.Config, layers []v1.Layer) (v1.ImageIndex, error) {
	img, err := Image(cfg, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	if cf.Architecture != runtime.GOARCH {
		cf = cf.DeepCopy()
		cf.Architecture = runtime.GOARCH
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
	}
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	return mutate.AppendManifests(idx, mutate.IndexAddendum{
		Add:        img,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}},
	}), nil
}

// PushCritest builds the critest images from busybox and pushes each under
// its repository path and tag, so that r can mirror every host in
// CritestRegistries. It returns the references pushed, as critest names them.
func (r *Registry) PushCritest(busybox string) ([]string, error) {
	images, err := CritestImages(busybox)
	if err != nil {
		return nil, err
	}
	var pushed []string
	for _, im := range images {
		for _, ref := range im.Refs {
			named, err := reference.ParseNormalizedNamed(ref)
			if err != nil {
				return nil, err
			}
			tagged, ok := named.(reference.Tagged)
			if !ok {
				return nil, fmt.Errorf("%s: critest images are pushed by tag", ref)
			}
			if _, err := r.PushIndex(reference.Path(named), tagged.Tag(), im.Index); err != nil {
				return nil, fmt.Errorf("push %s: %w", ref, err)
			}
			pushed = append(pushed, ref)
		}
	}
	return pushed, nil
}
