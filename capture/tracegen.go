package capture

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Note on the generator's model: a trace of Requests requests over
// Sessions sessions. Each session has a shared prefix of PrefixBlocks
// blocks (its own hash ids), after SystemBlocks blocks every request
// shares; each request adds a suffix of its own (SuffixTokens) and asks
// for OutputTokens tokens. The first Sessions requests open one session
// each. Each use of a session draws a reuse distance d from ReuseDistance
// (the number of other requests before its next use) and makes the
// session due d+1 places later; every request after the first Sessions
// continues the most overdue session. The distance says how much other
// traffic passes between two uses of a prefix: large enough, and a reused
// prefix has left the faster tiers. Distances follow the draw when
// Sessions is about the mean distance + 1; more sessions lengthen them
// (sessions wait their turn), fewer shorten them (a session is used
// before it is due).
// Arrivals are Poisson (Burstiness 1) or gamma at Rate requests per
// second.

// Dist is an integer distribution: fixed:N, uniform:MIN:MAX or exp:MEAN
// (exponential, rounded).
type Dist struct {
	Kind     string
	A, B     float64
	original string
}

// ParseDist parses a distribution; a bare number is fixed.
func ParseDist(s string) (Dist, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	nums := make([]float64, 0, 2)
	for _, p := range parts[1:] {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return Dist{}, fmt.Errorf("distribution %q: %q is not a number of at least 0", s, p)
		}
		nums = append(nums, v)
	}
	d := Dist{Kind: parts[0], original: s}
	if v, err := strconv.ParseFloat(parts[0], 64); err == nil && len(parts) == 1 && v >= 0 {
		return Dist{Kind: "fixed", A: v, original: s}, nil
	}
	want := map[string]int{"fixed": 1, "uniform": 2, "exp": 1}[d.Kind]
	if want == 0 || len(nums) != want {
		return Dist{}, fmt.Errorf("distribution %q: want fixed:N, uniform:MIN:MAX or exp:MEAN", s)
	}
	d.A = nums[0]
	if want == 2 {
		d.B = nums[1]
		if d.B < d.A {
			return Dist{}, fmt.Errorf("distribution %q: MAX is below MIN", s)
		}
	}
	return d, nil
}

func (d Dist) String() string { return d.original }

// Sample draws a whole number.
func (d Dist) Sample(rng *rand.Rand) int {
	switch d.Kind {
	case "uniform":
		lo, hi := int(math.Ceil(d.A)), int(math.Floor(d.B))
		if hi <= lo {
			return lo
		}
		return lo + rng.IntN(hi-lo+1)
	case "exp":
		return int(math.Round(rng.ExpFloat64() * d.A))
	}
	return int(math.Round(d.A))
}

// TraceGen is what `capture trace gen` generates.
type TraceGen struct {
	Requests      int
	Sessions      int
	SystemBlocks  int // blocks shared by every request
	PrefixBlocks  int // blocks shared by the requests of a session
	BlockTokens   int
	SuffixTokens  Dist // tokens after the shared prefix
	OutputTokens  Dist
	ReuseDistance Dist // requests between two uses of a session
	Rate          float64
	Burstiness    float64
	Seed          uint64
}

// Validate checks the generator's parameters.
func (g *TraceGen) Validate() error {
	switch {
	case g.Requests < 1:
		return fmt.Errorf("--requests %d: need at least 1", g.Requests)
	case g.Sessions < 1:
		return fmt.Errorf("--sessions %d: need at least 1", g.Sessions)
	case g.SystemBlocks < 0 || g.PrefixBlocks < 0:
		return fmt.Errorf("--system-blocks and --prefix-blocks must not be negative")
	case g.BlockTokens < 1:
		return fmt.Errorf("--block-tokens %d: need at least 1", g.BlockTokens)
	case !(g.Rate > 0) || math.IsInf(g.Rate, 0):
		return fmt.Errorf("--rate %g: want requests per second above 0", g.Rate)
	case !(g.Burstiness > 0):
		return fmt.Errorf("--burstiness %g: want a positive gamma shape (1 = Poisson)", g.Burstiness)
	}
	return nil
}

// traceLine is one generated line, in the Mooncake field names.
type traceLine struct {
	Timestamp    int64   `json:"timestamp"`
	InputLength  int     `json:"input_length"`
	OutputLength int     `json:"output_length"`
	HashIDs      []int64 `json:"hash_ids"`
}

// Write writes the trace as JSONL. The same parameters write the same
// bytes.
func (g *TraceGen) Write(w io.Writer) error {
	if err := g.Validate(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(g.Seed, 0x5452414345))
	offsets := arrivals(g.Requests, g.Rate, g.Burstiness, g.Seed^0x61727269)
	next := int64(0)
	ids := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = next
			next++
		}
		return out
	}
	system := ids(g.SystemBlocks)
	var prefixes [][]int64
	var due []int // per session: the position its next use is due at
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := 0; i < g.Requests; i++ {
		s := len(prefixes)
		if s < g.Sessions {
			prefixes = append(prefixes, ids(g.PrefixBlocks))
			due = append(due, 0)
		} else {
			s = 0 // the most overdue session (the lowest index on a tie)
			for k := range due {
				if due[k] < due[s] {
					s = k
				}
			}
		}
		due[s] = i + 1 + max(0, g.ReuseDistance.Sample(rng))
		shared := append(append([]int64{}, system...), prefixes[s]...)
		suffix := max(0, g.SuffixTokens.Sample(rng))
		if len(shared) == 0 {
			suffix = max(1, suffix)
		}
		input := len(shared)*g.BlockTokens + suffix
		own := (input+g.BlockTokens-1)/g.BlockTokens - len(shared)
		line := traceLine{Timestamp: offsets[i].Milliseconds(), InputLength: input,
			OutputLength: max(1, g.OutputTokens.Sample(rng)), HashIDs: append(shared, ids(own)...)}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}
