package sim

import (
	"sync"
)

// Tier names a KV cache tier of the model.
type Tier int

// The tiers, fastest first.
const (
	G1 Tier = 1 // GPU pool (TRT-LLM's prefix cache)
	G2 Tier = 2 // pinned host memory (KVBM host pool)
	G3 Tier = 3 // local disk (KVBM disk pool)
)

// String returns "G1", "G2" or "G3".
func (t Tier) String() string {
	switch t {
	case G1:
		return "G1"
	case G2:
		return "G2"
	case G3:
		return "G3"
	}
	return "G?"
}

// Admission is what the tier model decided for one prompt.
type Admission struct {
	Blocks     int // full blocks in the prompt
	G1         int // blocks found in the GPU prefix cache
	G2         int // blocks onboarded from host memory
	G3         int // blocks onboarded from disk
	Recomputed int // Blocks - G1 - G2 - G3

	// diskDone, when not nil, receives the result of reading back the G3
	// blocks' files.
	diskDone chan error
}

// CachedBlocks is the number of blocks that were not recomputed.
func (a Admission) CachedBlocks() int { return a.G1 + a.G2 + a.G3 }

// KVBMStats is a snapshot of the values behind the kvbm_* v1 families.
type KVBMStats struct {
	OffloadBlocksD2H    uint64
	OffloadBlocksH2D    uint64
	OffloadBlocksD2D    uint64
	OffloadBlocksD2O    uint64
	OnboardBlocksH2D    uint64
	OnboardBlocksD2D    uint64
	OnboardBlocksO2D    uint64
	MatchedTokens       uint64
	ObjectReadFailures  uint64
	ObjectWriteFailures uint64
	// Hit rates are float32 like KVBM's, so they print like
	// 0.6639999747276306 once widened.
	HostCacheHitRate   float32
	DiskCacheHitRate   float32
	ObjectCacheHitRate float32
}

// KVCache is the tier model: G1, G2 and G3 as LRU lists of block hashes,
// the disk offload filter's frequencies and the KVBM counters. It is safe for
// concurrent use; every Admit is atomic.
type KVCache struct {
	mu            sync.Mutex
	mode          KVMode
	blockTokens   int
	disableFilter bool
	g1, g2, g3    *lru
	freq          map[uint64]uint32
	freqMax       int
	stats         KVBMStats
	window        hitWindow
	disk          diskQueue // nil unless G3 exists; used under mu to keep order
}

// diskQueue receives the file operations of G3 in the order the model
// decides them.
type diskQueue interface {
	write(hash uint64)
	remove(hash uint64)
	// read asks for the files of hashes to be read back and returns a
	// channel that receives the outcome.
	read(hashes []uint64) chan error
}

// KVCacheConfig sizes a KVCache.
type KVCacheConfig struct {
	Mode              KVMode
	BlockTokens       int
	GPUBlocks         int
	CPUBlocks         int
	DiskBlocks        int
	DisableDiskFilter bool
	HitRateWindow     int // requests in the hit-rate window; KVBM default 1000
	FilterMaxEntries  int // frequencies remembered; KVBM default 1,000,000
}

// NewKVCache returns an empty tier model without files behind G3, for
// planning experiments ("how much thrash evicts the working set to disk?")
// without a server.
func NewKVCache(cfg KVCacheConfig) *KVCache { return newKVCache(cfg, nil) }

// newKVCache returns an empty tier model. disk receives the G3 file
// operations and may be nil.
func newKVCache(cfg KVCacheConfig, disk diskQueue) *KVCache {
	c := &KVCache{
		mode:          cfg.Mode,
		blockTokens:   cfg.BlockTokens,
		disableFilter: cfg.DisableDiskFilter,
		g1:            newLRU(cfg.GPUBlocks),
		freq:          make(map[uint64]uint32),
		freqMax:       cfg.FilterMaxEntries,
		window:        newHitWindow(cfg.HitRateWindow),
		disk:          disk,
	}
	if c.freqMax <= 0 {
		c.freqMax = 1_000_000
	}
	if cfg.Mode != KVModeOff {
		c.g2 = newLRU(cfg.CPUBlocks)
	}
	if cfg.Mode == KVModeCPUDisk {
		c.g3 = newLRU(cfg.DiskBlocks)
	}
	return c
}

