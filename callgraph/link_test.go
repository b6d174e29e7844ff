package callgraph_test

import (
	"reflect"
	"testing"

	"github.com/calltrail/calltrail/callgraph"
)

func call(server, id string, legs ...[2]string) *callgraph.Call {
	c := &callgraph.Call{Server: server, ID: id}
	for _, l := range legs {
		c.Legs = append(c.Legs, &callgraph.Leg{ID: l[0], SIPCallID: l[1]})
	}
	return c
}

func TestLinker(t *testing.T) {
	type step struct {
		c *callgraph.Call
		// want is what Add returns: server/id and the links of each.
		want map[string][]callgraph.Link
	}
	tests := []struct {
		name     string
		capacity int
		steps    []step
	}{
		{"two servers, one trunk", 0, []step{
			{call("pbx1", "a", [2]string{"a.0", "phone-1"}, [2]string{"a.1", "trunk-x"}), map[string][]callgraph.Link{"pbx1/a": nil}},
			{call("pbx2", "b", [2]string{"b.0", "trunk-x"}, [2]string{"b.1", "phone-2"}), map[string][]callgraph.Link{
				"pbx2/b": {{Server: "pbx1", CallID: "a", Leg: "a.1", Via: "b.0", SIPCallID: "trunk-x"}},
				"pbx1/a": {{Server: "pbx2", CallID: "b", Leg: "b.0", Via: "a.1", SIPCallID: "trunk-x"}},
			}},
		}},
		{"nothing shared", 0, []step{
			{call("pbx1", "a", [2]string{"a.0", "p1"}), map[string][]callgraph.Link{"pbx1/a": nil}},
			{call("pbx2", "b", [2]string{"b.0", "p2"}, [2]string{"b.1", ""}), map[string][]callgraph.Link{"pbx2/b": nil}},
		}},
		{"a chain of three servers", 0, []step{
			{call("pbx1", "a", [2]string{"a.0", "p1"}, [2]string{"a.1", "t1"}), map[string][]callgraph.Link{"pbx1/a": nil}},
			{call("pbx3", "c", [2]string{"c.0", "t2"}), map[string][]callgraph.Link{"pbx3/c": nil}},
			{call("pbx2", "b", [2]string{"b.0", "t1"}, [2]string{"b.1", "t2"}), map[string][]callgraph.Link{
				"pbx2/b": {{Server: "pbx1", CallID: "a", Leg: "a.1", Via: "b.0", SIPCallID: "t1"}, {Server: "pbx3", CallID: "c", Leg: "c.0", Via: "b.1", SIPCallID: "t2"}},
				"pbx1/a": {{Server: "pbx2", CallID: "b", Leg: "b.0", Via: "a.1", SIPCallID: "t1"}},
				"pbx3/c": {{Server: "pbx2", CallID: "b", Leg: "b.1", Via: "c.0", SIPCallID: "t2"}},
			}},
		}},
		{"the same call again (recovery) links nothing new", 0, []step{
			{call("pbx1", "a", [2]string{"a.1", "t"}), map[string][]callgraph.Link{"pbx1/a": nil}},
			{call("pbx1", "a", [2]string{"a.1", "t"}), map[string][]callgraph.Link{"pbx1/a": nil}},
		}},
		{"forgotten beyond capacity", 2, []step{
			{call("pbx1", "a", [2]string{"a.1", "t"}), map[string][]callgraph.Link{"pbx1/a": nil}},
			{call("pbx1", "x", [2]string{"x.0", "u"}, [2]string{"x.1", "v"}), map[string][]callgraph.Link{"pbx1/x": nil}},
			{call("pbx2", "b", [2]string{"b.0", "t"}), map[string][]callgraph.Link{"pbx2/b": nil}},
		}},
		{"a loop on one server", 0, []step{
			{call("pbx1", "a", [2]string{"a.1", "t"}), map[string][]callgraph.Link{"pbx1/a": nil}},
			{call("pbx1", "b", [2]string{"b.0", "t"}), map[string][]callgraph.Link{
				"pbx1/b": {{Server: "pbx1", CallID: "a", Leg: "a.1", Via: "b.0", SIPCallID: "t"}},
				"pbx1/a": {{Server: "pbx1", CallID: "b", Leg: "b.0", Via: "a.1", SIPCallID: "t"}},
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &callgraph.Linker{Capacity: tt.capacity}
			var earlier []*callgraph.Call
			for i, s := range tt.steps {
				out := k.Add(s.c)
				if out[0] != s.c {
					t.Fatalf("step %d: the call added is not first", i)
				}
				got := map[string][]callgraph.Link{}
				for _, c := range out {
					got[c.Server+"/"+c.ID] = c.Linked
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d: got %+v\nwant %+v", i, got, s.want)
				}
				earlier = append(earlier, s.c)
			}
			// Records handed out before are never changed afterwards.
			for i, c := range earlier[:len(earlier)-1] {
				if want := tt.steps[i].want[c.Server+"/"+c.ID]; !reflect.DeepEqual(c.Linked, want) {
					t.Errorf("call %s/%s was changed after it was returned: %+v", c.Server, c.ID, c.Linked)
				}
			}
		})
	}
}
