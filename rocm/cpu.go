package rocm

import (
	"math"
	goruntime "runtime"
	"sync"
	"time"
)

// CPUBandwidth measures the host's memory bandwidth: threads goroutines
// (0: one per core) copy their share of a bytes-long buffer into another,
// best of reps, counting the read and the write (GB/s). It is the ceiling
// of a CPU build, and of an APU whose GPU shares this memory.
func CPUBandwidth(bytes uint64, threads, reps int) float64 {
	if threads <= 0 {
		threads = goruntime.NumCPU()
	}
	src, dst := make([]byte, bytes), make([]byte, bytes)
	for i := range src {
		src[i] = byte(i) // touch every page
	}
	copy(dst, src)
	chunk := (len(src) + threads - 1) / threads
	best := math.Inf(1)
	for range max(reps, 1) {
		var wg sync.WaitGroup
		t0 := time.Now()
		for t := range threads {
			lo, hi := t*chunk, min((t+1)*chunk, len(src))
			if lo >= hi {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				copy(dst[lo:hi], src[lo:hi])
			}()
		}
		wg.Wait()
		best = min(best, time.Since(t0).Seconds())
	}
	return 2 * float64(bytes) / best / 1e9
}
