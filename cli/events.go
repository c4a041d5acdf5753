package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// eventTime is how Docker prints an event's time: RFC 3339, nine digits.
const eventTime = "2006-01-02T15:04:05.000000000Z07:00"

// event is one container event as Docker's events --format sees it.
type event struct {
	Status   string     `json:"status"`
	ID       string     `json:"id"`
	From     string     `json:"from"`
	Type     string     `json:"Type"`
	Action   string     `json:"Action"`
	Actor    eventActor `json:"Actor"`
	Scope    string     `json:"scope"`
	Time     int64      `json:"time"`
	TimeNano int64      `json:"timeNano"`
}

type eventActor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// String is the line Docker prints by default.
func (e *event) String() string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range e.Actor.Attributes {
			if !yield(k) {
				return
			}
		}
	})
	attrs := make([]string, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, k+"="+e.Actor.Attributes[k])
	}
	return fmt.Sprintf("%s %s %s %s (%s)", time.Unix(0, e.TimeNano).Format(eventTime), e.Type, e.Action, e.Actor.ID, strings.Join(attrs, ", "))
}

// CRI's event types as Docker names them.
var eventActions = map[runtimeapi.ContainerEventType]string{
	runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT: "create",
	runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT: "start",
	runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT: "die",
	runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT: "destroy",
}

func eventsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events [--since TIME] [--until TIME] [--filter KEY=VALUE]... [--format TEMPLATE]",
		Short: "Print containers' events as they happen",
		Long: "Print containers' events (create, start, die, destroy) as they happen, until Ctrl-C or --until.\n" +
			"TIME is RFC 3339, Unix seconds, or a duration before now (10m). --since replays what the\n" +
			"daemon's containers record (their creation, start and exit), not what happened to removed ones.\n" +
			"Filters: container=ID|NAME, event=ACTION, image=IMAGE, label=KEY[=VALUE], type=container.",
		Args: cobra.NoArgs,
		RunE: withClient(runEvents),
	}
	cmd.Flags().String("since", "", "show events since this time, from the containers' records")
	cmd.Flags().String("until", "", "stop at this time")
	cmd.Flags().StringArrayP("filter", "f", nil, "only what matches KEY=VALUE (same keys OR, different keys AND)")
	cmd.Flags().String("format", "", "print with a Go template: '{{json .}}' or 'json'")
	return cmd
}

// eventTimeFlag reads --since or --until as Docker takes them; zero when
// not given.
func eventTimeFlag(cmd *cobra.Command, name string, now time.Time) (time.Time, error) {
	v, _ := cmd.Flags().GetString(name)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q: want RFC 3339, Unix seconds or a duration", name, v)
}

func runEvents(cmd *cobra.Command, c *client, _ []string) error {
	now := time.Now()
	since, err := eventTimeFlag(cmd, "since", now)
	if err != nil {
		return err
	}
	until, err := eventTimeFlag(cmd, "until", now)
	if err != nil {
		return err
	}
	f, err := parseFilters(cmd, "container", "event", "image", "label", "type")
	if err != nil {
		return err
	}
	var tmpl *rowFormat
	if fs, _ := cmd.Flags().GetString("format"); fs != "" {
		if tmpl, err = parseRowFormat(cmd, ""); err != nil {
			return err
		}
		tmpl.table = false
	}
	ctx := cmd.Context()
	live := until.IsZero() || until.After(now)
	// Ctrl-C ends the listing, as Docker's: a success.
	streamCtx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if !until.IsZero() {
		streamCtx, cancel = context.WithDeadline(streamCtx, until)
		defer cancel()
	}
	// Subscribe before reading the records, so that nothing falls between.
	var stream runtimeapi.RuntimeService_GetContainerEventsClient
	if live {
		if stream, err = c.rt.GetContainerEvents(streamCtx, &runtimeapi.GetEventsRequest{}); err != nil {
			return callError(err)
		}
	}
	w := &eventWriter{out: cmd.OutOrStdout(), tmpl: tmpl, f: f, known: map[string]eventActor{}}
	pods, err := c.podNames(ctx)
	if err != nil {
		return err
	}
	listed := time.Now()
	past, err := c.recordedEvents(ctx, w, pods)
	if err != nil {
		return err
	}
	if !since.IsZero() {
		for _, e := range past {
			if t := time.Unix(0, e.TimeNano); !t.Before(since) && (until.IsZero() || !t.After(until)) {
				if err := w.write(e); err != nil {
					return err
				}
			}
		}
	}
	if !live {
		return nil
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if ctx.Err() == nil && streamCtx.Err() != nil || status.Code(err) == codes.DeadlineExceeded && !until.IsZero() {
				return nil // --until passed, or Ctrl-C
			}
			if errors.Is(err, io.EOF) {
				return c.lost("it ended the event stream")
			}
			return callError(err)
		}
		if resp.CreatedAt < listed.UnixNano() {
			continue // read from the records already
		}
		e := w.fromResponse(resp, pods)
		if e == nil {
			continue
		}
		if err := w.write(e); err != nil {
			return err
		}
	}
}

