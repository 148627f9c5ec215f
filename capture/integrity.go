package capture

import (
	"sync"

	"kvbench/results"
)

// answerBook is the capture half of the KV integrity check: it remembers
// the first answer to each request identity (prompt and generation
// parameters) of a run and marks every later answer to the same identity
// as matching it or not. With greedy decoding (temperature 0) an answer
// that changes after its KV came back from a tier is a sign of wrong KV;
// analyze weighs the share of changed answers against the baseline arm's.
type answerBook struct {
	on    bool
	mu    sync.Mutex
	first map[string]string
}

func newAnswerBook(temperature float64) *answerBook {
	return &answerBook{on: temperature == 0, first: map[string]string{}}
}

// check sets rec.AnswerMatch for a successful request that repeats an
// identity answered before; the first answer is remembered.
func (b *answerBook) check(rec *results.Request) {
	if !b.on || rec.ErrorKind != "" || rec.ResponseHash == "" || rec.IdentityHash == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	first, seen := b.first[rec.IdentityHash]
	if !seen {
		b.first[rec.IdentityHash] = rec.ResponseHash
		return
	}
	rec.AnswerMatch = results.Ptr(first == rec.ResponseHash)
}
