package sandbox

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/criserver/criserver/cni"
	"github.com/criserver/criserver/internal/errdefs"
)

// hostPorts keeps the host ports pods map. Each is given to one pod at a
// time, and held by a socket of the daemon's bound to it for as long as the
// pod's network is up, as CRI-O's hostport manager and Docker's proxy do: a
// host process cannot take it while the pod has it, and a port a host
// process already listens on is refused before the pod shadows it with its
// forwarding rules.
type hostPorts struct {
	mu   sync.Mutex
	held map[string][]*hostPort // "tcp/8080" -> its holders, by host IP
}

type hostPort struct {
	sandbox, pod string // the holder, for messages
	hostIP       string // "" is every address
	sock         io.Closer
}

// reserve gives sandbox every host port of its mappings, or none. A
// mapping without a host port has none.
func (h *hostPorts) reserve(sandbox, pod string, mappings []cni.PortMapping) error {
	return h.reserveOrPick(sandbox, pod, mappings, false)
}

// reserveOrPick is reserve that, when pick is set, gives each mapping
// without a host port a free one the kernel picks, held from the start,
// and writes it into the mapping (Docker's -P).
func (h *hostPorts) reserveOrPick(sandbox, pod string, mappings []cni.PortMapping, pick bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = map[string][]*hostPort{}
	}
	var taken []string
	undo := func() {
		for _, key := range taken {
			h.drop(key, sandbox)
		}
	}
	for i, pm := range mappings {
		proto := strings.ToLower(pm.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		if pm.HostPort == 0 && pick {
			sock, port, err := bindFree(proto, pm.HostIP)
			if err != nil {
				undo()
				return err
			}
			mappings[i].HostPort = port
			key := proto + "/" + strconv.Itoa(int(port))
			h.held[key] = append(h.held[key], &hostPort{sandbox: sandbox, pod: pod, hostIP: pm.HostIP, sock: sock})
			taken = append(taken, key)
			continue
		}
		if pm.HostPort == 0 {
			continue
		}
		key := proto + "/" + strconv.Itoa(int(pm.HostPort))
		for _, o := range h.held[key] {
			if o.sandbox != sandbox && overlap(o.hostIP, pm.HostIP) {
				undo()
				return fmt.Errorf("%w: host port %s%s is taken by pod %s (sandbox %s)",
					errdefs.ErrAlreadyExists, ipPrefix(pm.HostIP), key, o.pod, o.sandbox)
			}
		}
		sock, err := bindPort(proto, pm.HostIP, pm.HostPort)
		if err != nil {
			undo()
			return err
		}
		h.held[key] = append(h.held[key], &hostPort{sandbox: sandbox, pod: pod, hostIP: pm.HostIP, sock: sock})
		taken = append(taken, key)
	}
	return nil
}

// release frees every host port of sandbox; releasing none succeeds.
func (h *hostPorts) release(sandbox string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key := range h.held {
		h.drop(key, sandbox)
	}
}

func (h *hostPorts) drop(key, sandbox string) {
	kept := h.held[key][:0]
	for _, p := range h.held[key] {
		if p.sandbox != sandbox {
			kept = append(kept, p)
		} else if p.sock != nil {
			p.sock.Close()
		}
	}
	if len(kept) == 0 {
		delete(h.held, key)
	} else {
		h.held[key] = kept
	}
}

// overlap says whether two host IPs of one port would meet.
func overlap(a, b string) bool {
	unspecified := func(ip string) bool { p := net.ParseIP(ip); return ip == "" || (p != nil && p.IsUnspecified()) }
	return unspecified(a) || unspecified(b) || net.ParseIP(a).Equal(net.ParseIP(b))
}

func ipPrefix(ip string) string {
	if ip == "" {
		return ""
	}
	return ip + ":"
}

// bindPort binds a socket to the port, so that no host process may; a
// port a host process has is refused with the process named. SCTP is only
// booked, not bound.
func bindPort(proto, hostIP string, port int32) (io.Closer, error) {
	addr := net.JoinHostPort(hostIP, strconv.Itoa(int(port)))
	var sock io.Closer
	var err error
	switch proto {
	case "tcp":
		sock, err = net.Listen("tcp", addr)
	case "udp":
		sock, err = net.ListenPacket("udp", addr)
	default:
		return nil, nil
	}
	if err == nil {
		return sock, nil
	}
	holder := portHolder(proto, port)
	if holder == "" {
		holder = "another process"
	}
	return nil, fmt.Errorf("%w: host port %s%s/%d is in use on the host by %s: %v",
		errdefs.ErrFailedPrecondition, ipPrefix(hostIP), proto, port, holder, err)
}

// bindFree binds a socket to a free port the kernel picks and returns it
// with the port. SCTP cannot be bound here, so it cannot be picked.
func bindFree(proto, hostIP string) (io.Closer, int32, error) {
	addr := net.JoinHostPort(hostIP, "0")
	switch proto {
	case "tcp":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, 0, fmt.Errorf("pick a free host port: %w", err)
		}
		return l, int32(l.Addr().(*net.TCPAddr).Port), nil
	case "udp":
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, 0, fmt.Errorf("pick a free host port: %w", err)
		}
		return c, int32(c.LocalAddr().(*net.UDPAddr).Port), nil
	}
	return nil, 0, fmt.Errorf("%w: a free host port is picked only for tcp and udp, not %s", errdefs.ErrInvalidArgument, proto)
}

// portHolder names the process that has a socket on the port, from the
// kernel's socket tables and the processes' descriptors: "pid 812 (nginx)".
func portHolder(proto string, port int32) string {
	inodes := map[string]bool{}
	hexPort := fmt.Sprintf(":%04X", port)
	for _, table := range []string{"/proc/net/" + proto, "/proc/net/" + proto + "6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || !strings.HasSuffix(f[1], hexPort) {
				continue
			}
			if proto == "tcp" && f[3] != "0A" { // LISTEN
				continue
			}
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return ""
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			pid := filepath.Base(filepath.Dir(filepath.Dir(fd)))
			comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
			return fmt.Sprintf("pid %s (%s)", pid, strings.TrimSpace(string(comm)))
		}
	}
	return ""
}
