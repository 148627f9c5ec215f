package sim

import (
	"math/rand/v2"
	"sync"
)

// Fault names an injected fault; the names appear in the ground truth.
type Fault string

// The request faults. "Halfway" means after half of the output tokens
// (at least one) have been sent.
const (
	FaultNone Fault = ""
	// Fault429, Fault500 and Fault503 answer at once with that status and
	// Dynamo's error body, before any work.
	Fault429 Fault = "http_429"
	Fault500 Fault = "http_500"
	Fault503 Fault = "http_503"
	// FaultReset resets the TCP connection halfway through a stream (for a
	// non-stream request: when the response would be written).
	FaultReset Fault = "reset"
	// FaultStall stops sending halfway through a stream (non-stream: before
	// the response) until the client goes away, Faults.StallFor passes or
	// the server shuts down; then the connection is closed without [DONE].
	FaultStall Fault = "stall"
	// FaultMalformedSSE sends one event with broken JSON halfway through a
	// stream, then carries on normally (non-stream: the JSON body is cut).
	FaultMalformedSSE Fault = "malformed_sse"
	// FaultSSEError ends a stream halfway with `event: error` and a comment
	// line, without [DONE], as Dynamo does for a mid-stream error
	// (non-stream: a 500 after the generation time).
	FaultSSEError Fault = "sse_error"
	// FaultSlowFirstByte waits Faults.SlowFirstByteDelay before anything is
	// sent, then serves the request normally.
	FaultSlowFirstByte Fault = "slow_first_byte"
)

// faultPicker draws faults from a seeded RNG.
type faultPicker struct {
	mu  sync.Mutex
	rng *rand.Rand // request decisions
	srs *rand.Rand // scrape decisions, apart so scrape timing does not move request faults
	crs *rand.Rand // corrupt-onboard decisions
	f   Faults
	any bool
}

func newFaultPicker(f Faults, seed uint64) *faultPicker {
	return &faultPicker{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		srs: rand.New(rand.NewPCG(seed^0x5bd1e995, seed)),
		crs: rand.New(rand.NewPCG(seed^0xc2b2ae3d27d4eb4f, seed^0x165667b19e3779f9)),
		f:   f,
		any: f.requestTotal() > 0,
	}
}

// request draws the fault of one request.
func (p *faultPicker) request() Fault {
	if !p.any {
		return FaultNone
	}
	p.mu.Lock()
	u := p.rng.Float64()
	p.mu.Unlock()
	for _, c := range []struct {
		p float64
		f Fault
	}{
		{p.f.HTTP429, Fault429}, {p.f.HTTP500, Fault500}, {p.f.HTTP503, Fault503},
		{p.f.Reset, FaultReset}, {p.f.Stall, FaultStall}, {p.f.MalformedSSE, FaultMalformedSSE},
		{p.f.SSEError, FaultSSEError}, {p.f.SlowFirstByte, FaultSlowFirstByte},
	} {
		if u < c.p {
			return c.f
		}
		u -= c.p
	}
	return FaultNone
}

// corruptOnboard draws whether a request that onboarded blocks from the
// disk tier got wrong KV.
func (p *faultPicker) corruptOnboard() bool {
	if p.f.CorruptDiskOnboard <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crs.Float64() < p.f.CorruptDiskOnboard
}

// scrapeFault is what happens to one KVBM scrape.
type scrapeFault int

const (
	scrapeOK scrapeFault = iota
	scrapeDown
	scrapeGarbage
)

// scrape draws the fault of one KVBM scrape.
func (p *faultPicker) scrape() scrapeFault {
	if p.f.KVBMDown == 0 && p.f.KVBMGarbage == 0 {
		return scrapeOK
	}
	p.mu.Lock()
	u := p.srs.Float64()
	p.mu.Unlock()
	switch {
	case u < p.f.KVBMDown:
		return scrapeDown
	case u < p.f.KVBMDown+p.f.KVBMGarbage:
		return scrapeGarbage
	}
	return scrapeOK
}
