package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/criserver/criserver/internal/monitorproto"
)

// serve answers the control protocol (see monitorproto) on ln.
func (m *monitor) serve(ln *listener) {
	for {
		conn, err := ln.accept()
		if err != nil {
			return
		}
		go m.handle(conn)
	}
}

func (m *monitor) handle(conn *os.File) {
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		conn.Close()
		return
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		f = []string{""}
	}
	switch f[0] {
	case monitorproto.VerbVersion:
		answer(conn, monitorproto.OK(monitorproto.Version))
	case monitorproto.VerbWait:
		<-m.exited
		answer(conn, monitorproto.OK(m.exit))
	case monitorproto.VerbStart:
		answer(conn, m.startContainer())
	case monitorproto.VerbCancel:
		answer(conn, m.cancel())
	case monitorproto.VerbReopen:
		if err := m.log.reopen(); err != nil {
			answer(conn, monitorproto.Fail(monitorproto.ClassPrecondition, err.Error()))
		} else {
			answer(conn, monitorproto.OK(""))
		}
	case monitorproto.VerbResize:
		// A size that is not a number, or too big for a terminal, is
		// refused rather than read as 0 or 65535.
		var w, h uint64
		var werr, herr error
		if len(f) == 3 {
			w, werr = strconv.ParseUint(f[1], 10, 16)
			h, herr = strconv.ParseUint(f[2], 10, 16)
		}
		if len(f) != 3 || werr != nil || herr != nil {
			answer(conn, monitorproto.Fail(monitorproto.ClassInvalid, "resize needs a width and a height"))
			break
		}
		answer(conn, m.resize(uint16(w), uint16(h)))
	case monitorproto.VerbAttach:
		m.serveAttach(conn, br, f[1:]) // owns conn from here
		return
	default:
		answer(conn, monitorproto.UnknownRequest(f[0]))
	}
	conn.Close()
}

func answer(conn *os.File, s string) {
	_, _ = conn.WriteString(s + "\n")
}
