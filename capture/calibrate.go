package capture

import (
	"context"
	"fmt"
	"math/rand/v2"

	"kvbench/results"
)

// Note on token targets: prompts are plain words, and a tokenizer turns n
// words into about a + n/w tokens (a: BOS and similar fixed tokens; w:
// words per token). Capture measures both with two probe requests of
// different sizes (max_tokens 1, non-stream) and reads the server's own
// usage.prompt_tokens, then generates each prompt with
// round((target - a) * w) words. On the simulator (one token per word) the
// fit is exact; on BPE tokenizers the vocabulary of common English words
// keeps the per-prompt error within about 2 %, which the run reports as
// calibration.max_rel_error from the measured usage of every prompt.

// uncalibrated is the identity relation, one word per token, with the
// note a run without --calibrate records.
func uncalibrated(cfg *Config) *results.Calibration {
	cal := &results.Calibration{Method: "none", WordsPerToken: 1}
	if !cfg.Calibrate {
		cal.Note = "calibration disabled (--calibrate=false); one word per token assumed"
	}
	return cal
}

// calibrate fits the word/token relation against the server with model,
// before the run's plan is built. It never fails the run: a server that
// reports no usage leaves the identity relation, with a note.
func calibrate(ctx context.Context, c *Client, cfg *Config, model, runID string) *results.Calibration {
	cal := uncalibrated(cfg)
	if !cfg.Calibrate {
		return cal
	}
	sizes := []int{64, 1024}
	if cfg.MaxNumTokens > 0 && sizes[1]+1 > cfg.MaxNumTokens/2 {
		sizes[1] = max(sizes[0]*2, cfg.MaxNumTokens/4)
	}
	g := promptGen{wpt: 1}
	rng := rand.New(rand.NewPCG(cfg.RequestSeed^nsProbe, 2))
	for i, words := range sizes {
		text := g.text(rng, fmt.Sprintf("probe-%d-%d", cfg.RequestSeed, i), words)
		var rec results.Request
		req := &CompletionRequest{Model: model, Prompt: text, MaxTokens: 1, Temperature: cfg.Temperature, TopP: cfg.TopP}
		c.Complete(ctx, ctx, req, fmt.Sprintf("%s-probe-%d", runID, i), false, &rec)
		if rec.ErrorKind != "" || rec.PromptTokens == nil {
			cal.Note = fmt.Sprintf("probe of %d words gave no usage.prompt_tokens (%s%s); one word per token assumed", words, rec.ErrorKind, errSuffix(rec.Error))
			cal.Probes = nil
			return cal
		}
		cal.Probes = append(cal.Probes, results.Probe{Words: words, PromptTokens: *rec.PromptTokens})
	}
	p0, p1 := cal.Probes[0], cal.Probes[1]
	tokensPerWord := float64(p1.PromptTokens-p0.PromptTokens) / float64(p1.Words-p0.Words)
	if !(tokensPerWord > 0) {
		cal.Note = fmt.Sprintf("probes gave non-increasing token counts %d, %d; one word per token assumed", p0.PromptTokens, p1.PromptTokens)
		return cal
	}
	cal.Method = "usage_probe"
	cal.WordsPerToken = 1 / tokensPerWord
	cal.OffsetTokens = float64(p0.PromptTokens) - tokensPerWord*float64(p0.Words)
	return cal
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + truncate(s, 120)
}
