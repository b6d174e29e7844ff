package ami

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const min, max = 100 * time.Millisecond, 2 * time.Second
	for attempts, want := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		want *= time.Millisecond
		seen := map[time.Duration]bool{}
		for range 100 {
			d := backoff(attempts, min, max)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempts, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("backoff(%d): %d distinct waits in 100, want jitter", attempts, len(seen))
		}
	}
	for _, attempts := range []int{31, 32, 63, 64, 1000} {
		if d := backoff(attempts, min, max); d < max/2 || d > max {
			t.Errorf("backoff(%d) = %v, want at most %v", attempts, d, max)
		}
	}
}
