package api

import "testing"

func TestParseRestartPolicy(t *testing.T) {
	for in, want := range map[string]RestartPolicy{
		"": {Name: "no"}, "no": {Name: "no"}, "always": {Name: "always"}, "unless-stopped": {Name: "unless-stopped"},
		"on-failure": {Name: "on-failure"}, "on-failure:3": {Name: "on-failure", MaxRetries: 3},
	} {
		got, err := ParseRestartPolicy(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
		if back, err := ParseRestartPolicy(got.String()); err != nil || back != got {
			t.Errorf("%q does not round-trip: %+v %v", got.String(), back, err)
		}
	}
	for _, bad := range []string{"sometimes", "always:3", "on-failure:x", "on-failure:-1", ":3", "no:"} {
		if p, err := ParseRestartPolicy(bad); err == nil {
			t.Errorf("%q parsed as %+v", bad, p)
		}
	}
}
