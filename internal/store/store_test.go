package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calltrail/calltrail/callgraph"
)

// The databases every store test runs against. PostgreSQL and MariaDB are
// expected on the developer's machine and in CI (see .ci/run); set
// CALLTRAIL_TEST_POSTGRES or CALLTRAIL_TEST_MYSQL to another DSN, or to
// "off" to leave that database out.
func testDSNs(t testing.TB) []struct{ name, dsn string } {
	t.Helper()
	dbs := []struct{ name, dsn string }{
		{"sqlite", "sqlite::memory:"},
		{"postgres", envOr("CALLTRAIL_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
		{"mysql", envOr("CALLTRAIL_TEST_MYSQL", "mysql://root@tcp(127.0.0.1:3306)/test")},
	}
	return dbs
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// eachDB runs f once per database, each time on fresh tables.
func eachDB(t *testing.T, f func(t *testing.T, s *Store)) {
	for _, db := range testDSNs(t) {
		t.Run(db.name, func(t *testing.T) {
			if db.dsn == "off" {
				t.Skipf("%s turned off by the environment", db.name)
			}
			f(t, openTest(t, db.dsn))
		})
	}
}

// openTest opens dsn with a table prefix of its own, so that test runs
// and packages sharing the database do not collide, and drops the
// tables afterwards.
func openTest(t testing.TB, dsn string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := fmt.Sprintf("t%08x_", rand.Uint32())
	s, err := OpenWith(ctx, dsn, Options{TablePrefix: prefix})
	if err != nil {
		t.Fatalf("open %s: %v (set CALLTRAIL_TEST_POSTGRES/CALLTRAIL_TEST_MYSQL=off to leave a database out)", redact(dsn), err)
	}
	t.Cleanup(func() {
		if err := s.db.Migrator().DropTable(models()...); err != nil {
			t.Errorf("drop tables %s*: %v", prefix, err)
		}
		s.Close()
	})
	return s
}

var t0 = time.Date(2026, 11, 22, 7, 41, 3, 125_678_000, time.UTC)

func at(sec float64) callgraph.Time {
	return callgraph.Time{Time: t0.Add(time.Duration(sec * float64(time.Second)))}
}

func ptr[T any](v T) *T { return &v }

// fullCall fills every field of the record, so that a round trip shows
// any field the tables lose.
func fullCall(server, id string, start callgraph.Time) *callgraph.Call {
	off := func(s float64) callgraph.Time {
		return callgraph.Time{Time: start.Add(time.Duration(s * float64(time.Second)))}
	}
	a, b, c := id, id+"1", id+"2"
	return &callgraph.Call{
		ID: id, Server: server, Start: start, End: off(30.5),
		Disposition: "ANSWERED", Complete: false,
		Gaps: []callgraph.Gap{{From: off(10), To: off(12.25), Reason: "ami reconnect",
			Estimated: []string{b + ".ended", c + ".answered"}}},
		Legs: []*callgraph.Leg{
			{ID: a, Channel: "PJSIP/100-00000004", Party: "100", Role: callgraph.RoleCaller,
				CallerNum: "100", CallerName: "Ann Ö", Dialed: "5200", Context: "from-internal",
				Created: start, Answered: off(0.5), Ended: off(30.5),
				Duration: 30.5, Ring: 0.5, Billsec: 30, Talk: 24.5, Hold: 3.25,
				Disposition: "ANSWERED", Cause: 16, CauseText: "Normal Clearing", SIPCode: ptr(200),
				ReleasedBy: "caller", Account: "acme",
				Tags: map[string]string{"customer": "42", "campaign": "winter"},
				Quality: &callgraph.Quality{Codec: "ulaw", RTTms: ptr(0.5),
					FromParty: &callgraph.Direction{Packets: 1001, Lost: 59, LossPct: 5.89, JitterMs: 14, MOS: 3.6, MES: ptr(65.5)},
					ToParty:   &callgraph.Direction{Packets: 1002, LossPct: 0, JitterMs: 0.1, MOS: 4.4}}},
			{ID: b, Channel: "PJSIP/101-00000005", Party: "101", Role: callgraph.RoleAgent,
				Created: off(1), Answered: off(3.001), Ended: off(20),
				Duration: 19, Ring: 2.001, Billsec: 16.999, Talk: 16.999,
				Disposition: "ANSWERED", Cause: 16, CauseText: "Normal Clearing",
				ReleasedBy: "callee", Account: "acme",
				Quality: &callgraph.Quality{}},
			{ID: c, Channel: "PJSIP/trunk-00000006", Party: "95557788", Role: callgraph.RoleTransferTarget,
				Created: off(20), Ended: off(22), Duration: 2, Ring: 2,
				Disposition: "NO ANSWER", Cause: 19, CauseText: "No answer", SIPCode: ptr(480),
				ReleasedBy: "system"},
		},
		Connections: []callgraph.Connection{
			{Kind: callgraph.KindQueueAttempt, From: a, To: b, At: off(1), Answered: ptr(true),
				Status: "ANSWER", Ring: ptr(callgraph.Seconds(2.001)), PDD: ptr(callgraph.Seconds(0.12)), Target: "support"},
			{Kind: callgraph.KindBlindTransfer, By: b, From: a, To: c, At: off(20), External: true,
				Answered: ptr(false), DestType: "Bridge", Consult: b},
		},
		Segments: []callgraph.Segment{
			{A: a, B: b, Start: off(3.001), End: off(20), Seconds: 16.999},
			{A: a, B: "conference:6100", Start: off(22), End: off(29.5), Seconds: 7.5},
		},
		Queues: []callgraph.QueueEntry{
			{Queue: "support", Caller: a, Joined: off(0.6), Left: off(3.001), Wait: 2.401,
				Outcome: callgraph.OutcomeAnswered, Agent: b, Attempts: 2, Position: 1},
		},
		Conferences: []callgraph.Conference{
			{Name: "6100", Start: off(22), End: off(30),
				Participants: []callgraph.Participant{
					{Leg: a, Channel: "PJSIP/100-00000004", Joined: off(22), Left: off(29.5)},
					{Leg: "other.9", Channel: "PJSIP/102-00000009", Joined: off(21)},
				}},
		},
		Billing: []callgraph.Billing{
			{Leg: c, Party: "95557788", Account: "acme", Billsec: 0, BilledSeconds: 0,
				Destination: "4930", Cost: "0.0000", Currency: "EUR", Plan: "std", Row: "49",
				Increment: "60/60", Units: 0},
			{Leg: a, Party: "100", Account: "acme", Billsec: 30, BilledSeconds: 60,
				Destination: "local", Error: "no rate for local"},
		},
		LocalChannels: []string{"Local/5200@queues-00000001;1", "Local/5200@queues-00000001;2"},
		Unplaced:      3,
	}
}

// minimalCall has nothing but what every call has.
func minimalCall(server, id string, start callgraph.Time) *callgraph.Call {
	return &callgraph.Call{
		ID: id, Server: server, Start: start, End: start, Disposition: "NO ANSWER", Complete: true,
		Gaps: []callgraph.Gap{}, Connections: []callgraph.Connection{}, Segments: []callgraph.Segment{},
		Queues: []callgraph.QueueEntry{}, Billing: []callgraph.Billing{},
		Legs: []*callgraph.Leg{{ID: id, Channel: "SIP/1001-00000001", Party: "1001", Role: callgraph.RoleCaller,
			Created: start, Ended: start, Disposition: "NO ANSWER", Cause: 0}},
	}
}

// sameCall fails t with the first difference between the JSON forms when
// got and want differ (and says so when only the Go values differ).
func sameCall(t *testing.T, got, want *callgraph.Call) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var gs, ws string
		if i < len(gl) {
			gs = gl[i]
		}
		if i < len(wl) {
			ws = wl[i]
		}
		if gs != ws {
			t.Fatalf("call %s differs at JSON line %d:\ngot:  %s\nwant: %s", want.ID, i+1, gs, ws)
		}
	}
	t.Fatalf("call %s: same JSON, different Go values (precision or nil vs empty):\ngot:  %#v\nwant: %#v", want.ID, got, want)
}

func TestRoundTrip(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		tests := []struct {
			name string
			call *callgraph.Call
		}{
			{"full", fullCall("pbx1", "1763797263.12", at(0))},
			{"minimal", minimalCall("pbx1", "1763797263.20", at(5))},
			{"other server, same id", minimalCall("pbx2", "1763797263.12", at(6))},
			{"nil lists", &callgraph.Call{ID: "nil.1", Server: "pbx1", Start: at(7), Disposition: "FAILED"}},
			{"empty server", minimalCall("", "1763797263.30", at(8))},
		}
		var all []*callgraph.Call
		for _, tt := range tests {
			all = append(all, tt.call)
		}
		if err := s.SaveCalls(ctx, all); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Call(ctx, tt.call.Server, tt.call.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.call
				if tt.name == "nil lists" {
					// The lists come back as the engine writes them: empty,
					// never null.
					c := *tt.call
					c.Legs, c.Gaps, c.Connections = []*callgraph.Leg{}, []callgraph.Gap{}, []callgraph.Connection{}
					c.Segments, c.Queues, c.Billing = []callgraph.Segment{}, []callgraph.QueueEntry{}, []callgraph.Billing{}
					want = &c
				}
				sameCall(t, got, want)
			})
		}
		if _, err := s.Call(ctx, "pbx1", "no.such"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Call(missing) = %v, want ErrNotFound", err)
		}
	})
}

