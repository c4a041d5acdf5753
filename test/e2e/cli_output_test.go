package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/internal/testimage"
)

// ps and images print as Docker's: its columns, --format templates,
// --filter, -q and --no-trunc.
func TestCLIFormatFilter(t *testing.T) {
	d := newDaemon(t)
	port := freePort(t)
	d.mustCLI("run", "-d", "--name", "web", "-p", port+":80", "busybox", "sleep", "1000")
	if r := d.cli("run", "--name", "done", "busybox", "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("run: exit %d, %s", r.code, r.stderr)
	}
	d.mustCLI("create", "--name", "fresh", "busybox", "echo", "a very long command line indeed")
	// A kubelet's container is named with its pod.
	pod := podConfig(d, "kube")
	d.run(d.runPod(pod), pod, ctrConfig("app", "sleep", "1000"))

	ps := strings.Split(strings.TrimSpace(d.mustCLI("ps")), "\n")
	header := regexp.MustCompile(`^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$`)
	if len(ps) != 3 || !header.MatchString(ps[0]) {
		t.Fatalf("ps:\n%s", strings.Join(ps, "\n"))
	}
	web := regexp.MustCompile(`^[0-9a-f]{12} +busybox +"sleep 1000" +(Less than a second|\d+ seconds?) ago +Up (Less than a second|\d+ seconds?) +0\.0\.0\.0:` + port + `->80/tcp +web$`)
	if !web.MatchString(ps[2]) && !web.MatchString(ps[1]) {
		t.Errorf("ps has no row for web:\n%s", strings.Join(ps, "\n"))
	}
	if !strings.HasSuffix(ps[1], " e2e/kube/app") {
		t.Errorf("the newest, kubelet's container, first, with its pod:\n%s", strings.Join(ps, "\n"))
	}
	all := d.mustCLI("ps", "-a")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`"sh -c exit 3" +.* ago +Exited \(3\) .* ago +done\n`),
		regexp.MustCompile(`"echo a very long co…" +.* ago +Created +fresh\n`),
	} {
		if !want.MatchString(all) {
			t.Errorf("ps -a has no %s:\n%s", want, all)
		}
	}
	if nt := d.mustCLI("ps", "-a", "--no-trunc", "--filter", "name=fresh"); !strings.Contains(nt, `"echo a very long command line indeed"`) ||
		!regexp.MustCompile(`\n[0-9a-f]{64} `).MatchString(nt) {
		t.Errorf("ps --no-trunc:\n%s", nt)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.State}}"}, "done exited\n"},
		{[]string{"ps", "--filter", "status=created", "--filter", "status=exited", "--format", "{{.Names}}"}, "fresh\ndone\n"},
		{[]string{"ps", "-a", "--filter", "label=io.criserver.cli=run", "--filter", "name=^[dw]", "--format", "{{.Names}}"}, "done\nweb\n"},
		{[]string{"ps", "-a", "--filter", "ancestor=busybox", "--filter", "status=running", "--format", "{{.Names}}"}, "e2e/kube/app\nweb\n"},
		{[]string{"ps", "-a", "--filter", "ancestor=nosuchimage", "-q"}, ""},
		{[]string{"ps", "--format", "table {{.Names}}\\t{{.Ports}}", "--filter", "name=web"}, "NAMES     PORTS\nweb       0.0.0.0:" + port + "->80/tcp\n"},
		{[]string{"ps", "-a", "--format", `{{.Label "io.criserver.cli"}}`, "--filter", "name=fresh"}, "run\n"},
		{[]string{"images", "--format", "{{.Repository}}:{{.Tag}}"}, "busybox:latest\n"},
		{[]string{"images", "--filter", "dangling=true", "-q"}, ""},
		{[]string{"images", "--filter", "reference=busy*", "--format", "{{.Tag}}"}, "latest\n"},
	} {
		if got := d.mustCLI(tc.args...); got != tc.want {
			t.Errorf("%q:\n%s\nwant\n%s", tc.args, got, tc.want)
		}
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(d.mustCLI("ps", "--filter", "name=web", "--format", "{{json .}}")), &row); err != nil ||
		row["Names"] != "web" || row["State"] != "running" || row["Command"] != `"sleep 1000"` || !strings.HasPrefix(row["Status"], "Up ") {
		t.Errorf("ps {{json .}}: %v %v", row, err)
	}
	if q := strings.Fields(d.mustCLI("ps", "-aq")); len(q) != 4 || len(q[0]) != 64 {
		t.Errorf("ps -aq: %q", q)
	}
	if q := strings.Fields(d.mustCLI("images", "-q")); len(q) != 1 || len(q[0]) != 12 {
		t.Errorf("images -q: %q", q)
	}
	images := d.mustCLI("images")
	if !regexp.MustCompile(`^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE\nbusybox +latest +[0-9a-f]{12} +(\d+ \w+ ago|N/A) +[\d.]+[kM]B\n$`).MatchString(images) {
		t.Errorf("images:\n%s", images)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ps", "--filter", "status=asleep"}, "invalid filter 'status=asleep'"},
		{[]string{"ps", "--filter", "colour=red"}, "invalid filter 'colour'"},
		{[]string{"images", "--filter", "dangling"}, "bad format of filter (expected name=value)"},
		{[]string{"ps", "--format", "{{.Nope}}"}, "can't evaluate field Nope"},
		{[]string{"ps", "--format", "{{json .}}", "-o", "json"}, "--format and --output cannot be used together"},
	} {
		if r := d.cli(tc.args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, %q", tc.args, r.code, r.stderr)
		}
	}
	d.mustCLI("rm", "-f", "web", "done", "fresh", "e2e/kube")
}

