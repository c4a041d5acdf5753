package apparmor

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// LoadDefault makes sure DefaultProfile is loaded, before a container that
// uses it is created. The first call of a daemon loads it whether or not
// it is there, replacing what an older criserver left with this one's
// text; later calls load it again only if it has gone (apparmor_parser -R,
// or the apparmor service's teardown). A failed load is tried again by the
// next call.
func LoadDefault(ctx context.Context) error {
	return defaultLoader.ensure(ctx)
}

var defaultLoader = &loader{name: DefaultProfile, load: loadRendered, loaded: Loaded}

// loader loads one profile at most once while it stays loaded. Its lock
// keeps concurrent creations from running the parser side by side.
type loader struct {
	name   string
	load   func(ctx context.Context, name string) error
	loaded func(name string) (bool, error)

	mu   sync.Mutex
	done bool
}

func (l *loader) ensure(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		if ok, err := l.loaded(l.name); err == nil && ok {
			return nil
		}
		l.done = false
	}
	if err := l.load(ctx, l.name); err != nil {
		return err
	}
	// The parser can exit 0 having loaded nothing (a kernel that refuses
	// the policy and says so only on stderr): believe the kernel's list.
	ok, err := l.loaded(l.name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("AppArmor profile %s is not listed by the kernel after loading it", l.name)
	}
	l.done = true
	return nil
}

// loadRendered renders the default profile as name and has apparmor_parser
// replace (or add) it in the kernel, from stdin and skipping the parser's
// cache, whose entries would outlive the text they were built from.
func loadRendered(ctx context.Context, name string) error {
	text, err := Render(name)
	if err != nil {
		return err
	}
	parser, err := parserPath()
	if err != nil {
		return fmt.Errorf("load AppArmor profile %s: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, parser, "-K", "-r")
	cmd.Stdin = bytes.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("load AppArmor profile %s: %s: %w", name, strings.TrimSpace(stderr.String()), err)
	}
	return nil
}
