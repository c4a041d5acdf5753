package cli

import (
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestEventLine(t *testing.T) {
	at := time.Date(2026, 12, 3, 11, 0, 0, 5, time.UTC)
	e := newEvent("die", eventActor{ID: "abc", Attributes: map[string]string{"name": "web", "image": "busybox", "exitCode": "3"}}, at.UnixNano())
	got := e.String()
	want := at.Local().Format(eventTime) + " container die abc (exitCode=3, image=busybox, name=web)"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEventTimeFlag(t *testing.T) {
	now := time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Time{
		"":                          {},
		"10m":                       now.Add(-10 * time.Minute),
		"1796295600":                time.Unix(1796295600, 0),
		"1796295600.5":              time.Unix(1796295600, 5e8),
		"2026-12-03T10:00:00Z":      time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		"2026-12-03T10:00:00+01:00": time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC),
	} {
		cmd := &cobra.Command{}
		cmd.Flags().String("since", "", "")
		_ = cmd.Flags().Set("since", v)
		got, err := eventTimeFlag(cmd, "since", now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", v, got, err, want)
		}
	}
	cmd := &cobra.Command{}
	cmd.Flags().String("until", "", "")
	_ = cmd.Flags().Set("until", "yesterday")
	if _, err := eventTimeFlag(cmd, "until", now); err == nil {
		t.Error("--until yesterday was taken")
	}
}