// Admit runs the lookup and residency steps described in the package
// documentation for a prompt whose full blocks are hashes, updates the
// counters and returns what came from where.
func (c *KVCache) Admit(hashes []uint64) Admission {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.lookup(hashes)
	c.count(hashes, &a)
	c.remember(hashes)
	c.reside(hashes, a)
	return a
}

// lookup finds the G1 prefix, then a G2 run, then a G3 run (step 1).
func (c *KVCache) lookup(hashes []uint64) Admission {
	a := Admission{Blocks: len(hashes)}
	i := 0
	for i < len(hashes) && c.g1.has(hashes[i]) {
		i++
	}
	a.G1 = i
	if c.g2 != nil {
		for i < len(hashes) && c.g2.has(hashes[i]) {
			i++
		}
		a.G2 = i - a.G1
	}
	if c.g3 != nil {
		for i < len(hashes) && c.g3.has(hashes[i]) {
			i++
		}
		a.G3 = i - a.G1 - a.G2
	}
	a.Recomputed = len(hashes) - i
	return a
}

// count updates the counters at request time and starts the G3 reads
// (step 2).
func (c *KVCache) count(hashes []uint64, a *Admission) {
	c.stats.OnboardBlocksH2D += uint64(a.G2)
	c.stats.OnboardBlocksD2D += uint64(a.G3)
	c.stats.MatchedTokens += uint64((a.G2 + a.G3) * c.blockTokens)
	if c.mode != KVModeOff {
		// Note: KVBM refreshes the hit-rate gauges every 5 s from its
		// window; the simulator updates them at once, so tests need not
		// wait. The window is the same: the last HitRateWindow requests
		// that queried at least one block.
		c.window.add(len(hashes)-a.G1, a.G2, a.G3)
		c.stats.HostCacheHitRate, c.stats.DiskCacheHitRate = c.window.rates()
	}
	if a.G3 > 0 && c.disk != nil {
		onboard := hashes[a.G1+a.G2 : a.G1+a.G2+a.G3]
		for _, h := range onboard {
			c.g3.touch(h)
		}
		a.diskDone = c.disk.read(onboard)
	}
}

// remember doubles the frequency of every block of the prompt (step 3).
func (c *KVCache) remember(hashes []uint64) {
	if len(c.freq)+len(hashes) > c.freqMax {
		// Note: KVBM decays frequencies every 600 s and bounds the map;
		// the simulator has no clock here and simply forgets everything
		// when the bound is reached.
		clear(c.freq)
	}
	for _, h := range hashes {
		f := c.freq[h]
		switch {
		case f == 0:
			f = 1
		case f < 1<<30:
			f *= 2
		}
		c.freq[h] = f
	}
}

// reside makes the prompt's blocks resident: all in G1, recomputed ones
// written through to G2, and G2 blocks that pass the frequency filter
// offloaded to G3 (step 4).
func (c *KVCache) reside(hashes []uint64, a Admission) {
	for _, h := range hashes {
		if !c.g1.touch(h) {
			c.g1.add(h, nil)
		}
	}
	if c.g2 == nil {
		return
	}
	found := a.Blocks - a.Recomputed
	for j, h := range hashes {
		switch {
		case j >= found: // recomputed: write-through device → host
			if !c.g2.touch(h) {
				c.stats.OffloadBlocksD2H++
				c.g2.add(h, nil)
			}
		case j >= a.G1 && j < a.G1+a.G2: // onboarded from host
			c.g2.touch(h)
		}
		// Host → disk, behind the frequency filter, while the block is
		// still in host memory.
		if c.g3 == nil || !c.g2.has(h) || c.g3.has(h) {
			continue
		}
		if !c.disableFilter && c.freq[h] < 2 {
			continue
		}
		c.stats.OffloadBlocksH2D++
		if c.disk != nil {
			c.disk.write(h)
		}
		c.g3.add(h, c.evictFile)
	}
}

