package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// protocolVersion names the control protocol below. A change old daemons
// or monitors cannot follow bumps it; the daemon asks for it when it finds a
// monitor from before its own start (oci.MonitorProtocol).
const protocolVersion = "1"

// The control protocol is one request line and one answer line:
//
//	version                   -> "ok <protocolVersion>"
//	wait                      -> "ok <exit JSON>" once the container has exited
//	reopen                    -> "ok" or "error <why>"
//	resize <width> <height>   -> "ok" or "error <why>"
//	attach [stdin] [stdout] [stderr] -> "ok", then the attach stream (attach.go)
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
	case "version":
		answer(conn, "ok "+protocolVersion)
	case "wait":
		<-m.exited
		answer(conn, "ok "+m.exit)
	case "reopen":
		if err := m.log.reopen(); err != nil {
			answer(conn, "error "+err.Error())
		} else {
			answer(conn, "ok")
		}
	case "resize":
		if len(f) != 3 {
			answer(conn, "error resize needs a width and a height")
			break
		}
		w, _ := strconv.ParseUint(f[1], 10, 16)
		h, _ := strconv.ParseUint(f[2], 10, 16)
		answer(conn, m.resize(uint16(w), uint16(h)))
	case "attach":
		m.serveAttach(conn, br, f[1:]) // owns conn from here
		return
	default:
		answer(conn, "error unknown request "+strconv.Quote(f[0]))
	}
	conn.Close()
}

func answer(conn *os.File, s string) {
	_, _ = conn.WriteString(s + "\n")
}
