//go:build !unix

package benchutil

import "time"

// CPUTime is the CPU time this process has used; 0 here (no getrusage), so "cpu-ms/step" reads 0.
func CPUTime() time.Duration { return 0 }
