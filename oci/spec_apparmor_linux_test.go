package oci

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/criserver/criserver/internal/apparmor"
	"github.com/criserver/criserver/internal/errdefs"
)

// appArmorHost is testHost with AppArmor enforced and profiles loaded.
func appArmorHost(loaded ...string) hostInfo {
	h := testHost()
	h.appArmor = true
	h.appArmorLoaded = func(name string) (bool, error) { return slices.Contains(loaded, name), nil }
	return h
}

// Each request on a host with AppArmor and on one without, as the spec
// carries it to the runtime.
func TestBuildSpecAppArmor(t *testing.T) {
	without, with := testHost(), appArmorHost("deny-write")
	unreadable := appArmorHost()
	unreadable.appArmorLoaded = func(string) (bool, error) { return false, errors.New("securityfs is not mounted") }
	tests := []struct {
		name       string
		req        string
		privileged bool
		host       hostInfo
		want       string
		err        error
		mention    string // in the error
	}{
		{name: "no AppArmor, nothing asked", host: without},
		{name: "no AppArmor, runtime default", req: AppArmorRuntimeDefault, host: without},
		{name: "no AppArmor, unconfined", req: AppArmorUnconfined, host: without},
		{name: "no AppArmor, localhost", req: "localhost/deny-write", host: without, err: errdefs.ErrFailedPrecondition,
			mention: "deny-write"},
		{name: "nothing asked", host: with, want: apparmor.DefaultProfile},
		{name: "runtime default", req: AppArmorRuntimeDefault, host: with, want: apparmor.DefaultProfile},
		{name: "privileged, nothing asked", privileged: true, host: with, want: AppArmorUnconfined},
		{name: "privileged, runtime default", req: AppArmorRuntimeDefault, privileged: true, host: with, want: AppArmorUnconfined},
		{name: "unconfined", req: AppArmorUnconfined, host: with, want: AppArmorUnconfined},
		{name: "localhost loaded", req: "localhost/deny-write", host: with, want: "deny-write"},
		{name: "privileged, localhost loaded", req: "localhost/deny-write", privileged: true, host: with, want: "deny-write"},
		{name: "localhost not loaded", req: "localhost/deny-all", host: with, err: errdefs.ErrFailedPrecondition,
			mention: `"deny-all" is not loaded`},
		{name: "localhost, profiles unreadable", req: "localhost/deny-write", host: unreadable, err: errdefs.ErrFailedPrecondition,
			mention: "securityfs"},
		{name: "localhost without a name", req: AppArmorLocalhost, host: with, err: errdefs.ErrInvalidArgument},
		{name: "no kind", req: "deny-write", host: with, err: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t)
			c.Security.AppArmorProfile, c.Security.Privileged = tt.req, tt.privileged
			s, err := buildSpec(c, tt.host, privateMounts)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.mention) {
					t.Fatalf("err = %v, want %v mentioning %q", err, tt.err, tt.mention)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, s.Process.ApparmorProfile, tt.want)
		})
	}
}
