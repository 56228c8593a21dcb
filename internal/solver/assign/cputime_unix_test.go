//go:build unix

package assign

import (
	"syscall"
	"time"
)

// processCPU is the user plus system CPU time the process has used. On a
// shared machine it is steadier than wall time, so the benchmarks report
// both.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
