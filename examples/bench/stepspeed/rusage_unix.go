//go:build unix

package stepspeed

import (
	"syscall"
	"time"
)

// processUsage returns this process's CPU time (user and system, every thread) and minor page
// faults so far (getrusage(RUSAGE_SELF)); ok is false where the call fails.
func processUsage() (u usage, ok bool) {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return u, false
	}
	return usage{User: time.Duration(r.Utime.Nano()), Sys: time.Duration(r.Stime.Nano()), MinorFaults: int64(r.Minflt)}, true
}
