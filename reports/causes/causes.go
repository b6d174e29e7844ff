// Package causes holds the ISDN Q.850 cause codes Asterisk reports as a
// channel's hangup cause, the SIP response codes, the two published
// mappings between them — Asterisk's own (res_pjsip's
// ast_sip_hangup_sip2cause and chan_pjsip's hangup_cause2sip) and
// RFC 3398's — and a catalogue that explains each code to an operator,
// with what to check, in several languages.
//
// The two mappings differ (Asterisk maps 408 to 18 and 480 to 19 where
// RFC 3398 says 102 and 18; 500 and 503 to 38 and 34 where the RFC says
// 41; 487 to 127 where the RFC has no mapping), so reports show both.
package causes

import (
	"fmt"
	"sort"
)

// Q.850 cause values that reports single out.
const (
	Unallocated         = 1
	NormalClearing      = 16
	UserBusy            = 17
	NoUserResponse      = 18
	NoAnswer            = 19
	SubscriberAbsent    = 20
	CallRejected        = 21
	AnsweredElsewhere   = 26
	NormalUnspecified   = 31
	CircuitCongestion   = 34
	NetworkOutOfOrder   = 38
	TemporaryFailure    = 41
	SwitchCongestion    = 42
	RecoveryOnTimer     = 102
	InterworkingUnspec  = 127
	BearerNotAvailable  = 58
	DestinationOutOrder = 27
)

type q850 struct {
	name string // Asterisk's AST_CAUSE_ name without the prefix, or Q.850's
	text string // ast_cause2str, or the Q.850 text where Asterisk has none
}

// q850s lists the causes of ITU-T Q.850 that Asterisk knows
// (include/asterisk/causes.h, texts from ast_cause2str) and those RFC 3398
// maps to or from (25, 47, 55, 63, 70, 79, 87: Q.850's texts).
var q850s = map[int]q850{
	0:   {"NOTDEFINED", "Unknown"},
	1:   {"UNALLOCATED", "Unallocated (unassigned) number"},
	2:   {"NO_ROUTE_TRANSIT_NET", "No route to specified transmit network"},
	3:   {"NO_ROUTE_DESTINATION", "No route to destination"},
	5:   {"MISDIALLED_TRUNK_PREFIX", "Misdialed trunk prefix"},
	6:   {"CHANNEL_UNACCEPTABLE", "Channel unacceptable"},
	7:   {"CALL_AWARDED_DELIVERED", "Call awarded and being delivered in an established channel"},
	8:   {"PRE_EMPTED", "Pre-empted"},
	14:  {"NUMBER_PORTED_NOT_HERE", "Number ported, not here"},
	16:  {"NORMAL_CLEARING", "Normal Clearing"},
	17:  {"USER_BUSY", "User busy"},
	18:  {"NO_USER_RESPONSE", "No user responding"},
	19:  {"NO_ANSWER", "User alerting, no answer"},
	20:  {"SUBSCRIBER_ABSENT", "Subscriber absent"},
	21:  {"CALL_REJECTED", "Call Rejected"},
	22:  {"NUMBER_CHANGED", "Number changed"},
	23:  {"REDIRECTED_TO_NEW_DESTINATION", "Redirected to new destination"},
	25:  {"EXCHANGE_ROUTING_ERROR", "Exchange routing error"},
	26:  {"ANSWERED_ELSEWHERE", "Answered elsewhere"},
	27:  {"DESTINATION_OUT_OF_ORDER", "Destination out of order"},
	28:  {"INVALID_NUMBER_FORMAT", "Invalid number format"},
	29:  {"FACILITY_REJECTED", "Facility rejected"},
	30:  {"RESPONSE_TO_STATUS_ENQUIRY", "Response to STATus ENQuiry"},
	31:  {"NORMAL_UNSPECIFIED", "Normal, unspecified"},
	34:  {"NORMAL_CIRCUIT_CONGESTION", "Circuit/channel congestion"},
	38:  {"NETWORK_OUT_OF_ORDER", "Network out of order"},
	41:  {"NORMAL_TEMPORARY_FAILURE", "Temporary failure"},
	42:  {"SWITCH_CONGESTION", "Switching equipment congestion"},
	43:  {"ACCESS_INFO_DISCARDED", "Access information discarded"},
	44:  {"REQUESTED_CHAN_UNAVAIL", "Requested channel not available"},
	47:  {"RESOURCE_UNAVAILABLE", "Resource unavailable, unspecified"},
	50:  {"FACILITY_NOT_SUBSCRIBED", "Facility not subscribed"},
	52:  {"OUTGOING_CALL_BARRED", "Outgoing call barred"},
	54:  {"INCOMING_CALL_BARRED", "Incoming call barred"},
	55:  {"INCOMING_CALLS_BARRED_WITHIN_CUG", "Incoming calls barred within CUG"},
	57:  {"BEARERCAPABILITY_NOTAUTH", "Bearer capability not authorized"},
	58:  {"BEARERCAPABILITY_NOTAVAIL", "Bearer capability not available"},
	63:  {"SERVICE_UNAVAILABLE", "Service or option not available, unspecified"},
	65:  {"BEARERCAPABILITY_NOTIMPL", "Bearer capability not implemented"},
	66:  {"CHAN_NOT_IMPLEMENTED", "Channel not implemented"},
	69:  {"FACILITY_NOT_IMPLEMENTED", "Facility not implemented"},
	70:  {"RESTRICTED_DIGITAL_ONLY", "Only restricted digital information bearer capability is available"},
	79:  {"SERVICE_NOT_IMPLEMENTED", "Service or option not implemented, unspecified"},
	81:  {"INVALID_CALL_REFERENCE", "Invalid call reference value"},
	87:  {"USER_NOT_MEMBER_OF_CUG", "User not member of CUG"},
	88:  {"INCOMPATIBLE_DESTINATION", "Incompatible destination"},
	95:  {"INVALID_MSG_UNSPECIFIED", "Invalid message unspecified"},
	96:  {"MANDATORY_IE_MISSING", "Mandatory information element is missing"},
	97:  {"MESSAGE_TYPE_NONEXIST", "Message type nonexist."},
	98:  {"WRONG_MESSAGE", "Wrong message"},
	99:  {"IE_NONEXIST", "Info. element nonexist or not implemented"},
	100: {"INVALID_IE_CONTENTS", "Invalid information element contents"},
	101: {"WRONG_CALL_STATE", "Message not compatible with call state"},
	102: {"RECOVERY_ON_TIMER_EXPIRE", "Recover on timer expiry"},
	103: {"MANDATORY_IE_LENGTH_ERROR", "Mandatory IE length error"},
	111: {"PROTOCOL_ERROR", "Protocol error, unspecified"},
	127: {"INTERWORKING", "Interworking, unspecified"},
}

