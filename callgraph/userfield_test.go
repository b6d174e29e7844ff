package callgraph_test

import (
	"testing"

	"github.com/calltrail/calltrail/callgraph"
)

func TestUserfield(t *testing.T) {
	for _, tt := range []struct {
		tags map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"customer": "42"}, "customer=42"},
		{map[string]string{"project": "x", "customer": "42", "b": ""}, "b=;customer=42;project=x"},
	} {
		if got := callgraph.Userfield(tt.tags); got != tt.want {
			t.Errorf("Userfield(%v) = %q, want %q", tt.tags, got, tt.want)
		}
	}
}
