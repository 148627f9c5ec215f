package sim

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fakeDisk records G3 file operations.
type fakeDisk struct{ ops []string }

func (f *fakeDisk) write(h uint64)  { f.ops = append(f.ops, fmt.Sprintf("write %d", h)) }
func (f *fakeDisk) remove(h uint64) { f.ops = append(f.ops, fmt.Sprintf("remove %d", h)) }
func (f *fakeDisk) read(hs []uint64) chan error {
	f.ops = append(f.ops, fmt.Sprintf("read %v", hs))
	ch := make(chan error, 1)
	ch <- nil
	return ch
}

type blocks = []uint64

func TestKVCacheAdmit(t *testing.T) {
	type adm struct{ Blocks, G1, G2, G3, Recomputed int }
	for _, tc := range []struct {
		name       string
		cfg        KVCacheConfig
		prompts    []blocks
		want       []adm // one per prompt
		g1, g2, g3 blocks
		stats      KVBMStats
		disk       []string
	}{
		{
			name:    "off: G1 only, LRU",
			cfg:     KVCacheConfig{Mode: KVModeOff, BlockTokens: 32, GPUBlocks: 2},
			prompts: []blocks{{1, 2}, {3}, {1, 2}, {1, 2}},
			want:    []adm{{2, 0, 0, 0, 2}, {1, 0, 0, 0, 1}, {2, 0, 0, 0, 2}, {2, 2, 0, 0, 0}},
			g1:      blocks{2, 1},
		},
		{
			name: "cpu_only: G1 evictions are found in G2, G2 evicts LRU",
			cfg:  KVCacheConfig{Mode: KVModeCPUOnly, BlockTokens: 32, GPUBlocks: 2, CPUBlocks: 4},
			// 1 leaves G1 at [3] and is onboarded from G2 at the second [1];
			// 2 leaves G2 at [5] and is recomputed at the last [2].
			prompts: []blocks{{1}, {2}, {3}, {1}, {4}, {5}, {2}},
			want:    []adm{{1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 1, 0, 0}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}},
			g1:      blocks{2, 5},
			g2:      blocks{2, 5, 4, 1},
			stats: KVBMStats{OffloadBlocksD2H: 6, OnboardBlocksH2D: 1, MatchedTokens: 32,
				HostCacheHitRate: float32(1) / 7},
		},
		{
			name:    "cpu_disk, filter on: a block seen once never reaches disk",
			cfg:     KVCacheConfig{Mode: KVModeCPUDisk, BlockTokens: 32, GPUBlocks: 1, CPUBlocks: 1, DiskBlocks: 4},
			prompts: []blocks{{1}, {2}, {3}},
			want:    []adm{{1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}},
			g1:      blocks{3},
			g2:      blocks{3},
			stats:   KVBMStats{OffloadBlocksD2H: 3},
		},
		{
			name: "cpu_disk, filter on: the second sighting sends it to disk",
			cfg:  KVCacheConfig{Mode: KVModeCPUDisk, BlockTokens: 32, GPUBlocks: 1, CPUBlocks: 2, DiskBlocks: 4},
			// [1] is a G1 hit the second time (freq 2): written to disk.
			// [2] then [3] push 1 out of G1 and G2; it comes back from disk.
			prompts: []blocks{{1}, {1}, {2}, {3}, {1}},
			want:    []adm{{1, 0, 0, 0, 1}, {1, 1, 0, 0, 0}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 1, 0}},
			g1:      blocks{1},
			g2:      blocks{3, 2},
			g3:      blocks{1},
			stats: KVBMStats{OffloadBlocksD2H: 3, OffloadBlocksH2D: 1, OnboardBlocksD2D: 1, MatchedTokens: 32,
				DiskCacheHitRate: float32(1) / 4},
			disk: []string{"write 1", "read [1]"},
		},
		{
			name:    "cpu_disk, filter off: every host block goes to disk, G3 evicts LRU and deletes the file",
			cfg:     KVCacheConfig{Mode: KVModeCPUDisk, BlockTokens: 32, GPUBlocks: 1, CPUBlocks: 1, DiskBlocks: 2, DisableDiskFilter: true},
			prompts: []blocks{{1}, {2}, {3}, {2}},
			want:    []adm{{1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 1, 0}},
			g1:      blocks{2},
			g2:      blocks{3},
			g3:      blocks{2, 3},
			stats: KVBMStats{OffloadBlocksD2H: 3, OffloadBlocksH2D: 3, OnboardBlocksD2D: 1, MatchedTokens: 32,
				DiskCacheHitRate: float32(1) / 4},
			disk: []string{"write 1", "write 2", "write 3", "remove 1", "read [2]"},
		},
		{
			name: "staged lookup: G1 prefix, then a G2 run, then a G3 run, then recompute",
			cfg:  KVCacheConfig{Mode: KVModeCPUDisk, BlockTokens: 16, GPUBlocks: 2, CPUBlocks: 3, DiskBlocks: 16, DisableDiskFilter: true},
			// Leaves 1,2 in G1; 3 in G2; 4 only in G3; 5 nowhere.
			prompts: []blocks{{4}, {9}, {8}, {7}, {3}, {1, 2}, {1, 2, 3, 4, 5}},
			want: []adm{{1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1},
				{2, 0, 0, 0, 2}, {5, 2, 1, 1, 1}},
			g1: blocks{5, 4},
			g2: blocks{5, 3, 2},
			g3: blocks{5, 4, 2, 1, 3, 7, 8, 9},
			stats: KVBMStats{OffloadBlocksD2H: 8, OffloadBlocksH2D: 8, OnboardBlocksH2D: 1, OnboardBlocksD2D: 1, MatchedTokens: 32,
				HostCacheHitRate: float32(1) / 10, DiskCacheHitRate: float32(1) / 10},
			disk: []string{"write 4", "write 9", "write 8", "write 7", "write 3", "write 1", "write 2", "read [4]", "write 5"},
		},
		{
			name:    "zero host capacity keeps nothing",
			cfg:     KVCacheConfig{Mode: KVModeCPUOnly, BlockTokens: 32, GPUBlocks: 1, CPUBlocks: 0},
			prompts: []blocks{{1}, {2}, {1}},
			want:    []adm{{1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}, {1, 0, 0, 0, 1}},
			g1:      blocks{1},
			g2:      blocks{},
			stats:   KVBMStats{OffloadBlocksD2H: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := &fakeDisk{}
			c := newKVCache(tc.cfg, disk)
			var got []adm
			for _, p := range tc.prompts {
				a := c.Admit(p)
				got = append(got, adm{a.Blocks, a.G1, a.G2, a.G3, a.Recomputed})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("admissions (-want +got):\n%s", diff)
			}
			empty := cmpopts.EquateEmpty()
			for _, r := range []struct {
				tier Tier
				want blocks
			}{{G1, tc.g1}, {G2, tc.g2}, {G3, tc.g3}} {
				if diff := cmp.Diff(r.want, c.Resident(r.tier), empty); diff != "" {
					t.Errorf("%v residency, most recent first (-want +got):\n%s", r.tier, diff)
				}
			}
			if diff := cmp.Diff(tc.stats, c.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.disk, disk.ops, empty); diff != "" {
				t.Errorf("disk operations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHitWindowSlides(t *testing.T) {
	w := newHitWindow(2)
	for _, r := range []struct{ q, h, d int }{{4, 4, 0}, {0, 0, 0}, {4, 0, 2}, {4, 0, 0}} {
		w.add(r.q, r.h, r.d)
	}
	// The window holds the last two requests with queried blocks: (4,0,2)
	// and (4,0,0); the empty one was skipped and (4,4,0) slid out.
	host, disk := w.rates()
	if host != 0 || disk != float32(2)/8 {
		t.Errorf("rates = %v, %v; want 0, 0.25", host, disk)
	}
}