// Codes returns every Q.850 cause the package knows, in ascending order.
func Codes() []int { return sortedKeys(q850s) }

// Text is the cause's text as Asterisk's ast_cause2str writes it (Q.850's
// own text for the few causes Asterisk does not name), or "Unknown".
func Text(cause int) string {
	if c, ok := q850s[cause]; ok {
		return c.text
	}
	return "Unknown"
}

// Name is the cause's symbolic name as in Asterisk's causes.h without the
// AST_CAUSE_ prefix (USER_BUSY), or "CAUSE_<n>" for an unknown value.
func Name(cause int) string {
	if c, ok := q850s[cause]; ok {
		return c.name
	}
	return fmt.Sprintf("CAUSE_%d", cause)
}

// sipReasons are the reason phrases of the SIP responses (RFC 3261 §21
// and the extensions that registered codes).
var sipReasons = map[int]string{
	100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
	183: "Session Progress", 200: "OK", 202: "Accepted",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
	305: "Use Proxy", 380: "Alternative Service",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
	410: "Gone", 411: "Length Required", 413: "Request Entity Too Large",
	414: "Request-URI Too Long", 415: "Unsupported Media Type",
	416: "Unsupported URI Scheme", 420: "Bad Extension", 421: "Extension Required",
	422: "Session Interval Too Small", 423: "Interval Too Brief",
	480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
	482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete",
	485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
	488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending",
	493: "Undecipherable",
	500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
	513: "Message Too Large", 580: "Precondition Failure",
	600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
	606: "Not Acceptable",
}

// SIPReason is the standard reason phrase of a SIP status code, or "" for
// a code without one.
func SIPReason(code int) string { return sipReasons[code] }

// SIPCodes returns every SIP status code with a reason phrase, ascending.
func SIPCodes() []int { return sortedKeys(sipReasons) }