// eventWriter filters and prints events; known keeps each container's
// name, image and labels for its destroy event, which comes without them.
type eventWriter struct {
	out   io.Writer
	tmpl  *rowFormat
	f     filters
	known map[string]eventActor
}

func (w *eventWriter) write(e *event) error {
	a := e.Actor.Attributes
	ok := w.f.match("type", func(v string) bool { return v == "container" }) &&
		w.f.match("event", func(v string) bool { return v == e.Action }) &&
		w.f.match("container", func(v string) bool { return strings.HasPrefix(e.ID, v) || v == a["name"] }) &&
		w.f.match("image", func(v string) bool { return v == a["image"] || familiar(v) == familiar(a["image"]) }) &&
		w.f.labels(a)
	if !ok {
		return nil
	}
	if w.tmpl != nil {
		return w.tmpl.line(w.out, e)
	}
	_, err := fmt.Fprintln(w.out, e.String())
	return err
}

// actor is a container as events name it: by its name as ps shows it, the
// image as it was asked for, and its labels.
func (w *eventWriter) actor(st *runtimeapi.ContainerStatus, podID string, pods map[string]string) eventActor {
	ct := &runtimeapi.Container{Id: st.Id, PodSandboxId: podID, Metadata: st.Metadata, Labels: st.Labels}
	attrs := map[string]string{}
	for k, v := range st.Labels {
		attrs[k] = v
	}
	attrs["name"], attrs["image"] = containerName(ct, pods), imageName(st.Image)
	a := eventActor{ID: st.Id, Attributes: attrs}
	w.known[st.Id] = a
	return a
}

func newEvent(action string, a eventActor, at int64) *event {
	attrs := make(map[string]string, len(a.Attributes))
	for k, v := range a.Attributes {
		attrs[k] = v
	}
	return &event{
		Status: action, ID: a.ID, From: attrs["image"], Type: "container", Action: action,
		Actor: eventActor{ID: a.ID, Attributes: attrs}, Scope: "local", Time: at / 1e9, TimeNano: at,
	}
}

// fromResponse turns a CRI event into Docker's; nil for a type it does not
// know.
func (w *eventWriter) fromResponse(resp *runtimeapi.ContainerEventResponse, pods map[string]string) *event {
	action, ok := eventActions[resp.ContainerEventType]
	if !ok {
		return nil
	}
	if p := resp.PodSandboxStatus; p != nil {
		if _, ok := pods[p.Id]; !ok {
			pods[p.Id] = p.Metadata.GetNamespace() + "/" + p.Metadata.GetName()
		}
	}
	a, ok := w.known[resp.ContainerId]
	var st *runtimeapi.ContainerStatus
	for _, s := range resp.ContainersStatuses {
		if s.Id == resp.ContainerId {
			st = s
		}
	}
	if st != nil {
		a = w.actor(st, resp.PodSandboxStatus.GetId(), pods)
	} else if !ok {
		a = eventActor{ID: resp.ContainerId, Attributes: map[string]string{}}
	}
	e := newEvent(action, a, resp.CreatedAt)
	if action == "die" && st != nil {
		e.Actor.Attributes["exitCode"] = strconv.Itoa(int(st.ExitCode))
	}
	if action == "destroy" {
		delete(w.known, resp.ContainerId)
	}
	return e
}

// recordedEvents are the events the daemon's containers record: their
// creation, start and exit, oldest first.
func (c *client) recordedEvents(ctx context.Context, w *eventWriter, pods map[string]string) ([]*event, error) {
	resp, err := c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, callError(err)
	}
	var out []*event
	for _, ct := range resp.Containers {
		st, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ct.Id})
		if err != nil {
			continue // removed since
		}
		s := st.Status
		a := w.actor(s, ct.PodSandboxId, pods)
		for _, rec := range []struct {
			action string
			at     int64
		}{{"create", s.CreatedAt}, {"start", s.StartedAt}, {"die", s.FinishedAt}} {
			if rec.at == 0 {
				continue
			}
			e := newEvent(rec.action, a, rec.at)
			if rec.action == "die" {
				e.Actor.Attributes["exitCode"] = strconv.Itoa(int(s.ExitCode))
			}
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *event) int { return cmp.Compare(a.TimeNano, b.TimeNano) })
	return out, nil
}
