//go:build linux

package matching

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is CLOCK_THREAD_CPUTIME_ID (Linux).
const clockThreadCPUTime = 3

// threadCPU is the CPU time of the calling thread, to the nanosecond. A
// benchmark that locks its goroutine to a thread measures its own CPU time
// with it, which a busy shared machine disturbs far less than wall time.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
