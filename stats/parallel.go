package stats

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// blockSize is the number of replicates drawn from one random stream.
// Note: streams are per block, not per worker, so the replicates (and every interval
// computed from them) are identical for any number of workers.
const blockSize = 256

// fillBlocks fills out[i] for every replicate, block by block, with up to workers
// goroutines (workers <= 0 means GOMAXPROCS). newFill is called once per goroutine and
// returns the function that fills one block (so scratch space is per goroutine).
func fillBlocks(out []float64, workers int, key streamKey, newFill func() func(r *rand.Rand, dst []float64)) {
	nb := (len(out) + blockSize - 1) / blockSize
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, nb)
	run := func(f func(r *rand.Rand, dst []float64), b int) {
		lo := b * blockSize
		hi := min(lo+blockSize, len(out))
		f(key.rng(b), out[lo:hi])
	}
	if workers <= 1 {
		f := newFill()
		for b := 0; b < nb; b++ {
			run(f, b)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := newFill()
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				run(f, b)
			}
		}()
	}
	wg.Wait()
}