// container, image and system prune remove what Docker's do, ask first,
// and never take an image a container uses, kubelet's included.
func TestCLIPrune(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "--name", "done", "busybox", "true")
	d.mustCLI("run", "-d", "--name", "live", "busybox", "sleep", "1000")
	// kubelet's container, only created, holds its image.
	kept := pushImage(t, "e2e/kept", []testimage.Entry{{Name: "kept", Body: "k", Mode: 0o755}})
	d.mustCLI("pull", kept)
	pod := podConfig(d, "kube")
	cfg := ctrConfig("app", "/kept")
	cfg.Image = &runtimeapi.ImageSpec{Image: kept}
	kubeCtr := d.create(d.runPod(pod), pod, cfg)
	// A tag pulled again from another image leaves the first dangling.
	dang := pushImage(t, "e2e/dang", []testimage.Entry{{Name: "one", Body: "1"}})
	d.mustCLI("pull", dang)
	old := strings.TrimSpace(d.mustCLI("images", "--no-trunc", "-q", dang))
	pushImage(t, "e2e/dang", []testimage.Entry{{Name: "two", Body: "2"}})
	d.mustCLI("pull", dang)
	unused := pushImage(t, "e2e/unused", []testimage.Entry{{Name: "u", Body: strings.Repeat("u", 100000)}})
	d.mustCLI("pull", unused)
	done := strings.TrimSpace(d.mustCLI("ps", "-aq", "--filter", "name=done"))

	r := d.cli("container", "prune")
	if r.code != 1 || !strings.Contains(r.stdout, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") ||
		!strings.Contains(r.stderr, "container prune has been cancelled") {
		t.Fatalf("container prune with no answer: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	out := d.mustCLI("container", "prune", "-f")
	if !regexp.MustCompile(`^Deleted Containers:\n` + done + `\n\nTotal reclaimed space: \S+\n$`).MatchString(out) {
		t.Errorf("container prune -f:\n%s", out)
	}
	if ps := d.mustCLI("ps", "-a", "--format", "{{.Names}}"); ps != "e2e/kube/app\nlive\n" && ps != "live\ne2e/kube/app\n" {
		t.Errorf("after container prune, ps -a:\n%s", ps)
	}
	if pods := d.mustCLI("pods"); strings.Contains(pods, "done") {
		t.Errorf("the pod of a pruned container stays:\n%s", pods)
	}

	out = d.mustCLI("image", "prune", "-f")
	// A dangling image loses the name its digest gives it, as Docker says.
	if !regexp.MustCompile(`^Deleted Images:\nuntagged: ` + regexp.QuoteMeta(strings.TrimSuffix(dang, ":v1")) + `@sha256:[0-9a-f]{64}\ndeleted: ` + old + "\n\n").MatchString(out) {
		t.Errorf("image prune -f (dangling %s):\n%s", old, out)
	}
	out = d.mustCLI("image", "prune", "-a", "-f")
	for _, want := range []string{"untagged: " + unused + "\n", "untagged: " + dang + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("image prune -a -f has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "busybox") || strings.Contains(out, "kept") || strings.Count(out, "deleted: sha256:") != 2 ||
		!strings.HasPrefix(tail(out), "Total reclaimed space: ") || tail(out) == "Total reclaimed space: 0B\n" {
		t.Errorf("image prune -a -f:\n%s", out)
	}
	if imgs := d.mustCLI("images", "--format", "{{.Repository}}"); imgs != "busybox\n"+strings.TrimSuffix(kept, ":v1")+"\n" &&
		imgs != strings.TrimSuffix(kept, ":v1")+"\nbusybox\n" {
		t.Errorf("images in use must stay:\n%s", imgs)
	}
	if d.status(kubeCtr).State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.Errorf("kubelet's container was touched")
	}

	d.mustCLI("volume", "create", "idle")
	d.mustCLI("run", "--name", "vuser", "-v", "held:/data", "-v", "/anon", "busybox", "true")
	r = d.cli("system", "prune", "--volumes")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "WARNING! This will remove:\n  - all stopped containers\n  - all anonymous volumes not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure") {
		t.Errorf("system prune with no answer: exit %d, %q", r.code, r.stdout)
	}
	cmd := d.cliCmd("system", "prune", "--volumes")
	cmd.Stdin = strings.NewReader("y\n")
	b, err := cmd.Output()
	// Docker 23's rule: the anonymous volume goes, named ones stay.
	if err != nil || !regexp.MustCompile(`Deleted Containers:\n[0-9a-f]{64}\n\nDeleted Volumes:\n[0-9a-f]{64}\n\nTotal reclaimed space: `).Match(b) {
		t.Errorf("system prune --volumes, yes: %v\n%s", err, b)
	}
	if vols := d.mustCLI("volume", "ls", "-q"); vols != "held\nidle\n" {
		t.Errorf("volumes after system prune --volumes: %q", vols)
	}
	d.mustCLI("volume", "rm", "held", "idle")
	d.mustCLI("rm", "-f", "live", "e2e/kube")
}

// tail is the last line of out.
func tail(out string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(out, "\n"), "\n")
	return lines[len(lines)-1] + "\n"
}

// system df counts what images, containers and volumes take and what a
// prune would free.
func TestCLISystemDf(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("run", "-d", "--name", "live", "busybox", "sleep", "1000")
	d.mustCLI("run", "--name", "wrote", "busybox", "sh", "-c", "head -c 50000 /dev/zero > /f")
	d.mustCLI("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "head -c 1000 /dev/zero > /data/f")
	out := d.mustCLI("system", "df")
	re := regexp.MustCompile(`^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\n` +
		`Images +1 +1 +[\d.]+[kM]B +0B \(0%\)\n` +
		`Containers +2 +1 +([\d.]+)kB +([\d.]+)kB \(\d+%\)\n` +
		`Local Volumes +1 +0 +1kB +1kB \(100%\)\n$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("system df:\n%s", out)
	}
	if kb, _ := strconv.ParseFloat(m[2], 64); kb < 50 {
		t.Errorf("the stopped container's 50kB are not reclaimable:\n%s", out)
	}
	if got := d.mustCLI("system", "df", "--format", "{{.Type}}:{{.TotalCount}}:{{.Active}}"); got != "Images:1:1\nContainers:2:1\nLocal Volumes:1:0\n" {
		t.Errorf("system df --format:\n%s", got)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(strings.Split(d.mustCLI("system", "df", "--format", "{{json .}}"), "\n")[2]), &row); err != nil ||
		row["Type"] != "Local Volumes" || row["Size"] != "1kB" || row["Reclaimable"] != "1kB (100%)" {
		t.Errorf("system df {{json .}}: %v %v", row, err)
	}
	// volume ls tells used volumes from dangling ones.
	d.mustCLI("run", "-d", "--name", "holder", "-v", "held:/x", "busybox", "sleep", "1000")
	if got := d.mustCLI("volume", "ls", "--filter", "dangling=true", "-q"); got != "data\n" {
		t.Errorf("volume ls --filter dangling=true: %q", got)
	}
	if got := d.mustCLI("volume", "ls", "--filter", "dangling=false", "--format", "{{.Name}} {{.Driver}}"); got != "held local\n" {
		t.Errorf("volume ls --filter dangling=false: %q", got)
	}
	d.mustCLI("rm", "-f", "live", "wrote", "holder")
}

// events prints containers' events as Docker does, live and, with
// --since, from the containers' records.
func TestCLIEvents(t *testing.T) {
	d := newDaemon(t)
	d.mustCLI("pull", "busybox")
	cmd := d.cliCmd("events")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(500 * time.Millisecond) // let it subscribe
	if r := d.cli("run", "--name", "ev", "busybox", "sh", "-c", "exit 2"); r.code != 2 {
		t.Fatalf("run: exit %d %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(d.mustCLI("ps", "-aq", "--filter", "name=ev"))
	d.mustCLI("rm", "ev")
	stamp := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)`
	attrs := `image=busybox, io.criserver.cli=run, name=ev`
	var got []string
	for _, want := range []string{
		stamp + ` container create ` + id + ` \(` + attrs + `\)`,
		stamp + ` container start ` + id + ` \(` + attrs + `\)`,
		stamp + ` container die ` + id + ` \(exitCode=2, ` + attrs + `\)`,
		stamp + ` container destroy ` + id + ` \(` + attrs + `\)`,
	} {
		select {
		case l := <-lines:
			got = append(got, l)
			if !regexp.MustCompile("^" + want + "$").MatchString(l) {
				t.Errorf("event %q, want %s", l, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event after %q", got)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("events after Ctrl-C: %v", err)
	}

	d.mustCLI("run", "--name", "rec", "busybox", "true")
	past := d.mustCLI("events", "--since", "1m", "--until", "0s", "--filter", "container=rec", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	if past != "create rec\nstart rec\ndie rec\n" {
		t.Errorf("events --since from the records:\n%s", past)
	}
	if out := d.mustCLI("events", "--since", "1m", "--until", "0s", "--filter", "event=die", "--format", "{{json .}}"); !strings.Contains(out, `"Action":"die"`) ||
		!strings.Contains(out, `"exitCode":"0"`) || strings.Count(out, "\n") != 1 {
		t.Errorf("events --filter event=die --format '{{json .}}':\n%s", out)
	}
	// --until in the future ends the stream then.
	start := time.Now()
	if out := d.mustCLI("events", "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano)); out != "" || time.Since(start) < 900*time.Millisecond {
		t.Errorf("events --until in a second: %q after %v", out, time.Since(start))
	}
	d.mustCLI("rm", "rec")
}

// criserver --help groups commands as Docker's does; the management
// groups take Docker's names for the listings.
func TestCLIHelp(t *testing.T) {
	d := newDaemon(t)
	help := d.mustCLI("--help")
	if !regexp.MustCompile(`(?s)Common Commands:\n.*  run  .*Management Commands:\n.*  container .*  volume .*\nCommands:\n.*  rm `).MatchString(help) {
		t.Errorf("help:\n%s", help)
	}
	d.mustCLI("run", "-d", "--name", "idle", "busybox", "sleep", "1000")
	if got := d.mustCLI("container", "ls", "--format", "{{.Names}}"); got != "idle\n" {
		t.Errorf("container ls: %q", got)
	}
	if got := d.mustCLI("image", "ls", "--format", "{{.Repository}}"); got != "busybox\n" {
		t.Errorf("image ls: %q", got)
	}
	d.mustCLI("container", "rm", "-f", "idle")
	if got := d.mustCLI("container", "ls", "-aq"); got != "" {
		t.Errorf("after container rm: %q", got)
	}
}
