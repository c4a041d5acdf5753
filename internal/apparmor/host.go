package apparmor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// The kernel's switch and list of loaded profiles (securityfs).
const (
	enabledFile  = "/sys/module/apparmor/parameters/enabled"
	profilesFile = "/sys/kernel/security/apparmor/profiles"
)

// Enabled says whether the kernel enforces AppArmor and criserver can load
// its default profile. A kernel with AppArmor but no apparmor_parser (a
// daemon in a minimal container, say) counts as without: the default could
// not be loaded, and containers asking for it would run unconfined while
// their specs claim otherwise.
func Enabled() bool {
	b, err := os.ReadFile(enabledFile)
	if err != nil || strings.TrimSpace(string(b)) != "Y" {
		return false
	}
	_, err = parserPath()
	return err == nil
}

// parserPath finds apparmor_parser, also where Debian and Ubuntu install it
// when the daemon's PATH leaves out the sbin directories.
func parserPath() (string, error) {
	p, err := exec.LookPath("apparmor_parser")
	if err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"} {
		if st, serr := os.Stat(p); serr == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", err
}

// Loaded says whether a profile of that name is loaded into the kernel, in
// any mode.
func Loaded(name string) (bool, error) {
	f, err := os.Open(profilesFile)
	if err != nil {
		return false, fmt.Errorf("list AppArmor profiles: %w", err)
	}
	defer f.Close()
	return listed(f, name)
}

// listed reads the kernel's list, one "name (mode)" a line. Names may hold
// spaces and parentheses, so only the last " (" ends one.
func listed(r io.Reader, name string) (bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndex(line, " ("); i >= 0 && strings.HasSuffix(line, ")") {
			line = line[:i]
		}
		if line == name {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("list AppArmor profiles: %w", err)
	}
	return false, nil
}
