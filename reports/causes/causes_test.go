package causes

import (
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
)

// The mapping rows below are copied from shared/reference/asterisk.md §6
// (Asterisk's res_pjsip/chan_pjsip tables and RFC 3398 §7.2.4.1/§8.2.6.1).
func TestSIPToCause(t *testing.T) {
	tests := []struct {
		sip      int
		asterisk int
		rfc      int // 0: RFC 3398 has no mapping
	}{
		{302, 23, 0},
		{400, 127, 41},
		{401, 21, 21},
		{403, 21, 21},
		{404, 1, 1},
		{405, 127, 63},
		{407, 21, 21},
		{408, 18, 102}, // the two views differ
		{409, 41, 0},
		{410, 22, 22},
		{415, 127, 79},
		{420, 3, 127},
		{480, 19, 18}, // differ
		{481, 127, 41},
		{482, 127, 25},
		{483, 19, 25},
		{484, 28, 28},
		{485, 1, 1},
		{486, 17, 17},
		{487, 127, 0}, // RFC: no mapping
		{488, 58, 0},  // RFC: from the Warning header
		{491, 127, 0},
		{500, 38, 41}, // differ
		{501, 29, 79},
		{502, 27, 38},
		{503, 34, 41}, // differ
		{504, 102, 102},
		{505, 127, 127},
		{600, 17, 17},
		{603, 21, 21},
		{604, 1, 1},
		{606, 58, 0},
		{499, 127, 0}, // other 4xx
		{599, 34, 0},  // other 5xx
		{699, 127, 0}, // other 6xx
		{200, 16, 0},  // anything else
	}
	for _, tt := range tests {
		if got := AsteriskSIPToCause(tt.sip); got != tt.asterisk {
			t.Errorf("AsteriskSIPToCause(%d) = %d, want %d", tt.sip, got, tt.asterisk)
		}
		got, ok := RFC3398SIPToCause(tt.sip)
		if want := tt.rfc != 0; ok != want || got != tt.rfc {
			t.Errorf("RFC3398SIPToCause(%d) = %d, %v; want %d, %v", tt.sip, got, ok, tt.rfc, want)
		}
	}
}

func TestCauseToSIP(t *testing.T) {
	tests := []struct {
		cause    int
		asterisk int // 0: no mapping (PJSIP sends 603)
		rfc      int // 0: no response (16 ends with BYE)
	}{
		{1, 404, 404}, {2, 404, 404}, {3, 404, 404},
		{16, 0, 0},
		{17, 486, 486}, {18, 408, 408}, {19, 480, 480}, {20, 480, 480},
		{21, 403, 403}, {22, 410, 410}, {23, 302, 410}, {26, 0, 404},
		{27, 502, 502}, {28, 484, 484}, {29, 501, 501}, {31, 480, 480},
		{34, 503, 503}, {38, 500, 503}, {41, 0, 503}, {42, 503, 503},
		{58, 488, 503}, {65, 0, 488}, {66, 503, 500}, {102, 0, 504},
		{111, 0, 500}, {127, 500, 500},
		{50, 0, 500}, // RFC default
	}
	for _, tt := range tests {
		got, ok := AsteriskCauseToSIP(tt.cause)
		if want := tt.asterisk != 0; ok != want || got != tt.asterisk {
			t.Errorf("AsteriskCauseToSIP(%d) = %d, %v; want %d", tt.cause, got, ok, tt.asterisk)
		}
		got, ok = RFC3398CauseToSIP(tt.cause)
		if want := tt.rfc != 0; ok != want || got != tt.rfc {
			t.Errorf("RFC3398CauseToSIP(%d) = %d, %v; want %d", tt.cause, got, ok, tt.rfc)
		}
	}
}