// TestRoundTripPrecision checks that what the tables hold wins over the
// record JSON, which keeps only milliseconds.
func TestRoundTripPrecision(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		c := fullCall("pbx1", "1.1", callgraph.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 123_456_000, time.UTC)})
		c.Legs[0].Answered = callgraph.Time{Time: time.Date(2026, 1, 2, 3, 4, 6, 999_999_000, time.UTC)}
		if err := s.SaveCall(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Call(ctx, "pbx1", "1.1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Start.Equal(c.Start.Time) || !got.Legs[0].Answered.Equal(c.Legs[0].Answered.Time) {
			t.Errorf("times = %v, %v; want %v, %v", got.Start, got.Legs[0].Answered, c.Start, c.Legs[0].Answered)
		}
		sameCall(t, got, c)
	})
}

func count(t *testing.T, s *Store, model string, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := s.db.Table(s.table(model))
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatalf("count %s: %v", model, err)
	}
	return n
}

func TestSaveTwiceKeepsOneCall(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		first := fullCall("pbx1", "100.1", at(0))
		other := minimalCall("pbx1", "100.2", at(1))
		batch := []*callgraph.Call{first, other}
		for i := 0; i < 2; i++ { // a replay of the same capture
			if err := s.SaveCalls(ctx, batch); err != nil {
				t.Fatalf("save %d: %v", i, err)
			}
		}
		if n := count(t, s, "callRow", ""); n != 2 {
			t.Fatalf("calls rows = %d, want 2", n)
		}
		if n := count(t, s, "legRow", ""); n != 4 {
			t.Fatalf("legs rows = %d, want 4", n)
		}

		// A re-derived record replaces the stored one, children and all.
		second := minimalCall("pbx1", "100.1", at(0))
		second.Disposition = "BUSY"
		if err := s.SaveCall(ctx, second); err != nil {
			t.Fatal(err)
		}
		got, err := s.Call(ctx, "pbx1", "100.1")
		if err != nil {
			t.Fatal(err)
		}
		sameCall(t, got, second)
		for model, want := range map[string]int64{
			"callRow": 2, "legRow": 2, "legTagRow": 0, "connectionRow": 0, "segmentRow": 0,
			"queueCallRow": 0, "conferenceRow": 0, "conferenceParticipantRow": 0,
			"billingRecordRow": 0, "callGapRow": 0,
		} {
			if n := count(t, s, model, ""); n != want {
				t.Errorf("%s rows = %d, want %d", s.table(model), n, want)
			}
		}

		// Within one batch, the last of two calls with one key wins.
		third := minimalCall("pbx1", "100.3", at(2))
		thirdAgain := fullCall("pbx1", "100.3", at(2))
		if err := s.SaveCalls(ctx, []*callgraph.Call{third, thirdAgain}); err != nil {
			t.Fatal(err)
		}
		got, err = s.Call(ctx, "pbx1", "100.3")
		if err != nil {
			t.Fatal(err)
		}
		sameCall(t, got, thirdAgain)
		if n := count(t, s, "callRow", ""); n != 3 {
			t.Errorf("calls rows = %d, want 3", n)
		}

		// A batch of new calls with one stored call among them: the new
		// ones are added, the stored one replaced.
		var mixed []*callgraph.Call
		for i := range 50 {
			mixed = append(mixed, fullCall("pbx1", fmt.Sprintf("200.%d", i), at(float64(10+i))))
		}
		again := fullCall("pbx1", "100.2", at(1))
		mixed = append(mixed[:25], append([]*callgraph.Call{again}, mixed[25:]...)...)
		if err := s.SaveCalls(ctx, mixed); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s, "callRow", ""); n != 53 {
			t.Errorf("calls rows = %d, want 53", n)
		}
		if n := count(t, s, "legRow", ""); n != 1+3+3+150 {
			t.Errorf("legs rows = %d, want %d", n, 1+3+3+150)
		}
		for _, c := range []*callgraph.Call{again, mixed[0], mixed[50]} {
			got, err := s.Call(ctx, "pbx1", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameCall(t, got, c)
		}
	})
}

