package api

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestExtraHosts(t *testing.T) {
	got, err := ParseExtraHosts("db:10.0.0.5, v6=[2001:db8::1],gw.example.com:2001:db8::2")
	want := []HostEntry{{"db", netip.MustParseAddr("10.0.0.5")}, {"v6", netip.MustParseAddr("2001:db8::1")},
		{"gw.example.com", netip.MustParseAddr("2001:db8::2")}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v", got, err)
	}
	if s := FormatExtraHosts(got); s != "db:10.0.0.5,v6:2001:db8::1,gw.example.com:2001:db8::2" {
		t.Errorf("formatted %q", s)
	}
	for _, bad := range []string{"", "db", "db:", "db:host-gateway", ":1.2.3.4", "a b:1.2.3.4", "db:1.2.3.4\n5.6.7.8 evil", "db:fe80::1%eth0"} {
		if _, err := ParseExtraHosts(bad); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
}
