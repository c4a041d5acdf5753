package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// maxLine is where a long line is split into partial (P) lines, as kubelet's
// max container log line size.
const maxLine = 16 << 10

// criLog writes the CRI log format: "<RFC3339Nano> <stream> <F|P> <text>\n".
type criLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	buf  []byte
}

func openLog(path string) (*criLog, error) {
	l := &criLog{path: path}
	if path == "" {
		return l, nil
	}
	return l, l.reopen()
}

// reopen starts a new file at the same path, after kubelet rotated the old
// one away. A failure leaves no new file behind and keeps the old one open.
func (l *criLog) reopen() error {
	if l.path == "" {
		return errors.New("container has no log path")
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (l *criLog) write(stream string, partial bool, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	tag := " F "
	if partial {
		tag = " P "
	}
	l.buf = time.Now().UTC().AppendFormat(l.buf[:0], time.RFC3339Nano)
	l.buf = append(l.buf, ' ')
	l.buf = append(l.buf, stream...)
	l.buf = append(l.buf, tag...)
	l.buf = append(l.buf, line...)
	l.buf = append(l.buf, '\n')
	_, _ = l.f.Write(l.buf) // one write per line: stdout and stderr lines never interleave
}

func (l *criLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// pump copies one stream into the log line by line until EOF. Attached
// clients get every chunk as soon as it is read, newline or not (a prompt,
// "echo -n"); the log gets whole lines, and lines longer than maxLine as
// partial (P) lines.
func (l *criLog) pump(stream string, r io.Reader, tee func(stream string, b []byte)) {
	buf := make([]byte, 32<<10)
	var line []byte
	for {
		n, err := r.Read(buf)
		chunk := buf[:n]
		if n > 0 && tee != nil {
			tee(stream, chunk)
		}
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				line = append(line, chunk...)
				break
			}
			line = append(line, chunk[:i]...)
			l.writeSplit(stream, line)
			line, chunk = line[:0], chunk[i+1:]
		}
		for len(line) >= maxLine {
			l.write(stream, true, line[:maxLine])
			line = append(line[:0], line[maxLine:]...)
		}
		if err != nil {
			// The last bytes before EOF end the stream: a full line, as
			// kubelet reads it.
			if len(line) > 0 {
				l.write(stream, false, line)
			}
			return
		}
	}
}

// writeSplit writes a complete line, as partial pieces first when it is long.
func (l *criLog) writeSplit(stream string, line []byte) {
	for len(line) > maxLine {
		l.write(stream, true, line[:maxLine])
		line = line[maxLine:]
	}
	l.write(stream, false, line)
}
