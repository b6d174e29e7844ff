package callgraph

import "strings"

// channelKind classifies a channel by its name.
type channelKind uint8

const (
	kindParty    channelKind = iota // a phone or a trunk
	kindLocal                       // Local/…;1 or ;2: plumbing
	kindInternal                    // CBAnn/CBRec and other internal channels: never parties
)

func classify(channel string) channelKind {
	switch {
	case strings.HasPrefix(channel, "Local/"):
		return kindLocal
	case strings.HasPrefix(channel, "CBAnn/"), strings.HasPrefix(channel, "CBRec/"),
		strings.HasPrefix(channel, "Announcer/"), strings.HasPrefix(channel, "Recorder/"),
		strings.HasPrefix(channel, "Bridge/"):
		return kindInternal
	}
	return kindParty
}

// device returns the endpoint part of a channel name: "SIP/1002" for
// "SIP/1002-0000000d", "PJSIP/trunk" for "PJSIP/trunk-00000001".
// Channels of one device are the calls of one phone.
func device(channel string) string {
	// Masquerade leftovers carry suffixes such as "<ZOMBIE>".
	if i := strings.IndexByte(channel, '<'); i > 0 {
		channel = channel[:i]
	}
	if i := strings.LastIndexByte(channel, '-'); i > 0 && strings.IndexByte(channel[:i], '/') >= 0 {
		return channel[:i]
	}
	return channel
}

// endpoint returns the name of the endpoint behind a channel: "1002" for
// "SIP/1002-0000000d", "trunk" for "PJSIP/trunk-00000001".
func endpoint(channel string) string {
	d := device(channel)
	if i := strings.IndexByte(d, '/'); i >= 0 {
		d = d[i+1:]
	}
	// IAX2/peer@host, DAHDI/i1/5551234 and similar.
	if i := strings.IndexByte(d, '@'); i >= 0 {
		d = d[:i]
	}
	return d
}

// isNumberLike reports whether s looks like a phone number or extension.
func isNumberLike(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '+' && c != '*' && c != '#' {
			return false
		}
	}
	return true
}

// numberOf extracts the number from a dial string such as
// "trunk/5557788", "PJSIP/5557788@trunk" or "5557788".
func numberOf(dialString string) string {
	s := dialString
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = s[:i]
	}
	return s
}

// usable reports whether a caller ID field carries a value.
func usable(s string) bool { return s != "" && s != "<unknown>" }
