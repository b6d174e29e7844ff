package bench

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/calltrail/calltrail/billing"
	"github.com/calltrail/calltrail/internal/gen"
)

// The stream the benchmarks replay: 2,000 calls, 100 at a time (about
// 180,000 events, 80 MB), made once.
var (
	streamOnce sync.Once
	stream     []byte
	streamErr  error
)

func benchStream(tb testing.TB) []byte {
	tb.Helper()
	streamOnce.Do(func() {
		var b bytes.Buffer
		_, streamErr = gen.Write(&b, gen.Options{Calls: 2000, Concurrency: 100, Seed: 1})
		stream = b.Bytes()
	})
	if streamErr != nil {
		tb.Fatal(streamErr)
	}
	return stream
}

func testRater(tb testing.TB, legs string) *billing.Rater {
	tb.Helper()
	rates, err := billing.LoadRates("../configs/rates.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := billing.DefaultConfig()
	cfg.Legs, cfg.Trunks = legs, []string{"SIP/trunk*", "PJSIP/trunk*"}
	r, err := billing.NewRater(rates, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// benchReplay replays the stream once per iteration and reports the cost
// per event.
func benchReplay(b *testing.B, cfg Config) {
	data := benchStream(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var events, mallocs int64
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		res, err := Replay(context.Background(), bytes.NewReader(data), cfg)
		if err != nil {
			b.Fatal(err)
		}
		events += res.Events
		mallocs += int64(res.Mallocs)
		cpu += res.CPU
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(mallocs)/float64(events), "allocs/event")
	if cpu > 0 {
		b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
	}
}

func BenchmarkParse(b *testing.B)  { benchReplay(b, Config{Stage: Parse}) }
func BenchmarkEngine(b *testing.B) { benchReplay(b, Config{Stage: Engine}) }
func BenchmarkBilling(b *testing.B) {
	benchReplay(b, Config{Stage: Billing, Rater: testRater(b, billing.BillTrunks)})
}
func BenchmarkBillingAll(b *testing.B) {
	benchReplay(b, Config{Stage: Billing, Rater: testRater(b, billing.BillAll)})
}

// BenchmarkGen measures the generator itself.
func BenchmarkGen(b *testing.B) {
	b.ReportAllocs()
	var events int64
	for b.Loop() {
		st, err := gen.Write(io.Discard, gen.Options{Calls: 2000, Concurrency: 100, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		events += st.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestReplay checks the stages on a small stream: every call completes,
// billing prices some, memory is sampled.
func TestReplay(t *testing.T) {
	var b bytes.Buffer
	st, err := gen.Write(&b, gen.Options{Calls: 300, Concurrency: 30, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	for _, cfg := range []Config{
		{Stage: Parse},
		{Stage: Engine, SampleEvery: 5000},
		{Stage: Billing, Rater: testRater(t, billing.BillTrunks)},
		{Stage: Billing, Rater: testRater(t, billing.BillAll), SampleEvery: 5000, GC: true},
	} {
		res, err := Replay(context.Background(), bytes.NewReader(data), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want := st.Events + 1; res.Events != want { // the login response too
			t.Errorf("%s: %d messages, want %d", cfg.Stage, res.Events, want)
		}
		if res.Bytes != int64(len(data)) {
			t.Errorf("%s: read %d bytes of %d", cfg.Stage, res.Bytes, len(data))
		}
		if cfg.Stage != Parse && res.Calls != st.Calls {
			t.Errorf("%s: %d calls, want %d", cfg.Stage, res.Calls, st.Calls)
		}
		if cfg.Stage == Billing && res.Billed == 0 {
			t.Errorf("%s: nothing billed", cfg.Stage)
		}
		if cfg.SampleEvery > 0 {
			if len(res.Samples) == 0 {
				t.Fatalf("%s: no samples", cfg.Stage)
			}
			if res.Samples[0].OpenLegs == 0 {
				t.Errorf("%s: no legs open at the first sample", cfg.Stage)
			}
		}
		if cfg.GC {
			if _, ok := HeapPerLeg(res); !ok {
				t.Errorf("no heap per leg")
			}
		}
	}
}