func TestSaveRefusesCallsWithoutKey(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		tests := []struct {
			name string
			call *callgraph.Call
			want string
		}{
			{"no id", &callgraph.Call{Server: "pbx1", Start: at(0)}, "store: call without call_id"},
			{"no start", &callgraph.Call{Server: "pbx1", ID: "1.2"}, "store: call pbx1/1.2 has no start time"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.SaveCalls(ctx, []*callgraph.Call{minimalCall("pbx1", "ok.1", at(0)), tt.call})
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				if n := count(t, s, "callRow", ""); n != 0 {
					t.Errorf("calls rows = %d after a refused batch, want 0", n)
				}
			})
		}
	})
}

func TestCallsFilter(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		a := fullCall("pbx1", "a", at(0)) // parties 100, 101, 95557788; account acme; queue support
		b := minimalCall("pbx1", "b", at(60))
		b.Legs[0].Account = "globex"
		c := minimalCall("pbx2", "c", at(120))
		c.Billing = []callgraph.Billing{{Leg: "c", Party: "1001", Account: "initech"}}
		c.Legs[0].CallerName = "100% Tools_Co"
		d := fullCall("pbx1", "d", at(180))
		d.Disposition = "BUSY"
		if err := s.SaveCalls(ctx, []*callgraph.Call{d, c, b, a}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			filter Filter
			want   []string
		}{
			{"all, by start", Filter{}, []string{"a", "b", "c", "d"}},
			{"from", Filter{From: at(60).Time}, []string{"b", "c", "d"}},
			{"to is exclusive", Filter{To: at(120).Time}, []string{"a", "b"}},
			{"range", Filter{From: at(30).Time, To: at(150).Time}, []string{"b", "c"}},
			{"server", Filter{Server: "pbx2"}, []string{"c"}},
			{"party", Filter{Party: "101"}, []string{"a", "d"}},
			{"party of a minimal call", Filter{Party: "1001"}, []string{"b", "c"}},
			{"leg account", Filter{Account: "globex"}, []string{"b"}},
			{"billing account", Filter{Account: "initech"}, []string{"c"}},
			{"account and range", Filter{Account: "acme", From: at(1).Time}, []string{"d"}},
			{"queue", Filter{Queue: "support"}, []string{"a", "d"}},
			{"disposition", Filter{Disposition: "BUSY"}, []string{"d"}},
			{"limit", Filter{Limit: 2}, []string{"a", "b"}},
			{"offset", Filter{Offset: 3}, []string{"d"}},
			{"limit and offset", Filter{Limit: 2, Offset: 1}, []string{"b", "c"}},
			{"nothing", Filter{Party: "999"}, nil},
			{"cause", Filter{Cause: ptr(19)}, []string{"a", "d"}},
			{"cause 0 is a cause", Filter{Cause: ptr(0)}, []string{"b", "c"}},
			{"cause nobody had", Filter{Cause: ptr(17)}, nil},
			{"cause and server and from", Filter{Cause: ptr(16), Server: "pbx1", From: at(60).Time}, []string{"d"}},
			{"sip", Filter{SIPCode: ptr(480)}, []string{"a", "d"}},
			{"sip nobody had", Filter{SIPCode: ptr(486)}, nil},
			{"text: caller name, any case", Filter{Text: "aNN"}, []string{"a", "d"}},
			{"text: channel", Filter{Text: "pjsip/TRUNK"}, []string{"a", "d"}},
			{"text: dialled", Filter{Text: "5200"}, []string{"a", "d"}},
			{"text: leg id", Filter{Text: "a1"}, []string{"a"}},
			{"text: call id", Filter{Text: "d"}, []string{"d"}},
			{"text: tag value", Filter{Text: "WINTER"}, []string{"a", "d"}},
			{"text: account", Filter{Text: "glob"}, []string{"b"}},
			{"text: a literal %", Filter{Text: "0% t"}, []string{"c"}},
			{"text: a literal _", Filter{Text: "s_c"}, []string{"c"}},
			{"text: % is no wildcard", Filter{Text: "1%1"}, nil},
			{"text: _ is no wildcard", Filter{Text: "a_"}, nil},
			{"text: ! is plain", Filter{Text: "!"}, nil},
			{"text and cause", Filter{Text: "1001", Cause: ptr(0)}, []string{"b", "c"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				calls, err := s.Calls(ctx, tt.filter)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, c := range calls {
					got = append(got, c.ID)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				for _, c := range calls {
					if c.ID == "a" {
						sameCall(t, c, a)
					}
				}
			})
		}
	})
}

