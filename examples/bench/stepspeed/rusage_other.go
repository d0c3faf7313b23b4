//go:build !unix

package stepspeed

// processUsage is not available on this platform (no getrusage): the CPU-time fields of the
// moeboost rows are left out.
func processUsage() (u usage, ok bool) { return u, false }