func TestTextAndName(t *testing.T) {
	tests := []struct {
		cause      int
		text, name string
	}{
		{16, "Normal Clearing", "NORMAL_CLEARING"},
		{17, "User busy", "USER_BUSY"},
		{19, "User alerting, no answer", "NO_ANSWER"},
		{34, "Circuit/channel congestion", "NORMAL_CIRCUIT_CONGESTION"},
		{127, "Interworking, unspecified", "INTERWORKING"},
		{250, "Unknown", "CAUSE_250"},
	}
	for _, tt := range tests {
		if got := Text(tt.cause); got != tt.text {
			t.Errorf("Text(%d) = %q, want %q", tt.cause, got, tt.text)
		}
		if got := Name(tt.cause); got != tt.name {
			t.Errorf("Name(%d) = %q, want %q", tt.cause, got, tt.name)
		}
	}
	if got := SIPReason(486); got != "Busy Here" {
		t.Errorf("SIPReason(486) = %q", got)
	}
}

// Every cause the package knows and every SIP status of 300 and above has
// an explanation in every language, and the translations are complete.
func TestCatalogComplete(t *testing.T) {
	langs := Languages()
	if len(langs) < 2 {
		t.Fatalf("languages = %v, want en and ru at least", langs)
	}
	for _, lang := range langs {
		for _, code := range Codes() {
			checkEntry(t, lang, Q850, code)
		}
		for _, code := range SIPCodes() {
			if code >= 300 {
				checkEntry(t, lang, SIP, code)
			}
		}
	}
	// Every SIP code either mapping table names is explained too.
	for code := range asteriskSIP2Cause {
		checkEntry(t, "en", SIP, code)
	}
	for code := range rfc3398SIP2Cause {
		checkEntry(t, "en", SIP, code)
	}
}

func checkEntry(t *testing.T, lang string, kind Kind, code int) {
	t.Helper()
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	e, ok := cats[lang].lookup(kind, code)
	if !ok || e.Meaning == "" || e.Check == "" {
		t.Errorf("%s: %s %d has no explanation", lang, kind, code)
		return
	}
	if lang == "ru" && !hasCyrillic(e.Meaning) {
		t.Errorf("ru: %s %d is not translated: %q", kind, code, e.Meaning)
	}
}

func hasCyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
}

// The explanations say what an operator checks for the cases the field
// meets most.
func TestExplainSays(t *testing.T) {
	tests := []struct {
		lang string
		kind Kind
		code int
		want string
	}{
		{"en", SIP, 486, "do-not-disturb"},
		{"en", SIP, 401, "clocks"},
		{"en", SIP, 401, "Stale nonce"},
		{"en", SIP, 488, "codec"},
		{"en", SIP, 480, "mobile"},
		{"en", Q850, 17, "busy"},
		{"ru", SIP, 401, "часы"},
		{"ru", SIP, 480, "вне зоны"},
		{"ru", SIP, 488, "кодек"},
		{"de", SIP, 486, "do-not-disturb"}, // falls back to English
	}
	for _, tt := range tests {
		e, ok := Explain(tt.lang, tt.kind, tt.code)
		if !ok {
			t.Errorf("Explain(%s, %s, %d): none", tt.lang, tt.kind, tt.code)
			continue
		}
		if !strings.Contains(e.Meaning+" "+e.Check, tt.want) {
			t.Errorf("Explain(%s, %s, %d) = %+v, want it to mention %q", tt.lang, tt.kind, tt.code, e, tt.want)
		}
	}
	if _, ok := Explain("en", SIP, 299); ok {
		t.Error("Explain(en, sip, 299) found an explanation for an unknown code")
	}
}

func TestReadCatalogsRejects(t *testing.T) {
	tests := map[string]string{
		"bad json":       `{"language": "xx",`,
		"wrong language": `{"language": "en"}`,
	}
	for name, body := range tests {
		fsys := fstest.MapFS{"c/xx.json": {Data: []byte(body)}}
		if _, err := ReadCatalogs(fsys, "c"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	fsys := fstest.MapFS{"c/xx.json": {Data: []byte(`{"language": "xx", "sip": {"486": {"meaning": "m", "check": "c"}}}`)}}
	cats, err := ReadCatalogs(fsys, "c")
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := cats["xx"].lookup(SIP, 486); !ok || e.Meaning != "m" {
		t.Errorf("lookup = %+v, %v", e, ok)
	}
}