// evictFile deletes the file of a block leaving G3.
func (c *KVCache) evictFile(h uint64) {
	if c.disk != nil {
		c.disk.remove(h)
	}
}

// Stats returns a snapshot of the KVBM counters and gauges.
func (c *KVCache) Stats() KVBMStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Resident returns the blocks of tier t from most to least recently used.
func (c *KVCache) Resident(t Tier) []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var l *lru
	switch t {
	case G1:
		l = c.g1
	case G2:
		l = c.g2
	case G3:
		l = c.g3
	}
	if l == nil {
		return nil
	}
	return l.list()
}

// Len returns the number of blocks in tier t.
func (c *KVCache) Len(t Tier) int { return len(c.Resident(t)) }

// lru is a set of block hashes in recency order with a capacity.
type lru struct {
	capacity int
	m        map[uint64]*lruNode
	root     lruNode // sentinel: root.next is the most recent
}

type lruNode struct {
	hash       uint64
	prev, next *lruNode
}

func newLRU(capacity int) *lru {
	l := &lru{capacity: capacity, m: make(map[uint64]*lruNode)}
	l.root.next = &l.root
	l.root.prev = &l.root
	return l
}

func (l *lru) has(h uint64) bool {
	_, ok := l.m[h]
	return ok
}

// touch makes h the most recent entry and reports whether it was present.
func (l *lru) touch(h uint64) bool {
	n, ok := l.m[h]
	if !ok {
		return false
	}
	l.unlink(n)
	l.pushFront(n)
	return true
}

// add inserts h (absent) as the most recent entry, evicting least recent
// entries to stay within capacity and calling evicted for each of them.
// With capacity 0 nothing is stored.
func (l *lru) add(h uint64, evicted func(uint64)) {
	if l.capacity <= 0 {
		return
	}
	for len(l.m) >= l.capacity {
		old := l.root.prev
		l.unlink(old)
		delete(l.m, old.hash)
		if evicted != nil {
			evicted(old.hash)
		}
	}
	n := &lruNode{hash: h}
	l.m[h] = n
	l.pushFront(n)
}

func (l *lru) unlink(n *lruNode) {
	n.prev.next = n.next
	n.next.prev = n.prev
}

func (l *lru) pushFront(n *lruNode) {
	n.prev = &l.root
	n.next = l.root.next
	l.root.next.prev = n
	l.root.next = n
}

func (l *lru) list() []uint64 {
	out := make([]uint64, 0, len(l.m))
	for n := l.root.next; n != &l.root; n = n.next {
		out = append(out, n.hash)
	}
	return out
}

// hitWindow keeps the last n requests' queried and hit block counts.
type hitWindow struct {
	ring                 []hitEntry
	next, filled         int
	queried, host, diskH int
}

type hitEntry struct{ queried, host, disk int }

func newHitWindow(n int) hitWindow {
	if n <= 0 {
		n = 1000
	}
	return hitWindow{ring: make([]hitEntry, n)}
}

// add records one request; requests with no queried block are skipped, as
// KVBM's cache_stats does.
func (w *hitWindow) add(queried, host, disk int) {
	if queried <= 0 {
		return
	}
	if w.filled == len(w.ring) {
		old := w.ring[w.next]
		w.queried -= old.queried
		w.host -= old.host
		w.diskH -= old.disk
	} else {
		w.filled++
	}
	w.ring[w.next] = hitEntry{queried, host, disk}
	w.next = (w.next + 1) % len(w.ring)
	w.queried += queried
	w.host += host
	w.diskH += disk
}

func (w *hitWindow) rates() (host, disk float32) {
	if w.queried == 0 {
		return 0, 0
	}
	return float32(w.host) / float32(w.queried), float32(w.diskH) / float32(w.queried)
}
