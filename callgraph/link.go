package callgraph

import (
	"slices"
	"strings"
)

// A Linker joins completed calls that are two ends of one SIP dialog: the
// outbound trunk leg of a call on one Asterisk and the inbound leg of the
// call it became on the next (or on the same one, through a loop). Both
// legs carry the dialog's Call-ID; whichever call completes second finds
// the first. A Linker remembers the last Capacity legs with a Call-ID; a
// call whose other end completed longer ago than that is not linked.
//
// A Linker is safe for use by one goroutine; the daemon guards it.
type Linker struct {
	// Capacity bounds the legs remembered (DefaultLinkCapacity when 0).
	Capacity int

	byID  map[string][]linkEnd
	order []string // Call-IDs in the order they were remembered
	calls map[callKey]*Call
	refs  map[callKey]int
}

type callKey struct{ server, id string }

type linkEnd struct {
	key callKey
	leg string
}

// DefaultLinkCapacity is how many legs a Linker remembers by default:
// about a minute of a busy carrier's calls.
const DefaultLinkCapacity = 20000

// Add remembers c's legs and links c to every call remembered with a leg
// of the same Call-ID. It returns the calls to store: c, with its links,
// and a copy of each earlier call with the link to c added (to store
// again). c itself is changed (its Linked field); the earlier calls'
// records, which may be being written, are not.
func (k *Linker) Add(c *Call) []*Call {
	if k.byID == nil {
		k.byID = make(map[string][]linkEnd)
		k.calls = make(map[callKey]*Call)
		k.refs = make(map[callKey]int)
	}
	if k.Capacity <= 0 {
		k.Capacity = DefaultLinkCapacity
	}
	out := []*Call{c}
	me := callKey{c.Server, c.ID}
	updated := map[callKey]*Call{}
	for _, l := range c.Legs {
		if l.SIPCallID == "" {
			continue
		}
		for _, end := range k.byID[l.SIPCallID] {
			if end.key == me {
				continue
			}
			other := updated[end.key]
			if other == nil {
				prev := k.calls[end.key]
				if prev == nil {
					continue
				}
				cp := *prev
				cp.Linked = slices.Clone(prev.Linked)
				other = &cp
				updated[end.key] = other
			}
			c.Linked = appendLink(c.Linked, Link{Server: end.key.server, CallID: end.key.id, Leg: end.leg, Via: l.ID, SIPCallID: l.SIPCallID})
			other.Linked = appendLink(other.Linked, Link{Server: c.Server, CallID: c.ID, Leg: l.ID, Via: end.leg, SIPCallID: l.SIPCallID})
		}
	}
	for key, other := range updated {
		k.calls[key] = other
		out = append(out, other)
	}
	slices.SortFunc(out[1:], func(a, b *Call) int {
		if a.Server != b.Server {
			return strings.Compare(a.Server, b.Server)
		}
		return strings.Compare(a.ID, b.ID)
	})

	// Remember c's legs, forgetting the oldest beyond Capacity.
	for _, l := range c.Legs {
		if l.SIPCallID == "" {
			continue
		}
		k.byID[l.SIPCallID] = append(k.byID[l.SIPCallID], linkEnd{me, l.ID})
		k.order = append(k.order, l.SIPCallID)
		k.refs[me]++
		k.calls[me] = c
	}
	for len(k.order) > k.Capacity {
		k.forget(k.order[0])
		k.order = k.order[1:]
	}
	if cap(k.order) > 4*k.Capacity {
		k.order = slices.Clone(k.order)
	}
	return out
}

// forget drops the oldest leg remembered under a Call-ID.
func (k *Linker) forget(id string) {
	ends := k.byID[id]
	if len(ends) == 0 {
		return
	}
	end := ends[0]
	if len(ends) == 1 {
		delete(k.byID, id)
	} else {
		k.byID[id] = ends[1:]
	}
	if k.refs[end.key]--; k.refs[end.key] <= 0 {
		delete(k.refs, end.key)
		delete(k.calls, end.key)
	}
}

func appendLink(links []Link, l Link) []Link {
	for _, x := range links {
		if x == l {
			return links
		}
	}
	return append(links, l)
}
