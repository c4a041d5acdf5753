package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type logLine struct{ stream, tag, text string }

// readLog parses a CRI log file and checks that every line is stamped in
// UTC, in RFC 3339 with nanoseconds, between from and to.
func readLog(t *testing.T, path string, from, to time.Time) []logLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("the log ends in the middle of a line: %q", b)
	}
	var lines []logLine
	for _, l := range strings.Split(string(b[:len(b)-1]), "\n") {
		stamp, rest, _ := strings.Cut(l, " ")
		stream, rest, _ := strings.Cut(rest, " ")
		tag, text, ok := strings.Cut(rest, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if !ok || err != nil || !strings.HasSuffix(stamp, "Z") {
			t.Fatalf("malformed log line %q (%v)", l, err)
		}
		if ts.Before(from.Truncate(time.Microsecond)) || ts.After(to) {
			t.Fatalf("line %q stamped outside [%s, %s]", l, from, to)
		}
		lines = append(lines, logLine{stream, tag, text})
	}
	return lines
}

// chunks reads as a pipe does: at most one chunk per Read.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	if (*c)[0] = (*c)[0][n:]; (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

func openTestLog(t *testing.T) (*criLog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	l, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.close)
	return l, path
}

func TestLogLines(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name   string
		stream string
		reads  []string
		want   []logLine
	}{
		{"one line", "stdout", []string{"hello\n"}, []logLine{{"stdout", "F", "hello"}}},
		{"stderr", "stderr", []string{"oops\n"}, []logLine{{"stderr", "F", "oops"}}},
		{"a line across reads", "stdout", []string{"hel", "lo wo", "rld\nbye\n"},
			[]logLine{{"stdout", "F", "hello world"}, {"stdout", "F", "bye"}}},
		{"several lines in one read, one empty", "stdout", []string{"a\nb\n\nc\n"},
			[]logLine{{"stdout", "F", "a"}, {"stdout", "F", "b"}, {"stdout", "F", ""}, {"stdout", "F", "c"}}},
		// kubelet reads the last bytes of a stream as a whole line.
		{"unterminated at the end", "stdout", []string{"a\n", "prompt$ "},
			[]logLine{{"stdout", "F", "a"}, {"stdout", "F", "prompt$ "}}},
		{"no output", "stdout", nil, nil},
		{"exactly the longest line", "stdout", []string{x(maxLine) + "\n"}, []logLine{{"stdout", "F", x(maxLine)}}},
		{"one byte longer", "stdout", []string{x(maxLine+1) + "\n"},
			[]logLine{{"stdout", "P", x(maxLine)}, {"stdout", "F", "x"}}},
		{"two and a bit lines long", "stderr", []string{x(2*maxLine+5) + "\n"},
			[]logLine{{"stderr", "P", x(maxLine)}, {"stderr", "P", x(maxLine)}, {"stderr", "F", x(5)}}},
		{"a long line across reads", "stdout", []string{x(maxLine - 1), "xx", "y\n"},
			[]logLine{{"stdout", "P", x(maxLine)}, {"stdout", "F", "xy"}}},
		// The partial piece goes out before the newline is seen; an empty
		// full line then ends it, which kubelet joins into the same line.
		{"the longest line, its newline read later", "stdout", []string{x(maxLine), "\n"},
			[]logLine{{"stdout", "P", x(maxLine)}, {"stdout", "F", ""}}},
		{"a long unterminated tail", "stdout", []string{x(maxLine + 3)},
			[]logLine{{"stdout", "P", x(maxLine)}, {"stdout", "F", "xxx"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, path := openTestLog(t)
			var teed strings.Builder
			begin := time.Now()
			r := chunks(append([]string(nil), tc.reads...))
			l.pump(tc.stream, &r, func(stream string, b []byte) {
				if stream != tc.stream {
					t.Errorf("teed as %s", stream)
				}
				teed.Write(b)
			})
			got := readLog(t, path, begin, time.Now())
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines %v, want %d", len(got), short(got), len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("line %d: %v, want %v", i, short(got[i:i+1]), short(tc.want[i:i+1]))
				}
			}
			// Attached clients see the bytes as they came, newlines and all.
			if teed.String() != strings.Join(tc.reads, "") {
				t.Errorf("teed %d bytes, want %d", teed.Len(), len(strings.Join(tc.reads, "")))
			}
		})
	}
}

