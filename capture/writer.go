package capture

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"kvbench/results"
)

// recordWriter is the single goroutine that owns the requests file.
// Workers hand it records over a channel; it batches them into row groups.
type recordWriter struct {
	in   chan results.Request
	tw   *results.TableWriter[results.Request]
	wg   sync.WaitGroup
	once sync.Once
	err  error
	st   writerStats
	lagT int64 // ns; starts later than this count as late

	measured map[string]int64 // prompt id → usage.prompt_tokens
	// texts holds, for reuse_verify with --store-responses, the hash of the
	// first response text per prompt, to check that identical requests at
	// temperature 0 got identical answers.
	texts map[string][32]byte
}

// writerStats summarises what was written, for validity.
type writerStats struct {
	requests, failed, preflight, canceled int
	lateStarts                            int
	maxLagNs                              int64
	repeated, textMismatch                int
	maxRelErr                             *float64
	tables                                map[string]results.TableInfo
}

func newRecordWriter(dir string, lagThreshold time.Duration, d results.Durability) (*recordWriter, error) {
	tw, err := results.OpenTableWriter[results.Request](dir, results.TableRequests, 0, d)
	if err != nil {
		return nil, err
	}
	w := &recordWriter{in: make(chan results.Request, 256), tw: tw, measured: map[string]int64{}, lagT: int64(lagThreshold)}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

func (w *recordWriter) loop() {
	defer w.wg.Done()
	for r := range w.in {
		w.st.requests++
		switch r.ErrorKind {
		case "":
		case results.ErrPreflight:
			w.st.preflight++
			w.st.failed++
		case results.ErrCanceled:
			w.st.canceled++
			w.st.failed++
		default:
			w.st.failed++
		}
		if r.ErrorKind != results.ErrPreflight {
			lag := r.StartUnixNs - r.ScheduledUnixNs
			w.st.maxLagNs = max(w.st.maxLagNs, lag)
			if w.lagT > 0 && lag > w.lagT {
				w.st.lateStarts++
			}
		}
		if r.PromptTokens != nil {
			if _, ok := w.measured[r.PromptID]; !ok {
				w.measured[r.PromptID] = *r.PromptTokens
			}
		}
		if r.Phase == results.PhaseReuse && r.ErrorKind == "" && r.ResponseText != "" {
			h := sha256.Sum256([]byte(r.ResponseText))
			if w.texts == nil {
				w.texts = map[string][32]byte{}
			}
			if first, ok := w.texts[r.PromptID]; ok {
				w.st.repeated++
				if first != h {
					w.st.textMismatch++
				}
			} else {
				w.texts[r.PromptID] = h
			}
		}
		if w.err == nil {
			// Note: after a write error the loop keeps draining so that
			// workers never block; the error invalidates the run.
			w.err = w.tw.Write(r)
		}
	}
}

// close stops the writer, closes the requests table and writes the
// prompts table with the measured token counts. It may be called more
// than once.
func (w *recordWriter) close(dir string, plan *Plan) (writerStats, error) {
	w.once.Do(func() { close(w.in) })
	w.wg.Wait()
	cerr := w.tw.Close()
	w.st.tables = map[string]results.TableInfo{results.TableRequests: w.tw.Info()}
	info, worst, perr := writePrompts(dir, plan, w.measured)
	if perr == nil {
		w.st.tables[results.TablePrompts] = info
		w.st.maxRelErr = worst
	}
	return w.st, errors.Join(w.err, cerr, perr)
}

// writePrompts writes the prompts table of plan with the measured sizes
// and returns the worst relative miss of a measured prompt's size (nil
// when none was measured).
func writePrompts(dir string, plan *Plan, measured map[string]int64) (results.TableInfo, *float64, error) {
	pw, err := results.NewTableWriter[results.PromptRow](dir, results.TablePrompts, 0)
	if err != nil {
		return results.TableInfo{}, nil, err
	}
	var worst float64
	seen := false
	for _, p := range plan.Prompts {
		text := p.Text()
		sum := sha256.Sum256([]byte(text))
		row := results.PromptRow{
			RunID: plan.RunID, PromptID: p.ID, PromptSet: p.Set, TargetTokens: int64(p.TargetTokens),
			Words: int64(len(strings.Fields(text))), PromptSHA256: hex.EncodeToString(sum[:]),
			PrefixGroup: p.PrefixGroup, Bytes: int64(len(text)),
		}
		if v, ok := measured[p.ID]; ok {
			row.MeasuredTokens = results.Ptr(v)
			if p.TargetTokens > 0 {
				seen = true
				worst = math.Max(worst, math.Abs(float64(v-int64(p.TargetTokens)))/float64(p.TargetTokens))
			}
		}
		if err := pw.Write(row); err != nil {
			pw.Close()
			return results.TableInfo{}, nil, err
		}
	}
	if err := pw.Close(); err != nil {
		return results.TableInfo{}, nil, err
	}
	if !seen {
		return pw.Info(), nil, nil
	}
	return pw.Info(), results.Ptr(worst), nil
}

// writeSchedule writes the deterministic plan as the schedule table.
func writeSchedule(dir string, plan *Plan) (results.TableInfo, error) {
	sw, err := results.NewTableWriter[results.ScheduleRow](dir, results.TableSchedule, 0)
	if err != nil {
		return results.TableInfo{}, err
	}
	for _, ph := range plan.Phases {
		for _, r := range ph.Requests {
			row := results.ScheduleRow{
				RunID: plan.RunID, RequestIndex: int64(r.Index), Phase: ph.Name, PromptID: r.Prompt.ID,
				IdentityHash: r.Prompt.Identity, Concurrency: int32(ph.Concurrency), RepeatIndex: int32(r.RepeatIndex),
				SessionID: r.SessionID, BurstIndex: int32(r.BurstIndex), PrefixGroup: r.Prompt.PrefixGroup,
				OffsetNs: int64(r.Offset), TraceLine: int64(r.TraceLine), TraceSeenBlocks: int32(r.TraceSeenBlocks),
			}
			if err := sw.Write(row); err != nil {
				sw.Close()
				return results.TableInfo{}, err
			}
		}
	}
	if err := sw.Close(); err != nil {
		return results.TableInfo{}, err
	}
	return sw.Info(), nil
}