// TestTablesAreQueryable runs the kind of SQL a report would, straight on
// the tables.
func TestTablesAreQueryable(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.SaveCalls(ctx, []*callgraph.Call{fullCall("pbx1", "a", at(0)), fullCall("pbx1", "b", at(60))}); err != nil {
			t.Fatal(err)
		}
		var r struct {
			Legs    int64
			Billsec int64
		}
		err := s.db.Table(s.table("legRow")).Select("COUNT(*) AS legs, SUM(billsec_ms) AS billsec").
			Where("account = ? AND created_at >= ?", "acme", at(0).Time).Scan(&r).Error
		if err != nil {
			t.Fatal(err)
		}
		if r.Legs != 4 || r.Billsec != 2*(30000+16999) {
			t.Errorf("acme legs = %d, billsec_ms = %d; want 4, %d", r.Legs, r.Billsec, 2*(30000+16999))
		}
		if n := count(t, s, "queueCallRow", "queue = ? AND outcome = ? AND wait_ms = ?", "support", "answered", 2401); n != 2 {
			t.Errorf("answered support stays = %d, want 2", n)
		}
		if n := count(t, s, "legRow", "cause = ? AND sip_code = ?", 19, 480); n != 2 {
			t.Errorf("legs with cause 19 / 480 = %d, want 2", n)
		}
		if n := count(t, s, "legRow", "from_loss_pct > ?", 5.0); n != 2 {
			t.Errorf("legs with loss > 5%% = %d, want 2", n)
		}
		if n := count(t, s, "legTagRow", "tag_key = ? AND tag_value = ?", "customer", "42"); n != 2 {
			t.Errorf("customer tags = %d, want 2", n)
		}
		if n := count(t, s, "billingRecordRow", "account = ? AND cost = ?", "acme", "0.0000"); n != 2 {
			t.Errorf("rated acme billing rows = %d, want 2", n)
		}
		if n := count(t, s, "connectionRow", "kind = ? AND pdd_ms = ?", "queue_attempt", 120); n != 2 {
			t.Errorf("queue attempts with a 120 ms PDD = %d, want 2", n)
		}
		if n := count(t, s, "callRow", "started_at >= ? AND started_at < ?", at(30).Time, at(90).Time); n != 1 {
			t.Errorf("calls started in [30s, 90s) = %d, want 1", n)
		}
	})
}

