package oci

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEnumsPersistByNameAndReadVersion1Numbers(t *testing.T) {
	type enums struct {
		P Propagation
		N NamespaceMode
		S SeccompType
	}
	want := enums{PropagationBidirectional, NamespaceTarget, SeccompLocalhost}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"P":"rshared","N":"target","S":"localhost"}` {
		t.Fatalf("written as %s", b)
	}
	for _, in := range []string{string(b), `{"P":2,"N":3,"S":2}`} {
		var got enums
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Fatalf("%s read as %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{`{"P":"shared"}`, `{"N":9}`, `{"S":-1}`, `{"S":1.5}`, `{"P":true}`} {
		var got enums
		if err := json.Unmarshal([]byte(bad), &got); err == nil || !strings.Contains(err.Error(), "not one this daemon knows") && !strings.Contains(err.Error(), "cannot") {
			t.Errorf("%s read as %+v, %v", bad, got, err)
		}
	}
	if _, err := json.Marshal(enums{S: SeccompType(7)}); err == nil {
		t.Error("an enum without a name was written")
	}
	if NamespaceNode.String() != "node" || Propagation(9).String() != "9" {
		t.Error("String does not name the value")
	}
}
