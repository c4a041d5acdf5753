package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/criserver/criserver/api"
)

// psTable is Docker's default ps table.
const psTable = `table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}`

// psRow is a container as ps's templates see it, with Docker's field names;
// Pod is criserver's own.
type psRow struct {
	ID         string `json:"ID" header:"CONTAINER ID"`
	Image      string `json:"Image" header:"IMAGE"`
	Command    string `json:"Command" header:"COMMAND"`
	CreatedAt  string `json:"CreatedAt" header:"CREATED AT"`
	RunningFor string `json:"RunningFor" header:"CREATED"`
	Ports      string `json:"Ports" header:"PORTS"`
	State      string `json:"State" header:"STATE"`
	Status     string `json:"Status" header:"STATUS"`
	Names      string `json:"Names" header:"NAMES"`
	Labels     string `json:"Labels" header:"LABELS"`
	Pod        string `json:"Pod" header:"POD"`

	labels map[string]string
	header bool
}

// Label is one label's value, as {{.Label "KEY"}}.
func (r *psRow) Label(key string) string {
	if r.header {
		return "LABEL"
	}
	return r.labels[key]
}

// psSelection is which containers ps lists: its flags and filters.
type psSelection struct {
	all       bool
	last      int
	f         filters
	ancestors []string // image IDs
	names     []*regexp.Regexp
}

func (c *client) newPsSelection(cmd *cobra.Command, f filters) (*psSelection, error) {
	s := &psSelection{f: f}
	s.all, _ = cmd.Flags().GetBool("all")
	s.last, _ = cmd.Flags().GetInt("last")
	if l, _ := cmd.Flags().GetBool("latest"); l {
		s.last = 1
	}
	for _, st := range f["status"] {
		if !slices.Contains([]string{"created", "running", "exited", "paused", "restarting", "removing", "dead"}, st) {
			return nil, fmt.Errorf("invalid filter 'status=%s'", st)
		}
	}
	for _, n := range f["name"] {
		re, err := regexp.Compile(n)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'name=%s': %w", n, err)
		}
		s.names = append(s.names, re)
	}
	for _, a := range f["ancestor"] {
		// An image the daemon does not have is no container's ancestor.
		st, err := c.img.ImageStatus(cmd.Context(), &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: a}})
		if err != nil {
			return nil, callError(err)
		}
		if st.Image != nil {
			s.ancestors = append(s.ancestors, st.Image.Id)
		}
	}
	return s, nil
}

// request asks the daemon for running containers only when nothing else
// can be shown.
func (s *psSelection) request() *runtimeapi.ListContainersRequest {
	req := &runtimeapi.ListContainersRequest{}
	if !s.all && s.last < 0 && s.f["status"] == nil {
		req.Filter = &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
	}
	return req
}

// keep filters cts, newest first as Docker lists them.
func (s *psSelection) keep(cts []*runtimeapi.Container, pods map[string]string) []*runtimeapi.Container {
	cts = slices.Clone(cts)
	slices.SortStableFunc(cts, func(a, b *runtimeapi.Container) int { return cmp.Compare(b.CreatedAt, a.CreatedAt) })
	var out []*runtimeapi.Container
	for _, ct := range cts {
		if s.match(ct, pods) {
			out = append(out, ct)
		}
	}
	if s.last >= 0 && len(out) > s.last {
		out = out[:s.last]
	}
	return out
}

func (s *psSelection) match(ct *runtimeapi.Container, pods map[string]string) bool {
	name := containerName(ct, pods)
	return s.f.match("id", func(v string) bool { return strings.HasPrefix(ct.Id, v) }) &&
		s.f.match("status", func(v string) bool { return v == stateName(ct.State) }) &&
		s.f.labels(ct.Labels) &&
		(len(s.names) == 0 || slices.ContainsFunc(s.names, func(re *regexp.Regexp) bool { return re.MatchString(name) })) &&
		(s.f["ancestor"] == nil || slices.Contains(s.ancestors, containerImageID(ct)))
}

// containerImageID is the ID of the image a container was made from.
func containerImageID(ct *runtimeapi.Container) string {
	for _, id := range []string{ct.ImageId, ct.ImageRef, ct.Image.GetImage()} {
		if strings.HasPrefix(id, "sha256:") {
			return id
		}
	}
	return ""
}

