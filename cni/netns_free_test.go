package cni

import (
	"testing"

	"github.com/containernetworking/cni/libcni"
)

func TestDelNeedsNetNS(t *testing.T) {
	for name, tc := range map[string]struct {
		plugins string
		needs   bool
	}{
		"built-in":            {`{"type":"bridge","ipMasq":false,"ipam":{"type":"host-local"}},{"type":"portmap"},{"type":"bandwidth"}`, false},
		"static addresses":    {`{"type":"bridge","ipam":{"type":"static"}}`, false},
		"bridge masquerading": {`{"type":"bridge","ipMasq":true,"ipam":{"type":"host-local"}}`, true},
		"dhcp":                {`{"type":"bridge","ipam":{"type":"dhcp"}}`, true},
		"a plugin of its own": {`{"type":"bridge","ipam":{"type":"host-local"}},{"type":"calico"}`, true},
		"macvlan":             {`{"type":"macvlan","ipam":{"type":"host-local"}}`, true},
		"tuning after bridge": {`{"type":"bridge","ipam":{"type":"host-local"}},{"type":"tuning"}`, true},
		"portmap alone":       {`{"type":"portmap"}`, false},
		"unreadable plugin":   {`{"type":"bridge","ipMasq":"yes","ipam":{"type":"host-local"}}`, true},
		"bridge without ipam": {`{"type":"bridge"}`, true},
	} {
		t.Run(name, func(t *testing.T) {
			list, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"1.0.0","name":"n","plugins":[` + tc.plugins + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := delNeedsNetNS(list); got != tc.needs {
				t.Errorf("delNeedsNetNS = %v, want %v", got, tc.needs)
			}
		})
	}
}
