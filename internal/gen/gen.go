// Package gen writes large, realistic AMI event streams for load tests and
// benchmarks: as many calls as asked, so many at a time, made of the real
// captures in testdata (every shape the captures hold: simple calls, no
// answer, busy, transfers, queues, conferences, Local channels, parking,
// pickup, trunks, RTCP).
//
// Each call is a copy of a template, a group of events that Split cut
// from a capture: one call, or the calls that met in one conference. A
// copy gets its own uniqueids, linkedids, bridge ids, channel names
// (with counters unique across the stream), phone numbers (a block of
// extensions no other call in progress uses) and conference names, and
// its events are shifted in time, whole microseconds, so that every
// duration stays what it was in the capture. Copies start at random
// (a Poisson process whose rate keeps about Concurrency calls in
// progress) and their events are merged in time order.
//
// The stream has the form of a capture (ami.log): a banner, a login
// response, then events, CRLF. Split leaves out the events that are noise
// to a call record: FullyBooted, SuccessfulAuth, ChallengeSent and Cdr.
//
// Write streams: it keeps only the calls in progress in memory, so a
// stream of a million calls (92 million events, 42 GB) takes the
// same memory as one of a thousand.
package gen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options say what stream to write.
type Options struct {
	// Calls is how many calls the stream holds, as the engine counts
	// them: each participant of a conference is a call of its own. The
	// count is exact unless Templates leaves only templates of several
	// calls each; then the last copy may go over.
	Calls int
	// Concurrency is how many calls are in progress at once, on average,
	// once the stream has ramped up.
	Concurrency int
	// Seed makes the stream: the same options write the same bytes.
	Seed uint64
	// Start is the time of the first event; zero means DefaultStart.
	Start time.Time
	// Templates, when set, limits the copies to the templates so named:
	// a name, or a capture's name for all its groups ("asterisk20/S14").
	// A name after a minus leaves those out ("-asterisk20/S19"); a list
	// of only such names starts from all the templates. TemplateNames
	// lists them.
	Templates []string
	// Observe, when set, is called as each copy of a template ends, in
	// the order they end. It is for tests: it costs a map per copy.
	Observe func(Copy)
}

// DefaultStart is when streams begin unless told otherwise.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// DefaultOptions are a small stream: 1,000 calls, 50 at a time.
func DefaultOptions() Options {
	return Options{Calls: 1000, Concurrency: 50, Seed: 1}
}

// Validate checks the options.
func (o Options) Validate() error {
	var errs []error
	if o.Calls < 1 {
		errs = append(errs, fmt.Errorf("gen: calls %d: want at least 1", o.Calls))
	}
	if o.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("gen: concurrency %d: want at least 1", o.Concurrency))
	}
	return errors.Join(errs...)
}

// A Copy is one copy of a template in a stream.
type Copy struct {
	Seq      int    // 0 for the first copy started
	Template string // the template's name: capture, and group number
	Calls    int    // calls the engine makes of it
	Start    time.Time
	End      time.Time
	// UIDs maps the template's uniqueids to the copy's.
	UIDs map[string]string
}

// Stats describe a written stream.
type Stats struct {
	Calls  int64 // calls, as the engine counts them
	Copies int64 // copies of templates
	Events int64
	Bytes  int64
	// MaxLive is the most calls in progress at once; a call is in
	// progress from its copy's first event to its last.
	MaxLive    int
	Start, End time.Time // first and last event
}

// Banner and login response that open every stream, as in a capture.
const (
	banner = "Asterisk Call Manager/9.0.0\r\n"
	login  = "Response: Success\r\nActionID: gen-login\r\nMessage: Authentication accepted\r\n\r\n"
)

// numberBase is the first phone number given to copies; a copy's block
// of numbers is numberBase + block*stride + slot.
const numberBase = 2_000_000

