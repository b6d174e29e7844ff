//go:build !unix

package bench

import "time"

// cpuTime is not measured here: results show no CPU time.
func cpuTime() time.Duration { return 0 }