// short keeps failure messages about long lines readable.
func short(lines []logLine) []logLine {
	out := make([]logLine, len(lines))
	for i, l := range lines {
		if len(l.text) > 20 {
			l.text = l.text[:10] + "...(" + strconv.Itoa(len(l.text)) + " bytes)"
		}
		out[i] = l
	}
	return out
}

// A prompt without a newline reaches attached clients at once, though the
// log waits for the rest of its line.
func TestLogTeesBeforeTheLineEnds(t *testing.T) {
	l, path := openTestLog(t)
	r, w := io.Pipe()
	teed := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.pump("stdout", r, func(_ string, b []byte) { teed <- string(b) })
	}()
	w.Write([]byte("password: "))
	select {
	case got := <-teed:
		if got != "password: " {
			t.Fatalf("teed %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an unterminated line was held back from attached clients")
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("logged half a line: %q", b)
	}
	w.Close()
	<-done
	if got := readLog(t, path, time.Time{}, time.Now()); len(got) != 1 || got[0] != (logLine{"stdout", "F", "password: "}) {
		t.Fatalf("logged %v", got)
	}
}

// Each line is one write under the lock, so the two streams of a container
// never tear each other's lines.
func TestLogStreamsDoNotInterleave(t *testing.T) {
	l, path := openTestLog(t)
	const n = 300
	var wg sync.WaitGroup
	for _, stream := range []string{"stdout", "stderr"} {
		r, w := io.Pipe()
		wg.Add(2)
		go func() { defer wg.Done(); l.pump(stream, r, nil) }()
		go func() {
			defer wg.Done()
			defer w.Close()
			for i := range n {
				// Written in two pieces, so the pumps often hold half a line.
				line := stream + " " + strconv.Itoa(i) + " " + strings.Repeat("y", 100+i)
				w.Write([]byte(line[:50]))
				w.Write([]byte(line[50:] + "\n"))
			}
		}()
	}
	wg.Wait()
	next := map[string]int{}
	for _, got := range readLog(t, path, time.Time{}, time.Now()) {
		i := next[got.stream]
		want := got.stream + " " + strconv.Itoa(i) + " " + strings.Repeat("y", 100+i)
		if got.tag != "F" || got.text != want {
			t.Fatalf("%s line %d: %v", got.stream, i, short([]logLine{got}))
		}
		next[got.stream]++
	}
	if next["stdout"] != n || next["stderr"] != n {
		t.Fatalf("logged %v lines", next)
	}
}

func TestLogReopen(t *testing.T) {
	t.Run("after rotation", func(t *testing.T) {
		l, path := openTestLog(t)
		l.write("stdout", false, []byte("before"))
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		l.write("stdout", false, []byte("rotated away")) // kubelet has not asked yet
		if err := l.reopen(); err != nil {
			t.Fatal(err)
		}
		l.write("stdout", false, []byte("after"))
		old := readLog(t, path+".1", time.Time{}, time.Now())
		cur := readLog(t, path, time.Time{}, time.Now())
		if len(old) != 2 || old[1].text != "rotated away" || len(cur) != 1 || cur[0].text != "after" {
			t.Fatalf("rotated file %v, new file %v", old, cur)
		}
	})
	t.Run("a failure keeps the old file", func(t *testing.T) {
		l, path := openTestLog(t)
		os.Rename(path, path+".1")
		// A directory in the way fails the open, even for root.
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := l.reopen(); err == nil {
			t.Fatal("reopened onto a directory")
		}
		l.write("stderr", false, []byte("still logged"))
		if got := readLog(t, path+".1", time.Time{}, time.Now()); len(got) != 1 || got[0].text != "still logged" {
			t.Fatalf("the old file has %v", got)
		}
	})
	t.Run("no log path", func(t *testing.T) {
		l, err := openLog("")
		if err != nil {
			t.Fatal(err)
		}
		l.write("stdout", false, []byte("nowhere")) // dropped, not a crash
		if err := l.reopen(); err == nil || !strings.Contains(err.Error(), "no log path") {
			t.Fatalf("reopen without a path: %v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		l, path := openTestLog(t)
		l.close()
		l.write("stdout", false, []byte("late"))
		if b, _ := os.ReadFile(path); len(b) != 0 {
			t.Fatalf("wrote after close: %q", b)
		}
	})
	if _, err := openLog(filepath.Join(t.TempDir(), "missing", "0.log")); err == nil {
		t.Fatal("opened a log in a missing directory")
	}
}
