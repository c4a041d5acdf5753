package monitorproto

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestArgsRoundTrip(t *testing.T) {
	for _, c := range []Config{
		{ID: "a", Bundle: "/b", Runtime: "/usr/sbin/runc", Dir: "/d"},
		{ID: "a", Bundle: "/b", Runtime: "/r", RuntimeArgs: []string{"--root", "/x y"}, Dir: "/d", LogPath: "/l",
			OOMFile: "/o", Stdin: true, StdinOnce: true, TTY: true, RuntimeTimeout: 90 * time.Second},
		{ID: "a", Runtime: "/r", Dir: "/d", ExecProcess: "/p.json", ConsoleSocket: "/c.sock", RuntimeArgs: []string{"-"}},
	} {
		got, err := ParseArgs(c.Args())
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !reflect.DeepEqual(*got, c) {
			t.Fatalf("round trip of %+v gave %+v", c, *got)
		}
	}
}

func TestParseArgsRefuses(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"-id", "a", "-runtime", "/r", "-dir", "/d"}, // neither bundle nor exec
		{"-id", "a", "-runtime", "/r", "-dir", "/d", "-bundle"},
		{"-id", "a", "-runtime", "/r", "-dir", "/d", "-bundle", "/b", "-nope", "x"},
		{"-id", "a", "-runtime", "/r", "-dir", "/d", "-bundle", "/b", "-runtime-timeout", "soon"},
	} {
		if _, err := ParseArgs(args); err == nil {
			t.Errorf("%q parsed", args)
		}
	}
}

func TestExitRecordDecodes(t *testing.T) {
	for _, e := range []Exit{
		{ExitCode: 0, FinishedAt: time.Date(2026, 12, 2, 1, 2, 3, 456789000, time.UTC)},
		{ExitCode: 137, FinishedAt: time.Unix(1e9, 1).UTC(), OOMKilled: true},
	} {
		var got Exit
		if err := json.Unmarshal([]byte(e.Encode()), &got); err != nil {
			t.Fatalf("%s: %v", e.Encode(), err)
		}
		if !got.FinishedAt.Equal(e.FinishedAt) || got.ExitCode != e.ExitCode || got.OOMKilled != e.OOMKilled {
			t.Fatalf("round trip of %+v gave %+v", e, got)
		}
	}
}

func TestReportDecodes(t *testing.T) {
	code := 3
	for _, r := range []Report{
		{Pid: 42},
		{ExitCode: &code},
		{Error: "runc create: \"quoted\"\n\ttab \\ and \x01 and ünïcode", Class: ClassRuntime},
	} {
		var got Report
		if err := json.Unmarshal([]byte(r.Encode()), &got); err != nil {
			t.Fatalf("%s: %v", r.Encode(), err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip of %+v gave %+v (%s)", r, got, r.Encode())
		}
	}
}

func TestAnswers(t *testing.T) {
	if v, err, ok := ParseAnswer(OK("")); !ok || err != nil || v != "" {
		t.Fatal("ok")
	}
	if v, err, ok := ParseAnswer(OK("1")); !ok || err != nil || v != "1" {
		t.Fatal("ok 1")
	}
	_, err, ok := ParseAnswer(Fail(ClassExited, "gone\nfor good"))
	if !ok || err == nil || err.Class != ClassExited || err.Message != "gone for good" {
		t.Fatalf("classed error: %+v", err)
	}
	// Monitors from before classes.
	_, err, ok = ParseAnswer("error resize needs a width and a height")
	if !ok || err.Class != ClassPrecondition || err.Message != "resize needs a width and a height" {
		t.Fatalf("old error: %+v", err)
	}
	_, err, _ = ParseAnswer(UnknownRequest("start"))
	if !IsUnknownRequest(err) {
		t.Fatalf("unknown request: %+v", err)
	}
	_, err, _ = ParseAnswer(`error unknown request "start"`) // an old monitor's words
	if !IsUnknownRequest(err) {
		t.Fatalf("old unknown request: %+v", err)
	}
	if _, _, ok := ParseAnswer("what"); ok {
		t.Fatal("garbage parsed")
	}
}
