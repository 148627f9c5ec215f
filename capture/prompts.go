package capture

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"kvbench/results"
)

// Prompt is one deterministic prompt of a prompt set. Its text is built on
// demand (Text) rather than held: a long run's prompts would otherwise take
// hundreds of megabytes, and memory must not grow with the run.
type Prompt struct {
	ID           string
	Set          string
	TargetTokens int
	PrefixGroup  string
	// Identity is the identity hash of the request that sends this prompt
	// (IdentityHash); "" while the model is not known.
	Identity string
	gen      func() string
	// maxTokens is the max_tokens of the one request sending this prompt
	// when it has its own (a trace request); 0: the configuration's.
	maxTokens int
}

// Text builds the prompt text; every call returns the same string.
func (p *Prompt) Text() string { return p.gen() }

// Range is an inclusive token range MIN:MAX.
type Range struct{ Min, Max int }

// ParseRange parses "MIN:MAX" with 0 < MIN <= MAX.
func ParseRange(s string) (Range, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return Range{}, fmt.Errorf("range %q: want MIN:MAX", s)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return Range{}, fmt.Errorf("range %q: MIN and MAX must be whole numbers", s)
	}
	if lo <= 0 || hi <= 0 {
		return Range{}, fmt.Errorf("range %q: MIN and MAX must be positive", s)
	}
	if lo > hi {
		return Range{}, fmt.Errorf("range %q: MIN %d is greater than MAX %d", s, lo, hi)
	}
	return Range{lo, hi}, nil
}

func (r Range) String() string { return fmt.Sprintf("%d:%d", r.Min, r.Max) }

// Prompt sets known to capture.
var PromptSets = []string{"short", "long", "mixed"}

// ShortRange is the token range of the short prompt set.
var ShortRange = Range{64, 512}

// Note: prompts are built from a fixed vocabulary of plain words separated
// by single spaces, so one word is close to one token on BPE tokenizers and
// exactly one token on the simulator (which splits on white space). The
// number of words per target token is the calibration factor; it is 1 until
// capture has measured the server's usage.prompt_tokens.
var vocabulary = strings.Fields(`
the cache block offload memory tier host disk device latency token prefix
request replay model kernel buffer queue batch layer tensor vector stream
engine worker router server client signal window sample metric counter
value number table column record phase index reader writer format schema
alpha beta gamma delta omega sigma lambda theta kappa zeta eta iota
north south east west river mountain forest desert ocean island valley
red green blue yellow orange purple silver golden white black bright
quick slow calm loud quiet steady rapid gentle bold clear sharp smooth
apple bread cheese grape honey lemon mango olive pepper salt sugar tea
`)

// promptGen turns token targets into text. A server's tokenizer is modelled
// as tokens = off + words/wpt (see calibrate.go); the simulator has wpt 1
// and off 0.
type promptGen struct {
	wpt, off  float64
	longRange Range
}

// set returns n prompts of a set; tag distinguishes sets drawn from the
// same generator within a run (A and B of eviction_replay).
func (g *promptGen) set(set, tag string, n int, seed uint64) ([]*Prompt, error) {
	rng := rand.New(rand.NewPCG(seed, 0x6b7662656e6368)) // "kvbench"
	out := make([]*Prompt, n)
	for i := range out {
		var r Range
		switch set {
		case "short":
			r = ShortRange
		case "long":
			r = g.longRange
		case "mixed":
			if i%2 == 0 {
				r = ShortRange
			} else {
				r = g.longRange
			}
		default:
			return nil, fmt.Errorf("unknown prompt set %q (want one of %s)", set, strings.Join(PromptSets, ", "))
		}
		target := r.Min
		if r.Max > r.Min {
			target += rng.IntN(r.Max - r.Min + 1)
		}
		id := fmt.Sprintf("%s%s-%d-%04d", set, tag, seed, i)
		if tag == results.PhaseWarmup {
			id = fmt.Sprintf("%s-%s-%d-%04d", results.PhaseWarmup, set, seed, i)
		}
		textSeed := rng.Uint64()
		gg := *g
		out[i] = &Prompt{ID: id, Set: set + tag, TargetTokens: target, gen: func() string {
			return gg.text(rand.New(rand.NewPCG(textSeed, 0x74657874)), id, target)
		}}
	}
	return out, nil
}

// words returns how many words make about target tokens.
func (g *promptGen) words(target int) int {
	wpt := g.wpt
	if wpt <= 0 {
		wpt = 1
	}
	return max(1, int(math.Round((float64(target)-g.off)*wpt)))
}

// text builds a prompt of about target tokens. It opens with head (the
// prompt id) so that two prompts never share a first block by accident.
func (g *promptGen) text(rng *rand.Rand, head string, target int) string {
	nw := g.words(target)
	var b strings.Builder
	b.Grow(nw * 7)
	b.WriteString(head)
	for i := 1; i < nw; i++ {
		b.WriteByte(' ')
		b.WriteString(vocabulary[rng.IntN(len(vocabulary))])
	}
	return b.String()
}

// GenParams are the generation parameters that, with the prompt bytes,
// define a request's identity. Streaming does not change the work asked
// of the server, so it is not part of the identity.
type GenParams struct {
	Model       string
	MaxTokens   int
	Temperature float64
	TopP        float64
	Stop        []string
}

// genParams are the generation parameters of every request of a run.
func (c *Config) genParams(model string) GenParams {
	return GenParams{Model: model, MaxTokens: c.MaxTokens, Temperature: c.Temperature, TopP: c.TopP, Stop: c.Stop}
}

// IdentityHash is the SHA-256, in hex, of the prompt bytes and the
// canonical generation parameters. Two requests with the same hash ask the
// server for the same work.
func IdentityHash(prompt string, p GenParams) string {
	h := sha256.New()
	h.Write([]byte(prompt))
	h.Write([]byte{0})
	fmt.Fprintf(h, "model=%s\nmax_tokens=%d\ntemperature=%s\ntop_p=%s\n",
		p.Model, p.MaxTokens, strconv.FormatFloat(p.Temperature, 'g', -1, 64), strconv.FormatFloat(p.TopP, 'g', -1, 64))
	for _, s := range p.Stop {
		fmt.Fprintf(h, "stop=%q\n", s)
	}
	return hex.EncodeToString(h.Sum(nil))
}
