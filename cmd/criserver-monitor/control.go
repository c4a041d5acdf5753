package main

import (
	"bufio"
	"encoding/json"
	"net"
)

// request is one line of JSON on the control socket.
type request struct {
	Op     string `json:"op"` // wait, reopen, attach, resize
	Stdin  bool   `json:"stdin,omitempty"`
	Stdout bool   `json:"stdout,omitempty"`
	Stderr bool   `json:"stderr,omitempty"`
	Width  uint16 `json:"width,omitempty"`
	Height uint16 `json:"height,omitempty"`
}

type reply struct {
	OK    bool      `json:"ok,omitempty"`
	Error string    `json:"error,omitempty"`
	Exit  *exitInfo `json:"exit,omitempty"`
}

func (m *monitor) serve(ln *net.UnixListener) {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go m.handle(conn)
	}
}

func (m *monitor) handle(conn *net.UnixConn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		answer(conn, reply{Error: "bad request: " + err.Error()})
		conn.Close()
		return
	}
	switch req.Op {
	case "wait":
		<-m.exited
		exit := m.exit
		answer(conn, reply{OK: true, Exit: &exit})
	case "reopen":
		if err := m.log.reopen(); err != nil {
			answer(conn, reply{Error: err.Error()})
		} else {
			answer(conn, reply{OK: true})
		}
	case "resize":
		answer(conn, m.resize(req.Width, req.Height))
	case "attach":
		m.serveAttach(conn, br, req) // owns conn from here
		return
	default:
		answer(conn, reply{Error: "unknown op " + req.Op})
	}
	conn.Close()
}

func answer(conn net.Conn, r reply) {
	b, _ := json.Marshal(r)
	_, _ = conn.Write(append(b, '\n'))
}
