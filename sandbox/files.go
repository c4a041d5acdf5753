package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// writePodFiles writes the hostname, hosts and resolv.conf files the pod's
// containers get bind-mounted.
func writePodFiles(dir string, c *Config) error {
	hostname := c.Hostname
	if c.HostNetwork {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		hostname = h
	}
	if err := os.WriteFile(filepath.Join(dir, "hostname"), []byte(hostname+"\n"), 0o644); err != nil {
		return err
	}
	hosts := []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if c.HostNetwork {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = b
		}
	}
	if len(c.ExtraHosts) > 0 && len(hosts) > 0 && hosts[len(hosts)-1] != '\n' {
		hosts = append(hosts, '\n')
	}
	for _, h := range c.ExtraHosts {
		if strings.ContainsAny(h.IP+h.Name, " \t\r\n") {
			return fmt.Errorf("%w: host entry %q %q: a field holds a space or line break", errInvalid, h.IP, h.Name)
		}
		hosts = fmt.Appendf(hosts, "%s\t%s\n", h.IP, h.Name)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), hosts, 0o644); err != nil {
		return err
	}
	resolv, err := resolvConf(c.DNS)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "resolv.conf"), resolv, 0o644)
}

// resolvConf renders the pod's DNS config, or copies the host's when the
// pod has none (as kubelet's "Default" DNS policy expects of the runtime).
func resolvConf(dns *DNSConfig) ([]byte, error) {
	if dns == nil || (len(dns.Servers) == 0 && len(dns.Searches) == 0 && len(dns.Options) == 0) {
		b, err := os.ReadFile("/etc/resolv.conf")
		if os.IsNotExist(err) {
			return nil, nil
		}
		return b, err
	}
	if err := dns.validate(); err != nil {
		return nil, err // validated before, and here too: a line break would add lines of its own
	}
	var b bytes.Buffer
	if len(dns.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Searches, " "))
	}
	for _, s := range dns.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(dns.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(dns.Options, " "))
	}
	return b.Bytes(), nil
}

// validate refuses an entry with a line break: it would write resolv.conf
// lines of its own choosing (another nameserver).
func (d *DNSConfig) validate() error {
	if d == nil {
		return nil
	}
	for _, field := range slices.Concat(d.Servers, d.Searches, d.Options) {
		if strings.ContainsAny(field, "\n\r") {
			return fmt.Errorf("%w: DNS entry %q contains a line break", errInvalid, field)
		}
	}
	return nil
}
