package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// GroundTruth is one line of the ground-truth log: what the simulator
// really did for one finished request.
type GroundTruth struct {
	CompletionID     string `json:"completion_id"`             // the response id ("" when none was made)
	RequestID        string `json:"request_id"`                // the X-Request-Id request header ("" when absent)
	PromptTokens     int    `json:"prompt_tokens"`             // words in the prompt
	OutputTokens     int    `json:"output_tokens"`             // tokens produced before the end
	BlocksTotal      int    `json:"blocks_total"`              // full blocks in the prompt
	BlocksG1         int    `json:"blocks_g1"`                 // found in the GPU prefix cache
	BlocksG2         int    `json:"blocks_g2"`                 // onboarded from host memory
	BlocksG3         int    `json:"blocks_g3"`                 // onboarded from disk
	BlocksRecomputed int    `json:"blocks_recomputed"`         // prefilled again
	ReceivedUnixNs   int64  `json:"received_unix_ns"`          // handler entry
	FirstTokenUnixNs int64  `json:"first_token_unix_ns"`       // first token chunk written (non-stream: the body); 0 if none
	DoneUnixNs       int64  `json:"done_unix_ns"`              // handler exit
	Status           int    `json:"status"`                    // HTTP status sent; 499 when the client went away first, 0 when the connection was dropped without an answer
	Fault            Fault  `json:"fault"`                     // the fault injected, "" for none
	CorruptOnboard   bool   `json:"corrupt_onboard,omitempty"` // answered from wrong disk KV
}

// gtWriter writes ground-truth records from one goroutine.
type gtWriter struct {
	ch   chan GroundTruth
	done chan struct{}
	err  error
	once sync.Once
}

func newGTWriter(w io.Writer) *gtWriter {
	g := &gtWriter{ch: make(chan GroundTruth, 4096), done: make(chan struct{})}
	go g.run(w)
	return g
}

func (g *gtWriter) run(w io.Writer) {
	defer close(g.done)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	for r := range g.ch {
		if g.err != nil {
			continue
		}
		if err := enc.Encode(r); err != nil {
			g.err = fmt.Errorf("write ground truth: %w", err)
		}
		if len(g.ch) == 0 && bw.Buffered() > 32<<10 {
			if err := bw.Flush(); err != nil && g.err == nil {
				g.err = fmt.Errorf("write ground truth: %w", err)
			}
		}
	}
	if err := bw.Flush(); err != nil && g.err == nil {
		g.err = fmt.Errorf("write ground truth: %w", err)
	}
}

// close flushes and reports the first write error. Every send must have
// returned before close is called.
func (g *gtWriter) close() error {
	g.once.Do(func() { close(g.ch) })
	<-g.done
	return g.err
}
