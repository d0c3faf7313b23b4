package suite

import (
	"context"
	"runtime"
	"sync"
)

// RunParallel runs job(i) for every i in [0, n) on GOMAXPROCS workers behind a progress bar
// named name; a non-empty string returned by a job labels the bar after it. It stops handing
// out jobs once ctx is done and then returns ctx.Err(); jobs report their own errors.
func RunParallel(ctx context.Context, n int, name string, job func(i int) string) error {
	prog := NewProgress(n, name)
	defer prog.Done()
	var wg sync.WaitGroup
	var mu sync.Mutex
	work := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				desc := job(i)
				mu.Lock()
				prog.Add(1)
				if desc != "" {
					prog.Describe(desc)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return ctx.Err()
}
