package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/calltrail/calltrail/callgraph"
	"github.com/calltrail/calltrail/internal/store"
	"github.com/calltrail/calltrail/reports"
	"github.com/calltrail/calltrail/reports/callflow"
	"github.com/calltrail/calltrail/reports/causes"
	"github.com/shopspring/decimal"
)

// filter reads the selection parameters shared by calls and reports.
func filter(q url.Values, loc *time.Location) (store.Filter, error) {
	f := store.Filter{
		Server:      q.Get("server"),
		Account:     q.Get("account"),
		Party:       q.Get("party"),
		Queue:       q.Get("queue"),
		Disposition: q.Get("disposition"),
	}
	var err error
	if v := q.Get("from"); v != "" {
		if f.From, err = ParseTime(v, loc, false); err != nil {
			return f, badParam("from", "%v", err)
		}
	}
	if v := q.Get("to"); v != "" {
		if f.To, err = ParseTime(v, loc, true); err != nil {
			return f, badParam("to", "%v", err)
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, badParam("to", "%s is not after from", q.Get("to"))
	}
	if f.Cause, err = code(q, "cause", "a Q.850 cause", 0, 127); err != nil {
		return f, err
	}
	if f.SIPCode, err = code(q, "sip", "a SIP status", 100, 699); err != nil {
		return f, err
	}
	f.Text = strings.TrimSpace(q.Get("text"))
	if n := utf8.RuneCountInString(f.Text); n > MaxText {
		return f, badParam("text", "at most %d characters, got %d", MaxText, n)
	}
	return f, nil
}

// MaxText bounds the free text a call search looks for.
const MaxText = 100

// code reads an optional whole number between lo and hi.
func code(q url.Values, name, what string, lo, hi int) (*int, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return nil, badParam(name, "want %s, %d to %d, got %q", what, lo, hi, v)
	}
	return &n, nil
}

func location(q url.Values) (*time.Location, error) {
	tz := q.Get("tz")
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, badParam("tz", "unknown time zone %q", tz)
	}
	return loc, nil
}

// ParseTime reads a time as RFC 3339, or as a date with an optional time
// of day ("2026-11-22", "2026-11-22 10:00") in loc. A date alone as the end
// of a period (end) means the end of that day, so that from 2026-11-22 to
// 2026-11-22 is that whole day. The command line reads times the same way.
func ParseTime(s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("want RFC 3339, 2026-11-22 or 2026-11-22 10:00")
}

func intParam(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badParam(name, "want a whole number ≥ 0, got %q", v)
	}
	if max > 0 && n > max {
		return 0, badParam(name, "at most %d", max)
	}
	return n, nil
}

// A callPage is GET /api/v1/calls' answer. NextOffset is the offset of the
// next page, absent on the last.
type callPage struct {
	Calls      []*callgraph.Call `json:"calls"`
	NextOffset *int              `json:"next_offset"`
}

