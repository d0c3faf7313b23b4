//go:build unix

package benchutil

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user + system) this process has used; 0 if the system cannot say.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