// containerName is the name by which commands take a container: its own
// for one the CLI made (its pod has the name), else namespace/pod/name, as
// a Kubernetes pod's containers share names across pods.
func containerName(ct *runtimeapi.Container, pods map[string]string) string {
	if ct.Labels[api.CLILabel] != "" || pods[ct.PodSandboxId] == "" {
		return ct.Metadata.GetName()
	}
	return pods[ct.PodSandboxId] + "/" + ct.Metadata.GetName()
}

// stateName is a CRI state as Docker names states.
func stateName(s runtimeapi.ContainerState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CONTAINER_"))
}

// psRowOf fills a row from the container's verbose status; ports caches
// each pod's published ports.
func (c *client) psRowOf(ctx context.Context, ct *runtimeapi.Container, pods, ports map[string]string, trunc bool) *psRow {
	r := &psRow{
		ID: ct.Id, Image: imageName(ct.Image), State: stateName(ct.State), Names: containerName(ct, pods),
		CreatedAt:  time.Unix(0, ct.CreatedAt).Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor: units.HumanDuration(time.Since(time.Unix(0, ct.CreatedAt))) + " ago",
		Labels:     joinLabels(ct.Labels), labels: ct.Labels, Pod: pods[ct.PodSandboxId],
	}
	if trunc {
		r.ID = short(ct.Id)
	} else if strings.HasPrefix(ct.Image.GetImage(), "sha256:") && ct.Image.GetUserSpecifiedImage() == "" {
		r.Image = ct.Image.GetImage()
	}
	var st *runtimeapi.ContainerStatus
	command := ""
	if resp, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ct.Id, Verbose: true}); err == nil {
		st = resp.Status
		command = commandOf(resp.Info["info"])
	}
	if trunc {
		command = ellipsis(command, 20)
	}
	r.Command = strconv.Quote(command)
	r.Status = statusText(ct.State, st)
	if ct.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
		p, ok := ports[ct.PodSandboxId]
		if !ok {
			p = c.portsText(ctx, ct.PodSandboxId)
			ports[ct.PodSandboxId] = p
		}
		r.Ports = p
	}
	return r
}

// statusText is Docker's STATUS: "Up 3 minutes", "Exited (0) 5 seconds
// ago", "Created". st may be nil when the status could not be read.
func statusText(state runtimeapi.ContainerState, st *runtimeapi.ContainerStatus) string {
	since := func(ns int64) string { return units.HumanDuration(time.Since(time.Unix(0, ns))) }
	switch state {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return "Created"
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		if st == nil {
			return "Up"
		}
		at := st.StartedAt
		if at == 0 {
			at = st.CreatedAt
		}
		return "Up " + since(at)
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		if st == nil {
			return "Exited"
		}
		at := st.FinishedAt
		if at == 0 {
			at = st.CreatedAt
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, since(at))
	}
	return "Unknown"
}

// commandOf is the command line a container runs, from the daemon's
// verbose status: CRI's command and args over the image's entrypoint and
// cmd, as Kubernetes documents.
func commandOf(info string) string {
	var doc struct {
		Config struct {
			Spec struct {
				Command, Args []string
				Image         struct{ Entrypoint, Cmd []string }
			}
		} `json:"config"`
	}
	if json.Unmarshal([]byte(info), &doc) != nil {
		return ""
	}
	sp := doc.Config.Spec
	argv := sp.Command
	if len(argv) == 0 {
		argv = sp.Image.Entrypoint
		if len(sp.Args) == 0 {
			argv = append(slices.Clone(argv), sp.Image.Cmd...)
		}
	}
	if len(sp.Command) > 0 || len(sp.Args) > 0 {
		argv = append(slices.Clone(argv), sp.Args...)
	}
	return strings.Join(argv, " ")
}

// portsText is a pod's published ports as Docker's PORTS column:
// 0.0.0.0:8080->80/tcp, comma-separated.
func (c *client) portsText(ctx context.Context, podID string) string {
	ps, err := c.ports(ctx, podID)
	if err != nil {
		return ""
	}
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s->%d/%s", p.host(), p.ContainerPort, p.proto()))
	}
	return strings.Join(parts, ", ")
}