func (s *server) calls(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	loc, err := location(q)
	if err != nil {
		return err
	}
	f, err := filter(q, loc)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", DefaultLimit, MaxLimit)
	if err != nil {
		return err
	}
	if limit == 0 {
		return badParam("limit", "must be at least 1")
	}
	if f.Offset, err = intParam(q, "offset", 0, 0); err != nil {
		return err
	}
	f.Limit = limit + 1 // one more tells whether there is a next page
	calls, err := s.o.Store.Calls(r.Context(), f)
	if err != nil {
		return err
	}
	page := callPage{Calls: calls}
	if len(calls) > limit {
		page.Calls = calls[:limit]
		next := f.Offset + limit
		page.NextOffset = &next
	}
	if page.Calls == nil {
		page.Calls = []*callgraph.Call{}
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *server) lookup(r *http.Request) (*callgraph.Call, error) {
	server, id := r.PathValue("server"), r.PathValue("id")
	c, err := s.o.Store.Call(r.Context(), server, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no call %s on server %s", id, server)
	}
	return c, err
}

func (s *server) call(w http.ResponseWriter, r *http.Request) error {
	c, err := s.lookup(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

func (s *server) diagram(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "svg"
	}
	timeline := format == "svg"
	if v := q.Get("timeline"); v != "" {
		var err error
		if timeline, err = strconv.ParseBool(v); err != nil {
			return badParam("timeline", "want true or false, got %q", v)
		}
		if timeline && format != "svg" {
			return badParam("timeline", "only an SVG diagram has one; see /timeline")
		}
	}
	types := map[string]string{
		"svg":     "image/svg+xml",
		"dot":     "text/vnd.graphviz; charset=utf-8",
		"mermaid": "text/plain; charset=utf-8",
	}
	ct, ok := types[format]
	if !ok {
		return badParam("format", "want svg, dot or mermaid, got %q", format)
	}
	c, err := s.lookup(r)
	if err != nil {
		return err
	}
	fl := callflow.Build(reports.DefaultOptions(), c)
	var b bytes.Buffer
	switch {
	case format == "svg" && timeline:
		err = fl.SVG(&b)
	case format == "svg":
		err = fl.DiagramSVG(&b)
	case format == "dot":
		err = fl.DOT(&b)
	case format == "mermaid":
		err = fl.Mermaid(&b)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ct)
	_, err = w.Write(b.Bytes())
	return err
}

// timelineJSON is a call's timeline: a lane per leg, each a row of bars
// (ringing, queue wait, talk, parking, answered time without talk).
type timelineJSON struct {
	Call   string         `json:"call_id"`
	Server string         `json:"server"`
	Start  callgraph.Time `json:"start"`
	End    callgraph.Time `json:"end"`
	Lanes  []laneJSON     `json:"lanes"`
}

type laneJSON struct {
	Leg     string    `json:"leg"`
	Party   string    `json:"party"`
	Role    string    `json:"role"`
	Channel string    `json:"channel"`
	Bars    []barJSON `json:"bars"`
}

type barJSON struct {
	Kind    string            `json:"kind"`
	Label   string            `json:"label"`
	From    callgraph.Time    `json:"from"`
	To      callgraph.Time    `json:"to"`
	Seconds callgraph.Seconds `json:"seconds"`
}

func (s *server) timeline(w http.ResponseWriter, r *http.Request) error {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "mermaid" {
		return badParam("format", "want json or mermaid, got %q", format)
	}
	c, err := s.lookup(r)
	if err != nil {
		return err
	}
	fl := callflow.Build(reports.DefaultOptions(), c)
	if format == "mermaid" {
		var b bytes.Buffer
		if err := fl.Gantt(&b); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err = w.Write(b.Bytes())
		return err
	}
	legs := make(map[string]*callgraph.Leg, len(c.Legs))
	for _, l := range c.Legs {
		legs[l.ID] = l
	}
	out := timelineJSON{Call: c.ID, Server: c.Server, Start: callgraph.Time{Time: fl.Start}, End: callgraph.Time{Time: fl.End}, Lanes: []laneJSON{}}
	for _, lane := range fl.Lanes {
		lj := laneJSON{Leg: lane.Leg, Channel: lane.Sub, Bars: []barJSON{}}
		if l := legs[lane.Leg]; l != nil {
			lj.Party, lj.Role = l.Party, l.Role
		}
		for _, b := range lane.Bars {
			lj.Bars = append(lj.Bars, barJSON{
				Kind: b.Kind, Label: b.Label,
				From: callgraph.Time{Time: b.From}, To: callgraph.Time{Time: b.To},
				Seconds: callgraph.Dur(b.To.Sub(b.From)),
			})
		}
		out.Lanes = append(out.Lanes, lj)
	}
	return writeJSON(w, http.StatusOK, out)
}

// causeJSON is one Q.850 cause or SIP status of the catalogue.
type causeJSON struct {
	Code        int                `json:"code"`
	Name        string             `json:"name,omitempty"`
	Text        string             `json:"text"`
	Explanation causes.Explanation `json:"explanation"`
}

// causesJSON is the catalogue of causes and statuses in one language.
type causesJSON struct {
	Language string      `json:"language"`
	Q850     []causeJSON `json:"q850"`
	SIP      []causeJSON `json:"sip"`
}

func (s *server) causes(w http.ResponseWriter, r *http.Request) error {
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = causes.DefaultLanguage
	}
	if !slices.Contains(causes.Languages(), lang) {
		return badParam("lang", "want one of %s, got %q", strings.Join(causes.Languages(), ", "), lang)
	}
	out := causesJSON{Language: lang}
	for _, c := range causes.Codes() {
		e, _ := causes.Explain(lang, causes.Q850, c)
		out.Q850 = append(out.Q850, causeJSON{Code: c, Name: causes.Name(c), Text: causes.Text(c), Explanation: e})
	}
	for _, c := range causes.SIPCodes() {
		e, _ := causes.Explain(lang, causes.SIP, c)
		out.SIP = append(out.SIP, causeJSON{Code: c, Text: causes.SIPReason(c), Explanation: e})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) report(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if !slices.Contains(reports.Names, name) {
		return notFound("no report %q (want %s)", name, strings.Join(reports.Names, ", "))
	}
	q := r.URL.Query()
	o := reports.DefaultOptions()
	loc, err := location(q)
	if err != nil {
		return err
	}
	o.Location = loc
	f, err := filter(q, loc)
	if err != nil {
		return err
	}
	switch v := q.Get("interval"); v {
	case "", "hour", "day":
		o.Interval = reports.Interval(v)
	default:
		return badParam("interval", "want hour or day, got %q", v)
	}
	if v := q.Get("sl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return badParam("sl", "want a positive duration such as 20s, got %q", v)
		}
		o.ServiceLevel = d
	}
	if v := q.Get("lang"); v != "" {
		if !slices.Contains(causes.Languages(), v) {
			return badParam("lang", "want one of %s, got %q", strings.Join(causes.Languages(), ", "), v)
		}
		o.Language = v
	}
	if err := o.Validate(); err != nil {
		return &Error{Status: http.StatusBadRequest, Msg: strings.TrimPrefix(err.Error(), "reports: ")}
	}
	var calls []*callgraph.Call
	for c, err := range s.o.Store.Iterate(r.Context(), f) {
		if err != nil {
			return err
		}
		if reports.Needs(name, c) {
			calls = append(calls, c)
		}
	}
	rep, err := reports.ByName(name, calls, o)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := reports.Write(&b, reports.FormatJSON, rep); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b.Bytes())
	return err
}

