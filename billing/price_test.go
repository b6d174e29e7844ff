package billing

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestRoundingModes(t *testing.T) {
	tests := []struct {
		amount   string
		decimals int32
		mode     RoundingMode
		want     string
	}{
		// a fraction below half
		{"1.231", 2, RoundUp, "1.24"},
		{"1.231", 2, RoundHalfUp, "1.23"},
		{"1.231", 2, RoundDown, "1.23"},
		{"1.231", 2, RoundHalfEven, "1.23"},
		// a fraction above half
		{"1.239", 2, RoundUp, "1.24"},
		{"1.239", 2, RoundHalfUp, "1.24"},
		{"1.239", 2, RoundDown, "1.23"},
		{"1.239", 2, RoundHalfEven, "1.24"},
		// exactly half, after an odd digit and after an even one
		{"1.235", 2, RoundHalfUp, "1.24"},
		{"1.235", 2, RoundHalfEven, "1.24"},
		{"1.245", 2, RoundHalfUp, "1.25"},
		{"1.245", 2, RoundHalfEven, "1.24"},
		{"1.245", 2, RoundDown, "1.24"},
		{"1.245", 2, RoundUp, "1.25"},
		// just past half: never a tie
		{"1.2450000001", 2, RoundHalfEven, "1.25"},
		// already exact: no mode moves it
		{"1.23", 2, RoundUp, "1.23"},
		{"1.23", 2, RoundDown, "1.23"},
		{"1.23", 2, RoundHalfEven, "1.23"},
		// whole units
		{"2.5", 0, RoundHalfEven, "2"},
		{"3.5", 0, RoundHalfEven, "4"},
		{"2.5", 0, RoundHalfUp, "3"},
		{"0.0001", 0, RoundUp, "1"},
		{"0", 4, RoundUp, "0"},
	}
	for _, tt := range tests {
		r := Rounding{Mode: tt.mode, Decimals: tt.decimals}
		got := r.Round(dec(tt.amount))
		if !got.Equal(dec(tt.want)) {
			t.Errorf("%s rounded %s to %d: got %s, want %s", tt.amount, tt.mode, tt.decimals, got, tt.want)
		}
	}
}

// TestRoundingQuotient checks that rounding decides on the exact quotient
// of a division by 60 (per-minute prices), not a truncated one.
func TestRoundingQuotient(t *testing.T) {
	tests := []struct {
		num      string
		decimals int32
		mode     RoundingMode
		want     string
	}{
		{"1", 4, RoundUp, "0.0167"}, // 0.01666…
		{"1", 4, RoundDown, "0.0166"},
		{"1", 4, RoundHalfUp, "0.0167"},
		{"1", 4, RoundHalfEven, "0.0167"},
		{"0.03", 3, RoundHalfUp, "0.001"}, // 0.0005: a tie
		{"0.03", 3, RoundHalfEven, "0"},
		{"0.09", 3, RoundHalfEven, "0.002"}, // 0.0015: a tie after an odd digit
		{"0.090000000000000000001", 3, RoundHalfEven, "0.002"},
		{"0.089999999999999999999", 3, RoundHalfEven, "0.001"},
		{"0.089999999999999999999", 3, RoundHalfUp, "0.001"},
		{"120", 2, RoundUp, "2"},
	}
	for _, tt := range tests {
		r := Rounding{Mode: tt.mode, Decimals: tt.decimals}
		got := r.quo(dec(tt.num), sixty)
		if !got.Equal(dec(tt.want)) {
			t.Errorf("%s/60 rounded %s to %d: got %s, want %s", tt.num, tt.mode, tt.decimals, got, tt.want)
		}
	}
}

