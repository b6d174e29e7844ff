package sim

import (
	"slices"
	"time"
)

// play sends the events, one at a time, to every subscribed connection.
// It stands still while it is paused or nobody listens, and then sends
// the next event at once: the recorded pace resumes from there.
//
// Each event is due at its distance in stream time from an anchor (the
// first timed event sent since the start or the last stand-still), not
// from the event before it: the small delay of every wait and write
// would otherwise add up, and a long stream would play far slower than
// asked (30 to 70 % at a thousand events a second). An event that is
// late goes out at once, so the stream catches up.
func (s *Server) play() {
	defer s.wg.Done()
	speed := s.Speed
	if speed <= 0 {
		speed = 1
	}
	var (
		anchorTime time.Time // timestamp of the event the pace counts from
		anchorAt   time.Time // when it went out
	)
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		i := s.cursor
		if i >= len(s.events) {
			close(s.done)
			s.changed()
			s.mu.Unlock()
			s.log().Info("sim: every event sent", "events", len(s.events))
			return
		}
		if s.pauseAt == i || (len(s.subs) == 0 && !s.Lossy) {
			if s.pauseAt == i && !s.paused {
				s.paused = true
				s.changed()
			}
			wake := s.wake
			s.mu.Unlock()
			<-wake
			anchorTime = time.Time{} // go on at once, at the recorded pace after that
			continue
		}
		if s.paused {
			s.paused = false
			s.changed()
		}
		wake := s.wake
		s.mu.Unlock()

		e := s.events[i]
		if !s.Fast && !e.Time.IsZero() && !anchorTime.IsZero() {
			due := anchorAt.Add(time.Duration(float64(e.Time.Sub(anchorTime)) / speed))
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-wake:
					t.Stop()
					continue // look again: paused, closed, or nobody left
				}
			}
		}

		s.mu.Lock()
		if s.closed || s.pauseAt == i || (len(s.subs) == 0 && !s.Lossy) {
			s.mu.Unlock()
			continue
		}
		subs := slices.Clone(s.subs)
		s.mu.Unlock()
		var got []*conn
		for _, c := range subs {
			if c.send(e.Raw, s.writeTimeout()) == nil {
				got = append(got, c)
			}
		}
		if len(got) == 0 && !s.Lossy {
			continue // everyone left while we wrote: the next client gets it
		}
		s.mu.Lock()
		for _, c := range got {
			if c.info.First < 0 {
				c.info.First = i
			}
			c.info.Next = i + 1
		}
		s.cursor = i + 1
		if !e.Time.IsZero() {
			s.now = e.Time
		}
		s.track(e, s.now)
		s.changed()
		s.mu.Unlock()
		if !e.Time.IsZero() && anchorTime.IsZero() {
			anchorTime, anchorAt = e.Time, time.Now()
		}
	}
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return 10 * time.Second
}
