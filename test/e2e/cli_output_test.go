package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
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
