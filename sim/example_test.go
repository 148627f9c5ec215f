package sim_test

import (
	"fmt"
	"strconv"
	"strings"

	"kvbench/sim"
)

// prompt returns n words starting with tag, so different tags share no
// prefix.
func prompt(tag string, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = tag + strconv.Itoa(i)
	}
	return strings.Join(w, " ")
}

// The tier model without a server, for planning: how much thrash pushes a
// working set out to disk, and does it come back from there?
func ExampleKVCache() {
	for _, mode := range []sim.KVMode{sim.KVModeCPUOnly, sim.KVModeCPUDisk} {
		c := sim.NewKVCache(sim.KVCacheConfig{
			Mode: mode, BlockTokens: 32, GPUBlocks: 8, CPUBlocks: 16, DiskBlocks: 64,
		})
		admit := func(p string) sim.Admission {
			return c.Admit(sim.BlockHashes(nil, sim.Tokenize(nil, p), 32))
		}
		working := prompt("w", 4*32) // 4 blocks
		admit(working)
		admit(working) // seen twice: passes the disk filter
		for i := 0; i < 8; i++ {
			admit(prompt("t"+strconv.Itoa(i)+"_", 4*32)) // 32 blocks of thrash
		}
		a := admit(working)
		s := c.Stats()
		fmt.Printf("%s: replay g1=%d g2=%d g3=%d recomputed=%d; onboard d2d=%d, offload h2d=%d\n",
			mode, a.G1, a.G2, a.G3, a.Recomputed, s.OnboardBlocksD2D, s.OffloadBlocksH2D)
	}
	// Output:
	// cpu_only: replay g1=0 g2=0 g3=0 recomputed=4; onboard d2d=0, offload h2d=0
	// cpu_disk: replay g1=0 g2=0 g3=4 recomputed=0; onboard d2d=4, offload h2d=4
}
