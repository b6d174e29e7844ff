package callgraph_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/calltrail/calltrail/ami"
	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/callgraph/callgraphtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// captureDirs lists the scenario folders (ami.log + truth.json) of the
// real captures copied from shared/traces.
func captureDirs(t testing.TB) []string {
	t.Helper()
	var dirs []string
	for _, set := range []string{"asterisk20", "asterisk22", "quality"} {
		entries, err := os.ReadDir(filepath.Join("..", "testdata", set))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			d := filepath.Join("..", "testdata", set, e.Name())
			if fileExists(filepath.Join(d, "ami.log")) && fileExists(filepath.Join(d, "truth.json")) {
				dirs = append(dirs, d)
			}
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no captures under ../testdata")
	}
	return dirs
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// replay is what the engine makes of a capture, open calls included.
func replay(t testing.TB, path string) []*callgraph.Call {
	return callgraphtest.Replay(t, "lab", path)
}

// TestGolden compares the full records of every capture with the golden
// files; run with -update after a deliberate change and review the diff.
func TestGolden(t *testing.T) {
	for _, dir := range captureDirs(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			for _, c := range replay(t, filepath.Join(dir, "ami.log")) {
				if err := enc.Encode(c); err != nil {
					t.Fatal(err)
				}
			}
			golden := filepath.Join("testdata", "golden", name+".jsonl")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./callgraph -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("records differ from %s; run with -update and review the diff:\n%s", golden, firstDiff(buf.String(), string(want)))
			}
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got: %.400s\nwant: %.400s", i+1, a, b)
		}
	}
	return ""
}

// truth is the part of truth.json the checks read: what the phones
// measured, on the same clock as Asterisk.
type truth struct {
	Description string            `json:"description"`
	Parties     map[string]string `json:"parties"`
	Legs        json.RawMessage   `json:"legs"`
	Talk        json.RawMessage   `json:"talk"`
	Dialogs     []dialog          `json:"sip_dialogs_raw_events"`
	Directions  map[string]struct {
		Sender string `json:"sender"`
		TX     struct {
			LossAppliedPct *float64 `json:"loss_applied_pct"`
		} `json:"tx"`
	} `json:"directions"`
}

type dialog struct {
	Phone     string `json:"phone"`
	Direction string `json:"direction"`
	Events    []struct {
		T  float64 `json:"t"`
		Ev string  `json:"ev"`
	} `json:"events"`
}

type talkTruth struct {
	Between []string `json:"between"`
	Secs    float64  `json:"secs"`
}

// times returns a dialog's start, answer (0 if none) and end, as the
// phone saw them.
func (d dialog) times() (start, answer, end float64) {
	first := map[string]float64{}
	start, end = math.Inf(1), math.Inf(-1)
	for _, e := range d.Events {
		if _, ok := first[e.Ev]; !ok {
			first[e.Ev] = e.T
		}
		start = math.Min(start, e.T)
		end = math.Max(end, e.T)
	}
	if d.Direction == "out" {
		answer = first["answered"]
	} else {
		answer = first["200_sent"]
	}
	if v, ok := first["ended"]; ok {
		end = v
	}
	return start, answer, end
}

// tolerance is how far from the phones' measurements a time may be: the
// phones and Asterisk share a clock, but SIP takes a few milliseconds.
const tolerance = 0.5

// talkExceptions are the truth talk figures calltrail measures otherwise
// on purpose, with the reason.
var talkExceptions = map[string]string{
	// ParkedCall answers the retriever and bridges it to the parkee half a
	// second later; the phones count talk from the answer, billing.md
	// counts it from the bridge. The legs' billsec agree with the truth.
	"S19 1023-1025": "talk starts at the bridge, not at the retriever's answer",
}

var chanRe = regexp.MustCompile(`^(PJSIP|SIP|IAX2)/([^-]+)-`)

// TestTruth checks every capture against what the phones measured: each
// leg's ring and billsec, the call's structure, talk segments, quality.
func TestTruth(t *testing.T) {
	for _, dir := range captureDirs(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tr truth
			if err := json.Unmarshal(raw, &tr); err != nil {
				t.Fatal(err)
			}
			calls := replay(t, filepath.Join(dir, "ami.log"))
			checkTruth(t, name, dir, tr, calls)
		})
	}
}

