package reports

import (
	"errors"
	"fmt"
	"time"

	"github.com/calltrail/calltrail/reports/causes"
)

// An Interval is the width of the time buckets a report is broken into.
type Interval string

// Intervals.
const (
	NoInterval Interval = ""
	Hour       Interval = "hour"
	Day        Interval = "day"
)

// Options tune the reports. The zero value is not ready for use: start
// from DefaultOptions.
type Options struct {
	// Interval breaks the queue and KPI reports into hours or days
	// (by the time a call started or a caller joined a queue).
	Interval Interval
	// Location is the time zone intervals are cut in; nil means UTC.
	Location *time.Location
	// ServiceLevel is the target T of the queue service level: a caller
	// answered within T counts as answered in time.
	ServiceLevel time.Duration
	// PrefixDigits is how many leading digits of the dialled number make
	// a destination prefix when Prefixes is empty.
	PrefixDigits int
	// Prefixes, when set, are the destination prefixes to report on: a
	// number goes to the longest that matches, or to "other".
	Prefixes []string
	// Trunks names the endpoints ("SIP/trunk", "PJSIP/provider") that are
	// trunks. When empty, an endpoint is taken for a trunk when the party
	// on it is not the endpoint's own name (SIP/trunk carrying
	// +15551234567), which is how phones and trunks differ in a default
	// Asterisk setup.
	Trunks []string
	// Quality holds the thresholds that flag poor and bad audio.
	Quality Thresholds
	// Language of the cause explanations ("en", "ru").
	Language string
}

// DefaultOptions returns the options reports use unless told otherwise:
// no intervals, UTC, a 20 s service level target, 3-digit prefixes, the
// documented quality thresholds, English.
func DefaultOptions() Options {
	return Options{
		ServiceLevel: 20 * time.Second,
		PrefixDigits: 3,
		Quality:      DefaultThresholds(),
		Language:     causes.DefaultLanguage,
	}
}

// Validate reports the first option that cannot be used.
func (o Options) Validate() error {
	switch o.Interval {
	case NoInterval, Hour, Day:
	default:
		return fmt.Errorf("reports: unknown interval %q (want hour or day)", o.Interval)
	}
	if o.ServiceLevel <= 0 {
		return errors.New("reports: service level target must be positive")
	}
	if o.PrefixDigits < 1 && len(o.Prefixes) == 0 {
		return errors.New("reports: prefix digits must be at least 1")
	}
	return o.Quality.Validate()
}

func (o Options) loc() *time.Location {
	if o.Location == nil {
		return time.UTC
	}
	return o.Location
}

// bucket returns the start of the interval t falls in and its label, or
// the zero time and "" without intervals.
func (o Options) bucket(t time.Time) (time.Time, string) {
	t = t.In(o.loc())
	switch o.Interval {
	case Hour:
		s := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, t.Location())
		return s, s.Format("2006-01-02 15:00")
	case Day:
		s := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
		return s, s.Format("2006-01-02")
	}
	return time.Time{}, ""
}