// accountJSON is an account as the API shows it. Reserved and Available
// are present for one account, not in the list.
type accountJSON struct {
	Name      string           `json:"name"`
	Currency  string           `json:"currency"`
	Balance   decimal.Decimal  `json:"balance"`
	Reserved  *decimal.Decimal `json:"reserved,omitempty"`
	Available *decimal.Decimal `json:"available,omitempty"`
	DebitFrom time.Time        `json:"debit_from"`
	Created   time.Time        `json:"created"`
	Updated   time.Time        `json:"updated"`
}

func toJSON(a store.Account) accountJSON {
	return accountJSON{Name: a.Name, Currency: a.Currency, Balance: a.Balance, DebitFrom: a.DebitFrom, Created: a.Created, Updated: a.Updated}
}

func (s *server) accounts(w http.ResponseWriter, r *http.Request) error {
	as, err := s.o.Store.Accounts(r.Context())
	if err != nil {
		return err
	}
	out := make([]accountJSON, 0, len(as))
	for _, a := range as {
		out = append(out, toJSON(a))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

func (s *server) account(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	f, err := s.o.Store.Funds(r.Context(), name)
	if errors.Is(err, store.ErrNoAccount) {
		return notFound("no account %q", name)
	}
	if err != nil {
		return err
	}
	a := toJSON(f.Account)
	a.Reserved, a.Available = &f.Reserved, &f.Available
	return writeJSON(w, http.StatusOK, a)
}

// maxBody bounds a request body.
const maxBody = 1 << 16

func (s *server) topUp(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var body struct {
		Amount *decimal.Decimal `json:"amount"`
		Note   string           `json:"note"`
	}
	if err := decodeBody(w, r, maxBody, &body, `{"amount": "10.00", "note": "…"}`); err != nil {
		return err
	}
	if body.Amount == nil || body.Amount.IsZero() {
		return badParam("amount", "required and not zero")
	}
	a, err := s.o.Store.TopUp(r.Context(), name, *body.Amount, body.Note)
	if errors.Is(err, store.ErrNoAccount) {
		return notFound("no account %q", name)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toJSON(a))
}

// decodeBody reads a request's body, at most limit bytes, as one JSON
// object of v's fields and no others; want shows the caller what is
// expected.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, want string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Status: http.StatusBadRequest, Msg: "body: want JSON " + want + ": " + err.Error()}
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return &Error{Status: http.StatusBadRequest, Msg: "body: one JSON object only"}
	}
	return nil
}

// statusJSON is the daemon's status as the API shows it.
type statusJSON struct {
	Sources []sourceJSON `json:"sources"`
	Writer  writerJSON   `json:"writer"`
	Sent    uint64       `json:"sent"`
	Idle    bool         `json:"idle"`
}

type sourceJSON struct {
	ID        string `json:"id"`
	Connected bool   `json:"connected"`
	Events    int64  `json:"events"`
	Unplaced  int64  `json:"unplaced"`
	Calls     int64  `json:"calls"`
	OpenCalls int    `json:"open_calls"`
	OpenLegs  int    `json:"open_legs"`
}

type writerJSON struct {
	Waiting     int    `json:"waiting"`
	Saved       uint64 `json:"saved"`
	Rejected    uint64 `json:"rejected"`
	Unreachable bool   `json:"unreachable"`
	LastError   string `json:"last_error,omitempty"`
}

func (s *server) status(w http.ResponseWriter, r *http.Request) error {
	if s.o.Status == nil {
		return notFound("no daemon: this API serves a database alone (calltrail web)")
	}
	st := s.o.Status()
	out := statusJSON{
		Sources: []sourceJSON{},
		Writer: writerJSON{
			Waiting: st.Writer.Waiting, Saved: st.Writer.Saved, Rejected: st.Writer.Rejected,
			Unreachable: st.Writer.Unreachable,
		},
		Sent: st.Sent,
		Idle: st.Idle(),
	}
	if st.Writer.LastError != nil {
		out.Writer.LastError = st.Writer.LastError.Error()
	}
	for _, src := range st.Sources {
		out.Sources = append(out.Sources, sourceJSON{
			ID: src.ID, Connected: src.Connected, Events: src.Events, Unplaced: src.Unplaced,
			Calls: src.Calls, OpenCalls: src.OpenCalls, OpenLegs: src.OpenLegs,
		})
	}
	return writeJSON(w, http.StatusOK, out)
}