func TestIterate(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// More than two pages, with many calls sharing a start time so
		// the pages split inside a run of equal times.
		const n = 2*iteratePage + 57
		var calls []*callgraph.Call
		for i := range n {
			calls = append(calls, minimalCall("pbx1", fmt.Sprintf("it.%04d", i), at(float64(i/7))))
		}
		rand.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
		if err := s.SaveCalls(ctx, calls); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name      string
			filter    Filter
			wantFirst string
			wantN     int
		}{
			{"all", Filter{}, "", n},
			{"from", Filter{From: at(10).Time}, "", n - 70},
			{"limit across pages", Filter{Limit: iteratePage + 3}, "", iteratePage + 3},
			{"offset", Filter{Offset: 5}, "", n - 5},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				seen := make(map[string]bool)
				var prev time.Time
				got := 0
				for c, err := range s.Iterate(ctx, tt.filter) {
					if err != nil {
						t.Fatal(err)
					}
					if seen[c.ID] {
						t.Fatalf("call %s yielded twice", c.ID)
					}
					seen[c.ID] = true
					if c.Start.Before(prev) {
						t.Fatalf("call %s starts %v, before the previous call's %v", c.ID, c.Start, prev)
					}
					if !tt.filter.From.IsZero() && c.Start.Before(tt.filter.From) {
						t.Fatalf("call %s starts %v, before From", c.ID, c.Start)
					}
					prev = c.Start.Time
					got++
				}
				if got != tt.wantN {
					t.Errorf("yielded %d calls, want %d", got, tt.wantN)
				}
			})
		}
		// Stopping early is allowed.
		k := 0
		for range s.Iterate(ctx, Filter{}) {
			k++
			if k == 3 {
				break
			}
		}
	})
}

func TestSQLiteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.db")
	s, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCall(context.Background(), minimalCall("pbx1", "m.1", at(0))); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(p), m)
		}
	}
	// Reopening finds the call.
	s2, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Call(context.Background(), "pbx1", "m.1"); err != nil {
		t.Errorf("after reopen: %v", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	port := closedPort(t)
	tests := []struct {
		dsn  string
		want string
	}{
		{fmt.Sprintf("postgres://calltrail:s3cret@127.0.0.1:%d/calls?sslmode=disable&connect_timeout=2", port), "store: postgres: connect:"},
		{fmt.Sprintf("mysql://calltrail:s3cret@tcp(127.0.0.1:%d)/calls?timeout=2s", port), "store: mysql: connect:"},
		{"sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), "store: sqlite: create"},
	}
	for _, tt := range tests {
		t.Run(strings.SplitN(tt.dsn, ":", 2)[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, tt.dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("err shows the password: %q", err)
			}
		})
	}
}

// BenchmarkSaveCalls writes batches of 100 full calls (3 legs, tags,
// quality, queue, conference, billing) to each database.
func BenchmarkSaveCalls(b *testing.B) {
	for _, db := range testDSNs(b) {
		b.Run(db.name, func(b *testing.B) {
			if db.dsn == "off" {
				b.Skip("off")
			}
			s := openTest(b, db.dsn)
			ctx := context.Background()
			batch := 100
			if n, err := strconv.Atoi(os.Getenv("CALLTRAIL_SAVE_BATCH")); err == nil && n > 0 {
				batch = n
			}
			b.ResetTimer()
			for i := range b.N {
				calls := make([]*callgraph.Call, batch)
				for j := range calls {
					calls[j] = fullCall("pbx1", fmt.Sprintf("b%d.%d", i, j), at(float64(i*batch+j)))
				}
				if err := s.SaveCalls(ctx, calls); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
