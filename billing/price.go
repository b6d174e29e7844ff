package billing

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// RoundingMode says which way money is rounded to a plan's decimals.
type RoundingMode int

// Rounding modes. Amounts are never negative, so "up" is away from zero
// (a ceiling) and "down" toward it (truncation).
const (
	// RoundUp charges any fraction of the smallest unit as a whole one.
	RoundUp RoundingMode = iota + 1
	// RoundHalfUp rounds to the nearest unit, halves up.
	RoundHalfUp
	// RoundDown drops any fraction of the smallest unit.
	RoundDown
	// RoundHalfEven rounds to the nearest unit, halves to the even one
	// (banker's rounding).
	RoundHalfEven
)

var roundingNames = map[RoundingMode]string{
	RoundUp:       "up",
	RoundHalfUp:   "half-up",
	RoundDown:     "down",
	RoundHalfEven: "half-even",
}

// String returns the mode as rate files write it.
func (m RoundingMode) String() string {
	if s, ok := roundingNames[m]; ok {
		return s
	}
	return fmt.Sprintf("RoundingMode(%d)", int(m))
}

// ParseRoundingMode reads a mode as rate files write it: up, half-up,
// down or half-even.
func ParseRoundingMode(s string) (RoundingMode, error) {
	for m, name := range roundingNames {
		if s == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("billing: unknown rounding mode %q (want up, half-up, down or half-even)", s)
}

// Rounding is how a plan rounds money: the mode, to Decimals places.
type Rounding struct {
	Mode     RoundingMode
	Decimals int32
}

// Round rounds a non-negative amount.
func (r Rounding) Round(amount decimal.Decimal) decimal.Decimal {
	return r.quo(amount, decimal.NewFromInt(1))
}

// quo returns num/den rounded, computed exactly: the rounding decision
// is taken on the exact remainder, never on a truncated quotient.
// num must not be negative and den must be positive.
func (r Rounding) quo(num, den decimal.Decimal) decimal.Decimal {
	q, rem := num.QuoRem(den, r.Decimals)
	if rem.IsZero() {
		return q
	}
	unit := decimal.New(1, -r.Decimals)
	// half of den in the remainder's units: rem is in [0, den×unit).
	half := den.Mul(unit).Div(decimal.NewFromInt(2))
	up := false
	switch r.Mode {
	case RoundUp:
		up = true
	case RoundDown:
		up = false
	case RoundHalfUp:
		up = rem.Cmp(half) >= 0
	case RoundHalfEven:
		switch rem.Cmp(half) {
		case 1:
			up = true
		case 0:
			up = q.Shift(r.Decimals).BigInt().Bit(0) == 1
		}
	}
	if up {
		q = q.Add(unit)
	}
	return q
}

// A Charge is what a leg costs under one row of a plan.
type Charge struct {
	// BilledSeconds is the leg's time rounded up to the increments.
	BilledSeconds int64
	// Units is how many increments (steps) that is.
	Units int64
	// Cost is the money, rounded by the plan.
	Cost decimal.Decimal
}

var sixty = decimal.NewFromInt(60)

// exact prices a leg that lasted d: the billed seconds and steps, and the
// cost before money rounding, in sixtieths (the price of a second at a
// per-minute price): a leg of 0 costs nothing; any other pays each
// group's steps, the connect fee, and at least the minimum.
func (r *Row) exact(d time.Duration) (billed, units int64, sixtieths decimal.Decimal) {
	if d <= 0 {
		return 0, 0, decimal.Zero
	}
	for i, g := range r.Groups {
		start := time.Duration(g.From) * time.Second
		if d <= start {
			break
		}
		part := d - start
		if i+1 < len(r.Groups) {
			part = min(part, time.Duration(r.Groups[i+1].From-g.From)*time.Second)
		}
		step := time.Duration(g.Step) * time.Second
		n := int64((part + step - 1) / step)
		units += n
		billed += n * g.Step
		sixtieths = sixtieths.Add(g.Price.Mul(decimal.NewFromInt(n * g.Step)))
	}
	sixtieths = sixtieths.Add(r.ConnectFee.Mul(sixty))
	if m := r.Minimum.Mul(sixty); sixtieths.LessThan(m) {
		sixtieths = m
	}
	return billed, units, sixtieths
}

// charge prices a leg that lasted d under the row, rounded by rounding.
func (r *Row) charge(rounding Rounding, d time.Duration) Charge {
	billed, units, s := r.exact(d)
	return Charge{BilledSeconds: billed, Units: units, Cost: rounding.quo(s, sixty)}
}

// slice prices the part [from, to) of a leg as the difference of what the
// leg would cost had it ended at to and at from: slices of one leg add up
// to exactly the leg's charge, the connect fee and minimum fall in the
// slice that starts at 0, and increments and groups run on the leg's
// clock.
func (r *Row) slice(rounding Rounding, from, to time.Duration) Charge {
	a, b := r.charge(rounding, from), r.charge(rounding, to)
	return Charge{
		BilledSeconds: b.BilledSeconds - a.BilledSeconds,
		Units:         b.Units - a.Units,
		Cost:          b.Cost.Sub(a.Cost),
	}
}

// NoLimit is what MaxSeconds returns when no length of call would cost
// more than the balance (the row is free from some point on).
const NoLimit int64 = 1<<63 - 1

// maxProbe bounds the search for the longest affordable call: about 136
// years, beyond which the call is treated as unlimited.
const maxProbe int64 = 1 << 32

// maxSeconds returns the longest call, in whole seconds, whose charge
// does not exceed balance.
func (r *Row) maxSeconds(rounding Rounding, balance decimal.Decimal) int64 {
	affordable := func(s int64) bool {
		return r.charge(rounding, time.Duration(s)*time.Second).Cost.LessThanOrEqual(balance)
	}
	if balance.IsNegative() {
		return 0
	}
	if affordable(maxProbe) {
		return NoLimit
	}
	lo, hi := int64(0), int64(1) // affordable(lo), !affordable(hi) once hi is found
	for affordable(hi) {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if affordable(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