func checkTruth(t *testing.T, name, dir string, tr truth, calls []*callgraph.Call) {
	legs := map[string]*callgraph.Leg{}
	callOf := map[string]string{}
	for _, c := range calls {
		if !c.Complete {
			t.Errorf("call %s incomplete: %+v", c.ID, c.Gaps)
		}
		for _, l := range c.Legs {
			legs[l.ID] = l
			callOf[l.ID] = c.ID
			if strings.HasPrefix(l.Channel, "Local/") {
				t.Errorf("Local channel %s reported as a leg", l.Channel)
			}
		}
	}
	chans := newChannels(t, filepath.Join(dir, "ami.log"))
	used := map[string]bool{}
	phoneLeg := map[string]string{}
	for _, d := range tr.Dialogs {
		start, answer, end := d.times()
		ch, uid := chans.match(d.Phone, start, used)
		if uid == "" {
			continue // Asterisk made no channel for it
		}
		l := legs[uid]
		if l == nil {
			t.Errorf("%s (%s): leg missing", ch, uid)
			continue
		}
		phoneLeg[d.Phone] = uid
		ring, billsec := end-start, 0.0
		if answer > 0 {
			ring, billsec = answer-start, end-answer
		}
		if math.Abs(float64(l.Ring)-ring) > tolerance || math.Abs(float64(l.Billsec)-billsec) > tolerance {
			t.Errorf("%s: ring %.3f billsec %.3f, phone measured ring %.3f billsec %.3f", ch, l.Ring, l.Billsec, ring, billsec)
		}
	}
	desc := strings.ToLower(tr.Description)
	burst := strings.Contains(desc, "concurren") || strings.Contains(desc, "burst")
	conf := strings.Contains(desc, "conference") || strings.Contains(desc, "confbridge")
	if !burst && !conf && containsAny(desc, "transfer", "queue", "overflow", "pickup", "park") {
		ids := map[string]bool{}
		for _, uid := range phoneLeg {
			ids[callOf[uid]] = true
		}
		if len(ids) != 1 {
			t.Errorf("the phones' legs are spread over %d calls, want one", len(ids))
		}
	}
	kinds := map[string]int{}
	for _, c := range calls {
		for _, x := range c.Connections {
			kinds[x.Kind]++
		}
	}
	if strings.Contains(desc, "transfer") && !containsAny(desc, "abandon", "cancel") && !burst {
		if kinds[callgraph.KindBlindTransfer]+kinds[callgraph.KindAttendedTransfer] == 0 {
			t.Errorf("no transfer connection, kinds %v", kinds)
		}
	}
	if !burst && strings.Contains(desc, "abandon") && strings.Contains(desc, "transfer") && kinds[callgraph.KindAttendedTransferAbandoned] == 0 {
		t.Errorf("abandoned consultation not recorded, kinds %v", kinds)
	}
	if strings.Contains(desc, "queue") && !burst {
		want := callgraph.OutcomeAnswered
		if strings.Contains(desc, "abandon") {
			want = callgraph.OutcomeAbandoned
		}
		found := false
		for _, c := range calls {
			for _, q := range c.Queues {
				found = found || q.Outcome == want
			}
		}
		if !found {
			t.Errorf("no queue entry with outcome %s", want)
		}
	}
	if conf && !burst && kinds[callgraph.KindConferenceJoin] < 3 {
		t.Errorf("%d conference_join connections, want at least 3", kinds[callgraph.KindConferenceJoin])
	}
	if !conf {
		checkTalk(t, name, tr, calls, legs)
	}
	checkQuality(t, tr, legs, phoneLeg)
}

