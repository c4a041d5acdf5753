package crashpoint

import "testing"

func TestPointsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range append(Points, AsyncNetworkPoints...) {
		if seen[p] || p == "" {
			t.Fatalf("point %q twice or empty", p)
		}
		seen[p] = true
	}
}

func TestUnarmedHitReturns(t *testing.T) {
	armed = ""
	for _, p := range Points {
		Hit(p)
	}
}
