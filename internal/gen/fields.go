package gen

import "strings"

// A field's class says what its value is, and so how the generator
// rewrites it.
type class uint8

const (
	classPlain      class = iota // copied, channel names in it rewritten
	classTime                    // Timestamp
	classUID                     // Uniqueid, Linkedid, DestUniqueid, SwapUniqueid…
	classBridge                  // BridgeUniqueid, OrigBridgeUniqueid…
	classChannel                 // Channel, DestChannel, LocalOneChannel…
	classConference              // Conference
	classNumbers                 // phone numbers in it are rewritten too
	classClock                   // another wall-clock time, see clockKeys
)

// numberKeys end the keys of fields that hold phone numbers and
// extensions, as the whole value or inside it ("SIP/1002,20", "Ext 1001",
// "Agent1005").
var numberKeys = []string{
	"calleridnum", "calleridname", "connectedlinenum", "connectedlinename",
	"exten", "extension", "appdata", "dialstring", "device", "interface",
	"membername", "parkingspace", "parkerdialstring",
}

// identityKeys are the number fields whose numbers are a template's own
// phones and extensions; numbers found only elsewhere (an AppData timeout)
// are not.
var identityKeys = []string{
	"calleridnum", "connectedlinenum", "exten", "extension", "dialstring",
	"interface", "membername", "parkingspace", "device",
}

// numberVars are the VarSet variables whose values hold phone numbers.
// Others (RTPAUDIOQOS, RINGTIME_MS, SIPCALLID…) hold measurements and ids
// that must not change.
var numberVars = map[string]bool{
	"DIALEDPEERNUMBER": true, "DIALEDPEERNAME": true, "BRIDGEPEER": true,
	"BLINDTRANSFER": true, "ATTENDEDTRANSFER": true, "TRANSFERERNAME": true,
	"FORWARDERNAME": true, "MEMBERINTERFACE": true, "MEMBERNAME": true,
	"SIPURI": true, "__SIPREFERREDBYHDR": true, "SIPREFERREDBYHDR": true,
	"SIPREFERTOHDR": true, "SIPTRANSFER_REFERER": true, "PICKUPMARK": true,
	"SIPCALLID": true, "BRIDGEPVTCALLID": true,
}

// dialogVars are the VarSet variables whose values are SIP Call-IDs: each
// copy of a template makes them its own.
var dialogVars = map[string]bool{"SIPCALLID": true, "BRIDGEPVTCALLID": true}

// clockKeys are fields that hold a wall-clock time other than the event's
// Timestamp: an RTCP report's NTP time (with microseconds), a queue
// member's last call, login and pause (whole seconds, 0 for never). A copy
// keeps their distance from its event's time.
var clockKeys = map[string]bool{
	"sentntp": true, "lastcall": true, "logintime": true, "lastpause": true,
}

func fieldClass(key string) class {
	k := strings.ToLower(key)
	switch {
	case k == "timestamp":
		return classTime
	case strings.HasSuffix(k, "bridgeuniqueid"):
		return classBridge
	case strings.HasSuffix(k, "uniqueid"), strings.HasSuffix(k, "linkedid"):
		return classUID
	case strings.HasSuffix(k, "channel"), k == "newname":
		return classChannel
	case k == "conference":
		return classConference
	case clockKeys[k]:
		return classClock
	}
	for _, s := range numberKeys {
		if strings.HasSuffix(k, s) {
			return classNumbers
		}
	}
	return classPlain
}

func isIdentityKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range identityKeys {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// A channelName is a channel name taken apart: "Local/1003@lab-00000001;2"
// is tech "Local", resource "1003@lab", counter "00000001", rest ";2".
type channelName struct {
	tech, resource, counter, rest string
}

// base is the name without the Local half or masquerade suffix: the part
// that the generator renames as one.
func (c channelName) base() string { return c.tech + "/" + c.resource + "-" + c.counter }

// device is the endpoint the channel belongs to, as in DeviceStateChange.
func (c channelName) device() string { return c.tech + "/" + c.resource }

// counterLen is the width of the hex counter Asterisk appends to channel
// names.
const counterLen = 8

// parseChannel parses a channel name of the form TECH/RESOURCE-XXXXXXXX
// with an optional ";1"/";2" or "<ZOMBIE>" after it.
func parseChannel(s string) (channelName, bool) {
	slash := strings.IndexByte(s, '/')
	if slash <= 0 {
		return channelName{}, false
	}
	end := len(s)
	if i := strings.IndexAny(s, ";<"); i > slash {
		end = i
	}
	dash := strings.LastIndexByte(s[:end], '-')
	if dash <= slash+1 || end-dash-1 != counterLen || !isHex(s[dash+1:end]) {
		return channelName{}, false
	}
	return channelName{tech: s[:slash], resource: s[slash+1 : dash], counter: s[dash+1 : end], rest: s[end:]}, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return len(s) > 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digitRuns calls f for every number in s that may be an extension, see
// numberAt.
func digitRuns(s string, f func(run string)) {
	for i := 0; i < len(s); {
		if n := numberAt(s, i); n > 0 {
			if isExtension(s[i : i+n]) {
				f(s[i : i+n])
			}
			i += n
			continue
		}
		i++
	}
}

// numberAt returns the length of the run of digits at s[i:], or 0 when
// there is none or it is part of a hexadecimal id ("7129a00ff0db").
func numberAt(s string, i int) int {
	if !isDigit(s[i]) || i > 0 && isHexOrDigit(s[i-1]) {
		return 0
	}
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j < len(s) && isHexOrDigit(s[j]) {
		return 0
	}
	return j - i
}

func isHexOrDigit(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' }

// isExtension reports whether a number has the length of an extension: 3
// to 5 digits. Longer numbers are outside numbers (a DID, a number
// dialled through a trunk): they are kept, as their prefixes decide how
// they are rated.
func isExtension(run string) bool { return len(run) >= 3 && len(run) <= 5 }