// asteriskSIP2Cause is res_pjsip.c's ast_sip_hangup_sip2cause (chan_sip's
// hangup_sip2cause is identical except for 302).
var asteriskSIP2Cause = map[int]int{
	302: 23, 401: 21, 403: 21, 404: 1, 405: 127, 407: 21, 408: 18, 409: 41,
	410: 22, 411: 127, 413: 127, 414: 127, 415: 127, 420: 3, 480: 19, 481: 127,
	482: 127, 483: 19, 484: 28, 485: 1, 486: 17, 487: 127, 488: 58, 491: 127,
	493: 127, 500: 38, 501: 29, 502: 27, 503: 34, 504: 102, 505: 127, 600: 17,
	603: 21, 604: 1, 606: 58,
}

// AsteriskSIPToCause is the cause Asterisk gives a channel whose INVITE got
// the SIP response code (res_pjsip's ast_sip_hangup_sip2cause): the table,
// then 127 for another 4xx or 6xx, 34 for another 5xx, 16 for anything
// else. Asterisk prefers a Reason: Q.850 header when the response has one.
func AsteriskSIPToCause(code int) int {
	if c, ok := asteriskSIP2Cause[code]; ok {
		return c
	}
	switch {
	case code >= 400 && code < 500, code >= 600 && code < 700:
		return InterworkingUnspec
	case code >= 500 && code < 600:
		return CircuitCongestion
	}
	return NormalClearing
}

// rfc3398SIP2Cause is RFC 3398 §7.2.4.1 (SIP response to ISUP cause).
var rfc3398SIP2Cause = map[int]int{
	400: 41, 401: 21, 402: 21, 403: 21, 404: 1, 405: 63, 406: 79, 407: 21,
	408: 102, 410: 22, 413: 127, 414: 127, 415: 79, 416: 127, 420: 127,
	421: 127, 423: 127, 480: 18, 481: 41, 482: 25, 483: 25, 484: 28, 485: 1,
	486: 17, 500: 41, 501: 79, 502: 38, 503: 41, 504: 102, 505: 127, 513: 127,
	600: 17, 603: 21, 604: 1,
}

// RFC3398SIPToCause is the ISUP cause RFC 3398 §7.2.4.1 maps the SIP
// response to; ok is false where the RFC gives none (487, and 488 and 606
// whose cause comes from the Warning header).
func RFC3398SIPToCause(code int) (cause int, ok bool) {
	cause, ok = rfc3398SIP2Cause[code]
	return cause, ok
}

// asteriskCause2SIP is chan_pjsip.c's hangup_cause2sip.
var asteriskCause2SIP = map[int]int{
	1: 404, 2: 404, 3: 404, 17: 486, 18: 408, 19: 480, 20: 480, 21: 403,
	22: 410, 23: 302, 27: 502, 28: 484, 29: 501, 31: 480, 34: 503, 38: 500,
	42: 503, 58: 488, 66: 503, 127: 500,
}

// AsteriskCauseToSIP is the SIP response Asterisk (chan_pjsip's
// hangup_cause2sip) sends for a hangup cause; ok is false where it has no
// mapping (16 among them), and PJSIP then ends an unanswered INVITE with
// 603 Decline.
func AsteriskCauseToSIP(cause int) (code int, ok bool) {
	code, ok = asteriskCause2SIP[cause]
	return code, ok
}

// rfc3398Cause2SIP is RFC 3398 §8.2.6.1 (ISUP cause to SIP response).
var rfc3398Cause2SIP = map[int]int{
	1: 404, 2: 404, 3: 404, 17: 486, 18: 408, 19: 480, 20: 480, 21: 403,
	22: 410, 23: 410, 26: 404, 27: 502, 28: 484, 29: 501, 31: 480, 34: 503,
	38: 503, 41: 503, 42: 503, 47: 503, 55: 403, 57: 403, 58: 503, 65: 488,
	70: 488, 79: 501, 87: 403, 88: 503, 102: 504, 111: 500, 127: 500,
}

// RFC3398CauseToSIP is the SIP response RFC 3398 §8.2.6.1 maps the cause
// to: the table, 500 for any other cause; ok is false for 16 Normal
// Clearing, which ends a call with a BYE rather than a response.
func RFC3398CauseToSIP(cause int) (code int, ok bool) {
	if cause == NormalClearing {
		return 0, false
	}
	if code, ok := rfc3398Cause2SIP[cause]; ok {
		return code, true
	}
	return 500, true
}

func sortedKeys[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