func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func checkTalk(t *testing.T, name string, tr truth, calls []*callgraph.Call, legs map[string]*callgraph.Leg) {
	var talks []talkTruth
	if len(tr.Talk) == 0 || tr.Talk[0] != '[' {
		return
	}
	var rawTalks []json.RawMessage
	if err := json.Unmarshal(tr.Talk, &rawTalks); err != nil {
		t.Fatal(err)
	}
	for _, r := range rawTalks {
		var x talkTruth
		if json.Unmarshal(r, &x) == nil && len(x.Between) == 2 {
			talks = append(talks, x)
		}
	}
	phoneOf := func(label string) string {
		if v, ok := tr.Parties[label]; ok {
			tok := strings.Fields(v)[0]
			if isDigits(tok) || tok == "trunk" {
				return tok
			}
			if strings.Contains(v, "trunk") {
				return "trunk"
			}
		}
		var named map[string]struct {
			Phone string `json:"phone"`
		}
		if json.Unmarshal(tr.Legs, &named) == nil && named[label].Phone != "" {
			return named[label].Phone
		}
		if m := regexp.MustCompile(`\d{4}`).FindString(label); m != "" {
			return m
		}
		return label
	}
	for _, tt := range talks {
		a, b := phoneOf(tt.Between[0]), phoneOf(tt.Between[1])
		key := fmt.Sprintf("%s %s-%s", name, a, b)
		if _, skip := talkExceptions[key]; skip {
			continue
		}
		var got []float64
		found := false
		for _, c := range calls {
			for _, s := range c.Segments {
				la, lb := legs[s.A], legs[s.B]
				if la == nil || lb == nil {
					continue
				}
				pa, pb := phoneOfChannel(la.Channel), phoneOfChannel(lb.Channel)
				if (pa == a && pb == b) || (pa == b && pb == a) {
					got = append(got, float64(s.Seconds))
					found = found || math.Abs(float64(s.Seconds)-tt.Secs) <= tolerance
				}
			}
		}
		if !found {
			t.Errorf("talk %s-%s %.3f s not found (segments between them: %v)", a, b, tt.Secs, got)
		}
	}
}

func phoneOfChannel(ch string) string {
	if m := chanRe.FindStringSubmatch(ch); m != nil {
		return m[2]
	}
	return ""
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// checkQuality: the loss applied at a phone's sender shows for that
// direction, on the sender's leg (as Asterisk received it) or on the other
// leg (as the receiving phone reported it), with a MOS that says so.
func checkQuality(t *testing.T, tr truth, legs map[string]*callgraph.Leg, phoneLeg map[string]string) {
	names := make([]string, 0, len(tr.Directions))
	for n := range tr.Directions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := tr.Directions[n]
		if d.Sender == "" || d.TX.LossAppliedPct == nil {
			continue
		}
		applied := *d.TX.LossAppliedPct
		sender := strings.Fields(tr.Parties[d.Sender])[0]
		var cands []*callgraph.Direction
		if l := legs[phoneLeg[sender]]; l != nil && l.Quality != nil {
			cands = append(cands, l.Quality.FromParty)
		}
		for ph, uid := range phoneLeg {
			if l := legs[uid]; ph != sender && l != nil && l.Quality != nil {
				cands = append(cands, l.Quality.ToParty)
			}
		}
		good := false
		for _, q := range cands {
			if q == nil || math.Abs(q.LossPct-applied) > 1.0 {
				continue
			}
			if (applied >= 15 && q.MOS >= 3.0) || (applied == 0 && q.MOS < 4.0) {
				continue
			}
			good = true
		}
		if !good {
			t.Errorf("%s: applied loss %.2f%% not reported (candidates %s)", n, applied, fmtDirections(cands))
		}
	}
}

func fmtDirections(ds []*callgraph.Direction) string {
	var parts []string
	for _, d := range ds {
		if d == nil {
			parts = append(parts, "none")
			continue
		}
		parts = append(parts, fmt.Sprintf("loss %.2f%% mos %.2f", d.LossPct, d.MOS))
	}
	return strings.Join(parts, "; ")
}

// channels are the Newchannel events of a capture, to map a phone's SIP
// dialog to the channel Asterisk created for it at the same moment.
type channels []struct {
	name, uid string
	ts        float64
}

func newChannels(t *testing.T, path string) channels {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out channels
	r := ami.NewReader(bufio.NewReader(f))
	for {
		m, err := r.ReadMessage()
		if err != nil {
			break
		}
		if m.Event() != "Newchannel" {
			continue
		}
		sec, usec, ok := m.Timestamp()
		if !ok {
			continue
		}
		out = append(out, struct {
			name, uid string
			ts        float64
		}{m.Get("Channel"), m.Get("Uniqueid"), float64(sec) + float64(usec)/1e6})
	}
	return out
}

func (cs channels) match(phone string, start float64, used map[string]bool) (name, uid string) {
	best := math.Inf(1)
	for _, c := range cs {
		if used[c.uid] || phoneOfChannel(c.name) != phone {
			continue
		}
		if dt := math.Abs(c.ts - start); dt <= 1.5 && dt < best {
			best, name, uid = dt, c.name, c.uid
		}
	}
	if uid != "" {
		used[uid] = true
	}
	return name, uid
}