// Write writes a stream to w.
func Write(w io.Writer, opts Options) (Stats, error) {
	if err := opts.Validate(); err != nil {
		return Stats{}, err
	}
	ts, err := templates()
	if err != nil {
		return Stats{}, err
	}
	if ts, err = selectTemplates(ts, opts.Templates); err != nil {
		return Stats{}, err
	}
	g := newGenerator(ts, opts)
	bw := bufio.NewWriterSize(w, 1<<20)
	err = g.run(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return g.stats, err
}

// selectTemplates returns the templates named, by their own name or their
// capture's.
func selectTemplates(ts []*template, names []string) ([]*template, error) {
	if len(names) == 0 {
		return ts, nil
	}
	named := func(t *template, n string) bool { return t.name == n || strings.HasPrefix(t.name, n+"#") }
	var in, out []string
	for _, n := range names {
		if x, ok := strings.CutPrefix(n, "-"); ok {
			out = append(out, x)
		} else {
			in = append(in, n)
		}
	}
	for _, n := range append(in[:len(in):len(in)], out...) {
		if !slices.ContainsFunc(ts, func(t *template) bool { return named(t, n) }) {
			return nil, fmt.Errorf("gen: no template %q", n)
		}
	}
	var sel []*template
	for _, t := range ts {
		if len(in) > 0 && !slices.ContainsFunc(in, func(n string) bool { return named(t, n) }) {
			continue
		}
		if slices.ContainsFunc(out, func(n string) bool { return named(t, n) }) {
			continue
		}
		sel = append(sel, t)
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("gen: templates %v leave none", names)
	}
	return sel, nil
}

// generator merges the copies in progress, one heap of copies keyed by
// the time of their next event.
type generator struct {
	opts     Options
	ts       []*template
	rng      *rand.Rand
	meanGap  float64 // µs between copy starts
	stride   int64   // numbers per block
	maxCalls int

	heap     []*instance
	next     *instance // the next copy to start
	seq      int
	left     int // calls not yet started
	freeBlks []int64
	blocks   int64
	live     int

	channels, uids, bridges uint64 // counters across the stream
	lasting                 map[lastingBridge]uint64
	buf                     []byte
	stats                   Stats
}

// A lastingBridge is a template's bridge that all its copies share.
type lastingBridge struct {
	t    *template
	slot int32
}

type instance struct {
	t     *template
	seq   int
	start int64 // µs since the epoch
	block int64
	ev    int // next event
	// counters: per channel slot its counter; per uid slot its counter
	// and the second it was given; per bridge slot its counter. Zero
	// until first written.
	chans, uids, uidSecs, bridges []uint64
}

func (in *instance) nextAt() int64 { return in.start + in.t.evs[in.ev].at }

func newGenerator(ts []*template, opts Options) *generator {
	g := &generator{
		opts:    opts,
		ts:      ts,
		rng:     rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		left:    opts.Calls,
		lasting: make(map[lastingBridge]uint64),
	}
	// Little's law: calls in progress = rate of calls × how long each
	// lasts. A copy of c calls lasting d holds about c·d call-seconds.
	var callTime float64
	for _, t := range ts {
		callTime += float64(t.calls) * float64(t.span)
		g.stride = max(g.stride, int64(len(t.numbers)))
		g.maxCalls = max(g.maxCalls, t.calls)
	}
	callTime /= float64(len(ts))
	g.meanGap = callTime / float64(opts.Concurrency)
	start := opts.Start
	if start.IsZero() {
		start = DefaultStart
	}
	g.next = g.newInstance(start.UnixMicro())
	return g
}

// pick chooses the next copy's template: any of them, or near the end
// only those that fit in the calls left. When none fits (a selection of
// templates that all make several calls) it takes the smallest, and the
// stream has a few calls more than asked.
func (g *generator) pick() *template {
	if g.left >= g.maxCalls {
		return g.ts[g.rng.IntN(len(g.ts))]
	}
	n := 0
	for _, t := range g.ts {
		if t.calls <= g.left {
			n++
		}
	}
	if n == 0 {
		return slices.MinFunc(g.ts, func(a, b *template) int { return a.calls - b.calls })
	}
	k := g.rng.IntN(n)
	for _, t := range g.ts {
		if t.calls <= g.left {
			if k == 0 {
				return t
			}
			k--
		}
	}
	panic("unreachable")
}

func (g *generator) newInstance(start int64) *instance {
	if g.left <= 0 {
		return nil
	}
	t := g.pick()
	g.left -= t.calls
	in := &instance{
		t:       t,
		seq:     g.seq,
		start:   start,
		chans:   make([]uint64, len(t.channels)),
		uids:    make([]uint64, len(t.uids)),
		uidSecs: make([]uint64, len(t.uids)),
		bridges: make([]uint64, len(t.bridges)),
	}
	g.seq++
	return in
}

// begin puts the next copy in progress and draws the one after it.
func (g *generator) begin() {
	in := g.next
	if n := len(g.freeBlks); n > 0 {
		in.block = g.freeBlks[0]
		g.freeBlks = g.freeBlks[1:]
	} else {
		in.block = g.blocks
		g.blocks++
	}
	g.live += in.t.calls
	g.stats.MaxLive = max(g.stats.MaxLive, g.live)
	g.stats.Copies++
	g.stats.Calls += int64(in.t.calls)
	g.push(in)
	gap := int64(g.rng.ExpFloat64() * g.meanGap)
	g.next = g.newInstance(in.start + gap)
}

func (g *generator) end(in *instance) {
	g.live -= in.t.calls
	g.freeBlks = append(g.freeBlks, in.block)
	if g.opts.Observe != nil {
		c := Copy{
			Seq:      in.seq,
			Template: in.t.name,
			Calls:    in.t.calls,
			Start:    time.UnixMicro(in.start).UTC(),
			End:      time.UnixMicro(in.start + in.t.span).UTC(),
			UIDs:     make(map[string]string, len(in.uids)),
		}
		for i, u := range in.t.uids {
			if in.uids[i] != 0 { // written: observing must not draw new ids
				c.UIDs[u] = string(g.appendUID(nil, in, int32(i), 0))
			}
		}
		g.opts.Observe(c)
	}
}

func (g *generator) run(w *bufio.Writer) error {
	w.WriteString(banner)
	w.WriteString(login)
	g.stats.Bytes = int64(len(banner) + len(login))
	first := true
	for {
		for g.next != nil && (len(g.heap) == 0 || g.next.start <= g.heap[0].nextAt()) {
			g.begin()
		}
		if len(g.heap) == 0 {
			return nil
		}
		in := g.heap[0]
		at := in.nextAt()
		if first {
			g.stats.Start = time.UnixMicro(at).UTC()
			first = false
		}
		g.stats.End = time.UnixMicro(at).UTC()
		if ev := &in.t.evs[in.ev]; ev.creates == 0 || !g.created(in, ev.creates-1) {
			g.buf = g.appendEvent(g.buf[:0], in, ev, at)
			if _, err := w.Write(g.buf); err != nil {
				return err
			}
			g.stats.Bytes += int64(len(g.buf))
			g.stats.Events++
		}
		in.ev++
		if in.ev == len(in.t.evs) {
			g.pop()
			g.end(in)
			continue
		}
		g.down(0)
	}
}

// appendEvent writes one event of a copy.
func (g *generator) appendEvent(b []byte, in *instance, ev *tevent, at int64) []byte {
	for i := range ev.segs {
		s := &ev.segs[i]
		switch s.kind {
		case segLit:
			b = append(b, s.lit...)
		case segTime:
			b = appendTime(b, at)
		case segNumber:
			b = strconv.AppendInt(b, numberBase+in.block*g.stride+int64(s.slot), 10)
		case segConf:
			b = append(b, in.t.confs[s.slot]...)
			b = append(b, '_')
			b = strconv.AppendInt(b, in.block, 10)
		case segCounter:
			c := in.chans[s.slot]
			if c == 0 {
				g.channels++
				c = g.channels
				in.chans[s.slot] = c
			}
			b = appendHex(b, c, counterLen)
		case segClock:
			b = appendTime(b, at+s.delta)
		case segClockSec:
			b = strconv.AppendInt(b, (at+s.delta)/1e6, 10)
		case segUID:
			b = g.appendUID(b, in, s.slot, at)
		case segBridge:
			c := in.bridges[s.slot]
			if c == 0 {
				c = g.bridgeCounter(in.t, s.slot)
				in.bridges[s.slot] = c
			}
			b = g.appendBridge(b, c)
		}
	}
	return b
}

// created reports whether a lasting bridge has been created by an
// earlier copy, and gives this copy its counter.
func (g *generator) created(in *instance, slot int32) bool {
	_, ok := g.lasting[lastingBridge{in.t, slot}]
	if ok {
		in.bridges[slot] = g.bridgeCounter(in.t, slot)
	}
	return ok
}

// bridgeCounter gives a copy's bridge its counter: a new one, or for a
// lasting bridge the one all copies of the template share.
func (g *generator) bridgeCounter(t *template, slot int32) uint64 {
	if !t.lasting[slot] {
		g.bridges++
		return g.bridges
	}
	k := lastingBridge{t, slot}
	c, ok := g.lasting[k]
	if !ok {
		g.bridges++
		c = g.bridges
		g.lasting[k] = c
	}
	return c
}

// appendUID writes a uniqueid as Asterisk makes them: the second the
// channel was made, a dot, a counter across all channels.
func (g *generator) appendUID(b []byte, in *instance, slot int32, at int64) []byte {
	c := in.uids[slot]
	if c == 0 {
		c = g.uids
		g.uids++
		in.uids[slot] = c + 1
		in.uidSecs[slot] = uint64(at / 1e6)
	} else {
		c--
	}
	b = strconv.AppendUint(b, in.uidSecs[slot], 10)
	b = append(b, '.')
	return strconv.AppendUint(b, c, 10)
}

// appendBridge writes a bridge uniqueid, a UUID drawn from the seed and
// the bridge's counter.
func (g *generator) appendBridge(b []byte, c uint64) []byte {
	x := splitmix(g.opts.Seed ^ c*0x9e3779b97f4a7c15)
	y := splitmix(x ^ c)
	b = appendHex(b, x>>32, 8)
	b = append(b, '-')
	b = appendHex(b, x>>16&0xffff, 4)
	b = append(b, '-')
	b = appendHex(b, 0x4000|x&0x0fff, 4)
	b = append(b, '-')
	b = appendHex(b, 0x8000|y>>48&0x3fff, 4)
	b = append(b, '-')
	return appendHex(b, y&0xffffffffffff, 12)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, v uint64, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, hexDigits[v>>(4*uint(i))&0xf])
	}
	return b
}

// appendTime writes an AMI Timestamp: seconds, a dot, six digits.
func appendTime(b []byte, us int64) []byte {
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// The heap of copies in progress, by (next event time, seq).

func (g *generator) less(a, b *instance) bool {
	ta, tb := a.nextAt(), b.nextAt()
	return ta < tb || ta == tb && a.seq < b.seq
}

func (g *generator) push(in *instance) {
	g.heap = append(g.heap, in)
	i := len(g.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !g.less(g.heap[i], g.heap[p]) {
			break
		}
		g.heap[i], g.heap[p] = g.heap[p], g.heap[i]
		i = p
	}
}

func (g *generator) pop() {
	n := len(g.heap) - 1
	g.heap[0] = g.heap[n]
	g.heap[n] = nil
	g.heap = g.heap[:n]
	if n > 0 {
		g.down(0)
	}
}

func (g *generator) down(i int) {
	h := g.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && g.less(h[r], h[l]) {
			j = r
		}
		if !g.less(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