func TestParseRoundingMode(t *testing.T) {
	for _, m := range []RoundingMode{RoundUp, RoundHalfUp, RoundDown, RoundHalfEven} {
		got, err := ParseRoundingMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseRoundingMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	if _, err := ParseRoundingMode("ceiling"); err == nil {
		t.Error(`ParseRoundingMode("ceiling"): no error`)
	}
}

// row builds a row priced price per minute in increments a/b.
func row(price string, a, b int64, connect, minimum string) *Row {
	r := &Row{
		Groups:     []Group{{From: 0, Step: a, Price: dec(price)}, {From: a, Step: b, Price: dec(price)}},
		ConnectFee: dec(connect),
		Minimum:    dec(minimum),
	}
	r.Increment = increment(r.Groups)
	return r
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

var up4 = Rounding{Mode: RoundUp, Decimals: 4}

func TestCharge(t *testing.T) {
	perSecond := row("0.60", 1, 1, "0", "0")      // 0.01 a second
	perMinute := row("0.60", 60, 60, "0", "0")    // 0.60 a minute
	thirtySix := row("0.60", 30, 6, "0", "0")     // 30/6
	sixSix := row("0.60", 6, 6, "0", "0")         // 6/6
	sixtyOne := row("0.60", 60, 1, "0", "0")      // 60/1
	withFee := row("0.60", 1, 1, "0.05", "0")     // connect fee
	withMinimum := row("0.60", 1, 1, "0", "0.25") // minimum
	feeAndMinimum := row("0.60", 1, 1, "0.05", "0.25")
	groups := &Row{Groups: []Group{ // first minute at 0.30, then 0.12 a minute by the second
		{From: 0, Step: 60, Price: dec("0.30")},
		{From: 60, Step: 1, Price: dec("0.12")},
	}}
	threeGroups := &Row{Groups: []Group{ // 30 s steps for 2 min, then 10 s steps at half price
		{From: 0, Step: 30, Price: dec("0.60")},
		{From: 120, Step: 10, Price: dec("0.30")},
	}}

	tests := []struct {
		name   string
		row    *Row
		d      time.Duration
		billed int64
		units  int64
		cost   string
	}{
		{"0 s costs nothing", perSecond, 0, 0, 0, "0"},
		{"0 s pays no connect fee", withFee, 0, 0, 0, "0"},
		{"0 s pays no minimum", withMinimum, 0, 0, 0, "0"},
		{"1 ms is a whole second", perSecond, ms(1), 1, 1, "0.01"},
		{"1 s", perSecond, ms(1000), 1, 1, "0.01"},
		{"one ms past 1 s", perSecond, ms(1001), 2, 2, "0.02"},
		{"1/1 billsec 11.015", perSecond, ms(11015), 12, 12, "0.12"},
		{"60/60 1 s", perMinute, ms(1000), 60, 1, "0.60"},
		{"60/60 exactly a minute", perMinute, ms(60000), 60, 1, "0.60"},
		{"60/60 one ms past a minute", perMinute, ms(60001), 120, 2, "1.20"},
		{"30/6 10 s is 30 s", thirtySix, ms(10000), 30, 1, "0.30"},
		{"30/6 exactly 30 s", thirtySix, ms(30000), 30, 1, "0.30"},
		{"30/6 31 s is 36 s", thirtySix, ms(31000), 36, 2, "0.36"},
		{"30/6 one ms past 36 s", thirtySix, ms(36001), 42, 3, "0.42"},
		{"6/6 10 s is 12 s", sixSix, ms(10000), 12, 2, "0.12"},
		{"60/1 1 s is a minute", sixtyOne, ms(1000), 60, 1, "0.60"},
		{"60/1 61.5 s", sixtyOne, ms(61500), 62, 3, "0.62"},
		{"connect fee", withFee, ms(10000), 10, 10, "0.15"},
		{"minimum lifts a short call", withMinimum, ms(5000), 5, 5, "0.25"},
		{"minimum exactly met", withMinimum, ms(25000), 25, 25, "0.25"},
		{"minimum passed", withMinimum, ms(25001), 26, 26, "0.26"},
		{"minimum counts the connect fee", feeAndMinimum, ms(10000), 10, 10, "0.25"},
		{"minimum passed with connect fee", feeAndMinimum, ms(21000), 21, 21, "0.26"},
		{"groups: 1 s pays the first minute", groups, ms(1000), 60, 1, "0.30"},
		{"groups: exactly the first minute", groups, ms(60000), 60, 1, "0.30"},
		{"groups: one ms into the second group", groups, ms(60001), 61, 2, "0.302"},
		{"groups: 90 s", groups, ms(90000), 90, 31, "0.36"},
		{"three steps: 2 min on the boundary", threeGroups, ms(120000), 120, 4, "1.20"},
		{"three steps: 125 s", threeGroups, ms(125000), 130, 5, "1.25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.row.charge(up4, tt.d)
			if got.BilledSeconds != tt.billed || got.Units != tt.units || !got.Cost.Equal(dec(tt.cost)) {
				t.Errorf("charge(%v) = %d s, %d units, %s; want %d s, %d units, %s",
					tt.d, got.BilledSeconds, got.Units, got.Cost, tt.billed, tt.units, tt.cost)
			}
		})
	}
}

// TestSlicesAddUp checks that however a leg is cut into slices, their
// seconds, units and money add up to the leg's own charge.
func TestSlicesAddUp(t *testing.T) {
	rows := []*Row{
		row("0.036", 12, 6, "0.01", "0"),
		row("0.60", 60, 60, "0.05", "0.25"),
		row("0.013", 30, 6, "0", "0.02"),
		{Groups: []Group{{From: 0, Step: 60, Price: dec("0.30")}, {From: 60, Step: 1, Price: dec("0.12")}}},
	}
	roundings := []Rounding{up4, {RoundHalfEven, 2}, {RoundDown, 3}, {RoundHalfUp, 2}}
	cuts := [][]time.Duration{
		{ms(250000)},
		{ms(130000), ms(250000)},
		{ms(1), ms(11014), ms(16720)},
		{ms(5), ms(59999), ms(60000), ms(60001), ms(61000), ms(185432)},
	}
	for i, r := range rows {
		for _, rd := range roundings {
			for _, cut := range cuts {
				var sum Charge
				var from time.Duration
				for _, to := range cut {
					s := r.slice(rd, from, to)
					if s.Cost.IsNegative() || s.BilledSeconds < 0 || s.Units < 0 {
						t.Errorf("row %d, %v, slice %v–%v = %+v: negative", i, rd, from, to, s)
					}
					sum.BilledSeconds += s.BilledSeconds
					sum.Units += s.Units
					sum.Cost = sum.Cost.Add(s.Cost)
					from = to
				}
				whole := r.charge(rd, from)
				if sum.BilledSeconds != whole.BilledSeconds || sum.Units != whole.Units || !sum.Cost.Equal(whole.Cost) {
					t.Errorf("row %d, %v, cut at %v: slices add up to %d s, %d units, %s; the leg is %d s, %d units, %s",
						i, rd, cut, sum.BilledSeconds, sum.Units, sum.Cost, whole.BilledSeconds, whole.Units, whole.Cost)
				}
			}
		}
	}
}

func TestMaxSeconds(t *testing.T) {
	free := row("0", 1, 1, "0", "0")
	freeAfterFirstMinute := &Row{Groups: []Group{{From: 0, Step: 60, Price: dec("0.10")}, {From: 60, Step: 1, Price: dec("0")}}}
	groups := &Row{Groups: []Group{{From: 0, Step: 60, Price: dec("0.10")}, {From: 60, Step: 1, Price: dec("0.02")}}}
	tests := []struct {
		name    string
		row     *Row
		balance string
		want    int64
	}{
		{"60/60: whole minutes", row("0.01", 60, 60, "0", "0"), "0.05", 300},
		{"60/60: a minute short of the next", row("0.01", 60, 60, "0", "0"), "0.0599", 300},
		{"connect fee comes first", row("0.01", 60, 60, "0.01", "0"), "0.05", 240},
		{"minimum above the balance", row("0.01", 60, 60, "0", "0.10"), "0.05", 0},
		{"minimum exactly the balance", row("0.01", 60, 60, "0", "0.05"), "0.05", 300},
		{"30/6: the first step unaffordable", row("0.06", 30, 6, "0", "0"), "0.029", 0},
		{"30/6: the first step", row("0.06", 30, 6, "0", "0"), "0.03", 30},
		{"30/6: one more step", row("0.06", 30, 6, "0", "0"), "0.036", 36},
		{"1/1", row("0.06", 1, 1, "0", "0"), "1", 1000},
		{"groups", groups, "0.11", 90},
		{"zero balance", row("0.06", 1, 1, "0", "0"), "0", 0},
		{"negative balance", row("0.06", 1, 1, "0", "0"), "-1", 0},
		{"free", free, "0", NoLimit},
		{"free after the first minute", freeAfterFirstMinute, "0.10", NoLimit},
		{"free after an unaffordable first minute", freeAfterFirstMinute, "0.09", 0},
		{"a fortune at a tiny price", row("0.0001", 1, 1, "0", "0"), "1000000000", NoLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.row.maxSeconds(up4, dec(tt.balance))
			if got != tt.want {
				t.Fatalf("maxSeconds(%s) = %d, want %d", tt.balance, got, tt.want)
			}
			if got == NoLimit || got == 0 && dec(tt.balance).IsNegative() {
				return
			}
			// The answer is the edge: it is affordable, one second more is not.
			if c := tt.row.charge(up4, time.Duration(got)*time.Second).Cost; c.GreaterThan(dec(tt.balance)) {
				t.Errorf("a call of %d s costs %s, more than %s", got, c, tt.balance)
			}
			if c := tt.row.charge(up4, time.Duration(got+1)*time.Second).Cost; !c.GreaterThan(dec(tt.balance)) {
				t.Errorf("a call of %d s costs %s, within %s: not the longest", got+1, c, tt.balance)
			}
		})
	}
}
